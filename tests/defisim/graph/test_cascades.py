"""Threshold cascades (vectors TC-1, TC-2 of Furfine 2003, *J. Money, Credit and Banking* 35(1)) and fire sales (Cifuentes, Shin & Ferrucci 2005; Greenwood, Landier & Thesmar 2015): reference vs
fast, and the fire-sale fixed point against its closed form."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from defisim.graph.cascades import (fire_sale, fire_sale_closed_form, fire_sale_python, threshold_cascade,
                                    threshold_cascade_arrays, threshold_cascade_python)
from defisim.graph.matrix import to_matrices


def tc_graph() -> nx.DiGraph:
    G = nx.DiGraph()
    G.add_nodes_from([(0, {"equity_usd": 4.0}), (1, {"equity_usd": 3.0}), (2, {"equity_usd": 1.0})])
    G.add_weighted_edges_from([(0, 1, 5.0), (1, 2, 4.0)], weight="amount_usd")
    return G


def via_arrays(G, failed, recovery=0.0):
    m = to_matrices(G)
    r = threshold_cascade_arrays(m.A, m.equity_usd, [m.index[v] for v in failed], recovery=recovery)
    edge_loss = np.array([r.edge_loss_usd[m.index[u], m.index[v]] for u, v in G.edges()])
    return type(r)(r.nodes, r.fail_round, r.loss_usd, list(G.edges()), edge_loss, r.rounds)


IMPLS = [pytest.param(threshold_cascade_python, id="python"), pytest.param(threshold_cascade, id="sparse"),
         pytest.param(via_arrays, id="arrays")]


@pytest.mark.parametrize("impl", IMPLS)
def test_tc1(impl):
    result = impl(tc_graph(), [2], recovery=0.0)
    assert result.fail_round.tolist() == [2, 1, 0]
    assert result.failed == {0, 1, 2}
    np.testing.assert_allclose(result.loss_usd, [5.0, 4.0, 0.0])
    np.testing.assert_allclose(result.edge_loss_usd, [5.0, 4.0])
    assert result.rounds == 2


@pytest.mark.parametrize("impl", IMPLS)
def test_tc2(impl):
    result = impl(tc_graph(), [2], recovery=0.4)
    assert result.fail_round.tolist() == [-1, -1, 0]
    np.testing.assert_allclose(result.loss_usd, [0.0, 2.4, 0.0])
    np.testing.assert_allclose(result.edge_loss_usd, [0.0, 2.4])
    assert result.rounds == 0


def random_exposures(seed: int, n: int = 60, degree: float = 3.0) -> nx.MultiDiGraph:
    rng = np.random.default_rng(seed)
    m = int(n * degree)
    G = nx.MultiDiGraph()
    for v, eq in enumerate(rng.lognormal(0.5, 1.0, n)):
        G.add_node(v, equity_usd=float(eq))
    i, j = rng.integers(0, n, m), rng.integers(0, n, m)
    for a, b, amount, rec in zip(i, j, rng.lognormal(0.0, 1.0, m), rng.uniform(0.0, 0.8, m)):
        if a != b:
            G.add_edge(int(a), int(b), amount_usd=float(amount), recovery=float(rec))
    return G


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("recovery", ["recovery", 0.3])
def test_python_and_sparse_agree(seed, recovery):
    G = random_exposures(seed)
    failed = np.random.default_rng(seed + 99).choice(60, 2, replace=False).tolist()
    expected = threshold_cascade_python(G, failed, recovery=recovery)
    result = threshold_cascade(G, failed, recovery=recovery)
    np.testing.assert_array_equal(result.fail_round, expected.fail_round)
    np.testing.assert_allclose(result.loss_usd, expected.loss_usd, rtol=1e-12)
    assert result.edges == expected.edges
    np.testing.assert_allclose(result.edge_loss_usd, expected.edge_loss_usd, rtol=1e-12)
    # a node's loss is the sum of the losses across its edges
    per_node = np.zeros(60)
    for (u, _, _), loss in zip(result.edges, result.edge_loss_usd):
        per_node[u] += loss
    np.testing.assert_allclose(per_node, result.loss_usd, rtol=1e-12, atol=1e-12)


def test_some_random_cascades_propagate():
    rounds = [threshold_cascade(random_exposures(s), [0, 1]).rounds for s in range(15)]
    assert max(rounds) >= 2


# -- fire sales ---------------------------------------------------------------------------------------

FIRE_IMPLS = [pytest.param(fire_sale_python, id="python"), pytest.param(fire_sale, id="vectorised")]


def random_holders(seed: int, k: int = 20):
    rng = np.random.default_rng(seed)
    q = rng.uniform(10.0, 100.0, k)
    m = rng.uniform(0.7, 0.85, k)
    t = m - rng.uniform(0.0, 0.1, k)
    p1 = 90.0
    d = m * p1 * q * rng.uniform(1.001, 1.05, k)  # all in breach after the shock
    return q, d, m, t


@pytest.mark.parametrize("impl", FIRE_IMPLS)
@pytest.mark.parametrize("seed", range(10))
def test_fire_sale_matches_closed_form(impl, seed):
    q, d, m, t = random_holders(seed)
    depth = 40.0 * q.sum()
    expected = fire_sale_closed_form(q, d, m, 100.0, 0.1, depth, target_ltv=t)
    result = impl(q, d, m, 100.0, 0.1, depth, target_ltv=t)
    assert result.price_usd == pytest.approx(expected, rel=1e-9)
    assert result.exogenous_price_usd == pytest.approx(90.0)
    # at the fixed point every holder is back at its target LTV
    np.testing.assert_allclose((d - result.sold_usd) / (result.price_usd * (q - result.sold)), t, rtol=1e-7)
    assert result.price_usd == pytest.approx(90.0 * (1.0 - result.sold.sum() / depth), rel=1e-12)
    assert result.amplification > 1.0


def test_fire_sale_doc_example_by_hand():
    # depth 1000, p1 = 90, D = 11300/0.2 = 56500, B = 0.8·150/0.2 = 600
    p = (90 * 1600 + np.sqrt((90 * 1600) ** 2 - 4 * 1000 * 90 * 56500)) / 2000
    assert fire_sale_closed_form([100.0, 50.0], [7500.0, 3800.0], 0.8, 100.0, 0.1, 1000.0) == pytest.approx(p)
    assert (100 - p) / 10 == pytest.approx(1.805, abs=1e-3)


@pytest.mark.parametrize("impact", ["linear", "exponential"])
@pytest.mark.parametrize("seed", range(10))
def test_fire_sale_python_and_vectorised_agree(seed, impact):
    rng = np.random.default_rng(seed)
    q = rng.uniform(1.0, 100.0, 30)
    m = rng.uniform(0.5, 0.9, 30)
    d = m * 100.0 * q * rng.uniform(0.6, 1.1, 30)  # some in breach only after the fall, some never
    depth = rng.uniform(5.0, 50.0) * q.sum()
    expected = fire_sale_python(q, d, m, 100.0, 0.15, depth, impact=impact)
    result = fire_sale(q, d, m, 100.0, 0.15, depth, impact=impact)
    assert result.price_usd == pytest.approx(expected.price_usd, rel=1e-12)
    np.testing.assert_allclose(result.sold, expected.sold, rtol=1e-9, atol=1e-12)
    assert result.iterations == expected.iterations
    assert np.all(result.sold <= q) and np.all(result.sold >= 0.0)
    assert result.amplification >= 1.0


def test_closed_form_refuses_outside_its_domain():
    with pytest.raises(ValueError):  # second holder not in breach at the shocked price
        fire_sale_closed_form([100.0, 50.0], [7500.0, 100.0], 0.8, 100.0, 0.1, 1000.0)
    with pytest.raises(ValueError):  # a thin market: the price collapses
        fire_sale_closed_form([100.0, 50.0], [7500.0, 3800.0], 0.8, 100.0, 0.1, 10.0)


def test_no_shock_no_sale():
    r = fire_sale([10.0], [100.0], 0.8, 100.0, 0.0, 1000.0)
    assert r.price_usd == 100.0 and r.sold.tolist() == [0.0] and np.isnan(r.amplification)
