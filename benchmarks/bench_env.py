"""What every benchmark reports about where it ran: pinning, load, the source measured, the
machine, and a Python-speed calibration figure to compare machines."""
from __future__ import annotations

import gc
import json
import os
import platform
import time

__all__ = ["pin_to_one_core", "load_average", "source_state", "environment", "python_speed_ns", "emit"]


def pin_to_one_core() -> int | None:
    """Pin this process to one CPU (the last one allowed); returns it, or None if unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return cpu
    except OSError:
        return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def source_state() -> dict:
    """The git commit measured and the engine/protocol files that differ from it (if git is there)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", "defisim", "protocols"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "modified": None}
    return {"commit": commit, "modified": sorted(line[3:] for line in status)}


def environment(pinned: int | None) -> dict:
    import numpy
    import simpy

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "pinned_cpu": pinned,
        "pinned": pinned is not None,
        "numpy": numpy.__version__,
        "simpy": simpy.__version__,
        "gc_enabled": gc.isenabled(),
    }


def python_speed_ns() -> float:
    """Calibration: best ns per iteration of a trivial pure-Python loop (``x += i``).

    Lets figures from different machines (or a busy and a quiet moment on one machine) be
    compared: run the benchmark on both and scale by the ratio of this figure.
    """
    n = 1_000_000
    best = float("inf")
    for _ in range(5):
        x = 0
        t0 = time.perf_counter()
        for i in range(n):
            x += i
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e9


def emit(out: dict, pinned: int | None, source: dict, path: str | None) -> None:
    """Add the environment and source state to a benchmark's result, print it as strict JSON
    on stdout and also write it to ``path`` if given."""
    out["environment"] = environment(pinned)
    out["source"] = source
    text = json.dumps(out, indent=2, allow_nan=False)
    print(text)
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
