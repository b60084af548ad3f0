"""Why a setup subprocess (``npm install``, the solc-js compilation) failed, in one line."""
from __future__ import annotations

import subprocess


def why(error: subprocess.CalledProcessError | subprocess.TimeoutExpired) -> str:
    """The subprocess's own error lines (npm's ``npm error …``, node's ``…Error: …``), else its
    last output line, with the exit status; or how long it ran before the timeout.

    >>> e = subprocess.CalledProcessError(1, ["npm"], stderr="npm error code ECONNREFUSED\\n"
    ...     "npm error errno ECONNREFUSED\\nnpm error A complete log of this run can be found in: /x.log\\n")
    >>> why(e)
    'exit status 1: npm error code ECONNREFUSED; npm error errno ECONNREFUSED'
    """
    if isinstance(error, subprocess.TimeoutExpired):
        return f"timed out after {error.timeout:g} s"
    text = "\n".join(part for part in (error.stderr, error.output) if isinstance(part, str))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines
              if ("npm ERR!" in line or "npm error" in line or "Error" in line or "error:" in line)
              and "complete log" not in line]
    shown = errors[:3] or lines[-1:] or ["no output"]
    return f"exit status {error.returncode}: " + "; ".join(shown)
