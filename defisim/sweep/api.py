"""The Python API of sweeps, equivalent to ``defisim sweep``: run (or resume) a sweep and get
tidy DataFrames back; read a finished one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
from pydantic import ValidationError

from defisim.scenario.loading import ScenarioError, _one_line, load_scenario
from defisim.sweep.backends import Backend, make_backend
from defisim.sweep.metrics import metric_names, risk_metrics
from defisim.sweep.plan import PARAM_PREFIX, SweepPlan, plan_sweep
from defisim.sweep.progress import Progress
from defisim.sweep.report import distributions_figure, frontier_figure, heatmap_figure, rank_points, ranking_markdown
from defisim.scenario.sweep_spec import ReportSpec, SampleSpec, SweepSpec
from defisim.sweep.store import STATUS_ERROR, SweepStore
from defisim.sweep.worker import RunRecord, execute

__all__ = ["SweepResults", "run_sweep", "load_sweep", "sweep_spec"]


@dataclass
class SweepResults:
    """A sweep's tables: ``runs`` (one row per run: ids, seed, the scenario hash and base
    overrides to reproduce it, status, error, ``param.<path>``, the run's summary keys; ``point``
    numbered by this plan), ``metrics`` (one row per point, see
    :func:`~defisim.sweep.metrics.risk_metrics`) and ``ranking`` (the metrics ranked, see
    :func:`~defisim.sweep.report.rank_points`); ``directory`` is where it is stored."""

    plan: SweepPlan
    runs: pd.DataFrame
    metrics: pd.DataFrame
    ranking: pd.DataFrame
    directory: Path

    @property
    def report(self) -> ReportSpec:
        return self.plan.spec.report

    @property
    def missing(self) -> int:
        """Runs of the plan not on disk (0 once the sweep is complete)."""
        return len(self.plan.tasks()) - len(self.runs)

    def figures(self, directory: str | Path | None = None) -> list[Path]:
        """Write ``heatmap.png`` (the ranked metric over the report's axes, default: the first
        two swept paths), ``frontier.png`` and ``distributions.png``; returns their paths."""
        d = Path(directory) if directory is not None else self.directory
        axes = list(self.report.axes) or self.plan.spec.paths()[:2]
        name = self.plan.base.get("name", "")
        return [
            heatmap_figure(self.metrics, axes, d / "heatmap.png", value=self.report.rank_by,
                           title=f"{name}: {self.report.rank_by} by point"),
            frontier_figure(self.ranking, d / "frontier.png", title=f"{name}: total-loss CVaR 95% against LTV used"),
            distributions_figure(self.runs, d / "distributions.png", title=f"{name}: per point, over its runs"),
        ]

    def write(self) -> list[Path]:
        """Write ``runs.parquet``, ``metrics.parquet``, ``ranking.csv`` and ``ranking.md`` into the
        sweep directory (the per-run parts stay the record)."""
        store = SweepStore(self.directory)
        out = [store.write_frame("runs", self.runs), store.write_frame("metrics", self.metrics)]
        csv, md = self.directory / "ranking.csv", self.directory / "ranking.md"
        self.ranking.to_csv(csv, index=False)
        md.write_text(ranking_markdown(self.ranking, ranking_columns(self.ranking)) + "\n")
        return [*out, csv, md]


def ranking_columns(ranking: pd.DataFrame) -> list[str]:
    """The columns worth showing of a ranking: rank, point, swept values, the main metrics."""
    from defisim.sweep.report import RANKING_COLUMNS

    return ["rank", "point", *(c for c in ranking if c.startswith(PARAM_PREFIX)), *(c for c in RANKING_COLUMNS if c in ranking)]


def sweep_spec(base: SweepSpec | None = None, *, grid: Mapping[str, list] | None = None, zip: Mapping[str, list] | None = None,
               sample: Mapping[str, Any] | SampleSpec | None = None, seeds: int | None = None, seed: int | None = None,
               paired: bool | None = None, report: Mapping[str, Any] | None = None) -> SweepSpec:
    """A :class:`SweepSpec` from a scenario's ``[sweep]`` section (``base``) with changes laid
    over it: ``grid``, ``zip`` and ``sample`` paths add to (or replace) the section's; the
    scalars replace its values; ``report`` keys replace its report's.

    >>> sweep_spec(SweepSpec(grid={"a.b": [1, 2]}, seeds=5), grid={"a.c": [3]}, seeds=2).model_dump(include={"grid", "seeds"})
    {'seeds': 2, 'grid': {'a.b': [1, 2], 'a.c': [3]}}
    """
    data = base.model_dump() if base is not None else {}
    data["grid"] = {**data.get("grid", {}), **dict(grid or {})}
    data["zip"] = dict(zip) if zip else data.get("zip", {})
    if sample is not None:
        data["sample"] = sample.model_dump() if isinstance(sample, SampleSpec) else dict(sample)
    for key, value in (("seeds", seeds), ("seed", seed), ("paired", paired)):
        if value is not None:
            data[key] = value
    if report:
        data["report"] = {**data.get("report", {}), **dict(report)}
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as e:  # one line naming the field, as for any scenario key
        raise ScenarioError(_one_line(e, ("sweep",))) from None


def check_rank_by(spec: SweepSpec) -> None:
    """Raise ``ScenarioError`` unless ``spec.report.rank_by`` names a metric column (or a swept
    path's ``param.<path>``): checked before any run."""
    known = [*metric_names(), *(PARAM_PREFIX + p for p in spec.paths())]
    if spec.report.rank_by not in known:
        raise ScenarioError(f"sweep.report.rank_by: no metric {spec.report.rank_by!r} (metrics: "
                            f"{', '.join(m for m in metric_names() if m not in ('point', 'point_key'))})")


def _lost(args, why: str) -> RunRecord:
    """The record of a run whose worker process died (``args``: what :func:`execute` was given)."""
    return RunRecord(args[0], "", None, f"worker died ({why})")


def _results(plan: SweepPlan, store: SweepStore) -> SweepResults:
    ids = [t.run_id for t in plan.tasks()]
    runs = store.read_runs(ids, points=plan.numbers)
    metrics = risk_metrics(runs, plan.spec.report.insolvency_usd, plan.spec.report.efficiency) if len(runs) else pd.DataFrame()
    ranking = rank_points(metrics, plan.spec.report.rank_by) if len(metrics) else pd.DataFrame()
    return SweepResults(plan, runs, metrics, ranking, store.directory)


def run_sweep(scenario: str | Path | None = None, *, grid: Mapping[str, list] | None = None,
              zip: Mapping[str, list] | None = None, sample: Mapping[str, Any] | SampleSpec | None = None,
              seeds: int | None = None, seed: int | None = None, paired: bool | None = None,
              overrides: Iterable[str] = (), out: str | Path = "sweep", workers: int | None = None,
              dask: str | None = None, backend: Backend | None = None, keep_tables: bool = False,
              retry_failed: bool = False, progress: bool = False, report: Mapping[str, Any] | None = None,
              figures: bool = True) -> SweepResults:
    """Run a sweep, or resume it: only the runs not yet in ``out`` run.

    Parameters
    ----------
    scenario : str or path, optional
        Scenario file or built-in name (default ``"default"``); its ``[sweep]`` section, if
        any, is the starting point of the sweep.
    grid, zip, sample, seeds, seed, paired, report
        Laid over the scenario's ``[sweep]`` (see :func:`sweep_spec` and
        :class:`~defisim.scenario.sweep_spec.SweepSpec`).
    overrides : iterable of str
        ``"dotted.path=value"`` changes to the base scenario (as ``defisim run --set``).
    out : path
        Sweep directory (created; an existing sweep of the same scenario is resumed).
    workers : int, optional
        Local processes (default: every available CPU; 1 runs in this process).
    dask : str, optional
        A Dask scheduler address, or ``"local"`` for a local Dask cluster of ``workers``.
    backend : Backend, optional
        Use this backend (left open) instead of making one from ``workers`` and ``dask``.
    keep_tables : bool
        Also store each run's full tables (``out/tables/<run_id>/``).
        A run whose worker process dies (killed, out of memory) is recorded as failed with the
        error ``worker died (…)``; the sweep goes on. A script that uses a process pool must
        guard its code with ``if __name__ == "__main__":`` (the workers import it).
    retry_failed : bool
        Run again the runs recorded as failed.
    progress : bool
        Show progress on stderr.
    figures : bool
        Write the figures at the end.

    Returns
    -------
    SweepResults

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     res = run_sweep("payers", grid={"chain.slot": ["6s", "12s"]}, seeds=2, overrides=["blocks=3"],
    ...                     out=d, workers=1, figures=False)
    ...     len(res.runs), list(res.metrics["param.chain.slot"]), res.missing
    (4, ['6s', '12s'], 0)
    """
    loaded = load_scenario(scenario, overrides)
    spec = sweep_spec(loaded.spec.sweep, grid=grid, zip=zip, sample=sample, seeds=seeds, seed=seed, paired=paired,
                      report=report)
    check_rank_by(spec)
    plan = plan_sweep(loaded.to_dict(), spec, loaded.source, tuple(overrides))
    store = SweepStore(out)
    store.open(plan)
    tasks = plan.tasks()
    # reading the parts on disk moves unreadable ones aside: their runs count as missing
    on_disk = store.read_runs([t.run_id for t in tasks], columns=["run_id", "status"])
    failed_ids = set(on_disk.loc[on_disk["status"] == STATUS_ERROR, "run_id"])
    done = set(on_disk["run_id"]) - (failed_ids if retry_failed else set())
    todo = [t for t in tasks if t.run_id not in done]
    failed_before = len(failed_ids & done)
    bar = Progress(len(tasks), len(tasks) - len(todo), failed_before, enabled=progress)
    own = backend is None
    backend = make_backend(1 if len(todo) <= 1 else workers, dask) if own and todo else backend
    try:
        if todo:
            jobs = ((t, plan.scenario_data(t.point), keep_tables) for t in todo)
            for record in backend.map_unordered(execute, jobs, lost=_lost):
                store.write(record)
                bar.update(failed=record.error is not None)
    finally:
        bar.close()
        if own and todo:
            backend.close()
    res = _results(plan, store)
    res.write()
    if figures and len(res.metrics):
        res.figures()
    return res


def load_sweep(directory: str | Path) -> SweepResults:
    """A stored sweep's tables, recomputed from its runs on disk (complete or not)."""
    store = SweepStore(directory)
    meta = store.meta()
    spec = SweepSpec.model_validate(meta["sweep"])
    return _results(plan_sweep(meta["scenario"], spec, meta.get("source", "<dict>"), tuple(meta.get("overrides", ()))), store)
