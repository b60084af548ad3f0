"""DebtRank: classic (single-use, Battiston et al. 2012) and differential (Bardoscia et al. 2015).

Exposure reading as everywhere in :mod:`defisim.graph`: ``A[i, j]`` (edge ``i → j``) is what
``i`` loses when ``j`` fails (USD); distress flows *against* the edge direction, from ``j`` to
its creditors ``i``. ``E`` is equity (USD).

Impact matrix ``W[i, j] = min(1, A[i, j] / E[i])``; a node with ``E ≤ 0`` is fully hit by any
exposure (``W = 1`` wherever ``A > 0``). Economic weights ``v = max(E, 0) / Σ max(E, 0)`` unless
given. Distress ``h ∈ [0, 1]`` (fraction of equity lost); ``h(0)`` is the shock.

* **classic** (``differential=False``): states U/D/I; shocked nodes start in D. Each round every
  node gets ``h_i ← min(1, h_i + Σ_{j∈D} W[i, j] h_j)``; D nodes become I (they propagate once,
  whatever they receive later); U nodes with ``h > 0`` become D; stop when D is empty.
* **differential** (``differential=True``): no single-use rule; every round propagates the
  increments, ``h(t+1) = min(1, h(t) + W (h(t) − h(t−1)))`` with ``h(−1) = 0``, so a node reached
  twice passes on both increments; stop when no increment exceeds ``tol``. It uses the same
  capped ``W``; it is never below the classic result.

``R = v · h(T) − v · h(0)``: the loss caused beyond the initial shock (fraction of total equity).
``rounds`` counts propagation steps (DR-1: 3).

References
----------
Battiston, S., Puliga, M., Kaushik, R., Tasca, P. & Caldarelli, G. (2012). DebtRank: too
central to fail? *Scientific Reports* 2, 541. Bardoscia, M., Battiston, S., Caccioli, F. &
Caldarelli, G. (2015). DebtRank: a microscopic foundation for shock propagation. *PLoS ONE*
10(6), e0130406.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from defisim.graph.matrix import _as_csr, edge_weight_function, node_equity, to_matrices

__all__ = [
    "DebtRankResult",
    "impact_matrix",
    "debtrank_python",
    "debtrank",
    "debtrank_arrays",
    "systemic_importance_python",
    "systemic_importance",
    "systemic_importance_arrays",
]


@dataclass(frozen=True, eq=False)
class DebtRankResult:
    """Outcome of one DebtRank run, arrays aligned on ``nodes``.

    Attributes
    ----------
    nodes : sequence
        Node labels (``range(n)`` at array level).
    h : numpy.ndarray
        Final distress ``h(T)`` in ``[0, 1]`` (fraction of each node's equity lost).
    h0 : numpy.ndarray
        Initial distress.
    R : float
        DebtRank: ``v · h(T) − v · h(0)`` (fraction of total economic value).
    rounds : int
        Propagation steps.
    differential : bool
        Which variant ran.
    """

    nodes: Sequence
    h: np.ndarray
    h0: np.ndarray
    R: float
    rounds: int
    differential: bool


def impact_matrix(A, E) -> sp.csr_array:
    """``W[i, j] = min(1, A[i, j] / E[i])`` (1 wherever ``A > 0`` and ``E[i] ≤ 0``).

    Parameters
    ----------
    A : array_like or scipy.sparse matrix, shape (n, n)
        Exposures (USD), ``A[i, j]`` = what i loses when j fails.
    E : array_like, shape (n,)
        Equity (USD).

    Returns
    -------
    scipy.sparse.csr_array

    Examples
    --------
    >>> impact_matrix([[0, 5, 0], [0, 0, 4], [0, 0, 0]], [10, 8, 3]).toarray().tolist()
    [[0.0, 0.5, 0.0], [0.0, 0.0, 0.5], [0.0, 0.0, 0.0]]

    References
    ----------
    Battiston et al. (2012), eq. 1.
    """
    W = _as_csr(A)
    E = np.asarray(E, dtype=np.float64)
    row = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    Er = E[row]
    W.data = np.where(Er > 0.0, np.minimum(1.0, W.data / np.where(Er > 0.0, Er, 1.0)), 1.0)
    W.data[W.data < 0.0] = 0.0
    W.eliminate_zeros()
    return W


def _weights(E: np.ndarray, value) -> np.ndarray:
    v = np.maximum(np.asarray(E if value is None else value, dtype=np.float64), 0.0)
    total = v.sum()
    return v / total if total > 0.0 else v


def _initial(nodes, shock) -> np.ndarray:
    """h(0) from a mapping node → distress or an iterable of nodes (distress 1)."""
    pos = {v: i for i, v in enumerate(nodes)}
    h0 = np.zeros(len(nodes))
    items = shock.items() if isinstance(shock, Mapping) else ((s, 1.0) for s in shock)
    for node, h in items:
        if not 0.0 <= h <= 1.0:
            raise ValueError(f"initial distress of {node!r} is {h}, outside [0, 1]")
        h0[pos[node]] = h
    return h0


def _value(G, nodes, value) -> np.ndarray | None:
    if value is None or not isinstance(value, str):
        return value
    return np.array([float(G.nodes[v].get(value, 0.0)) for v in nodes])


def debtrank_python(G, shock: Mapping | Iterable, weight: str | Callable = "amount_usd", equity: str = "equity_usd",
                    *, differential: bool = False, value: str | Sequence | None = None, tol: float = 1e-12,
                    max_rounds: int = 100_000) -> DebtRankResult:
    """DebtRank on an exposure graph, reference version (plain Python loops).

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph (``i → j``: i loses ``weight`` USD when j fails; parallel edges summed).
    shock : mapping or iterable
        Initial distress: node → ``h(0)`` in ``[0, 1]``, or nodes that start at 1.
    weight : str or callable, default "amount_usd"
        Exposure amount (USD).
    equity : str, default "equity_usd"
        Node attribute with the equity (USD).
    differential : bool, default False
        Bardoscia's differential DebtRank instead of Battiston's single-use rule.
    value : str or array_like, optional
        Economic weights (node attribute or array in ``list(G)`` order), normalised; default equity.
    tol : float
        Differential variant: stop when no increment exceeds this.
    max_rounds : int
        Differential variant: cap on rounds.

    Returns
    -------
    DebtRankResult

    See Also
    --------
    debtrank : the scipy.sparse version.

    Examples
    --------
    Worked example (Battiston et al. 2012):

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([(0, {"equity_usd": 10.0}), (1, {"equity_usd": 8.0}), (2, {"equity_usd": 3.0})])
    >>> G.add_weighted_edges_from([(0, 1, 5.0), (1, 2, 4.0)], weight="amount_usd")
    >>> r = debtrank_python(G, [2])
    >>> r.h.tolist(), round(r.R, 6), r.rounds
    ([0.25, 0.5, 1.0], 0.309524, 3)

    References
    ----------
    Battiston et al. (2012); Bardoscia et al. (2015).
    """
    nodes = list(G)
    wfn = edge_weight_function(weight)
    E = {v: node_equity(G, v, equity) for v in nodes}
    exposure: dict = {}  # exposure[(i, j)] = A[i, j]
    for i, j, d in G.edges(data=True):
        exposure[i, j] = exposure.get((i, j), 0.0) + wfn(i, j, d)
    creditors: dict = {j: [] for j in nodes}  # creditors[j] = [(i, W[i, j])]
    for (i, j), a in exposure.items():
        w = 1.0 if E[i] <= 0.0 else min(1.0, a / E[i])
        if a > 0.0 and w > 0.0:
            creditors[j].append((i, w))
    h0 = dict(zip(nodes, _initial(nodes, shock).tolist()))
    h = dict(h0)
    rounds = 0
    if differential:
        dh = dict(h0)
        while rounds < max_rounds and max(dh.values(), default=0.0) > tol:
            rounds += 1
            incoming = {i: 0.0 for i in nodes}
            for j in nodes:
                if dh[j] > 0.0:
                    for i, w in creditors[j]:
                        incoming[i] += w * dh[j]
            new_h = {i: min(1.0, h[i] + incoming[i]) for i in nodes}
            dh = {i: new_h[i] - h[i] for i in nodes}
            h = new_h
    else:
        state = {v: "D" if h0[v] > 0.0 else "U" for v in nodes}
        while any(s == "D" for s in state.values()):
            rounds += 1
            incoming = {i: 0.0 for i in nodes}
            for j in nodes:
                if state[j] == "D":
                    for i, w in creditors[j]:
                        incoming[i] += w * h[j]
            h = {i: min(1.0, h[i] + incoming[i]) for i in nodes}
            for v in nodes:
                if state[v] == "D":
                    state[v] = "I"
                elif state[v] == "U" and h[v] > 0.0:
                    state[v] = "D"
    v = _weights(np.array([E[x] for x in nodes]), _value(G, nodes, value))
    h_arr = np.array([h[x] for x in nodes])
    h0_arr = np.array([h0[x] for x in nodes])
    R = sum(v[k] * h_arr[k] for k in range(len(nodes))) - sum(v[k] * h0_arr[k] for k in range(len(nodes)))
    return DebtRankResult(nodes, h_arr, h0_arr, float(R), rounds, differential)


def _propagate(W: sp.csr_array, h0: np.ndarray, differential: bool, tol: float, max_rounds: int):
    """Run DebtRank on one shock vector (n,) or many shocks at once (n, k columns)."""
    h = h0.copy()
    rounds = 0
    if differential:
        dh = h0.copy()
        while rounds < max_rounds and dh.max(initial=0.0) > tol:
            rounds += 1
            new_h = np.minimum(1.0, h + W @ dh)
            dh = new_h - h
            h = new_h
    else:
        distressed = h0 > 0.0
        inactive = np.zeros_like(distressed)
        while distressed.any():
            rounds += 1
            h = np.minimum(1.0, h + W @ np.where(distressed, h, 0.0))
            inactive |= distressed
            distressed = ~inactive & (h > 0.0)
    return h, rounds


def debtrank_arrays(A, E, h0, *, differential: bool = False, value=None, tol: float = 1e-12,
                    max_rounds: int = 100_000) -> DebtRankResult:
    """DebtRank on an exposure matrix (numpy + scipy.sparse).

    Parameters
    ----------
    A : array_like or scipy.sparse matrix, shape (n, n)
        Exposures (USD), ``A[i, j]`` = what i loses when j fails.
    E : array_like, shape (n,)
        Equity (USD).
    h0 : array_like, shape (n,)
        Initial distress in ``[0, 1]``.
    differential, value, tol, max_rounds
        As in :func:`debtrank_python` (``value`` an array or None).

    Returns
    -------
    DebtRankResult
        With ``nodes = range(n)``.

    Examples
    --------
    >>> r = debtrank_arrays([[0, 5, 0], [0, 0, 4], [0, 0, 0]], [10, 8, 3], [0, 0, 1])
    >>> r.h.tolist(), round(r.R, 6)
    ([0.25, 0.5, 1.0], 0.309524)

    References
    ----------
    Battiston et al. (2012); Bardoscia et al. (2015).
    """
    E = np.asarray(E, dtype=np.float64)
    h0 = np.asarray(h0, dtype=np.float64)
    if h0.min(initial=0.0) < 0.0 or h0.max(initial=0.0) > 1.0:
        raise ValueError("initial distress outside [0, 1]")
    W = impact_matrix(A, E)
    h, rounds = _propagate(W, h0, differential, tol, max_rounds)
    v = _weights(E, value)
    return DebtRankResult(range(len(E)), h, h0, float(v @ h - v @ h0), rounds, differential)


def debtrank(G, shock: Mapping | Iterable, weight: str | Callable = "amount_usd", equity: str = "equity_usd",
             *, differential: bool = False, value: str | Sequence | None = None, tol: float = 1e-12,
             max_rounds: int = 100_000) -> DebtRankResult:
    """DebtRank on an exposure graph, fast version (compiles to CSR, runs :func:`debtrank_arrays`).

    Same parameters and result as :func:`debtrank_python`.

    Examples
    --------
    Two paths from the shocked node to node 0: the differential variant passes both increments
    of node 1 on, the classic one only the first.

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([(0, {"equity_usd": 10.0}), (1, {"equity_usd": 10.0}), (2, {"equity_usd": 10.0}), (3, {"equity_usd": 10.0})])
    >>> G.add_weighted_edges_from([(0, 1, 10.0), (1, 3, 5.0), (1, 2, 5.0), (2, 3, 10.0)], weight="amount_usd")
    >>> debtrank(G, [3]).h.tolist(), debtrank(G, [3], differential=True).h.tolist()
    ([0.5, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0])

    References
    ----------
    Battiston et al. (2012); Bardoscia et al. (2015).
    """
    m = to_matrices(G, weight=weight, equity=equity)
    r = debtrank_arrays(m.A, m.equity_usd, _initial(m.nodes, shock), differential=differential,
                        value=_value(G, m.nodes, value), tol=tol, max_rounds=max_rounds)
    return DebtRankResult(m.nodes, r.h, r.h0, r.R, r.rounds, differential)


def systemic_importance_python(G, weight: str | Callable = "amount_usd", equity: str = "equity_usd", *,
                               differential: bool = False, value: str | Sequence | None = None) -> dict:
    """DebtRank ``R`` of each node shocked alone (``h(0) = 1`` on it), reference version.

    Parameters
    ----------
    G, weight, equity, differential, value
        As in :func:`debtrank_python`.

    Returns
    -------
    dict
        node → ``R`` (fraction of total economic value lost *by the others*).

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([(0, {"equity_usd": 10.0}), (1, {"equity_usd": 8.0}), (2, {"equity_usd": 3.0})])
    >>> G.add_weighted_edges_from([(0, 1, 5.0), (1, 2, 4.0)], weight="amount_usd")
    >>> {k: round(r, 6) for k, r in systemic_importance_python(G).items()}
    {0: 0.0, 1: 0.238095, 2: 0.309524}

    References
    ----------
    Battiston et al. (2012) (DebtRank of single nodes).
    """
    return {v: debtrank_python(G, [v], weight, equity, differential=differential, value=value).R for v in G}


def systemic_importance_arrays(A, E, *, differential: bool = False, value=None, tol: float = 1e-12,
                               max_rounds: int = 100_000, batch: int | None = None) -> np.ndarray:
    """DebtRank ``R`` of each node shocked alone, many shocks per sparse product.

    Runs the shocks as the columns of a dense ``(n, batch)`` distress matrix, so one round is one
    sparse-times-dense product for ``batch`` shocks.

    Parameters
    ----------
    A, E, differential, value, tol, max_rounds
        As in :func:`debtrank_arrays`.
    batch : int, optional
        Shocks per block (default keeps the block near 2e6 entries).

    Returns
    -------
    numpy.ndarray
        ``R`` per node.

    Examples
    --------
    >>> systemic_importance_arrays([[0, 5, 0], [0, 0, 4], [0, 0, 0]], [10, 8, 3]).round(6).tolist()
    [0.0, 0.238095, 0.309524]

    References
    ----------
    Battiston et al. (2012).
    """
    E = np.asarray(E, dtype=np.float64)
    n = len(E)
    W = impact_matrix(A, E)
    v = _weights(E, value)
    batch = max(1, min(n, 2_000_000 // max(n, 1))) if batch is None else batch
    out = np.empty(n)
    for start in range(0, n, batch):
        cols = np.arange(start, min(n, start + batch))
        h0 = np.zeros((n, len(cols)))
        h0[cols, np.arange(len(cols))] = 1.0
        h, _ = _propagate(W, h0, differential, tol, max_rounds)
        out[cols] = v @ h - v[cols]
    return out


def systemic_importance(G, weight: str | Callable = "amount_usd", equity: str = "equity_usd", *,
                        differential: bool = False, value: str | Sequence | None = None) -> dict:
    """DebtRank ``R`` of each node shocked alone, fast version (see :func:`systemic_importance_arrays`).

    Same parameters and result as :func:`systemic_importance_python`.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([("a", {"equity_usd": 10.0}), ("b", {"equity_usd": 8.0}), ("c", {"equity_usd": 3.0})])
    >>> G.add_weighted_edges_from([("a", "b", 5.0), ("b", "c", 4.0)], weight="amount_usd")
    >>> max(systemic_importance(G).items(), key=lambda kv: kv[1])[0]
    'c'

    References
    ----------
    Battiston et al. (2012).
    """
    m = to_matrices(G, weight=weight, equity=equity)
    R = systemic_importance_arrays(m.A, m.equity_usd, differential=differential, value=_value(G, m.nodes, value))
    return dict(zip(m.nodes, R.tolist()))
