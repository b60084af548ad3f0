"""``defisim graph``: measures, GraphML/CSV and figures of a scenario, a run's results or a file."""
from __future__ import annotations

import pandas as pd
import pytest

from defisim.cli import main
from defisim.graph.exposure import ExposureGraph


def cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_graph_of_a_scenario_at_the_start(capsys, tmp_path):
    rc, out, err = cli(capsys, "graph", "rehypothecation", "--out", str(tmp_path))
    assert rc == 0, err
    assert "exposure graph of scenario rehypothecation at the start" in out
    assert "layers (0 derives from nothing):" in out and "TVL reported" in out
    for name in ("exposures.graphml", "exposures.csv", "exposures.nodes.csv", "exposures.png"):
        assert (tmp_path / name).stat().st_size > 0
    g = ExposureGraph.read(tmp_path / "exposures.csv")
    edges = g.edges_frame()
    # three layers of rehypothecation under the second pool: aUSDC → lender_a → wstETH → stETH → Lido → ETH
    chain = [("lender_b", "ausdc"), ("ausdc", "lender_a"), ("lender_a", "wsteth"), ("wsteth", "steth"),
             ("steth", "lido"), ("lido", "ETH")]
    assert set(chain) <= set(zip(edges["source"], edges["target"]))


def test_graph_of_results_takes_a_snapshot_with_its_losses(capsys, tmp_path):
    res = tmp_path / "res"
    assert cli(capsys, "run", "rehypothecation", "--out", str(res), "--no-progress")[0] == 0
    rc, out, err = cli(capsys, "graph", str(res), "--block", "40", "--out", str(tmp_path / "g"))
    assert rc == 0, err
    snapshots = pd.read_parquet(res / "exposures.parquet")
    block = int(snapshots["block"][snapshots["block"] <= 40].max())
    assert f"at block {block}" in out
    assert (tmp_path / "g" / "contagion.png").stat().st_size > 0
    written = ExposureGraph.read(tmp_path / "g" / "exposures.csv").edges_frame()
    expected = snapshots[snapshots["block"] == block].drop(columns=["block", "time_ms", "trigger"])
    assert len(written) == len(expected)


@pytest.mark.parametrize("content, fragment", [
    ("source,target,kind,amount_usd\na,b,lp,-3\n", "edges[0].amount_usd"),
    ("source,target,kind,amount_usd\na,b,swap,3\n", "edges[0].kind"),
])
def test_a_bad_graph_file_is_one_line_naming_the_row(capsys, tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    rc, out, err = cli(capsys, "graph", str(path), "--out", str(tmp_path / "g"))
    assert rc == 2 and err.startswith("defisim: error: ") and fragment in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, fragment", [
    (["rehypothecation", "--block", "3"], "--block applies to a results directory only"),
    (["nowhere.csv", "--set", "seed=1"], "--set applies to a scenario only"),
])
def test_flags_that_do_not_apply_are_refused(capsys, tmp_path, argv, fragment):
    rc, out, err = cli(capsys, "graph", *argv, "--out", str(tmp_path))
    assert rc == 2 and fragment in err
