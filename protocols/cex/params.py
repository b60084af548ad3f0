"""Parameters of a venue's unified cross-margin accounts (Binance unified-account uniMMR FAQ; Bybit UTA trading rules): frozen pydantic
models failing at construction with the field and the reason."""
from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from defisim.base import Distribution, FeedAsset, LogNormal, Uniform, VenueName, population_count, unit
from defisim.base import DurationMs

__all__ = ["CollateralAssetParams", "UnifiedPopulationParams", "UnifiedVenueParams"]

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
#: Memory a run holds per account of a population (balances and margin rows), bytes.
ACCOUNT_BYTES = 600


class CollateralAssetParams(BaseModel):
    """A collateral asset: marked on the venue ``book`` (``markets.venues``), or the settlement
    asset (no book, worth $1). ``tiers``: ``[from USD, value ratio]`` pairs, the first from 0,
    the last open-ended (as venues publish them: "0–5 M: 95%, above: 50%"). ``book_weight``
    below 1 blends the book with the feed ``conversion`` (a conversion-rate index, as wBETH's
    was)."""

    model_config = _CONFIG

    symbol: str = Field(min_length=1, description="asset symbol")
    book: VenueName | None = Field(None,
        description="venue (markets.venues) marking the asset (None: the settlement asset, $1)")
    tiers: tuple[tuple[float, float], ...] = Field(((0.0, 1.0),),
        description="[from USD, value ratio] pairs: collateral value ratio by the amount held")
    book_weight: float = Field(1.0, ge=0.0, le=1.0,
        description="weight of the book in the mark; the rest is the conversion feed", json_schema_extra=unit("fraction"))
    conversion: FeedAsset | None = Field(None, description="feed of the conversion price, for book_weight < 1")

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers):
        starts = [a for a, _ in tiers]
        if not tiers or starts[0] != 0.0 or any(b <= a for a, b in zip(starts, starts[1:])):
            raise ValueError(f"tiers must start at 0 and rise, got starts {starts}")
        if any(not 0.0 <= r <= 1.0 for _, r in tiers):
            raise ValueError("tier value ratios must be fractions in [0, 1]")
        return tiers

    @property
    def tiers_by_upper_bound(self) -> tuple[tuple[float, float], ...]:
        """The tiers as ``(upper bound, ratio)`` (:func:`protocols.cex.unified.tiered_value`)."""
        uppers = [a for a, _ in self.tiers[1:]] + [math.inf]
        return tuple(zip(uppers, (r for _, r in self.tiers)))

    @model_validator(mode="after")
    def _blend(self):
        if self.book_weight < 1.0 and (self.conversion is None or self.book is None):
            raise ValueError("book_weight below 1 needs both a book and a conversion feed")
        return self


class UnifiedPopulationParams(BaseModel):
    """``count`` accounts holding ``collateral`` (symbol) worth ``value_usd`` each, owing
    ``liability_ratio`` of that value in the settlement asset (loans, realised losses), with a
    maintenance margin of ``maintenance_ratio`` of the value (their derivatives)."""

    model_config = _CONFIG

    collateral: str = Field(description="collateral asset of the accounts")
    count: population_count(ACCOUNT_BYTES, "accounts") = Field(description="accounts opened")


    value_usd: Distribution = Field(LogNormal(median=100_000.0, sigma=1.0),
        description="collateral value per account at the start")
    liability_ratio: Distribution = Field(Uniform(low=0.3, high=0.8),
        description="liabilities as a share of the collateral value", json_schema_extra=unit("fraction"))
    maintenance_ratio: Distribution = Field(Uniform(low=0.02, high=0.06),
        description="maintenance margin as a share of the liabilities", json_schema_extra=unit("fraction"))


class UnifiedVenueParams(BaseModel):
    """A venue's unified accounts: its assets, populations and how often the liquidation engine
    checks them."""

    model_config = _CONFIG

    assets: tuple[CollateralAssetParams, ...] = Field(min_length=2,
        description="collateral assets (one is the settlement asset)")
    populations: tuple[UnifiedPopulationParams, ...] = Field((), description="accounts opened at the start")
    check_every: DurationMs = Field(1_000, gt=0, description="between two runs of the liquidation engine")

    @model_validator(mode="after")
    def _consistent(self):
        symbols = [a.symbol for a in self.assets]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"assets: symbols must be unique, got {symbols}")
        if sum(a.book is None for a in self.assets) != 1:
            raise ValueError("assets: exactly one settlement asset (without a book) is needed")
        for i, pop in enumerate(self.populations):
            if pop.collateral not in symbols:
                raise ValueError(f"populations[{i}].collateral: {pop.collateral!r} is not an asset ({symbols})")
        return self
