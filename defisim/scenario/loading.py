"""Loading, overriding, validating and hashing scenarios.

A scenario is a TOML or YAML file (or a built-in, by name). It is validated in two steps:
the engine-level :class:`~defisim.scenario.spec.ScenarioSpec`, then each protocol's and agent's
parameters through the registry. Every problem is reported as one line naming the dotted
path and the reason.
"""
from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ValidationError

from defisim.base.registry import Registry, default_registry
from defisim.scenario.spec import ScenarioSpec

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "merge_scenarios",
    "validate_scenario",
    "apply_overrides",
    "builtin_scenarios",
    "read_scenario_file",
]


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line naming the problem."""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the engine spec plus each protocol's and agent group's params."""

    spec: ScenarioSpec
    protocols: dict[str, tuple[str, BaseModel]]  # name -> (kind, params)
    agents: tuple[BaseModel, ...]  # params of each spec.agents entry, in order
    source: str = "<dict>"

    def to_dict(self) -> dict:
        """The fully resolved scenario (defaults filled in) as plain JSON-able data."""
        d = self.spec.model_dump(mode="json")
        d["protocols"] = {n: {"kind": k, **p.model_dump(mode="json")} for n, (k, p) in self.protocols.items()}
        for a, params in zip(d["agents"], self.agents):
            a["params"] = params.model_dump(mode="json")
        return d

    @property
    def hash(self) -> str:
        """SHA-256 of the resolved scenario (canonical JSON); identifies it in every result."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _loc(parts: Iterable) -> str:
    return ".".join(str(p) for p in parts)


def _one_line(err: ValidationError, prefix: tuple = ()) -> str:
    msgs = []
    for e in err.errors():
        loc = [p for p in (*prefix, *e["loc"]) if p not in ("fixed", "uniform", "lognormal", "exponential")]
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        msgs.append(f"{_loc(loc) or '<scenario>'}: {msg}")
    return "; ".join(msgs)


def validate_scenario(raw: dict, registry: Registry | None = None, source: str = "<dict>") -> Scenario:
    """Validate plain data into a :class:`Scenario` (raises :class:`ScenarioError`)."""
    registry = registry or default_registry()
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: a scenario must be a table of keys, got {type(raw).__name__}")
    try:
        spec = ScenarioSpec.model_validate(raw)
    except ValidationError as e:
        raise ScenarioError(_one_line(e)) from None
    protocols: dict[str, tuple[str, BaseModel]] = {}
    for name, body in spec.protocols.items():
        body = dict(body)
        kind = body.pop("kind", None)
        if kind is None:
            raise ScenarioError(f"protocols.{name}.kind: missing (one of {', '.join(sorted(registry.protocols))})")
        entry = registry.protocols.get(kind)
        if entry is None:
            raise ScenarioError(f"protocols.{name}.kind: unknown protocol kind {kind!r} (known: {', '.join(sorted(registry.protocols))})")
        try:
            protocols[name] = (kind, entry.params.model_validate(body))
        except ValidationError as e:
            raise ScenarioError(_one_line(e, ("protocols", name))) from None
    agents = []
    for i, a in enumerate(spec.agents):
        entry = registry.agents.get(a.kind)
        if entry is None:
            raise ScenarioError(f"agents.{i}.kind: unknown agent kind {a.kind!r} (known: {', '.join(sorted(registry.agents))})")
        try:
            params = entry.params.model_validate(a.params)
        except ValidationError as e:
            raise ScenarioError(_one_line(e, ("agents", i, "params"))) from None
        for field in ("protocol", "token"):
            target = getattr(params, field, None)
            if isinstance(target, str) and target not in spec.protocols:
                raise ScenarioError(f"agents.{i}.params.{field}: no protocol named {target!r} in this scenario")
        agents.append(params)
    nodes = set(spec.protocols) | {n.name for n in spec.ecosystem.nodes}
    for i, e in enumerate(spec.ecosystem.edges):
        for end in ("source", "target"):
            if getattr(e, end) not in nodes:
                raise ScenarioError(f"ecosystem.edges.{i}.{end}: {getattr(e, end)!r} is neither a protocol nor an ecosystem node")
    for i, c in enumerate(spec.exposures.cut):
        for end in ("source", "target"):
            if getattr(c, end) not in nodes:
                raise ScenarioError(f"exposures.cut.{i}.{end}: {getattr(c, end)!r} is neither a protocol nor an ecosystem node")
    names = [a.name or a.kind for a in spec.agents]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ScenarioError(f"agents: two groups are named {dupes[0]!r}; give each group its own name")
    return Scenario(spec, protocols, tuple(agents), source)


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict, overrides: Iterable[str]) -> dict:
    """Apply ``"dotted.path=value"`` overrides to raw scenario data (returns a new dict).

    Values are read as YAML scalars (``5`` is an int, ``2s`` a string, ``[1, 2]`` a list).
    List items are addressed by index (``agents.0.count=3``).

    >>> apply_overrides({"chain": {"slot": "12s"}}, ["chain.slot=2s", "seed=7"])
    {'chain': {'slot': '2s'}, 'seed': 7}
    """
    data = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"override {item!r}: expected dotted.path=value")
        path, _, value = item.partition("=")
        keys = [k for k in path.strip().split(".")]
        if not all(keys):
            raise ScenarioError(f"override {item!r}: empty part in path {path!r}")
        node: Any = data
        for depth, k in enumerate(keys[:-1]):
            if isinstance(node, list):
                if not k.isdigit() or int(k) >= len(node):
                    raise ScenarioError(f"{_loc(keys[: depth + 1])}: no such list item")
                node = node[int(k)]
            elif isinstance(node, dict):
                node = node.setdefault(k, {})
            else:
                raise ScenarioError(f"{_loc(keys[: depth + 1])}: cannot set a key inside a {type(node).__name__}")
        last = keys[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ScenarioError(f"{path}: no such list item")
            node[int(last)] = _parse_value(value)
        elif isinstance(node, dict):
            node[last] = _parse_value(value)
        else:
            raise ScenarioError(f"{path}: cannot set a key inside a {type(node).__name__}")
    return data


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario names and their descriptions."""
    out = {}
    for f in sorted(resources.files("defisim.scenario.builtins").iterdir(), key=lambda p: p.name):
        if f.name.endswith(".toml"):
            data = tomllib.loads(f.read_text())
            out[f.name[:-5]] = data.get("description", "")
    return out


def read_scenario_file(path: str | Path) -> dict:
    """Raw data of a TOML (``.toml``) or YAML (``.yaml``/``.yml``) scenario file."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"scenario file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{p}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        else:
            raise ScenarioError(f"{p}: unknown scenario format {p.suffix!r} (use .toml, .yaml or .yml)")
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{p}: malformed TOML: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(f"{p}: malformed YAML{where}: {what}") from None
    return {} if data is None else data


def merge_scenarios(base: dict, changes: dict) -> dict:
    """``changes`` laid over ``base`` (a new dict): tables merge key by key, any other value
    (numbers, strings, lists such as ``agents``) replaces the base's.

    >>> merge_scenarios({"chain": {"slot": "12s", "gas_limit": 30}, "agents": [1, 2]},
    ...                 {"chain": {"slot": "2s"}, "agents": [3]})
    {'chain': {'slot': '2s', 'gas_limit': 30}, 'agents': [3]}
    """
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_scenarios(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read(name_or_path: str, builtins: dict[str, str], relative_to: Path | None = None) -> tuple[dict, str]:
    """Raw data and source label of a built-in (by name) or a scenario file."""
    candidate = Path(name_or_path) if relative_to is None else relative_to / name_or_path
    if name_or_path in builtins and not candidate.exists():
        res = resources.files("defisim.scenario.builtins").joinpath(f"{name_or_path}.toml")
        return tomllib.loads(res.read_text()), f"builtin:{name_or_path}"
    if candidate.suffix.lower() in (".toml", ".yaml", ".yml") or candidate.exists():
        return read_scenario_file(candidate), str(candidate)
    raise ScenarioError(f"no scenario file or built-in named {name_or_path!r} (built-ins: {', '.join(builtins)})")


def _resolve(name_or_path: str, builtins: dict[str, str], relative_to: Path | None = None,
             seen: tuple[str, ...] = ()) -> tuple[dict, str]:
    """Raw data of a scenario with its ``extends`` chain applied (base first)."""
    raw, source = _read(name_or_path, builtins, relative_to)
    base = raw.pop("extends", None) if isinstance(raw, dict) else None
    if base is None:
        return raw, source
    if not isinstance(base, str):
        raise ScenarioError(f"{source}: extends: expected the name of a built-in or a scenario file, got {base!r}")
    if source in seen:
        raise ScenarioError(f"{source}: extends: cycle ({' -> '.join((*seen, source))})")
    here = None if source.startswith("builtin:") else Path(source).parent
    try:
        base_raw, _ = _resolve(base, builtins, here, (*seen, source))
    except ScenarioError as e:
        raise ScenarioError(f"{source}: extends: {e}") from None
    if not isinstance(base_raw, dict):
        raise ScenarioError(f"{source}: extends: {base!r} is not a table of keys")
    return merge_scenarios(base_raw, raw), source


def load_scenario(name_or_path: str | Path | None = None, overrides: Iterable[str] = (), registry: Registry | None = None) -> Scenario:
    """Load a built-in (by name; ``None`` is ``"default"``) or a scenario file, apply overrides, validate.

    A scenario may start from another: ``extends = "eth-crash"`` (a built-in, or a file path
    relative to the extending file) takes that scenario and lays this one over it with
    :func:`merge_scenarios`.
    """
    name_or_path = "default" if name_or_path is None else str(name_or_path)
    raw, source = _resolve(name_or_path, builtin_scenarios())
    return validate_scenario(apply_overrides(raw, overrides), registry, source)
