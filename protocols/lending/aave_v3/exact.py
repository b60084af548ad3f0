"""Aave v3 math in exact integers, rounded exactly as the contracts round (Aave `WadRayMath.sol` and `PercentageMath.sol`: half-up rounding; Aave v3 (aave-dao/aave-v3-origin)).

The exact reference path: Python integers, no floats, one scalar function per contract
routine, for two rule sets (``version``):

- ``"v3.0"``: aave-v3-core 1.19 (``@aave/core-v3``), the 2022–2024 mainnet logic: every WAD, RAY
  and percentage product and quotient rounds half up; compounding by the binomial terms; close
  factor 50% above HF 0.95 on the debt reserve; no deficit.
- ``"v3.6"``: aave-v3-origin 3.6 (``@aave-dao/aave-v3-origin``), mainnet today: v3.3 liquidation
  rules (close factor on total debt, $2,000 / $1,000 dust thresholds, deficit), v3.5 rounding
  (balances round in the protocol's favour: collateral down, debt up), compounding by
  ``1 + x + x²/2 + x³/6``, and the HF computed without flooring the average threshold.

Units are the contracts': raw token amounts (``10**decimals`` per token), base currency USD·1e8,
rays (1e27) for indices and annual rates, wads (1e18) for the health factor, bps (1e4 = 100%)
for risk parameters. Functions here never see a float. The conversions from the engine's params
(fractions, ``liquidation_bonus = 0.05`` ↔ ``10500``, milliseconds ↔ seconds) are tabulated in
docs/reference.md, "Contract units"; the rule names against contract versions in "Aave rule versions".

The float64 engine path (:mod:`.math`) is checked against these functions, and these against the
real contracts executed in an EVM (``tests/evm``, ``docs/fidelity.md``).

References: ``MathUtils.sol``, ``WadRayMath.sol``, ``PercentageMath.sol``, ``TokenMath.sol`` (v3.6),
``ReserveLogic.sol``, ``GenericLogic.sol``, ``LiquidationLogic.sol``, ``ValidationLogic.sol``,
``DefaultReserveInterestRateStrategy.sol`` (v3.0) and ``…StrategyV2.sol`` (v3.6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .replay import MAX_UINT256, VERSIONS

__all__ = [
    "check_version",
    "WAD", "RAY", "PERCENTAGE_FACTOR", "SECONDS_PER_YEAR",
    "HEALTH_FACTOR_LIQUIDATION_THRESHOLD", "CLOSE_FACTOR_HF_THRESHOLD", "DEFAULT_LIQUIDATION_CLOSE_FACTOR",
    "MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD", "MIN_LEFTOVER_BASE",
    "wad_mul", "wad_div", "ray_mul", "ray_div", "percent_mul", "percent_div",
    "ray_mul_floor", "ray_mul_ceil", "ray_div_floor", "ray_div_ceil", "percent_div_ceil", "mul_div_ceil",
    "a_token_balance", "debt_token_balance", "a_token_scaled_mint", "a_token_scaled_burn", "debt_token_scaled_mint",
    "debt_token_scaled_burn",
    "linear_interest_exact", "compounded_interest_exact", "interest_rates_exact",
    "value_in_base", "account_data_exact", "health_factor_exact", "AccountTotals", "CollateralPosition",
    "DebtPosition",
    "LiquidationExact", "liquidation_call_exact",
]

WAD = 10**18
RAY = 10**27
PERCENTAGE_FACTOR = 10_000
#: ``365 days`` (Aave `MathUtils.sol`: `SECONDS_PER_YEAR = 365 days`).
SECONDS_PER_YEAR = 31_536_000
#: Liquidatable below 1.0 (wad).
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = WAD
#: ``0.95e18``: at or below it the close factor is 100% (Aave v3 `LiquidationLogic.executeLiquidationCall`).
CLOSE_FACTOR_HF_THRESHOLD = 95 * WAD // 100
#: ``0.5e4`` bps (Aave v3 `LiquidationLogic.executeLiquidationCall`).
DEFAULT_LIQUIDATION_CLOSE_FACTOR = 5_000
#: ``2000e8``: USD 2,000 in base units (v3.3+, Aave v3 `LiquidationLogic.executeLiquidationCall`).
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD = 2_000 * 10**8
#: ``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD / 2``: USD 1,000 (v3.3+, Aave v3 `LiquidationLogic.executeLiquidationCall` step 5).
MIN_LEFTOVER_BASE = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD // 2


def check_version(version: str) -> None:
    """Raise ``ValueError`` unless ``version`` is one of :data:`~.replay.VERSIONS`."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")


# ----------------------------------------------------------------------------------------------
# Rounding primitives (Aave `WadRayMath.sol` and `PercentageMath.sol`: half-up rounding). Solidity reverts on division by zero; so do these (ZeroDivisionError).
# ----------------------------------------------------------------------------------------------
def _half_up_mul(a: int, b: int, scale: int) -> int:
    return (a * b + scale // 2) // scale


def _half_up_div(a: int, b: int, scale: int) -> int:
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return (a * scale + b // 2) // b


def _ceil_div(n: int, d: int) -> int:
    return -(-n // d)


def wad_mul(a: int, b: int) -> int:
    """``WadRayMath.wadMul``: ``a·b / 1e18`` rounded half up."""
    return _half_up_mul(a, b, WAD)


def wad_div(a: int, b: int) -> int:
    """``WadRayMath.wadDiv``: ``a·1e18 / b`` rounded half up."""
    return _half_up_div(a, b, WAD)


def ray_mul(a: int, b: int) -> int:
    """``WadRayMath.rayMul``: ``a·b / 1e27`` rounded half up.

    >>> ray_mul(3, RAY // 2), ray_mul(1, RAY // 2), ray_mul(1, RAY // 2 - 1)
    (2, 1, 0)
    """
    return _half_up_mul(a, b, RAY)


def ray_div(a: int, b: int) -> int:
    """``WadRayMath.rayDiv``: ``a·1e27 / b`` rounded half up."""
    return _half_up_div(a, b, RAY)


def percent_mul(value: int, bps: int) -> int:
    """``PercentageMath.percentMul``: ``value·bps / 1e4`` rounded half up.

    >>> percent_mul(15_000, 5_000), percent_mul(1, 5_000), percent_mul(1, 4_999)
    (7500, 1, 0)
    """
    return _half_up_mul(value, bps, PERCENTAGE_FACTOR)


def percent_div(value: int, bps: int) -> int:
    """``PercentageMath.percentDiv``: ``value·1e4 / bps`` rounded half up."""
    return _half_up_div(value, bps, PERCENTAGE_FACTOR)


def ray_mul_floor(a: int, b: int) -> int:
    """``rayMulFloor`` (v3.5+)."""
    return a * b // RAY


def ray_mul_ceil(a: int, b: int) -> int:
    """``rayMulCeil`` (v3.5+)."""
    return _ceil_div(a * b, RAY)


def ray_div_floor(a: int, b: int) -> int:
    """``rayDivFloor`` (v3.5+)."""
    return a * RAY // b


def ray_div_ceil(a: int, b: int) -> int:
    """``rayDivCeil`` (v3.5+)."""
    return _ceil_div(a * RAY, b)


def percent_div_ceil(value: int, bps: int) -> int:
    """``percentDivCeil`` (v3.5+)."""
    return _ceil_div(value * PERCENTAGE_FACTOR, bps)


def mul_div_ceil(a: int, b: int, c: int) -> int:
    """``MathUtils.mulDivCeil`` (v3.5+): ``a·b / c`` rounded up."""
    return _ceil_div(a * b, c)


# ----------------------------------------------------------------------------------------------
# Scaled balances (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`). v3.0 rounds every conversion half up; v3.5+ ``TokenMath`` rounds for the
# protocol: aToken mint and balance down, aToken burn and transfer up; debt mint and balance up,
# debt burn down.
# ----------------------------------------------------------------------------------------------
def a_token_balance(version: str, scaled: int, liquidity_index: int) -> int:
    """aToken ``balanceOf``: scaled balance × liquidity index (token units)."""
    return ray_mul(scaled, liquidity_index) if version == "v3.0" else ray_mul_floor(scaled, liquidity_index)


def debt_token_balance(version: str, scaled: int, borrow_index: int) -> int:
    """Variable-debt ``balanceOf``: scaled debt × variable borrow index (token units)."""
    return ray_mul(scaled, borrow_index) if version == "v3.0" else ray_mul_ceil(scaled, borrow_index)


def a_token_scaled_mint(version: str, amount: int, liquidity_index: int) -> int:
    """Scaled aTokens minted for ``amount`` supplied."""
    return ray_div(amount, liquidity_index) if version == "v3.0" else ray_div_floor(amount, liquidity_index)


def a_token_scaled_burn(version: str, amount: int, liquidity_index: int) -> int:
    """Scaled aTokens burned (or moved, on liquidation) for ``amount``."""
    return ray_div(amount, liquidity_index) if version == "v3.0" else ray_div_ceil(amount, liquidity_index)


def debt_token_scaled_mint(version: str, amount: int, borrow_index: int) -> int:
    """Scaled debt minted for ``amount`` borrowed."""
    return ray_div(amount, borrow_index) if version == "v3.0" else ray_div_ceil(amount, borrow_index)


def debt_token_scaled_burn(version: str, amount: int, borrow_index: int) -> int:
    """Scaled debt burned for ``amount`` repaid."""
    return ray_div(amount, borrow_index) if version == "v3.0" else ray_div_floor(amount, borrow_index)


# ----------------------------------------------------------------------------------------------
# Interest (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`)
# ----------------------------------------------------------------------------------------------
def linear_interest_exact(rate: int, dt_s: int) -> int:
    """``MathUtils.calculateLinearInterest``: ``RAY + rate·dt / SECONDS_PER_YEAR`` (floored).

    Parameters
    ----------
    rate : int
        Annual supply rate (ray).
    dt_s : int
        Seconds since the last update.

    Examples
    --------
    10% simple for a year (worked example):

    >>> linear_interest_exact(RAY // 10, SECONDS_PER_YEAR) == RAY * 11 // 10
    True
    """
    return RAY + rate * dt_s // SECONDS_PER_YEAR


def compounded_interest_exact(version: str, rate: int, dt_s: int) -> int:
    """``MathUtils.calculateCompoundedInterest``: the borrow index growth over ``dt_s`` (ray).

    - v3.0: the binomial expansion of ``(1 + r/SPY)^dt`` to three terms,
      ``1 + r·dt/SPY + dt(dt−1)·b2/2 + dt(dt−1)(dt−2)·b3/6`` with
      ``b2 = rayMul(r, r)/SPY²`` and ``b3 = rayMul(b2, r)/SPY`` (each floored).
    - v3.6: the Taylor expansion of ``exp(x)`` with ``x = r·dt/SPY`` (floored):
      ``1 + x + rayMul(x, x/2 + rayMul(x, x/6))``.

    Examples
    --------
    One year at 10%: worked example gives ×1.1051667 for the three terms (``exp``: ×1.1051709). v3.6
    gets it; v3.0 floors ``b3`` to 31 ray units per second³ (from 31.88), which takes 2.8% off
    the cubic term:

    >>> [round(compounded_interest_exact(v, RAY // 10, SECONDS_PER_YEAR) / RAY, 7) for v in ("v3.0", "v3.6")]
    [1.105162, 1.1051667]
    """
    check_version(version)
    if dt_s == 0:
        return RAY
    if version == "v3.6":
        x = rate * dt_s // SECONDS_PER_YEAR
        return RAY + x + ray_mul(x, x // 2 + ray_mul(x, x // 6))
    exp_minus_one = dt_s - 1
    exp_minus_two = dt_s - 2 if dt_s > 2 else 0
    base_power_two = ray_mul(rate, rate) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    base_power_three = ray_mul(base_power_two, rate) // SECONDS_PER_YEAR
    second_term = dt_s * exp_minus_one * base_power_two // 2
    third_term = dt_s * exp_minus_one * exp_minus_two * base_power_three // 6
    return RAY + rate * dt_s // SECONDS_PER_YEAR + second_term + third_term


def interest_rates_exact(
    version: str,
    total_debt: int,
    available_liquidity: int,
    unbacked: int,
    reserve_factor: int,
    optimal_usage: int,
    base_rate: int,
    slope1: int,
    slope2: int,
) -> tuple[int, int]:
    """``calculateInterestRates`` of the kinked strategy: ``(liquidityRate, variableBorrowRate)``.

    Parameters
    ----------
    version : {"v3.0", "v3.6"}
    total_debt : int
        Total variable debt after the action (token units; ``scaledTotal × index``).
    available_liquidity : int
        Cash after the action (v3.0: the aToken's underlying balance; v3.6: the virtual balance),
        ``+ liquidityAdded − liquidityTaken`` already applied (token units).
    unbacked : int
        Added to the supply-usage denominator only (v3.6 passes the reserve's ``deficit``).
    reserve_factor : int
        bps.
    optimal_usage, base_rate, slope1, slope2 : int
        The curve in bps (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`), turned into rays as ``bps × 1e23``.

    Returns
    -------
    tuple of int
        Annual rates in ray. Under v3.0 the supply rate goes through ``_getOverallBorrowRate``,
        whose wad-to-ray round trip can move it by a ray unit.

    Examples
    --------
    worked example at U = 0.95, U* = 90%, S1 = 2.7%, S2 = 80%, RF = 15%: 42.7% borrow, 34.48% supply.

    >>> liq, var = interest_rates_exact("v3.6", 95, 5, 0, 1_500, 9_000, 0, 270, 8_000)
    >>> var == 427 * RAY // 1000, round(liq / RAY, 7)
    (True, 0.3448025)
    """
    check_version(version)
    to_ray = 10**23
    optimal, r0, s1, s2 = optimal_usage * to_ray, base_rate * to_ray, slope1 * to_ray, slope2 * to_ray
    if total_debt == 0:
        return 0, r0
    plus_debt = available_liquidity + total_debt
    borrow_usage = ray_div(total_debt, plus_debt)
    supply_usage = ray_div(total_debt, plus_debt + unbacked)
    if borrow_usage > optimal:
        excess = ray_div(borrow_usage - optimal, RAY - optimal)
        borrow = r0 + s1 + ray_mul(s2, excess)
    else:
        borrow = r0 + ray_div(ray_mul(s1, borrow_usage), optimal)
    overall = borrow
    if version == "v3.0":  # _getOverallBorrowRate with no stable debt
        debt_ray = total_debt * 10**9
        overall = ray_div(ray_mul(debt_ray, borrow), debt_ray)
    liquidity = percent_mul(ray_mul(overall, supply_usage), PERCENTAGE_FACTOR - reserve_factor)
    return liquidity, borrow


# ----------------------------------------------------------------------------------------------
# Account data and health factor (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt)
# ----------------------------------------------------------------------------------------------
def value_in_base(version: str, amount: int, price: int, decimals: int, *, debt: bool) -> int:
    """A balance in base currency (USD·1e8): ``amount·price / 10**decimals``, floored, except
    debt under v3.6, which rounds up (``mulDivCeil``)."""
    if debt and version == "v3.6":
        return mul_div_ceil(amount, price, 10**decimals)
    return amount * price // 10**decimals


@dataclass(frozen=True)
class CollateralPosition:
    """One reserve the account uses as collateral: its aToken balance (token units), the oracle
    price (USD·1e8), the token decimals, and the LTV and liquidation threshold that apply (bps)."""

    balance: int
    price: int
    decimals: int
    liquidation_threshold: int
    ltv: int = 0


@dataclass(frozen=True)
class DebtPosition:
    """One reserve the account borrows: its variable-debt balance (token units), price, decimals."""

    balance: int
    price: int
    decimals: int


class AccountTotals(NamedTuple):
    """``calculateUserAccountData``: totals in base currency (USD·1e8), the average LTV (bps) and
    the health factor (wad; ``2**256 − 1`` without debt)."""

    total_collateral_base: int
    total_debt_base: int
    ltv: int
    health_factor: int


def account_data_exact(version: str, collateral: list[CollateralPosition], debt: list[DebtPosition]) -> AccountTotals:
    """``GenericLogic.calculateUserAccountData`` (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt).

    Pass only the collateral the account has enabled and the reserves it borrows (the user
    configuration's flags); v3.0 also skips collateral with LT 0.

    - Collateral values are floored, debt values floored (v3.0) or rounded up (v3.6).
    - Average LTV: ``Σ base_i·LTV_i // Σ base_i``.
    - v3.0: ``avgLT = Σ base_i·LT_i // Σ base_i`` (floored), ``HF = wadDiv(percentMul(Σ base,
      avgLT), totalDebtBase)``; v3.6: ``HF = wadDiv(Σ base_i·LT_i, totalDebtBase) // 1e4`` (no
      floor of the average).

    Examples
    --------
    worked example A: 10 WETH at $1,800 (LTV 80.5%, LT 83%) against 15,000 USDC: HF 0.996.

    >>> weth = CollateralPosition(10 * 10**18, 1_800 * 10**8, 18, 8_300, 8_050)
    >>> usdc = DebtPosition(15_000 * 10**6, 10**8, 6)
    >>> account_data_exact("v3.0", [weth], [usdc]) == (18_000 * 10**8, 15_000 * 10**8, 8_050, 996 * 10**15)
    True
    """
    check_version(version)
    total_collateral = weighted_lt = weighted_ltv = 0
    for c in collateral:
        if version == "v3.0" and c.liquidation_threshold == 0:
            continue
        base = value_in_base(version, c.balance, c.price, c.decimals, debt=False)
        total_collateral += base
        weighted_lt += base * c.liquidation_threshold
        weighted_ltv += base * c.ltv
    total_debt = sum(value_in_base(version, d.balance, d.price, d.decimals, debt=True) for d in debt)
    ltv = weighted_ltv // total_collateral if total_collateral else 0
    if total_debt == 0:
        hf = MAX_UINT256
    elif version == "v3.6":
        hf = wad_div(weighted_lt, total_debt) // PERCENTAGE_FACTOR
    else:
        avg_lt = weighted_lt // total_collateral if total_collateral else 0
        hf = wad_div(percent_mul(total_collateral, avg_lt), total_debt)
    return AccountTotals(total_collateral, total_debt, ltv, hf)


def health_factor_exact(version: str, collateral: list[CollateralPosition], debt: list[DebtPosition]) -> int:
    """The health factor (wad) of :func:`account_data_exact`.

    >>> weth = CollateralPosition(10 * 10**18, 1_700 * 10**8, 18, 8_300)
    >>> health_factor_exact("v3.6", [weth], [DebtPosition(15_000 * 10**6, 10**8, 6)])
    940666666666666666
    """
    return account_data_exact(version, collateral, debt).health_factor


# ----------------------------------------------------------------------------------------------
# liquidationCall (Aave v3 `LiquidationLogic.executeLiquidationCall`)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiquidationExact:
    """Outcome of :func:`liquidation_call_exact` (token units). ``revert`` is the contract's error
    name, ``""`` on success (then the amounts are what the call moves):

    ``debt_repaid``: debt the liquidator pays; ``collateral_seized``: collateral leaving the
    account before the protocol fee's rounding cap (liquidator + fee); ``liquidator_collateral``:
    underlying the liquidator receives; ``protocol_fee``: collateral owed to the treasury before
    the scaled cap the pool applies; ``debt_burned``: debt removed from the account in the debt
    reserve (``debt_repaid`` plus, under v3.6 with no collateral left, the rest);
    ``deficit``: the part of ``debt_burned`` booked as reserve deficit; ``no_collateral_left``:
    v3.6's ``hasNoCollateralLeft`` (the other debt reserves are then written off too).
    """

    debt_repaid: int = 0
    collateral_seized: int = 0
    liquidator_collateral: int = 0
    protocol_fee: int = 0
    debt_burned: int = 0
    deficit: int = 0
    no_collateral_left: bool = False
    revert: str = ""


def liquidation_call_exact(
    version: str,
    *,
    health_factor: int,
    total_collateral_base: int,
    total_debt_base: int,
    collateral_enabled: bool,
    collateral_balance: int,
    collateral_price: int,
    collateral_decimals: int,
    debt_balance: int,
    debt_price: int,
    debt_decimals: int,
    liquidation_bonus: int,
    protocol_fee: int,
    debt_to_cover: int,
    borrow_index: int,
    liquidity_index: int,
) -> LiquidationExact:
    """``LiquidationLogic.executeLiquidationCall``: amounts and revert decision (Aave v3 `LiquidationLogic.executeLiquidationCall`).

    Parameters
    ----------
    version : {"v3.0", "v3.6"}
    health_factor, total_collateral_base, total_debt_base : int
        The account's data before the call (:func:`account_data_exact`, at the indices of now).
    collateral_enabled : bool
        The account uses the collateral reserve as collateral (v3.0 also needs its LT ≠ 0: pass
        ``False`` then).
    collateral_balance, debt_balance : int
        aToken balance in the collateral reserve and variable debt in the debt reserve, now.
    collateral_price, debt_price : int
        Oracle prices (USD·1e8).
    collateral_decimals, debt_decimals : int
    liquidation_bonus : int
        bps, 100% plus the bonus (10500).
    protocol_fee : int
        bps of the bonus part (``liquidationProtocolFee``).
    debt_to_cover : int
        What the liquidator offers (``2**256 − 1``: as much as allowed).
    borrow_index, liquidity_index : int
        The debt reserve's variable borrow index and the collateral reserve's liquidity index now
        (ray): a debt or collateral amount whose scaled value rounds to 0 cannot be burned, and
        the call reverts ``INVALID_BURN_AMOUNT``.

    Returns
    -------
    LiquidationExact

    Notes
    -----
    Checks in the contract's order: HF < 1 (``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``), collateral
    enabled (``COLLATERAL_CANNOT_BE_LIQUIDATED``), debt ≠ 0
    (``SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER``); v3.6 then ``MUST_NOT_LEAVE_DUST``; the token
    burns then revert ``INVALID_BURN_AMOUNT`` on a zero scaled amount.

    Examples
    --------
    worked example A (10 WETH at $1,800, 15,000 USDC, bonus 5%, fee 10% of the bonus): 7,500 USDC
    repaid for 4.375 WETH, less one wei (the base collateral 4.1666… WETH is floored first):

    >>> out = liquidation_call_exact("v3.6", health_factor=996 * 10**15, total_collateral_base=18_000 * 10**8,
    ...     total_debt_base=15_000 * 10**8, collateral_enabled=True, collateral_balance=10 * 10**18,
    ...     collateral_price=1_800 * 10**8, collateral_decimals=18, debt_balance=15_000 * 10**6,
    ...     debt_price=10**8, debt_decimals=6, liquidation_bonus=10_500, protocol_fee=1_000,
    ...     debt_to_cover=MAX_UINT256, borrow_index=RAY, liquidity_index=RAY)
    >>> out.debt_repaid, out.collateral_seized, out.protocol_fee, out.revert
    (7500000000, 4374999999999999999, 20833333333333333, '')
    """
    check_version(version)
    if health_factor >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        return LiquidationExact(revert="HEALTH_FACTOR_NOT_BELOW_THRESHOLD")
    if not collateral_enabled:
        return LiquidationExact(revert="COLLATERAL_CANNOT_BE_LIQUIDATED")
    if debt_balance == 0:
        return LiquidationExact(revert="SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER")
    collateral_unit, debt_unit = 10**collateral_decimals, 10**debt_decimals

    # close factor
    if version == "v3.0":
        close_factor = DEFAULT_LIQUIDATION_CLOSE_FACTOR if health_factor > CLOSE_FACTOR_HF_THRESHOLD else PERCENTAGE_FACTOR
        max_debt = percent_mul(debt_balance, close_factor)
    else:
        debt_base = mul_div_ceil(debt_balance, debt_price, debt_unit)
        collateral_base = collateral_balance * collateral_price // collateral_unit
        max_debt = debt_balance
        if (collateral_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD and debt_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
                and health_factor > CLOSE_FACTOR_HF_THRESHOLD):
            cap_base = percent_mul(total_debt_base, DEFAULT_LIQUIDATION_CLOSE_FACTOR)
            if debt_base > cap_base:
                max_debt = cap_base * debt_unit // debt_price
    to_liquidate = min(debt_to_cover, max_debt)

    # collateral for that debt, capped by the balance (_calculateAvailableCollateralToLiquidate)
    base_collateral = debt_price * to_liquidate * collateral_unit // (collateral_price * debt_unit)
    max_collateral = percent_mul(base_collateral, liquidation_bonus)
    if max_collateral > collateral_balance:
        seized = collateral_balance
        value = collateral_price * seized * debt_unit // (debt_price * collateral_unit)
        repaid = percent_div(value, liquidation_bonus) if version == "v3.0" else percent_div_ceil(value, liquidation_bonus)
    else:
        seized, repaid = max_collateral, to_liquidate
    fee = 0
    if protocol_fee:
        fee = percent_mul(seized - percent_div(seized, liquidation_bonus), protocol_fee)
    to_liquidator = seized - fee

    if version == "v3.0":
        if ray_div(repaid, borrow_index) == 0 or ray_div(to_liquidator, liquidity_index) == 0:
            return LiquidationExact(revert="INVALID_BURN_AMOUNT")
        return LiquidationExact(repaid, seized, to_liquidator, fee, repaid, 0, False)

    # v3.6: leftovers, deficit, burns
    if repaid < debt_balance and seized < collateral_balance:
        debt_left_base = mul_div_ceil(debt_balance - repaid, debt_price, debt_unit)
        collateral_left_base = (collateral_balance - seized) * collateral_price // collateral_unit
        if debt_left_base < MIN_LEFTOVER_BASE or collateral_left_base < MIN_LEFTOVER_BASE:
            return LiquidationExact(revert="MUST_NOT_LEAVE_DUST")
    no_collateral_left = total_collateral_base == seized * collateral_price // collateral_unit
    burned = debt_balance if no_collateral_left else repaid
    if ray_div_floor(burned, borrow_index) == 0 or to_liquidator == 0:
        return LiquidationExact(revert="INVALID_BURN_AMOUNT")
    deficit = debt_balance - repaid if no_collateral_left else 0
    return LiquidationExact(repaid, seized, to_liquidator, fee, burned, deficit, no_collateral_left)
