"""Oracles: push feeds (Chainlink-style), fixed/pegged prices, Maker's delayed OSM, spot and TWAP
reads of an on-chain pool, a pull oracle (Pyth-like), and the agents
that update them (Chainlink Data Feeds docs; Pyth docs; Maker `osm.sol`, `OSM.poke`: the price released one `hop` (an hour) late)."""
from .agents import Poker, PushUpdater
from .checks import check_push_updater, oracle_asset, same_asset
from .model import ExchangeRateOracle, FixedOracle, Osm, PushOracle
from .params import (ExchangeRateOracleParams, FixedOracleParams, OsmParams, PokerParams, PushOracleParams, PushUpdaterParams,
                     PullOracleParams, SpotOracleParams, TwapOracleParams, AnchoredOracleParams)
from .pool_oracles import SpotOracle, TwapOracle
from .pull import PullOracle
from .anchored import AnchoredOracle

__all__ = ["PushOracle", "FixedOracle", "Osm", "ExchangeRateOracle", "SpotOracle", "TwapOracle", "PullOracle", "AnchoredOracle", "PushUpdater", "Poker", "register", "oracle_asset",
           "same_asset"]


def register(registry) -> None:
    """Register the oracle kinds."""
    registry.protocol("oracles.push", PushOracleParams, PushOracle, "push feed: deviation + heartbeat rounds sent as txs")
    registry.protocol("oracles.fixed", FixedOracleParams, FixedOracle, "a pegged / fixed price")
    registry.protocol("oracles.osm", OsmParams, Osm, "Maker OSM: a source oracle's price released one hour late")
    registry.protocol("oracles.exchange_rate", ExchangeRateOracleParams, ExchangeRateOracle,
                      "a wrapped/receipt token's price: rate × receipt × an underlying oracle")
    registry.protocol("oracles.spot", SpotOracleParams, SpotOracle, "an on-chain pool's marginal price, read when asked")
    registry.protocol("oracles.twap", TwapOracleParams, TwapOracle,
                      "Uniswap v2 TWAP: a pool's price averaged over a sliding window from its cumulative price")
    registry.protocol("oracles.pull", PullOracleParams, PullOracle,
                      "Pyth-like pull oracle: signed prices posted with a fee, read with staleness and confidence checks")
    registry.protocol("oracles.anchored", AnchoredOracleParams, AnchoredOracle,
                      "Compound's anchored view: a reporter's price taken only within a tolerance of a TWAP anchor")
    registry.agent("oracles.push_updater", PushUpdaterParams, PushUpdater, "node network observing venues and transmitting",
                   check_push_updater)
    registry.agent("oracles.poker", PokerParams, Poker, "pokes an OSM once its hop has passed")
