"""A validated scenario written back as a scenario file (``defisim show``): every default filled in,
durations as duration strings, in TOML or YAML; loading the file gives the same scenario (and hash).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterator

import yaml
from pydantic import BaseModel

from defisim.base.distributions import LatencyMs
from defisim.base.units import duration_string, is_duration
from defisim.scenario.loading import Scenario

__all__ = ["scenario_document", "to_toml", "to_yaml"]

_LATENCY = LatencyMs.__metadata__[-1].func
#: parameters of a distribution of durations that are durations themselves
_LATENCY_KEYS = ("value", "low", "high", "median", "mean")


def _duration_paths(model: BaseModel, prefix: tuple = ()) -> Iterator[tuple]:
    """Paths (inside ``model``'s dump) of the values that are durations in milliseconds."""
    for name, field in type(model).model_fields.items():
        if field.exclude:
            continue
        value, path = getattr(model, name), (*prefix, name)
        if value is None:
            continue
        if is_duration(field):
            yield path
        elif any(getattr(m, "func", None) is _LATENCY for m in field.metadata):
            yield from ((*path, k) for k in _LATENCY_KEYS if hasattr(value, k))
        elif isinstance(value, BaseModel):
            yield from _duration_paths(value, path)
        elif isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _duration_paths(item, (*path, i))
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, BaseModel):
                    yield from _duration_paths(item, (*path, k))


def _as_duration(ms):
    return duration_string(int(ms)) if float(ms).is_integer() else ms


def scenario_document(scenario: Scenario) -> dict:
    """The resolved scenario as the data of a scenario file: :meth:`Scenario.to_dict`, with
    durations written as duration strings, ``None`` values left out (they are the defaults), and
    the ``[sweep]`` section if the scenario has one."""
    data = scenario.to_dict()
    paths = list(_duration_paths(scenario.spec))
    for name, (_, params) in scenario.protocols.items():
        paths += _duration_paths(params, ("protocols", name))
    for i, params in enumerate(scenario.agents):
        paths += _duration_paths(params, ("agents", i, "params"))
    for path in paths:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = _as_duration(node[path[-1]])
    if scenario.spec.sweep is not None:
        data["sweep"] = scenario.spec.sweep.model_dump(mode="json")
    return _drop_none(data)


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def to_yaml(data: dict) -> str:
    """``data`` as YAML, keys in their order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_INLINE_WIDTH = 100


def _key(k) -> str:
    k = str(k)
    return k if _BARE_KEY.match(k) else json.dumps(k, ensure_ascii=False)


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:_}" if abs(v) >= 100_000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _inline(v) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(x)}" for k, x in v.items()) + " }" if v else "{}"
    if isinstance(v, list):
        return "[" + ", ".join(_inline(x) for x in v) + "]"
    return _scalar(v)


def _is_tables(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(data: dict, path: tuple, out: list[str], header: str | None) -> None:
    """Keys that fit on a line first, then sub-tables and arrays of tables."""
    nested, lines = [], []
    for k, v in data.items():
        line = f"{_key(k)} = {_inline(v)}"
        if (isinstance(v, dict) or _is_tables(v)) and len(line) > _INLINE_WIDTH:
            nested.append((k, v))
        else:
            lines.append(line)
    if header is not None and (lines or header.startswith("[[")):  # a table holding only tables needs no header
        out += ["", header]
    out += lines
    for k, v in nested:
        sub = (*path, _key(k))
        if isinstance(v, dict):
            _table(v, sub, out, f"[{'.'.join(sub)}]")
        else:
            for item in v:
                _table(item, sub, out, f"[[{'.'.join(sub)}]]")


def to_toml(data: dict) -> str:
    """``data`` (strings, numbers, booleans, lists and tables; no ``None``) as TOML: short tables
    inline, long ones as ``[sections]`` and ``[[arrays of tables]]``."""
    out: list[str] = []
    _table(data, (), out, None)
    return "\n".join(out).lstrip("\n") + "\n"
