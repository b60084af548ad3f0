"""Oracle protocols: push feeds whose answer moves only by transmission transactions, fixed
(pegged) prices, Maker's one-hour delayed OSM, and exchange-rate adapters that derive a wrapped
or receipt token's price from its underlying's oracle (Chainlink Data Feeds docs: a new round on a deviation threshold or a heartbeat; Chainlink Data Feeds docs and Maker `osm.sol`; Maker `osm.sol`, `OSM.poke`: the price released one `hop` (an hour) late; Aave `AaveOracle.getAssetPrice` with Chainlink-compatible exchange-rate adapters).

In the exposure graph an oracle stands for the price it gives: its distress is its fall from its
first answer."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

from defisim.base import Column
from defisim.base import Protocol, handler, is_number
from defisim.base import Revert

from defisim.graph import Exposure

from .params import ExchangeRateOracleParams, FixedOracleParams, OsmParams, PushOracleParams

__all__ = ["PushOracle", "FixedOracle", "Osm", "ExchangeRateOracle", "OracleState", "OsmState"]

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


class _Oracle(Protocol, ABC):
    """What the oracles share: ``price()`` (USD) and a distress that is the fall from the first
    answer, ``max(0, 1 − price / first_price)`` (set ``first_price`` at the end of ``__init__``)."""

    first_price = math.nan

    @abstractmethod
    def price(self) -> float:
        """The answer consumers read now (USD)."""

    def distress(self) -> float:
        return max(0.0, 1.0 - self.price() / self.first_price)


class PushOracle(_Oracle):
    """Chainlink-style aggregator (Chainlink Data Feeds docs: a new round on a deviation threshold or a heartbeat). Call: ``transmit(answer, observed_ms)`` by the
    transmitter. ``price()`` is what consumers read: the last included answer, however stale."""

    kind = "oracles.push"
    Params = PushOracleParams

    def __init__(self, name: str, params: PushOracleParams, host):
        super().__init__(name, params, host)
        self.state = OracleState(params.initial_answer, 0, 0, 0)
        self._log = host.log.declare("oracle_updates", "on-chain oracle rounds", UPDATE_COLUMNS, role="oracle_rounds")
        self.first_price = self.price()

    def price(self) -> float:
        """The current on-chain answer (USD)."""
        return self.state.answer

    @handler(gas=220_000, revert_gas=30_000)
    def transmit(self, sender: str, answer: float, observed_ms: int) -> float:
        """Post a report observed at ``observed_ms``; a report older than the current one reverts."""
        p = self.params
        if sender != p.transmitter:
            raise Revert("caller is not the transmitter")
        if not (is_number(answer) and math.isfinite(answer) and answer > 0):
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


class FixedOracle(_Oracle):
    """A pegged price that never moves (Chainlink Data Feeds docs and Maker `osm.sol`)."""

    kind = "oracles.fixed"
    Params = FixedOracleParams

    def __init__(self, name: str, params: FixedOracleParams, host):
        super().__init__(name, params, host)
        self.state = params.price
        self.first_price = self.price()

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


class Osm(_Oracle):
    """Maker's Oracle Security Module (``oracles.osm``, Maker `osm.sol`, `OSM.poke`: the price released one `hop` (an hour) late). Call: ``poke()``, by anyone,
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
        self.first_price = self.price()

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """The released price is the source's, one hop late (``oracle``; no balance of its own)."""
        return [Exposure(self.name, self.params.source, "oracle", 0.0)]

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


class ExchangeRateOracle(_Oracle):
    """An exchange-rate adapter (``oracles.exchange_rate``, Aave `AaveOracle.getAssetPrice` with Chainlink-compatible exchange-rate adapters; Chainlink Data Feeds docs and Maker `osm.sol`): the price of a
    wrapped, staked or receipt token as ``rate × receipt × underlying``, where ``underlying`` is
    another oracle's answer (USD), ``rate`` the tokens of underlying one token redeems for, and
    ``receipt`` — with ``receipt_pool`` — the pool's ``receipt_rate(receipt_asset)``: a receipt
    token written down by its reserve's deficit. A fall of the underlying or a deficit upstream
    passes straight through (a CAPO caps only rises).

    If the scenario cuts the edge to the underlying (``[[exposures.cut]]``), the adapter reads the
    underlying's first answer for ever; cut from the pool, the receipt stays whole.
    """

    kind = "oracles.exchange_rate"
    Params = ExchangeRateOracleParams

    def __init__(self, name: str, params: ExchangeRateOracleParams, host):
        super().__init__(name, params, host)
        underlying = host.protocols.get(params.underlying)
        if not isinstance(underlying, _Oracle):
            raise ValueError(f"protocols.{name}.underlying: {params.underlying!r} must be an oracle listed before it")
        self._underlying = underlying
        self._frozen_underlying = float(underlying.price()) if host.is_cut(name, params.underlying) else None
        self._pool = None
        if params.receipt_pool is not None:
            pool = host.protocols.get(params.receipt_pool)
            if pool is None or not hasattr(pool, "receipt_rate"):
                raise ValueError(f"protocols.{name}.receipt_pool: {params.receipt_pool!r} must be a lending pool listed before it")
            if params.receipt_asset not in pool.index:
                raise ValueError(f"protocols.{name}.receipt_asset: {params.receipt_asset!r} is not a reserve of {params.receipt_pool!r}")
            self._pool = None if host.is_cut(name, params.receipt_pool) else pool
        self.first_price = self.price()

    def price(self) -> float:
        """``rate × receipt × underlying`` (USD)."""
        under = self._frozen_underlying if self._frozen_underlying is not None else self._underlying.price()
        receipt = 1.0 if self._pool is None else self._pool.receipt_rate(self.params.receipt_asset)
        return self.params.rate * receipt * under

    def prices(self) -> dict[str, float]:
        return {"answer": self.price()}

    def view(self) -> float:
        return self.price()

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """Its price depends on the underlying's (``oracle``) and, for a receipt token, on the
        pool's solvency (``backing``); an adapter holds nothing, so the amounts are 0 — the
        consumers' edges carry the value."""
        out = [Exposure(self.name, self.params.underlying, "oracle", 0.0)]
        if self.params.receipt_pool is not None:
            out.append(Exposure(self.name, self.params.receipt_pool, "backing", 0.0))
        return out
