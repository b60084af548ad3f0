"""Aave v3 pure math against the worked examples of the Aave contracts' formulas (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`; worked example, worked example),
closed forms, scalar/vectorised twins and liquidation invariants (Hypothesis).

Expected numbers are the worked examples as printed, compared with a tolerance
(relative 1e-6) or half a unit in the last printed digit, whichever is looser: the tables print
e.g. ``0.0208333`` for 1/48, which is 1.6e-6 off in relative terms.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protocols.lending.aave_v3.liquidation import (
    COLLATERAL_CANNOT_BE_LIQUIDATED,
    HEALTH_FACTOR_NOT_BELOW_THRESHOLD,
    MUST_NOT_LEAVE_DUST,
    SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER,
    LiquidationOutcome,
    liquidation_call,
    liquidation_calls,
)
from protocols.lending.aave_v3.math import (
    SECONDS_PER_YEAR,
    accrue_reserve,
    borrow_rate,
    borrow_rates,
    compounded_interest,
    health_factor,
    health_factors,
    linear_interest,
    supply_rate,
    usage_ratio,
    usage_ratios,
)


def printed(text: str, scale: float = 1.0):
    """``pytest.approx`` for a number as a worked example prints it (``"13,333.33"``, ``"42.70"`` with
    ``scale=0.01`` for a percentage): relative 1e-6 or half a unit in the last digit."""
    digits = text.replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return pytest.approx(float(digits) * scale, rel=1e-6, abs=0.5 * 10.0**-decimals * scale)


# --------------------------------------------------------------------------------------------
# The worked example base setup: 10 WETH collateral (LT 83%), 15,000 USDC debt, bonus 5%, fee 10%.
# Reserves: 0 = WETH, 1 = USDC (USDC's own LT is irrelevant: it holds no collateral).
# --------------------------------------------------------------------------------------------
WETH_AMOUNT, USDC_DEBT = 10.0, 15_000.0
LT_WETH, LT_USDC = 0.83, 0.78
BONUS, PROTOCOL_FEE = 0.05, 0.10


def base_hf(weth_price: float, weth: float = WETH_AMOUNT, usdc_debt: float = USDC_DEBT) -> float:
    return health_factor([weth, 0.0], [0.0, usdc_debt], [weth_price, 1.0], [LT_WETH, LT_USDC])


def _vectorised_one(*args, **kw) -> LiquidationOutcome:
    """liquidation_calls on a one-row table, unpacked to scalars."""
    out = liquidation_calls(*args, **kw)
    assert out.debt_repaid.shape == (1,)
    return LiquidationOutcome(*(float(f[0]) for f in out[:5]), str(out.revert[0]), bool(out.no_collateral_left[0]))


@pytest.fixture(params=["scalar", "vectorised"])
def liquidate(request):
    """Each worked example runs on both twins."""
    return liquidation_call if request.param == "scalar" else _vectorised_one


def liquidate_base(liquidate, weth_price: float, rules: str = "v3.3", **kw) -> LiquidationOutcome:
    return liquidate(
        WETH_AMOUNT, USDC_DEBT, weth_price, 1.0, hf=base_hf(weth_price),
        liquidation_bonus=BONUS, protocol_liquidation_fee=PROTOCOL_FEE, rules=rules, **kw,
    )


# --- vector 1 and the HF column of worked example -------------------------------------------------
@pytest.mark.parametrize("price, expected", [(1_800.0, "0.996"), (1_700.0, "0.94067"), (1_400.0, "0.77467")])
def test_health_factor_vector_1_and_section_1_11(price, expected):
    assert base_hf(price) == printed(expected)
    assert health_factors([[WETH_AMOUNT, 0.0]], [[0.0, USDC_DEBT]], [price, 1.0], [LT_WETH, LT_USDC])[0] == printed(expected)


def test_health_factor_gap_between_ltv_and_lt_section_1_2():
    """Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt: a max-borrowed WETH position (LTV 80.5%, LT 83%) starts at HF 83/80.5 = 1.031."""
    collateral_usd = 10 * 2_000.0
    debt = collateral_usd * 0.805
    assert health_factor([10.0, 0.0], [0.0, debt], [2_000.0, 1.0], [0.83, 0.0]) == printed("1.031")


def test_health_factor_no_debt_is_inf_and_no_collateral_is_zero():
    assert health_factor([5.0, 0.0], [0.0, 0.0], [10.0, 1.0], [0.8, 0.8]) == math.inf
    assert health_factor([0.0, 0.0], [0.0, 0.0], [10.0, 1.0], [0.8, 0.8]) == math.inf
    assert health_factor([0.0, 0.0], [0.0, 3.0], [10.0, 1.0], [0.8, 0.8]) == 0.0
    result = health_factors([[5.0, 0.0], [0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 3.0]], [10.0, 1.0], [0.8, 0.8])
    assert result.tolist() == [math.inf, math.inf, 0.0]


def test_health_factor_hand_computed_multi_reserve():
    """Two collaterals, two debts: (2·1000·0.8 + 500·1·0.9) / (0.5·1000 + 1000·1) = 2050/1500."""
    expected = (2 * 1_000 * 0.8 + 500 * 0.9) / (0.5 * 1_000 + 1_000)
    assert health_factor([2.0, 500.0], [0.5, 1_000.0], [1_000.0, 1.0], [0.8, 0.9]) == pytest.approx(expected, rel=1e-15)


def test_health_factors_per_account_thresholds_express_emode():
    """A (n_accounts, n_reserves) LT matrix: the second account uses an e-mode LT of 0.95."""
    lt = np.array([[0.83, 0.0], [0.95, 0.0]])
    result = health_factors([[1.0, 0.0], [1.0, 0.0]], [[0.0, 1_000.0], [0.0, 1_000.0]], [2_000.0, 1.0], lt)
    assert result.tolist() == pytest.approx([1.66, 1.9], rel=1e-15)


def test_health_factors_rejects_non_matrix_input():
    with pytest.raises(ValueError, match="matrices"):
        health_factors([1.0, 2.0], [0.0, 1.0], [1.0, 1.0], [0.8, 0.8])


# --- vectors 2, 3, 4 and worked example A, B, C ----------------------------------------------
def test_case_a_vector_2(liquidate):
    out = liquidate_base(liquidate, 1_800.0)
    assert out.revert == "" and out.ok
    assert out.debt_repaid == printed("7,500")
    assert out.collateral_seized == printed("4.375000")
    assert out.protocol_fee_collateral == printed("0.0208333")
    assert out.liquidator_collateral == printed("4.3541667")
    assert out.liquidator_collateral * 1_800.0 - out.debt_repaid == printed("337.50")  # profit before gas
    assert out.deficit == 0.0 and not out.no_collateral_left
    weth_left, debt_left = WETH_AMOUNT - out.collateral_seized, USDC_DEBT - out.debt_repaid
    assert weth_left == printed("5.625") and weth_left * 1_800.0 == printed("10,125")
    assert debt_left == printed("7,500")
    assert base_hf(1_800.0, weth_left, debt_left) == printed("1.1205")


def test_case_b_vector_3_close_factor_is_100_percent(liquidate):
    out = liquidate_base(liquidate, 1_700.0)
    assert out.debt_repaid / USDC_DEBT == 1.0  # vector 3: close factor 100% at HF 0.9407
    assert out.collateral_seized == printed("9.2647059")
    assert out.protocol_fee_collateral == printed("0.0441176")
    assert out.liquidator_collateral == printed("9.2205882")
    assert WETH_AMOUNT - out.collateral_seized == printed("0.7353")
    assert out.deficit == 0.0 and not out.no_collateral_left


def test_case_c_vector_4_deficit(liquidate):
    out = liquidate_base(liquidate, 1_400.0)
    assert out.debt_repaid == printed("13,333.33")
    assert out.collateral_seized == 10.0  # all of it
    assert out.protocol_fee_collateral == printed("0.0476190")
    assert out.liquidator_collateral == printed("9.9523810")
    assert out.no_collateral_left
    assert out.deficit == printed("1,666.67")


def test_case_c_before_v3_3_the_residual_stays_as_debt(liquidate):
    out = liquidate_base(liquidate, 1_400.0, rules="v3.0")
    assert out.debt_repaid == printed("13,333.33")
    assert out.collateral_seized == 10.0 and out.no_collateral_left
    assert out.deficit == 0.0
    assert USDC_DEBT - out.debt_repaid == printed("1,666.67")


# --- reverts ---------------------------------------------------------------------------------
def test_reverts_in_contract_order(liquidate):
    kw = dict(liquidation_bonus=BONUS, protocol_liquidation_fee=PROTOCOL_FEE)
    assert liquidate(10.0, 15_000.0, 2_000.0, 1.0, hf=1.0, **kw).revert == HEALTH_FACTOR_NOT_BELOW_THRESHOLD
    assert liquidate(10.0, 0.0, 2_000.0, 1.0, hf=math.inf, **kw).revert == HEALTH_FACTOR_NOT_BELOW_THRESHOLD
    assert liquidate(0.0, 15_000.0, 2_000.0, 1.0, hf=0.5, **kw).revert == COLLATERAL_CANNOT_BE_LIQUIDATED
    # HF < 1 because of debt elsewhere, but none in this reserve
    out = liquidate(10.0, 0.0, 2_000.0, 1.0, hf=0.9, other_debt_usd=30_000.0, **kw)
    assert out.revert == SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER
    assert not out.ok and out[:5] == (0.0, 0.0, 0.0, 0.0, 0.0) and out.no_collateral_left is False


def test_debt_to_cover_zero_repays_nothing_or_hits_the_leftover_rule(liquidate):
    big = liquidate_base(liquidate, 1_800.0, debt_to_cover=0.0)
    assert big.ok and big[:5] == (0.0, 0.0, 0.0, 0.0, 0.0)
    small = liquidate(1.0, 900.0, 1_000.0, 1.0, hf=0.9, liquidation_bonus=BONUS,
                      protocol_liquidation_fee=PROTOCOL_FEE, debt_to_cover=0.0)
    assert small.revert == MUST_NOT_LEAVE_DUST


def test_bad_inputs_raise_not_revert(liquidate):
    kw = dict(liquidation_bonus=BONUS, protocol_liquidation_fee=PROTOCOL_FEE)
    with pytest.raises(ValueError, match="collateral"):
        liquidate(-1.0, 1.0, 1.0, 1.0, hf=0.5, **kw)
    with pytest.raises(ValueError, match="debt_price_usd"):
        liquidate(1.0, 1.0, 1.0, 0.0, hf=0.5, **kw)
    with pytest.raises(ValueError, match="hf"):
        liquidate(1.0, 1.0, 1.0, 1.0, hf=float("nan"), **kw)
    with pytest.raises(ValueError, match="rules"):
        liquidate(1.0, 1.0, 1.0, 1.0, hf=0.5, rules="v1", **kw)
    # Aave v2 has no protocol liquidation fee: a share other than 0 is a caller's bug, on both twins
    with pytest.raises(ValueError, match=r"protocol_liquidation_fee must be 0 under rules 'v2'.*got 0\.1"):
        liquidate(1.0, 1.0, 1.0, 1.0, hf=0.5, rules="v2", **kw)


# --- close factor: v3.3 vs v3.0 -----------------------------------------------------------
def _repaid(liquidate, rules, **kw):
    args = dict(liquidation_bonus=BONUS, protocol_liquidation_fee=PROTOCOL_FEE, rules=rules)
    return liquidate(**{**args, **kw}).debt_repaid


def test_close_factor_differs_on_a_small_position(liquidate):
    """$1,800 of WETH against $1,500 (< $2,000): v3.3 lets the whole debt go, v3.0 only half."""
    pos = dict(collateral=1.0, debt=1_500.0, collateral_price_usd=1_800.0, debt_price_usd=1.0, hf=0.996)
    assert _repaid(liquidate, "v3.3", **pos) == 1_500.0
    assert _repaid(liquidate, "v3.0", **pos) == 750.0


def test_close_factor_v3_3_caps_half_of_total_debt_not_of_the_reserve(liquidate):
    """A $3,000 debt reserve of a $10,000 total (HF 0.97): v3.3 may clear it all (≤ 50% of the
    total), v3.0 only half of the reserve; a $6,000 reserve is capped at $5,000 by v3.3."""
    pos = dict(collateral=10.0, debt_price_usd=1.0, collateral_price_usd=2_000.0, hf=0.97)
    assert _repaid(liquidate, "v3.3", debt=3_000.0, other_debt_usd=7_000.0, **pos) == 3_000.0
    assert _repaid(liquidate, "v3.0", debt=3_000.0, other_debt_usd=7_000.0, **pos) == 1_500.0
    assert _repaid(liquidate, "v3.3", debt=6_000.0, other_debt_usd=4_000.0, **pos) == 5_000.0
    assert _repaid(liquidate, "v3.0", debt=6_000.0, other_debt_usd=4_000.0, **pos) == 3_000.0


@pytest.mark.parametrize("rules", ["v3.3", "v3.0"])
def test_close_factor_threshold_is_hf_strictly_above_0_95(liquidate, rules):
    pos = dict(collateral=10.0, debt=15_000.0, collateral_price_usd=1_800.0, debt_price_usd=1.0)
    assert _repaid(liquidate, rules, hf=0.95, **pos) == 15_000.0
    assert _repaid(liquidate, rules, hf=float(np.nextafter(0.95, 1.0)), **pos) == 7_500.0


def test_close_factor_reserve_value_thresholds_are_inclusive_2000_usd(liquidate):
    """v3.3: 50% needs collateral reserve ≥ $2,000 and debt reserve ≥ $2,000 (both inclusive).
    Bonus and fee 0 isolate the close factor from the leftover rule."""
    pos = dict(collateral_price_usd=1.0, debt_price_usd=1.0, hf=0.99, liquidation_bonus=0.0, protocol_liquidation_fee=0.0)
    assert liquidate(2_500.0, 2_000.0, **pos).debt_repaid == 1_000.0
    assert liquidate(2_000.0, 2_000.0, **pos).debt_repaid == 1_000.0
    assert liquidate(1_999.0, 1_990.0, **pos).debt_repaid == 1_990.0
    assert liquidate(2_500.0, float(np.nextafter(2_000.0, 0.0)), **pos).debt_repaid == float(np.nextafter(2_000.0, 0.0))


# --- Aave v2 rules (aave/protocol-v2 LendingPoolCollateralManager.liquidationCall) -------------
V2 = dict(liquidation_bonus=BONUS, protocol_liquidation_fee=0.0, rules="v2")


def test_v2_repays_half_of_the_reserve_at_hf_0_5_where_v3_0_repays_it_all(liquidate):
    """10 WETH at $2,000 (LT 83%: $16,600 weighted) against 8,000 USDC and $25,200 of other
    debt: HF = 16,600 / 33,200 = 0.5. v3.0 (HF ≤ 0.95) lets the whole 8,000 go, seizing
    8,000 × 1.05 / 2,000 = 4.2 WETH; v2 only half, 4,000, for 2.1 WETH, all of it to the
    liquidator (v2 has no protocol fee)."""
    hf = health_factor([10.0, 0.0, 0.0], [0.0, 8_000.0, 25_200.0], [2_000.0, 1.0, 1.0], [LT_WETH, 0.0, 0.0])
    assert hf == pytest.approx(0.5, rel=1e-15)
    pos = dict(collateral=10.0, debt=8_000.0, collateral_price_usd=2_000.0, debt_price_usd=1.0, hf=hf,
               other_debt_usd=25_200.0)
    old = liquidate(**pos, liquidation_bonus=BONUS, protocol_liquidation_fee=0.0, rules="v3.0")
    assert old.debt_repaid == 8_000.0 and old.collateral_seized == pytest.approx(4.2, rel=1e-15)
    out = liquidate(**pos, **V2)
    assert out.ok and out.debt_repaid == 4_000.0
    assert out.collateral_seized == pytest.approx(2.1, rel=1e-15)
    assert out.liquidator_collateral == out.collateral_seized and out.protocol_fee_collateral == 0.0
    assert out.deficit == 0.0 and not out.no_collateral_left


@pytest.mark.parametrize("hf", [0.0, 0.5, 0.95, float(np.nextafter(0.95, 1.0)), 0.999])
def test_v2_close_factor_is_50_percent_whatever_the_health_factor(liquidate, hf):
    """Worked-example position (10 WETH at $1,800, 15,000 USDC): 7,500 at any HF below 1, and
    the v3.3 reserve-size exemptions do not apply (a $1,500 debt is also halved)."""
    pos = dict(collateral=10.0, debt=15_000.0, collateral_price_usd=1_800.0, debt_price_usd=1.0, hf=hf)
    assert liquidate(**pos, **V2).debt_repaid == 7_500.0
    assert liquidate(**{**pos, "debt": 1_500.0}, **V2).debt_repaid == 750.0
    assert liquidate(**{**pos, "hf": 1.0}, **V2).revert == HEALTH_FACTOR_NOT_BELOW_THRESHOLD


def test_v2_collateral_runs_out_and_the_rest_of_the_debt_stays(liquidate):
    """At WETH $700 (HF 10 × 700 × 0.83 / 15,000 = 0.3873) half the debt, 7,500, would need
    7,500 × 1.05 / 700 = 11.25 WETH: all 10 are seized and the debt repaid is recomputed to
    10 × 700 / 1.05 = 6,666.67. The 8,333.33 left stays on the account: no deficit, where v3.3
    writes it off."""
    pos = dict(collateral=10.0, debt=15_000.0, collateral_price_usd=700.0, debt_price_usd=1.0, hf=base_hf(700.0))
    assert pos["hf"] == pytest.approx(0.3873333, rel=1e-6)
    out = liquidate(**pos, **V2)
    assert out.ok and out.collateral_seized == 10.0 and out.liquidator_collateral == 10.0
    assert out.debt_repaid == pytest.approx(10 * 700 / 1.05, rel=1e-15) == printed("6,666.67")
    assert out.no_collateral_left and out.deficit == 0.0
    assert 15_000.0 - out.debt_repaid == printed("8,333.33")
    new = liquidate(**pos, liquidation_bonus=BONUS, protocol_liquidation_fee=0.0, rules="v3.3")
    assert new.debt_repaid == out.debt_repaid and new.deficit == printed("8,333.33")


@pytest.mark.parametrize("cover, repaid, seized", [
    (7_000.0, 10 * 700 / 1.05, 10.0),      # 7,000 × 1.05 / 700 = 10.5 WETH > 10: capped, recomputed
    (6_000.0, 6_000.0, 9.0),               # 6,000 × 1.05 / 700 = 9 WETH: as asked
    (math.inf, 10 * 700 / 1.05, 10.0),     # the close factor's 7,500, then the cap
])
def test_v2_collateral_cap_recomputes_the_debt_repaid(liquidate, cover, repaid, seized):
    """``_calculateAvailableCollateralToLiquidate``: past the balance, ``debtAmountNeeded`` =
    balance × p_coll / p_debt / (1 + bonus) replaces the amount asked for."""
    out = liquidate(10.0, 15_000.0, 700.0, 1.0, hf=base_hf(700.0), debt_to_cover=cover, **V2)
    assert out.debt_repaid == pytest.approx(repaid, rel=1e-15)
    assert out.collateral_seized == pytest.approx(seized, rel=1e-15) and out.liquidator_collateral == out.collateral_seized
    assert out.deficit == 0.0 and out.no_collateral_left == (seized == 10.0)


def test_v2_has_no_leftover_rule(liquidate):
    """A $900 debt against $1,000 of collateral (HF 0.9): v2 repays half and leaves $450 of debt
    and $527.50 of collateral, which v3.3 refuses as dust."""
    pos = dict(collateral=1.0, debt=900.0, collateral_price_usd=1_000.0, debt_price_usd=1.0, hf=0.9,
               debt_to_cover=450.0)
    out = liquidate(**pos, **V2)
    assert out.ok and out.debt_repaid == 450.0 and 1.0 - out.collateral_seized == pytest.approx(0.5275, rel=1e-12)
    assert liquidate(**pos, liquidation_bonus=BONUS, protocol_liquidation_fee=0.0).revert == MUST_NOT_LEAVE_DUST


# --- step 5: leftover rule ------------------------------------------------------------
def test_leftover_rule_binds_on_the_debt_side_only_under_v3_3(liquidate):
    """Case B with debt_to_cover 14,600: $400 of debt would be left (< $1,000)."""
    assert liquidate_base(liquidate, 1_700.0, debt_to_cover=14_600.0).revert == MUST_NOT_LEAVE_DUST
    assert liquidate_base(liquidate, 1_700.0, debt_to_cover=14_000.0).debt_repaid == 14_000.0  # $1,000 left: allowed
    old = liquidate_base(liquidate, 1_700.0, rules="v3.0", debt_to_cover=14_600.0)
    assert old.ok and old.debt_repaid == 14_600.0


def test_leftover_rule_binds_on_the_collateral_side(liquidate):
    """At $1,500, repaying 14,000 seizes 9.8 WETH and would leave $300 of WETH ($1,000 of debt)."""
    assert liquidate_base(liquidate, 1_500.0, debt_to_cover=14_000.0).revert == MUST_NOT_LEAVE_DUST
    old = liquidate_base(liquidate, 1_500.0, rules="v3.0", debt_to_cover=14_000.0)
    assert old.ok and old.collateral_seized == pytest.approx(9.8, rel=1e-15)


def test_leftover_collateral_counts_the_protocol_fee(liquidate):
    """Bonus 10%, all of it to the treasury (fee share 1): repaying 1,850 of 3,000 seizes 2,035, of
    which 185 is fee. The account keeps $965 (< $1,000), though the liquidator's 1,850 alone would
    leave $1,150: the deployed v3.3 check subtracts the fee too. Repaying 1,800 leaves $1,020."""
    kw = dict(collateral_price_usd=1.0, debt_price_usd=1.0, hf=0.9, liquidation_bonus=0.10, protocol_liquidation_fee=1.0)
    ok = liquidate(3_000.0, 3_000.0, debt_to_cover=1_800.0, **kw)
    assert ok.ok and ok.collateral_seized == pytest.approx(1_980.0, rel=1e-15)
    assert ok.protocol_fee_collateral == pytest.approx(180.0, rel=1e-12)
    assert liquidate(3_000.0, 3_000.0, debt_to_cover=1_850.0, **kw).revert == MUST_NOT_LEAVE_DUST


@pytest.mark.parametrize(
    "collateral, debt, repay, allowed",
    [
        ("A", "B", 400.0, True),    # 100% of debt B (collateral A runs out first: also 100% of A)
        ("B", "B", 400.0, True),    # 100% of debt B
        ("B", "B", 200.0, False),   # $200 of debt B left
        ("A", "A", 900.0, True),    # 100% of collateral A (the seizure is capped at A's balance)
        ("A", "A", 50.0, False),    # only part of collateral A: $347.50 of it left
        ("B", "A", 400.0, True),    # ≤ $400 of debt A
        ("B", "A", 450.0, False),   # $450 of debt A left
        ("B", "A", 900.0, True),    # 100% of debt A
    ],
)
def test_leftover_rule_worked_example_of_section_1_11(liquidate, collateral, debt, repay, allowed):
    """worked example v3.3 dust test with the doc's own MIN_LEFTOVER_BASE of $500 (prices $1, bonus 5%):
    collateral A $400, B $1,000; debt A $900, B $400; HF 0.94."""
    coll = {"A": 400.0, "B": 1_000.0}
    debts = {"A": 900.0, "B": 400.0}
    out = liquidate(
        coll[collateral], debts[debt], 1.0, 1.0, hf=0.94, liquidation_bonus=BONUS,
        protocol_liquidation_fee=PROTOCOL_FEE, debt_to_cover=repay,
        other_collateral_usd=sum(coll.values()) - coll[collateral],
        other_debt_usd=sum(debts.values()) - debts[debt], min_leftover_usd=500.0,
    )
    assert out.ok == allowed, out
    if not allowed:
        assert out.revert == MUST_NOT_LEAVE_DUST


def test_no_collateral_left_needs_every_collateral_gone(liquidate):
    """Seizing all of one collateral while another remains books no deficit (Aave v3 `LiquidationLogic.executeLiquidationCall` step 7)."""
    out = liquidate(1.0, 15_000.0, 1_400.0, 1.0, hf=0.5, liquidation_bonus=BONUS,
                    protocol_liquidation_fee=PROTOCOL_FEE, other_collateral_usd=5_000.0)
    assert out.collateral_seized == 1.0 and not out.no_collateral_left and out.deficit == 0.0
    # debt fully repaid and collateral exhausted: no deficit in this reserve, but the flag is set
    # (the caller then burns the other reserves' debt into deficit)
    hf = health_factor([1.05, 0.0, 0.0], [0.0, 1_000.0, 700.0], [1_000.0, 1.0, 1.0], [LT_WETH, 0.0, 0.0])
    out = liquidate(1.05, 1_000.0, 1_000.0, 1.0, hf=hf, liquidation_bonus=BONUS,
                    protocol_liquidation_fee=PROTOCOL_FEE, other_debt_usd=700.0)
    assert out.debt_repaid == pytest.approx(1_000.0, rel=1e-15) and out.no_collateral_left
    assert out.deficit == pytest.approx(0.0, abs=1e-9)


# --- interest rates: worked example and the worked example table -----------------------------------
STRATEGY = dict(optimal_utilization=0.90, base_rate=0.0, slope1=0.027, slope2=0.80)


@pytest.mark.parametrize(
    "debt, cash, borrow_apr_pct, supply_apr_pct",
    [
        (50.0, 50.0, "1.500", "0.6375"),
        (80.0, 20.0, "2.400", "1.632"),
        (90.0, 10.0, "2.700", "2.0655"),
        (95.0, 5.0, "42.70", "34.48"),  # vector 5
        (100.0, 0.0, "82.70", "70.30"),
    ],
)
def test_rate_table_of_section_1_11(debt, cash, borrow_apr_pct, supply_apr_pct):
    u = usage_ratio(debt, cash)
    assert u == pytest.approx(debt / 100.0, rel=1e-15)
    rb = borrow_rate(u, **STRATEGY)
    assert rb == printed(borrow_apr_pct, scale=0.01)
    assert supply_rate(rb, usage_ratio(debt, cash, deficit=0.0), 0.15) == printed(supply_apr_pct, scale=0.01)
    # the vectorised twins on the same row
    assert usage_ratios([debt], [cash]).tolist() == [u]
    assert borrow_rates([u], **STRATEGY).tolist() == [rb]


def test_rate_kink_is_continuous_and_zero_debt_pays_base_rate():
    s = dict(STRATEGY, base_rate=0.01)
    assert borrow_rate(0.9, **s) == pytest.approx(0.01 + 0.027, rel=1e-15)
    assert borrow_rate(float(np.nextafter(0.9, 1.0)), **s) == pytest.approx(0.037, rel=1e-12)
    assert usage_ratio(0.0, 100.0) == 0.0 and borrow_rate(0.0, **s) == 0.01
    assert supply_rate(borrow_rate(0.0, **s), usage_ratio(0.0, 100.0), 0.15) == 0.0


def test_deficit_lowers_supply_usage_only():
    """Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`: the deficit enters the supply-usage denominator, not the borrow usage."""
    u, us = usage_ratio(90.0, 10.0), usage_ratio(90.0, 10.0, deficit=20.0)
    assert (u, us) == (0.9, 0.75)
    assert usage_ratios([90.0, 90.0], [10.0, 10.0], [0.0, 20.0]).tolist() == [0.9, 0.75]
    assert supply_rate(borrow_rate(u, **STRATEGY), us, 0.0) == pytest.approx(0.027 * 0.75, rel=1e-15)


@given(
    st.lists(st.tuples(st.sampled_from([0.0, 1.0, 50.0]) | st.floats(0, 1e9), st.sampled_from([0.0, 5.0]) | st.floats(0, 1e9),
                       st.sampled_from([0.0]) | st.floats(0, 1e6), st.floats(0.01, 0.99), st.floats(0, 0.1), st.floats(0, 0.3),
                       st.floats(0.3, 3.0)), min_size=1, max_size=20)
)
@settings(max_examples=40, deadline=None)
def test_rate_twins_agree(rows):
    d, a, x, uo, r0, s1, s2 = map(np.array, zip(*rows))
    u_vec = usage_ratios(d, a, x)
    u_one = [usage_ratio(*args) for args in zip(d.tolist(), a.tolist(), x.tolist())]
    np.testing.assert_array_equal(u_vec, u_one)
    b_vec = borrow_rates(u_vec, uo, r0, s1, s2)
    b_one = [borrow_rate(*args) for args in zip(u_one, uo.tolist(), r0.tolist(), s1.tolist(), s2.tolist())]
    np.testing.assert_array_equal(b_vec, b_one)
    assert np.all((u_vec >= 0.0) & (u_vec <= 1.0))


# --- index growth: worked example -----------------------------------------------------------
def test_compounded_index_vector_6():
    assert compounded_interest(0.10, SECONDS_PER_YEAR) == printed("1.1051667")
    assert math.exp(0.10) == printed("1.1051709")  # the exact figure the doc compares with
    assert compounded_interest(0.10, SECONDS_PER_YEAR) < math.exp(0.10)


def test_linear_index_one_year_untouched():
    assert linear_interest(0.10, SECONDS_PER_YEAR) == printed("1.1000")
    assert SECONDS_PER_YEAR == 365 * 24 * 3600


@pytest.mark.parametrize("rules", ["v3.0", "v2"])
@pytest.mark.parametrize("dt", [0, 1, 2, 3])
def test_binomial_is_exact_up_to_three_seconds(dt, rules):
    """For dt ≤ 3 the 3-term expansion of (1 + x)^dt has no dropped terms."""
    x = 0.5 / SECONDS_PER_YEAR
    assert compounded_interest(0.5, dt, rules) == pytest.approx((1.0 + x) ** dt, rel=1e-15)


def _v2_compounded_interest_ray(rate_ray: int, dt: int) -> int:
    """Aave v2 ``MathUtils.calculateCompoundedInterest`` in integers, as the contract spells it."""
    ray = 10**27
    if dt == 0:
        return ray
    per_second = rate_ray // SECONDS_PER_YEAR
    b2 = (per_second * per_second + ray // 2) // ray  # rayMul: half up
    b3 = (b2 * per_second + ray // 2) // ray
    return ray + per_second * dt + dt * (dt - 1) * b2 // 2 + dt * (dt - 1) * max(dt - 2, 0) * b3 // 6


@pytest.mark.parametrize("apr_bps", [1, 100, 249, 250, 251, 300, 1_000, 5_000, 100_000])
@pytest.mark.parametrize("dt", [1, 12, 3_600, 86_400, SECONDS_PER_YEAR])
def test_v2_series_follows_the_v2_contract(apr_bps, dt):
    """The float series under v2 rules against the contract's integer arithmetic."""
    expected = _v2_compounded_interest_ray(apr_bps * 10**23, dt) / 1e27
    assert compounded_interest(apr_bps / 10_000, dt, "v2") == pytest.approx(expected, rel=1e-15)


def test_v2_rounds_the_cubic_power_half_up_where_v3_0_floors_it():
    """Per second at 3% APR, b3 = (0.03 / SPY)³ is 0.861 ray units: v2 rounds it to 1, v3.0
    floors it to 0. Over a year the cubic term dt³·b3/6 is then 5.227e-6 instead of the series'
    0.03³/6 = 4.5e-6 (v2) or nothing (v3.0). At 10%: 32 against 31 ray units (31.88)."""
    year = SECONDS_PER_YEAR
    cubic_v2 = year * (year - 1) * (year - 2) * 1e-27 / 6
    assert cubic_v2 == pytest.approx(5.2272e-6, rel=1e-4)
    assert compounded_interest(0.03, year, "v2") - compounded_interest(0.03, year, "v3.0") == pytest.approx(
        cubic_v2, rel=1e-6)
    assert compounded_interest(0.10, year, "v2") - compounded_interest(0.10, year, "v3.0") == pytest.approx(
        cubic_v2, rel=1e-3)
    assert round(compounded_interest(0.10, year, "v2"), 7) == 1.1051673
    # below ~2.5% APR both lose the cubic term
    assert compounded_interest(0.02, year, "v2") == pytest.approx(compounded_interest(0.02, year, "v3.0"), rel=1e-15)


def test_v30_series_loses_the_cubic_term_below_the_floor_threshold():
    """v3.0 floors b3 = b2·r/SPY to whole ray units: 0 below ~3.15% APR, so over a year at 3%
    the index misses the cubic term r³/6 of the unfloored series."""
    year = SECONDS_PER_YEAR
    unfloored = 1 + 0.03 + 0.03**2 * (year - 1) / year / 2 + 0.03**3 * (year - 1) * (year - 2) / year**2 / 6
    assert compounded_interest(0.03, year, "v3.0") == pytest.approx(unfloored - 0.03**3 / 6, rel=1e-9)
    assert compounded_interest(0.03, year) == pytest.approx(1 + 0.03 + 0.03**2 / 2 + 0.03**3 / 6, rel=1e-15)


def test_index_growth_takes_arrays_and_orders_linear_compounded_exp():
    dt = np.array([12, 3_600, 86_400, SECONDS_PER_YEAR])
    lin, cmp = linear_interest(0.3, dt), compounded_interest(0.3, dt)
    assert isinstance(lin, np.ndarray) and lin.shape == (4,)
    assert np.all(lin <= cmp) and np.all(cmp <= np.exp(0.3 * dt / SECONDS_PER_YEAR))
    with pytest.raises(ValueError, match="dt_s"):
        compounded_interest(0.1, -1)


def test_accrue_reserve_closed_form_and_no_op_cases():
    a = accrue_reserve(1.02, 1.05, 100.0, 0.03, 0.05, 0.2, 86_400)
    assert a.liquidity_index == pytest.approx(1.02 * (1 + 0.03 * 86_400 / SECONDS_PER_YEAR), rel=1e-15)
    assert a.variable_borrow_index == pytest.approx(1.05 * compounded_interest(0.05, 86_400), rel=1e-15)
    assert a.treasury_scaled == pytest.approx(100.0 * (a.variable_borrow_index - 1.05) * 0.2 / a.liquidity_index, rel=1e-12)
    assert accrue_reserve(1.02, 1.05, 100.0, 0.03, 0.05, 0.2, 0) == (1.02, 1.05, 0.0)
    # no scaled debt: the borrow index stays; zero supply rate: the supply index stays
    assert accrue_reserve(1.02, 1.05, 0.0, 0.0, 0.05, 0.2, 3_600) == (1.02, 1.05, 0.0)


def test_interest_is_conserved_to_first_order():
    """Over one block, borrowers' interest = suppliers' interest + treasury share (Us = U)."""
    debt, cash, rf, dt = 800.0, 200.0, 0.15, 12
    u = usage_ratio(debt, cash)
    rb = borrow_rate(u, **STRATEGY)
    rs = supply_rate(rb, u, rf)
    a = accrue_reserve(1.0, 1.0, debt, rs, rb, rf, dt)
    paid_by_borrowers = debt * (a.variable_borrow_index - 1.0)
    earned_by_suppliers = (debt + cash) * (a.liquidity_index - 1.0)
    to_treasury = a.treasury_scaled * a.liquidity_index
    assert earned_by_suppliers + to_treasury == pytest.approx(paid_by_borrowers, rel=1e-6)


# --------------------------------------------------------------------------------------------
# Hypothesis: twins and invariants
# --------------------------------------------------------------------------------------------
NEAR_095 = [0.95, float(np.nextafter(0.95, 0.0)), float(np.nextafter(0.95, 1.0))]
NEAR_1 = [1.0, float(np.nextafter(1.0, 0.0))]
amount = st.sampled_from([0.0, 1e-12, 1.0, 1_000.0, 2_000.0, 15_000.0]) | st.floats(0.0, 1e7)
price = st.sampled_from([1.0, 0.5, 2.0, 1_800.0]) | st.floats(1e-3, 1e5)
hf_values = st.sampled_from(NEAR_095 + NEAR_1 + [0.0, math.inf]) | st.floats(0.0, 1.2)
bonus = st.sampled_from([0.0, 0.01, 0.05]) | st.floats(0.0, 0.25)
fee_share = st.sampled_from([0.0, 0.1, 1.0]) | st.floats(0.0, 1.0)
cover = st.sampled_from([math.inf, 0.0, 500.0, 7_500.0, 15_000.0]) | st.floats(0.0, 1e7)
other_usd = st.sampled_from([0.0, 0.0, 1_000.0]) | st.floats(0.0, 1e7)
pair = st.tuples(amount, amount, price, price, hf_values, bonus, fee_share, cover, other_usd, other_usd)


def _assert_twins_agree(cols, rules):
    """Every element of liquidation_calls equals liquidation_call on that row, bit for bit (v2
    rows get a zero fee share: v2 has none)."""
    if rules == "v2":
        cols = [*cols[:6], np.zeros_like(cols[6]), *cols[7:]]
    vec = liquidation_calls(*cols[:8], other_collateral_usd=cols[8], other_debt_usd=cols[9], rules=rules)
    for i, r in enumerate(zip(*(c.tolist() for c in cols))):
        one = liquidation_call(*r[:8], other_collateral_usd=r[8], other_debt_usd=r[9], rules=rules)
        assert vec.revert[i] == one.revert, (r, one)
        assert bool(vec.no_collateral_left[i]) == one.no_collateral_left
        for field in ("debt_repaid", "collateral_seized", "liquidator_collateral", "protocol_fee_collateral", "deficit"):
            assert getattr(vec, field)[i] == getattr(one, field), (field, r, one)


@given(st.lists(pair, min_size=1, max_size=8), st.sampled_from(["v3.3", "v3.0", "v2"]))
@settings(max_examples=80, deadline=None)
def test_liquidation_twins_agree_exactly(rows, rules):
    _assert_twins_agree([np.array(c, dtype=np.float64) for c in zip(*rows)], rules)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rules", ["v3.3", "v3.0", "v2"])
def test_liquidation_twins_agree_on_a_large_table(seed, rules):
    """1,000 rows per seed mixing continuous draws with the edge values (zeros, dust, HF at 0.95
    and 1, reserves at $2,000, leftovers at $1,000 (debt 2,000 − cover 1,000), infinite cover)."""
    rng = np.random.default_rng(seed)
    n = 1_000

    def mix(continuous, specials):
        return np.where(rng.random(n) < 0.3, rng.choice(specials, n), continuous)

    cols = [
        mix(rng.lognormal(5, 3, n), [0.0, 1e-12, 1.0, 2_000.0, 15_000.0]),     # collateral
        mix(rng.lognormal(6, 3, n), [0.0, 1e-12, 1_000.0, 2_000.0]),           # debt
        mix(rng.lognormal(2, 3, n), [1.0, 1_800.0]),                          # collateral price
        mix(rng.lognormal(0, 2, n), [1.0, 0.5]),                              # debt price
        mix(rng.uniform(0, 1.2, n), NEAR_095 + NEAR_1 + [0.0, np.inf]),       # hf
        mix(rng.uniform(0, 0.2, n), [0.0, 0.05]),                             # bonus
        mix(rng.uniform(0, 1, n), [0.0, 0.1, 1.0]),                           # protocol fee share
        mix(rng.lognormal(6, 3, n), [np.inf, 0.0, 1_000.0]),                  # debt to cover
        mix(rng.lognormal(6, 3, n), [0.0]),                                   # other collateral
        mix(rng.lognormal(6, 3, n), [0.0, 2_000.0]),                          # other debt
    ]
    _assert_twins_agree(cols, rules)


@given(
    st.lists(st.tuples(st.integers(1, 4), st.sampled_from([0.0, 1.0, 3.5]) | st.floats(0.0, 1e6),
                       st.sampled_from([0.0, 2.0]) | st.floats(0.0, 1e6), st.floats(1e-2, 1e4), st.floats(0.0, 0.97)),
             min_size=1, max_size=12),
)
@settings(max_examples=50, deadline=None)
def test_health_factor_twins_agree(rows):
    """Accounts × 4 reserves, entries zeroed by the first draw, including all-zero debt rows."""
    n = len(rows)
    coll, debt = np.zeros((n, 4)), np.zeros((n, 4))
    prices = np.array([r[3] for r in rows[:4]] + [1.0] * (4 - min(n, 4)))
    lts = np.array([r[4] for r in rows[:4]] + [0.8] * (4 - min(n, 4)))
    for i, (k, c, d, _, _) in enumerate(rows):
        coll[i, :k] = c
        debt[i, k - 1 :] = d
    vec = health_factors(coll, debt, prices, lts)
    one = [health_factor(coll[i].tolist(), debt[i].tolist(), prices.tolist(), lts.tolist()) for i in range(n)]
    np.testing.assert_allclose(vec, one, rtol=1e-12)
    assert np.array_equal(np.isinf(vec), np.isinf(one))


# A consistent account: collateral X (liquidated), other collateral Y, debt Z (repaid), other debt W.
@st.composite
def accounts(draw):
    lt_x = draw(st.floats(0.3, 0.95))
    # the configurator's rule lt × (1 + bonus) ≤ 1 (params.py), bonus at least 0.5%
    b = draw(st.sampled_from([0.01, 0.05]) | st.floats(0.005, min(0.25, 1.0 / lt_x - 1.0)))
    cx = draw(st.sampled_from([1e-9, 1.0, 10.0]) | st.floats(1e-6, 1e5))
    px = draw(st.sampled_from([1.0, 1_800.0]) | st.floats(1e-2, 1e5))
    other_c = draw(st.sampled_from([0.0, 0.0, 500.0]) | st.floats(0.0, 1e6))  # USD, LT 0.8
    pz = draw(st.sampled_from([1.0, 2_000.0]) | st.floats(1e-2, 1e4))
    target = draw(st.sampled_from(NEAR_095 + [0.5, 0.85, 0.99]) | st.floats(0.2, 1.1))  # HF aimed at
    total_debt_usd = (cx * px * lt_x + other_c * 0.8) / target
    other_d = total_debt_usd * draw(st.sampled_from([0.0, 0.0, 0.5]) | st.floats(0.0, 0.95))  # USD
    dz = (total_debt_usd - other_d) / pz
    assume(dz > 0.0)
    return dict(lt_x=lt_x, bonus=b, cx=cx, px=px, other_c=other_c, other_d=other_d, pz=pz, dz=dz,
                fee=draw(fee_share), cover=draw(st.sampled_from([math.inf, 0.0]) | st.floats(0.0, 2.0).map(lambda f: f * dz)))


def _hf(cx, dz, a, other_d):
    # reserves: X, Y (other collateral at $1), Z, W (other debt at $1)
    return health_factor([cx, a["other_c"], 0.0, 0.0], [0.0, 0.0, dz, other_d], [a["px"], 1.0, a["pz"], 1.0], [a["lt_x"], 0.8, 0.0, 0.0])


@given(accounts(), st.sampled_from(["v3.3", "v3.0", "v2"]))
@settings(max_examples=200, deadline=None)
def test_liquidation_invariants(a, rules):
    if rules == "v2":  # no protocol fee in v2
        a = {**a, "fee": 0.0}
    hf = _hf(a["cx"], a["dz"], a, a["other_d"])
    out = liquidation_call(a["cx"], a["dz"], a["px"], a["pz"], hf, a["bonus"], a["fee"], a["cover"],
                           other_collateral_usd=a["other_c"], other_debt_usd=a["other_d"], rules=rules)
    if hf >= 1.0:
        assert out.revert == HEALTH_FACTOR_NOT_BELOW_THRESHOLD
        return
    if not out.ok:
        assert out.revert == MUST_NOT_LEAVE_DUST and rules == "v3.3"
        return
    lb = 1.0 + a["bonus"]
    # never more collateral than the account has, never more debt than owed or offered
    assert 0.0 <= out.collateral_seized <= a["cx"]
    assert 0.0 <= out.debt_repaid <= min(a["dz"], a["cover"])
    # the seized collateral splits into liquidator + treasury; the fee is a share of the bonus part
    assert out.liquidator_collateral + out.protocol_fee_collateral == pytest.approx(out.collateral_seized, rel=1e-12, abs=1e-300)
    assert out.protocol_fee_collateral == pytest.approx(a["fee"] * out.collateral_seized * a["bonus"] / lb, rel=1e-9, abs=1e-300)
    # seized value = repaid value × (1 + bonus)
    assert out.collateral_seized * a["px"] == pytest.approx(out.debt_repaid * a["pz"] * lb, rel=1e-9, abs=1e-300)
    # deficit only when collateral is exhausted, only under v3.3, and then it is the whole rest
    if out.deficit > 0.0:
        assert out.no_collateral_left and rules == "v3.3"
    if out.no_collateral_left:
        assert out.collateral_seized == a["cx"] and a["other_c"] == 0.0
        if rules == "v3.3":
            assert out.deficit == a["dz"] - out.debt_repaid
    # close factor
    if hf > 0.95 and rules == "v3.0":
        assert out.debt_repaid <= 0.5 * a["dz"]
    if rules == "v2":  # half of the reserve at most, at any HF; as much of it as asked or the collateral allows
        assert out.debt_repaid <= 0.5 * a["dz"] and out.liquidator_collateral == out.collateral_seized
        if a["cover"] == math.inf:
            assert out.debt_repaid == 0.5 * a["dz"] or out.collateral_seized == a["cx"]
    if rules == "v3.3":
        if hf > 0.95 and a["cx"] * a["px"] >= 2_000.0 and a["dz"] * a["pz"] >= 2_000.0:
            # at most half of the account's total debt, in USD
            assert out.debt_repaid * a["pz"] <= 0.5 * (a["dz"] * a["pz"] + a["other_d"]) * (1 + 1e-12)
        elif a["cover"] == math.inf:
            # otherwise everything is liquidatable: the debt is cleared or the collateral runs out
            assert out.debt_repaid == a["dz"] or out.collateral_seized == a["cx"]
    # leftover rule
    partial = out.debt_repaid < a["dz"] and out.collateral_seized < a["cx"]
    if rules == "v3.3" and partial:
        assert (a["dz"] - out.debt_repaid) * a["pz"] >= 1_000.0
        assert (a["cx"] - out.collateral_seized) * a["px"] >= 1_000.0
    # HF after, recomputed from the balances
    cx_after = a["cx"] - out.collateral_seized
    if out.no_collateral_left and rules == "v3.3":  # every debt burned into deficit
        hf_after = _hf(cx_after, 0.0, a, 0.0)
        assert hf_after == math.inf
        return
    hf_after = _hf(cx_after, a["dz"] - out.debt_repaid, a, a["other_d"])
    if out.no_collateral_left or out.debt_repaid == 0.0:
        return
    # A liquidation raises HF exactly when HF > LT_x · (1 + bonus): each $ of debt repaid removes
    # LT_x · (1 + bonus) $ of weighted collateral (the algebra: see test_liquidation_can_lower_hf).
    kink = a["lt_x"] * lb
    if hf > kink * (1 + 1e-9):
        assert hf_after >= hf * (1 - 1e-9)
    elif hf < kink * (1 - 1e-9):
        assert hf_after <= hf * (1 + 1e-9)


def test_liquidation_can_lower_hf_without_exhausting_collateral():
    """The invariant "HF after ≥ HF before unless the collateral runs out" holds only when
    HF ≥ LT · (1 + bonus). With LT 95% and a 5% bonus (allowed: 0.95 × 1.05 ≤ 1) a position at
    HF 0.96 gets the 50% close factor and ends at HF ≈ 0.9225, collateral left.

    After repaying r (USD): HF' = (C·LT − r·LB·LT) / (D − r) ≥ C·LT/D  ⇔  C·LT/D ≥ LB·LT.
    """
    lt, bonus, collateral = 0.95, 0.05, 10_000.0
    debt = collateral * lt / 0.96
    hf = health_factor([collateral, 0.0], [0.0, debt], [1.0, 1.0], [lt, 0.0])
    out = liquidation_call(collateral, debt, 1.0, 1.0, hf, bonus, 0.1)
    assert out.ok and out.debt_repaid == pytest.approx(debt / 2, rel=1e-15) and not out.no_collateral_left
    hf_after = health_factor([collateral - out.collateral_seized, 0.0], [0.0, debt - out.debt_repaid], [1.0, 1.0], [lt, 0.0])
    assert hf_after == pytest.approx((collateral - debt / 2 * 1.05) * lt / (debt / 2), rel=1e-12)
    assert hf_after < hf


def test_outcome_fields_and_vector_shapes():
    assert LiquidationOutcome._fields == (
        "debt_repaid", "collateral_seized", "liquidator_collateral", "protocol_fee_collateral",
        "deficit", "revert", "no_collateral_left",
    )
    out = liquidation_calls([10.0, 0.0], 15_000.0, 1_800.0, 1.0, [0.996, 0.5], BONUS, PROTOCOL_FEE)
    assert out.debt_repaid.shape == (2,) and out.revert.tolist() == ["", COLLATERAL_CANNOT_BE_LIQUIDATED]
    assert out.ok.tolist() == [True, False]
