"""The measures ``defisim graph`` prints for an exposure graph:
reported vs counted-once TVL and each base asset's multiplier, loops, layers of derivation,
concentration and systemic importance (DebtRank of each node shocked alone).
"""
from __future__ import annotations

from defisim.graph.debtrank import systemic_importance
from defisim.graph.exposure import ExposureGraph
from defisim.graph.rehypothecation import concentration, derivation_layers, find_loops, tvl_double_counting

__all__ = ["graph_measures", "format_measures"]

#: ``concentration`` holds an n × n reachability: above this many nodes it is skipped.
CONCENTRATION_MAX_NODES = 20_000


def _lossable(u, v, d) -> float:
    """What an edge can lose (USD): ``amount × (1 − recovery)``; oracle edges hold no value."""
    return 0.0 if d["kind"] == "oracle" else d["amount_usd"] * (1.0 - d.get("recovery", 0.0))


def graph_measures(g: ExposureGraph, top_k: int = 5) -> dict:
    """The measures of ``g`` as plain data (USD amounts, fractions, node names).

    Nodes of unknown equity count as having none (DeFi protocols hold little),
    so any loss passes through them in DebtRank. Concentration and DebtRank weigh each edge by
    what it can lose, ``amount × (1 − recovery)``; oracle edges hold no value.

    Examples
    --------
    >>> from defisim.graph.exposure import Exposure, Node
    >>> g = ExposureGraph()
    >>> g.add([Node("lido"), Node("aave", equity_usd=1.0), Node("morpho", equity_usd=1.0), Node("eth", "token"),
    ...        Node("steth", "token"), Node("asteth", "token"),
    ...        Exposure("lido", "eth", "backing", 100.0), Exposure("steth", "lido", "backing", 100.0),
    ...        Exposure("aave", "steth", "collateral", 80.0), Exposure("asteth", "aave", "wrapping", 80.0),
    ...        Exposure("morpho", "asteth", "collateral", 64.0)])
    >>> m = graph_measures(g)
    >>> m["reported_tvl_usd"], m["counted_once_tvl_usd"], round(m["tvl_inflation"], 2), m["depth"]
    (244.0, 100.0, 2.44, 5)
    """
    G = g.graph
    tvl = tvl_double_counting(G)
    loops = find_loops(G)
    layers = derivation_layers(G)
    importance = systemic_importance(G, weight=_lossable)
    top = sorted(importance.items(), key=lambda kv: (-kv[1], str(kv[0])))[:top_k]
    return {
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        "reported_tvl_usd": tvl.reported_usd,
        "counted_once_tvl_usd": tvl.counted_once_usd,
        "tvl_inflation": tvl.inflation,
        "multipliers": dict(sorted(tvl.multiplier.items())),
        "loops": [list(c) for c in loops.cycles],
        "loop_components": len(loops.sccs),
        "layers": layers,
        "depth": max(layers.values(), default=0),
        "concentration": (concentration(G, weight=_lossable, top_k=top_k)
                          if G.number_of_nodes() <= CONCENTRATION_MAX_NODES else []),
        "systemic_importance": top,
    }


def format_measures(m: dict) -> str:
    """The measures as the lines ``defisim graph`` prints."""
    lines = [f"{m['nodes']} nodes, {m['edges']} edges, {m['depth']} layers of derivation below the top",
             f"TVL reported {m['reported_tvl_usd']:,.0f} USD, counted once {m['counted_once_tvl_usd']:,.0f} USD"
             f" (inflation ×{m['tvl_inflation']:.3g})"]
    for asset, x in m["multipliers"].items():
        lines.append(f"  rehypothecation multiplier of {asset}: ×{x:.3g}")
    lines.append(f"loops: {len(m['loops'])} in {m['loop_components']} strongly connected components"
                 + "".join(f"\n  {' → '.join(map(str, c))} → {c[0]}" for c in m["loops"][:10]))
    by_layer: dict[int, list] = {}
    for node, layer in m["layers"].items():
        by_layer.setdefault(layer, []).append(str(node))
    lines.append("layers (0 derives from nothing):")
    lines += [f"  {k}: {', '.join(sorted(v))}" for k, v in sorted(by_layer.items())]
    if m["concentration"]:
        lines.append("concentration (exposure reachable from a failure):")
        lines += [f"  {node}: {usd:,.0f} USD" for node, usd in m["concentration"]]
    lines.append("systemic importance (DebtRank R of the node shocked alone):")
    lines += [f"  {node}: {r:.3f}" for node, r in m["systemic_importance"]]
    return "\n".join(lines)
