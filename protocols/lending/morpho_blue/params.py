"""Parameters of a Morpho Blue market (``lending.morpho_blue``; morpho-org/morpho-blue `Morpho.sol`,
`IMorpho.MarketParams`; Morpho docs, "LLTV" and "AdaptiveCurveIrm")."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import Distribution, LogNormal, Uniform, protocol_of, unit

__all__ = ["ENABLED_LLTVS", "MorphoBorrowersParams", "MorphoMarketParams"]

#: The LLTVs governance has enabled on Ethereum (Morpho docs, "LLTV"), fractions.
ENABLED_LLTVS = (0.0, 0.385, 0.625, 0.77, 0.86, 0.915, 0.945, 0.965, 0.98)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MorphoBorrowersParams(_Params):
    """Borrowers present at the start: collateral worth ``size_usd`` each, borrowed to a health
    factor (``collateral × price × LLTV / debt``) drawn from ``health_factor``."""

    count: int = Field(0, ge=0, le=10_000_000, description="borrowers generated")
    size_usd: Distribution = Field(LogNormal(median=20_000.0, sigma=1.0),
                                   description="collateral per borrower (USD at the opening prices)")
    health_factor: Distribution = Field(Uniform(low=1.05, high=2.0), description="health factor at the start")


class MorphoMarketParams(_Params):
    """One isolated market: a loan token, a collateral token, its oracle, its IRM and its LLTV.

    Its oracle price of the collateral in loan tokens is the ratio of the two ``oracles``
    (USD), as Morpho's Chainlink-based oracles combine two feeds. ``lenders`` supply
    ``seed_supply`` loan tokens at the start plus what the borrowers borrow."""

    loan: str = Field("USDC", min_length=1, description="symbol of the loan token")
    collateral: str = Field("WETH", min_length=1, description="symbol of the collateral token")
    tokens: dict[str, protocol_of("token.ledger", role="token ledger")] = Field(
        description="token ledger of each of the two symbols")
    oracles: dict[str, protocol_of("oracles.", role="oracle")] = Field(
        description="USD oracle of each of the two symbols, listed before the market")
    lltv: float = Field(0.86, ge=0, lt=1, description="liquidation loan-to-value (also the largest LTV a borrow may reach)",
                        json_schema_extra=unit("fraction"))
    any_lltv: bool = Field(False, description="allow an LLTV governance has not enabled (a counterfactual)")
    irm: Literal["adaptive_curve", "fixed"] = Field(
        "adaptive_curve", description="interest rate model: Morpho's AdaptiveCurveIrm, or a fixed rate")
    fixed_rate: float = Field(0.0, ge=0, le=10, description="annual borrow rate with irm = 'fixed'",
                              json_schema_extra=unit("fraction per year"))
    fee: float = Field(0.0, ge=0, le=0.25, description="share of interest minted to the fee recipient (at most 25%)",
                       json_schema_extra=unit("fraction"))
    fee_recipient: str = Field("fee_recipient", description="address of the fee recipient")
    seed_supply: float = Field(0.0, ge=0, allow_inf_nan=False,
        description="loan tokens 'lenders' supply at the start beyond what the borrowers borrow",
        json_schema_extra=unit("tokens"))
    borrowers: MorphoBorrowersParams = Field(MorphoBorrowersParams(), description="borrowers present at the start")

    @model_validator(mode="after")
    def _market(self):
        if self.loan == self.collateral:
            raise ValueError(f"collateral: the loan token {self.loan!r} cannot be its own collateral")
        for field in ("tokens", "oracles"):
            missing = sorted({self.loan, self.collateral} - set(getattr(self, field)))
            if missing:
                raise ValueError(f"{field}: no entry for {missing[0]!r} (needs {self.collateral} and {self.loan})")
        if not self.any_lltv and self.lltv not in ENABLED_LLTVS:
            raise ValueError(f"lltv: {self.lltv} is not an enabled LLTV ({', '.join(map(str, ENABLED_LLTVS[1:]))}); "
                             "set any_lltv = true for a counterfactual one")
        return self
