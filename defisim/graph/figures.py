"""Pictures of an exposure graph and of a run's contagion.

matplotlib's object API on an Agg canvas, as :mod:`defisim.results.plots`: no ``pyplot`` state, nothing
done on import.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import networkx as nx
import numpy as np
import pandas as pd

from defisim.graph.exposure import ExposureGraph
from defisim.graph.rehypothecation import derivation_layers

__all__ = ["graph_figure", "contagion_figure"]

_KIND_COLOR = {"collateral": "tab:blue", "backing": "tab:green", "lp": "tab:cyan", "oracle": "tab:orange",
               "debt": "tab:red", "wrapping": "tab:purple"}
_SHAPE = {"token": "o", "protocol": "s", "venue": "D", "account": "^"}


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _layout(g: nx.MultiDiGraph) -> dict:
    """Columns by derivation layer (base assets on the left), nodes of a column in name order."""
    layers = derivation_layers(g)
    columns: dict[int, list] = {}
    for node in sorted(g.nodes, key=str):
        columns.setdefault(layers.get(node, 0), []).append(node)
    pos = {}
    for layer, nodes in columns.items():
        for i, node in enumerate(nodes):
            pos[node] = (float(layer), (len(nodes) - 1) / 2.0 - i)
    return pos


def graph_figure(g: ExposureGraph, path: str | Path, *, distress: Mapping[str, float] | None = None,
                 title: str = "exposure graph", max_nodes: int = 150) -> Path:
    """Write a PNG of ``g``: nodes in columns by layer of derivation (base assets left), shaped by
    kind (token ●, protocol ■, venue ◆, account ▲), coloured by ``distress`` (the share of each
    node's obligations lost, in [0, 1], e.g. from a run's ``exposure_nodes``; grey at 0 or
    without); edges coloured by kind, width by ``amount_usd`` (log scale). Graphs above
    ``max_nodes`` keep their largest nodes by exposure.

    Examples
    --------
    >>> import tempfile
    >>> from defisim.graph.exposure import Exposure
    >>> g = ExposureGraph()
    >>> g.add([Exposure("aave", "steth", "collateral", 80.0), Exposure("steth", "eth", "backing", 100.0)])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     graph_figure(g, Path(d) / "g.png", distress={"aave": 0.05}).stat().st_size > 0
    True
    """
    G = g.graph
    if G.number_of_nodes() > max_nodes:
        size = {n: 0.0 for n in G}
        for u, v, a in G.edges(data="amount_usd"):
            size[u] += a
            size[v] += a
        keep = sorted(size, key=lambda n: (-size[n], str(n)))[:max_nodes]
        G = G.subgraph(keep)
    pos = _layout(G)
    tallest = max((sum(1 for p in pos.values() if p[0] == x) for x in {p[0] for p in pos.values()}), default=1)
    height = max(5.0, 0.8 * tallest)
    width = max(7.0, 1.9 * (1 + max((p[0] for p in pos.values()), default=0)))
    fig = _figure(min(width, 30.0), min(height, 30.0))
    ax = fig.subplots()
    amounts = np.array([a for _, _, a in G.edges(data="amount_usd")] or [1.0])
    top = max(float(amounts.max()), 1.0)
    for u, v, d in G.edges(data=True):
        lw = 0.4 + 3.6 * math.log10(1.0 + 9.0 * d["amount_usd"] / top)
        ax.annotate("", xy=pos[v], xytext=pos[u], arrowprops=dict(
            arrowstyle="-|>", lw=lw, color=_KIND_COLOR.get(d["kind"], "gray"), alpha=0.6,
            shrinkA=9, shrinkB=9, connectionstyle="arc3,rad=0.08"))
    h = {n: float((distress or {}).get(n, 0.0)) for n in G}
    from matplotlib import colormaps

    cmap = colormaps["Reds"]
    for kind, marker in _SHAPE.items():
        nodes = [n for n, k in G.nodes(data="kind") if k == kind]
        if not nodes:
            continue
        colors = [cmap(0.25 + 0.75 * min(h[n], 1.0)) if h[n] > 0 else "lightgray" for n in nodes]
        ax.scatter([pos[n][0] for n in nodes], [pos[n][1] for n in nodes], s=260, marker=marker, c=colors,
                   edgecolors="black", linewidths=0.6, zorder=3, label=kind)
    for n, (x, y) in pos.items():
        text = str(n) if h[n] <= 0 else f"{n}\nh = {h[n]:.3g}"
        ax.text(x, y - 0.28, text, ha="center", va="top", fontsize=7, zorder=4)
    for kind, color in _KIND_COLOR.items():
        ax.plot([], [], color=color, lw=2, label=f"{kind} edge")
    ax.legend(fontsize=7, loc="best", markerscale=0.5, framealpha=0.8)
    ax.set_xlabel("layer of derivation (0: derives from nothing)")
    ax.set_yticks([])
    layers = sorted({int(p[0]) for p in pos.values()})
    ax.set_xticks(layers)
    ax.margins(0.15)
    ax.set_title(title + ("; node colour: distress h (share of obligations lost)" if any(h.values()) else ""),
                 fontsize=10)
    path = Path(path)
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight")
    return path


def contagion_figure(tables: Mapping[str, pd.DataFrame], path: str | Path, *, title: str = "contagion",
                     top: int = 8) -> Path:
    """Write a PNG of a run's contagion: cumulative loss received per declared counterparty over
    blocks (the ``top`` by final loss, from ``contagion_losses``), and the losses per edge kind per
    block (bars).

    Examples
    --------
    >>> import tempfile
    >>> losses = pd.DataFrame({"block": [3, 5], "time_ms": [36_000, 60_000], "source": ["fund", "fund"],
    ...                        "target": ["pool", "pool"], "kind": ["lp", "lp"], "loss_usd": [1.0, 2.0],
    ...                        "target_distress": [0.1, 0.3]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     contagion_figure({"contagion_losses": losses}, Path(d) / "c.png").stat().st_size > 0
    True
    """
    losses = tables.get("contagion_losses", pd.DataFrame(columns=["block", "source", "kind", "loss_usd"]))
    fig = _figure(12.0, 7.0)
    ax_cum, ax_bar = fig.subplots(2, 1, sharex=True)
    if len(losses):
        final = losses.groupby("source")["loss_usd"].sum().sort_values(ascending=False)
        for node in final.index[:top]:
            mine = losses[losses["source"] == node].groupby("block")["loss_usd"].sum().cumsum()
            ax_cum.step(mine.index, mine.to_numpy(), where="post", label=f"{node} ({final[node]:,.0f})")
        per_kind = losses.pivot_table(index="block", columns="kind", values="loss_usd", aggfunc="sum", fill_value=0.0)
        bottom = np.zeros(len(per_kind))
        for kind in per_kind.columns:
            ax_bar.bar(per_kind.index, per_kind[kind].to_numpy(), bottom=bottom, color=_KIND_COLOR.get(kind, "gray"),
                       label=kind, width=0.9)
            bottom += per_kind[kind].to_numpy()
        ax_cum.legend(fontsize=7)
        ax_bar.legend(fontsize=7)
    else:
        ax_cum.text(0.5, 0.5, "no loss travelled along any edge", transform=ax_cum.transAxes, ha="center")
    ax_cum.set_ylabel("cumulative loss received (USD)")
    ax_bar.set_ylabel("loss per block by edge kind (USD)")
    ax_bar.set_xlabel("block")
    fig.suptitle(title, fontsize=11)
    path = Path(path)
    fig.savefig(path, format="png", metadata={"Software": None}, bbox_inches="tight")
    return path
