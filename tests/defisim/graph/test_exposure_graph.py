"""The exposure graph: declared graphs from scenarios and files, validated with
messages that name the row and field; edge lists round-trip; the measures of a 3-layer chain."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from defisim.graph.exposure import Exposure, ExposureGraph, Node
from defisim.graph.measures import graph_measures
from defisim.graph.rehypothecation import tvl_inflation
from defisim.graph.spec import CutSpec, EcosystemSpec
from defisim.scenario.loading import ScenarioError, validate_scenario


def _chain(base_usd: float, f: float, layers: int) -> ExposureGraph:
    """Protocol P1 holds the base token; its receipt token R1 backs a share f in P2, and so on:
    the shape of ETH → Lido → stETH → Aave → aToken → Morpho."""
    g = ExposureGraph()
    g.add([Node("B", "token"), Node("P1", "protocol", equity_usd=1.0), Exposure("P1", "B", "backing", base_usd)])
    amount = base_usd
    for k in range(2, layers + 1):
        g.add([Node(f"R{k - 1}", "token"), Node(f"P{k}", "protocol", equity_usd=1.0),
               Exposure(f"R{k - 1}", f"P{k - 1}", "wrapping", amount)])
        amount *= f
        g.add([Exposure(f"P{k}", f"R{k - 1}", "collateral", amount)])
    return g


@pytest.mark.parametrize("f, layers", [(0.8, 3), (0.5, 3), (0.95, 4)])
def test_the_tvl_inflation_of_a_chain_is_its_closed_form(f, layers):
    """: reported / once = 1 + f + … + f^(k−1); RH-1 is (0.8, 3) → 2.44."""
    m = graph_measures(_chain(100.0, f, layers))
    assert m["counted_once_tvl_usd"] == pytest.approx(100.0)
    assert m["tvl_inflation"] == pytest.approx(tvl_inflation(f, layers), rel=1e-12)
    assert m["tvl_inflation"] == pytest.approx(sum(f**i for i in range(layers)), rel=1e-12)
    assert m["multipliers"] == {"B": pytest.approx(tvl_inflation(f, layers))}
    assert m["depth"] == 2 * layers - 1  # B ← P1 ← R1 ← P2 ← …


def test_a_loop_is_found_as_a_cycle():
    """A lending loop (supply sUSDe, borrow USDe, stake it, re-supply) is a cycle of the graph."""
    g = ExposureGraph()
    g.add([Node("pool"), Node("susde", "token"), Node("usde", "token"), Node("issuer"),
           Exposure("pool", "susde", "collateral", 100.0), Exposure("susde", "usde", "wrapping", 100.0),
           Exposure("usde", "issuer", "backing", 100.0), Exposure("issuer", "pool", "lp", 60.0)])
    m = graph_measures(g)
    assert [sorted(c) for c in m["loops"]] == [["issuer", "pool", "susde", "usde"]]
    assert m["loop_components"] == 1


def test_edge_lists_round_trip_through_csv_json_and_the_frames(tmp_path):
    g = _chain(100.0, 0.8, 3)
    g.add([Exposure("P3", "oracle", "oracle", 64.0, asset="R2"), Exposure("P2", "acct", "debt", 5.0, 0.5, 3),
           Exposure("P2", "NA", "lp", 1.0), Exposure("NA", "1e3", "backing", 2.0)])  # names that look like data
    paths = g.write(tmp_path / "chain")
    assert [p.name for p in paths] == ["chain.graphml", "chain.csv", "chain.nodes.csv"]
    again = ExposureGraph.read(paths[1])
    pd.testing.assert_frame_equal(again.edges_frame(), g.edges_frame())
    pd.testing.assert_frame_equal(again.nodes_frame(), g.nodes_frame())
    doc = {"nodes": g.nodes_frame().replace({np.nan: None}).to_dict("records"),
           "edges": g.edges_frame().to_dict("records")}
    (tmp_path / "chain.json").write_text(json.dumps(doc))
    pd.testing.assert_frame_equal(ExposureGraph.read(tmp_path / "chain.json").edges_frame(), g.edges_frame())


@pytest.mark.parametrize("row, message", [
    ({"source": "a", "target": "b", "kind": "collateral", "amount_usd": -1.0}, r"edges\[1\]\.amount_usd"),
    ({"source": "a", "target": "b", "kind": "loan", "amount_usd": 1.0}, r"edges\[1\]\.kind"),
    ({"source": "a", "target": "a", "kind": "debt", "amount_usd": 1.0}, r"edges\[1\]: .*itself"),
    ({"source": "a", "target": "b", "kind": "debt", "amount_usd": 1.0, "recovery": 2.0}, r"edges\[1\]\.recovery"),
])
def test_a_bad_row_is_named(tmp_path, row, message):
    good = {"source": "x", "target": "y", "kind": "lp", "amount_usd": 3.0}
    path = tmp_path / "bad.csv"
    pd.DataFrame([good, row]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=message):
        ExposureGraph.read(path)


def test_cut_edges_are_removed_and_unknown_nodes_are_refused():
    spec = EcosystemSpec.model_validate({"nodes": [{"name": "fund", "equity_usd": 5.0}],
                                         "edges": [{"source": "fund", "target": "pool", "kind": "lp", "amount_usd": 1.0},
                                                   {"source": "fund", "target": "pool", "kind": "debt", "amount_usd": 2.0},
                                                   {"source": "fund", "target": "x", "kind": "lp", "amount_usd": 4.0}]})
    g = ExposureGraph.from_spec(spec)
    g.remove([CutSpec(source="fund", target="pool")])
    assert g.edges_frame()[["source", "target"]].values.tolist() == [["fund", "x"]]
    base = {"protocols": {"pool": {"kind": "token.ledger"}}}
    with pytest.raises(ScenarioError, match=r"ecosystem\.edges\.0\.target: 'nowhere'"):
        validate_scenario({**base, "ecosystem": {"edges": [{"source": "pool", "target": "nowhere", "kind": "lp",
                                                            "amount_usd": 1.0}]}})
    with pytest.raises(ScenarioError, match=r"exposures\.cut\.0\.source: 'ghost'"):
        validate_scenario({**base, "exposures": {"cut": [{"source": "ghost", "target": "pool"}]}})
    with pytest.raises(ScenarioError, match=r"ecosystem\.edges\.0\.amount_usd"):
        validate_scenario({**base, "ecosystem": {"edges": [{"source": "pool", "target": "pool", "kind": "lp",
                                                            "amount_usd": -1}]}})
