"""Assembling and running a simulation from a validated scenario."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping

import simpy

from defisim.run.context import AgentContext
from defisim.chain.background import BackgroundDemand
from defisim.chain.blockchain import Chain
from defisim.base.eventlog import EventLog
from defisim.chain.execution import Executor
from defisim.graph.recorder import ExposureRecorder, contagion_summary
from defisim.chain.network import LatencySampler
from defisim.run.observe import PriceRecorder
from defisim.markets.venues import build_markets, market_maker_process
from defisim.chain.ordering import make_policy
from defisim.base.protocol import BlockInfo, Protocol
from defisim.base.registry import Registry, default_registry
from defisim.results.crisis import crisis_summary, run_warnings
from defisim.results.roles import CALLS_KEY
from defisim.run.backlog import record_backlog
from defisim.run.end_loss import record_books_at_end
from defisim.results.results import Results, engine_summary
from defisim.base.rng import RngTree
from defisim.scenario.loading import Scenario

__all__ = ["Simulation", "ProtocolHost", "run_scenario"]


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector around the event loop and the building of the
    result tables, then restore it.

    Neither creates reference cycles per transaction (receipt events drop their callbacks
    once processed), so reference counting frees everything; the cyclic collector would only
    rescan the growing event log, at about a quarter of the run time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class ProtocolHost:
    """Engine services handed to protocols: event tables, random streams, the other protocols, and
    the markets' feeds and off-chain venues (for off-chain protocols such as perp venues).

    ``protocols`` lets one protocol read another (a lending pool reading its oracle);
    calls that change another protocol's state go through transactions.
    """

    def __init__(self, env: simpy.Environment, log: EventLog, rng: RngTree, protocols: Mapping[str, Protocol],
                 feeds: Mapping | None = None, venues: Mapping | None = None, cut: Iterable = ()):
        self.env = env
        self.log = log
        self._rng = rng
        self.protocols = protocols
        self.feeds = feeds or {}  # asset -> exogenous price path (off-chain venues read them)
        self.venues = venues or {}  # name -> off-chain book
        self._cut = frozenset((c.source, c.target) for c in cut)

    def is_cut(self, source: str, target: str) -> bool:
        """Whether the scenario cuts the exposure edge ``source → target`` (``[[exposures.cut]]``):
        the protocol must then not follow ``target``."""
        return (source, target) in self._cut

    @property
    def now_ms(self) -> int:
        return self.env.now

    def stream(self, name: str):
        """The random stream ``"protocol/<name>"``."""
        return self._rng.stream(f"protocol/{name}")


class Simulation:
    """One run of a scenario with one seed.

    Parameters
    ----------
    scenario : Scenario
    seed : int, optional
        Overrides the scenario's seed.
    registry : Registry, optional
        Where protocol and agent kinds are looked up (default: the entry points).
    """

    def __init__(self, scenario: Scenario, seed: int | None = None, registry: Registry | None = None):
        registry = registry or default_registry()
        spec = scenario.spec
        self.scenario = scenario
        self.seed = spec.seed if seed is None else seed
        self.env = simpy.Environment()
        self.rng = RngTree(self.seed)
        self.log = EventLog()
        self.protocols: dict[str, Protocol] = {}
        self.feeds, self.venues = build_markets(spec.markets, self.rng)
        for venue in self.venues.values():
            if venue.market_maker is not None:
                self.env.process(market_maker_process(self.env, venue))
        host = ProtocolHost(self.env, self.log, self.rng, self.protocols, self.feeds, self.venues, spec.exposures.cut)
        for name, (kind, params) in scenario.protocols.items():
            self.protocols[name] = registry.protocols[kind].factory(name, params, host)
        self.policy = make_policy(spec.chain.ordering, self.rng.stream("ordering"))
        self.chain = Chain(
            self.env,
            spec.chain,
            spec.mempool,
            BackgroundDemand(spec.background, self.rng.stream("background")),
            self.policy,
            Executor(self.protocols),
            self.log,
            self.rng.stream("chain/missed_slots"),
        )
        self.prices = PriceRecorder(self.log, self.feeds, self.venues, self.protocols)
        self.exposures = ExposureRecorder(self.log, self.protocols, spec.exposures, spec.ecosystem)
        self.agents: list[AgentContext] = []
        self.notes: dict[str, str] = {}  # agent -> its warning for the summary (AgentContext.warn)
        self.shared: dict[str, object] = {}  # what agents use together (AgentContext.shared)
        self.signers: dict[str, AgentContext] = {}  # address -> the run's one context for it
        for group, params in zip(spec.agents, scenario.agents):
            factory = registry.agents[group.kind].factory
            for i in range(group.count):
                name = f"{group.name or group.kind}/{i}"
                ctx = self._signer(name)
                self.agents.append(ctx)
                self.env.process(factory(ctx, params, i))

    def _signer(self, name: str) -> AgentContext:
        """The run's one context for the address ``name`` (an agent's own, or one an agent acts
        for through :meth:`AgentContext.account`): made on first use, so that every agent signing
        for an address draws from its one nonce counter."""
        ctx = self.signers.get(name)
        if ctx is None:
            ctx = self.signers[name] = self._context(name)
        return ctx

    def _context(self, name: str) -> AgentContext:
        """A new agent context for the address ``name``, with its own random and latency streams."""
        net = self.scenario.spec.network
        return AgentContext(
            name,
            self.env,
            self.chain,
            self.protocols,
            self.rng.stream(f"agent/{name}"),
            LatencySampler(net.public_latency, self.rng.stream(f"latency/{name}/public")),
            LatencySampler(net.private_latency, self.rng.stream(f"latency/{name}/private")),
            self.venues,
            self.prices.trades,
            self._signer,
            self.feeds,
            self.notes,
            self.shared,
        )

    def _usd_per_gas(self, now_ms: int) -> float:
        """The gas price at the end, USD per unit of gas: the base fee plus the median tip of recent
        blocks (gwei), at the native asset's feed price (0 without that feed)."""
        feed = self.feeds.get(self.chain.spec.native_asset)
        if feed is None:
            return 0.0
        tip = self.chain.inclusion_tip_gwei(0.5)
        gwei = self.chain.base_fee_gwei + (tip if tip == tip else 0.0)
        return gwei * 1e-9 * feed.price_at(now_ms)

    def run(self, blocks: int | None = None, progress: bool = False) -> Results:
        """Simulate ``blocks`` blocks (default: the scenario's) and return the results."""
        n = self.scenario.spec.blocks if blocks is None else blocks
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=n, unit="block", desc=self.scenario.spec.name, leave=False, mininterval=0.5)

            def on_block(b: BlockInfo, bar=bar, prices=self.prices, exposures=self.exposures):
                prices(b)
                exposures(b)
                bar.update(1)
        else:
            def on_block(b: BlockInfo, prices=self.prices, exposures=self.exposures):
                prices(b)
                exposures(b)

        done = self.env.process(self.chain.run(n, on_block))
        with _cyclic_gc_paused():
            self.env.run(until=done)
            self.chain.finish()
            self.prices.finish()
            self.exposures.finish(self.chain.number, int(self.env.now))
            now = int(self.env.now)
            sale_prices = record_books_at_end(self.log, self.protocols, self.feeds, self.venues, now)
            record_backlog(self.log, self.protocols, sale_prices, self._usd_per_gas(now), now)
            tables = self.log.frames()
        if bar is not None:
            bar.close()
        schema = self.log.schema()
        calls: dict[str, list[list[str]]] = {}
        for name, p in self.protocols.items():
            for role, methods in p.calls_by_role().items():
                calls.setdefault(role, []).extend([name, m] for m in methods)
        if "txs" in schema:
            schema["txs"][CALLS_KEY] = calls
        summary: dict[str, Any] = {**engine_summary(tables), **crisis_summary(tables, schema), **contagion_summary(tables)}
        for name, p in self.protocols.items():
            for k, v in p.summary(tables).items():
                summary[f"{name}.{k}"] = v
        meta = {
            "scenario": self.scenario.to_dict(),
            "scenario_hash": self.scenario.hash,
            "source": self.scenario.source,
            "seed": self.seed,
            "blocks": n,
            "warnings": run_warnings(summary, self.notes),
        }
        return Results(tables, meta, summary, schema)


def run_scenario(scenario: Scenario, seed: int | None = None, blocks: int | None = None, progress: bool = False) -> Results:
    """Build and run a :class:`Simulation` in one call."""
    return Simulation(scenario, seed).run(blocks, progress)
