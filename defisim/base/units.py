"""Time units: simulation time is an integer number of milliseconds (DESIGN §2).

Durations in scenario files are strings such as ``"12s"``, ``"150ms"``, ``"1h"``,
``"1h30m"``; they are parsed once, here.
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["MS_PER", "parse_duration_ms", "format_duration_ms", "DurationMs", "GWEI"]

#: Milliseconds per unit suffix.
MS_PER = {"ms": 1, "s": 1_000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}

#: Wei per gwei.
GWEI = 1_000_000_000

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d)")


def parse_duration_ms(text: str | int) -> int:
    """Parse a duration string into whole milliseconds.

    An ``int`` is taken as milliseconds already. Several parts may follow each other
    (``"1h30m"``). Fractions are allowed as long as the total is a whole number of ms.

    Examples
    --------
    >>> parse_duration_ms("12s"), parse_duration_ms("150ms"), parse_duration_ms("1h30m")
    (12000, 150, 5400000)
    >>> parse_duration_ms("0.5s")
    500
    """
    if isinstance(text, bool):
        raise ValueError("a duration must be a string like '12s', not a boolean")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"duration must not be negative, got {text} ms")
        return text
    if not isinstance(text, str):
        raise ValueError(f"a duration must be a string like '12s', got {text!r}")
    s = text.strip().replace(" ", "")
    if s.startswith("-"):
        raise ValueError(f"duration must not be negative, got {text!r}")
    pos, total = 0, 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * MS_PER[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(
            f"cannot read duration {text!r}: use a number with a unit ms, s, m, h or d, e.g. '12s'"
        )
    if total != int(total):
        raise ValueError(f"duration {text!r} is not a whole number of milliseconds")
    return int(total)


def format_duration_ms(ms: int) -> str:
    """Format milliseconds as ``HH:MM:SS.mmm`` for logs and progress lines.

    >>> format_duration_ms(3_723_004)
    '01:02:03.004'
    """
    s, milli = divmod(int(ms), 1000)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{sec:02d}.{milli:03d}"


#: A duration field of a spec: a string such as ``"12s"`` or ``"150ms"`` (or an integer of
#: milliseconds), held as whole milliseconds.
DurationMs = Annotated[
    int,
    BeforeValidator(parse_duration_ms),
    WithJsonSchema({"type": ["string", "integer"], "description": "duration such as '12s', '150ms', '1h'"}),
]
