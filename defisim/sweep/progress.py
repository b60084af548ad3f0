"""The progress of a sweep on the terminal: runs done, failures, elapsed and remaining time.

The only place a sweep reads the wall clock; nothing it measures reaches the results.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour).

    >>> format_duration(75), format_duration(3725.2)
    ('1:15', '1:02:05')
    """
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """A one-line progress report: ``sweep: 45/180 runs, 2 failed, 0:12 elapsed, ~0:36 left``.

    On a terminal the line is redrawn in place (at most every ``interval_s``); elsewhere a line
    is printed every ``log_every_s`` seconds. The time left extrapolates the runs done in this
    session (runs found on disk at the start count as done but took no time).

    Parameters
    ----------
    total : int
        Runs in the plan.
    done : int
        Runs already on disk at the start.
    failed : int
        Of which failed.
    stream : file, optional
        Default ``sys.stderr``.
    enabled : bool
        ``False`` prints nothing.
    """

    def __init__(self, total: int, done: int = 0, failed: int = 0, stream: TextIO | None = None, enabled: bool = True,
                 interval_s: float = 0.2, log_every_s: float = 10.0):
        self.total, self.done, self.failed = total, done, failed
        self._start_done = done
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._interval = interval_s if self._tty else log_every_s
        self._t0 = time.monotonic()
        self._last = -float("inf")
        self._shown = -1

    def line(self) -> str:
        """The current progress line."""
        elapsed = time.monotonic() - self._t0
        ran = self.done - self._start_done
        left = self.total - self.done
        eta = f"~{format_duration(elapsed / ran * left)} left" if ran and left else ("done" if not left else "? left")
        return f"sweep: {self.done}/{self.total} runs, {self.failed} failed, {format_duration(elapsed)} elapsed, {eta}"

    def update(self, failed: bool = False) -> None:
        """Count one finished run."""
        self.done += 1
        self.failed += bool(failed)
        now = time.monotonic()
        if self.enabled and (now - self._last >= self._interval or self.done == self.total):
            self._last = now
            self._show()

    def _show(self) -> None:
        self._shown = self.done
        if self._tty:
            self.stream.write("\r\x1b[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line (and show the last state)."""
        if self.enabled:
            if self._shown != self.done:
                self._show()
            if self._tty:
                self.stream.write("\n")
            self.stream.flush()
