"""Compiling exposure graphs to CSR."""
from __future__ import annotations

import networkx as nx
import numpy as np

from defisim.graph.matrix import to_matrices


def test_sums_parallel_edges_and_keeps_node_order():
    rng = np.random.default_rng(0)
    G = nx.MultiDiGraph()
    G.add_nodes_from([(v, {"equity_usd": float(v)}) for v in (3, 1, 2, 0)])
    expected = np.zeros((4, 4))
    for a, b, usd in zip(rng.integers(0, 4, 30), rng.integers(0, 4, 30), rng.uniform(0, 1, 30)):
        G.add_edge(int(a), int(b), amount_usd=float(usd), recovery=0.25)
    m = to_matrices(G)
    assert m.nodes == [3, 1, 2, 0] and m.index == {3: 0, 1: 1, 2: 2, 0: 3}
    for u, v, d in G.edges(data=True):
        expected[m.index[u], m.index[v]] += d["amount_usd"]
    np.testing.assert_allclose(m.A.toarray(), expected, rtol=1e-15)
    assert m.A.dtype == np.float64 and m.equity_usd.tolist() == [3.0, 1.0, 2.0, 0.0]
    lgd = to_matrices(G, weight=lambda u, v, d: d["amount_usd"] * (1 - d["recovery"]))
    np.testing.assert_allclose(lgd.A.toarray(), 0.75 * expected, rtol=1e-15)


def test_kind_filter_and_missing_attributes():
    G = nx.DiGraph()
    G.add_edge("a", "b", kind="oracle")
    G.add_edge("b", "c", kind="debt", amount_usd=2.0)
    m = to_matrices(G, kinds=["debt"], equity=None)
    assert m.A.nnz == 1 and m.A[1, 2] == 2.0 and m.equity_usd.tolist() == [0.0, 0.0, 0.0]
