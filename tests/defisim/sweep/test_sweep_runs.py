"""Sweeps end to end: serial, process pool and Dask give bit-identical tables; a killed sweep
resumes with no duplicated and no missing run; failures are recorded; a run is reproducible
alone from its row; the ranking, figures, CLI and comparison are produced."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import defisim.sweep.worker as worker
from defisim.cli import main
from defisim.results.results import Results
from defisim.sweep import load_sweep, run_sweep
from defisim.sweep.plan import PARAM_PREFIX, override_text

# the built-in sweep-small (its [sweep]: 3 liquidation thresholds × 3 bonuses × 20 seeds, 300
# borrowers, 20 blocks), a little lighter still: 200 borrowers, keepers sending 5 calls a block
LIGHT = ["agents.1.params.max_per_block=5", "protocols.aave.population.count=200"]


def same(result: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(result, expected, check_exact=True)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return run_sweep("sweep-small", overrides=LIGHT, out=tmp_path_factory.mktemp("serial"), workers=1, figures=False)


def test_serial_sweep_of_3x3_points_and_20_seeds(serial):
    runs = serial.runs
    assert len(serial.plan.points) == 9 and len(runs) == 180 and serial.missing == 0
    assert runs["run_id"].is_unique and (runs["status"] == "ok").all()
    assert runs.groupby("point").size().tolist() == [20] * 9
    assert runs["seed"].is_unique
    assert len(serial.metrics) == 9 and serial.ranking["rank"].tolist() == list(range(1, 10))
    assert (serial.metrics["runs"] == 20).all()
    assert serial.metrics["total_loss_cvar95_usd"].ge(serial.metrics["total_loss_var95_usd"]).all()
    # capital efficiency grows with the liquidation threshold (the population borrows against it)
    by_lt = serial.metrics.groupby("param.protocols.aave.reserves.0.liquidation_threshold")["ltv_used_mean"].mean()
    assert by_lt.is_monotonic_increasing


def test_process_pool_gives_the_serial_tables(serial, tmp_path):
    result = run_sweep("sweep-small", overrides=LIGHT, out=tmp_path, workers=2, figures=False)
    same(result.runs, serial.runs)
    same(result.metrics, serial.metrics)
    same(result.ranking, serial.ranking)


def test_local_dask_cluster_gives_the_serial_tables(serial, tmp_path):
    pytest.importorskip("distributed", reason='Dask is an optional extra: pip install "defisim[dask]"')
    result = run_sweep("sweep-small", overrides=LIGHT, out=tmp_path, workers=2, dask="local", figures=False)
    same(result.runs, serial.runs)
    same(result.ranking, serial.ranking)


def test_a_run_is_reproduced_alone_from_its_row(serial, tmp_path, capsys):
    row = serial.runs.iloc[97]
    assert json.loads((serial.directory / "sweep.json").read_text())["overrides"] == LIGHT
    sets = [*json.loads(row["base_overrides"]),
            *(override_text(c.removeprefix(PARAM_PREFIX), row[c]) for c in serial.runs if c.startswith(PARAM_PREFIX))]
    # the documented command: defisim run SCENARIO --set <base overrides> --set <param.* values> --seed <seed>
    rc, out, err = cli(capsys, "run", "sweep-small", *(a for s in sets for a in ("--set", s)), "--seed", int(row["seed"]),
                       "--out", tmp_path, "--no-progress")
    assert rc == 0, err
    assert f"seed {int(row['seed'])}, hash {row['scenario_hash'][:12]}" in out
    summary = Results.load(tmp_path).summary()
    assert set(summary) <= set(serial.runs.columns)
    for key, value in summary.items():
        assert row[key] == value or (math.isnan(value) and math.isnan(row[key])), key


def test_killed_sweep_resumes_with_no_duplicated_and_no_missing_run(serial, tmp_path):
    out = tmp_path / "killed"
    argv = [sys.executable, "-m", "defisim", "sweep", "sweep-small", *(f"--set={s}" for s in LIGHT), "--seeds", "6",
            "--workers", "1", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "runs").glob("*.parquet"))) < 15:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep wrote too few runs in 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    on_disk = len(list((out / "runs").glob("*.parquet")))
    assert 15 <= on_disk < 54, "the kill came after the sweep had finished"
    result = run_sweep("sweep-small", overrides=LIGHT, seeds=6, out=out, workers=2, figures=False)
    runs = result.runs
    assert len(runs) == 54 and runs["run_id"].is_unique
    assert set(runs["run_id"]) == {t.run_id for t in result.plan.tasks()}
    assert not list((out / "runs").glob(".tmp-*"))
    # the runs, whichever session made them, are those of the uninterrupted sweep, bit for bit
    same(runs, serial.runs[serial.runs["replicate"] < 6].reset_index(drop=True))


def test_a_failing_run_is_recorded_and_does_not_stop_the_sweep(tmp_path, monkeypatch):
    real = worker.Simulation
    kwargs = dict(grid={"chain.slot": ["6s", "12s"]}, seeds=3, overrides=["blocks=3"], out=tmp_path, workers=1, figures=False)
    plan_seeds = [t.seed for t in run_sweep("payers", **{**kwargs, "out": tmp_path / "dry"}).plan.tasks()]
    doomed = plan_seeds[3]

    def simulation(scenario, seed=None):
        if seed == doomed:
            raise RuntimeError("boom\nsecond line")
        return real(scenario, seed=seed)

    monkeypatch.setattr(worker, "Simulation", simulation)
    result = run_sweep("payers", **kwargs)
    assert len(result.runs) == 6
    failed = result.runs[result.runs["status"] == "error"]
    assert failed["seed"].tolist() == [doomed] and failed["error"].tolist() == ["RuntimeError: boom"]
    assert math.isnan(failed["blocks"].iloc[0])
    assert result.metrics["failed"].sum() == 1 and result.metrics["runs"].sum() == 5
    monkeypatch.setattr(worker, "Simulation", real)
    assert (run_sweep("payers", **kwargs).runs["status"] == "error").sum() == 1  # recorded: not missing
    retried = run_sweep("payers", retry_failed=True, **kwargs)
    assert (retried.runs["status"] == "ok").all() and len(retried.runs) == 6


def test_full_tables_are_kept_per_run(tmp_path):
    result = run_sweep("payers", grid={"blocks": [2, 3]}, seeds=1, out=tmp_path, workers=1, keep_tables=True, figures=False)
    for row in result.runs.itertuples():
        kept = Results.load(tmp_path / "tables" / row.run_id)
        assert kept.meta["seed"] == row.seed and kept.summary()["blocks"] == row.blocks == len(kept.blocks)


def test_a_directory_of_another_sweep_is_refused(tmp_path):
    run_sweep("payers", grid={"blocks": [2]}, out=tmp_path, workers=1, figures=False)
    with pytest.raises(ValueError, match="holds a sweep with scenario_hash"):
        run_sweep("payers", grid={"blocks": [2]}, overrides=["chain.slot=6s"], out=tmp_path, workers=1, figures=False)
    with pytest.raises(ValueError, match="holds a sweep with seed 0, not 3"):
        run_sweep("payers", grid={"blocks": [2]}, seed=3, out=tmp_path, workers=1, figures=False)


def test_ranking_and_figures_are_written(serial, tmp_path):
    written = serial.figures(tmp_path)
    assert [p.name for p in written] == ["heatmap.png", "frontier.png", "distributions.png"]
    assert all(p.stat().st_size > 10_000 for p in written)
    table = (serial.directory / "ranking.md").read_text().splitlines()
    assert len(table) == 2 + 9 and table[0].startswith("| rank | point | liquidation_threshold | liquidation_bonus |")
    assert len(pd.read_csv(serial.directory / "ranking.csv")) == 9
    loaded = load_sweep(serial.directory)
    same(loaded.runs, serial.runs)
    same(loaded.ranking, serial.ranking)


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_sweep_and_compare(tmp_path, capsys):
    common = ["--set", "blocks=3", "--seeds", "2", "--workers", "1", "--no-progress"]
    rc, out, err = cli(capsys, "sweep", "payers", "--grid", "chain.slot=6s,12s", *common, "--out", tmp_path / "a")
    assert rc == 0, err
    assert "2 points × 2 seeds = 4 runs, 0 failed" in out and "points ranked by total_loss_cvar95_usd" in out
    assert {"runs.parquet", "metrics.parquet", "ranking.csv", "ranking.md", "heatmap.png", "frontier.png",
            "distributions.png", "sweep.json"} <= {p.name for p in (tmp_path / "a").iterdir()}
    rc, out, err = cli(capsys, "sweep", "payers", "--grid", "chain.slot=6s,12s", "--sweep-seed", "1", *common, "--out", tmp_path / "b")
    assert rc == 0, err
    rc, out, err = cli(capsys, "compare", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "ab.csv")
    assert rc == 0, err
    assert "slot" in out and "total_loss_mean_usd" in out and (tmp_path / "ab.csv").is_file()
    for seed, name in ((1, "r1"), (2, "r2")):
        assert cli(capsys, "run", "payers", "--blocks", 3, "--seed", seed, "--out", tmp_path / name, "--no-progress")[0] == 0
    rc, out, err = cli(capsys, "compare", tmp_path / "r1", tmp_path / "r2")
    assert rc == 0 and "txs_submitted" in out and "rel_change" in out
    rc, out, err = cli(capsys, "compare", tmp_path / "r1", tmp_path / "a")
    assert rc == 2 and err.strip() == f"defisim: error: cannot compare a run ({tmp_path / 'r1'}) with a sweep ({tmp_path / 'a'})"
    rc, out, err = cli(capsys, "sweep", "payers", "--grid", "chain.slott=1s", "--out", tmp_path / "c")
    assert rc == 2 and err == 'defisim: error: sweep.grid["chain.slott"]: chain.slott: unknown key\n'
    rc, out, err = cli(capsys, "sweep", "payers", "--sample", "blocks=2:4", "--out", tmp_path / "d")
    assert rc == 2 and "--sample and --samples go together" in err


def test_sampled_sweep_from_the_command_line(tmp_path, capsys):
    rc, out, err = cli(capsys, "sweep", "payers", "--sample", "blocks=2:5", "--sample", "background.rate_tx_per_block=0:40",
                       "--samples", 4, "--method", "lhs", "--seeds", 1, "--workers", 1, "--no-progress", "--out", tmp_path)
    assert rc == 0, err
    runs = load_sweep(tmp_path).runs
    assert sorted(runs["param.blocks"]) == [2, 3, 4, 5] and runs["blocks"].tolist() == runs["param.blocks"].tolist()


def test_importing_the_package_has_no_side_effect():
    code = ("import multiprocessing, sys; import defisim.sweep, defisim.sweep.backends, defisim.sweep.api; "
            "assert multiprocessing.get_start_method(allow_none=True) is None; "
            "assert 'distributed' not in sys.modules and 'matplotlib.pyplot' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent)


def test_a_sweep_over_the_size_of_the_drop_ranks_the_smaller_drop_first(tmp_path):
    # sweep-small's crash with its threshold and bonus fixed: the deeper ETH falls, the more debt is
    # written off or left uncovered, so ranked by total-loss CVaR (the default) −10% < −30% < −50%
    base = ["protocols.aave.population.count=300", "blocks=20", "markets.feeds.ETH.moves.0.start=36s",
            "markets.feeds.ETH.moves.0.duration=1m", "exposures.every_blocks=0", "exposures.on_events=false"]
    res = run_sweep("eth-crash", grid={"markets.feeds.ETH.moves.0.change": [-0.5, -0.1, -0.3]}, seeds=3, workers=1,
                    overrides=base, out=tmp_path / "drop", figures=False)
    ranking = res.ranking
    assert res.report.rank_by == "total_loss_cvar95_usd"
    assert ranking["param.markets.feeds.ETH.moves.0.change"].tolist() == [-0.1, -0.3, -0.5]
    losses = ranking["total_loss_cvar95_usd"].tolist()
    assert losses[0] < losses[1] < losses[2]
    runs = res.runs[res.runs["status"] == "ok"]
    assert (runs["total_loss_usd"] == runs["written_off_usd"] + runs["uncovered_usd"]).all()
