"""Compound III's exact twin against the worked example of cUSDCv3 at launch (10 WETH, 16,000 USDC
borrowed: the borrow limit, the liquidation price, absorb, buyCollateral, the rates at 90% use),
the stale-index view, and the books' identities under random call sequences (Hypothesis)."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base import Revert
from protocols.lending.compound_v3.exact import (BASE_INDEX_SCALE, FACTOR_SCALE, SECONDS_PER_YEAR, AssetConfig,
                                                 CometConfig, ExactComet, kinked_rate, per_second)

E = FACTOR_SCALE
USDC, WETH = 10**6, 10**18
#: cUSDCv3 launch: WETH BCF 0.825, LCF 0.895, LF 0.95 (compound-finance/comet deployments/mainnet/usdc/configuration.json)
WETH_ASSET = AssetConfig("WETH", WETH, 825 * E // 1000, 895 * E // 1000, 95 * E // 100)


def comet(eth_usd: int = 2_000) -> ExactComet:
    c = ExactComet(CometConfig.cusdc_v3_launch((WETH_ASSET,)), prices={"WETH": eth_usd * 10**8}, now=1_000)
    c.supply_base("lender", 1_000_000 * USDC)
    c.supply_collateral("alice", "WETH", 10 * WETH)
    return c


def test_borrow_limit_is_collateral_times_the_borrow_factor():
    c = comet()
    with pytest.raises(Revert, match="NotCollateralized"):
        c.withdraw_base("alice", 16_500 * USDC + 1)  # 10 × 2,000 × 0.825 = 16,500
    c.withdraw_base("alice", 16_500 * USDC)
    assert c.borrow_balance_of("alice") == 16_500 * USDC
    with pytest.raises(Revert, match="BorrowTooSmall"):
        comet().withdraw_base("alice", 99 * USDC)  # below baseBorrowMin (100 USDC)


def test_liquidation_price_and_absorb():
    """16,000 USDC owed: liquidatable below 16,000 / (10 × 0.895) = $1,787.7095; absorbed at $1,750 the
    collateral is credited at 0.95: 16,625, so the borrower keeps +625 USDC as a supply."""
    c = comet()
    c.withdraw_base("alice", 16_000 * USDC)
    c.prices["WETH"] = 178_771 * 10**6  # $1,787.71: 10 × 1,787.71 × 0.895 = 16,000.0045
    assert not c.is_liquidatable("alice")
    c.prices["WETH"] = 178_770 * 10**6  # $1,787.70: 15,999.915
    assert c.is_liquidatable("alice")
    c.prices["WETH"] = 1_750 * 10**8
    supplied_before, reserves_before = c.total_supply_base, c.reserves()
    (out,) = c.absorb("absorber", ["alice"])
    assert out.seized == {"WETH": 10 * WETH} and out.base_paid_out == 16_625 * USDC
    assert c.balance_of("alice") == 625 * USDC and c.borrow_balance_of("alice") == 0
    assert c.total_borrow_base == 0 and c.total_supply_base == supplied_before + 625 * USDC
    assert c.reserves() == reserves_before - 16_625 * USDC  # the protocol paid 16,625 of base for the collateral
    assert c.collateral_reserves("WETH") == 10 * WETH
    with pytest.raises(Revert, match="NotLiquidatable"):
        c.absorb("absorber", ["alice"])


def test_buy_collateral_at_the_store_front_discount():
    """Store front 0.5 × (1 − 0.95) = 2.5% off $1,750 = $1,706.25: 1,000 USDC buys 0.586081 WETH."""
    c = comet()
    c.withdraw_base("alice", 16_000 * USDC)
    c.prices["WETH"] = 1_750 * 10**8
    c.absorb("absorber", ["alice"])
    assert c.quote_collateral("WETH", 1_000 * USDC) == 10**21 * 100 // 170_625  # 1000e18 / 1706.25, floored
    got = c.buy_collateral("buyer", "WETH", 0, 1_000 * USDC)
    assert round(got / WETH, 6) == 0.586081 and c.collateral_reserves("WETH") == 10 * WETH - got
    with pytest.raises(Revert, match="TooMuchSlippage"):
        c.buy_collateral("buyer", "WETH", WETH, 1_000 * USDC)
    with pytest.raises(Revert, match="InsufficientReserves"):
        c.buy_collateral("buyer", "WETH", 0, 20_000 * USDC)


def test_no_sale_once_reserves_reach_the_target():
    c = comet()
    c.base_held += 6_000_000 * USDC  # reserves above the 5M target
    with pytest.raises(Revert, match="NotForSale"):
        c.buy_collateral("buyer", "WETH", 0, 1_000 * USDC)


def test_rates_at_ninety_percent_use():
    """borrow 1.5% + 3.5%·0.8 + 25%·0.1 = 6.8%, supply 3.25%·0.8 + 40%·0.1 = 6.6% a year."""
    cfg = CometConfig.cusdc_v3_launch(())
    u = 9 * E // 10
    borrow = kinked_rate(u, per_second(cfg.borrow_per_year_base), per_second(cfg.borrow_per_year_slope_low),
                         cfg.borrow_kink, per_second(cfg.borrow_per_year_slope_high))
    supply = kinked_rate(u, per_second(cfg.supply_per_year_base), per_second(cfg.supply_per_year_slope_low),
                         cfg.supply_kink, per_second(cfg.supply_per_year_slope_high))
    assert borrow * SECONDS_PER_YEAR / E == pytest.approx(0.068, rel=1e-9)
    assert supply * SECONDS_PER_YEAR / E == pytest.approx(0.066, rel=1e-9)


def test_the_liquidation_view_reads_the_stored_indices_and_absorb_accrues():
    """A borrower pushed under by interest alone: ``isLiquidatable`` still says no until an accrual,
    while ``absorb`` accrues first and takes it."""
    c = comet()
    c.withdraw_base("alice", 16_500 * USDC)  # at the borrow limit, 92% of the liquidation limit
    c.prices["WETH"] = 1_845 * 10**8  # 10 × 1,845 × 0.895 = 16,512.75: 12.75 USDC of room
    c.now += 31 * 86_400  # a month at 1.56%/yr (1.65% use) on 16,500: ~21.9 USDC of interest, past the room
    assert not c.is_liquidatable("alice")  # the view's indices are those of the last accrual
    si, bi = c.accrued_indices()
    assert bi > c.borrow_index
    c.absorb("absorber", ["alice"])
    assert c.borrow_balance_of("alice") == 0


def test_principal_of_a_borrow_rounds_up():
    c = comet()
    c.borrow_index = BASE_INDEX_SCALE + 3  # an index that does not divide evenly
    c.withdraw_base("alice", 1_000 * USDC)
    p = c.principals["alice"]
    assert p == -math.ceil(Fraction(1_000 * USDC * BASE_INDEX_SCALE, c.borrow_index))
    assert c.borrow_balance_of("alice") in (1_000 * USDC, 1_000 * USDC - 1)  # present value floors


# -- the books under random sequences ----------------------------------------------------------
_who = st.sampled_from(["a", "b", "c"])
_call = st.one_of(
    st.tuples(st.just("supply_base"), _who, st.integers(1, 10**12)),
    st.tuples(st.just("withdraw_base"), _who, st.integers(1, 10**11)),
    st.tuples(st.just("supply_collateral"), _who, st.integers(1, 10**20)),
    st.tuples(st.just("withdraw_collateral"), _who, st.integers(1, 10**20)),
    st.tuples(st.just("absorb"), _who),
    st.tuples(st.just("buy"), st.integers(1, 10**9)),
    st.tuples(st.just("wait"), st.integers(1, SECONDS_PER_YEAR)),
    st.tuples(st.just("price"), st.integers(100 * 10**8, 4_000 * 10**8)),
)


def _books(c: ExactComet):
    return (c.supply_index, c.borrow_index, c.total_supply_base, c.total_borrow_base, dict(c.principals),
            dict(c.collateral), dict(c.totals_collateral), c.base_held, dict(c.collateral_held))


@settings(max_examples=200, deadline=None)
@given(calls=st.lists(_call, max_size=40))
def test_books_balance_after_every_call(calls):
    """Totals are the sums of principals and collateral; the protocol holds every account's
    collateral plus what it absorbed and has not sold; a reverted call changes nothing."""
    c = comet()
    c.withdraw_base("alice", 15_000 * USDC)
    for call in calls:
        before = _books(c)
        try:
            if call[0] == "wait":
                c.now += call[1]
            elif call[0] == "price":
                c.prices["WETH"] = call[1]
            elif call[0] == "absorb":
                c.absorb("x", [call[1] if call[1] != "a" else "alice"])
            elif call[0] == "buy":
                c.buy_collateral("buyer", "WETH", 0, call[1])
            elif call[0] in ("supply_collateral", "withdraw_collateral"):
                getattr(c, call[0])(call[1], "WETH", call[2])
            else:
                getattr(c, call[0])(call[1], call[2])
        except Revert:
            assert _books(c) == before
        assert c.total_supply_base == sum(p for p in c.principals.values() if p > 0)
        assert c.total_borrow_base == -sum(p for p in c.principals.values() if p < 0)
        assert c.totals_collateral["WETH"] == sum(v for (_, s), v in c.collateral.items() if s == "WETH")
        assert c.collateral_reserves("WETH") >= 0
