"""Rehypothecation: TVL double counting, loop leverage, loops, layers of derivation, concentration.

Exposure reading as everywhere in :mod:`defisim.graph`: an edge ``u → v`` means u loses when v
fails. *Deposit* edges (``kind`` in :data:`DEPOSIT_KINDS`: collateral, backing, lp) say that u
holds value at v (collateral u accepted that v issued, backing u holds at v, liquidity u
provides to v); *derivation* edges (:data:`DERIVATION_KINDS`, deposits plus wrapping) say that
u's value derives from v's.

Definitions:

* **reported TVL** — sum of ``amount_usd`` over deposit edges leaving ``protocol`` or ``venue``
  nodes (every protocol counts everything it holds, derivatives of other protocols' deposits
  included).
* **base asset** — a ``token`` node with no outgoing backing or wrapping edge.
* **counted-once TVL** — the value that reaches base assets: the sum of ``amount_usd`` over
  derivation edges ``u → b`` with ``b`` a base asset and ``u`` a non-base node that is a
  protocol/venue or reachable from one along derivation edges. Each unit of base asset is
  counted at the one place it sits. (A derivative token held in part outside the protocols
  still counts its whole backing.)
* **rehypothecation multiplier** of a base asset ``b`` — the reported claims that derive from
  ``b`` divided by ``b``'s counted-once value. Each reported deposit ``u → v`` is followed from
  ``v`` through derivation edges, split in proportion to each node's derivation edges, until it
  reaches a base asset; claims that never reach one (a closed loop, a token with nothing behind
  it) are *unbacked*.

For a chain in which each layer re-pledges a fraction ``f`` of the layer below, ``reported /
once = 1 + f + … + f^(k−1) = (1 − f^k)/(1 − f)`` (:func:`tvl_inflation`; vector RH-1).

References
----------
loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ (loop
leverage). Tarjan, R. (1972). Depth-first search and linear graph algorithms. *SIAM J. Comput.*
1(2), 146–160 (strongly connected components).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from defisim.graph.matrix import _as_csr, edge_weight_function

__all__ = [
    "DEPOSIT_KINDS",
    "DERIVATION_KINDS",
    "TvlReport",
    "base_assets",
    "tvl_double_counting",
    "tvl_double_counting_python",
    "tvl_inflation",
    "loop_leverage",
    "loop_liquidation_fall",
    "LoopReport",
    "count_short_cycles",
    "find_loops",
    "derivation_layers",
    "concentration",
]

#: Edge kinds by which a node holds value at another.
DEPOSIT_KINDS = ("collateral", "backing", "lp")
#: Edge kinds along which value derives (deposits and wrapping).
DERIVATION_KINDS = ("collateral", "backing", "lp", "wrapping")

_HOLDERS = ("protocol", "venue")


@dataclass(frozen=True, eq=False)
class TvlReport:
    """Reported vs counted-once TVL of an exposure graph.

    Attributes
    ----------
    reported_usd : float
        Sum of deposit edges leaving protocol/venue nodes.
    counted_once_usd : float
        Value reaching base assets, each unit once.
    inflation : float
        ``reported_usd / counted_once_usd`` (nan if nothing reaches a base asset).
    multiplier : dict
        Base asset → reported claims derived from it / its counted-once value.
    unbacked_usd : float
        Reported claims that reach no base asset.
    """

    reported_usd: float
    counted_once_usd: float
    inflation: float
    multiplier: dict
    unbacked_usd: float


def base_assets(G) -> list:
    """Token nodes with no outgoing backing or wrapping edge, in ``list(G)`` order.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> G.add_nodes_from([("eth", {"kind": "token"}), ("steth", {"kind": "token"})])
    >>> _ = G.add_edge("steth", "eth", kind="backing", amount_usd=1.0)
    >>> base_assets(G)
    ['eth']
    """
    backed = {u for u, _, k in G.edges(data="kind") if k in ("backing", "wrapping")}
    return [v for v, k in G.nodes(data="kind") if k == "token" and v not in backed]


def tvl_double_counting(G, weight: str | Callable = "amount_usd", max_iter: int = 10_000) -> TvlReport:
    """Reported TVL, counted-once TVL, their ratio and each base asset's rehypothecation multiplier.

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph with node ``kind`` and edge ``kind`` attributes.
    weight : str or callable, default "amount_usd"
        Edge amount (USD).
    max_iter : int
        Steps a claim is followed before it counts as unbacked (claims circulating in a closed
        loop never arrive).

    Returns
    -------
    TvlReport

    Examples
    --------
    Worked example: 100 of a base token in protocol P1; P1's receipt token T1
    (backed by P1), 80 of it pledged in P2; P2's receipt T2, 64 of it pledged in P3.

    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> G.add_nodes_from(["B", "T1", "T2"], kind="token")
    >>> G.add_nodes_from(["P1", "P2", "P3"], kind="protocol")
    >>> for u, v, kind, usd in [("P1", "B", "collateral", 100.0), ("T1", "P1", "backing", 100.0),
    ...                         ("P2", "T1", "collateral", 80.0), ("T2", "P2", "backing", 80.0),
    ...                         ("P3", "T2", "collateral", 64.0)]:
    ...     _ = G.add_edge(u, v, kind=kind, amount_usd=usd)
    >>> r = tvl_double_counting(G)
    >>> r.reported_usd, r.counted_once_usd, round(r.inflation, 12), {b: round(x, 12) for b, x in r.multiplier.items()}
    (244.0, 100.0, 2.44, {'B': 2.44})

    References
    ----------
.
    """
    wfn = edge_weight_function(weight)
    nodes = list(G)
    index = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    kind = dict(G.nodes(data="kind"))
    is_base = np.zeros(n, dtype=bool)
    is_base[[index[b] for b in base_assets(G)]] = True
    reported = 0.0
    start = np.zeros(n)
    rows, cols, vals = [], [], []
    for u, v, d in G.edges(data=True):
        k = d.get("kind")
        if k not in DERIVATION_KINDS:
            continue
        amount = wfn(u, v, d)
        rows.append(index[u])
        cols.append(index[v])
        vals.append(amount)
        if k in DEPOSIT_KINDS and kind.get(u) in _HOLDERS:
            reported += amount
            start[index[v]] += amount
    D = sp.coo_array((np.asarray(vals, dtype=np.float64), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                     shape=(n, n)).tocsr()
    D.sum_duplicates()
    # counted once: derivation edges into base assets from the protocols and what they reach
    holders = np.array([kind.get(v) in _HOLDERS for v in nodes], dtype=bool)
    reach = holders.copy()
    frontier = holders.copy()
    binary = (D > 0).astype(np.float64)
    while frontier.any():
        nxt = (binary.T @ frontier.astype(np.float64)) > 0
        frontier = nxt & ~reach
        reach |= frontier
    into_base = D @ sp.diags_array(is_base.astype(np.float64))
    value = (sp.diags_array((reach & ~is_base).astype(np.float64)) @ into_base).sum(axis=0)
    value = np.asarray(value).ravel()
    counted_once = float(value.sum())
    # follow each reported claim to the base assets, in proportion to derivation edges
    out_total = np.asarray(D.sum(axis=1)).ravel()
    passes = ~is_base & (out_total > 0.0)
    P = sp.diags_array(np.divide(1.0, out_total, out=np.zeros(n), where=passes)) @ D
    PT = sp.csr_array(P.T)
    absorbed = np.zeros(n)
    unbacked = 0.0
    mass = start
    for _ in range(max_iter):
        absorbed += np.where(is_base, mass, 0.0)
        unbacked += float(mass[~is_base & ~passes].sum())
        mass = PT @ np.where(passes, mass, 0.0)
        if mass.sum() <= 1e-15 * max(reported, 1.0):
            break
    unbacked += float(mass.sum())
    multiplier = {nodes[i]: float(absorbed[i] / value[i]) for i in np.flatnonzero(is_base & (value > 0.0))}
    inflation = reported / counted_once if counted_once > 0.0 else float("nan")
    return TvlReport(reported, counted_once, inflation, multiplier, unbacked)


def tvl_double_counting_python(G, weight: str | Callable = "amount_usd", max_iter: int = 10_000) -> TvlReport:
    """Reference version of :func:`tvl_double_counting`: the same definitions, followed edge by
    edge in plain Python (dicts and a depth-first search) instead of sparse matrix products.

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> G.add_nodes_from([("B", {"kind": "token"}), ("T1", {"kind": "token"}), ("P1", {"kind": "protocol"}),
    ...                   ("P2", {"kind": "protocol"})])
    >>> for u, v, kind, usd in [("P1", "B", "collateral", 100.0), ("T1", "P1", "backing", 100.0),
    ...                         ("P2", "T1", "collateral", 50.0)]:
    ...     _ = G.add_edge(u, v, kind=kind, amount_usd=usd)
    >>> r = tvl_double_counting_python(G)
    >>> r.reported_usd, r.counted_once_usd, r.inflation, r.multiplier
    (150.0, 100.0, 1.5, {'B': 1.5})
    """
    wfn = edge_weight_function(weight)
    kind = dict(G.nodes(data="kind"))
    base = set(base_assets(G))
    derives: dict = {v: [] for v in G}  # node -> [(node it derives from, USD)]
    reported, mass = 0.0, {}
    for u, v, d in G.edges(data=True):
        if d.get("kind") not in DERIVATION_KINDS:
            continue
        amount = wfn(u, v, d)
        derives[u].append((v, amount))
        if d["kind"] in DEPOSIT_KINDS and kind.get(u) in _HOLDERS:
            reported += amount
            mass[v] = mass.get(v, 0.0) + amount
    # counted once: what reaches base assets from the protocols and everything they reach
    reached, stack = set(), [v for v in G if kind.get(v) in _HOLDERS]
    while stack:
        v = stack.pop()
        if v not in reached:
            reached.add(v)
            stack.extend(w for w, _ in derives[v])
    value = {b: 0.0 for b in base}
    for v in reached - base:
        for w, amount in derives[v]:
            if w in base:
                value[w] += amount
    # each reported claim, split in proportion to what its node derives from, until it lands
    absorbed, unbacked = {b: 0.0 for b in base}, 0.0
    for _ in range(max_iter):
        moving: dict = {}
        for v, m in mass.items():
            total = sum(a for _, a in derives[v])
            if v in base:
                absorbed[v] += m
            elif total <= 0.0:
                unbacked += m
            else:
                for w, amount in derives[v]:
                    moving[w] = moving.get(w, 0.0) + m * amount / total
        mass = moving
        if sum(mass.values()) <= 1e-15 * max(reported, 1.0):
            break
    unbacked += sum(mass.values())
    counted_once = sum(value.values())
    multiplier = {b: absorbed[b] / value[b] for b in G if b in base and value[b] > 0.0}
    inflation = reported / counted_once if counted_once > 0.0 else float("nan")
    return TvlReport(reported, counted_once, inflation, multiplier, unbacked)


def tvl_inflation(f, k):
    """Reported / counted-once TVL of a chain of ``k`` layers each re-pledging ``f`` of the one below.

    ``1 + f + … + f^(k−1) = (1 − f^k) / (1 − f)`` (``k`` at ``f = 1``).

    Parameters
    ----------
    f : float or array_like
        Fraction re-pledged per layer, in ``[0, 1]``.
    k : int or array_like
        Number of layers (1: no re-pledging).

    Examples
    --------
    Vector RH-1: f = 0.8, 3 layers → 2.44.

    >>> round(tvl_inflation(0.8, 3), 12), tvl_inflation(1.0, 3), tvl_inflation([0.5, 0.8], 2).round(12).tolist()
    (2.44, 3.0, [1.5, 1.8])

    References
    ----------
.
    """
    f = np.asarray(f, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    one = f == 1.0
    out = np.where(one, k, (1.0 - f ** k) / np.where(one, 0.5, 1.0 - f))
    return float(out) if out.ndim == 0 else out


def loop_leverage(ltv, loops):
    """Collateral per unit of equity after ``loops`` borrow → swap → re-supply rounds.

    ``(1 − λ^(n+1)) / (1 − λ)``, limit ``1 / (1 − λ)``; debt is this minus 1 (loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ;
    ``protocols.lending.loops`` uses it for the simulated loopers).

    Parameters
    ----------
    ltv : float or array_like
        ``λ``, the fraction of each supply borrowed (at most the market's LTV), in ``[0, 1)``.
    loops : int or array_like
        Re-supplies ``n`` (0: the initial deposit only).

    Examples
    --------
    Worked example: λ = 0.8, 5 loops → 3.68928 (100k becomes over 360k).

    >>> round(loop_leverage(0.8, 5), 12), loop_leverage(0.9, 0)
    (3.68928, 1.0)

    References
    ----------
    loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ.
    """
    lam = np.asarray(ltv, dtype=np.float64)
    out = (1.0 - lam ** (np.asarray(loops, dtype=np.float64) + 1.0)) / (1.0 - lam)
    return float(out) if out.ndim == 0 else out


def loop_liquidation_fall(ltv, loops, liquidation_threshold=1.0):
    """Fall of collateral value relative to debt that makes a looped position liquidatable.

    With ``C = loop_leverage(λ, n)`` and debt ``C − 1``: ``1 − (C − 1) / (LT · C)``; with ``LT = 1``
    this is the fall that wipes out the equity, ``1 / C``.

    Parameters
    ----------
    ltv, loops
        As in :func:`loop_leverage`.
    liquidation_threshold : float or array_like, default 1
        ``LT``: liquidatable when ``LT · collateral < debt``.

    Examples
    --------
    Vector LP-1: equity gone after a 27.1% fall; with LT 0.9 liquidatable after 19.0%.

    >>> round(loop_liquidation_fall(0.8, 5), 3), round(loop_liquidation_fall(0.8, 5, 0.9), 3)
    (0.271, 0.19)

    References
    ----------
    loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ.
    """
    c = np.asarray(loop_leverage(ltv, loops), dtype=np.float64)
    out = 1.0 - (c - 1.0) / (np.asarray(liquidation_threshold, dtype=np.float64) * c)
    return float(out) if out.ndim == 0 else out


# -- structure ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LoopReport:
    """Loops of an exposure graph.

    Attributes
    ----------
    sccs : list of list
        Strongly connected components that hold a cycle (more than one node, or a self-loop),
        largest first; nodes in ``list(G)`` order.
    cycle_counts : dict
        Length (1, 2, 3) → number of distinct simple cycles of that length (counted as node
        cycles: parallel edges do not multiply them).
    cycles : list of list
        Every simple cycle up to ``max_length`` of the SCCs with at most ``max_listed`` nodes.
    unlisted_sccs : int
        SCCs too large to list cycles for.
    """

    sccs: list
    cycle_counts: dict
    cycles: list
    unlisted_sccs: int


def count_short_cycles(A) -> dict:
    """Number of directed simple cycles of length 1, 2 and 3, by sparse matrix products.

    With ``B`` the 0/1 adjacency without self-loops: 2-cycles are ``nnz(B ∘ Bᵀ) / 2``, 3-cycles
    ``Σ (B B) ∘ Bᵀ / 3`` (``trace(B³)/3``: a closed walk of length 3 without self-loops is a
    triangle). Cost: one sparse product, restricted to the nodes on a cycle by the caller
    (:func:`find_loops`).

    Parameters
    ----------
    A : array_like or scipy.sparse matrix, shape (n, n)
        Adjacency (any non-zero is an edge).

    Returns
    -------
    dict
        ``{1: self-loops, 2: 2-cycles, 3: 3-cycles}``.

    Examples
    --------
    >>> count_short_cycles([[1, 1, 0], [1, 0, 1], [1, 0, 0]])
    {1: 1, 2: 1, 3: 1}

    References
    ----------
    Alon, N., Yuster, R. & Zwick, U. (1997). Finding and counting given length cycles.
    *Algorithmica* 17(3), 209–223.
    """
    B = _as_csr(A)
    B.data = (B.data != 0).astype(np.float64)
    B.eliminate_zeros()
    loops = int(np.count_nonzero(B.diagonal()))
    B.setdiag(0.0)
    B.eliminate_zeros()
    BT = sp.csr_array(B.T)
    two = int(round(B.multiply(BT).sum())) // 2
    three = int(round((B @ B).multiply(BT).sum())) // 3
    return {1: loops, 2: two, 3: three}


def find_loops(G, kinds: Iterable[str] | None = DERIVATION_KINDS, max_length: int = 6, max_listed: int = 40) -> LoopReport:
    """Loops through strongly connected components, short-cycle counts and small-SCC cycle lists.

    ``networkx.simple_cycles`` does not scale even with a length bound (about 15 s at 1e4 edges): the
    SCCs are found in linear time (scipy's csgraph), cycles of length ≤ 3 are counted by sparse
    products on the nodes of non-trivial SCCs (:func:`count_short_cycles`), and cycles are
    listed (up to ``max_length``) only for SCCs of at most ``max_listed`` nodes.

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph.
    kinds : iterable of str or None, default DERIVATION_KINDS
        Edge kinds that make up the loops (None: all edges).
    max_length : int, default 6
        Longest cycle listed.
    max_listed : int, default 40
        Largest SCC whose cycles are listed.

    Returns
    -------
    LoopReport

    Examples
    --------
    A wstETH ⇄ Aave loop (supply, borrow, re-supply) and a separate 2-cycle:

    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> for u, v in [("aave", "wsteth"), ("wsteth", "steth"), ("steth", "aave"), ("a", "b"), ("b", "a"), ("aave", "usdc")]:
    ...     _ = G.add_edge(u, v, kind="collateral", amount_usd=1.0)
    >>> r = find_loops(G)
    >>> r.sccs, r.cycle_counts, sorted(map(sorted, r.cycles))
    ([['aave', 'wsteth', 'steth'], ['a', 'b']], {1: 0, 2: 1, 3: 1}, [['a', 'b'], ['aave', 'steth', 'wsteth']])

    References
    ----------
    Tarjan (1972); Johnson, D. B. (1975). Finding all the elementary circuits of a directed
    graph. *SIAM J. Comput.* 4(1), 77–84.
    """
    nodes = list(G)
    index = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    keep = None if kinds is None else frozenset(kinds)
    pairs = {(index[u], index[v]) for u, v, k in G.edges(data="kind") if keep is None or k in keep}
    r = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    c = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    B = sp.csr_array((np.ones(len(pairs)), (r, c)), shape=(n, n))
    _, label = connected_components(B, directed=True, connection="strong")
    size = np.bincount(label, minlength=label.max(initial=-1) + 1)
    self_loop = np.zeros(len(size), dtype=bool)
    self_loop[label[r[r == c]]] = True
    cyclic = np.flatnonzero((size > 1) | self_loop)
    members = {lab: [] for lab in cyclic.tolist()}
    for i, lab in enumerate(label.tolist()):
        if lab in members:
            members[lab].append(i)
    # order: largest first, then by first node
    groups = sorted(members.values(), key=lambda g: (-len(g), g[0]))
    on_cycle = np.zeros(n, dtype=bool)
    for g in groups:
        on_cycle[g] = True
    sub = np.flatnonzero(on_cycle)
    Bs = B[sub][:, sub]
    # cycles never leave an SCC: drop the edges between SCCs before counting
    rs, cs = Bs.nonzero()
    same = label[sub][rs] == label[sub][cs]
    Bs = sp.csr_array((np.ones(int(same.sum())), (rs[same], cs[same])), shape=Bs.shape)
    counts = count_short_cycles(Bs)
    cycles, unlisted = [], 0
    for g in groups:
        if len(g) > max_listed:
            unlisted += 1
            continue
        H = nx.DiGraph()
        H.add_nodes_from(nodes[i] for i in g)
        members_set = set(g)
        H.add_edges_from((nodes[i], nodes[j]) for i, j in sorted(pairs) if i in members_set and j in members_set)
        cycles.extend(nx.simple_cycles(H, length_bound=max_length))
    return LoopReport([[nodes[i] for i in g] for g in groups], counts, cycles, unlisted)


def derivation_layers(G, kinds: Iterable[str] | None = DERIVATION_KINDS) -> dict:
    """Layer of derivation of each node: the longest chain of derivation edges down to a node
    that derives from nothing (a base asset), cycles condensed to one node first.

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph.
    kinds : iterable of str or None, default DERIVATION_KINDS
        Edge kinds that derive value (None: all edges).

    Returns
    -------
    dict
        node → layer (0: derives from nothing; the members of a loop share a layer).

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> for u, v, k in [("aave", "wsteth", "collateral"), ("wsteth", "steth", "wrapping"), ("steth", "lido", "backing"),
    ...                 ("lido", "eth", "collateral"), ("aave", "eth", "collateral"), ("aave", "chainlink", "oracle")]:
    ...     _ = G.add_edge(u, v, kind=k, amount_usd=1.0)
    >>> derivation_layers(G)
    {'aave': 4, 'wsteth': 3, 'steth': 2, 'lido': 1, 'eth': 0, 'chainlink': 0}

    References
    ----------
.
    """
    keep = None if kinds is None else frozenset(kinds)
    H = nx.DiGraph()
    H.add_nodes_from(G)
    H.add_edges_from((u, v) for u, v, k in G.edges(data="kind") if keep is None or k in keep)
    C = nx.condensation(H)
    layer_of_scc = {}
    for layer, group in enumerate(nx.topological_generations(C.reverse(copy=False))):
        for c in group:
            layer_of_scc[c] = layer
    mapping = C.graph["mapping"]
    return {v: layer_of_scc[mapping[v]] for v in G}


def concentration(G, weight: str | Callable = "amount_usd", top_k: int | None = 10,
                  kinds: Iterable[str] | None = None) -> list:
    """The nodes whose failure can reach the most exposure: for each node ``x``, the USD value of
    the edges into ``x``'s ancestors-or-self (edges whose creditor side can be hit when x fails).

    Parameters
    ----------
    G : networkx.DiGraph or networkx.MultiDiGraph
        Exposure graph (``u → w``: u loses when w fails, so ``x``'s failure can reach every
        ancestor of ``x``).
    weight : str or callable, default "amount_usd"
        Edge amount (USD).
    top_k : int or None, default 10
        How many nodes to return (None: all).
    kinds : iterable of str, optional
        Edge kinds considered (None: all).

    Returns
    -------
    list of (node, float)
        Largest first; ties in ``list(G)`` order.

    Notes
    -----
    Ancestor sets are propagated as packed bitsets over the condensation in topological order:
    ``O(n² / 8)`` bytes and about ``n · (n + m) / 64`` word operations, fine to ~2e4 nodes.

    Examples
    --------
    Two protocols accept stETH; stETH is backed by Lido's ETH:

    >>> import networkx as nx
    >>> G = nx.MultiDiGraph()
    >>> for u, v, usd in [("aave", "steth", 50.0), ("morpho", "steth", 30.0), ("steth", "lido", 80.0), ("lido", "eth", 80.0)]:
    ...     _ = G.add_edge(u, v, kind="collateral", amount_usd=usd)
    >>> concentration(G, top_k=3)
    [('eth', 240.0), ('lido', 160.0), ('steth', 80.0)]

    References
    ----------
.
    """
    wfn = edge_weight_function(weight)
    keep = None if kinds is None else frozenset(kinds)
    nodes = list(G)
    index = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    in_usd = np.zeros(n)
    H = nx.DiGraph()
    H.add_nodes_from(range(n))
    for u, v, d in G.edges(data=True):
        if keep is None or d.get("kind") in keep:
            in_usd[index[v]] += wfn(u, v, d)
            H.add_edge(index[u], index[v])
    C = nx.condensation(H)
    reach = np.zeros((len(C), (n + 7) // 8), dtype=np.uint8)  # packed bitsets, bit i = node i
    for c, data in C.nodes(data=True):
        for i in data["members"]:
            reach[c, i // 8] |= np.uint8(1 << (i % 8))
    # reach[c]: c's members and every ancestor (edges u → w: u is hit when w fails)
    for c in nx.topological_sort(C):
        for p in C.predecessors(c):
            reach[c] |= reach[p]
    per_scc = np.empty(len(C))
    for lo in range(0, len(C), 1024):
        bits = np.unpackbits(reach[lo:lo + 1024], axis=1, count=n, bitorder="little")
        per_scc[lo:lo + 1024] = bits @ in_usd
    value = np.array([per_scc[C.graph["mapping"][i]] for i in range(n)])
    order = np.argsort(-value, kind="stable")
    if top_k is not None:
        order = order[:top_k]
    return [(nodes[i], float(value[i])) for i in order]
