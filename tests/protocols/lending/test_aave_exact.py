"""The exact-integer Aave v3 path (``exact``, ``ExactPool``) against independent expectations:
rational closed forms for the rounding helpers and the interest series, the worked example
vectors in raw units, invariants of the pool's bookkeeping; and the engine's float path against
it on generated replays (the same comparison ``tests/evm`` runs next to the real contracts)."""
from __future__ import annotations

import collections
import copy
import math
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base.tx import Revert
from protocols.lending.aave_v3 import exact as x
from protocols.lending.aave_v3 import math as am
from protocols.lending.aave_v3.cases import FAMILIES, Case, Reverted, generate_cases, run_case
from protocols.lending.aave_v3.driver import EnginePool
from protocols.lending.aave_v3.exact_pool import ExactPool
from protocols.lending.aave_v3.fidelity import compare
from protocols.lending.aave_v3.replay import MAX_UINT256, USDC_EXAMPLE, VERSIONS, WETH_EXAMPLE, LiquidationResult

RAY, WAD = 10**27, 10**18
uint = st.integers(0, 2**128)
positive = st.integers(1, 2**128)


# -- rounding helpers (Aave `WadRayMath.sol` and `PercentageMath.sol`: half-up rounding) ----------------------------------------------------------
def _nearest_half_up(q: Fraction) -> int:
    return math.floor(q + Fraction(1, 2))


@given(uint, positive)
def test_half_up_helpers_round_the_exact_quotient_half_up(a, b):
    assert x.ray_mul(a, b) == _nearest_half_up(Fraction(a * b, RAY))
    assert x.wad_mul(a, b) == _nearest_half_up(Fraction(a * b, WAD))
    assert x.percent_mul(a, b) == _nearest_half_up(Fraction(a * b, 10_000))
    # the divisions round half *up* only for even divisors; Solidity adds b // 2
    assert x.ray_div(a, b) == (a * RAY + b // 2) // b
    assert abs(Fraction(x.ray_div(a, b)) - Fraction(a * RAY, b)) <= Fraction(1, 2)
    assert abs(Fraction(x.percent_div(a, b)) - Fraction(a * 10_000, b)) <= Fraction(1, 2)


@given(uint, positive)
def test_floor_and_ceil_helpers_bracket_the_exact_quotient(a, b):
    q = Fraction(a * b, RAY)
    assert x.ray_mul_floor(a, b) == math.floor(q) and x.ray_mul_ceil(a, b) == math.ceil(q)
    q = Fraction(a * RAY, b)
    assert x.ray_div_floor(a, b) == math.floor(q) and x.ray_div_ceil(a, b) == math.ceil(q)
    assert x.percent_div_ceil(a, b) == math.ceil(Fraction(a * 10_000, b))
    assert x.mul_div_ceil(a, b, 7) == math.ceil(Fraction(a * b, 7))


@given(uint, st.integers(RAY, 10 * RAY))
def test_v36_balances_round_for_the_protocol(amount, index):
    """v3.5+: minting aTokens never credits more than supplied, minting debt never records less
    than borrowed, and burning takes at least the amount from aTokens."""
    minted = x.a_token_scaled_mint("v3.6", amount, index)
    assert x.a_token_balance("v3.6", minted, index) <= amount
    owed = x.debt_token_scaled_mint("v3.6", amount, index)
    assert x.debt_token_balance("v3.6", owed, index) >= amount
    assert x.a_token_scaled_burn("v3.6", amount, index) * index >= amount * RAY


# -- interest (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`) -----------------------------------------------------------------------
@given(st.integers(0, 10 * RAY), st.integers(0, 10**8))
def test_v36_compounding_is_the_exp_series_to_within_rounding(rate, dt):
    """The contract floors x = r·dt/SPY (δ < 1), floors x/2 and x/6 and rounds two rayMuls half-up.

    With y = x/RAY the floor of x moves the series by δ·(1 + y + y²/2), the floors inside the
    brackets by at most y·(1 + y) after the outer rayMul, and the rayMuls by ½·y + ½: so the
    result is within 3/2 + 5/2·y + 3/2·y² ray units of the series at the unfloored x.
    """
    xr = Fraction(rate * dt, x.SECONDS_PER_YEAR)
    series = RAY + xr + xr**2 / (2 * RAY) + xr**3 / (6 * RAY**2)
    y = xr / RAY
    bound = Fraction(3, 2) + Fraction(5, 2) * y + Fraction(3, 2) * y * y
    assert abs(x.compounded_interest_exact("v3.6", rate, dt) - series) <= bound


@given(st.integers(0, 10 * RAY), st.integers(0, 2))
def test_v30_compounding_is_the_binomial_exactly_for_two_seconds(rate, dt):
    """(1 + r/SPY)^dt has no dropped term for dt ≤ 2; only the floors of r·dt/SPY and b2 remain."""
    exact = RAY * (1 + Fraction(rate, RAY * x.SECONDS_PER_YEAR)) ** dt
    assert 0 <= exact - x.compounded_interest_exact("v3.0", rate, dt) <= 2


@given(st.integers(0, 10 * RAY), st.integers(0, 3 * 10**8))
def test_float_compounding_follows_each_version(rate, dt):
    r = rate / RAY
    for version, rules in (("v3.0", "v3.0"), ("v3.6", "v3.3")):
        want = x.compounded_interest_exact(version, rate, dt) / RAY
        assert am.compounded_interest(r, dt, rules) == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_linear_interest_is_simple_interest():
    assert x.linear_interest_exact(RAY // 10, x.SECONDS_PER_YEAR // 2) == RAY + RAY // 20


@pytest.mark.parametrize("usage_bps, borrow_bps, supply_ppm", [
    (5_000, 150, 6_375), (8_000, 240, 16_320), (9_000, 270, 20_655), (9_500, 4_270, 344_802.5), (10_000, 8_270, 702_950),
])
def test_rate_strategy_table_of_mechanics(usage_bps, borrow_bps, supply_ppm):
    """worked example: U* = 90%, R0 = 0, S1 = 2.7%, S2 = 80%, RF = 15%."""
    debt, cash = usage_bps, 10_000 - usage_bps
    for version in VERSIONS:
        liquidity, borrow = x.interest_rates_exact(version, debt * 10**6, cash * 10**6, 0, 1_500, 9_000, 0, 270, 8_000)
        assert abs(borrow - borrow_bps * 10**23) <= 2
        assert abs(liquidity - Fraction(supply_ppm) * 10**21) <= 4


def test_the_deficit_lowers_only_the_supply_rate():
    """v3.6 passes the deficit as ``unbacked``: the supply usage falls, the borrow usage stays."""
    plain = x.interest_rates_exact("v3.6", 900, 100, 0, 1_500, 9_000, 0, 270, 8_000)
    with_deficit = x.interest_rates_exact("v3.6", 900, 100, 1_000, 1_500, 9_000, 0, 270, 8_000)
    assert with_deficit[1] == plain[1] and with_deficit[0] * 2 == pytest.approx(plain[0], rel=1e-9)


# -- account data and liquidations (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; worked example) -------------------------------------------
WETH_UNIT, USDC_UNIT, USD = 10**18, 10**6, 10**8


def _weth(price_usd: int, amount=10 * WETH_UNIT) -> x.CollateralPosition:
    return x.CollateralPosition(amount, price_usd * USD, 18, 8_300, 8_050)


DEBT = x.DebtPosition(15_000 * USDC_UNIT, USD, 6)


@pytest.mark.parametrize("price, hf", [(1_800, 996 * 10**15), (1_700, 940_666_666_666_666_667), (1_400, 774_666_666_666_666_667)])
def test_health_factor_vectors(price, hf):
    """worked example: 10 WETH (LT 83%) against 15,000 USDC; v3.6 floors where v3.0 rounds half up."""
    assert x.account_data_exact("v3.0", [_weth(price)], [DEBT]).health_factor == hf
    assert x.account_data_exact("v3.6", [_weth(price)], [DEBT]).health_factor in (hf, hf - 1)


def test_v30_floors_the_average_threshold_and_v36_does_not():
    """Two collaterals worth $1 and $2 at LT 80% and 81%: the average is 80.666…%, floored to
    8066 bps by v3.0; v3.6 keeps Σ value·LT."""
    coll = [x.CollateralPosition(USD, USD, 8, 8_000), x.CollateralPosition(2 * USD, USD, 8, 8_100)]
    debt = [x.DebtPosition(USD, USD, 8)]
    assert x.account_data_exact("v3.0", coll, debt).health_factor == 3 * 8_066 * WAD // 10_000
    assert x.account_data_exact("v3.6", coll, debt).health_factor == 24_200 * WAD // 10_000


def _liquidate(version, price, cover=MAX_UINT256, debt=15_000 * USDC_UNIT, collateral=10 * WETH_UNIT):
    totals = x.account_data_exact(version, [_weth(price, collateral)], [x.DebtPosition(debt, USD, 6)])
    return x.liquidation_call_exact(
        version, health_factor=totals.health_factor, total_collateral_base=totals.total_collateral_base,
        total_debt_base=totals.total_debt_base, collateral_enabled=True, collateral_balance=collateral,
        collateral_price=price * USD, collateral_decimals=18, debt_balance=debt, debt_price=USD, debt_decimals=6,
        liquidation_bonus=10_500, protocol_fee=1_000, debt_to_cover=cover, borrow_index=RAY, liquidity_index=RAY)


def test_case_b_below_095_liquidates_the_whole_debt():
    for version in VERSIONS:
        out = _liquidate(version, 1_700)
        assert out.debt_repaid == 15_000 * USDC_UNIT
        base = 15_000 * USDC_UNIT * USD * WETH_UNIT // (1_700 * USD * USDC_UNIT)  # 8.8235… WETH, floored
        seized = (base * 10_500 + 5_000) // 10_000
        assert out.collateral_seized == seized
        assert out.protocol_fee == ((seized - (seized * 10_000 + 5_250) // 10_500) * 1_000 + 5_000) // 10_000


def test_case_c_runs_out_of_collateral_and_only_v36_books_a_deficit():
    v30, v36 = _liquidate("v3.0", 1_400), _liquidate("v3.6", 1_400)
    value = 14_000 * USDC_UNIT  # all 10 WETH at $1,400, in USDC units
    assert v30.debt_repaid == (value * 10_000 + 5_250) // 10_500 == 13_333_333_333
    assert v36.debt_repaid == -(-value * 10_000 // 10_500) == 13_333_333_334  # percentDivCeil
    assert (v30.collateral_seized, v36.collateral_seized) == (10 * WETH_UNIT, 10 * WETH_UNIT)
    assert (v30.deficit, v36.deficit) == (0, 15_000 * USDC_UNIT - 13_333_333_334)
    assert v36.no_collateral_left and v36.debt_burned == 15_000 * USDC_UNIT


def test_close_factor_threshold_sits_at_095_exactly():
    """HF just above 0.95: 50%; at or below: 100% (v3.0 applies it to the reserve's debt)."""
    kwargs = dict(total_collateral_base=10**12, total_debt_base=10**12, collateral_enabled=True,
                  collateral_balance=10**30, collateral_price=USD, collateral_decimals=18, debt_balance=10**10,
                  debt_price=USD, debt_decimals=6, liquidation_bonus=10_500, protocol_fee=0,
                  debt_to_cover=MAX_UINT256, borrow_index=RAY, liquidity_index=RAY)
    above = x.liquidation_call_exact("v3.0", health_factor=x.CLOSE_FACTOR_HF_THRESHOLD + 1, **kwargs)
    at = x.liquidation_call_exact("v3.0", health_factor=x.CLOSE_FACTOR_HF_THRESHOLD, **kwargs)
    assert (above.debt_repaid, at.debt_repaid) == (5 * 10**9, 10**10)


def test_v36_refuses_partial_liquidations_that_leave_dust():
    """1 WETH at $1,400 against $1,500 of debt: repaying $600 would leave $900 of debt; taking
    everything is allowed (below $2,000 the close factor is 100%) and books the rest as deficit."""
    debt, one = 1_500 * USDC_UNIT, WETH_UNIT
    assert _liquidate("v3.6", 1_400, cover=600 * USDC_UNIT, debt=debt, collateral=one).revert == "MUST_NOT_LEAVE_DUST"
    everything = _liquidate("v3.6", 1_400, cover=MAX_UINT256, debt=debt, collateral=one)
    assert everything.debt_repaid == -(-1_400 * USDC_UNIT * 10_000 // 10_500)
    assert everything.deficit == debt - everything.debt_repaid
    assert _liquidate("v3.0", 1_400, cover=600 * USDC_UNIT, debt=debt, collateral=one).revert == ""


def test_dust_that_rounds_to_zero_reverts():
    """One wei of an 18-decimal debt buys nothing of an 8-decimal collateral at the same price:
    the collateral to seize rounds to 0 and the burn reverts."""
    out = x.liquidation_call_exact(
        "v3.0", health_factor=WAD // 2, total_collateral_base=USD, total_debt_base=USD, collateral_enabled=True,
        collateral_balance=10**8, collateral_price=USD, collateral_decimals=8, debt_balance=10**18, debt_price=USD,
        debt_decimals=18, liquidation_bonus=10_500, protocol_fee=0, debt_to_cover=1, borrow_index=RAY,
        liquidity_index=RAY)
    assert out.revert == "INVALID_BURN_AMOUNT"


def test_revert_order_follows_the_contract():
    common = dict(total_collateral_base=1, total_debt_base=1, collateral_balance=1, collateral_price=1,
                  collateral_decimals=0, debt_price=1, debt_decimals=0, liquidation_bonus=10_500, protocol_fee=0,
                  debt_to_cover=1, borrow_index=RAY, liquidity_index=RAY)
    healthy = x.liquidation_call_exact("v3.6", health_factor=WAD, collateral_enabled=False, debt_balance=0, **common)
    assert healthy.revert == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
    disabled = x.liquidation_call_exact("v3.6", health_factor=WAD - 1, collateral_enabled=False, debt_balance=0, **common)
    assert disabled.revert == "COLLATERAL_CANNOT_BE_LIQUIDATED"
    no_debt = x.liquidation_call_exact("v3.6", health_factor=WAD - 1, collateral_enabled=True, debt_balance=0, **common)
    assert no_debt.revert == "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER"


# -- the pool ----------------------------------------------------------------------------------
WETH, USDC = WETH_EXAMPLE, USDC_EXAMPLE


def _totals_hold(pool: ExactPool):
    """Scaled totals are the sums of the accounts' scaled balances; cash is never negative."""
    for sym, r in pool.state.reserves.items():
        assert r.scaled_supply == sum(a.supplied.get(sym, 0) for a in pool.state.accounts.values())
        assert r.scaled_debt == sum(a.owed.get(sym, 0) for a in pool.state.accounts.values())
        assert r.cash >= 0


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_pool_bookkeeping_holds_through_random_calls_and_reverts_change_nothing(data):
    version = data.draw(st.sampled_from(VERSIONS))
    pool = ExactPool(version, [WETH, USDC], {"WETH": 2_000 * USD, "USDC": USD})
    pool.supply("lender", "USDC", 1_000_000 * USDC_UNIT)
    supplied = {"WETH": 0, "USDC": 1_000_000 * USDC_UNIT}
    for _ in range(data.draw(st.integers(1, 12))):
        kind = data.draw(st.sampled_from(["supply", "borrow", "advance", "price", "liquidate"]))
        before = copy.deepcopy(pool.state)
        try:
            if kind == "supply":
                amount = data.draw(st.integers(0, 100 * WETH_UNIT))
                pool.supply("borrower", "WETH", amount)
                supplied["WETH"] += amount
            elif kind == "borrow":
                pool.borrow("borrower", "USDC", data.draw(st.integers(0, 200_000 * USDC_UNIT)))
            elif kind == "advance":
                pool.advance(data.draw(st.integers(0, 10**8)))
            elif kind == "price":
                pool.set_price("WETH", data.draw(st.integers(100, 4_000)) * USD)
            else:
                out = pool.liquidation_call("liquidator", "WETH", "USDC", "borrower",
                                            data.draw(st.sampled_from([MAX_UINT256, 1, 1_000 * USDC_UNIT])))
                assert isinstance(out, LiquidationResult)
        except Revert:
            assert pool.state == before  # a reverted call changes nothing
        _totals_hold(pool)
        weth = pool.state.reserves["WETH"]
        # nobody borrows WETH: its cash is what was supplied less what liquidators took out
        assert weth.cash <= supplied["WETH"]


# -- the engine's float path against the exact path ---------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("version", VERSIONS)
def test_engine_agrees_with_the_exact_model_on_generated_replays(version, family):
    problems = []
    for case in generate_cases(11, 250 if family == "random" else 60, family):
        prices = {case.collateral.symbol: case.collateral_price, case.debt.symbol: case.debt_price}
        exact = run_case(ExactPool(version, (case.collateral, case.debt), prices), case)
        engine = run_case(EnginePool(version, (case.collateral, case.debt), prices), case)
        problems += compare(case, version, exact, engine).problems
    assert not problems, problems[:3]


def test_health_factor_edge_cases_land_exactly_on_the_thresholds():
    """The aimed family's construction (k·p·LT = 10⁴·t·m·q) gives HF = 1 or 0.95 exactly in both
    versions' integer math whenever the price is not nudged."""
    hits = collections.Counter()
    for case in generate_cases(3, 200, "health_factor_edges"):
        prices = {case.collateral.symbol: case.collateral_price, case.debt.symbol: case.debt_price}
        for version in VERSIONS:
            hf = run_case(ExactPool(version, (case.collateral, case.debt), prices), case)["account_after_prices"].health_factor
            hits[hf] += hf in (WAD, 95 * WAD // 100)
    assert hits[WAD] > 50 and hits[95 * WAD // 100] > 50, hits


def test_liquidation_that_needs_lent_out_collateral_reverts_in_both_paths():
    """The lender borrowed 9.9 of the 10 COLL the borrower posted: the reserve's cash (0.1) cannot
    hand over the 10 COLL a liquidation at $1,500 seizes (the contracts' rate strategy
    underflows), and the engine refuses too instead of driving the pool's balance negative."""
    case = Case("lent-out", replace(WETH_EXAMPLE, symbol="COLL"), replace(USDC_EXAMPLE, symbol="DEBT"),
                2_000 * 10**8, 10**8, lender_supply=40_000 * 10**6, saver_supply=0, borrower_supply=10 * 10**18,
                lender_borrow=99 * 10**17, borrower_borrow=15_000 * 10**6, elapsed=0,
                collateral_price_after=1_500 * 10**8, debt_price_after=10**8, debt_to_cover=MAX_UINT256)
    prices = {"COLL": case.collateral_price, "DEBT": case.debt_price}
    for version in VERSIONS:
        for market in (ExactPool(version, (case.collateral, case.debt), prices),
                       EnginePool(version, (case.collateral, case.debt), prices)):
            out = run_case(market, case)
            assert not any(isinstance(o, Reverted) for o in out["setup"]), out["setup"]
            assert out["account_after_prices"].health_factor < WAD
            assert out["liquidation"] == Reverted("PANIC_0x11"), (version, type(market).__name__, out["liquidation"])


def test_v36_refuses_self_liquidation_in_both_paths():
    case = replace(next(c for c in generate_cases(11, 250) if c.collateral_price_after < c.collateral_price // 2),
                   liquidator="borrower")
    prices = {case.collateral.symbol: case.collateral_price, case.debt.symbol: case.debt_price}
    for market in (ExactPool("v3.6", (case.collateral, case.debt), prices),
                   EnginePool("v3.6", (case.collateral, case.debt), prices)):
        assert run_case(market, case)["liquidation"] == Reverted("SELF_LIQUIDATION")


def test_the_tolerance_is_not_vacuous():
    """A float result one part in a million off is reported."""
    case = next(c for c in generate_cases(11, 250) if c.borrower_supply > 10**12 and c.borrower_borrow > 10**9)
    prices = {case.collateral.symbol: case.collateral_price, case.debt.symbol: case.debt_price}
    exact = run_case(ExactPool("v3.6", (case.collateral, case.debt), prices), case)
    engine = run_case(EnginePool("v3.6", (case.collateral, case.debt), prices), case)
    assert not compare(case, "v3.6", exact, engine).problems
    a = engine["account_after_time"]
    engine["account_after_time"] = type(a)(a.total_collateral_base, a.total_debt_base, int(a.health_factor * (1 + 1e-6)),
                                           a.collateral, a.debt)
    assert any("health_factor" in p for p in compare(case, "v3.6", exact, engine).problems)
