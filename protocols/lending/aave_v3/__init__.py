"""Aave v3 lending: the pure math (:mod:`.math`, :mod:`.liquidation`) and the parameter models
(:mod:`.params`).

Math follows the Aave v3 contracts (``aave-dao/aave-v3-origin``); current mainnet rules (v3.3+) by default, v3.0 rules behind
``rules="v3.0"``, Aave v2's (``aave/protocol-v2``) behind ``rules="v2"``. Nothing is registered with the engine here.
"""
from .liquidation import (
    CLOSE_FACTOR_HF_THRESHOLD,
    COLLATERAL_CANNOT_BE_LIQUIDATED,
    DEFAULT_LIQUIDATION_CLOSE_FACTOR,
    HEALTH_FACTOR_NOT_BELOW_THRESHOLD,
    LiquidationOutcome,
    MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD,
    MIN_LEFTOVER_BASE_USD,
    MUST_NOT_LEAVE_DUST,
    SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER,
    liquidation_call,
    liquidation_calls,
)
from .math import (
    HEALTH_FACTOR_LIQUIDATION_THRESHOLD,
    RULES,
    SECONDS_PER_YEAR,
    ReserveAccrual,
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
from .params import EModeParams, RateStrategyParams, ReserveParams

__all__ = [
    # params
    "ReserveParams",
    "RateStrategyParams",
    "EModeParams",
    # math
    "health_factor",
    "health_factors",
    "usage_ratio",
    "usage_ratios",
    "borrow_rate",
    "borrow_rates",
    "supply_rate",
    "linear_interest",
    "compounded_interest",
    "accrue_reserve",
    "ReserveAccrual",
    "liquidation_call",
    "liquidation_calls",
    "LiquidationOutcome",
    # constants
    "SECONDS_PER_YEAR",
    "HEALTH_FACTOR_LIQUIDATION_THRESHOLD",
    "CLOSE_FACTOR_HF_THRESHOLD",
    "DEFAULT_LIQUIDATION_CLOSE_FACTOR",
    "MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD",
    "MIN_LEFTOVER_BASE_USD",
    "RULES",
    "HEALTH_FACTOR_NOT_BELOW_THRESHOLD",
    "COLLATERAL_CANNOT_BE_LIQUIDATED",
    "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER",
    "MUST_NOT_LEAVE_DUST",
]
