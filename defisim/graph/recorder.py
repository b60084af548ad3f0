"""The exposure graph in a run: snapshots, distress, and losses
that reach declared counterparties.

Called once per block after its transactions, an :class:`ExposureRecorder`

- writes the live graph (each protocol's ``exposures()`` plus the scenario's ``[ecosystem]``,
  minus the cut edges) to the ``exposures`` and ``exposure_nodes`` tables at the start (block
  0, before the first block), every ``every_blocks`` blocks, at every block that added a row to
  a table of a liquidation, closeout, loss or auction (:data:`TRIGGER_ROLES`), and after the last block (``end``);
- records every node's *distress* ``h ∈ [0, 1]`` with each snapshot: a simulated protocol's own
  measure (``distress()``: a lending pool's deficit over its deposits, an oracle's fall from its
  first answer), a token's from its issuer (``issued_distress()``: a receipt token written down)
  or else from the oracle that prices it, and a declared counterparty's losses over its equity;
- and carries losses to the declared counterparties (``[ecosystem]`` nodes that are neither
  simulated nor tokens): when the running maximum of ``h_v`` rises by ``Δh``, each of their
  edges ``u → v`` carries ``amount_usd × (1 − recovery) × Δh`` to ``u``, ``delay_blocks`` blocks
  later (a linear DebtRank in simulated time, Battiston et al. 2012, *Sci. Rep.* 2:541; Bardoscia et al. 2015); a counterparty's distress is
  what reached it over its equity (all of it with no equity), so losses travel on through its
  own creditors, within the same block when the delays are 0. Each loss is a row of
  ``contagion_losses``.

Simulated protocols take their losses through their own mechanisms (liquidations, deficits,
derived prices), which their tables record; the graph does not add them a second time. Losses
are crystallised at the running maximum: a price that recovers does not give them back; losses
due after the last block are not recorded. Everything is visited in sorted order, so the tables
are identical for the same seed.
"""
from collections import defaultdict
from typing import Mapping

from defisim.base.eventlog import Column, EventLog
from defisim.graph.exposure import ExposureGraph
from defisim.graph.spec import EcosystemSpec, ExposureSpec

__all__ = ["ExposureRecorder", "contagion_summary", "EXPOSURE_COLUMNS", "NODE_SNAPSHOT_COLUMNS", "LOSS_COLUMNS", "TRIGGER_ROLES"]

EXPOSURE_COLUMNS = [
    Column("block", "int64", "block after which the snapshot was taken"),
    Column("time_ms", "int64", "its timestamp (ms)"),
    Column("trigger", "string", "'start' (block 0), 'cadence', 'event' (a liquidation in the block) or 'end'"),
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
    Column("distress", "float64", "share of the node's obligations lost at the snapshot, in [0, 1]"),
]
LOSS_COLUMNS = [
    Column("block", "int64", "block in which the loss reached the source"),
    Column("time_ms", "int64", "its timestamp (ms)"),
    Column("source", "string", "declared counterparty that took the loss"),
    Column("target", "string", "node whose distress caused it"),
    Column("kind", "string", "edge kind"),
    Column("loss_usd", "float64", "amount × (1 − recovery) × rise of the target's distress (USD)"),
    Column("target_distress", "float64", "the target's distress (running maximum) that caused it"),
]
#: Result roles (:mod:`defisim.base.roles`) whose tables' new rows make the block a snapshot block.
TRIGGER_ROLES = ("liquidations", "closeouts", "losses", "auctions")


class ExposureRecorder:
    """See the module docstring. ``protocols`` are the run's; ``spec`` its ``[exposures]``.

    Raises
    ------
    ValueError
        If a cut names no edge of the graph at the start.
    """

    def __init__(self, log: EventLog, protocols: Mapping[str, object], spec: ExposureSpec,
                 ecosystem: EcosystemSpec | None = None):
        self.log, self.protocols, self.spec = log, protocols, spec
        self.ecosystem = ecosystem or EcosystemSpec()
        self.table = log.declare("exposures", "exposure-graph snapshots (edge lists)", EXPOSURE_COLUMNS)
        self.node_table = log.declare("exposure_nodes", "the nodes of each exposure snapshot", NODE_SNAPSHOT_COLUMNS)
        self.losses = log.declare("contagion_losses", "losses reaching declared counterparties", LOSS_COLUMNS)
        self.abstract = {n.name: n for n in self.ecosystem.nodes if n.name not in protocols and n.kind != "token"}
        self.received_usd: dict[str, float] = defaultdict(float)  # per declared counterparty
        self.peak: dict[str, float] = defaultdict(float)  # running maximum of distress per watched node
        self.pending: list[tuple[int, tuple]] = []  # (due block, loss row) for delayed edges
        self._seen_rows: dict[str, int] = {}
        self._watched: list[str] = []
        self._last: tuple[int, int] = (-1, -1)
        self.graph = self.snapshot(0, 0, "start")  # block 0: the state before the first block
        for i, c in enumerate(spec.cut):
            if not self._uncut.has_edge(c.source, c.target):
                raise ValueError(f"exposures.cut.{i}: the exposure graph has no edge {c.source} → {c.target}")

    def _triggered(self) -> bool:
        counts = {n: len(t.rows) for n, t in self.log.tables.items() if t.role in TRIGGER_ROLES}
        hit = any(n > self._seen_rows.get(t, 0) for t, n in counts.items())
        self._seen_rows = counts
        return hit

    def snapshot(self, block: int, time_ms: int, trigger: str) -> ExposureGraph:
        """Build the live graph, write it and its nodes' distress, and set what the per-block
        propagation reads until the next snapshot."""
        g = ExposureGraph.from_protocols(self.protocols, self.ecosystem, (), self.spec.large_account_usd)
        if trigger == "start":  # to check that every cut names an edge
            self._uncut = g.graph.copy()
        # prices travel along every oracle edge, cut or not: a cut edge carries no loss
        self._pricing: dict[str, set] = {}
        self._issuer: dict[str, object] = {}
        for _, v, d in g.graph.edges(data=True):
            if d["kind"] == "oracle" and d.get("asset") and v in self.protocols:
                self._pricing.setdefault(d["asset"], set()).add(v)
        for name in sorted(self.protocols):
            for token in self.protocols[name].issued_distress():
                self._issuer[token] = self.protocols[name]
        g.remove(self.spec.cut)
        edges = g.edge_rows()
        for row in edges:
            self.table.append((block, time_ms, trigger, *row))
        for row in g.node_rows():
            self.node_table.append((block, *row, self.distress(row[0])))
        self._carriers = [(u, v, kind, amount * (1.0 - recovery), delay)
                          for u, v, kind, amount, recovery, delay, _ in edges
                          if u in self.abstract and kind != "oracle" and amount > 0 and recovery < 1]
        watched = sorted({v for _, v, _, _, _ in self._carriers})
        for v in set(watched) - set(self._watched):  # an edge carries only what happens after it exists
            self.peak[v] = max(self.peak[v], self.distress(v))
        self._watched = watched
        self._last = (block, time_ms)
        self.graph = g
        return g

    def distress(self, node: str) -> float:
        """``h`` of ``node`` now, in [0, 1] (see the module docstring)."""
        if node in self.abstract:
            equity, received = self.abstract[node].equity_usd, self.received_usd[node]
            if not equity or equity <= 0:  # unknown or no equity: no buffer
                return 1.0 if received > 0 else 0.0
            return min(1.0, received / equity)
        issuer = self._issuer.get(node)
        if issuer is not None:
            return min(1.0, max(0.0, float(issuer.issued_distress()[node])))
        oracles = self._pricing.get(node)
        if oracles:
            return max(self.distress(o) for o in sorted(oracles))
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

    def finish(self, block: int, time_ms: int) -> None:
        """The ``end`` snapshot after the last block (unless that block just had one)."""
        if self._last[0] != block:
            self.snapshot(block, time_ms, "end")

    def _propagate(self, number: int, time_ms: int) -> None:
        """Push the rises of the watched nodes' distress along the counterparties' edges; losses
        due now are applied, and the rises they cause travel on within this block."""
        while True:
            for v in self._watched:
                h = self.distress(v)
                if h > self.peak[v] + 1e-12:
                    dh, self.peak[v] = h - self.peak[v], h
                    for u, target, kind, exposed, delay in self._carriers:
                        if target == v:
                            self.pending.append((number + delay, (u, v, kind, exposed * dh, h)))
            due = [row for at, row in self.pending if at <= number]
            if not due:
                return
            self.pending = [(at, row) for at, row in self.pending if at > number]
            for u, v, kind, loss, h in due:
                self.losses.append((number, time_ms, u, v, kind, loss, h))
                self.received_usd[u] += loss


def contagion_summary(tables: Mapping) -> dict:
    """Headline figures of contagion: the losses that reached declared counterparties (USD, how
    many, first block) and the nodes left distressed at the end (``exposure_nodes``)."""
    losses = tables.get("contagion_losses")
    nodes = tables.get("exposure_nodes")
    distressed = 0
    if nodes is not None and len(nodes):
        last = nodes[nodes["block"] == nodes["block"].max()]
        distressed = int((last["distress"] > 0).sum())
    if losses is None or not len(losses):
        return {"contagion_loss_usd": 0.0, "contagion_counterparties_hit": 0, "contagion_first_block": -1,
                "distressed_nodes": distressed}
    return {
        "contagion_loss_usd": float(losses["loss_usd"].sum()),
        "contagion_counterparties_hit": int(losses.loc[losses["loss_usd"] > 0, "source"].nunique()),
        "contagion_first_block": int(losses["block"].min()),
        "distressed_nodes": distressed,
    }
