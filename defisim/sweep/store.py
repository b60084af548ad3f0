"""The Parquet dataset of a sweep: one part per finished run, written as it finishes, so an
interrupted sweep loses nothing and a resumed one runs only what is missing (DESIGN §8).

Layout of a sweep directory::

    sweep.json               the base scenario, its hash, the [sweep] section, the version
    runs/<run_id>.parquet    one row per run: ids, seed, status, error, param.<path>, summary keys
    tables/<run_id>/         optional: the run's full tables (Results.save; Results.load reads them)
    runs.parquet, metrics.parquet, ranking.csv, ranking.md, *.png   written at the end

Every part is written to a hidden temporary name and renamed into place (atomic on POSIX), the
tables before the row, so a kill never leaves a half-written part and a row on disk means its
tables are complete. A part's name is its run id, so a run written twice is one part, never a
duplicate row.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..results import package_version
from .plan import PARAM_PREFIX, SweepPlan
from .worker import RunRecord

__all__ = ["SweepStore", "ID_COLUMNS", "STATUS_OK", "STATUS_ERROR"]

#: Columns of every run row, before the ``param.<path>`` columns and the summary keys.
ID_COLUMNS = ("run_id", "point", "point_key", "replicate", "seed", "scenario_hash", "status", "error")
STATUS_OK, STATUS_ERROR = "ok", "error"


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    write(tmp)
    os.replace(tmp, path)


def _record_row(record: RunRecord) -> dict[str, Any]:
    t = record.task
    row: dict[str, Any] = {
        "run_id": t.run_id, "point": t.point, "point_key": t.point_key, "replicate": t.replicate, "seed": t.seed,
        "scenario_hash": record.scenario_hash, "status": STATUS_OK if record.error is None else STATUS_ERROR,
        "error": record.error or "",
    }
    for path, value in t.overrides.items():
        row[PARAM_PREFIX + path] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value)
    row.update(record.summary or {})
    return row


class SweepStore:
    """The directory of one sweep.

    Parameters
    ----------
    directory : path
        Created if needed.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.runs_dir = self.directory / "runs"
        self.tables_dir = self.directory / "tables"

    # -- the sweep's identity ------------------------------------------------------------------
    def open(self, plan: SweepPlan) -> None:
        """Prepare the directory for ``plan``: write ``sweep.json``, or check that the sweep
        already there is over the same base scenario with the same sweep seed (then its runs
        are reused; the grid and the number of seeds may differ)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        meta_path = self.directory / "sweep.json"
        if meta_path.is_file():
            old = json.loads(meta_path.read_text())
            for key, new in (("scenario_hash", plan.base_hash), ("seed", plan.spec.seed), ("paired", plan.spec.paired)):
                have = old.get(key) if key == "scenario_hash" else old.get("sweep", {}).get(key)
                if have != new:
                    raise ValueError(f"{self.directory}: holds a sweep with {key} {have!r}, not {new!r}; "
                                     "use another directory or remove it")
        for tmp in [*self.runs_dir.glob(".tmp-*"), *(self.tables_dir.glob(".tmp-*") if self.tables_dir.is_dir() else [])]:
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()  # left by a killed sweep
        meta = {"scenario": plan.base, "scenario_hash": plan.base_hash, "source": plan.source,
                "sweep": plan.spec.model_dump(mode="json"), "version": package_version()}
        # key order kept: the order of the swept paths decides the samples
        _write_atomic(meta_path, lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))

    def meta(self) -> dict:
        """The contents of ``sweep.json``."""
        path = self.directory / "sweep.json"
        if not path.is_file():
            raise FileNotFoundError(f"no sweep in {self.directory} (sweep.json missing)")
        return json.loads(path.read_text())

    # -- runs ------------------------------------------------------------------------------------
    def done(self) -> set[str]:
        """Run ids with a part on disk (finished or failed)."""
        if not self.runs_dir.is_dir():
            return set()
        return {p.name[: -len(".parquet")] for p in self.runs_dir.glob("*.parquet") if not p.name.startswith(".")}

    def failed(self) -> set[str]:
        """Run ids whose part records an error."""
        runs = self.read_runs(columns=["run_id", "status"])
        return set(runs.loc[runs["status"] == STATUS_ERROR, "run_id"]) if len(runs) else set()

    def write(self, record: RunRecord) -> None:
        """Write one finished run: its tables (if it carries them), then its row."""
        run_id = record.task.run_id
        if record.results is not None:
            self.tables_dir.mkdir(parents=True, exist_ok=True)
            final = self.tables_dir / run_id
            tmp = self.tables_dir / f".tmp-{os.getpid()}-{run_id}"
            if tmp.exists():
                shutil.rmtree(tmp)
            record.results.save(tmp)
            if final.exists():  # tables of an earlier attempt whose row was never written
                shutil.rmtree(final)
            os.replace(tmp, final)
        table = pa.Table.from_pylist([_record_row(record)])
        _write_atomic(self.runs_dir / f"{run_id}.parquet", lambda p: pq.write_table(table, p, compression="zstd"))

    def read_runs(self, run_ids: Iterable[str] | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """Rows of the runs on disk (only ``run_ids`` if given), sorted by point and replicate.

        Columns: :data:`ID_COLUMNS`, the ``param.<path>`` columns, then the summary keys in the
        order they first appear in that sort; a key a run lacks is NaN (a failed run has none).
        """
        names = sorted(self.done() if run_ids is None else set(run_ids) & self.done())
        parts = [pq.read_table(self.runs_dir / f"{n}.parquet", columns=columns) for n in names]
        if not parts:
            return pd.DataFrame(columns=list(columns or ID_COLUMNS))
        table = pa.concat_tables(parts, promote_options="permissive")
        df = table.to_pandas()
        df = df.sort_values(["point", "replicate"] if "point" in df else ["run_id"], kind="stable").reset_index(drop=True)
        order: dict[str, None] = dict.fromkeys(c for c in ID_COLUMNS if c in df)
        order.update(dict.fromkeys(c for c in df.columns if c.startswith(PARAM_PREFIX)))
        by_run = {n: p.column_names for n, p in zip(names, parts)}
        for run_id in df["run_id"] if "run_id" in df else []:
            order.update(dict.fromkeys(by_run[run_id]))
        return df[[c for c in order if c in df]]

    def write_frame(self, name: str, df: pd.DataFrame) -> Path:
        """Write a derived table (``runs``, ``metrics``) as ``<name>.parquet``, atomically."""
        path = self.directory / f"{name}.parquet"
        _write_atomic(path, lambda p: df.to_parquet(p, index=False, engine="pyarrow", compression="zstd"))
        return path
