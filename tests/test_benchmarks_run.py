"""Every benchmark still runs end to end, at a toy size, and prints its JSON document (no timing
is asserted here: speed is measured by the benchmarks themselves)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

CASES = {
    "engine": ["--blocks", "20", "--repeats", "1", "--no-pin"],
    "lending": ["--sizes", "1e3", "--blocks", "30", "--naive-size", "300", "--no-pin"],
    "perps": ["--sizes", "1e3"],
    "contagion": ["--sizes", "1e3"],
    "sweep": ["--borrowers", "200", "--blocks", "10", "--seeds", "1"],
    "maker": ["--sizes", "300", "--blocks", "400"],
    "heavy_day": ["--sizes", "1e3", "--blocks", "60", "--seeds", "7", "--naive-size", "1e3"],
    "pools": ["--sizes", "1e3", "--blocks", "30"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_benchmark_runs_and_reports(name):
    done = subprocess.run([sys.executable, str(BENCHMARKS / f"{name}.py"), *CASES[name]], cwd=BENCHMARKS,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert isinstance(report, dict) and report


def test_the_setup_memory_mode_reports_bytes_per_borrower():
    done = subprocess.run([sys.executable, str(BENCHMARKS / "lending.py"), "--setup-memory", "--sizes", "1e3,3e3",
                           "--no-pin"], cwd=BENCHMARKS, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert set(report["bytes_per_borrower"]) == {"rss", "tracemalloc"}
    assert report["bytes_per_borrower"]["tracemalloc"] > 0
