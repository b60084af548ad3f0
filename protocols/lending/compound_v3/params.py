"""Parameters of a Compound III deployment (``lending.compound_v3``; compound-finance/comet
`CometConfiguration.Configuration`, launch values of cUSDCv3 on Ethereum by default:
`deployments/mainnet/usdc/configuration.json`) and of its agents."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import Distribution, LogNormal, Uniform, VenueName, protocol_of, unit
from defisim.chain import GasStrategy, PercentileTip

__all__ = ["CometAssetParams", "CometRates", "CometBorrowersParams", "CometParams", "AbsorberParams",
           "CollateralBuyerParams"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CometAssetParams(_Params):
    """One collateral asset: BCF < LCF < 1 and the liquidation factor (fractions)."""

    symbol: str = Field(min_length=1, description="collateral token symbol")
    borrow_collateral_factor: float = Field(gt=0, lt=1, description="share of its value one may borrow against",
                                            json_schema_extra=unit("fraction"))
    liquidate_collateral_factor: float = Field(gt=0, lt=1, description="share of its value below which debt is absorbed",
                                               json_schema_extra=unit("fraction"))
    liquidation_factor: float = Field(gt=0, le=1, description="share of its value credited when absorbed",
                                      json_schema_extra=unit("fraction"))
    supply_cap: float | None = Field(None, ge=0, allow_inf_nan=False,
        description="most of it the protocol accepts (tokens; None: no cap)", json_schema_extra=unit("tokens"))

    @model_validator(mode="after")
    def _factors(self):
        if not self.borrow_collateral_factor < self.liquidate_collateral_factor:
            raise ValueError(f"borrow_collateral_factor ({self.borrow_collateral_factor}) must be below "
                             f"liquidate_collateral_factor ({self.liquidate_collateral_factor})")
        return self


class CometRates(_Params):
    """The two kinked curves of the utilisation (annual fractions)."""

    supply_kink: float = Field(0.8, ge=0, le=1, json_schema_extra=unit("fraction"))
    supply_base: float = Field(0.0, ge=0, json_schema_extra=unit("fraction per year"))
    supply_slope_low: float = Field(0.0325, ge=0, json_schema_extra=unit("fraction per year"))
    supply_slope_high: float = Field(0.40, ge=0, json_schema_extra=unit("fraction per year"))
    borrow_kink: float = Field(0.8, ge=0, le=1, json_schema_extra=unit("fraction"))
    borrow_base: float = Field(0.015, ge=0, json_schema_extra=unit("fraction per year"))
    borrow_slope_low: float = Field(0.035, ge=0, json_schema_extra=unit("fraction per year"))
    borrow_slope_high: float = Field(0.25, ge=0, json_schema_extra=unit("fraction per year"))


class CometBorrowersParams(_Params):
    """Borrowers present at the start: one collateral asset each, worth ``size_usd``, borrowed to
    ``borrow_use`` of their borrow limit (collateral × BCF)."""

    count: int = Field(0, ge=0, le=10_000_000, description="borrowers generated")
    collateral_asset: str = Field("WETH", description="the collateral each posts")
    size_usd: Distribution = Field(LogNormal(median=20_000.0, sigma=1.0), description="collateral per borrower (USD)")
    borrow_use: Distribution = Field(Uniform(low=0.5, high=1.0), description="debt as a share of the borrow limit")


class CometParams(_Params):
    """A Compound III deployment: one base asset lent against collateral assets."""

    base: str = Field("USDC", min_length=1, description="symbol of the base (borrowable) asset")
    tokens: dict[str, protocol_of("token.ledger", role="token ledger")] = Field(description="token ledger of each symbol")
    oracles: dict[str, protocol_of("oracles.", role="oracle")] = Field(
        description="USD oracle of each symbol, listed before the deployment")
    assets: tuple[CometAssetParams, ...] = Field(min_length=1, max_length=15, description="collateral assets")
    rates: CometRates = Field(CometRates(), description="interest rate curves (cUSDCv3 at launch)")
    store_front_price_factor: float = Field(0.5, ge=0, le=1,
        description="share of (1 − liquidation factor) taken off the price of absorbed collateral",
        json_schema_extra=unit("fraction"))
    target_reserves: float = Field(5_000_000.0, ge=0, description="reserves above which collateral is not for sale",
                                   json_schema_extra=unit("base tokens"))
    base_borrow_min: float = Field(100.0, ge=0, description="smallest debt a borrow may leave",
                                   json_schema_extra=unit("base tokens"))
    seed_supply: float = Field(0.0, ge=0, allow_inf_nan=False,
        description="base tokens 'lenders' supply at the start beyond what the borrowers borrow",
        json_schema_extra=unit("tokens"))
    borrowers: CometBorrowersParams = Field(CometBorrowersParams(), description="borrowers present at the start")

    @model_validator(mode="after")
    def _symbols(self):
        symbols = [self.base] + [a.symbol for a in self.assets]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"assets: symbols must be distinct and differ from the base {self.base!r}")
        for field in ("tokens", "oracles"):
            missing = [s for s in symbols if s not in getattr(self, field)]
            if missing:
                raise ValueError(f"{field}: no entry for {missing[0]!r}")
        if self.borrowers.count and self.borrowers.collateral_asset not in symbols[1:]:
            raise ValueError(f"borrowers.collateral_asset: {self.borrowers.collateral_asset!r} is not a collateral asset")
        return self


class AbsorberParams(_Params):
    """Whoever calls ``absorb`` on liquidatable accounts (a bot paid in liquidator points, or
    governance's); largest debts first, one call per account."""

    comet: protocol_of("lending.compound_v3", role="Compound III deployment") = Field(description="the deployment")
    max_per_block: int = Field(10, ge=1, description="absorb calls sent per block at most")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.5), description="gas bidding")
    gas_limit: int = Field(300_000, gt=0, description="gas limit of an absorb call", json_schema_extra=unit("gas"))


class CollateralBuyerParams(_Params):
    """Buys absorbed collateral from the protocol when its store-front price is below a venue's
    by more than ``min_edge``, with the base it holds, and sells it on that venue."""

    comet: protocol_of("lending.compound_v3", role="Compound III deployment") = Field(description="the deployment")
    venues: dict[str, VenueName] = Field(description="collateral symbol → off-chain venue it is sold on")
    min_edge: float = Field(0.005, ge=0, description="discount to the venue's mid worth a purchase",
                            json_schema_extra=unit("fraction"))
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.5), description="gas bidding")
    gas_limit: int = Field(200_000, gt=0, description="gas limit of a buyCollateral call", json_schema_extra=unit("gas"))
