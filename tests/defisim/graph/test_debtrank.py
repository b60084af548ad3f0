"""DebtRank (classic and differential): vector DR-1 (Battiston et al. 2012, *Sci. Rep.* 2:541; Bardoscia et al. 2015), reference vs sparse on
random graphs, invariants, systemic importance."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from defisim.graph.debtrank import (debtrank, debtrank_arrays, debtrank_python, systemic_importance,
                                    systemic_importance_arrays, systemic_importance_python)
from defisim.graph.matrix import to_matrices


def dr1_graph() -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_nodes_from([(0, {"equity_usd": 10.0}), (1, {"equity_usd": 8.0}), (2, {"equity_usd": 3.0})])
    G.add_weighted_edges_from([(0, 1, 5.0), (1, 2, 4.0)], weight="amount_usd")
    return G


def via_arrays(G, shock, **kw):
    m = to_matrices(G)
    h0 = np.zeros(m.n)
    h0[[m.index[v] for v in shock]] = 1.0
    return debtrank_arrays(m.A, m.equity_usd, h0, **kw)


IMPLS = [pytest.param(debtrank_python, id="python"), pytest.param(debtrank, id="sparse"),
         pytest.param(via_arrays, id="arrays")]


@pytest.mark.parametrize("differential", [False, True])
@pytest.mark.parametrize("impl", IMPLS)
def test_dr1(impl, differential):
    result = impl(dr1_graph(), [2], differential=differential)
    np.testing.assert_allclose(result.h, [0.25, 0.5, 1.0])
    assert result.R == pytest.approx((10 * 0.25 + 8 * 0.5) / 21, abs=1e-12)
    assert round(result.R, 6) == 0.309524
    assert result.rounds == 3


def random_exposures(seed: int, n: int = 40, degree: float = 3.0) -> nx.MultiDiGraph:
    rng = np.random.default_rng(seed)
    m = int(n * degree)
    G = nx.MultiDiGraph()
    for v, eq in enumerate(rng.lognormal(1.0, 1.0, n)):
        G.add_node(v, equity_usd=float(eq) if v % 7 else 0.0)  # a few zero-equity nodes
    i, j = rng.integers(0, n, m), rng.integers(0, n, m)
    for a, b, amount in zip(i, j, rng.lognormal(0.0, 1.0, m)):
        if a != b:
            G.add_edge(int(a), int(b), amount_usd=float(amount))
    return G


def random_shock(seed: int, n: int) -> dict:
    rng = np.random.default_rng(seed + 1000)
    nodes = rng.choice(n, 3, replace=False)
    return {int(v): float(h) for v, h in zip(nodes, rng.uniform(0.05, 1.0, 3))}


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("differential", [False, True])
def test_python_and_sparse_agree(seed, differential):
    G = random_exposures(seed)
    shock = random_shock(seed, 40)
    expected = debtrank_python(G, shock, differential=differential)
    result = debtrank(G, shock, differential=differential)
    np.testing.assert_allclose(result.h, expected.h, rtol=1e-12, atol=1e-12)
    assert result.R == pytest.approx(expected.R, rel=1e-12, abs=1e-14)
    assert result.rounds == expected.rounds


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_invariants(seed):
    G = random_exposures(seed, n=25)
    shock = random_shock(seed, 25)
    classic = debtrank(G, shock)
    diff = debtrank(G, shock, differential=True)
    for r in (classic, diff):
        assert np.all(r.h >= 0.0) and np.all(r.h <= 1.0)
        assert np.all(r.h >= r.h0)
        assert 0.0 <= r.R <= 1.0 + 1e-12
    assert np.all(diff.h >= classic.h - 1e-12)
    assert diff.R >= classic.R - 1e-12


def test_value_weights():
    G = dr1_graph()
    r = debtrank(G, [2], value=[1.0, 1.0, 0.0])
    assert r.R == pytest.approx(0.375)
    assert debtrank_python(G, [2], value=[1.0, 1.0, 0.0]).R == pytest.approx(0.375)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("differential", [False, True])
def test_systemic_importance_agrees(seed, differential):
    G = random_exposures(seed, n=30)
    expected = systemic_importance_python(G, differential=differential)
    result = systemic_importance(G, differential=differential)
    assert list(result) == list(expected)
    np.testing.assert_allclose(list(result.values()), list(expected.values()), rtol=1e-12, atol=1e-14)


def test_systemic_importance_batches_match_single_runs():
    G = random_exposures(7, n=50)
    m = to_matrices(G)
    single = [debtrank_arrays(m.A, m.equity_usd, np.eye(m.n)[k]).R for k in range(m.n)]
    np.testing.assert_allclose(systemic_importance_arrays(m.A, m.equity_usd, batch=7), single, rtol=1e-12, atol=1e-15)


def test_distress_out_of_range():
    with pytest.raises(ValueError):
        debtrank(dr1_graph(), {2: 1.5})
