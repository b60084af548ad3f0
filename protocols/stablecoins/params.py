"""Parameters of a delta-neutral synthetic dollar and of its redemption arbitrageurs
(mechanics.md §10): frozen pydantic models failing at construction with the field and the reason."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from defisim.base import DurationMs, FeedAsset, VenueName, protocol_of

__all__ = ["DeltaNeutralParams", "RedeemArbitrageurParams"]

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DeltaNeutralParams(BaseModel):
    """The issuer: spot of ``asset`` (a feed) hedged by shorting ``market`` on the perp venue
    ``venue`` (a ``perps.orderbook`` protocol listed before it)."""

    model_config = _CONFIG

    venue: protocol_of("perps.orderbook", role="perp venue")
    market: str
    asset: FeedAsset = Field(description="feed of the backing asset's spot price")
    symbol: str = "USDe"
    supply_usd: float = Field(ge=0, description="minted at the start")
    staked_share: float = Field(0.5, ge=0, le=1, description="share of the supply staked in the vault at the start")
    margin_share: float = Field(0.2, gt=0, lt=1)
    mint_limit_usd: float = Field(2e6, gt=0, description="per window")
    redeem_limit_usd: float = Field(2e6, gt=0, description="per window")
    window: DurationMs = Field(12_000, gt=0, description="the limits' window (a block)")
    reserve_fund_usd: float = Field(0.0, ge=0)
    settle_every: DurationMs = Field(3_600_000, gt=0, description="rebalance and book the result this often")


class RedeemArbitrageurParams(BaseModel):
    """A whitelisted arbitrageur: when ``venue``'s mid is below ``1 − min_discount``, it buys up
    to ``max_usd`` of the dollar there and redeems it at the ``issuer`` for $1 each."""

    model_config = _CONFIG

    issuer: protocol_of("stablecoins.delta_neutral", role="issuer")
    venue: VenueName
    min_discount: float = Field(0.002, gt=0, lt=1)
    max_usd: float = Field(1e6, gt=0, description="bought per attempt")
    every: DurationMs = Field(12_000, gt=0, description="how often it looks")
