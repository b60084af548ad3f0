"""TVL double counting (vector RH-1), loop leverage (LP-1), loops, layers and concentration
."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from defisim.graph.rehypothecation import (base_assets, concentration, count_short_cycles, derivation_layers,
                                           find_loops, loop_leverage, loop_liquidation_fall, tvl_double_counting,
                                           tvl_double_counting_python, tvl_inflation)

BOTH = pytest.mark.parametrize("tvl", [tvl_double_counting_python, tvl_double_counting], ids=["reference", "fast"])


def chain(base_usd: float, f: float, layers: int) -> nx.MultiDiGraph:
    """Protocol P1 holds the base; Pk holds f of Tk−1, the receipt token backed by Pk−1."""
    G = nx.MultiDiGraph()
    G.add_node("B", kind="token")
    amount = base_usd
    G.add_node("P1", kind="protocol")
    G.add_edge("P1", "B", kind="collateral", amount_usd=amount)
    for k in range(2, layers + 1):
        G.add_node(f"T{k - 1}", kind="token")
        G.add_node(f"P{k}", kind="protocol")
        G.add_edge(f"T{k - 1}", f"P{k - 1}", kind="backing", amount_usd=amount)
        amount *= f
        G.add_edge(f"P{k}", f"T{k - 1}", kind="collateral", amount_usd=amount)
    return G


@BOTH
def test_rh1(tvl):
    r = tvl(chain(100.0, 0.8, 3))
    assert r.reported_usd == pytest.approx(244.0)
    assert r.counted_once_usd == pytest.approx(100.0)
    assert r.inflation == pytest.approx(2.44)
    assert r.multiplier == {"B": pytest.approx(2.44)}
    assert r.unbacked_usd == pytest.approx(0.0, abs=1e-9)
    assert tvl_inflation(0.8, 3) == pytest.approx(2.44)


@BOTH
@pytest.mark.parametrize("seed", range(5))
def test_chains_match_the_closed_form(tvl, seed):
    rng = np.random.default_rng(seed)
    f, k = rng.uniform(0.1, 0.99), int(rng.integers(1, 9))
    r = tvl(chain(1000.0, f, k))
    assert r.inflation == pytest.approx(tvl_inflation(f, k), rel=1e-12)
    assert r.multiplier["B"] == pytest.approx(tvl_inflation(f, k), rel=1e-12)


def test_wrapper_token_and_split_backing():
    # Aave holds WBTC (a token wrapping BTC) and a synthetic dollar backed half by ETH, half by USDC
    G = nx.MultiDiGraph()
    G.add_nodes_from(["btc", "wbtc", "eth", "usdc", "usdx"], kind="token")
    G.add_node("aave", kind="protocol")
    for u, v, k, usd in [("wbtc", "btc", "wrapping", 50.0), ("aave", "wbtc", "collateral", 50.0),
                         ("usdx", "eth", "backing", 30.0), ("usdx", "usdc", "backing", 30.0),
                         ("aave", "usdx", "collateral", 60.0), ("aave", "usdc", "collateral", 40.0)]:
        G.add_edge(u, v, kind=k, amount_usd=usd)
    assert base_assets(G) == ["btc", "eth", "usdc"]
    r = tvl_double_counting(G)
    assert r.reported_usd == 150.0
    assert r.counted_once_usd == 150.0
    assert r.multiplier == {"btc": 1.0, "eth": 1.0, "usdc": 1.0}


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_tvl_agrees_with_the_reference_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n = 30
    G = nx.MultiDiGraph()
    kinds = rng.choice(["token", "protocol", "venue", "account"], n, p=[0.5, 0.3, 0.1, 0.1])
    G.add_nodes_from((i, {"kind": str(k)}) for i, k in enumerate(kinds))
    for a, b, k, usd in zip(rng.integers(0, n, 80), rng.integers(0, n, 80),
                            rng.choice(["collateral", "backing", "lp", "wrapping", "oracle", "debt"], 80),
                            rng.lognormal(3.0, 1.0, 80)):
        if a != b:
            G.add_edge(int(a), int(b), kind=str(k), amount_usd=float(usd))
    ref, fast = tvl_double_counting_python(G, max_iter=500), tvl_double_counting(G, max_iter=500)
    assert fast.reported_usd == pytest.approx(ref.reported_usd, rel=1e-12)
    assert fast.counted_once_usd == pytest.approx(ref.counted_once_usd, rel=1e-12)
    assert fast.unbacked_usd == pytest.approx(ref.unbacked_usd, rel=1e-9, abs=1e-9)
    assert fast.multiplier.keys() == ref.multiplier.keys()
    for b in ref.multiplier:
        assert fast.multiplier[b] == pytest.approx(ref.multiplier[b], rel=1e-9)


def test_claims_on_a_closed_loop_are_unbacked():
    G = nx.MultiDiGraph()
    G.add_nodes_from(["a", "b"], kind="protocol")
    G.add_edge("a", "b", kind="lp", amount_usd=10.0)
    G.add_edge("b", "a", kind="lp", amount_usd=10.0)
    r = tvl_double_counting(G, max_iter=50)
    assert r.reported_usd == 20.0 and r.counted_once_usd == 0.0 and np.isnan(r.inflation)
    assert r.unbacked_usd == pytest.approx(20.0)


def test_lp1():
    lev = loop_leverage(0.8, 5)
    assert lev == pytest.approx(3.68928, abs=1e-12)
    assert lev - 1.0 == pytest.approx(2.68928, abs=1e-12)  # debt per unit of equity
    assert lev > 3.6  # "100k becomes over 360k"
    assert loop_liquidation_fall(0.8, 5) == pytest.approx(1 / 3.68928)
    assert round(loop_liquidation_fall(0.8, 5), 3) == 0.271
    assert round(loop_liquidation_fall(0.8, 5, 0.9), 3) == 0.190
    np.testing.assert_allclose(loop_leverage(0.8, np.arange(200))[-1], 5.0)


def random_digraph(seed: int, n: int, m: int) -> nx.MultiDiGraph:
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(n), kind="protocol")
    for a, b, usd in zip(rng.integers(0, n, m), rng.integers(0, n, m), rng.lognormal(0.0, 1.0, m)):
        G.add_edge(int(a), int(b), kind="collateral", amount_usd=float(usd))
    return G


@pytest.mark.parametrize("seed", range(8))
def test_loops_against_simple_cycles(seed):
    G = random_digraph(seed, 25, 45)
    r = find_loops(G, max_length=5)
    simple = nx.DiGraph(G)
    expected = list(nx.simple_cycles(simple, length_bound=5))
    assert sorted(map(sorted, r.cycles)) == sorted(map(sorted, expected))
    for length in (1, 2, 3):
        assert r.cycle_counts[length] == sum(len(c) == length for c in expected)
    expected_sccs = [c for c in nx.strongly_connected_components(simple) if len(c) > 1 or simple.has_edge(*[next(iter(c))] * 2)]
    assert sorted(map(sorted, r.sccs)) == sorted(map(sorted, expected_sccs))
    assert r.unlisted_sccs == 0


def test_large_sccs_are_counted_not_listed():
    G = random_digraph(1, 300, 900)
    r = find_loops(G, max_listed=20)
    assert r.unlisted_sccs >= 1 and r.cycle_counts[3] > 0
    assert r.cycle_counts == count_short_cycles(nx.to_scipy_sparse_array(nx.DiGraph(G), weight=None))


@pytest.mark.parametrize("seed", range(5))
def test_layers_respect_derivation(seed):
    G = random_digraph(seed, 40, 60)
    layer = derivation_layers(G)
    scc = {v: i for i, c in enumerate(nx.strongly_connected_components(G)) for v in c}
    for u, v in G.edges():
        if scc[u] != scc[v]:
            assert layer[u] > layer[v]
        else:
            assert layer[u] == layer[v]
    assert min(layer.values()) == 0


@pytest.mark.parametrize("seed", range(5))
def test_concentration_against_ancestors(seed):
    G = random_digraph(seed, 50, 80)
    in_usd = {v: sum(d["amount_usd"] for _, _, d in G.in_edges(v, data=True)) for v in G}
    expected = {x: sum(in_usd[w] for w in nx.ancestors(G, x) | {x}) for x in G}
    result = dict(concentration(G, top_k=None))
    values = list(result.values())
    assert values == sorted(values, reverse=True)
    np.testing.assert_allclose([result[x] for x in G], [expected[x] for x in G], rtol=1e-12)
    assert len(concentration(G, top_k=3)) == 3


@pytest.mark.slow
def test_short_cycles_scale():
    rng = np.random.default_rng(0)
    import scipy.sparse as sp
    import time

    n, m = 200_000, 1_000_000
    A = sp.csr_array((np.ones(m), (rng.integers(0, n, m), rng.integers(0, n, m))), shape=(n, n))
    t0 = time.perf_counter()
    count_short_cycles(A)
    assert time.perf_counter() - t0 < 5.0
