"""Clearing payments: Eisenberg–Noe, with Rogers–Veraart default costs.

**Input reading (the opposite of the exposure graph).** The liabilities graph has an edge
``i → j`` with weight ``L[i, j]`` = the nominal amount (USD) that ``i`` *owes* ``j``. In an
exposure graph the same debt is the edge ``j → i`` (the creditor ``j`` loses when ``i`` fails):
:func:`liabilities_from_exposures` turns one into the other, and at array level ``L = A.T``.

Notation: ``p̄ = L.sum(axis=1)`` (total obligations), ``Π[i, j] = L[i, j] / p̄[i]`` (0 where
``p̄ = 0``), ``e`` external assets (USD, ≥ 0). The clearing vector is the greatest ``p`` with

    p_i = p̄_i                                  if e_i + (Πᵀp)_i ≥ p̄_i   (solvent)
    p_i = max(0, α e_i + β (Πᵀp)_i)            otherwise                 (in default)

With ``α = β = 1`` this is Eisenberg–Noe's ``p = min(p̄, max(0, e + Πᵀp))``; ``α, β < 1`` are
Rogers–Veraart's costs of default (a defaulting node realises only ``α e`` of its external
assets and ``β`` of its interbank receivables).

**Seniority.** Every liability in ``L`` has the same seniority: a node pays all its creditors
the same fraction ``p_i / p̄_i`` (pro rata). There are no other liabilities: to model external
creditors ranking *pari passu*, add them as edges to a sink node; if they are *senior*, subtract
them from ``e`` first; junior external debt does not affect the interbank payments.

**Algorithm.** Both versions run the fictitious default algorithm (Eisenberg & Noe §3; Rogers
& Veraart's greatest-clearing-vector algorithm): start from ``p = p̄``; the nodes insolvent
under the current payments join the default set (round ``k``); the defaulters' payments are
re-solved with everybody else paying in full — by monotone Jacobi iteration from above, which
reaches the *greatest* solution even when the defaulters' system is singular; repeat until the
default set stops growing (at most ``n`` rounds). A node is solvent when ``e_i + (Πᵀp)_i ≥ p̄_i −
tol · max(1, p̄_i)``: the tolerance decides cases that sit on the solvency line (vector RV-1).

References
----------
Eisenberg, L. & Noe, T. H. (2001). Systemic risk in financial systems. *Management Science*
47(2), 236–249. Rogers, L. C. G. & Veraart, L. A. M. (2013). Failure and rescue in an interbank
network. *Management Science* 59(4), 882–898.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import networkx as nx
import numpy as np

from defisim.graph.matrix import _as_csr, edge_weight_function, to_matrices

__all__ = [
    "ClearingResult",
    "liabilities_from_exposures",
    "clearing_vector_python",
    "clearing_vector",
    "clearing_vector_arrays",
]


@dataclass(frozen=True, eq=False)
class ClearingResult:
    """Outcome of a clearing, arrays aligned on ``nodes``.

    Attributes
    ----------
    nodes : sequence
        Node labels (``range(n)`` for the array entry point).
    payments_usd : numpy.ndarray
        Clearing payments ``p`` (USD), ``0 ≤ p ≤ p̄``.
    obligations_usd : numpy.ndarray
        Nominal obligations ``p̄`` (USD).
    default_round : numpy.ndarray
        int64: the round of the fictitious default algorithm in which the node defaulted (1 =
        insolvent even when everybody pays in full), −1 if it did not default.
    rounds : int
        Rounds in which the default set grew.
    """

    nodes: Sequence
    payments_usd: np.ndarray
    obligations_usd: np.ndarray
    default_round: np.ndarray
    rounds: int

    @property
    def defaulted(self) -> set:
        """The default set (node labels)."""
        return {self.nodes[i] for i in np.flatnonzero(self.default_round >= 0)}


def liabilities_from_exposures(G, weight: str | Callable = "amount_usd", kinds=None) -> nx.DiGraph:
    """The liabilities graph of an exposure graph: every exposure ``u → v`` becomes ``v → u``.

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph (``u → v``: u loses when v fails, i.e. v owes u).
    weight : str or callable, default "amount_usd"
        Edge amount (USD).
    kinds : iterable of str, optional
        Keep only edges of these ``kind`` values (e.g. ``["debt"]``).

    Returns
    -------
    networkx.DiGraph
        Same nodes (with their attributes); edge ``i → j`` with ``amount_usd`` = what i owes j,
        parallel exposures summed.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> _ = G.add_edge("lender", "borrower", kind="debt", amount_usd=3.0)
    >>> _ = G.add_edge("lender", "borrower", kind="debt", amount_usd=1.0)
    >>> list(liabilities_from_exposures(G).edges(data="amount_usd"))
    [('borrower', 'lender', 4.0)]

    References
    ----------
    Eisenberg & Noe 2001, *Management Science* 47(2) (``L[i, j]`` = what i owes j).
    """
    wfn = edge_weight_function(weight)
    keep = None if kinds is None else frozenset(kinds)
    out = nx.DiGraph()
    out.add_nodes_from(G.nodes(data=True))
    for u, v, d in G.edges(data=True):
        if keep is not None and d.get("kind") not in keep:
            continue
        if out.has_edge(v, u):
            out[v][u]["amount_usd"] += wfn(u, v, d)
        else:
            out.add_edge(v, u, amount_usd=wfn(u, v, d))
    return out


def _external_assets(G, nodes, external) -> np.ndarray:
    if isinstance(external, str):
        return np.array([float(G.nodes[v].get(external, 0.0)) for v in nodes])
    if isinstance(external, Mapping):
        return np.array([float(external.get(v, 0.0)) for v in nodes])
    return np.asarray(external, dtype=np.float64).copy()


def clearing_vector_python(G, external: str | Mapping | Sequence = "external_usd", weight: str | Callable = "amount_usd",
                           *, alpha: float = 1.0, beta: float = 1.0, tol: float = 1e-9,
                           max_iter: int = 100_000) -> ClearingResult:
    """Greatest clearing vector, reference version (plain Python loops over the graph).

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        **Liabilities** graph: edge ``i → j`` = nominal amount (USD) i owes j (parallel edges
        summed). From an exposure graph use :func:`liabilities_from_exposures`.
    external : str, mapping or sequence, default "external_usd"
        External assets ``e`` (USD): a node attribute, a mapping node → USD, or an array in
        ``list(G)`` order. Missing means 0.
    weight : str or callable, default "amount_usd"
        Edge attribute with the amount owed, or ``(u, v, data) -> float``.
    alpha, beta : float, default 1
        Rogers–Veraart recovery of external assets / interbank receivables in default, in
        ``[0, 1]``; 1 and 1 is Eisenberg–Noe.
    tol : float, default 1e-9
        Solvency tolerance, relative to ``max(1, p̄_i)``; the inner iteration stops when no
        payment moves by more than ``1e-3 · tol · max(1, max p̄)``.
    max_iter : int
        Cap on inner iterations per round (RuntimeError when reached).

    Returns
    -------
    ClearingResult

    See Also
    --------
    clearing_vector : the scipy.sparse version (same algorithm, same result).

    Examples
    --------
    Worked example (Eisenberg & Noe 2001): only node 0 defaults; it pays 1.5 of its 3.

    >>> import networkx as nx
    >>> L = nx.DiGraph()
    >>> L.add_weighted_edges_from([(0, 1, 2.0), (0, 2, 1.0), (1, 0, 1.0), (1, 2, 1.0), (2, 1, 1.0)], weight="amount_usd")
    >>> r = clearing_vector_python(L, [0.5, 0.5, 0.2])
    >>> r.payments_usd.round(9).tolist(), r.defaulted, r.default_round.tolist()
    ([1.5, 2.0, 1.0], {0}, [1, -1, -1])

    Worked example (Rogers & Veraart 2013): default costs α = β = 0.5; node 1 ends exactly on the solvency line.

    >>> clearing_vector_python(L, [0.5, 0.5, 0.2], alpha=0.5, beta=0.5).payments_usd.round(9).tolist()
    [0.75, 2.0, 1.0]

    References
    ----------
    Eisenberg & Noe (2001) §3 (fictitious default algorithm); Rogers & Veraart (2013) §3.
    """
    nodes = list(G)
    wfn = edge_weight_function(weight)
    owed: dict = {i: {} for i in nodes}  # owed[i][j] = L[i, j]
    for i, j, d in G.edges(data=True):
        owed[i][j] = owed[i].get(j, 0.0) + wfn(i, j, d)
    pbar = {i: sum(owed[i].values()) for i in nodes}
    e = dict(zip(nodes, _external_assets(G, nodes, external).tolist()))
    step_tol = 1e-3 * tol * max([1.0, *pbar.values()])

    def received(p):
        rec = {j: 0.0 for j in nodes}
        for i in nodes:
            if pbar[i] > 0.0:
                fraction_paid = p[i] / pbar[i]
                for j, amount in owed[i].items():
                    rec[j] += amount * fraction_paid
        return rec

    p = dict(pbar)
    default_round = {i: -1 for i in nodes}
    defaulted: list = []
    rounds = 0
    for k in range(1, len(nodes) + 1):
        rec = received(p)
        new = [i for i in nodes if default_round[i] < 0 and e[i] + rec[i] < pbar[i] - tol * max(1.0, pbar[i])]
        if not new:
            break
        rounds = k
        for i in new:
            default_round[i] = k
            defaulted.append(i)
        # defaulters pay what they realise, the others pay in full; Jacobi from above
        for _ in range(max_iter):
            new_p = {i: min(pbar[i], max(0.0, alpha * e[i] + beta * rec[i])) for i in defaulted}
            change = max(abs(new_p[i] - p[i]) for i in defaulted)
            p.update(new_p)
            if change <= step_tol:
                break
            rec = received(p)
        else:
            raise RuntimeError(f"clearing did not converge in {max_iter} iterations (round {k})")
    return ClearingResult(nodes, np.array([p[i] for i in nodes]), np.array([pbar[i] for i in nodes]),
                          np.array([default_round[i] for i in nodes], dtype=np.int64), rounds)


def clearing_vector_arrays(L, e, *, alpha: float = 1.0, beta: float = 1.0, tol: float = 1e-9,
                           max_iter: int = 100_000) -> ClearingResult:
    """Greatest clearing vector of a liabilities matrix (numpy + scipy.sparse).

    Parameters
    ----------
    L : array_like or scipy.sparse matrix, shape (n, n)
        ``L[i, j]`` = nominal amount (USD) i owes j (the transpose of the exposure matrix).
    e : array_like, shape (n,)
        External assets (USD).
    alpha, beta, tol, max_iter
        As in :func:`clearing_vector_python`.

    Returns
    -------
    ClearingResult
        With ``nodes = range(n)``.

    Notes
    -----
    Per round the defaulters' system is restricted to the defaulters' rows and columns of
    ``Lᵀ``: an iteration costs the non-zeros among defaulters, not the whole matrix.

    Examples
    --------
    >>> r = clearing_vector_arrays([[0, 2, 1], [1, 0, 1], [0, 1, 0]], [0.5, 0.5, 0.2])
    >>> r.payments_usd.round(9).tolist(), r.default_round.tolist(), r.rounds
    ([1.5, 2.0, 1.0], [1, -1, -1], 1)

    References
    ----------
    Eisenberg & Noe (2001); Rogers & Veraart (2013).
    """
    L = _as_csr(L)
    n = L.shape[0]
    e = np.asarray(e, dtype=np.float64)
    if e.shape != (n,):
        raise ValueError(f"e has shape {e.shape}, expected ({n},)")
    pbar = np.asarray(L.sum(axis=1)).ravel()
    inv = np.divide(1.0, pbar, out=np.zeros(n), where=pbar > 0.0)
    LT = L.T.tocsr()  # (LT @ x)[j] = Σ_i L[i, j] x_i
    threshold = pbar - tol * np.maximum(1.0, pbar)
    step_tol = 1e-3 * tol * max(1.0, float(pbar.max(initial=0.0)))
    p = pbar.copy()
    default_round = np.full(n, -1, dtype=np.int64)
    in_default = np.zeros(n, dtype=bool)
    rounds = 0
    for k in range(1, n + 1):
        new = ~in_default & (e + LT @ (p * inv) < threshold)
        if not new.any():
            break
        rounds = k
        default_round[new] = k
        in_default |= new
        idx = np.flatnonzero(in_default)
        rows = LT[idx]                      # receivables of the defaulters
        LT_dd = rows[:, idx]
        fraction = p * inv
        fraction[idx] = 0.0
        const = alpha * e[idx] + beta * (rows @ fraction)    # from the nodes paying in full
        LT_dd_beta = LT_dd * beta
        inv_d, pbar_d = inv[idx], pbar[idx]
        p_d = p[idx]
        for _ in range(max_iter):
            new_p = np.minimum(pbar_d, np.maximum(0.0, const + LT_dd_beta @ (p_d * inv_d)))
            change = np.max(np.abs(new_p - p_d))
            p_d = new_p
            if change <= step_tol:
                break
        else:
            raise RuntimeError(f"clearing did not converge in {max_iter} iterations (round {k})")
        p[idx] = p_d
    return ClearingResult(range(n), p, pbar, default_round, rounds)


def clearing_vector(G, external: str | Mapping | Sequence = "external_usd", weight: str | Callable = "amount_usd",
                    *, alpha: float = 1.0, beta: float = 1.0, tol: float = 1e-9,
                    max_iter: int = 100_000) -> ClearingResult:
    """Greatest clearing vector of a liabilities graph, fast version (compiles to CSR).

    Same parameters and result as :func:`clearing_vector_python` (``G`` is the **liabilities**
    graph, edge ``i → j`` = amount i owes j); runs :func:`clearing_vector_arrays`.

    Examples
    --------
    >>> import networkx as nx
    >>> L = nx.DiGraph()
    >>> L.add_weighted_edges_from([("a", "b", 2.0), ("a", "c", 1.0), ("b", "a", 1.0), ("b", "c", 1.0), ("c", "b", 1.0)], weight="amount_usd")
    >>> r = clearing_vector(L, {"a": 0.5, "b": 0.5, "c": 0.2}, alpha=0.5, beta=0.5)
    >>> r.payments_usd.round(9).tolist(), r.defaulted
    ([0.75, 2.0, 1.0], {'a'})

    References
    ----------
    Eisenberg & Noe (2001); Rogers & Veraart (2013).
    """
    m = to_matrices(G, weight=weight, equity=None)
    r = clearing_vector_arrays(m.A, _external_assets(G, m.nodes, external), alpha=alpha, beta=beta, tol=tol,
                               max_iter=max_iter)
    return ClearingResult(m.nodes, r.payments_usd, r.obligations_usd, r.default_round, r.rounds)
