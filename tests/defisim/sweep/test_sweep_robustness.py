"""Sweeps that change or break under them: an extended grid renumbers its points, a grid mixing
value types, a worker process that dies, a damaged part; the command line's one-line errors."""
from __future__ import annotations

import functools
import importlib
from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import pyarrow as pa
import pytest

import defisim.sweep.api as api
import defisim.sweep.comparison as comparison
from defisim.cli import main
from defisim.sweep import load_sweep, run_sweep
from defisim.sweep.backends import ProcessBackend

TINY = dict(overrides=["blocks=3"], workers=1, figures=False)


def same(result: pd.DataFrame, expected: pd.DataFrame, **kwargs) -> None:
    pd.testing.assert_frame_equal(result, expected, check_exact=True, **kwargs)


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_an_extended_sweep_gives_the_metrics_of_a_fresh_one(tmp_path):
    run_sweep("payers", grid={"chain.slot": ["12s"]}, seeds=1, out=tmp_path / "extended", **TINY)
    # a value inserted before the existing one renumbers it; one more replicate per point
    extended = run_sweep("payers", grid={"chain.slot": ["6s", "12s"]}, seeds=2, out=tmp_path / "extended", **TINY)
    fresh = run_sweep("payers", grid={"chain.slot": ["6s", "12s"]}, seeds=2, out=tmp_path / "fresh", **TINY)
    m = extended.metrics
    assert m["point"].tolist() == [0, 1] and m["param.chain.slot"].tolist() == ["6s", "12s"] and m["runs"].tolist() == [2, 2]
    assert extended.runs["point"].tolist() == [0, 0, 1, 1]
    same(extended.runs, fresh.runs)
    same(extended.metrics, fresh.metrics)
    same(extended.ranking, fresh.ranking)
    same(load_sweep(tmp_path / "extended").metrics, fresh.metrics)


def test_a_grid_mixing_value_types_is_stored_as_text(tmp_path):
    result = run_sweep("payers", grid={"chain.slot": ["6s", 12000]}, out=tmp_path, **{**TINY, "overrides": ["blocks=2"]})
    assert (result.runs["status"] == "ok").all()
    assert result.runs["param.chain.slot"].tolist() == ["6s", "12000"]
    assert result.metrics["param.chain.slot"].tolist() == ["6s", "12000"]
    same(load_sweep(tmp_path).runs, result.runs)


DYING = '''\
import os


def run_or_die(doomed, fn, task, *args):
    if task.seed == doomed:
        os._exit(3)
    return fn(task, *args)
'''


class DyingPool(ProcessBackend):
    """A pool of 2 whose worker exits abruptly on the run with seed ``doomed``."""

    def __init__(self, module, doomed):
        super().__init__(2, start_method="fork")
        self.module, self.doomed = module, doomed

    def map_unordered(self, fn, jobs, lost=None):
        return super().map_unordered(functools.partial(self.module.run_or_die, self.doomed, fn), jobs, lost)


def test_a_worker_that_dies_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    (tmp_path / "sweep_dying_worker.py").write_text(DYING)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("sweep_dying_worker")
    kwargs = dict(grid={"chain.slot": ["6s", "12s"]}, seeds=3, overrides=["blocks=3"], figures=False)
    serial = run_sweep("payers", out=tmp_path / "serial", workers=1, **kwargs)
    doomed = int(serial.runs["seed"].iloc[2])
    with DyingPool(module, doomed) as backend:
        result = run_sweep("payers", out=tmp_path / "pool", backend=backend, **kwargs)
    runs = result.runs
    failed = runs[runs["status"] == "error"]
    assert len(runs) == 6 and failed["seed"].tolist() == [doomed]
    assert failed["error"].iloc[0].startswith("worker died (BrokenProcessPool: ")
    assert result.metrics["failed"].sum() == 1 and result.metrics["runs"].sum() == 5
    ok = runs["status"] == "ok"
    same(runs[ok].reset_index(drop=True), serial.runs[serial.runs["seed"] != doomed].reset_index(drop=True),
         check_dtype=False)


def test_a_damaged_part_is_moved_aside_and_run_again(tmp_path, capsys):
    kwargs = dict(grid={"blocks": [2, 3]}, out=tmp_path, workers=1, figures=False)
    first = run_sweep("payers", **kwargs)
    run_id = first.runs["run_id"].iloc[1]
    (tmp_path / "runs" / f"{run_id}.parquet").write_bytes(b"")  # a crash of the machine before the data reached the disk
    resumed = run_sweep("payers", **kwargs)
    err = capsys.readouterr().err
    assert f"{run_id}.parquet cannot be read" in err and "the run counts as missing" in err
    assert (tmp_path / "runs" / "damaged" / f"{run_id}.parquet").is_file()
    same(resumed.runs, first.runs)


@pytest.mark.parametrize("command, where, error", [
    ("sweep", (api, "run_sweep"), pa.ArrowTypeError("Unable to merge: Field param.x has incompatible types: string vs int64")),
    ("sweep", (api, "run_sweep"), BrokenProcessPool("A process in the process pool was terminated abruptly")),
    ("compare", (comparison, "compare"), pa.ArrowTypeError("Unable to merge")),
])
def test_expected_failures_give_one_line_and_status_2(tmp_path, capsys, monkeypatch, command, where, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(*where, fail)
    argv = ["sweep", "payers", "--grid", "blocks=2", "--out", tmp_path] if command == "sweep" else ["compare", tmp_path, tmp_path]
    rc, out, err = cli(capsys, *argv)
    assert rc == 2 and err == f"defisim: error: {type(error).__name__}: {error}\n"


def test_rank_by_is_checked_before_any_run(tmp_path, capsys):
    rc, out, err = cli(capsys, "sweep", "payers", "--grid", "blocks=2,3", "--rank-by", "total_loss_cvar96_usd", "--out", tmp_path / "s")
    assert rc == 2 and err.startswith("defisim: error: sweep.report.rank_by: no metric 'total_loss_cvar96_usd' (metrics: ")
    assert err.count("\n") == 1 and not (tmp_path / "s").exists()


def test_the_help_says_integer_bounds_draw_integers(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "integer bounds draw integers only (0:1 gives 0 or 1: write 0.0:1.0 for floats)" in " ".join(capsys.readouterr().out.split())
