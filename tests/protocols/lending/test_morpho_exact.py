"""Morpho Blue's exact twin against hand-computed vectors (the Morpho docs' incentive table, the
liquidation example with and without bad debt, the AdaptiveCurveIrm's curve) and the books'
identities under random call sequences (Hypothesis)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base.tx import Revert
from protocols.lending.morpho_blue.exact import (
    SECONDS_PER_YEAR,
    WAD,
    AdaptiveCurveIrm,
    ExactMarket,
    MarketState,
    PositionState,
    liquidation_incentive_factor,
    max_borrow,
    to_assets_down,
    to_assets_up,
    w_exp,
)

E18 = 10**18
PRICE_ONE = 10**36  # one raw loan unit per raw collateral unit (both tokens of 18 decimals)


@pytest.mark.parametrize("lltv_pct, lif", [(38.5, 1.15), (62.5, 1.12676), (77, 1.07411), (86, 1.04384),
                                           (91.5, 1.02617), (94.5, 1.01678), (96.5, 1.01061), (98, 1.00604)])
def test_incentive_factor_by_lltv(lltv_pct, lif):
    """min(1.15, 1/(1 − 0.3(1 − LLTV))), the Morpho docs' table to its five decimals."""
    lltv = round(lltv_pct * 10) * 10**15
    assert round(liquidation_incentive_factor(lltv) / WAD, 5) == lif


def _market_owing(collateral: int, debt: int) -> ExactMarket:
    """LLTV 86%: ``collateral`` (raw units of an 18-decimal token) and ``debt`` borrowed at a price
    where it was allowed, then the price back at 1.0 (one loan unit per collateral unit)."""
    m = ExactMarket(86 * E18 // 100, price=PRICE_ONE * 10, irm=None)
    m.supply("s", 1_000 * E18, 0)
    m.supply_collateral("b", collateral)
    assert m.borrow("b", debt, 0) == (debt, debt * 10**6)  # first borrow: 1e6 shares per unit
    m.price = PRICE_ONE
    return m


def test_partial_liquidation_example():
    """Collateral 100, debt 87, LLTV 86%: unhealthy (86 < 87); repaying 50 seizes 50 × 1.04384 = 52.19."""
    m = _market_owing(100 * E18, 87 * E18)
    assert not m.healthy("b")
    lif = liquidation_incentive_factor(m.lltv)
    # 50 units' shares: the share price is exactly 1e-6 (87e18 + 1 virtual asset over 87e24 + 1e6 virtual shares)
    out = m.liquidate("l", "b", 0, 50 * E18 * 10**6)
    assert out.repaid_assets == 50 * E18 and out.seized_assets == 50 * lif  # wMulDown(50e18, LIF), exact
    assert round(out.seized_assets / E18, 2) == 52.19 and out.bad_debt_assets == 0
    assert m.position("b").collateral == 100 * E18 - 50 * lif and m.market.total_borrow_assets == 37 * E18


def test_liquidation_of_all_collateral_writes_off_the_rest():
    """Collateral 80, debt 87: seizing all 80 repays 80/1.04384 = 76.64 and writes 10.36 off against suppliers."""
    m = _market_owing(80 * E18, 87 * E18)
    lif = liquidation_incentive_factor(m.lltv)
    out = m.liquidate("l", "b", 80 * E18, 0)
    repaid = -(-80 * E18 * WAD // lif)  # wDivUp(80e18, LIF); the shares convert at exactly 1e6 per unit
    assert out.repaid_assets == repaid and round(repaid / E18, 2) == 76.64
    assert out.bad_debt_assets == 87 * E18 - repaid and round(out.bad_debt_assets / E18, 2) == 10.36
    assert m.position("b") .borrow_shares == 0 and m.position("b").collateral == 0
    assert m.market.total_borrow_assets == 0 and m.market.total_borrow_shares == 0
    assert m.market.total_supply_assets == 1_000 * E18 - out.bad_debt_assets  # the suppliers bear it


def test_healthy_position_and_bad_inputs_revert_and_change_nothing():
    m = _market_owing(100 * E18, 80 * E18)
    before = (MarketState(**vars(m.market)), m.loan_held, m.collateral_held)
    for args, reason in [(("l", "b", 10 * E18, 0), "position is healthy"), (("l", "b", 0, 0), "inconsistent input"),
                         (("l", "b", 1, 1), "inconsistent input")]:
        with pytest.raises(Revert, match=reason):
            m.liquidate(*args)
    with pytest.raises(Revert, match="insufficient collateral"):
        m.borrow("b", 7 * E18, 0)  # 87 > 86
    assert (m.market, m.loan_held, m.collateral_held) == before


@pytest.mark.parametrize("utilisation, annual", [(0.0, 0.01), (0.45, 0.025), (0.9, 0.04), (0.95, 0.10), (1.0, 0.16)])
def test_adaptive_curve_at_the_initial_rate(utilisation, annual):
    """At a rate at target of 4%/yr the curve gives 1% at no use, 4% at the 90% target and 16% when
    fully used (morpho-org/morpho-blue-irm ConstantsLib; Morpho docs, "AdaptiveCurveIrm")."""
    irm = AdaptiveCurveIrm()
    market = MarketState(total_supply_assets=100 * E18, total_borrow_assets=round(utilisation * 100) * E18)
    rate = irm(market, now=1)  # first interaction: the initial rate at target
    assert rate * SECONDS_PER_YEAR / WAD == pytest.approx(annual, rel=1e-9, abs=1e-9)
    assert irm.rate_at_target == AdaptiveCurveIrm.INITIAL_RATE_AT_TARGET


def test_adaptive_rate_at_target_drifts_at_fifty_per_year_times_the_error():
    """At 95% use (err 0.5) the rate at target grows by exp(50/yr × 0.5 × 1 day) = ×1.0709 a day."""
    irm = AdaptiveCurveIrm(rate_at_target=AdaptiveCurveIrm.INITIAL_RATE_AT_TARGET)
    market = MarketState(total_supply_assets=100 * E18, total_borrow_assets=95 * E18, last_update=0)
    avg, end = irm.rates(market, now=86_400)
    growth = end / AdaptiveCurveIrm.INITIAL_RATE_AT_TARGET
    assert growth == pytest.approx(math.exp(25 / 365), rel=1e-4)  # wExp's polynomial is good to r³/6
    # the rate charged is the curve (×2.5 at err 0.5) at the trapezoid average, between start and end
    assert 2.5 * AdaptiveCurveIrm.INITIAL_RATE_AT_TARGET < avg < 2.5 * end


def test_w_exp_against_the_exponential():
    """2^q·(1 + r + r²/2) with |r| ≤ ln2/2 misses e^r by less than |r|³/6·e^|r| (Taylor's remainder)."""
    bound = (math.log(2) / 2) ** 3 / 6 * math.sqrt(2)
    for x in (-5.0, -0.7, -0.01, 0.0, 0.3, 1.0, 4.2, 20.0):
        assert w_exp(int(x * WAD)) / WAD == pytest.approx(math.exp(x), rel=bound)
    assert w_exp(-42 * WAD) == 0  # below ln(1e-18): rounds to zero


# -- the books under random sequences ----------------------------------------------------------
_ACCOUNTS = ("a", "b", "c")
_who = st.sampled_from(_ACCOUNTS)
#: the part of what the call could take, sized when it runs (all of it often: full repayments, seizures)
_part = st.one_of(st.just(1.0), st.floats(min_value=0.0, max_value=1.1))
_call = st.one_of(
    st.tuples(st.sampled_from(["supply", "withdraw", "borrow", "repay", "supply_collateral",
                               "withdraw_collateral"]), _who, _part, st.booleans()),
    st.tuples(st.just("liquidate"), _who, _who, _part, st.booleans()),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=SECONDS_PER_YEAR)),
    st.tuples(st.just("price"), st.integers(min_value=PRICE_ONE // 4, max_value=PRICE_ONE * 2)),
    st.tuples(st.just("fee"), st.integers(min_value=0, max_value=WAD // 4)),
)


def _sized(m: ExactMarket, call: tuple) -> tuple:
    """The call's arguments: a part of the largest sensible amount (a supply of 1,000 tokens, what
    the account holds or owes, what the market lends), by assets or by shares (``by_shares``)."""
    name, who, part, by_shares = call[0], call[1], call[-2], call[-1]
    p, mk = m.positions.get(call[2] if name == "liquidate" else who, PositionState()), m.market
    room = max(max_borrow(p.collateral, m.price, m.lltv) - to_assets_up(p.borrow_shares, mk.total_borrow_assets,
                                                                       mk.total_borrow_shares), 0)
    whole = {"supply": 1_000 * E18, "supply_collateral": 1_000 * E18,
             "withdraw": p.supply_shares if by_shares else to_assets_down(p.supply_shares, mk.total_supply_assets,
                                                                          mk.total_supply_shares),
             "borrow": min(room, mk.total_supply_assets - mk.total_borrow_assets),
             "repay": p.borrow_shares if by_shares else to_assets_up(p.borrow_shares, mk.total_borrow_assets,
                                                                     mk.total_borrow_shares),
             "withdraw_collateral": p.collateral,
             "liquidate": p.borrow_shares if by_shares else p.collateral}[name]
    amount = max(int(whole * part), 1)
    if name in ("supply_collateral", "withdraw_collateral"):
        return (who, amount)
    pair = (0, amount) if by_shares and name != "borrow" else (amount, 0)
    return (who, call[2], *pair) if name == "liquidate" else (who, *pair)


def _books(m: ExactMarket):
    return (MarketState(**vars(m.market)), {k: tuple(vars(v).values()) for k, v in m.positions.items()},
            m.loan_held, m.collateral_held, m.floored)


@settings(max_examples=200, deadline=None)
@given(calls=st.lists(_call, min_size=1, max_size=40), adaptive=st.booleans())
def test_books_balance_after_every_call(calls, adaptive):
    """After every call: shares add up to the totals, the collateral held is Σ collateral, the loan
    tokens held are supply − borrow plus what repayments cut below zero, borrow ≤ supply; a
    reverted call leaves every book as it was."""
    m = ExactMarket(86 * E18 // 100, PRICE_ONE, irm=AdaptiveCurveIrm() if adaptive else None)
    if not adaptive:
        m.irm = lambda market, now: 10**9  # 3.2%/yr, whatever the use
    m.supply("a", 1_000 * E18, 0)  # a market in use: a lends, b and c borrow against collateral
    for who in ("b", "c"):
        m.supply_collateral(who, 500 * E18)
        m.borrow(who, 300 * E18, 0)
    for call in calls:
        before = _books(m)
        try:
            if call[0] == "wait":
                m.now += call[1]
            elif call[0] == "price":
                m.price = call[1]
            elif call[0] == "fee":
                m.set_fee(call[1])
            else:
                getattr(m, call[0])(*_sized(m, call))
        except Revert:
            assert _books(m) == before
        mk, ps = m.market, m.positions.values()
        assert sum(p.supply_shares for p in ps) == mk.total_supply_shares
        assert sum(p.borrow_shares for p in ps) == mk.total_borrow_shares
        assert sum(p.collateral for p in ps) == m.collateral_held
        assert m.loan_held == mk.total_supply_assets - mk.total_borrow_assets + m.floored
        assert mk.total_borrow_assets <= mk.total_supply_assets
