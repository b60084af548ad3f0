"""Parameters of a delta-neutral synthetic dollar and of its redemption arbitrageurs
(Ethena docs): frozen pydantic models failing at construction with the field and the reason."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from defisim.base import DurationMs, FeedAsset, VenueName, protocol_of, unit

__all__ = ["DeltaNeutralParams", "RedeemArbitrageurParams"]

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DeltaNeutralParams(BaseModel):
    """The issuer: spot of ``asset`` (a feed) hedged by shorting ``market`` on the perp venue
    ``venue`` (a ``perps.orderbook`` protocol listed before it)."""

    model_config = _CONFIG

    venue: protocol_of("perps.orderbook", role="perp venue") = Field(description="perp venue (perps.orderbook) of the hedge")
    market: str = Field(description="its market the short is in")
    asset: FeedAsset = Field(description="feed of the backing asset's spot price")
    symbol: str = Field("USDe", description="symbol of the synthetic dollar")
    supply_usd: float = Field(ge=0, description="minted at the start")
    staked_share: float = Field(0.5, ge=0, le=1,
        description="share of the supply staked in the vault at the start", json_schema_extra=unit("fraction"))
    margin_share: float = Field(0.2, gt=0, lt=1,
        description="share of the backing posted as margin on the perp venue", json_schema_extra=unit("fraction"))
    mint_limit_usd: float = Field(2e6, gt=0, description="per window")
    redeem_limit_usd: float = Field(2e6, gt=0, description="per window")
    window: DurationMs = Field(12_000, gt=0, description="the limits' window (a block)")
    reserve_fund_usd: float = Field(0.0, ge=0, description="reserve fund absorbing negative funding")
    settle_every: DurationMs = Field(3_600_000, gt=0, description="rebalance and book the result this often")


class RedeemArbitrageurParams(BaseModel):
    """A whitelisted arbitrageur: when ``venue``'s mid is below ``1 − min_discount``, it buys up
    to ``max_usd`` of the dollar there and redeems it at the ``issuer`` for $1 each."""

    model_config = _CONFIG

    issuer: protocol_of("stablecoins.delta_neutral", role="issuer") = Field(
        description="the issuer (stablecoins.delta_neutral) it redeems at")
    venue: VenueName = Field(description="venue where it buys below peg")
    min_discount: float = Field(0.002, gt=0, lt=1,
        description="buy and redeem when the book is this far below $1", json_schema_extra=unit("fraction"))
    max_usd: float = Field(1e6, gt=0, description="bought per attempt")
    every: DurationMs = Field(12_000, gt=0, description="how often it looks")
