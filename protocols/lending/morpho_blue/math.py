"""Morpho Blue's arithmetic in float64 (token units, fractions, rates per year), vectorised where
the engine needs it: the float twin of :mod:`.exact` without its integer rounding and virtual
shares (one raw unit of assets, 1e6 shares: at token scale a relative 1e-12 or less), checked
against it in tests.

References: morpho-org/morpho-blue `src/Morpho.sol` (`liquidate`, `_accrueInterest`,
`_isHealthy`), `src/libraries/MathLib.sol` (`wTaylorCompounded`); morpho-org/morpho-blue-irm
`AdaptiveCurveIrm.sol`, `ExpLib.sol`.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["LIQUIDATION_CURSOR", "MAX_LIQUIDATION_INCENTIVE_FACTOR", "SECONDS_PER_YEAR", "liquidation_incentive_factor",
           "health_factors", "taylor_compounded", "approx_exp", "adaptive_curve_rates"]

LIQUIDATION_CURSOR = 0.3
MAX_LIQUIDATION_INCENTIVE_FACTOR = 1.15
SECONDS_PER_YEAR = 365 * 24 * 3600
_LN_2 = math.log(2.0)
# AdaptiveCurveIrm ConstantsLib, per year (fractions)
CURVE_STEEPNESS = 4.0
ADJUSTMENT_SPEED = 50.0
TARGET_UTILIZATION = 0.9
MIN_RATE_AT_TARGET, MAX_RATE_AT_TARGET = 0.001, 2.0


def liquidation_incentive_factor(lltv: float) -> float:
    """``min(1.15, 1 / (1 − 0.3·(1 − lltv)))``: collateral given per unit of debt repaid, at the oracle price.

    >>> round(liquidation_incentive_factor(0.86), 5), liquidation_incentive_factor(0.385)
    (1.04384, 1.15)
    """
    return min(MAX_LIQUIDATION_INCENTIVE_FACTOR, 1.0 / (1.0 - LIQUIDATION_CURSOR * (1.0 - lltv)))


def health_factors(collateral: np.ndarray, borrowed: np.ndarray, price: float, lltv: float) -> np.ndarray:
    """``collateral × price × lltv / borrowed`` (``price``: loan tokens per collateral token); inf without debt.
    Below 1 the position is unhealthy (`Morpho._isHealthy`: max borrow < borrowed)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(borrowed > 0, collateral * price * lltv / borrowed, np.inf)


def taylor_compounded(rate_per_s: float, seconds: float) -> float:
    """``x + x²/2 + x³/6`` with ``x = rate × seconds`` (`MathLib.wTaylorCompounded`): the interest per unit borrowed."""
    x = rate_per_s * seconds
    return x + x * x / 2.0 + x * x * x / 6.0


def approx_exp(x: float) -> float:
    """``e^x`` as the IRM approximates it (`ExpLib.wExp`): ``x = q·ln 2 + r``, ``2^q·(1 + r + r²/2)``."""
    if x < -41.446531673892822312:
        return 0.0
    q = int((x + math.copysign(_LN_2 / 2.0, x)) / _LN_2)  # rounded half toward zero
    r = x - q * _LN_2
    return math.ldexp(1.0 + r + r * r / 2.0, q)


def _curve(rate_at_target: float, err: float) -> float:
    coeff = 1.0 - 1.0 / CURVE_STEEPNESS if err < 0 else CURVE_STEEPNESS - 1.0
    return (coeff * err + 1.0) * rate_at_target


def adaptive_curve_rates(utilization: float, rate_at_target: float | None, seconds: float) -> tuple[float, float]:
    """(annual rate to charge over the last ``seconds``, rate at target now) of the AdaptiveCurveIrm
    (`AdaptiveCurveIrm._borrowRate`), from the rate at target of the last interaction (None: the first,
    which starts it at 4%/yr).

    >>> adaptive_curve_rates(1.0, None, 0.0), adaptive_curve_rates(0.0, None, 0.0)
    ((0.16, 0.04), (0.01, 0.04))
    """
    norm = 1.0 - TARGET_UTILIZATION if utilization > TARGET_UTILIZATION else TARGET_UTILIZATION
    err = (utilization - TARGET_UTILIZATION) / norm
    if rate_at_target is None:
        return _curve(0.04, err), 0.04
    linear = ADJUSTMENT_SPEED * err * seconds / SECONDS_PER_YEAR
    if linear == 0.0:
        return _curve(rate_at_target, err), rate_at_target

    def moved(a: float) -> float:
        return min(max(rate_at_target * approx_exp(a), MIN_RATE_AT_TARGET), MAX_RATE_AT_TARGET)

    end = moved(linear)
    avg = (rate_at_target + end + 2.0 * moved(linear / 2.0)) / 4.0
    return _curve(avg, err), end
