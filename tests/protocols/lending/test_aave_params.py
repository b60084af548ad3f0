"""Aave v3 parameter models: frozen, no extra fields, and the configurator's cross-field rules
(Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode; PoolConfigurator / DefaultReserveInterestRateStrategyV2)."""
from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from protocols.lending.aave_v3.params import EModeParams, RateStrategyParams, ReserveParams

WETH = dict(
    symbol="WETH",
    decimals=18,
    ltv=0.805,
    liquidation_threshold=0.83,
    liquidation_bonus=0.05,
    protocol_liquidation_fee=0.10,
    reserve_factor=0.15,
    rate_strategy=dict(optimal_utilization=0.90, base_rate=0.0, slope1=0.027, slope2=0.80),
)
ETH_EMODE = dict(
    label="ETH correlated", ltv=0.93, liquidation_threshold=0.95, liquidation_bonus=0.01,
    collateral_symbols=("WETH", "wstETH"), borrowable_symbols=("WETH",),
)


def reserve(**changes) -> ReserveParams:
    return ReserveParams(**{**WETH, **changes})


def emode(**changes) -> EModeParams:
    return EModeParams(**{**ETH_EMODE, **changes})


def test_section_1_4_table_rows_are_valid():
    rows = {  # symbol: (ltv, lt, bonus, reserve factor), Aave v3 `ReserveConfiguration.sol` and Aave governance listings
        "WETH": (0.805, 0.83, 0.05, 0.15),
        "WBTC": (0.73, 0.78, 0.05, 0.20),
        "USDC": (0.75, 0.78, 0.045, 0.10),
        "USDe": (0.72, 0.75, 0.085, 0.10),
    }
    for symbol, (ltv, lt, bonus, rf) in rows.items():
        r = reserve(symbol=symbol, ltv=ltv, liquidation_threshold=lt, liquidation_bonus=bonus, reserve_factor=rf)
        assert (r.symbol, r.ltv, r.liquidation_threshold, r.liquidation_bonus) == (symbol, ltv, lt, bonus)
    assert emode().liquidation_threshold == 0.95
    assert emode(ltv=0.90, liquidation_threshold=0.92, liquidation_bonus=0.03).ltv == 0.90  # sUSDe e-mode


def test_defaults_and_nesting():
    r = ReserveParams(**{k: v for k, v in WETH.items() if k not in ("decimals", "protocol_liquidation_fee")})
    assert r.decimals == 18 and r.protocol_liquidation_fee == 0.10
    assert (r.supply_cap, r.borrow_cap, r.price_source) == (0.0, 0.0, None)
    assert isinstance(r.rate_strategy, RateStrategyParams) and r.rate_strategy.slope2 == 0.80


def test_frozen_and_extra_forbidden():
    r = reserve()
    with pytest.raises(ValidationError, match="frozen"):
        r.ltv = 0.5
    with pytest.raises(ValidationError, match="liquidation_penalty"):
        reserve(liquidation_penalty=0.05)
    with pytest.raises(ValidationError, match="Extra inputs"):
        EModeParams(**ETH_EMODE, oracle="x")


def test_ltv_above_liquidation_threshold_names_both_fields():
    with pytest.raises(ValidationError, match=r"ltv \(0\.9\) must not exceed liquidation_threshold \(0\.83\)"):
        reserve(ltv=0.9)
    with pytest.raises(ValidationError, match=r"ltv \(0\.96\) must not exceed liquidation_threshold \(0\.95\)"):
        emode(ltv=0.96)


def test_ltv_equal_to_threshold_is_allowed_as_in_the_contract():
    """``require(ltv <= liquidationThreshold)``; 0 = 0 is how a non-collateral asset is listed."""
    assert reserve(ltv=0.83).ltv == 0.83
    gho = reserve(symbol="GHO", ltv=0.0, liquidation_threshold=0.0, liquidation_bonus=0.0)
    assert gho.liquidation_threshold == 0.0


def test_threshold_times_bonus_must_not_exceed_one():
    assert reserve(ltv=0.75, liquidation_threshold=0.8, liquidation_bonus=0.25).liquidation_bonus == 0.25  # exactly 1
    with pytest.raises(ValidationError, match=r"liquidation_threshold × \(1 \+ liquidation_bonus\) must be ≤ 1"):
        reserve(ltv=0.75, liquidation_threshold=0.8, liquidation_bonus=0.2502)
    with pytest.raises(ValidationError, match="liquidation_threshold × .* must be ≤ 1"):
        reserve(liquidation_threshold=0.96, liquidation_bonus=0.05)  # 1.008
    with pytest.raises(ValidationError, match="liquidation_threshold × .* must be ≤ 1"):
        emode(liquidation_threshold=0.97, liquidation_bonus=0.04)


def test_bonus_is_required_for_collateral_and_forbidden_without():
    with pytest.raises(ValidationError, match="liquidation_bonus must be > 0 when liquidation_threshold > 0"):
        reserve(liquidation_bonus=0.0)
    with pytest.raises(ValidationError, match="liquidation_bonus must be 0 when liquidation_threshold is 0"):
        reserve(ltv=0.0, liquidation_threshold=0.0, liquidation_bonus=0.05)
    with pytest.raises(ValidationError, match="liquidation_bonus"):
        reserve(liquidation_bonus=-0.01)
    with pytest.raises(ValidationError, match="liquidation_bonus must be > 0"):
        emode(liquidation_bonus=0.0)


@pytest.mark.parametrize("field", ["ltv", "liquidation_threshold", "protocol_liquidation_fee", "reserve_factor"])
@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_fractions_in_unit_interval(field, value):
    with pytest.raises(ValidationError, match=rf"{field} must be a fraction in \[0, 1\], got {value}") as info:
        reserve(**{field: value})
    assert info.value.errors()[0]["loc"] == (field,)


def test_non_finite_numbers_rejected_with_the_field_path():
    with pytest.raises(ValidationError) as info:
        reserve(reserve_factor=float("nan"))
    assert info.value.errors()[0]["loc"] == ("reserve_factor",)
    with pytest.raises(ValidationError) as info:
        reserve(rate_strategy={**WETH["rate_strategy"], "slope2": float("inf")})
    assert info.value.errors()[0]["loc"] == ("rate_strategy", "slope2")


def test_emode_needs_nonzero_ltv_and_threshold():
    with pytest.raises(ValidationError, match="ltv must be > 0 for an e-mode category"):
        emode(ltv=0.0)
    with pytest.raises(ValidationError, match="liquidation_threshold must be > 0 for an e-mode category"):
        emode(ltv=0.5, liquidation_threshold=0.0)


def test_emode_member_symbols():
    assert emode(collateral_symbols=["WETH"]).collateral_symbols == ("WETH",)
    with pytest.raises(ValidationError, match=r"collateral_symbols lists \['WETH'\] more than once"):
        emode(collateral_symbols=["WETH", "wstETH", "WETH"])
    with pytest.raises(ValidationError, match="borrowable_symbols must not contain empty symbols"):
        emode(borrowable_symbols=[""])


@pytest.mark.parametrize(
    "changes, message, loc",
    [
        ({"optimal_utilization": 1.0}, r"optimal_utilization must be in \[0\.01, 0\.99\]", ("rate_strategy", "optimal_utilization")),
        ({"optimal_utilization": 0.0}, r"optimal_utilization must be in \[0\.01, 0\.99\]", ("rate_strategy", "optimal_utilization")),
        ({"slope1": -0.01}, "slope1 must be non-negative", ("rate_strategy", "slope1")),
        ({"slope1": 0.9, "slope2": 0.8}, r"slope1 \(0\.9\) must not exceed slope2 \(0\.8\)", ("rate_strategy",)),
        ({"base_rate": 1.0, "slope1": 1.0, "slope2": 8.5}, r"base_rate \+ slope1 \+ slope2 must be ≤ 10\.0", ("rate_strategy",)),
    ],
)
def test_rate_strategy_rules(changes, message, loc):
    with pytest.raises(ValidationError, match=message) as info:
        reserve(rate_strategy={**WETH["rate_strategy"], **changes})
    assert info.value.errors()[0]["loc"] == loc


def test_caps_and_decimals():
    assert reserve(supply_cap=1_800_000, borrow_cap=1_400_000).supply_cap == 1_800_000
    for field, value in [("supply_cap", -1.0), ("borrow_cap", -1.0), ("decimals", -1), ("decimals", 256)]:
        with pytest.raises(ValidationError) as info:
            reserve(**{field: value})
        assert info.value.errors()[0]["loc"] == (field,)


def test_errors_carry_the_dotted_path_when_nested():
    """A scenario nests reserves; pydantic reports the path to the broken reserve."""

    class Market(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        reserves: dict[str, ReserveParams]

    with pytest.raises(ValidationError) as info:
        Market(reserves={"WETH": WETH, "USDC": {**WETH, "symbol": "USDC", "ltv": 0.9}})
    error = info.value.errors()[0]
    assert error["loc"] == ("reserves", "USDC")
    assert "ltv (0.9) must not exceed liquidation_threshold (0.83)" in error["msg"]
