"""Oracles: push feeds (Chainlink-style), fixed/pegged prices, and their updater agents (mechanics §5)."""
from .agents import PushUpdater
from .model import FixedOracle, PushOracle
from .params import FixedOracleParams, PushOracleParams, PushUpdaterParams

__all__ = ["PushOracle", "FixedOracle", "PushUpdater", "register"]


def register(registry) -> None:
    """Register the oracle kinds."""
    registry.protocol("oracles.push", PushOracleParams, PushOracle, "push feed: deviation + heartbeat rounds sent as txs")
    registry.protocol("oracles.fixed", FixedOracleParams, FixedOracle, "a pegged / fixed price")
    registry.agent("oracles.push_updater", PushUpdaterParams, PushUpdater, "node network observing venues and transmitting")
