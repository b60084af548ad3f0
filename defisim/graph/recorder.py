"""The exposure graph in a run (DESIGN §7, contagion.md §8): snapshots, and losses along edges.

Called once per block after its transactions, an :class:`ExposureRecorder`

- writes the live graph (each protocol's ``exposures()`` plus the scenario's ``[ecosystem]``,
  minus the cut edges) to the ``exposures`` table every ``every_blocks`` blocks and at every block
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
from .exposure import EDGE_COLUMNS, NODE_COLUMNS, ExposureGraph
from .spec import EcosystemSpec, ExposureSpec

__all__ = ["ExposureRecorder", "EXPOSURE_COLUMNS", "NODE_SNAPSHOT_COLUMNS", "LOSS_COLUMNS", "TRIGGER_TABLES"]

EXPOSURE_COLUMNS = [
    Column("block", "int64", "block after which the snapshot was taken"),
    Column("time_ms", "int64", "its timestamp (ms)"),
    Column("trigger", "string", "'start', 'cadence' or 'event' (a liquidation or bad debt in the block)"),
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
TRIGGER_TABLES = ("liquidations", "perp_liquidations", "unified_liquidations", "pool_perp_events", "stablecoin_settlements")


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
        self.graph: ExposureGraph | None = None

    def _triggered(self) -> bool:
        counts = self.log.mark()
        hit = any(counts.get(t, 0) > self._seen_rows.get(t, 0) for t in TRIGGER_TABLES)
        self._seen_rows = {t: counts.get(t, 0) for t in TRIGGER_TABLES}
        return hit

    def snapshot(self, block: int, time_ms: int, trigger: str) -> ExposureGraph:
        """Build the live graph and write it to the ``exposures`` table."""
        g = ExposureGraph.from_protocols(self.protocols, self.ecosystem, self.spec.cut, self.spec.large_account_usd)
        for row in g.edges_frame()[list(EDGE_COLUMNS)].itertuples(index=False):
            self.table.append((block, time_ms, trigger, *row))
        for row in g.nodes_frame()[list(NODE_COLUMNS)].itertuples(index=False):
            self.node_table.append((block, *row))
        self.graph = g
        return g

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
        if self.graph is None:
            self.snapshot(number, time_ms, "start")
        elif self.spec.on_events and triggered:
            self.snapshot(number, time_ms, "event")
        elif self.spec.every_blocks and number % self.spec.every_blocks == 0:
            self.snapshot(number, time_ms, "cadence")
        self._propagate(number, time_ms)

    def _propagate(self, number: int, time_ms: int) -> None:
        g = self.graph.graph
        # a token is as distressed as the oracle that prices it (oracle edges name the token)
        self._token_distress = {}
        for _, v, d in g.edges(data=True):
            if d["kind"] == "oracle" and d.get("asset") and v in self.protocols:
                self._token_distress[d["asset"]] = max(self._token_distress.get(d["asset"], 0.0),
                                                       self.distress(v))
        rises = {}
        for v in sorted(g.nodes):
            h = self.distress(v)
            if h > self.peak[v] + 1e-12:
                rises[v] = (h - self.peak[v], h)
                self.peak[v] = h
        for u, v, d in sorted(g.edges(data=True), key=lambda e: (e[0], e[1], e[2]["kind"])):
            # oracle edges carry no value of their own: the price reaches the token they name
            if v in rises and d["kind"] != "oracle" and d["amount_usd"] > 0 and d["recovery"] < 1:
                dh, h = rises[v]
                row = (u, v, d["kind"], d["amount_usd"] * (1.0 - d["recovery"]) * dh, h)
                self.pending.append((number + d["delay_blocks"], row))
        due = [row for at, row in self.pending if at <= number]
        self.pending = [(at, row) for at, row in self.pending if at > number]
        for u, v, kind, loss, h in due:
            self.losses.append((number, time_ms, u, v, kind, loss, h))
            if u in self.abstract:
                self.received_usd[u] += loss
