"""The progress line: runs done, failures, elapsed and remaining time."""
from __future__ import annotations

import io
import re

from defisim.sweep.progress import Progress


def test_progress_counts_runs_and_failures_and_estimates_the_rest():
    out = io.StringIO()  # not a terminal: a line every log_every_s, and the last state
    bar = Progress(10, done=4, failed=1, stream=out, log_every_s=0.0)
    bar.update()
    bar.update(failed=True)
    assert re.fullmatch(r"sweep: 6/10 runs, 2 failed, 0:\d\d elapsed, ~0:\d\d left", bar.line())
    for _ in range(4):
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("sweep: 5/10 runs, 1 failed") and lines[-1].endswith("done")
    assert len(lines) == 6  # one per run, the last not repeated by close()


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    bar = Progress(3, stream=out, enabled=False)
    bar.update()
    bar.close()
    assert out.getvalue() == ""
