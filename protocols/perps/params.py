"""Parameters of an order-book perp venue (dYdX v4 and Hyperliquid docs): frozen pydantic models that
fail at construction with the field and the reason. Prices and notionals USD, times
as durations (``"3s"``, ``"1h"`` or ms), fractions plain floats."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import Distribution, FeedAsset, LogNormal, VenueName, population_count, protocol_of, unit
from defisim.base import DurationMs

from .margin import margin_tiers

__all__ = ["PerpMarketParams", "PerpPopulationParams", "PerpVenueParams", "PoolPerpVenueParams", "check_perp_venue"]

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
#: Memory a run holds per account of a population (its position and margin rows), bytes.
ACCOUNT_BYTES = 600


class PerpMarketParams(BaseModel):
    """One market: its index is the feed of ``asset`` (``markets.feeds``), its book the off-chain
    venue ``book`` (``markets.venues``)."""

    model_config = _CONFIG

    symbol: str = Field(min_length=1, description="market symbol")
    asset: FeedAsset = Field(description="feed giving the index (oracle) price")
    book: VenueName = Field(description="venue whose walk fills the market's orders")
    max_leverage: float = Field(20.0, gt=1.0,
        description="initial margin 1/max_leverage, maintenance half of it", json_schema_extra=unit("x"))
    impact_notional_usd: float = Field(20_000.0, gt=0.0, description="notional of the premium's impact prices")
    funding_cap: float = Field(0.04, gt=0.0,
        description="cap on the funding rate per interval (fraction)", json_schema_extra=unit("fraction"))
    mm_tiers: tuple[tuple[float, float], ...] = Field(
        (), description="maintenance brackets: [from notional USD, maintenance fraction] pairs from 0 up (empty: flat)")
    im_tiers: tuple[tuple[float, float], ...] = Field(
        (), description="initial-margin brackets: [from notional USD, initial fraction of the whole notional] pairs from 0 up "
        "(empty: twice mm_tiers, or 1/max_leverage)")
    mark: Literal["hyperliquid", "binance"] = Field("hyperliquid", description="mark price rule (Hyperliquid oracle and mark-price docs; Binance Futures mark price)")

    @model_validator(mode="after")
    def _tiers(self) -> "PerpMarketParams":
        for name in ("mm_tiers", "im_tiers"):
            tiers = getattr(self, name)
            top = 1.0 if name == "im_tiers" else 1.0 - 1e-12  # 100% initial margin is 1× leverage
            if any(not 0.0 < f <= top for _, f in tiers):
                raise ValueError(f"{name}: margin fractions must be in (0, 1{']' if name == 'im_tiers' else ')'}")
        margin_tiers(self.symbol, self.max_leverage, self.mm_tiers, self.im_tiers)  # the market's own check
        return self


class PerpPopulationParams(BaseModel):
    """``count`` accounts opened at the start, one position each in ``market``: notional drawn
    from ``notional_usd``, leverage from ``leverage`` (kept below the market's maximum), long
    with probability ``long_share``."""

    model_config = _CONFIG

    market: str = Field(description="market symbol of the positions")
    count: population_count(ACCOUNT_BYTES, "accounts") = Field(description="accounts opened")


    notional_usd: Distribution = Field(LogNormal(median=20_000.0, sigma=1.0), description="notional per position")
    leverage: Distribution = Field(LogNormal(median=4.0, sigma=0.6),
        description="leverage per position (kept below the market's maximum)", json_schema_extra=unit("x"))
    long_share: float = Field(0.5, ge=0.0, le=1.0,
        description="probability that a position is long", json_schema_extra=unit("fraction"))


class PerpVenueParams(BaseModel):
    """A perp venue (Hyperliquid / dYdX / CEX style): off-chain, orders run on arrival after
    the sender's latency; ``onchain``, they run when their transaction is included in a block."""

    model_config = _CONFIG

    markets: tuple[PerpMarketParams, ...] = Field(min_length=1, description="the venue's markets")
    onchain: bool = Field(False, description="orders are transactions through the mempool (else off-chain calls)")
    collateral_token: protocol_of("token.ledger", role="token ledger") | None = Field(
        None, description="token.ledger protocol deposits and withdrawals move (USD-valued at 1 per token)")
    insurance_fund_usd: float = Field(0.0, ge=0.0, description="insurance fund (or vault) at the start")
    liquidation_fee: float = Field(0.01, ge=0.0, lt=1.0,
        description="share of the liquidated notional paid to the fund", json_schema_extra=unit("fraction"))
    funding_interval: DurationMs = Field(3_600_000, gt=0, description="between funding payments")
    tick: DurationMs = Field(3_000, gt=0, description="oracle tick: mark, premium sample, margin check")
    partial_above_usd: float | None = Field(None, gt=0,
        description="accounts above this notional are liquidated a share at a time")
    partial_share: float = Field(0.2, gt=0, le=1,
        description="share closed per partial step", json_schema_extra=unit("fraction"))
    partial_cooldown: DurationMs = Field(30_000, ge=0, description="between two partial steps of one account")
    backstop_fraction: float = Field(2.0 / 3.0, gt=0, le=1,
        description="below this share of maintenance: all at once", json_schema_extra=unit("fraction"))
    populations: tuple[PerpPopulationParams, ...] = Field((), description="accounts opened at the start")

    @model_validator(mode="after")
    def _consistent(self) -> "PerpVenueParams":
        symbols = [m.symbol for m in self.markets]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"markets: symbols must be unique, got {symbols}")
        for i, pop in enumerate(self.populations):
            if pop.market not in symbols:
                raise ValueError(f"populations[{i}].market: {pop.market!r} is not one of the markets {symbols}")
        return self


class PoolPerpVenueParams(BaseModel):
    """A pool-based perp market (GMX v2 style, dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs; dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs; Hyperliquid auto-deleveraging docs; Binance Futures ADL): the LP pool ``pool_usd`` is the
    counterparty of every position; its index is the feed of ``asset``. Factors per second."""

    model_config = _CONFIG

    asset: FeedAsset = Field(description="feed giving the index price")
    pool_usd: float = Field(gt=0, description="liquidity pool at the start (USD)")
    funding_factor: float = Field(1e-8, ge=0,
        description="GMX fundingFactor: the larger side pays factor · |OI_long − OI_short|^exponent / OI per second", json_schema_extra=unit("per second"))
    funding_exponent: float = Field(1.0, gt=0, description="GMX fundingExponentFactor")
    borrowing_factor: float = Field(1e-9, ge=0,
        description="GMX borrowingFactor: each position pays factor · (OI / pool)^exponent of its size per second", json_schema_extra=unit("per second"))
    borrowing_exponent: float = Field(1.0, gt=0, description="GMX borrowingExponentFactor")
    impact_factor: float = Field(0.0, ge=0,
        description="GMX price-impact factor f: impact = f·d_before^e − f·d_after^e, d the OI imbalance (USD)")
    impact_exponent: float = Field(2.0, gt=0, description="GMX price-impact exponent e")
    min_collateral_usd: float = Field(1.0, ge=0,
        description="liquidated below max(this, |size| · min_collateral_factor) of collateral")
    min_collateral_factor: float = Field(0.01, ge=0, lt=1,
        description="see min_collateral_usd", json_schema_extra=unit("fraction"))
    max_pnl_factor: float = Field(0.5, gt=0,
        description="ADL starts when a side's pending profit exceeds this share of the pool", json_schema_extra=unit("fraction"))
    adl_target_factor: float = Field(0.4, gt=0,
        description="ADL closes positions until the pending profit is back at this share", json_schema_extra=unit("fraction"))
    tick: DurationMs = Field(1_000, gt=0, description="how often keepers look at the market")
    count: int = Field(0, ge=0, description="positions opened at the start")
    notional_usd: Distribution = Field(LogNormal(median=20_000.0, sigma=1.0),
        description="notional per position opened at the start")
    leverage: Distribution = Field(LogNormal(median=5.0, sigma=0.5),
        description="leverage per position", json_schema_extra=unit("x"))
    long_share: float = Field(0.5, ge=0, le=1,
        description="probability that a position is long", json_schema_extra=unit("fraction"))

    @model_validator(mode="after")
    def _adl_target_below_trigger(self) -> "PoolPerpVenueParams":
        if self.adl_target_factor > self.max_pnl_factor:
            raise ValueError(f"adl_target_factor ({self.adl_target_factor}) must not exceed max_pnl_factor ({self.max_pnl_factor})")
        return self


def check_perp_venue(name: str, params: PerpVenueParams, scenario) -> None:
    """A market's book must quote the asset of its index feed: the book fills orders on the
    price the index marks them against."""
    venues = scenario.spec.markets.venues
    for i, market in enumerate(params.markets):
        book = venues.get(market.book)
        if book is not None and book.asset != market.asset:
            raise ValueError(f"protocols.{name}.markets.{i}.book: venue {market.book!r} quotes {book.asset}, "
                             f"but the market's index is the {market.asset} feed (asset)")
