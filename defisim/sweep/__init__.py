"""Parameter sweeps: a grid (or zipped lists, or random / Latin-hypercube samples) of dotted-path
overrides × seeds, run in parallel, stored as they finish, resumable, summarised as risk
metrics per point and ranked.

======================================  ============================================================
module                                  responsibility
======================================  ============================================================
:mod:`~defisim.scenario.sweep_spec`     the ``[sweep]`` section (pydantic), on the scenario floor
:mod:`~defisim.sweep.plan`              points × replicates, their seeds, path validation
:mod:`~defisim.sweep.worker`            one run from its task (what a backend executes)
:mod:`~defisim.sweep.backends`          serial, process pool, Dask
:mod:`~defisim.sweep.store`             the Parquet dataset of runs; resume
:mod:`~defisim.sweep.progress`          progress line on the terminal
:mod:`~defisim.sweep.metrics`           VaR, CVaR and the risk metrics per point
:mod:`~defisim.sweep.report`            ranking, heatmap, frontier, distributions
:mod:`~defisim.sweep.comparison`        two runs or two sweeps side by side
:mod:`~defisim.sweep.api`               :func:`run_sweep`, :func:`load_sweep`, :func:`compare`
======================================  ============================================================

Names are imported on first use, so importing this package has no cost and no side effect.
"""
from __future__ import annotations

import importlib

__all__ = ["SweepSpec", "SweepPlan", "SweepResults", "plan_sweep", "run_sweep", "load_sweep", "compare",
           "var", "cvar", "risk_metrics", "rank_points"]

_WHERE = {
    "SweepSpec": "defisim.scenario.sweep_spec", "SweepPlan": "plan", "plan_sweep": "plan", "SweepResults": "api", "run_sweep": "api",
    "load_sweep": "api", "compare": "comparison", "var": "metrics", "cvar": "metrics", "risk_metrics": "metrics",
    "rank_points": "report",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name] if "." in _WHERE[name] else f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
