"""The ``[sweep]`` section of a scenario: which dotted-path overrides to vary, how, and over how
many seeds. Frozen pydantic models, unknown keys rejected.

The section only *describes* a sweep; :func:`defisim.sweep.plan.plan_sweep` checks every path
against the scenario and its schema and lays out the runs.

A sweep's points are the Cartesian product of its axes:

* ``grid``: one axis per path, ``{path = [v1, v2, ...]}``;
* ``zip``: one axis for all its paths together, their lists walked in step (equal lengths);
* ``sample``: one axis of ``n`` points drawn in the box ``ranges`` (``random``: independent
  uniforms; ``lhs``: a Latin hypercube, one draw per stratum of each range), from the sweep
  seed.

Each point runs ``seeds`` times (replicates).
"""
from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["SampleSpec", "ReportSpec", "SweepSpec", "parse_values", "parse_range"]

_CONFIG = ConfigDict(extra="forbid", frozen=True)


def _check_path(path: str) -> str:
    if not path or any(not part for part in path.split(".")):
        raise ValueError(f"{path!r}: expected a dotted path such as 'chain.slot'")
    return path


class SampleSpec(BaseModel):
    """``n`` points drawn in a box of ranges ``{path = [low, high]}``.

    Bounds that are both integers give integer values (each integer of ``[low, high]`` equally
    likely: ``[0, 1]`` gives only 0 and 1); otherwise floats, uniform in ``[low, high)``
    (write ``[0.0, 1.0]``).
    """

    model_config = _CONFIG

    method: Literal["random", "lhs"] = Field("lhs",
        description="Latin hypercube (lhs) or independent uniform draws (random)")
    n: int = Field(gt=0, description="points drawn")
    ranges: dict[str, tuple[float | int, float | int]] = Field(min_length=1, description="path -> [low, high]")

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, v):
        for path, (low, high) in v.items():
            _check_path(path)
            if not low < high:
                raise ValueError(f"{path}: low ({low}) must be below high ({high})")
        return v


class ReportSpec(BaseModel):
    """How the comparison at the end of a sweep is drawn and ranked."""

    model_config = _CONFIG

    axes: tuple[str, ...] = Field((), max_length=2, description="one or two swept paths for the heatmap (default: the first two)")
    rank_by: str = Field("total_loss_cvar95_usd", description="metric column to rank the points by, lowest first")
    efficiency: str | None = Field(None, description="summary key of capital efficiency (default: the first '<pool>.ltv_used')")
    insolvency_usd: float = Field(0.0, ge=0, description="a run is insolvent when its total loss (debt written "
                                  "off plus debt left uncovered at the end, total_loss_usd) exceeds this (USD)")


class SweepSpec(BaseModel):
    """A sweep: axes of overrides × ``seeds`` replicates, seeded from ``seed``.

    Examples
    --------
    >>> s = SweepSpec(grid={"chain.slot": ["2s", "12s"]}, seeds=3)
    >>> s.seeds, s.paths()
    (3, ['chain.slot'])
    >>> try:
    ...     SweepSpec(zip={"a.b": [1, 2], "a.c": [1]})
    ... except ValueError as e:
    ...     print(e.errors()[0]["loc"], e.errors()[0]["msg"])
    ('zip',) Value error, a.c: 1 values, but a.b has 2: zipped lists must have equal lengths
    """

    model_config = _CONFIG

    seed: int = Field(0, ge=0, description="sweep seed: every run's seed derives from it, the point and the replicate")
    seeds: int = Field(1, gt=0, description="replicates (runs) per point")
    paired: bool = Field(False, description="replicate r of every point uses the same seed (common random numbers)")
    grid: dict[str, list[Any]] = Field({}, description="dotted path -> values; axes multiply")
    zip: dict[str, list[Any]] = Field({},
        description="dotted path -> values, walked in step as one axis (equal lengths)")
    sample: SampleSpec | None = Field(None, description="ranges sampled n times")
    report: ReportSpec = Field(ReportSpec(), description="ranking and figures")

    @field_validator("grid")
    @classmethod
    def _grid(cls, v):
        for path, values in v.items():
            _check_path(path)
            if not values:
                raise ValueError(f"{path}: no values")
        return v

    @field_validator("zip")
    @classmethod
    def _zip(cls, v):
        lengths = {}
        for path, values in v.items():
            _check_path(path)
            if not values:
                raise ValueError(f"{path}: no values")
            lengths[path] = len(values)
        if len(set(lengths.values())) > 1:
            first, *_ = lengths
            other = next(p for p, n in lengths.items() if n != lengths[first])
            raise ValueError(f"{other}: {lengths[other]} values, but {first} has {lengths[first]}: zipped lists must have equal lengths")
        return v

    @model_validator(mode="after")
    def _paths_once(self):
        seen: dict[str, str] = {}
        for where, paths in (("grid", self.grid), ("zip", self.zip), ("sample", self.sample.ranges if self.sample else {})):
            for path in paths:
                if path in seen:
                    raise ValueError(f"{path}: swept twice (in {seen[path]} and in {where})")
                seen[path] = where
        for path in self.report.axes:
            if path not in seen:
                raise ValueError(f"report.axes: {path!r} is not a swept path")
        return self

    def paths(self) -> list[str]:
        """Every swept path: grid, then zip, then sample, each in the order given."""
        return [*self.grid, *self.zip, *(self.sample.ranges if self.sample else {})]


# YAML 1.1 reads ``1e-3`` (no dot) as a string; on the command line it is a number
_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _number(v):
    return float(v) if isinstance(v, str) and _EXPONENT.fullmatch(v) else v


def _split(item: str, option: str) -> tuple[str, str]:
    path, eq, text = item.partition("=")
    if not eq or not path.strip() or not text.strip():
        raise ValueError(f"{option} {item!r}: expected PATH={'LOW:HIGH' if option == '--sample' else 'V1,V2,...'}")
    return _check_path(path.strip()), text.strip()


def parse_values(item: str, option: str = "--grid") -> tuple[str, list]:
    """``"path=v1,v2,..."`` (the command line's ``--grid`` and ``--zip``) as ``(path, values)``;
    values are read as YAML (``0.8`` a float, ``2s`` a string, ``[1, 2]`` a list).

    >>> parse_values("protocols.aave.reserves.0.ltv=0.7,0.75, 0.8")
    ('protocols.aave.reserves.0.ltv', [0.7, 0.75, 0.8])
    >>> parse_values("chain.slot=2s,12s"), parse_values("x=1e-3,2")
    (('chain.slot', ['2s', '12s']), ('x', [0.001, 2]))
    """
    path, text = _split(item, option)
    try:
        values = yaml.safe_load(f"[{text}]")
    except yaml.YAMLError:
        raise ValueError(f"{option} {item!r}: cannot read the values as a comma-separated list") from None
    return path, [_number(v) for v in values]


def parse_range(item: str) -> tuple[str, tuple]:
    """``"path=low:high"`` (the command line's ``--sample``) as ``(path, (low, high))``.

    >>> parse_range("protocols.aave.reserves.0.liquidation_bonus=0.02:0.1")
    ('protocols.aave.reserves.0.liquidation_bonus', (0.02, 0.1))
    """
    path, text = _split(item, "--sample")
    low, colon, high = text.partition(":")
    bounds = [_number(yaml.safe_load(v)) if v.strip() else None for v in (low, high)]
    if not colon or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
        raise ValueError(f"--sample {item!r}: expected PATH=LOW:HIGH with numbers")
    return path, tuple(bounds)
