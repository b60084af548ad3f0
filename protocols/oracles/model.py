"""Oracle protocols: push feeds whose answer moves only by transmission transactions, and
fixed (pegged) prices (mechanics §5.1, §5.4)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from defisim.eventlog import Column
from defisim.protocol import Protocol, handler
from defisim.tx import Revert

from .params import FixedOracleParams, PushOracleParams

__all__ = ["PushOracle", "FixedOracle", "OracleState"]

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
