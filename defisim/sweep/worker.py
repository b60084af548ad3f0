"""One run of a sweep, as a backend executes it: validate the point's scenario, simulate with the
run's seed, return its summary, or the error it raised (a failed run never stops a sweep).

:func:`execute` is a plain module-level function of picklable arguments, so a process pool or a
Dask worker can run it; it reads no global state and writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from defisim.results.results import Results
from defisim.scenario.loading import validate_scenario
from defisim.run.simulation import Simulation
from defisim.sweep.plan import RunTask

__all__ = ["RunRecord", "execute"]


@dataclass
class RunRecord:
    """What one run gave: its task, the scenario hash, then the summary or the error.

    ``scenario_hash`` is the hash of the point's scenario with the run's seed set, as
    ``defisim run SCENARIO --set <overrides> --seed <seed>`` reports it ("" when the scenario
    is invalid).

    ``results`` carries the full tables when they were asked for (``None`` otherwise).
    """

    task: RunTask
    scenario_hash: str
    summary: dict[str, Any] | None
    error: str | None = None
    results: Results | None = None


def execute(task: RunTask, scenario_data: dict, keep_tables: bool = False) -> RunRecord:
    """Run ``task`` on ``scenario_data`` (the base with the point's overrides applied).

    Any exception of the validation or the simulation becomes the record's ``error``
    (``"<ExceptionType>: <first line of the message>"``); ``KeyboardInterrupt`` and
    ``SystemExit`` are not caught.

    Examples
    --------
    >>> from defisim.scenario.loading import load_scenario
    >>> from defisim.sweep.plan import RunTask
    >>> data = load_scenario("payers", ["blocks=2"]).to_dict()
    >>> rec = execute(RunTask("k-00000", 0, "k", 0, 11, {}), data)
    >>> rec.error, rec.summary["blocks"]
    (None, 2)
    >>> execute(RunTask("k-00001", 0, "k", 1, 12, {}), {**data, "blocks": 0}).error
    'ScenarioError: blocks: Input should be greater than 0'
    """
    scenario_hash = ""
    try:
        scenario = validate_scenario({**scenario_data, "seed": task.seed})
        scenario_hash = scenario.hash
        results = Simulation(scenario, seed=task.seed).run()
    except Exception as e:  # a failed run is data, recorded with its error
        first = str(e).splitlines()[0] if str(e) else ""
        return RunRecord(task, scenario_hash, None, f"{type(e).__name__}: {first}".rstrip(": "))
    return RunRecord(task, scenario_hash, results.summary(), None, results if keep_tables else None)
