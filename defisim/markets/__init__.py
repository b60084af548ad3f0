"""The markets floor: exogenous prices and the off-chain venues that trade against them.

Price feeds (:mod:`.feeds`) and their file format (:mod:`.price_csv`), venues with depth
and market makers (:mod:`.venues`), and their spec (:mod:`.spec`). Imports only
:mod:`defisim.base`.
"""
from defisim.markets.price_csv import FeedFileError, read_price_csv
from defisim.markets.spec import GbmFeedSpec, JumpDiffusionFeedSpec, RampMove, HoldMove, JumpMove, Move, NoiseSpec, ScriptedFeedSpec, CsvFeedSpec, FeedSpec, LinearDepthSpec, SqrtDepthSpec, DepthSpec, MarketMakerSpec, VenueSpec, MarketSpec
from defisim.markets.feeds import MS_PER_YEAR, Feed, ConstantFeed, GbmFeed, JumpDiffusionFeed, ScriptedFeed, CsvFeed, build_feed, realized_volatility, trailing_realized_volatility
from defisim.markets.venues import LinearDepth, SqrtDepth, depth_curve, RollingRealizedVolatility, MarketMakerState, VenueEvent, Venue, market_maker_step, market_maker_process, build_venue, build_markets

__all__ = [
    "FeedFileError",
    "read_price_csv",
    "GbmFeedSpec",
    "JumpDiffusionFeedSpec",
    "RampMove",
    "HoldMove",
    "JumpMove",
    "Move",
    "NoiseSpec",
    "ScriptedFeedSpec",
    "CsvFeedSpec",
    "FeedSpec",
    "LinearDepthSpec",
    "SqrtDepthSpec",
    "DepthSpec",
    "MarketMakerSpec",
    "VenueSpec",
    "MarketSpec",
    "MS_PER_YEAR",
    "Feed",
    "ConstantFeed",
    "GbmFeed",
    "JumpDiffusionFeed",
    "ScriptedFeed",
    "CsvFeed",
    "build_feed",
    "realized_volatility",
    "trailing_realized_volatility",
    "LinearDepth",
    "SqrtDepth",
    "depth_curve",
    "RollingRealizedVolatility",
    "MarketMakerState",
    "VenueEvent",
    "Venue",
    "market_maker_step",
    "market_maker_process",
    "build_venue",
    "build_markets",
]
