"""Compile an exposure graph to arrays once: node list, index map, CSR exposure matrix, equity.

Convention: an edge ``u → v`` means *u loses when v fails* — u is
exposed to v (collateral u accepted that v issued, debt v owes u, backing u holds at v). The
exposure matrix follows the same reading: ``A[i, j]`` is what node ``i`` stands to lose on node
``j`` (USD), summed over parallel edges of a :class:`networkx.MultiDiGraph`.

The fast (scipy.sparse) versions of the analytics in this package iterate on the arrays built
here; compile once and recompile only when the topology changes.

References
----------
.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import scipy.sparse as sp

__all__ = ["GraphMatrices", "to_matrices", "edge_weight_function", "node_equity"]


@dataclass(frozen=True, eq=False)
class GraphMatrices:
    """Arrays of one exposure graph, aligned on ``nodes``.

    Attributes
    ----------
    nodes : list
        Nodes in the graph's iteration order (``list(G)``); row/column ``i`` is ``nodes[i]``.
    index : dict
        ``node -> i``.
    A : scipy.sparse.csr_array
        ``(n, n)`` float64; ``A[i, j]`` = sum of the edge weight over all edges ``nodes[i] →
        nodes[j]`` (USD: what ``i`` loses when ``j`` fails). Duplicates summed, explicit zeros kept
        out.
    equity_usd : numpy.ndarray
        ``(n,)`` float64 capital buffer of each node (USD); 0 where the attribute is missing.
    """

    nodes: list
    index: dict
    A: sp.csr_array
    equity_usd: np.ndarray

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.nodes)


def edge_weight_function(weight: str | Callable[[Any, Any, dict], float]) -> Callable[[Any, Any, dict], float]:
    """The weight of an edge as a function ``(u, v, data) -> float`` (networkx convention).

    Parameters
    ----------
    weight : str or callable
        An edge attribute name (missing means 0) or a function of ``(u, v, data)``.

    Examples
    --------
    >>> edge_weight_function("amount_usd")("a", "b", {"amount_usd": 3.0})
    3.0
    >>> lgd = edge_weight_function(lambda u, v, d: d["amount_usd"] * (1 - d.get("recovery", 0.0)))
    >>> lgd("a", "b", {"amount_usd": 10.0, "recovery": 0.4})
    6.0
    """
    if callable(weight):
        return weight
    return lambda u, v, d: float(d.get(weight, 0.0))


def to_matrices(G, weight: str | Callable = "amount_usd", equity: str | None = "equity_usd",
                kinds: Iterable[str] | None = None) -> GraphMatrices:
    """Compile a (Multi)DiGraph of exposures to a CSR matrix plus an index map.

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph; an edge ``u → v`` means u loses when v fails.
    weight : str or callable, default "amount_usd"
        Edge attribute (USD) summed into ``A``, or a function ``(u, v, data) -> float`` (e.g. the
        loss given default ``amount_usd · (1 − recovery)``).
    equity : str or None, default "equity_usd"
        Node attribute holding the capital buffer (USD); None gives zeros.
    kinds : iterable of str, optional
        Keep only edges whose ``kind`` attribute is one of these (all edges when None).

    Returns
    -------
    GraphMatrices

    Examples
    --------
    Two parallel collateral edges are summed:

    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> G.add_node("aave", kind="protocol", equity_usd=10.0)
    >>> G.add_node("steth", kind="token", equity_usd=0.0)
    >>> _ = G.add_edge("aave", "steth", kind="collateral", amount_usd=5.0)
    >>> _ = G.add_edge("aave", "steth", kind="oracle", amount_usd=2.0)
    >>> m = to_matrices(G)
    >>> m.nodes, m.A.toarray().tolist(), m.equity_usd.tolist()
    (['aave', 'steth'], [[0.0, 7.0], [0.0, 0.0]], [10.0, 0.0])
    >>> to_matrices(G, kinds=["collateral"]).A[0, 1]
    np.float64(5.0)

    References
    ----------
.
    """
    nodes = list(G)
    index = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    wfn = edge_weight_function(weight)
    keep = None if kinds is None else frozenset(kinds)
    rows, cols, vals = [], [], []
    for u, v, d in G.edges(data=True):
        if keep is not None and d.get("kind") not in keep:
            continue
        rows.append(index[u])
        cols.append(index[v])
        vals.append(wfn(u, v, d))
    A = sp.coo_array((np.asarray(vals, dtype=np.float64), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                     shape=(n, n)).tocsr()
    A.sum_duplicates()
    A.eliminate_zeros()
    if equity is None:
        eq = np.zeros(n)
    else:
        eq = np.array([node_equity(G, v, equity) for v in nodes], dtype=np.float64)
    return GraphMatrices(nodes, index, A, eq)


def node_equity(G, v, equity: str = "equity_usd") -> float:
    """Equity of node ``v`` (USD): its ``equity`` attribute, 0 when missing or NaN (unknown
    equity counts as no buffer: DeFi protocols hold little).

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([("a", {"equity_usd": 5.0}), ("b", {"equity_usd": float("nan")}), "c"])
    >>> [node_equity(G, v) for v in "abc"]
    [5.0, 0.0, 0.0]
    """
    value = float(G.nodes[v].get(equity, 0.0))
    return 0.0 if value != value else value


def _as_csr(M, n: int | None = None) -> sp.csr_array:
    """A float64 CSR copy of a dense or sparse square matrix (duplicates summed)."""
    if sp.issparse(M):
        out = sp.csr_array(M, dtype=np.float64, copy=True)
    else:
        out = sp.csr_array(np.asarray(M, dtype=np.float64))
    out.sum_duplicates()
    if out.shape[0] != out.shape[1] or (n is not None and out.shape[0] != n):
        raise ValueError(f"expected a square ({n}, {n}) matrix, got {out.shape}")
    return out
