"""The plan of a sweep: its points (one set of overrides each), the runs (point × replicate) and
their seeds; every swept path checked against the scenario and its schema.

A point is known by its *key*, a hash of its overrides, not by its position in the plan, and
a run's seed derives from ``(sweep seed, point key, replicate)`` alone (with ``paired``: from
``(sweep seed, replicate)``). Adding values to a grid, or replicates, therefore changes no
existing run: a resumed or extended sweep reuses every run already on disk, and any run can be
reproduced alone with ``defisim run SCENARIO --set <its overrides> --seed <its seed>``.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import yaml

from defisim.base.rng import RngTree, stream_key
from defisim.scenario.loading import ScenarioError, apply_overrides, validate_scenario
from defisim.scenario.sweep_spec import SampleSpec, SweepSpec

__all__ = ["RunTask", "SweepPlan", "plan_sweep", "point_key", "run_seed", "override_text", "value_text", "sample_points",
           "PARAM_PREFIX"]

#: Prefix of the columns holding a point's swept values (``param.<dotted path>``).
PARAM_PREFIX = "param."


def value_text(value: Any) -> str:
    """A swept value as text: a string as it is, anything else as the YAML of an override.

    >>> value_text("6s"), value_text(12000), value_text(0.8), value_text(True)
    ('6s', '12000', '0.8', 'true')
    """
    if isinstance(value, str):
        return value
    return override_text("", value)[1:]


def override_text(path: str, value: Any) -> str:
    """``"path=value"`` for :func:`~defisim.scenario.loading.apply_overrides`, the value written as YAML
    that reads back to the same value (floats to the last bit).

    >>> override_text("protocols.aave.reserves.0.ltv", 0.8)
    'protocols.aave.reserves.0.ltv=0.8'
    >>> override_text("x", 1e-05), override_text("chain.slot", "2s"), override_text("y", [1, 2])
    ('x=1.0e-05', 'chain.slot=2s', 'y=[1, 2]')
    """
    value = value.item() if isinstance(value, np.generic) else value
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf")).strip()
    return f"{path}={text.removesuffix('...').strip()}"


def point_key(overrides: dict[str, Any]) -> str:
    """Stable key of a point: 16 hex digits of the SHA-256 of its overrides (canonical JSON).

    >>> point_key({"b": 1, "a": 0.5}) == point_key({"a": 0.5, "b": 1})
    True
    """
    blob = json.dumps(overrides, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_seed(sweep_seed: int, key: str, replicate: int, paired: bool = False) -> int:
    """Root seed of one run, from the sweep seed, the point's key and the replicate number.

    A ``numpy.random.SeedSequence`` keyed like the engine's named streams (:mod:`defisim.base.rng`);
    63 bits, so it is a valid scenario ``seed``. With ``paired``, replicate ``r`` of every point
    gets the same seed (common random numbers: points differ only by their parameters).

    >>> run_seed(0, "abc", 1) == run_seed(0, "abc", 1) != run_seed(0, "abc", 2)
    True
    >>> run_seed(0, "abc", 1, paired=True) == run_seed(0, "xyz", 1, paired=True)
    True
    """
    spawn = (replicate,) if paired else (*stream_key(f"sweep/point/{key}"), replicate)
    state = np.random.SeedSequence(entropy=sweep_seed, spawn_key=spawn).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def sample_points(sample: SampleSpec, sweep_seed: int) -> list[dict[str, Any]]:
    """The ``n`` points of a ``sample`` axis, from the sweep seed's stream ``"sweep/sample"``.

    ``lhs``: each range is cut into ``n`` equal strata and each stratum is drawn once, in a
    random order per range (a Latin hypercube); ``random``: independent uniforms. Integer
    bounds give integers.

    Examples
    --------
    >>> pts = sample_points(SampleSpec(n=4, ranges={"a": [0.0, 1.0], "k": [1, 4]}), 0)
    >>> sorted(int(p["a"] * 4) for p in pts), sorted(p["k"] for p in pts)
    ([0, 1, 2, 3], [1, 2, 3, 4])
    """
    rng = RngTree(sweep_seed).stream("sweep/sample")
    n = sample.n
    columns = {}
    for path, (low, high) in sample.ranges.items():
        u = (rng.permutation(n) + rng.random(n)) / n if sample.method == "lhs" else rng.random(n)
        if isinstance(low, int) and isinstance(high, int):
            columns[path] = [int(v) for v in np.minimum(low + np.floor(u * (high - low + 1)), high)]
        else:
            columns[path] = [float(v) for v in low + u * (high - low)]
    return [{p: columns[p][i] for p in columns} for i in range(n)]


@dataclass(frozen=True)
class RunTask:
    """One run of a sweep: what a backend needs to execute it and what its row records."""

    run_id: str
    point: int
    point_key: str
    replicate: int
    seed: int
    overrides: dict[str, Any]


@dataclass(frozen=True)
class SweepPlan:
    """Points × replicates of a sweep over one base scenario.

    ``base`` is the fully resolved scenario data (``Scenario.to_dict()``, no ``[sweep]``),
    ``points`` the overrides of each point, in plan order; ``overrides`` the ``--set`` changes
    that made ``base`` from the scenario ``source`` (for the record: a run is reproduced with
    them, the point's overrides and its seed).
    """

    base: dict
    base_hash: str
    source: str
    spec: SweepSpec
    points: tuple[dict[str, Any], ...]
    overrides: tuple[str, ...] = ()
    keys: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "keys", tuple(point_key(p) for p in self.points))

    @property
    def numbers(self) -> dict[str, int]:
        """Point key → the point's number in this plan."""
        return {k: i for i, k in enumerate(self.keys)}

    def scenario_data(self, point: int) -> dict:
        """The base scenario with point ``point``'s overrides applied (plain data)."""
        return apply_overrides(self.base, [override_text(p, v) for p, v in self.points[point].items()])

    def tasks(self) -> list[RunTask]:
        """Every run, replicate by replicate (all points of replicate 0 first), so that a sweep
        stopped early holds the same number of runs of every point."""
        s = self.spec
        return [RunTask(f"{key}-{r:05d}", i, key, r, run_seed(s.seed, key, r, s.paired), self.points[i])
                for r in range(s.seeds) for i, key in enumerate(self.keys)]

    def points_frame(self) -> pd.DataFrame:
        """One row per point: ``point``, ``point_key`` and a ``param.<path>`` column per swept path."""
        rows = [{"point": i, "point_key": k, **{PARAM_PREFIX + p: v for p, v in pt.items()}}
                for i, (k, pt) in enumerate(zip(self.keys, self.points))]
        return pd.DataFrame(rows, columns=["point", "point_key", *(PARAM_PREFIX + p for p in self.spec.paths())])


def _axes(spec: SweepSpec) -> list[list[dict[str, Any]]]:
    axes = [[{path: v} for v in values] for path, values in spec.grid.items()]
    if spec.zip:
        n = len(next(iter(spec.zip.values())))
        axes.append([{path: values[i] for path, values in spec.zip.items()} for i in range(n)])
    if spec.sample is not None:
        axes.append(sample_points(spec.sample, spec.seed))
    return axes


def _first_values(spec: SweepSpec) -> list[tuple[str, str, Any]]:
    out = [("grid", p, v[0]) for p, v in spec.grid.items()]
    out += [("zip", p, v[0]) for p, v in spec.zip.items()]
    if spec.sample is not None:
        out += [("sample", p, low) for p, (low, _high) in spec.sample.ranges.items()]
    return out


#: Paths a sweep cannot vary: a run's seed comes from the sweep, and ``[sweep]`` is no part of a run.
_NOT_SWEPT = {"seed": "a run's seed derives from sweep.seed, the point and the replicate (use seeds, or paired)",
              "sweep": "the [sweep] section is no part of a run"}


def _refused(path: str) -> str | None:
    return _NOT_SWEPT.get(path.split(".", 1)[0])


def plan_sweep(base: dict, spec: SweepSpec, source: str = "<dict>", overrides: tuple[str, ...] = ()) -> SweepPlan:
    """Check a sweep against its base scenario and lay out its points.

    Each swept path is first applied alone (with its first value) and validated like any
    scenario, so a path that exists neither in the scenario nor in its schema gives an error
    naming it; then every point's overrides together are validated.

    Parameters
    ----------
    base : dict
        Resolved scenario data (``Scenario.to_dict()``).
    spec : SweepSpec
    source : str
        Where the base came from (for the record).
    overrides : tuple of str
        The ``--set`` changes that made ``base`` from ``source`` (for the record).

    Raises
    ------
    ScenarioError
        One line: ``sweep.<axis>["<path>"]: <problem>`` or ``sweep point <i> (<overrides>): <problem>``.

    Examples
    --------
    >>> from defisim.scenario.loading import load_scenario
    >>> base = load_scenario("payers").to_dict()
    >>> plan = plan_sweep(base, SweepSpec(grid={"chain.slot": ["2s", "12s"], "blocks": [3, 4]}, seeds=2))
    >>> len(plan.points), len(plan.tasks()), plan.points[1]
    (4, 8, {'chain.slot': '2s', 'blocks': 4})
    >>> plan_sweep(base, SweepSpec(grid={"chain.slott": ["2s"]}))
    Traceback (most recent call last):
    ...
    defisim.scenario.loading.ScenarioError: sweep.grid["chain.slott"]: chain.slott: unknown key
    >>> plan_sweep(base, SweepSpec(grid={"seed": [1, 2]}))
    Traceback (most recent call last):
    ...
    defisim.scenario.loading.ScenarioError: sweep.grid["seed"]: cannot be swept: a run's seed derives from sweep.seed, the point and the replicate (use seeds, or paired)
    """
    if not spec.paths():
        raise ScenarioError("sweep: nothing to sweep (give grid, zip or sample paths)")
    for axis, path, _value in _first_values(spec):
        why = _refused(path)
        if why:
            raise ScenarioError(f'sweep.{axis}["{path}"]: cannot be swept: {why}')
    for axis, path, value in _first_values(spec):
        try:
            validate_scenario(apply_overrides(base, [override_text(path, value)]), source=source)
        except ScenarioError as e:
            raise ScenarioError(f'sweep.{axis}["{path}"]: {e}') from None
    points = []
    for combo in itertools.product(*_axes(spec)):
        point = {k: v for part in combo for k, v in part.items()}
        try:
            validate_scenario(apply_overrides(base, [override_text(p, v) for p, v in point.items()]), source=source)
        except ScenarioError as e:
            shown = ", ".join(f"{p}={v!r}" for p, v in point.items())
            raise ScenarioError(f"sweep point {len(points)} ({shown}): {e}") from None
        points.append(point)
    keys = [point_key(p) for p in points]
    if len(set(keys)) != len(keys):
        raise ScenarioError("sweep: two points have the same overrides (a value repeated in a grid, or a sample drawing "
                            "a value twice: integer bounds draw integers, write 0.0:1.0 for floats)")
    base_hash = validate_scenario(base, source=source).hash
    return SweepPlan(base, base_hash, source, spec, tuple(points), tuple(overrides))
