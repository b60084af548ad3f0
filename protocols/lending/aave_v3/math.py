"""Aave v3 lending math: health factor, kinked interest rates, index accrual (``liquidationCall``
is in :mod:`.liquidation`).

Pure float64 free functions: no SimPy, no engine state, no protocol objects (
). Token amounts are whole-token units, values are USD (``_usd``), ratios and annual
rates are plain fractions (0.83, not 8300 bps), elapsed times are integer seconds (``dt_s``).

Every vectorised kernel has a readable scalar twin, and the tests run both on the same inputs:

================================  =============================
scalar (one account or reserve)   vectorised (many)
================================  =============================
:func:`health_factor`             :func:`health_factors`
:func:`usage_ratio`               :func:`usage_ratios`
:func:`borrow_rate`               :func:`borrow_rates`
================================  =============================

:func:`supply_rate`, :func:`linear_interest` and :func:`compounded_interest` are branch-free
arithmetic and take scalars or arrays alike; :func:`accrue_reserve` is scalar (one call per reserve
per block).

The contracts' fixed-point rounding (WAD/RAY half-up, integer division of base-currency values,
bps percentages) is not reproduced: that is the job of the exact-integer reference path
(``*_exact``). Each function cites the public source it implements.

References
----------
Aave `MathUtils.sol`: `SECONDS_PER_YEAR = 365 days`; Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`; worked example.
aave-dao/aave-v3-origin (v3.3): ``LiquidationLogic.sol``, ``ValidationLogic.sol``,
``GenericLogic.sol``, ``ReserveLogic.sol``, ``MathUtils.sol``,
``DefaultReserveInterestRateStrategyV2.sol``; aave/aave-v3-core (v3.0) ``LiquidationLogic.sol``;
aave/protocol-v2 ``contracts/protocol/libraries/math/MathUtils.sol`` (v2 compounding).
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

__all__ = [
    "SECONDS_PER_YEAR",
    "HEALTH_FACTOR_LIQUIDATION_THRESHOLD",
    "RULES",
    "health_factor",
    "health_factors",
    "health_factors_and_debts",
    "row_sums",
    "usage_ratio",
    "usage_ratios",
    "borrow_rate",
    "borrow_rates",
    "supply_rate",
    "linear_interest",
    "compounded_interest",
    "ReserveAccrual",
    "accrue_reserve",
]

#: ``365 days`` in seconds; leap years ignored (Aave `MathUtils.sol`: `SECONDS_PER_YEAR = 365 days`, Aave ``MathUtils``).
SECONDS_PER_YEAR = 31_536_000
_RAY = 1e27
#: A position is liquidatable when its health factor is strictly below this (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt).
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 1.0
#: Liquidation rule sets: ``"v3.3"`` = current mainnet (v3.3 … v3.7), ``"v3.0"`` = v3.0 … v3.2,
#: ``"v2"`` = Aave v2 (``aave/protocol-v2``) (docs/reference.md, "Aave rule versions").
RULES = ("v3.3", "v3.0", "v2")


def _check_rules(rules: str) -> None:
    if rules not in RULES:
        raise ValueError(f"rules must be one of {RULES}, got {rules!r}")


def _scalar_or_array(x: np.ndarray):
    """A Python float for a 0-d result, else the array."""
    return float(x) if np.ndim(x) == 0 else x


# ----------------------------------------------------------------------------------------------
# Health factor (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt)
# ----------------------------------------------------------------------------------------------
def health_factor(
    collateral: Sequence[float],
    debt: Sequence[float],
    price_usd: Sequence[float],
    liquidation_threshold: Sequence[float],
) -> float:
    """Health factor of one account (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt).

    ``HF = Σ_i collateral_i · price_i · LT_i / Σ_j debt_j · price_j``, and ``+inf`` when the
    account has no debt. This is the contract's ``percentMul(Σ collateral_base, avgLT) /
    Σ debt_base`` without its integer rounding (the average LT times the total collateral is the
    LT-weighted sum).

    Parameters
    ----------
    collateral : sequence of float, one per reserve
        The account's collateral balance in each reserve (tokens). Only collateral the account has
        enabled counts, so pass 0 for reserves not enabled as collateral.
    debt : sequence of float, one per reserve
        The account's variable debt in each reserve (tokens).
    price_usd : sequence of float, one per reserve
        Oracle price of each reserve's token (USD per token).
    liquidation_threshold : sequence of float, one per reserve
        Effective liquidation threshold of each reserve for this account (fraction): the e-mode
        category's LT for reserves in the account's e-mode collateral set (Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode), else the
        reserve's. A reserve with LT 0 brings no collateral value.

    Returns
    -------
    float
        The health factor (``inf`` with no debt, ``0.0`` with debt and no collateral).

    See Also
    --------
    health_factors : the vectorised twin (many accounts at once).

    Examples
    --------
    Worked example: 10 WETH at $1,800 with LT 83% against 15,000 USDC.

    >>> round(health_factor([10.0, 0.0], [0.0, 15_000.0], [1_800.0, 1.0], [0.83, 0.78]), 6)
    0.996
    >>> health_factor([10.0], [0.0], [1_800.0], [0.83])
    inf
    """
    collateral_lt_usd = 0.0
    debt_usd = 0.0
    for amount, owed, price, lt in zip(collateral, debt, price_usd, liquidation_threshold, strict=True):
        collateral_lt_usd += amount * price * lt
        debt_usd += owed * price
    if debt_usd <= 0.0:
        return math.inf
    return collateral_lt_usd / debt_usd


def row_sums(values: np.ndarray) -> np.ndarray:
    """Sum of each row of a (rows, columns) matrix, bit for bit what ``values.sum(axis=1)`` gives.

    NumPy adds fewer than 8 columns left to right, one row at a time, which costs ~50 ns a row
    for the 2–5 reserves of a pool; adding whole columns in the same order does the same float
    operations ~30× faster. From 8 columns on NumPy sums pairwise: left to it.

    Examples
    --------
    >>> row_sums(np.array([[1.0, 2.0, 3.0], [0.5, 0.25, 0.0]])).tolist()
    [6.0, 0.75]
    """
    values = np.asarray(values, dtype=np.float64)
    n_cols = values.shape[1]
    if n_cols == 0 or n_cols >= 8:
        return values.sum(axis=1)
    out = values[:, 0].copy()
    for j in range(1, n_cols):
        out += values[:, j]
    return out


def health_factors(collateral, debt, price_usd, liquidation_threshold) -> np.ndarray:
    """Health factors of many accounts at once (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt); twin of :func:`health_factor`.

    Parameters
    ----------
    collateral, debt : array_like, shape (n_accounts, n_reserves)
        Per-account, per-reserve collateral (enabled only) and debt balances (tokens).
    price_usd : array_like, shape (n_reserves,) or (n_accounts, n_reserves)
        Oracle prices (USD per token).
    liquidation_threshold : array_like, shape (n_reserves,) or (n_accounts, n_reserves)
        Effective liquidation thresholds (fractions); a per-account matrix expresses e-mode.

    Returns
    -------
    numpy.ndarray of float64, shape (n_accounts,)
        ``inf`` for accounts without debt. Equal to :func:`health_factor` row by row up to the
        order of the floating-point sums (relative 1e-12).

    Examples
    --------
    >>> hf = health_factors([[10.0, 0.0], [10.0, 0.0], [0.0, 5.0]],
    ...                     [[0.0, 15_000.0], [0.0, 0.0], [1.0, 0.0]],
    ...                     [1_800.0, 1.0], [0.83, 0.78])
    >>> hf.round(6).tolist()
    [0.996, inf, 0.002167]
    """
    return health_factors_and_debts(collateral, debt, price_usd, liquidation_threshold)[0]


def health_factors_and_debts(collateral, debt, price_usd, liquidation_threshold) -> tuple[np.ndarray, np.ndarray]:
    """:func:`health_factors` and each account's total debt (USD, ``Σ debt × price``, the
    denominator of its health factor), from one pass over the balances.

    Examples
    --------
    >>> hf, debt_usd = health_factors_and_debts([[10.0, 0.0]], [[0.0, 15_000.0]], [1_800.0, 1.0], [0.83, 0.78])
    >>> round(float(hf[0]), 6), debt_usd.tolist()
    (0.996, [15000.0])
    """
    collateral = np.asarray(collateral, dtype=np.float64)
    debt = np.asarray(debt, dtype=np.float64)
    if collateral.ndim != 2 or debt.shape != collateral.shape:
        raise ValueError(
            f"collateral and debt must be (n_accounts, n_reserves) matrices of one shape, "
            f"got {collateral.shape} and {debt.shape}"
        )
    price = np.asarray(price_usd, dtype=np.float64)
    lt = np.asarray(liquidation_threshold, dtype=np.float64)
    collateral_lt_usd = row_sums(collateral * price * lt)
    debt_usd = row_sums(debt * price)
    out = np.full(collateral.shape[0], np.inf)
    with np.errstate(over="ignore"):  # a dust debt can give HF = inf, as in the scalar twin
        np.divide(collateral_lt_usd, debt_usd, out=out, where=debt_usd > 0.0)
    return out, debt_usd


# ----------------------------------------------------------------------------------------------
# Interest-rate strategy (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`)
# ----------------------------------------------------------------------------------------------
def usage_ratio(total_debt: float, available_liquidity: float, deficit: float = 0.0) -> float:
    """Usage ratio of a reserve (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`).

    ``U = D / (availableLiquidity + D + deficit)``, and 0 when ``D == 0``. With ``deficit = 0``
    this is the *borrow* usage ``U`` that sets the borrow rate; with the reserve's deficit (plus
    ``unbacked`` up to v3.3) it is the *supply* usage ``Us`` that scales the supply rate.

    Parameters
    ----------
    total_debt : float
        Total variable debt of the reserve, ``scaledDebt × borrowIndex`` (tokens).
    available_liquidity : float
        Cash the reserve holds after the current action (``virtualUnderlyingBalance``; tokens).
    deficit : float, default 0
        Bad debt written off and not yet covered (v3.3+), plus ``unbacked`` (≤ v3.3) (tokens).

    Returns
    -------
    float
        A fraction in [0, 1].

    See Also
    --------
    usage_ratios : the vectorised twin.

    Examples
    --------
    >>> usage_ratio(90.0, 10.0), usage_ratio(90.0, 10.0, deficit=20.0), usage_ratio(0.0, 0.0)
    (0.9, 0.75, 0.0)
    """
    if total_debt <= 0.0:  # a float residue of repaid debt counts as none
        return 0.0
    return total_debt / (available_liquidity + total_debt + deficit)


def usage_ratios(total_debt, available_liquidity, deficit=0.0) -> np.ndarray:
    """Usage ratios of many reserves (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`); twin of :func:`usage_ratio`.

    Examples
    --------
    >>> usage_ratios([90.0, 0.0, 50.0], [10.0, 0.0, 50.0]).tolist()
    [0.9, 0.0, 0.5]
    """
    d, a, x = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (total_debt, available_liquidity, deficit))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        u = d / (a + d + x)
    return np.where(d <= 0.0, 0.0, u)  # a float residue of repaid debt counts as none


def borrow_rate(
    usage: float, optimal_utilization: float, base_rate: float, slope1: float, slope2: float
) -> float:
    """Variable borrow rate of the kinked strategy (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`, ``…StrategyV2``).

    ``R0 + S1 · U / U*`` up to the kink ``U*``, then ``R0 + S1 + S2 · (U − U*) / (1 − U*)``.

    Parameters
    ----------
    usage : float
        Borrow usage ratio ``U`` (fraction; :func:`usage_ratio` without deficit).
    optimal_utilization : float
        Kink ``U*`` (``optimalUsageRatio``; fraction, 0.01 … 0.99 on chain).
    base_rate, slope1, slope2 : float
        ``baseVariableBorrowRate`` R0, ``variableRateSlope1`` S1, ``variableRateSlope2`` S2
        (annual rates as fractions).

    Returns
    -------
    float
        Annual borrow APR as a fraction (compounded per second, see :func:`compounded_interest`).

    See Also
    --------
    borrow_rates : the vectorised twin.
    supply_rate : the supply APR that goes with it.

    Examples
    --------
    Worked example: U = 0.95, U* = 0.9, S1 = 2.7%, S2 = 80%.

    >>> round(borrow_rate(0.95, 0.9, 0.0, 0.027, 0.80), 12)
    0.427
    >>> round(borrow_rate(0.5, 0.9, 0.0, 0.027, 0.80), 12)
    0.015
    """
    if usage <= optimal_utilization:
        return base_rate + slope1 * usage / optimal_utilization
    return base_rate + slope1 + slope2 * (usage - optimal_utilization) / (1.0 - optimal_utilization)


def borrow_rates(usage, optimal_utilization, base_rate, slope1, slope2) -> np.ndarray:
    """Variable borrow rates of many reserves (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`); twin of :func:`borrow_rate`.

    Every argument broadcasts (per-reserve strategies as arrays, or one shared strategy).

    Examples
    --------
    >>> borrow_rates([0.5, 0.9, 1.0], 0.9, 0.0, 0.027, 0.80).round(6).tolist()
    [0.015, 0.027, 0.827]
    """
    u, uo, r0, s1, s2 = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (usage, optimal_utilization, base_rate, slope1, slope2))
    )
    below = r0 + s1 * u / uo
    with np.errstate(divide="ignore", invalid="ignore"):
        above = r0 + s1 + s2 * (u - uo) / (1.0 - uo)
    return np.where(u <= uo, below, above)


def supply_rate(borrow_rate, supply_usage, reserve_factor):
    """Supply (liquidity) rate: the borrowers' interest net of the reserve factor (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`).

    ``supplyRate = borrowRate · Us · (1 − reserveFactor)``; branch-free, so it takes scalars or
    arrays (a Python float for scalar inputs).

    Parameters
    ----------
    borrow_rate : float or array_like
        Annual variable borrow rate (fraction).
    supply_usage : float or array_like
        Supply usage ratio ``Us`` (:func:`usage_ratio` with the deficit).
    reserve_factor : float or array_like
        Share of the interest that goes to the treasury (fraction).

    Returns
    -------
    float or numpy.ndarray
        Annual supply APR (fraction; simple interest between touches, see
        :func:`linear_interest`).

    Examples
    --------
    Worked example: 42.7% borrow at U = Us = 0.95, reserve factor 15%.

    >>> round(supply_rate(0.427, 0.95, 0.15), 7)
    0.3448025
    """
    out = np.asarray(borrow_rate, dtype=np.float64) * supply_usage * (1.0 - np.asarray(reserve_factor, dtype=np.float64))
    return _scalar_or_array(out)


# ----------------------------------------------------------------------------------------------
# Index accrual (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`)
# ----------------------------------------------------------------------------------------------
def _elapsed(dt_s) -> np.ndarray:
    dt = np.asarray(dt_s, dtype=np.float64)  # float: dt·(dt−1)·(dt−2) overflows int64
    if np.any(~(dt >= 0.0)):
        raise ValueError(f"dt_s must be non-negative seconds, got {dt_s!r}")
    return dt


def linear_interest(rate, dt_s):
    """Growth factor of the supply (liquidity) index over ``dt_s`` seconds (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`).

    Simple interest within the interval: ``1 + rate · dt / SECONDS_PER_YEAR`` (Aave
    ``MathUtils.calculateLinearInterest``). Each touch of the reserve compounds it.

    Parameters
    ----------
    rate : float or array_like
        Annual supply rate (fraction).
    dt_s : int or array_like
        Seconds since the last update (non-negative).

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    Supply index at 10% left untouched for a year (worked example):

    >>> linear_interest(0.10, SECONDS_PER_YEAR)
    1.1
    """
    dt = _elapsed(dt_s)
    return _scalar_or_array(1.0 + np.asarray(rate, dtype=np.float64) * dt / SECONDS_PER_YEAR)


def compounded_interest(rate, dt_s, rules: str = "v3.3"):
    """Growth factor of the variable borrow index over ``dt_s`` seconds (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`).

    The contracts' truncated series (Aave ``MathUtils.calculateCompoundedInterest``):

    - ``rules="v3.3"`` (current contracts, v3.6): the Taylor series of ``exp(x)`` with
      ``x = r·dt / SECONDS_PER_YEAR``: ``1 + x + x²/2 + x³/6``.
    - ``rules="v3.0"``: the 3-term binomial expansion of ``(1 + r/SPY)^dt``,
      ``1 + r·dt/SPY + b2·dt(dt−1)/2 + b3·dt(dt−1)(dt−2)/6``, with the contract's per-second
      powers ``b2 = r²/SPY²`` and ``b3 = b2·r/SPY`` **floored to whole ray units (1e-27)**. The
      floor is material: below about 3.15% APR ``b3`` is 0 and the cubic term vanishes (at 3%
      over a year the index is 4.5e-6 lower than the unfloored series; at 10% it loses 2.8% of
      the cubic term).
    - ``rules="v2"`` (Aave v2 ``MathUtils.calculateCompoundedInterest``): the same binomial
      series, but the per-second powers are taken from the floored per-second rate and rounded
      **half up** (``rayMul``): ``b2 = rayMul(r/SPY, r/SPY)``, ``b3 = rayMul(b2, r/SPY)``. So
      ``b3`` is 0 only below about 2.5% APR, and above that it is rounded to the nearest ray
      unit rather than down: at 3% over a year the cubic term is 16% too large instead of
      missing, at 10% the index is 1.1051673 (v3.0: 1.1051620).

    All three slightly under-compound ``exp(r·t)``.

    Parameters
    ----------
    rate : float or array_like
        Annual variable borrow rate (fraction).
    dt_s : int or array_like
        Seconds since the last update (non-negative integers on chain).
    rules : {"v3.3", "v3.0", "v2"}

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    Worked example: 10% APR for one year gives 1.1051667 (``exp(0.1)`` = 1.1051709); the v3.0
    contract's floors give 1.1051620, v2's half-up rounding 1.1051673.

    >>> round(compounded_interest(0.10, SECONDS_PER_YEAR), 7), round(compounded_interest(0.10, SECONDS_PER_YEAR, "v3.0"), 7)
    (1.1051667, 1.105162)
    >>> round(compounded_interest(0.10, SECONDS_PER_YEAR, "v2"), 7)
    1.1051673
    >>> compounded_interest(0.10, 0)
    1.0
    """
    _check_rules(rules)
    dt = _elapsed(dt_s)
    r = np.asarray(rate, dtype=np.float64)
    if rules == "v3.3":
        x = r * dt / SECONDS_PER_YEAR
        return _scalar_or_array(1.0 + x + x * x / 2.0 + x * x * x / 6.0)
    if rules == "v2":
        # ray units per second; the contract floors it, a change of under 1e-18 (below float64's resolution)
        per_second = r * (_RAY / SECONDS_PER_YEAR)
        b2 = np.floor(per_second * per_second / _RAY + 0.5)  # rayMul rounds half up
        b3 = np.floor(b2 * per_second / _RAY + 0.5)
    else:
        b2 = np.floor(r * r * (_RAY / SECONDS_PER_YEAR**2))  # ray units per second squared
        b3 = np.floor(b2 * r / SECONDS_PER_YEAR)
    two = dt * (dt - 1.0)
    three = two * np.maximum(dt - 2.0, 0.0)
    return _scalar_or_array(1.0 + r * dt / SECONDS_PER_YEAR + (two * b2 / 2.0 + three * b3 / 6.0) / _RAY)


class ReserveAccrual(NamedTuple):
    """A reserve's indices after :func:`accrue_reserve`."""

    liquidity_index: float
    """New supply index (aToken balance = scaled balance × index)."""
    variable_borrow_index: float
    """New variable borrow index (debt = scaled debt × index)."""
    treasury_scaled: float
    """Scaled aTokens to add to ``accruedToTreasury`` (the reserve factor's share)."""


def accrue_reserve(
    liquidity_index: float,
    variable_borrow_index: float,
    scaled_variable_debt: float,
    supply_rate: float,
    borrow_rate: float,
    reserve_factor: float,
    dt_s: int,
    rules: str = "v3.3",
) -> ReserveAccrual:
    """One ``updateState`` of a reserve: both indices and the treasury's share (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`).

    The supply index grows linearly at ``supply_rate`` (only when that rate is non-zero); the
    borrow index compounds at ``borrow_rate`` (only when there is scaled debt); the treasury
    accrues ``reserveFactor`` of the interest the debt generated, in scaled aTokens at the new
    supply index. ``dt_s == 0`` (second touch within a block) changes nothing.

    Parameters
    ----------
    liquidity_index, variable_borrow_index : float
        Current indices (1.0 at listing).
    scaled_variable_debt : float
        Total scaled variable debt of the reserve (tokens / borrow index).
    supply_rate, borrow_rate : float
        Rates in force since the last update (annual fractions).
    reserve_factor : float
        Treasury share of the interest (fraction).
    dt_s : int
        Seconds since the last update.
    rules : {"v3.3", "v3.0", "v2"}
        Compounding series of :func:`compounded_interest`.

    Returns
    -------
    ReserveAccrual

    Examples
    --------
    >>> a = accrue_reserve(1.0, 1.0, 100.0, 0.0765, 0.10, 0.15, SECONDS_PER_YEAR)
    >>> round(a.liquidity_index, 6), round(a.variable_borrow_index, 7), round(a.treasury_scaled, 6)
    (1.0765, 1.1051667, 1.465397)
    """
    dt = float(_elapsed(dt_s))
    new_liquidity_index = liquidity_index
    if supply_rate != 0.0:
        new_liquidity_index = liquidity_index * linear_interest(supply_rate, dt)
    new_borrow_index = variable_borrow_index
    if scaled_variable_debt > 0.0:
        new_borrow_index = variable_borrow_index * compounded_interest(borrow_rate, dt, rules)
    interest = scaled_variable_debt * new_borrow_index - scaled_variable_debt * variable_borrow_index
    treasury_scaled = interest * reserve_factor / new_liquidity_index
    return ReserveAccrual(new_liquidity_index, new_borrow_index, treasury_scaled)
