"""Time and units: simulation time is an integer number of milliseconds.

Durations in scenario files are strings such as ``"12s"``, ``"150ms"``, ``"1h"``,
``"1h30m"``; they are parsed once, here.

**Units of parameters.** A quantity's unit is in its name (``_ms``, ``_usd``, ``_gwei``, ``_bps``,
``_wei``, ``_blocks``; :data:`UNIT_SUFFIXES`) or in its type (:data:`DurationMs`: a duration
string). Where neither says it, the field declares it with :func:`unit`
(``Field(0.05, json_schema_extra=unit("fraction"))``); ratios are plain fractions (0.825, not 82.5)
and token amounts whole tokens. ``defisim schema`` and ``docs/reference.md`` show every unit;
the tables of contract units against these (bps, ray/wad, ``10_000 + bonus``, seconds) are in
docs/reference.md, "Units".
"""
from __future__ import annotations

import re
import typing
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["MS_PER", "parse_duration_ms", "format_duration_ms", "duration_string", "DurationMs", "GWEI", "UNIT_SUFFIXES",
           "unit", "is_duration", "field_unit"]

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


def duration_string(ms: int) -> str:
    """Whole milliseconds as the shortest duration string :func:`parse_duration_ms` reads back.

    >>> duration_string(12_000), duration_string(5_400_000), duration_string(1_250), duration_string(0)
    ('12s', '1h30m', '1s250ms', '0s')
    >>> all(parse_duration_ms(duration_string(ms)) == ms for ms in (1, 999, 60_000, 90_061_001))
    True
    """
    ms = int(ms)
    if ms < 0:
        raise ValueError(f"duration must not be negative, got {ms} ms")
    parts = []
    for suffix in ("d", "h", "m", "s", "ms"):
        n, ms = divmod(ms, MS_PER[suffix])
        if n:
            parts.append(f"{n}{suffix}")
    return "".join(parts) or "0s"


#: Name endings that state a unit (the first that matches wins).
UNIT_SUFFIXES = {
    "_ms": "ms", "_usd": "USD", "_gwei": "gwei", "_wei": "wei", "_bps": "bps", "_blocks": "blocks",
    "_per_block": "per block", "_tokens": "tokens", "_seconds": "s",
}


def unit(name: str) -> dict:
    """``json_schema_extra`` of a field whose name and type do not state its unit.

    >>> from pydantic import BaseModel, Field
    >>> class P(BaseModel):
    ...     deviation: float = Field(0.005, json_schema_extra=unit("fraction"))
    >>> P.model_json_schema()["properties"]["deviation"]["unit"]
    'fraction'
    """
    return {"unit": name}


def is_duration(field) -> bool:
    """Whether a pydantic field is a :data:`DurationMs` (or an optional one)."""
    metadata = list(field.metadata)
    for arg in typing.get_args(field.annotation):
        metadata += getattr(arg, "__metadata__", ())
    return any(getattr(m, "func", None) is parse_duration_ms for m in metadata)


def field_unit(name: str, field) -> str:
    """The unit of a pydantic field: declared with :func:`unit`, else from the type (a duration),
    else from the name's ending (:data:`UNIT_SUFFIXES`); ``""`` when none applies."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "unit" in extra:
        return str(extra["unit"])
    if is_duration(field):
        return "duration"
    for suffix, u in UNIT_SUFFIXES.items():
        if name.endswith(suffix):
            return u
    return ""


#: A duration field of a spec: a string such as ``"12s"`` or ``"150ms"`` (or an integer of
#: milliseconds), held as whole milliseconds.
DurationMs = Annotated[
    int,
    BeforeValidator(parse_duration_ms),
    WithJsonSchema({"type": ["string", "integer"], "description": "duration such as '12s', '150ms', '1h'"}),
]
