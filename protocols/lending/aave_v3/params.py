"""Parameters of Aave v3 reserves and e-mode categories (Aave v3 `DataTypes.ReserveData` and `ReserveConfiguration.sol`; Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode).

Frozen pydantic models with ``extra="forbid"`` that fail at construction. Ratios are
plain fractions (``ltv=0.805``, not 8050 bps); annual rates are fractions (``slope2=0.80`` is
80% APR); token amounts are whole tokens.

**Bonus convention.** ``liquidation_bonus`` is the bonus *on top of* the repaid value: ``0.05``
means the liquidator receives collateral worth 105% of the debt repaid (the contract stores
``10500``, which the Aave docs show as a 105% bonus). The same convention is used by
:func:`protocols.lending.aave_v3.liquidation.liquidation_call`. Every conversion to the contracts'
units is in docs/reference.md, "Contract units"; what ``rules = "v3.3"`` / ``"v3.0"`` / ``"v2"``
follow is in its "Aave rule versions".

Validation mirrors the contracts' configurator checks (``PoolConfigurator``
``configureReserveAsCollateral`` / ``setEModeCategory``, ``DefaultReserveInterestRateStrategyV2``):

- fractions (``ltv``, ``liquidation_threshold``, ``protocol_liquidation_fee``, ``reserve_factor``)
  lie in [0, 1];
- ``ltv ≤ liquidation_threshold`` (the contract allows equality, and ``0 = 0`` is how a
  non-collateral asset is listed);
- with ``liquidation_threshold > 0``: ``liquidation_bonus > 0`` and
  ``liquidation_threshold × (1 + liquidation_bonus) ≤ 1``, evaluated like the contract in bps
  with ``percentMul``'s half-up rounding, so that a position opened at the threshold can still
  pay the bonus; with ``liquidation_threshold == 0`` the bonus must be 0;
- interest strategy: ``0.01 ≤ optimal_utilization ≤ 0.99``, rates ≥ 0, ``slope1 ≤ slope2``,
  ``base_rate + slope1 + slope2 ≤ 10`` (1000%);
- with ``rules = "v2"`` every reserve's ``protocol_liquidation_fee`` must be 0: Aave v2's
  ``LendingPoolCollateralManager.liquidationCall`` has no protocol fee (the whole bonus goes to
  the liquidator), and a fee that the rules cannot charge is refused rather than ignored.

Every error message names the offending field(s) and the reason.
"""
from __future__ import annotations

from typing import Literal

from ..records import BOOK_QUIET_BLOCKS
from .population import LendersParams, PopulationParams

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from defisim.base import unit

from defisim.base import protocol_of

__all__ = ["RateStrategyParams", "ReserveParams", "EModeParams", "PoolParams"]

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

#: ``MIN_OPTIMAL_POINT`` / ``MAX_OPTIMAL_POINT`` of the V2 strategy (1% … 99%).
MIN_OPTIMAL_UTILIZATION = 0.01
MAX_OPTIMAL_UTILIZATION = 0.99
#: ``MAX_BORROW_RATE = 1000_00`` bps: R0 + S1 + S2 ≤ 1000%.
MAX_BORROW_RATE = 10.0


def _bps(fraction: float) -> int:
    return round(fraction * 10_000)


def _percent_mul_bps(a_bps: int, b_bps: int) -> int:
    """Aave ``PercentageMath.percentMul`` (half-up) on bps integers."""
    return (a_bps * b_bps + 5_000) // 10_000


def _check_fraction(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
    return value


def _check_risk(ltv: float, lt: float, bonus: float, *, emode: bool) -> None:
    """The configurator's collateral checks (see the module docstring)."""
    if emode:
        if ltv <= 0.0:
            raise ValueError(f"ltv must be > 0 for an e-mode category, got {ltv}")
        if lt <= 0.0:
            raise ValueError(f"liquidation_threshold must be > 0 for an e-mode category, got {lt}")
    if ltv > lt:
        raise ValueError(
            f"ltv ({ltv}) must not exceed liquidation_threshold ({lt}): a loan at the maximum LTV "
            f"would be liquidatable at once"
        )
    if lt == 0.0:
        if bonus != 0.0:
            raise ValueError(
                f"liquidation_bonus must be 0 when liquidation_threshold is 0 (the asset is not "
                f"collateral), got {bonus}"
            )
        return
    if bonus <= 0.0:
        raise ValueError(
            f"liquidation_bonus must be > 0 when liquidation_threshold > 0 (liquidators must receive "
            f"more collateral than the debt they repay), got {bonus}"
        )
    if _percent_mul_bps(_bps(lt), 10_000 + _bps(bonus)) > 10_000:
        raise ValueError(
            f"liquidation_threshold × (1 + liquidation_bonus) must be ≤ 1, got {lt} × {1.0 + bonus} = "
            f"{lt * (1.0 + bonus):.6g}: a position at the threshold could not pay the bonus"
        )


class RateStrategyParams(BaseModel):
    """Kinked variable-rate strategy of a reserve (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; annual fractions).

    Examples
    --------
    >>> RateStrategyParams(optimal_utilization=0.9, base_rate=0.0, slope1=0.027, slope2=0.80).slope2
    0.8
    """

    model_config = _CONFIG

    optimal_utilization: float = Field(description="kink U* (optimalUsageRatio), fraction in [0.01, 0.99]", json_schema_extra=unit("fraction"))
    base_rate: float = Field(0.0,
        description="R0, baseVariableBorrowRate (annual fraction)", json_schema_extra=unit("annual fraction"))
    slope1: float = Field(description="S1, variableRateSlope1: rate added from U = 0 to U* (annual fraction)", json_schema_extra=unit("annual fraction"))
    slope2: float = Field(description="S2, variableRateSlope2: rate added from U* to U = 1 (annual fraction)", json_schema_extra=unit("annual fraction"))

    @field_validator("optimal_utilization")
    @classmethod
    def _kink(cls, v: float) -> float:
        if not MIN_OPTIMAL_UTILIZATION <= v <= MAX_OPTIMAL_UTILIZATION:
            raise ValueError(
                f"optimal_utilization must be in [{MIN_OPTIMAL_UTILIZATION}, {MAX_OPTIMAL_UTILIZATION}], got {v}"
            )
        return v

    @field_validator("base_rate", "slope1", "slope2")
    @classmethod
    def _non_negative(cls, v: float, info: ValidationInfo) -> float:
        if v < 0.0:
            raise ValueError(f"{info.field_name} must be non-negative, got {v}")
        return v

    @model_validator(mode="after")
    def _shape(self) -> "RateStrategyParams":
        if self.slope1 > self.slope2:
            raise ValueError(f"slope1 ({self.slope1}) must not exceed slope2 ({self.slope2})")
        total = self.base_rate + self.slope1 + self.slope2
        if total > MAX_BORROW_RATE:
            raise ValueError(
                f"base_rate + slope1 + slope2 must be ≤ {MAX_BORROW_RATE} (1000%), got {total}"
            )
        return self


class ReserveParams(BaseModel):
    """One Aave v3 reserve: risk parameters, fees, interest strategy, caps (Aave v3 `DataTypes.ReserveData` and `ReserveConfiguration.sol`; Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`; Aave `ValidationLogic.validateSupply` / `validateBorrow`: supply and borrow caps).

    Examples
    --------
    WETH as in Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`:

    >>> weth = ReserveParams(symbol="WETH", ltv=0.805, liquidation_threshold=0.83,
    ...     liquidation_bonus=0.05, reserve_factor=0.15,
    ...     rate_strategy=dict(optimal_utilization=0.9, slope1=0.027, slope2=0.80))
    >>> weth.liquidation_bonus, weth.protocol_liquidation_fee, weth.rate_strategy.slope1
    (0.05, 0.1, 0.027)
    >>> ReserveParams(**{**weth.model_dump(), "ltv": 0.9})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for ReserveParams
      Value error, ltv (0.9) must not exceed liquidation_threshold (0.83): ...
    """

    model_config = _CONFIG

    symbol: str = Field(min_length=1, description="token symbol, the reserve's key")
    decimals: int = Field(18, ge=0, le=255, description="token decimals (for integer replays)")
    ltv: float = Field(description="loan-to-value: borrowing power per unit of collateral value (fraction)", json_schema_extra=unit("fraction"))
    liquidation_threshold: float = Field(description="LT: collateral weight in the health factor (fraction)", json_schema_extra=unit("fraction"))
    liquidation_bonus: float = Field(
        ge=0.0, description="bonus on top of the repaid value, fraction: 0.05 = 5% (the contract's 10500)"
    , json_schema_extra=unit("fraction"))
    protocol_liquidation_fee: float = Field(0.10,
        description="treasury's share of the bonus part (fraction; must be 0 in a pool with rules = 'v2')",
        json_schema_extra=unit("fraction"))
    reserve_factor: float = Field(description="treasury's share of borrowers' interest (fraction)", json_schema_extra=unit("fraction"))
    rate_strategy: RateStrategyParams = Field(description="the reserve's variable-rate strategy")
    supply_cap: float = Field(0.0, ge=0.0,
        description="whole tokens; 0 = no cap (as on chain)", json_schema_extra=unit("tokens"))
    borrow_cap: float = Field(0.0, ge=0.0,
        description="whole tokens; 0 = no cap (as on chain)", json_schema_extra=unit("tokens"))
    price_source: str | None = Field(None, description="name of the oracle feed pricing this token (None: by symbol)")

    @field_validator("ltv", "liquidation_threshold", "protocol_liquidation_fee", "reserve_factor")
    @classmethod
    def _fraction(cls, v: float, info: ValidationInfo) -> float:
        return _check_fraction(v, info.field_name)

    @model_validator(mode="after")
    def _risk(self) -> "ReserveParams":
        _check_risk(self.ltv, self.liquidation_threshold, self.liquidation_bonus, emode=False)
        return self


class EModeParams(BaseModel):
    """An e-mode category (Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode): its LTV, LT and bonus replace the reserves' own for
    accounts in the category, on the collateral listed in ``collateral_symbols``; such accounts
    may borrow only ``borrowable_symbols``.

    Examples
    --------
    >>> eth = EModeParams(label="ETH correlated", ltv=0.93, liquidation_threshold=0.95,
    ...     liquidation_bonus=0.01, collateral_symbols=["WETH", "wstETH"], borrowable_symbols=["WETH"])
    >>> eth.collateral_symbols
    ('WETH', 'wstETH')
    """

    model_config = _CONFIG

    label: str = Field(min_length=1, description="name of the category")
    ltv: float = Field(description="category LTV (fraction, > 0)", json_schema_extra=unit("fraction"))
    liquidation_threshold: float = Field(description="category LT (fraction, > 0)", json_schema_extra=unit("fraction"))
    liquidation_bonus: float = Field(ge=0.0,
        description="category bonus on top of the repaid value (0.01 = 1%)", json_schema_extra=unit("fraction"))
    collateral_symbols: tuple[str, ...] = Field(description="reserves whose collateral gets the category's LTV/LT/bonus")
    borrowable_symbols: tuple[str, ...] = Field(description="reserves an account in the category may borrow")

    @field_validator("ltv", "liquidation_threshold")
    @classmethod
    def _fraction(cls, v: float, info: ValidationInfo) -> float:
        return _check_fraction(v, info.field_name)

    @field_validator("collateral_symbols", "borrowable_symbols")
    @classmethod
    def _symbols(cls, v: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if any(not s for s in v):
            raise ValueError(f"{info.field_name} must not contain empty symbols")
        dup = sorted({s for s in v if v.count(s) > 1})
        if dup:
            raise ValueError(f"{info.field_name} lists {dup} more than once")
        return v

    @model_validator(mode="after")
    def _risk(self) -> "EModeParams":
        _check_risk(self.ltv, self.liquidation_threshold, self.liquidation_bonus, emode=True)
        return self


class PoolParams(BaseModel):
    """An Aave v3 market: its reserves, the token ledgers holding their tokens, the oracle
    pricing each, and which liquidation rules apply (Aave v3 (aave-dao/aave-v3-origin)).

    ``seed_supply`` is what lenders (the account ``lenders``) have supplied at the start, per
    symbol in tokens, on top of what the ``population``'s borrowers have borrowed (lenders
    supplied that too; the borrowed tokens sit in the borrowers' wallets). With ``lenders``,
    that supply is held by a crowd of accounts ``lender/0`` … instead.
    """

    model_config = _CONFIG

    reserves: tuple[ReserveParams, ...] = Field(min_length=1, description="the market's reserves (assets)")
    tokens: dict[str, protocol_of("token.ledger", role="token ledger")] = Field(
        description="symbol -> token ledger protocol holding that token")
    oracles: dict[str, protocol_of("oracles.", role="oracle")] = Field(
        description="symbol -> oracle protocol pricing that token (USD)")
    rules: Literal["v3.3", "v3.0", "v2"] = Field("v3.3",
        description="liquidation rules: v3.3 = Aave v3.3 … v3.7 (current), v3.0 = v3.0 … v3.2, v2 = Aave v2 "
        "(every reserve's protocol_liquidation_fee must then be 0) (docs/reference.md, Aave rule versions)")
    treasury: str = Field("treasury", description="account credited with the liquidation protocol fees (as aTokens)")
    seed_supply: dict[str, float] = Field(default_factory=dict,
        description="symbol -> tokens supplied by 'lenders'", json_schema_extra=unit("tokens"))
    receipt_tokens: dict[str, str] = Field(
        default_factory=dict, description="symbol -> name of its receipt (aToken) node in the exposure graph "
        "(default 'a<SYMBOL>@<pool>'; name a token ledger that stands for it elsewhere to join the two)")
    collateral_venues: dict[str, str] = Field(
        default_factory=dict, description="symbol -> where its collateral would sell: an off-chain venue "
        "(`markets.venues`) or an on-chain pool trading it (listed before this pool), for valuing the collateral "
        "left at the end at that market's mid price and judging the backlog's depth (default: the feed of the "
        "same name, else the oracle price)")
    population: PopulationParams | None = Field(None, description="borrowers present at the start")
    lenders: LendersParams | None = Field(None, description="the lenders as a crowd of accounts lender/0 … sharing "
        "what 'lenders' supplied at the start (seed_supply and what the population borrowed); none: one account")
    emode_categories: tuple[EModeParams, ...] = Field(
        (), description="e-mode categories; category k (1, 2, …) is the k-th; 0 is no e-mode (Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode)")
    health_every_blocks: int | None = Field(
        None, ge=0, description="record the borrowers' health-factor quantiles at most every this many blocks, "
        "when prices or positions changed since the last record (0: never; default: every 10 blocks, and for "
        "a book of more than 100,000 accounts every accounts / 10,000 blocks: a record reads every account, "
        "so its share of a run stays bounded as the book grows)")
    health_quiet_blocks: int = Field(
        BOOK_QUIET_BLOCKS, ge=1, description="and at least every this many blocks when nothing changed (interest only)")
    flash_loan_premium: float = Field(
        0.0005, ge=0, le=0.01, description="premium of a flash loan (`flashLoanSimple`), a share of the amount, "
        "credited to the treasury as aTokens (Aave v3 `FlashLoanLogic.executeFlashLoanSimple`; 5 bps: the "
        "`FLASHLOAN_PREMIUM_TOTAL` of the Ethereum market)", json_schema_extra=unit("fraction"))
    reserves_every_blocks: int = Field(
        10, ge=0, description="record each reserve's cash, debt, utilisation and rates every this many blocks, from "
        "the first (0: never)")

    @model_validator(mode="after")
    def _consistent(self) -> "PoolParams":
        symbols = [r.symbol for r in self.reserves]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"reserves: symbols must be unique, got {symbols}")
        for field in ("tokens", "oracles", "seed_supply", "receipt_tokens", "collateral_venues"):
            mapping = getattr(self, field)
            unknown = sorted(set(mapping) - set(symbols))
            if unknown:
                raise ValueError(f"{field}: {unknown} are not reserves of this pool ({symbols})")
        for field in ("tokens", "oracles"):
            missing = sorted(set(symbols) - set(getattr(self, field)))
            if missing:
                raise ValueError(f"{field}: no entry for reserve(s) {missing}")
        if self.population is not None:
            where = "" if self.population.csv is None else f" (in {self.population.csv})"
            for field, assets in zip(("collateral_asset", "debt_asset"), self.population.assets()):
                unknown = sorted(assets - set(symbols))
                if unknown:
                    raise ValueError(f"population.{field}: {unknown[0]!r}{where} is not a reserve ({symbols})")
        for k, cat in enumerate(self.emode_categories, start=1):
            for field in ("collateral_symbols", "borrowable_symbols"):
                unknown = sorted(set(getattr(cat, field)) - set(symbols))
                if unknown:
                    raise ValueError(f"emode_categories.{k - 1}.{field}: {unknown} are not reserves of this pool ({symbols})")
        if self.population is not None and self.population.emode_category > len(self.emode_categories):
            raise ValueError(f"population.emode_category: {self.population.emode_category} but the pool has "
                             f"{len(self.emode_categories)} e-mode categories")
        for sym, amount in self.seed_supply.items():
            if amount < 0:
                raise ValueError(f"seed_supply.{sym}: must be non-negative, got {amount}")
        if self.rules == "v2":
            for k, r in enumerate(self.reserves):
                if r.protocol_liquidation_fee != 0.0:
                    raise ValueError(
                        f"reserves.{k}.protocol_liquidation_fee: must be 0 with rules = 'v2' (Aave v2 has no "
                        f"protocol liquidation fee: the whole bonus goes to the liquidator), got "
                        f"{r.protocol_liquidation_fee} for {r.symbol}")
        if self.lenders is not None and self.population is None and not any(a > 0 for a in self.seed_supply.values()):
            raise ValueError("lenders: nothing to share: the lenders supply seed_supply and what the population "
                             "borrowed, and there is neither")
        return self
