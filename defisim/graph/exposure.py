"""The exposure graph: who loses when whom fails, in USD.

An :class:`ExposureGraph` wraps a networkx ``MultiDiGraph`` whose nodes are tokens (receipt and
derivative tokens included), protocols, venues and large accounts, and whose edges ``u → v``
say that ``u`` loses when ``v`` fails: collateral ``u`` accepts that ``v`` issued or prices,
backing ``u`` holds at ``v``, liquidity ``u`` provides in ``v``, ``u``'s dependence on ``v``'s
price, debt ``v`` owes ``u``, ``u`` wrapping ``v``. Edge attributes: ``kind``, ``amount_usd``,
``recovery`` (fraction recovered when ``v`` fails), ``delay_blocks`` and, on oracle edges,
``asset`` (the token whose price ``v`` gives ``u``). Node attributes: ``kind``, ``equity_usd``
(capital buffer, NaN when unknown), ``external_assets_usd``.

A graph comes from a running simulation (each protocol's ``exposures()``), from a scenario's
``[ecosystem]`` section, or from a CSV edge list or JSON file; it is saved as edge lists (CSV,
Parquet through the results) and GraphML, never pickled.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple

import networkx as nx
import pandas as pd
from pydantic import ValidationError

from defisim.graph.spec import EDGE_KINDS, NODE_KINDS, CutSpec, EcosystemSpec

__all__ = ["Exposure", "Node", "ExposureGraph", "EDGE_COLUMNS", "NODE_COLUMNS"]

EDGE_COLUMNS = ("source", "target", "kind", "amount_usd", "recovery", "delay_blocks", "asset")
NODE_COLUMNS = ("name", "kind", "equity_usd", "external_assets_usd")


class Exposure(NamedTuple):
    """One edge: ``source`` loses up to ``amount_usd × (1 − recovery)`` (USD) when ``target`` fails,
    ``delay_blocks`` blocks later; ``asset`` names the token an oracle edge prices."""

    source: str
    target: str
    kind: str
    amount_usd: float
    recovery: float = 0.0
    delay_blocks: int = 0
    asset: str = ""


class Node(NamedTuple):
    """A node with its kind, equity (capital buffer, USD; NaN: unknown) and external assets (USD)."""

    name: str
    kind: str = "protocol"
    equity_usd: float = math.nan
    external_assets_usd: float = 0.0


class ExposureGraph:
    """A typed, USD-weighted exposure graph (see the module docstring).

    Examples
    --------
    >>> g = ExposureGraph()
    >>> g.add([Node("lido", "protocol"), Node("aave", "protocol", equity_usd=5e6),
    ...        Exposure("steth", "lido", "backing", 100e6), Exposure("aave", "steth", "collateral", 80e6)])
    >>> sorted(g.graph.nodes(data="kind"))   # steth was only named by edges: a token
    [('aave', 'protocol'), ('lido', 'protocol'), ('steth', 'token')]
    >>> g.edges_frame()[["source", "target", "amount_usd"]].values.tolist()
    [['aave', 'steth', 80000000.0], ['steth', 'lido', 100000000.0]]
    """

    def __init__(self, graph: nx.MultiDiGraph | None = None):
        self.graph = nx.MultiDiGraph() if graph is None else graph

    # -- building ---------------------------------------------------------------------------
    def add(self, items: Iterable[Exposure | Node]) -> None:
        """Add nodes and edges; a node first named by an edge is a token until declared."""
        for item in items:
            if isinstance(item, Node):
                if item.kind not in NODE_KINDS:
                    raise ValueError(f"node {item.name!r}: kind {item.kind!r} is not one of {NODE_KINDS}")
                self.graph.add_node(item.name, kind=item.kind, equity_usd=float(item.equity_usd),
                                    external_assets_usd=float(item.external_assets_usd))
                continue
            if item.kind not in EDGE_KINDS:
                raise ValueError(f"edge {item.source!r} → {item.target!r}: kind {item.kind!r} is not one of {EDGE_KINDS}")
            for name in (item.source, item.target):
                if name not in self.graph:
                    self.graph.add_node(name, kind="token", equity_usd=math.nan, external_assets_usd=0.0)
            self.graph.add_edge(item.source, item.target, kind=item.kind, amount_usd=float(item.amount_usd),
                                recovery=float(item.recovery), delay_blocks=int(item.delay_blocks), asset=item.asset)

    @classmethod
    def from_spec(cls, spec: EcosystemSpec) -> "ExposureGraph":
        """The graph a scenario's ``[ecosystem]`` section declares."""
        g = cls()
        g.add(_declared_nodes(spec))
        g.add(Exposure(e.source, e.target, e.kind, e.amount_usd, e.recovery, e.delay_blocks, e.asset) for e in spec.edges)
        return g

    @classmethod
    def from_protocols(cls, protocols: Mapping[str, object], ecosystem: EcosystemSpec | None = None,
                       cut: Iterable[CutSpec] = (), large_account_usd: float = 1e6) -> "ExposureGraph":
        """The live graph: every protocol a node, its ``exposures(large_account_usd)`` as edges,
        plus the declared ecosystem, minus the ``cut`` edges."""
        g = cls.from_spec(ecosystem) if ecosystem is not None else cls()
        for name, p in protocols.items():
            if name not in g.graph or g.graph.nodes[name]["kind"] == "token":
                g.add([Node(name, getattr(p, "node_kind", "protocol"))])
            g.add(p.exposures(large_account_usd))
        if ecosystem is not None:  # what the scenario declares about a node wins over what protocols say
            g.add(_declared_nodes(ecosystem))
        for name, p in protocols.items():  # a protocol is also an account elsewhere: it stays what it is
            g.graph.nodes[name]["kind"] = getattr(p, "node_kind", "protocol")
        g.remove(cut)
        return g

    def remove(self, cuts: Iterable[CutSpec]) -> None:
        """Remove every edge ``source → target`` named in ``cuts``."""
        for c in cuts:
            while self.graph.has_edge(c.source, c.target):
                self.graph.remove_edge(c.source, c.target)

    @classmethod
    def from_frames(cls, edges: pd.DataFrame, nodes: pd.DataFrame | None = None) -> "ExposureGraph":
        """From an edge list (columns of :data:`EDGE_COLUMNS`; ``source``, ``target``, ``kind``,
        ``amount_usd`` required) and an optional node table (:data:`NODE_COLUMNS`), validated like
        a scenario's ``[ecosystem]``: errors name the row and the field."""
        records = {"edges": _records(edges), "nodes": [] if nodes is None else _records(nodes)}
        try:
            spec = EcosystemSpec.model_validate(records)
        except ValidationError as e:
            raise ValueError(_explain(e)) from None
        return cls.from_spec(spec)

    @classmethod
    def from_snapshot(cls, exposures: pd.DataFrame, exposure_nodes: pd.DataFrame, block: int) -> "ExposureGraph":
        """The graph a run recorded after ``block`` (its ``exposures`` and ``exposure_nodes`` tables)."""
        edges = exposures[exposures["block"] == block].drop(columns=["block", "time_ms", "trigger"])
        nodes = exposure_nodes[exposure_nodes["block"] == block].drop(columns=["block", "distress"])
        return cls.from_frames(edges, nodes)

    @classmethod
    def read(cls, path: str | Path) -> "ExposureGraph":
        """Read a graph file: a CSV edge list (with ``NAME.nodes.csv`` beside ``NAME.csv`` for
        the nodes, if present) or a JSON document ``{"nodes": [...], "edges": [...]}``."""
        path = Path(path)
        if path.suffix == ".json":
            raw = json.loads(path.read_text())
            if not isinstance(raw, dict) or not all(isinstance(raw.get(k, []), list) for k in ("nodes", "edges")):
                raise ValueError(f"{path}: expected an object with lists 'nodes' and 'edges'")
            return cls.from_frames(pd.DataFrame(raw.get("edges", [])),
                                   pd.DataFrame(raw.get("nodes", [])) if raw.get("nodes") else None)
        if path.suffix == ".csv":
            nodes = path.with_name(path.stem + ".nodes.csv")
            return cls.from_frames(_read_csv(path), _read_csv(nodes) if nodes.exists() else None)
        raise ValueError(f"{path}: a graph file is .csv (edge list) or .json")

    # -- reading ----------------------------------------------------------------------------
    def edge_rows(self) -> list[tuple]:
        """One tuple per edge in the order of :data:`EDGE_COLUMNS`, sorted by (source, target,
        kind, asset), parallel edges of one key in insertion order."""
        rows = [(u, v, d["kind"], d["amount_usd"], d["recovery"], d["delay_blocks"], d.get("asset", ""))
                for u, v, d in self.graph.edges(data=True)]
        return sorted(rows, key=lambda r: (r[0], r[1], r[2], r[6]))

    def node_rows(self) -> list[tuple]:
        """One tuple per node in the order of :data:`NODE_COLUMNS`, sorted by name."""
        return sorted((n, d["kind"], d["equity_usd"], d["external_assets_usd"]) for n, d in self.graph.nodes(data=True))

    def edges_frame(self) -> pd.DataFrame:
        """:meth:`edge_rows` as a DataFrame, columns :data:`EDGE_COLUMNS`."""
        return pd.DataFrame(self.edge_rows(), columns=list(EDGE_COLUMNS))

    def nodes_frame(self) -> pd.DataFrame:
        """:meth:`node_rows` as a DataFrame, columns :data:`NODE_COLUMNS`."""
        return pd.DataFrame(self.node_rows(), columns=list(NODE_COLUMNS))

    def write(self, stem: str | Path) -> list[Path]:
        """Write ``STEM.graphml``, ``STEM.csv`` (edges) and ``STEM.nodes.csv``; returns the paths."""
        stem = Path(stem)
        stem.parent.mkdir(parents=True, exist_ok=True)
        paths = [stem.with_suffix(".graphml"), stem.with_suffix(".csv"), stem.with_name(stem.name + ".nodes.csv")]
        nx.write_graphml(self.graph, paths[0])
        self.edges_frame().to_csv(paths[1], index=False)
        self.nodes_frame().to_csv(paths[2], index=False)
        return paths


def _declared_nodes(spec: EcosystemSpec) -> list[Node]:
    """The nodes a scenario's ``[ecosystem]`` declares (unknown equity: NaN)."""
    return [Node(n.name, n.kind, math.nan if n.equity_usd is None else n.equity_usd, n.external_assets_usd)
            for n in spec.nodes]


def _read_csv(path: Path) -> pd.DataFrame:
    """A graph CSV with its names read as text (a node called ``NA`` or ``1e3`` stays one)."""
    text = {c: str for c in ("source", "target", "kind", "asset", "name")}
    frame = pd.read_csv(path, dtype=text, keep_default_na=False, na_values={"equity_usd": [""]})
    return frame.replace({"": math.nan})


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts without the cells left empty (so the model's defaults apply)."""
    return [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
            for row in frame.to_dict("records")]


def _explain(error: ValidationError) -> str:
    """``edges[3].amount_usd: Input should be greater than or equal to 0`` for each error."""
    lines = []
    for e in error.errors():
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        lines.append(f"{where}: {e['msg']}")
    more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
    return "; ".join(lines[:3]) + more
