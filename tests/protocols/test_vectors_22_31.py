"""worked example worked examples (perps, unified accounts, loops, LP) and the properties
behind them: the funding clamp, liquidation at the liquidation price, loop limits, IL symmetry."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.amm.math import impermanent_loss, leveraged_lp_equity
from protocols.cex.math import uni_mmr, uni_mmr_status
from protocols.lending.loops import liquidation_fall, loop_leverage, loop_roe, max_loop_leverage, wipeout_fall
from protocols.perps.math import (
    CLAMP_8H, INTEREST_8H, dydx_funding_cap_8h, dydx_liquidation_price, funding_payment, funding_rate,
    gmx_funding_per_second, isolated_liquidation_price, maintenance_fraction_at_max_leverage,
)


def test_22_hyperliquid_funding_with_no_premium():
    assert funding_rate(0.0, interval_h=1.0, cap=0.04) == pytest.approx(0.0000125, rel=1e-12)
    assert funding_payment(10.0, 100_000.0, funding_rate(0.0, 1.0)) == pytest.approx(12.5, rel=1e-12)
    assert funding_rate(0.01, 1.0) == pytest.approx(0.0095 / 8, rel=1e-12)  # dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs: 1% premium → 0.95% per 8 h


@given(st.floats(-0.05, 0.05))
def test_funding_clamp_binds_only_outside_its_band(premium):
    rate_8h = funding_rate(premium)
    if abs(premium - INTEREST_8H) <= CLAMP_8H:
        assert rate_8h == pytest.approx(INTEREST_8H, abs=1e-15)
    else:
        assert rate_8h == pytest.approx(premium + math.copysign(CLAMP_8H, INTEREST_8H - premium), abs=1e-15)
    assert funding_rate(premium, 1.0, cap=0.0001) <= 0.0001


def test_23_hyperliquid_isolated_liquidation_price():
    mmf = maintenance_fraction_at_max_leverage(40)
    assert mmf == 0.0125
    long_liq = isolated_liquidation_price(100_000.0, 1.0, 10_000.0, mmf)
    short_liq = isolated_liquidation_price(100_000.0, -1.0, 10_000.0, mmf)
    assert (round(long_liq, 2), round(short_liq, 2)) == (91_139.24, 108_641.98)
    # at that price the equity equals the maintenance margin: the definition, independently
    for size, liq in ((1.0, long_liq), (-1.0, short_liq)):
        equity = 10_000.0 + size * (liq - 100_000.0)
        assert equity == pytest.approx(mmf * abs(size) * liq, rel=1e-12)


def test_24_dydx_liquidation_price():
    liq = dydx_liquidation_price(1_000.0, -3.0, 3_000.0, 0.05)
    assert round(liq, 2) == 3_174.60
    q = 1_000.0 + 3.0 * 3_000.0  # USDC balance of the short
    assert q - 3.0 * liq == pytest.approx(0.05 * 3.0 * liq, rel=1e-12)  # equity = MMR there


def test_25_dydx_funding_cap():
    assert dydx_funding_cap_8h(0.05, 0.03) == pytest.approx(0.12, rel=1e-12)


def test_26_gmx_funding_and_its_conservation():
    longs, shorts = gmx_funding_per_second(1 / 50_000, 150_000.0, 50_000.0)
    assert (longs, shorts) == (pytest.approx(0.00001, rel=1e-12), pytest.approx(-0.00003, rel=1e-12))
    assert longs * 150_000.0 + shorts * 50_000.0 == pytest.approx(0.0, abs=1e-12)  # paid = received
    assert gmx_funding_per_second(1 / 50_000, 50_000.0, 50_000.0) == (0.0, 0.0)


def test_27_unified_account_maintenance_ratio():
    ratio = uni_mmr([100_000.0, -80_000.0], [0.93, 1.0], [0.9, 1.0], 5_000.0)
    assert ratio == pytest.approx(0.74, rel=1e-12) and uni_mmr_status(ratio) == "liquidation and loss claim"
    # the worked example table
    for price, expected, status in ((1.0, 2.0, "free"), (0.95, 1.1, "reduce-only"), (0.65, -4.3, "liquidation and loss claim")):
        r = uni_mmr([100_000.0, -80_000.0], [price, 1.0], [0.9, 1.0], 5_000.0)
        assert r == pytest.approx(expected, rel=1e-12) and uni_mmr_status(r) == status


def test_28_29_loops():
    assert max_loop_leverage(0.9) == pytest.approx(10.0, rel=1e-12)
    assert loop_roe(5.0, 0.10, 0.07) == pytest.approx(0.22, rel=1e-12)
    steps = loop_leverage(0.9, np.arange(60))
    assert np.all(np.diff(steps) > 0) and steps[-1] < max_loop_leverage(0.9)  # rises toward the limit
    # equity after a fall of 1/L is zero; after the liquidation fall HF = 1 exactly
    for lev in (3.0, 5.0, 8.0):
        price = 1.0 - wipeout_fall(lev)
        assert lev * price - (lev - 1.0) == pytest.approx(0.0, abs=1e-12)
        price = 1.0 - liquidation_fall(lev, 0.92)
        assert lev * price * 0.92 / (lev - 1.0) == pytest.approx(1.0, rel=1e-12)


def test_30_impermanent_loss():
    assert impermanent_loss(2.0) == pytest.approx(-0.057191, abs=5e-7)
    k = np.array([0.25, 0.8, 1.0, 1.25, 4.0])
    assert np.allclose(impermanent_loss(k), impermanent_loss(1.0 / k), rtol=0, atol=1e-15)
    assert impermanent_loss(1.0) == 0.0 and np.all(impermanent_loss(k) <= 0.0)


def test_31_leveraged_lp():
    assert leveraged_lp_equity(0.5, 3.0) == pytest.approx(0.12132, abs=5e-6)
    table = {0.75: (0.5981, 0.8481), 1.25: (1.3541, 1.1041), 2.0: (2.2426, 1.2426)}  # Alpaca, Extra Finance and Gearbox docs
    for k, (stable, split) in table.items():
        assert leveraged_lp_equity(k, 3.0) == pytest.approx(stable, abs=5e-5)
        assert leveraged_lp_equity(k, 3.0, "split") == pytest.approx(split, abs=5e-5)
    assert leveraged_lp_equity(((3.0 - 1.0) / 3.0) ** 2, 3.0) == pytest.approx(0.0, abs=1e-12)  # wipe-out k


@pytest.mark.parametrize("loops", [1, 5, 20])
def test_a_loop_built_on_the_pool_has_the_closed_form_leverage_and_dies_at_a_fall_of_one_over_l(loops):
    """loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ through the engine's pool: λ = 0.9 × LTV re-borrowed each loop, swaps at the oracle
    price; leverage C/E is (1 − λ^(k+1))/(1 − λ); a fall of 1/L leaves no equity."""
    from protocols.lending.aave_v3.driver import EnginePool
    from protocols.lending.aave_v3.replay import ReserveConfig
    from protocols.lending.loops import build_loop

    susde = ReserveConfig("sUSDe", 18, 9_000, 9_200, 10_300, 1_000, 1_000, 9_000, 0, 400, 6_000)
    usdt = ReserveConfig("USDT", 6, 7_500, 7_800, 10_450, 1_000, 1_000, 9_000, 0, 400, 6_000)
    pool = EnginePool("v3.6", [susde, usdt], {"sUSDe": 10**8, "USDT": 10**8})
    pool.supply("lender", "USDT", 10**9 * 10**6)
    lam = 0.9 * 0.9
    supplied, borrowed = build_loop(pool, "looper", "sUSDe", "USDT", 10_000 * 10**18, lam, loops,
                                    value_in_debt=lambda c: c // 10**12, swap=lambda d: d * 10**12)
    equity = 10_000 * 10**18
    assert supplied / equity == pytest.approx(loop_leverage(lam, loops), rel=1e-9)
    lev = supplied / equity
    pool.set_price("sUSDe", round(10**8 * (1.0 - wipeout_fall(lev))))
    account = pool.account_data("looper")
    assert account.total_collateral_base - account.total_debt_base == pytest.approx(0.0, abs=1e-7 * account.total_debt_base)


@given(st.floats(50, 150), st.floats(-0.01, 0.01), st.floats(0, 1), st.floats(-5, 5), st.floats(1, 300))
def test_binance_mark_is_the_median_of_its_three_prices(index, rate, left, basis, last):
    from protocols.perps.math import binance_mark_price

    mark = binance_mark_price(index, rate, left * 28_800, 28_800, basis, last)
    three = sorted([index * (1 + rate * left), index + basis, last])
    assert mark == pytest.approx(three[1], rel=1e-12)
