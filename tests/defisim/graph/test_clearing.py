"""Eisenberg–Noe / Rogers–Veraart clearing: vectors EN-1 and RV-1, reference
vs sparse on random networks, invariants."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from defisim.graph.clearing import (clearing_vector, clearing_vector_arrays, clearing_vector_python,
                                    liabilities_from_exposures)

EN1_L = [[0, 2, 1], [1, 0, 1], [0, 1, 0]]
EN1_E = [0.5, 0.5, 0.2]
# RV-1 ends exactly on the solvency line for node 1 (0.5 + 0.75·2/3 + 1 = 2): solvent within this tolerance
SOLVENCY_TOL = 1e-9


def liabilities_graph(L) -> nx.DiGraph:
    G = nx.DiGraph()
    n = len(L)
    G.add_nodes_from(range(n))
    for i in range(n):
        for j in range(n):
            if L[i][j]:
                G.add_edge(i, j, amount_usd=float(L[i][j]))
    return G


def via_arrays(G, e, **kw):
    L = nx.to_scipy_sparse_array(G, nodelist=list(G), weight="amount_usd")
    return clearing_vector_arrays(L, e, **kw)


IMPLS = [pytest.param(clearing_vector_python, id="python"), pytest.param(clearing_vector, id="sparse"),
         pytest.param(via_arrays, id="arrays")]


@pytest.mark.parametrize("impl", IMPLS)
def test_en1(impl):
    result = impl(liabilities_graph(EN1_L), EN1_E, tol=SOLVENCY_TOL)
    np.testing.assert_allclose(result.obligations_usd, [3.0, 2.0, 1.0])
    np.testing.assert_allclose(result.payments_usd, [1.5, 2.0, 1.0], atol=1e-9)
    assert result.defaulted == {0}
    assert result.default_round.tolist() == [1, -1, -1]


@pytest.mark.parametrize("impl", IMPLS)
def test_rv1(impl):
    result = impl(liabilities_graph(EN1_L), EN1_E, alpha=0.5, beta=0.5, tol=SOLVENCY_TOL)
    np.testing.assert_allclose(result.payments_usd, [0.75, 2.0, 1.0], atol=1e-9)
    assert result.defaulted == {0}  # node 1 is solvent within SOLVENCY_TOL


def test_en1_from_the_exposure_graph():
    # exposure u → v: u loses when v fails, i.e. v owes u
    X = nx.MultiDiGraph()
    for i, row in enumerate(EN1_L):
        for j, amount in enumerate(row):
            if amount:
                X.add_edge(j, i, kind="debt", amount_usd=float(amount))
    L = liabilities_from_exposures(X)
    result = clearing_vector(L, dict(enumerate(EN1_E)))
    assert dict(zip(result.nodes, result.payments_usd.round(9))) == {0: 1.5, 1: 2.0, 2: 1.0}


def random_network(seed: int, n: int = 30, degree: float = 3.0, buffer: float = 0.3):
    rng = np.random.default_rng(seed)
    m = int(n * degree)
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(n))
    i, j = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = i != j
    for a, b, amount in zip(i[keep], j[keep], rng.lognormal(0.0, 1.0, keep.sum())):
        G.add_edge(int(a), int(b), amount_usd=float(amount))
    pbar = np.array([sum(d["amount_usd"] for _, _, d in G.out_edges(v, data=True)) for v in range(n)])
    e = rng.uniform(0.0, buffer, n) * pbar + rng.uniform(0.0, 0.1, n)
    return G, e


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 0.9), (0.0, 0.3)])
def test_python_and_sparse_agree(seed, alpha, beta):
    G, e = random_network(seed)
    expected = clearing_vector_python(G, e, alpha=alpha, beta=beta)
    result = clearing_vector(G, e, alpha=alpha, beta=beta)
    np.testing.assert_allclose(result.payments_usd, expected.payments_usd, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(result.default_round, expected.default_round)
    assert result.rounds == expected.rounds


@pytest.mark.parametrize("seed", range(8))
def test_eisenberg_noe_fixed_point(seed):
    G, e = random_network(seed, n=200)
    r = clearing_vector(G, e)
    L = nx.to_scipy_sparse_array(G, nodelist=list(G), weight="amount_usd")
    pbar = r.obligations_usd
    frac = np.divide(r.payments_usd, pbar, out=np.zeros_like(pbar), where=pbar > 0)
    np.testing.assert_allclose(r.payments_usd, np.minimum(pbar, np.maximum(0.0, e + L.T @ frac)), atol=1e-7)
    assert np.all(r.payments_usd <= pbar + 1e-12) and np.all(r.payments_usd >= 0.0)
    assert r.defaulted, "the seed should give some defaults"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), extra=st.floats(0.0, 5.0), who=st.integers(0, 29))
def test_payments_monotone_in_external_assets(seed, extra, who):
    G, e = random_network(seed)
    more = e.copy()
    more[who] += extra
    low, high = clearing_vector(G, e), clearing_vector(G, more)
    assert np.all(high.payments_usd >= low.payments_usd - 1e-9)
    assert high.defaulted <= low.defaulted


def test_default_costs_lower_payments():
    G, e = random_network(3)
    en, rv = clearing_vector(G, e), clearing_vector(G, e, alpha=0.5, beta=0.5)
    assert np.all(rv.payments_usd <= en.payments_usd + 1e-12)
    assert en.defaulted <= rv.defaulted
