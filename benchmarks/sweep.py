"""Sweep benchmark: throughput of a parameter sweep (runs per minute on one machine) on the
small-tier lending scenario, with 1 and with 2 local workers, and the speed-up.

Run it with one command, pinned to two cores::

    taskset -c 0,1 python benchmarks/sweep.py [--borrowers 1e4] [--blocks 7200] [--seeds 3] [--out FILE]

It prints one JSON document on stdout (and writes it to ``--out`` if given); progress goes to
stderr.

What is measured
----------------
The small tier of ``benchmarks/lending.py``: the built-in ``eth-crash`` scenario at 1e4
borrowers for one simulated day (7,200 blocks of 12 s), overrides
``protocols.aave.population.count=N`` and ``blocks=B``. The sweep is a grid of 2 WETH
liquidation thresholds (0.83, 0.86) × 2 liquidation bonuses (0.05, 0.08) × ``--seeds``
replicates (12 runs by default), run with :func:`defisim.sweep.run_sweep` into a fresh
temporary directory, without figures:

* ``workers = 1``: every run in this process, one after the other (the serial backend);
* ``workers = 2``: a local process pool of 2 (``forkserver``).

``wall_s`` is the whole ``run_sweep`` call: planning and validating the points, starting the
pool (the workers import defisim: about a second, paid once per sweep), the runs, writing one
Parquet part per run, and the metrics and ranking at the end. ``runs_per_minute`` =
runs / ``wall_s`` × 60; ``speedup`` = ``wall_s`` with 1 worker / with 2. Both sweeps must give
the same ``runs`` table (``same_tables``, checked exactly).

Honesty notes
-------------
* The process is not pinned by the script (a pool needs more than one core): run it under
  ``taskset -c 0,1``; the CPUs it may use are reported (``cpus``), with the load average at
  the start and the end and a pure-Python speed figure (``python_loop_ns_per_iter``) to
  compare machines. On a shared machine the speed varies between minutes.
* An untimed warm-up run (1,000 borrowers, 60 blocks) in this process comes first.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from bench_env import emit, load_average, python_speed_ns, source_state
from defisim.scenario.loading import load_scenario
from defisim.run.simulation import Simulation
from defisim.sweep import run_sweep

GRID = {"protocols.aave.reserves.0.liquidation_threshold": [0.83, 0.86],
        "protocols.aave.reserves.0.liquidation_bonus": [0.05, 0.08]}


def measure(workers: int, overrides: list[str], seeds: int) -> tuple[dict, object]:
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        res = run_sweep("eth-crash", grid=GRID, seeds=seeds, overrides=overrides, out=d, workers=workers,
                        figures=False, progress=sys.stderr.isatty())
        wall_s = time.perf_counter() - start
    runs = len(res.runs)
    failed = int((res.runs["status"] != "ok").sum())
    return {"workers": workers, "runs": runs, "failed": failed, "wall_s": round(wall_s, 2),
            "runs_per_minute": round(runs / wall_s * 60, 1), "mean_s_per_run": round(wall_s / runs, 3)}, res.runs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--borrowers", default="1e4")
    parser.add_argument("--blocks", type=int, default=7200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    n = int(float(args.borrowers))
    overrides = [f"protocols.aave.population.count={n}", f"blocks={args.blocks}"]
    source = source_state()
    load_start = load_average()
    Simulation(load_scenario("eth-crash", ["protocols.aave.population.count=1000", "blocks=60"])).run()  # warm-up
    results = []
    tables = []
    for workers in (1, 2):
        print(f"sweep: {workers} worker(s), {4 * args.seeds} runs of {n:,} borrowers × {args.blocks:,} blocks ...", file=sys.stderr)
        row, runs = measure(workers, overrides, args.seeds)
        results.append(row)
        tables.append(runs)
        print(f"  {row['wall_s']} s, {row['runs_per_minute']} runs/min", file=sys.stderr)
    same = tables[0].equals(tables[1])
    out = {
        "benchmark": "sweep",
        "scenario": "eth-crash",
        "borrowers": n,
        "blocks": args.blocks,
        "grid": GRID,
        "seeds": args.seeds,
        "results": results,
        "speedup": round(results[0]["wall_s"] / results[1]["wall_s"], 2),
        "same_tables": bool(same),
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "python_loop_ns_per_iter": round(python_speed_ns(), 1),
    }
    emit(out, None, source, args.out)


if __name__ == "__main__":
    main()
