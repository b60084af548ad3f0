"""Oracle protocols: push feeds whose answer moves only by transmission transactions, fixed
(pegged) prices, and Maker's one-hour delayed OSM (mechanics §5.1, §5.4, §3.6)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from defisim.eventlog import Column
from defisim.protocol import Protocol, handler
from defisim.tx import Revert

from .params import FixedOracleParams, OsmParams, PushOracleParams

__all__ = ["PushOracle", "FixedOracle", "Osm", "OracleState", "OsmState"]

UPDATE_COLUMNS = [
    Column("block", "int64", "block number of the transmission"),
    Column("oracle", "string", "oracle protocol instance"),
    Column("answer", "float64", "new on-chain answer after clamping (USD)"),
    Column("reported", "float64", "price in the report before clamping (USD)"),
    Column("observed_ms", "int64", "time the nodes observed the price (ms)"),
    Column("updated_ms", "int64", "block time the answer took effect (ms)"),
    Column("lag_ms", "int64", "updated_ms - observed_ms: round latency plus inclusion delay (ms)"),
    Column("round_id", "int64", "round number after the update"),
]


@dataclass
class OracleState:
    """On-chain answer (USD), its block time and observation time (ms), and the round id."""

    answer: float
    updated_ms: int
    observed_ms: int
    round_id: int


class PushOracle(Protocol):
    """Chainlink-style aggregator (mechanics §5.1). Call: ``transmit(answer, observed_ms)`` by the
    transmitter. ``price()`` is what consumers read: the last included answer, however stale."""

    kind = "oracles.push"
    Params = PushOracleParams

    def __init__(self, name: str, params: PushOracleParams, host):
        super().__init__(name, params, host)
        self.state = OracleState(params.initial_answer, 0, 0, 0)
        self._log = host.log.declare("oracle_updates", "on-chain oracle rounds", UPDATE_COLUMNS)

    def price(self) -> float:
        """The current on-chain answer (USD)."""
        return self.state.answer

    @handler(gas=220_000, revert_gas=30_000)
    def transmit(self, sender: str, answer: float, observed_ms: int) -> float:
        """Post a report observed at ``observed_ms``; a report older than the current one reverts."""
        p = self.params
        if sender != p.transmitter:
            raise Revert("caller is not the transmitter")
        if not (isinstance(answer, (int, float)) and math.isfinite(answer) and answer > 0):
            raise Revert("answer must be a positive number")
        if observed_ms <= self.state.observed_ms and self.state.round_id > 0:
            raise Revert("stale report")
        clamped = max(answer, p.min_answer)
        if p.max_answer is not None:
            clamped = min(clamped, p.max_answer)
        now = self.block.time_ms
        s = self.state
        s.answer, s.updated_ms, s.observed_ms, s.round_id = clamped, now, observed_ms, s.round_id + 1
        self._log.append((self.block.number, self.name, clamped, float(answer), observed_ms, now, now - observed_ms, s.round_id))
        return clamped

    def prices(self) -> dict[str, float]:
        return {"answer": self.state.answer}

    def view(self) -> OracleState:
        """A copy of the state (``latestRoundData``)."""
        s = self.state
        return OracleState(s.answer, s.updated_ms, s.observed_ms, s.round_id)

    def summary(self, tables: dict) -> dict:
        t = tables["oracle_updates"]
        mine = t[t["oracle"] == self.name]
        return {
            "rounds": int(len(mine)),
            "lag_mean_s": float(mine["lag_ms"].mean() / 1000.0) if len(mine) else float("nan"),
            "lag_max_s": float(mine["lag_ms"].max() / 1000.0) if len(mine) else float("nan"),
        }


class FixedOracle(Protocol):
    """A pegged price that never moves (mechanics §5.4)."""

    kind = "oracles.fixed"
    Params = FixedOracleParams

    def __init__(self, name: str, params: FixedOracleParams, host):
        super().__init__(name, params, host)
        self.state = params.price

    def price(self) -> float:
        """The fixed answer (USD)."""
        return self.state

    def prices(self) -> dict[str, float]:
        return {"answer": self.state}

    def view(self) -> float:
        return self.state


@dataclass
class OsmState:
    """``cur`` (released price, USD), ``nxt`` (queued for the next hop, USD), ``zzz`` (time of the
    last poke floored to a multiple of ``hop``, ms)."""

    cur: float
    nxt: float
    zzz: int


class Osm(Protocol):
    """Maker's Oracle Security Module (``oracles.osm``, mechanics §3.6). Call: ``poke()``, by anyone,
    once ``hop`` has passed since ``zzz``: ``cur = nxt``, ``nxt`` = the source's price now,
    ``zzz = now − now mod hop``. ``price()`` is ``cur``: the source's price sampled one poke earlier,
    one to two hops old; ``nxt`` is public (``peep``), so everyone knows the next price in advance.
    Pokes are transactions: congestion delays them too.
    """

    kind = "oracles.osm"
    Params = OsmParams

    def __init__(self, name: str, params: OsmParams, host):
        super().__init__(name, params, host)
        source = host.protocols.get(params.source)
        if source is None:
            raise ValueError(f"protocols.{name}.source: {params.source!r} must be an oracle listed before the OSM")
        self._source = source
        start = float(source.price())
        self.state = OsmState(start, start, 0)
        self._log = host.log.declare("osm_pokes", "OSM pokes: the queued price released", POKE_COLUMNS)

    def price(self) -> float:
        """The released price (``peek``, USD)."""
        return self.state.cur

    def prices(self) -> dict[str, float]:
        return {"answer": self.state.cur, "next": self.state.nxt}

    def view(self) -> OsmState:
        s = self.state
        return OsmState(s.cur, s.nxt, s.zzz)

    @handler(gas=60_000, revert_gas=25_000)
    def poke(self, sender: str) -> float:
        """Release the queued price and queue the source's current one; reverts before the hop."""
        now, hop, s = self.block.time_ms, self.params.hop, self.state
        if now < s.zzz + hop:
            raise Revert("OSM/not-passed")
        released = s.nxt
        s.cur, s.nxt, s.zzz = released, float(self._source.price()), now - now % hop
        self._log.append((self.block.number, self.name, sender, released, s.nxt, now))
        return released

    def summary(self, tables: dict) -> dict:
        t = tables["osm_pokes"]
        return {"pokes": int((t["oracle"] == self.name).sum())}


POKE_COLUMNS = [
    Column("block", "int64", "block number of the poke"),
    Column("oracle", "string", "OSM protocol instance"),
    Column("sender", "string", "who poked"),
    Column("released_usd", "float64", "price released (the new cur, USD)"),
    Column("queued_usd", "float64", "source price queued for the next hop (the new nxt, USD)"),
    Column("time_ms", "int64", "block time of the poke (ms)"),
]
