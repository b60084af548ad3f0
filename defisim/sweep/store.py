"""The Parquet dataset of a sweep: one part per finished run, written as it finishes, so an
interrupted sweep loses nothing and a resumed one runs only what is missing.

Layout of a sweep directory::

    sweep.json               the base scenario, its hash, the [sweep] section, the version
    runs/<run_id>.parquet    one row per run: ids, seed, base overrides, status, error, param.<path>, summary keys
    runs/damaged/            parts found unreadable, moved aside (their runs count as missing)
    tables/<run_id>/         optional: the run's full tables (Results.save; Results.load reads them)
    runs.parquet, metrics.parquet, ranking.csv, ranking.md, *.png   written at the end

Every part is written to a hidden temporary name, flushed to disk (``fsync``) and renamed into
place (atomic on POSIX), the tables before the row, so a kill never leaves a half-written part and
a row on disk means its tables are complete. A part's name is its run id, so a run written twice is
one part, never a duplicate row. A part that cannot be read all the same (a crash of the machine,
a full disk) is moved to ``runs/damaged/`` with a warning when the runs are read, and its run
counts as missing: a resumed sweep runs it again.

A row does not store the point's number, only its key: numbers depend on the plan (a value
inserted into a grid renumbers the points after it), so :meth:`SweepStore.read_runs` numbers
the rows from the plan it is given. Where the parts disagree on a column's type (a path swept
over ``6s`` and ``12000``), the column is read as text (each value as YAML, as in an override).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from defisim.results.results import package_version
from defisim.sweep.plan import PARAM_PREFIX, SweepPlan, value_text
from defisim.sweep.worker import RunRecord

__all__ = ["SweepStore", "ID_COLUMNS", "STATUS_OK", "STATUS_ERROR"]

#: Columns of every run row, before the ``param.<path>`` columns and the summary keys.
#: ``point`` is not stored: :meth:`SweepStore.read_runs` numbers the rows from the plan.
ID_COLUMNS = ("run_id", "point", "point_key", "replicate", "seed", "scenario_hash", "base_overrides", "status", "error")
STATUS_OK, STATUS_ERROR = "ok", "error"
DAMAGED = "damaged"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_atomic(path: Path, write) -> None:
    """``write(file)`` into a temporary binary file, flush it to disk, rename it to ``path``."""
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _record_row(record: RunRecord, base_overrides: str) -> dict[str, Any]:
    t = record.task
    row: dict[str, Any] = {
        "run_id": t.run_id, "point_key": t.point_key, "replicate": t.replicate, "seed": t.seed,
        "scenario_hash": record.scenario_hash, "base_overrides": base_overrides,
        "status": STATUS_OK if record.error is None else STATUS_ERROR, "error": record.error or "",
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
        self._base_overrides = "[]"

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
        self._base_overrides = json.dumps(list(plan.overrides))
        meta = {"scenario": plan.base, "scenario_hash": plan.base_hash, "source": plan.source,
                "overrides": list(plan.overrides), "sweep": plan.spec.model_dump(mode="json"), "version": package_version()}
        # key order kept: the order of the swept paths decides the samples
        _write_atomic(meta_path, lambda f: f.write((json.dumps(meta, indent=2) + "\n").encode()))

    def meta(self) -> dict:
        """The contents of ``sweep.json``."""
        path = self.directory / "sweep.json"
        if not path.is_file():
            raise FileNotFoundError(f"no sweep in {self.directory} (sweep.json missing)")
        return json.loads(path.read_text())

    # -- runs ------------------------------------------------------------------------------------
    def done(self) -> set[str]:
        """Run ids with a part on disk (finished or failed; readable or not: see :meth:`read_runs`)."""
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
        table = pa.Table.from_pylist([_record_row(record, self._base_overrides)])
        _write_atomic(self.runs_dir / f"{run_id}.parquet", lambda f: pq.write_table(table, f, compression="zstd"))

    def _read_part(self, name: str, columns: list[str] | None) -> pa.Table | None:
        """One part, or ``None`` when it cannot be read (then it is moved to ``runs/damaged/``)."""
        path = self.runs_dir / f"{name}.parquet"
        try:
            if columns is None:
                return pq.read_table(path)
            have = pq.read_schema(path).names
            return pq.read_table(path, columns=[c for c in columns if c in have])
        except (pa.ArrowException, OSError) as e:
            damaged = self.runs_dir / DAMAGED
            damaged.mkdir(exist_ok=True)
            target, k = damaged / path.name, 0
            while target.exists():
                k += 1
                target = damaged / f"{path.name}.{k}"
            os.replace(path, target)
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            sys.stderr.write(f"defisim: warning: {path} cannot be read ({first}); moved to {target}, "
                             "the run counts as missing\n")
            return None

    def read_runs(self, run_ids: Iterable[str] | None = None, columns: list[str] | None = None,
                  points: Mapping[str, int] | None = None) -> pd.DataFrame:
        """Rows of the runs on disk (only ``run_ids`` if given), sorted by point and replicate.

        Columns: :data:`ID_COLUMNS`, the ``param.<path>`` columns, then the summary keys in the
        order they first appear in that sort; a key a run lacks is NaN (a failed run has none).
        ``point`` is numbered from ``points`` (point key → number, :attr:`SweepPlan.numbers`);
        without it there is no ``point`` column and the rows are sorted by run id. A part that
        cannot be read is moved aside (see the module doc) and left out.
        """
        if points is not None and columns is not None and "point_key" not in columns:
            columns = [*columns, "point_key"]
        names = sorted(self.done() if run_ids is None else set(run_ids) & self.done())
        read = [(n, self._read_part(n, columns)) for n in names]
        read = [(n, p) for n, p in read if p is not None]
        names, parts = [n for n, _ in read], [p for _, p in read]
        if not parts:
            return pd.DataFrame(columns=[c for c in (columns or ID_COLUMNS) if c != "point" or points is not None])
        table = pa.concat_tables(_same_types(parts), promote_options="permissive")
        df = table.to_pandas()
        if "point" in df:  # written by earlier versions: numbers of another plan, perhaps
            df = df.drop(columns=["point"])
        if points is not None:
            df.insert(0, "point", df["point_key"].map(points).astype("int64"))
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
        _write_atomic(path, lambda f: df.to_parquet(f, index=False, engine="pyarrow", compression="zstd"))
        return path


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _same_types(parts: list[pa.Table]) -> list[pa.Table]:
    """The parts with every column whose types disagree across them (other than integer and
    float, which promote to float) turned to text: each value as YAML (:func:`value_text`)."""
    types: dict[str, set] = {}
    for part in parts:
        for f in part.schema:
            if not pa.types.is_null(f.type):
                types.setdefault(f.name, set()).add(f.type)
    mixed = {name for name, ts in types.items() if len(ts) > 1 and not all(_numeric(t) for t in ts)}
    if not mixed:
        return parts
    out = []
    for part in parts:
        for name in mixed & set(part.column_names):
            i = part.column_names.index(name)
            text = [None if v is None else value_text(v) for v in part.column(i).to_pylist()]
            part = part.set_column(i, pa.field(name, pa.string()), pa.array(text, pa.string()))
        out.append(part)
    return out
