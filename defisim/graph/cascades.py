"""Default cascades: threshold (Furfine) cascades and price-mediated (fire-sale) contagion.

Exposure reading as everywhere in :mod:`defisim.graph`: an edge ``i → j`` (``A[i, j]``, USD)
is what ``i`` loses when ``j`` fails.

**Threshold cascade** (Furfine 2003, *J. Money, Credit and Banking* 35(1)). When ``j`` fails, each creditor ``i`` loses ``(1 −
recovery) · A[i, j]`` (recovery per edge or global); ``i`` fails when its cumulative loss is
positive and ``≥ E[i]``. Initial failures are round 0; a node failing because of the losses of
round ``k − 1``'s failures fails in round ``k``.

**Fire sales** (Cifuentes, Shin & Ferrucci 2005; Greenwood, Landier & Thesmar 2015). Holders of one common asset (``q_i`` units, debt ``d_i`` USD)
must keep ``d_i ≤ m_i · p · q_i`` (``m`` the maximum loan-to-value, a health factor of 1). The
asset first falls exogenously from ``p0`` to ``p1 = p0 (1 − shock)``. A holder in breach sells
``x_i`` units at the clearing price ``p`` and repays debt with the proceeds, to get back to the
target LTV ``t_i ≤ m_i``:

    (d_i − p x_i) = t_i p (q_i − x_i)   ⇒   x_i(p) = min(q_i, (d_i − t_i p q_i) / (p (1 − t_i)))

Sales ``Q = Σ x_i`` move the price, linearly ``p = p1 · max(0, 1 − Q / depth)`` or
exponentially ``p = p1 · exp(−Q / depth)`` (``depth`` in units). Everyone sells at the final
price (one-shot deleveraging at the clearing price); the price is the greatest fixed point
``p = p1 · g(Q(p))``, reached by monotone iteration from ``p1`` (``Q`` grows as ``p`` falls).
Amplification = total drop / exogenous drop = ``(p0 − p) / (p0 − p1)``.

**Closed form** (one asset, linear impact, one-shot deleveraging; every holder already in
breach at ``p1`` and nobody selling out). With ``D = Σ d_i / (1 − t_i)`` (USD) and ``B = Σ t_i
q_i / (1 − t_i)`` (units), ``Q(p) = D / p − B`` and the fixed point ``p = p1 (1 − Q(p)/depth)``
multiplied by ``depth · p`` is the quadratic ``depth p² − p1 (depth + B) p + p1 D = 0``; the
price is its larger root (the greatest fixed point below ``p1``):

    p* = [p1 (depth + B) + sqrt(p1² (depth + B)² − 4 depth p1 D)] / (2 depth)

(:func:`fire_sale_closed_form`; no real root below ``p1`` means the price collapses until
holders sell out, outside the closed form.)

References
----------
Furfine, C. (2003). Interbank exposures: quantifying the risk of contagion. *Journal of Money,
Credit and Banking* 35(1), 111–128. Cifuentes, R., Shin, H. S. & Ferrucci, G. (2005). Liquidity
risk and contagion. *JEEA* 3(2–3), 556–566. Greenwood, R., Landier, A. & Thesmar, D. (2015).
Vulnerable banks. *JFE* 115(3), 471–485.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from defisim.graph.matrix import _as_csr, edge_weight_function, node_equity, to_matrices

__all__ = [
    "CascadeResult",
    "threshold_cascade_python",
    "threshold_cascade",
    "threshold_cascade_arrays",
    "FireSaleResult",
    "fire_sale_python",
    "fire_sale",
    "fire_sale_closed_form",
]


@dataclass(frozen=True, eq=False)
class CascadeResult:
    """Outcome of a threshold cascade, node arrays aligned on ``nodes``.

    Attributes
    ----------
    nodes : sequence
        Node labels (``range(n)`` at array level).
    fail_round : numpy.ndarray
        int64: 0 for the initial failures, ``k`` for nodes failing in round ``k``, −1 survivors.
    loss_usd : numpy.ndarray
        Cumulative loss of each node (USD), from every failed debtor.
    edges : list or None
        Graph versions: the edges ``(u, v)`` (``(u, v, key)`` for multigraphs) in ``G.edges``
        order. None at array level.
    edge_loss_usd : numpy.ndarray or scipy.sparse.csr_array
        Loss across each edge (USD; ``(1 − recovery) · amount`` if its head failed, else 0),
        aligned with ``edges``; at array level a sparse ``(n, n)`` matrix.
    rounds : int
        Last round with a failure (0: no propagation).
    """

    nodes: Sequence
    fail_round: np.ndarray
    loss_usd: np.ndarray
    edges: list | None
    edge_loss_usd: np.ndarray | sp.csr_array
    rounds: int

    @property
    def failed(self) -> set:
        """Nodes that failed, initial ones included."""
        return {self.nodes[i] for i in np.flatnonzero(self.fail_round >= 0)}


def _recovery_fn(recovery) -> Callable[[dict], float]:
    if isinstance(recovery, str):
        return lambda d: float(d.get(recovery, 0.0))
    value = float(recovery)
    return lambda d: value


def _edge_list(G) -> list:
    return list(G.edges(keys=True)) if G.is_multigraph() else list(G.edges())


def _edge_data(G) -> Iterable:
    return G.edges(keys=True, data=True) if G.is_multigraph() else ((u, v, None, d) for u, v, d in G.edges(data=True))


def threshold_cascade_python(G, failed: Iterable, weight: str | Callable = "amount_usd", equity: str = "equity_usd",
                             recovery: str | float = "recovery") -> CascadeResult:
    """Threshold (Furfine) cascade on an exposure graph, reference version.

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph (``i → j``: i loses ``weight`` USD when j fails).
    failed : iterable
        Nodes failing at round 0.
    weight : str or callable, default "amount_usd"
        Exposure amount (USD).
    equity : str, default "equity_usd"
        Node attribute with the capital buffer (USD).
    recovery : str or float, default "recovery"
        Fraction recovered on a failed debtor: an edge attribute (missing means 0) or one value
        for all edges.

    Returns
    -------
    CascadeResult

    See Also
    --------
    threshold_cascade : the scipy.sparse version.

    Examples
    --------
    Worked example (Furfine 2003):

    >>> import networkx as nx
    >>> G = nx.DiGraph()
    >>> G.add_nodes_from([(0, {"equity_usd": 4.0}), (1, {"equity_usd": 3.0}), (2, {"equity_usd": 1.0})])
    >>> G.add_weighted_edges_from([(0, 1, 5.0), (1, 2, 4.0)], weight="amount_usd")
    >>> threshold_cascade_python(G, [2]).fail_round.tolist()
    [2, 1, 0]
    >>> r = threshold_cascade_python(G, [2], recovery=0.4)
    >>> r.fail_round.tolist(), r.edge_loss_usd.round(9).tolist()
    ([-1, -1, 0], [0.0, 2.4])

    References
    ----------
    Furfine (2003).
    """
    nodes = list(G)
    wfn = edge_weight_function(weight)
    rec = _recovery_fn(recovery)
    E = {v: node_equity(G, v, equity) for v in nodes}
    creditors: dict = {j: [] for j in nodes}  # creditors[j] = [(i, loss given j's default)]
    for i, j, d in G.edges(data=True):
        creditors[j].append((i, (1.0 - rec(d)) * wfn(i, j, d)))
    fail_round = {v: -1 for v in nodes}
    for v in failed:
        fail_round[v] = 0
    loss = {v: 0.0 for v in nodes}
    newly = [v for v in nodes if fail_round[v] == 0]
    k = 0
    while newly:
        k += 1
        for j in newly:
            for i, lgd in creditors[j]:
                loss[i] += lgd
        newly = [i for i in nodes if fail_round[i] < 0 and loss[i] > 0.0 and loss[i] >= E[i]]
        for i in newly:
            fail_round[i] = k
    edge_loss = [(1.0 - rec(d)) * wfn(u, v, d) if fail_round[v] >= 0 else 0.0 for u, v, _, d in _edge_data(G)]
    rounds = max(fail_round.values(), default=0)
    return CascadeResult(nodes, np.array([fail_round[v] for v in nodes], dtype=np.int64),
                         np.array([loss[v] for v in nodes]), _edge_list(G), np.array(edge_loss), max(rounds, 0))


def _cascade(LGD: sp.csr_array, E: np.ndarray, initial: np.ndarray):
    n = len(E)
    fail_round = np.where(initial, 0, -1).astype(np.int64)
    loss = np.zeros(n)
    newly = initial.copy()
    k = 0
    while newly.any():
        k += 1
        loss += LGD @ newly.astype(np.float64)
        newly = (fail_round < 0) & (loss > 0.0) & (loss >= E)
        fail_round[newly] = k
    return fail_round, loss


def threshold_cascade_arrays(A, E, failed, recovery: float = 0.0) -> CascadeResult:
    """Threshold cascade on an exposure matrix (numpy + scipy.sparse).

    Parameters
    ----------
    A : array_like or scipy.sparse matrix, shape (n, n)
        Exposures (USD). For per-edge recoveries pass the loss-given-default matrix (see
        :func:`threshold_cascade`) and ``recovery=0``.
    E : array_like, shape (n,)
        Equity (USD).
    failed : array_like
        Indices failing at round 0, or a boolean mask of length n.
    recovery : float, default 0
        Fraction recovered on every exposure.

    Returns
    -------
    CascadeResult
        ``nodes = range(n)``, ``edges = None``, ``edge_loss_usd`` a CSR matrix.

    Examples
    --------
    >>> r = threshold_cascade_arrays([[0, 5, 0], [0, 0, 4], [0, 0, 0]], [4, 3, 1], [2])
    >>> r.fail_round.tolist(), r.loss_usd.tolist(), r.edge_loss_usd.toarray().tolist()
    ([2, 1, 0], [5.0, 4.0, 0.0], [[0.0, 5.0, 0.0], [0.0, 0.0, 4.0], [0.0, 0.0, 0.0]])

    References
    ----------
    Furfine (2003).
    """
    LGD = _as_csr(A) * (1.0 - recovery)
    E = np.asarray(E, dtype=np.float64)
    n = len(E)
    failed = np.asarray(failed)
    initial = failed.copy() if failed.dtype == bool and failed.shape == (n,) else np.isin(np.arange(n), failed)
    fail_round, loss = _cascade(LGD, E, initial)
    edge_loss = LGD @ sp.diags_array((fail_round >= 0).astype(np.float64))
    return CascadeResult(range(n), fail_round, loss, None, sp.csr_array(edge_loss), int(fail_round.max(initial=0)))


def threshold_cascade(G, failed: Iterable, weight: str | Callable = "amount_usd", equity: str = "equity_usd",
                      recovery: str | float = "recovery") -> CascadeResult:
    """Threshold cascade on an exposure graph, fast version (compiles the loss-given-default matrix).

    Same parameters and result as :func:`threshold_cascade_python`.

    Examples
    --------
    Per-edge recovery on a multigraph: the senior edge recovers 90%.

    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> G.add_nodes_from([("lender", {"equity_usd": 3.0}), ("borrower", {"equity_usd": 0.0})])
    >>> _ = G.add_edge("lender", "borrower", amount_usd=2.0, recovery=0.0)
    >>> _ = G.add_edge("lender", "borrower", amount_usd=10.0, recovery=0.9)
    >>> r = threshold_cascade(G, ["borrower"])
    >>> r.failed == {"lender", "borrower"}, r.edge_loss_usd.round(9).tolist()
    (True, [2.0, 1.0])

    References
    ----------
    Furfine (2003).
    """
    wfn = edge_weight_function(weight)
    rec = _recovery_fn(recovery)
    m = to_matrices(G, weight=lambda u, v, d: (1.0 - rec(d)) * wfn(u, v, d), equity=equity)
    initial = np.zeros(m.n, dtype=bool)
    initial[[m.index[v] for v in failed]] = True
    fail_round, loss = _cascade(m.A, m.equity_usd, initial)
    index = m.index
    edge_loss = np.array([(1.0 - rec(d)) * wfn(u, v, d) if fail_round[index[v]] >= 0 else 0.0
                          for u, v, _, d in _edge_data(G)])
    return CascadeResult(m.nodes, fail_round, loss, _edge_list(G), edge_loss, int(fail_round.max(initial=0)))


# -- fire sales ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FireSaleResult:
    """Fixed point of a fire sale of one asset.

    Attributes
    ----------
    price_usd : float
        Final (clearing) price.
    exogenous_price_usd : float
        ``p1 = p0 (1 − shock)``, the price before any sale.
    sold : numpy.ndarray
        Units sold by each holder.
    sold_usd : numpy.ndarray
        Proceeds (``sold · price_usd``), all used to repay debt.
    amplification : float
        ``(p0 − price) / (p0 − p1)``; nan when the shock is 0.
    iterations : int
        Fixed-point iterations.
    """

    price_usd: float
    exogenous_price_usd: float
    sold: np.ndarray
    sold_usd: np.ndarray
    amplification: float
    iterations: int


_IMPACTS = ("linear", "exponential")


def _check_fire_sale(holdings, debt_usd, max_ltv, target_ltv, impact):
    q = np.asarray(holdings, dtype=np.float64)
    d = np.broadcast_to(np.asarray(debt_usd, dtype=np.float64), q.shape)
    m = np.broadcast_to(np.asarray(max_ltv, dtype=np.float64), q.shape)
    t = m if target_ltv is None else np.broadcast_to(np.asarray(target_ltv, dtype=np.float64), q.shape)
    if impact not in _IMPACTS:
        raise ValueError(f"impact must be one of {_IMPACTS}, got {impact!r}")
    if np.any(t > m) or np.any(t >= 1.0) or np.any(t < 0.0):
        raise ValueError("need 0 ≤ target_ltv ≤ max_ltv and target_ltv < 1")
    return q, d, m, t


def _result(price, p0, p1, sold, iterations) -> FireSaleResult:
    amplification = (p0 - price) / (p0 - p1) if p0 != p1 else math.nan
    return FireSaleResult(float(price), float(p1), sold, sold * price, float(amplification), iterations)


def fire_sale_python(holdings: Sequence[float], debt_usd: Sequence[float], max_ltv, price0_usd: float, shock: float,
                     depth: float, *, target_ltv=None, impact: str = "linear", tol: float = 1e-12,
                     max_iter: int = 1_000_000) -> FireSaleResult:
    """Fire-sale fixed point for one asset, reference version (a loop over holders).

    Parameters
    ----------
    holdings : sequence of float
        Units of the asset each holder owns (``q``).
    debt_usd : sequence of float or float
        Debt of each holder (USD).
    max_ltv : float or sequence
        Maximum loan-to-value ``m``: a holder is in breach when ``d > m p q``.
    price0_usd : float
        Price before the shock (USD).
    shock : float
        Exogenous fall, fraction of ``price0_usd``.
    depth : float
        Units: linear impact ``p = p1 (1 − Q/depth)``, exponential ``p = p1 exp(−Q/depth)``.
    target_ltv : float or sequence, optional
        LTV a seller restores (``≤ max_ltv``); default ``max_ltv``.
    impact : {"linear", "exponential"}
    tol : float
        Stop when the price moves by less than ``tol · price0_usd``.
    max_iter : int
        Cap on iterations.

    Returns
    -------
    FireSaleResult

    See Also
    --------
    fire_sale : vectorised version; fire_sale_closed_form : the linear one-asset closed form.

    Examples
    --------
    Two holders in breach after a 10% fall; the sales take the price to 81.95, amplification 1.8:

    >>> r = fire_sale_python([100.0, 50.0], [7500.0, 3800.0], 0.8, 100.0, 0.1, 1000.0)
    >>> round(r.price_usd, 4), round(r.amplification, 4), r.sold.round(3).tolist()
    (81.9499, 1.805, [57.597, 31.849])

    References
    ----------
    Cifuentes, Shin & Ferrucci (2005); Greenwood, Landier & Thesmar (2015).
    """
    q, d, m, t = _check_fire_sale(holdings, debt_usd, max_ltv, target_ltv, impact)
    q, d, m, t = q.tolist(), d.tolist(), m.tolist(), t.tolist()
    p1 = price0_usd * (1.0 - shock)

    def sales(p):
        out = []
        for qi, di, mi, ti in zip(q, d, m, t):
            if p <= 0.0:
                out.append(qi)
            elif di > mi * p * qi:
                out.append(min(qi, (di - ti * p * qi) / (p * (1.0 - ti))))
            else:
                out.append(0.0)
        return out

    def price(total):
        if impact == "linear":
            return p1 * max(0.0, 1.0 - total / depth)
        return p1 * math.exp(-total / depth)

    p = p1
    for it in range(1, max_iter + 1):
        new_p = price(sum(sales(p)))
        done = abs(new_p - p) <= tol * price0_usd
        p = new_p
        if done:
            break
    return _result(p, price0_usd, p1, np.array(sales(p)), it)


def fire_sale(holdings, debt_usd, max_ltv, price0_usd: float, shock: float, depth: float, *, target_ltv=None,
              impact: str = "linear", tol: float = 1e-12, max_iter: int = 1_000_000) -> FireSaleResult:
    """Fire-sale fixed point for one asset, vectorised over holders.

    Same parameters and result as :func:`fire_sale_python` (arrays in place of sequences).

    Examples
    --------
    >>> r = fire_sale([100.0, 50.0], [7500.0, 3800.0], 0.8, 100.0, 0.1, 1000.0, impact="exponential")
    >>> round(r.price_usd, 3), round(r.amplification, 3)
    (83.064, 1.694)

    References
    ----------
    Cifuentes, Shin & Ferrucci (2005); Greenwood, Landier & Thesmar (2015).
    """
    q, d, m, t = _check_fire_sale(holdings, debt_usd, max_ltv, target_ltv, impact)
    p1 = price0_usd * (1.0 - shock)

    def sales(p):
        if p <= 0.0:
            return q.copy()
        need = np.minimum(q, (d - t * p * q) / (p * (1.0 - t)))
        return np.where(d > m * p * q, need, 0.0)

    p = p1
    for it in range(1, max_iter + 1):
        total = sales(p).sum()
        new_p = p1 * max(0.0, 1.0 - total / depth) if impact == "linear" else p1 * math.exp(-total / depth)
        done = abs(new_p - p) <= tol * price0_usd
        p = new_p
        if done:
            break
    return _result(p, price0_usd, p1, sales(p), it)


def fire_sale_closed_form(holdings, debt_usd, max_ltv, price0_usd: float, shock: float, depth: float, *,
                          target_ltv=None) -> float:
    """Fire-sale price in closed form: one asset, linear impact, one-shot deleveraging.

    ``p* = [p1 (depth + B) + sqrt(p1² (depth + B)² − 4 depth p1 D)] / (2 depth)`` with ``D = Σ d/(1 −
    t)`` and ``B = Σ t q/(1 − t)`` (derivation in the module docstring). Parameters as in
    :func:`fire_sale_python`.

    Returns
    -------
    float
        The clearing price (USD).

    Raises
    ------
    ValueError
        Outside the closed form's domain: a holder not in breach at ``p1``, a holder selling out at
        ``p*``, or no real root at or below ``p1`` (the price collapses).

    Examples
    --------
    >>> round(fire_sale_closed_form([100.0, 50.0], [7500.0, 3800.0], 0.8, 100.0, 0.1, 1000.0), 4)
    81.9499

    References
    ----------
    Cifuentes, Shin & Ferrucci (2005) (the clearing price of a fire sale).
    """
    q, d, m, t = _check_fire_sale(holdings, debt_usd, max_ltv, target_ltv, "linear")
    p1 = price0_usd * (1.0 - shock)
    if not np.all(d > m * p1 * q):
        raise ValueError("closed form needs every holder in breach at the shocked price")
    D = float(np.sum(d / (1.0 - t)))
    B = float(np.sum(t * q / (1.0 - t)))
    disc = (p1 * (depth + B)) ** 2 - 4.0 * depth * p1 * D
    if disc < 0.0:
        raise ValueError("no fixed point: the price collapses until holders sell out")
    p = (p1 * (depth + B) + math.sqrt(disc)) / (2.0 * depth)
    if p > p1 or p <= 0.0:
        raise ValueError("no fixed point at or below the shocked price")
    if np.any((d - t * p * q) / (p * (1.0 - t)) > q):
        raise ValueError("a holder sells out at the closed-form price")
    return p
