"""The exposure graph in a run (DESIGN §7, contagion.md §8): snapshots, and losses along edges.

Called once per block after its transactions, an :class:`ExposureRecorder`

- writes the live graph (each protocol's ``exposures()`` plus the scenario's ``[ecosystem]``,
  minus the cut edges) to the ``exposures`` table at the start (block 0, before the first
  block), every ``every_blocks`` blocks and at every block
  that added a row to a liquidation or bad-debt table;
- tracks each node's *distress* ``h ∈ [0, 1]``: a protocol's own measure (``distress()``: a lending
  pool's deficit over its deposits, an oracle's fall from its first price), a token's that of the
  oracle pricing it, and an abstract counterparty's cumulative loss over its equity;
- and pushes losses along edges: when the running maximum of ``h_v`` rises by ``Δh``, each edge
  ``u → v`` carries ``amount_usd × (1 − recovery) × Δh`` to ``u``, ``delay_blocks`` blocks later
  (oracle edges excepted: they hold no value, their price reaches the token they name)
  (a linear DebtRank in simulated time, contagion.md §3, §8). Each such loss is a row of
  ``contagion_losses``; an abstract counterparty's distress is what reached it over its equity,
  so losses travel on through its own creditors.

Losses are crystallised at the running maximum: a price that recovers does not give them back.
Edges are visited in sorted order, so the tables are identical for the same seed.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Mapping

from ..eventlog import Column, EventLog
from .exposure import ExposureGraph
from .spec import EcosystemSpec, ExposureSpec

__all__ = ["ExposureRecorder", "contagion_summary", "EXPOSURE_COLUMNS", "NODE_SNAPSHOT_COLUMNS", "LOSS_COLUMNS", "TRIGGER_TABLES"]

EXPOSURE_COLUMNS = [
    Column("block", "int64", "block after which the snapshot was taken"),
    Column("time_ms", "int64", "its timestamp (ms)"),
    Column("trigger", "string", "'start' (block 0), 'cadence' or 'event' (a liquidation or bad debt in the block)"),
    Column("source", "string", "node that loses when the target fails"),
    Column("target", "string", "node it is exposed to"),
    Column("kind", "string", "collateral, backing, lp, oracle, debt or wrapping"),
    Column("amount_usd", "float64", "exposure (USD)"),
    Column("recovery", "float64", "fraction recovered when the target fails"),
    Column("delay_blocks", "int64", "blocks before a loss reaches the source"),
    Column("asset", "string", "on oracle edges, the token priced"),
]
NODE_SNAPSHOT_COLUMNS = [
    Column("block", "int64", "block after which the snapshot was taken"),
    Column("name", "string", "node"),
    Column("kind", "string", "token, protocol, venue or account"),
    Column("equity_usd", "float64", "capital buffer (USD; NaN: unknown)"),
    Column("external_assets_usd", "float64", "assets held outside the graph (USD)"),
]
LOSS_COLUMNS = [
    Column("block", "int64", "block in which the loss reached the source"),
    Column("time_ms", "int64", "its timestamp (ms)"),
    Column("source", "string", "node that took the loss"),
    Column("target", "string", "node whose distress caused it"),
    Column("kind", "string", "edge kind"),
    Column("loss_usd", "float64", "amount × (1 − recovery) × rise of the target's distress (USD)"),
    Column("target_distress", "float64", "the target's distress (running maximum) that caused it"),
]
#: Tables whose new rows make the block a snapshot block.
TRIGGER_TABLES = ("liquidations", "perp_liquidations", "unified_liquidations", "pool_perp_events")


class ExposureRecorder:
    """See the module docstring. ``protocols`` are the run's; ``spec`` its ``[exposures]``."""

    def __init__(self, log: EventLog, protocols: Mapping[str, object], spec: ExposureSpec,
                 ecosystem: EcosystemSpec | None = None):
        self.log, self.protocols, self.spec = log, protocols, spec
        self.ecosystem = ecosystem or EcosystemSpec()
        self.table = log.declare("exposures", "exposure-graph snapshots (edge lists)", EXPOSURE_COLUMNS)
        self.node_table = log.declare("exposure_nodes", "the nodes of each exposure snapshot", NODE_SNAPSHOT_COLUMNS)
        self.losses = log.declare("contagion_losses", "losses carried along exposure edges", LOSS_COLUMNS)
        self.abstract = {n.name: n for n in self.ecosystem.nodes if n.name not in protocols}
        self.received_usd: dict[str, float] = defaultdict(float)  # per abstract node
        self.peak: dict[str, float] = defaultdict(float)  # running maximum of distress per node
        self.pending: list[tuple[int, tuple]] = []  # (due block, loss row) for delayed edges
        self._seen_rows: dict[str, int] = {}
        self._token_distress: dict[str, float] = {}
        self._watched: list[str] = []
        self.graph = self.snapshot(0, 0, "start")  # block 0: the state before the first block

    def _triggered(self) -> bool:
        counts = self.log.mark()
        hit = any(counts.get(t, 0) > self._seen_rows.get(t, 0) for t in TRIGGER_TABLES)
        self._seen_rows = {t: counts.get(t, 0) for t in TRIGGER_TABLES}
        return hit

    def snapshot(self, block: int, time_ms: int, trigger: str) -> ExposureGraph:
        """Build the live graph and write it to the ``exposures`` table."""
        g = ExposureGraph.from_protocols(self.protocols, self.ecosystem, self.spec.cut, self.spec.large_account_usd)
        edges = g.edge_rows()
        for row in edges:
            self.table.append((block, time_ms, trigger, *row))
        for row in g.node_rows():
            self.node_table.append((block, *row))
        self.graph = g
        # what the per-block propagation reads, until the next snapshot: the edges that carry
        # losses (oracle edges hold no value), their targets, and the oracle that prices each token
        self._carriers = [(u, v, kind, amount * (1.0 - recovery), delay)
                          for u, v, kind, amount, recovery, delay, _ in edges
                          if kind != "oracle" and amount > 0 and recovery < 1]
        self._pricing = {}
        for u, v, kind, _, _, _, asset in edges:
            if kind == "oracle" and asset and v in self.protocols:
                self._pricing.setdefault(asset, set()).add(v)
        watched = sorted({v for _, v, _, _, _ in self._carriers})
        self._update_token_distress()
        for v in set(watched) - set(self._watched):  # an edge carries only what happens after it exists
            self.peak[v] = max(self.peak[v], self.distress(v))
        self._watched = watched
        return g

    def _update_token_distress(self) -> None:
        """A token is as distressed as the most distressed oracle pricing it."""
        self._token_distress = {}
        self._token_distress = {asset: max(self.distress(o) for o in sorted(oracles))
                                for asset, oracles in self._pricing.items()}

    def distress(self, node: str) -> float:
        """``h`` of ``node`` now, in [0, 1] (see the module docstring)."""
        if node in self.abstract:
            equity = self.abstract[node].equity_usd
            return 0.0 if not equity else min(1.0, self.received_usd[node] / equity)
        if node in self._token_distress:
            return self._token_distress[node]
        p = self.protocols.get(node)
        return 0.0 if p is None else min(1.0, max(0.0, float(p.distress())))

    def __call__(self, block) -> None:
        """Per block (after its transactions): snapshot when due, then push losses."""
        number, time_ms = block.number, block.time_ms
        triggered = self._triggered()
        if self.spec.on_events and triggered:
            self.snapshot(number, time_ms, "event")
        elif self.spec.every_blocks and number % self.spec.every_blocks == 0:
            self.snapshot(number, time_ms, "cadence")
        self._propagate(number, time_ms)

    def _propagate(self, number: int, time_ms: int) -> None:
        self._update_token_distress()
        rises = {}
        for v in self._watched:
            h = self.distress(v)
            if h > self.peak[v] + 1e-12:
                rises[v] = (h - self.peak[v], h)
                self.peak[v] = h
        if rises:
            for u, v, kind, exposed, delay in self._carriers:
                if v in rises:
                    dh, h = rises[v]
                    self.pending.append((number + delay, (u, v, kind, exposed * dh, h)))
        due = [row for at, row in self.pending if at <= number]
        self.pending = [(at, row) for at, row in self.pending if at > number]
        for u, v, kind, loss, h in due:
            self.losses.append((number, time_ms, u, v, kind, loss, h))
            if u in self.abstract:
                self.received_usd[u] += loss


def contagion_summary(tables: Mapping) -> dict:
    """Headline figures of the losses carried along exposure edges (``contagion_losses``): the
    total (USD), the nodes reached, and the first block a loss reached a node."""
    losses = tables.get("contagion_losses")
    if losses is None or not len(losses):
        return {"contagion_loss_usd": 0.0, "contagion_nodes_hit": 0, "contagion_first_block": -1}
    return {
        "contagion_loss_usd": float(losses["loss_usd"].sum()),
        "contagion_nodes_hit": int(losses.loc[losses["loss_usd"] > 0, "source"].nunique()),
        "contagion_first_block": int(losses["block"].min()),
    }
