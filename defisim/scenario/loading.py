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
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from defisim.base.checks import check_fits_in_memory
from defisim.base.registry import Registry, default_registry
from defisim.scenario.checks import boolean_problems, raw_depth_problem, value_problems
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


#: A validator's message that starts with the field it is about: ``"population.count: ..."``.
_FIELD_FIRST = re.compile(r"^([A-Za-z_]\w*(?:(?:\.\w+)|(?:\[\d+\]))*): (.+)$", re.DOTALL)
#: Tags of tagged unions that pydantic puts in the location (not keys of the file).
_UNION_TAGS = {"fixed", "uniform", "lognormal", "exponential", "function-after[resolve_file(), str]"}


def _one_line(err: ValidationError, prefix: tuple = ()) -> str:
    """The errors of ``err`` as ``<dotted path>: <reason>``, joined by ``; `` on one line."""
    msgs = []
    for e in err.errors():
        loc = [p for p in (*prefix, *e["loc"]) if p not in _UNION_TAGS]
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "int_parsing_size":
            msg = f"{e.get('input')!r} is too large for an integer"
        m = _FIELD_FIRST.match(msg) if loc[:1] != ["sweep"] else None  # a sweep's messages start with swept paths
        if m and e["type"] == "value_error":
            loc += re.sub(r"\[(\d+)\]", r".\1", m.group(1)).split(".")
            msg = m.group(2)
        msgs.append(f"{_loc(loc) or '<scenario>'}: {' '.join(msg.split())}")
    return "; ".join(msgs)


#: Memory a run holds per agent (its context, process and three random streams), bytes.
AGENT_BYTES = 16_000
#: Memory a run holds per simulated block (block, price and state rows), bytes.
BLOCK_BYTES = 4_000


def validate_scenario(raw: dict, registry: Registry | None = None, source: str = "<dict>",
                      search_dirs: Sequence[str | Path] = ()) -> Scenario:
    """Validate plain data into a :class:`Scenario` (raises :class:`ScenarioError`).

    ``search_dirs`` are where relative file paths of the scenario are looked up, in order
    (:data:`defisim.base.checks.FilePath`); :func:`load_scenario` gives the scenario file's
    directory and those of the files it extends.
    """
    registry = registry or default_registry()
    if not isinstance(raw, dict):
        raise ScenarioError(f"{source}: a scenario must be a table of keys, got {type(raw).__name__}")
    deep = raw_depth_problem(raw)
    if deep:
        raise ScenarioError(deep)
    context = {"search_dirs": [str(d) for d in search_dirs]}
    _first(boolean_problems(ScenarioSpec, raw))
    try:
        spec = ScenarioSpec.model_validate(raw, context=context)
    except ValidationError as e:
        raise ScenarioError(_one_line(e)) from None
    protocols: dict[str, tuple[str, BaseModel]] = {}
    for name, body in spec.protocols.items():
        body = dict(body)
        kind = body.pop("kind", None)
        if kind is None:
            raise ScenarioError(f"protocols.{name}.kind: missing (one of {', '.join(sorted(registry.protocols))})")
        entry = registry.protocols.get(kind) if isinstance(kind, str) else None
        if entry is None:
            raise ScenarioError(f"protocols.{name}.kind: unknown protocol kind {kind!r} (known: {', '.join(sorted(registry.protocols))})")
        _first(boolean_problems(entry.params, body, ("protocols", name)))
        try:
            protocols[name] = (kind, entry.params.model_validate(body, context=context))
        except ValidationError as e:
            raise ScenarioError(_one_line(e, ("protocols", name))) from None
    agents = []
    for i, a in enumerate(spec.agents):
        entry = registry.agents.get(a.kind)
        if entry is None:
            raise ScenarioError(f"agents.{i}.kind: unknown agent kind {a.kind!r} (known: {', '.join(sorted(registry.agents))})")
        _first(boolean_problems(entry.params, a.params, ("agents", i, "params")))
        try:
            params = entry.params.model_validate(a.params, context=context)
        except ValidationError as e:
            raise ScenarioError(_one_line(e, ("agents", i, "params"))) from None
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
    scenario = Scenario(spec, protocols, tuple(agents), source)
    _check_whole(scenario, raw, registry)
    return scenario


def _first(problems) -> None:
    for problem in problems:
        raise ScenarioError(problem)


def _check_whole(scenario: Scenario, raw: dict, registry: Registry) -> None:
    """The checks that need the whole validated scenario (:mod:`defisim.scenario.checks`), then
    each kind's own ``check``, then the sizes; the first problem is raised."""
    _first(value_problems(scenario, raw, registry))
    spec = scenario.spec
    for i, params in enumerate(scenario.agents):  # kinds whose params do not annotate their references
        for field in ("protocol", "token"):
            target = getattr(params, field, None)
            if isinstance(target, str) and target not in spec.protocols:
                raise ScenarioError(f"agents.{i}.params.{field}: no protocol named {target!r} in this scenario")
    try:
        for name, (kind, params) in scenario.protocols.items():
            check = registry.protocols[kind].check
            if check is not None:
                check(name, params, scenario)
        for i, (group, params) in enumerate(zip(spec.agents, scenario.agents)):
            check = registry.agents[group.kind].check
            if check is not None:
                check(i, params, scenario)
    except ValueError as e:
        raise ScenarioError(str(e)) from None
    sizes = [(f"agents.{i}.count", a.count, AGENT_BYTES, "agents") for i, a in enumerate(spec.agents)]
    sizes += [("agents", sum(a.count for a in spec.agents), AGENT_BYTES, "agents"),
              ("blocks", spec.blocks, BLOCK_BYTES, "blocks")]
    for path, count, each, what in sizes:
        try:
            check_fits_in_memory(count, each, what)
        except ValueError as e:
            raise ScenarioError(f"{path}: {e}") from None


#: A number in exponent notation that YAML 1.1 reads as a string (``1e30``, ``2.5E-3``).
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _parse_value(text: str) -> Any:
    try:
        value = yaml.load(text, Loader=_UniqueKeyLoader) if text.strip() else ""
    except (yaml.YAMLError, RecursionError):
        return text
    if isinstance(value, str) and _EXPONENT.match(value.strip()):
        return float(value)
    return value


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


#: Largest scenario file read (bytes): a scenario is a page of parameters, not a data set
#: (price paths and borrower books are CSV files it names).
MAX_FILE_BYTES = 4 * 2**20


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (as TOML does)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first_line: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    seen = key in first_line
                except TypeError:
                    continue  # an unhashable key: the base constructor reports it
                if seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} given twice (first at line {first_line[key]})", key_node.start_mark)
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _parse_text(text: str, p: Path) -> Any:
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return yaml.load(text, Loader=_UniqueKeyLoader)
    if suffix == ".toml":
        return tomllib.loads(text)
    raise ScenarioError(f"{p}: unknown scenario format {p.suffix!r} (use .toml, .yaml or .yml)")


def read_scenario_file(path: str | Path) -> dict:
    """Raw data of a TOML (``.toml``) or YAML (``.yaml``/``.yml``) scenario file.

    Refused with one line naming the file: a missing, empty, oversized (over
    :data:`MAX_FILE_BYTES`) or non-UTF-8 file, malformed TOML or YAML, a YAML key given twice in
    one mapping, nesting deeper than :data:`~defisim.scenario.checks.MAX_DEPTH`, a top level that
    is not a table of keys.
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"scenario file not found: {p}")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ScenarioError(f"{p}: {size:,} bytes is too large for a scenario file (at most {MAX_FILE_BYTES:,})")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"{p}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    if not text.strip() or all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise ScenarioError(f"{p}: the file is empty (a scenario needs at least a name or an extends)")
    try:
        data = _parse_text(text, p)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{p}: malformed TOML: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(f"{p}: malformed YAML{where}: {what}") from None
    except RecursionError:
        raise ScenarioError(f"{p}: tables and lists nest too deeply to read") from None
    if data is None:
        raise ScenarioError(f"{p}: the file is empty (a scenario needs at least a name or an extends)")
    if not isinstance(data, dict):
        raise ScenarioError(f"{p}: a scenario must be a table of keys, got {type(data).__name__}")
    deep = raw_depth_problem(data)
    if deep:
        raise ScenarioError(f"{p}: {deep}")
    return data


#: A table holding ``_replace = true`` replaces the base's table instead of merging into it.
REPLACE_KEY = "_replace"


def merge_scenarios(base: dict, changes: dict) -> dict:
    """``changes`` laid over ``base`` (a new dict): tables merge key by key, any other value
    (numbers, strings, lists such as ``agents``) replaces the base's.

    A table replaces the base's whole, without merging, when the two name different ``kind``s
    (a feed switched from ``scripted`` to ``csv`` keeps none of the scripted keys) or when it
    holds ``_replace = true`` (the marker is dropped).

    >>> merge_scenarios({"chain": {"slot": "12s", "gas_limit": 30}, "agents": [1, 2]},
    ...                 {"chain": {"slot": "2s"}, "agents": [3]})
    {'chain': {'slot': '2s', 'gas_limit': 30}, 'agents': [3]}
    >>> merge_scenarios({"feed": {"kind": "gbm", "volatility_annual": 0.8}}, {"feed": {"kind": "csv", "path": "p.csv"}})
    {'feed': {'kind': 'csv', 'path': 'p.csv'}}
    >>> merge_scenarios({"chain": {"slot": "12s", "gas_limit": 30}}, {"chain": {"_replace": True, "slot": "2s"}})
    {'chain': {'slot': '2s'}}
    """
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict):
            replace = value.get(REPLACE_KEY, False)
            if not isinstance(replace, bool):
                raise ScenarioError(f"{key}.{REPLACE_KEY}: expected true or false, got {replace!r}")
            value = {k: v for k, v in value.items() if k != REPLACE_KEY}
            old = out.get(key)
            if isinstance(old, dict) and not replace and ("kind" not in value or value.get("kind") == old.get("kind")):
                out[key] = merge_scenarios(old, value)
                continue
            out[key] = _strip_markers(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _strip_markers(value):
    if isinstance(value, dict):
        return {k: _strip_markers(v) for k, v in value.items() if k != REPLACE_KEY}
    if isinstance(value, list):
        return [_strip_markers(v) for v in value]
    return copy.deepcopy(value)


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
             seen: tuple[str, ...] = ()) -> tuple[dict, str, list[Path]]:
    """Raw data of a scenario with its ``extends`` chain applied (base first), its source, and
    the directories of the files of the chain (this one first)."""
    raw, source = _read(name_or_path, builtins, relative_to)
    here = None if source.startswith("builtin:") else Path(source).resolve().parent
    dirs = [] if here is None else [here]
    base = raw.pop("extends", None) if isinstance(raw, dict) else None
    if base is None:
        return _strip_markers(raw), source, dirs
    if not isinstance(base, str):
        raise ScenarioError(f"{source}: extends: expected the name of a built-in or a scenario file, got {base!r}")
    if source in seen:
        raise ScenarioError(f"{source}: extends: cycle ({' -> '.join((*seen, source))})")
    try:
        base_raw, _, base_dirs = _resolve(base, builtins, here, (*seen, source))
    except ScenarioError as e:
        raise ScenarioError(f"{source}: extends: {e}") from None
    if not isinstance(base_raw, dict):
        raise ScenarioError(f"{source}: extends: {base!r} is not a table of keys")
    return merge_scenarios(base_raw, raw), source, dirs + [d for d in base_dirs if d not in dirs]


def load_scenario(name_or_path: str | Path | None = None, overrides: Iterable[str] = (), registry: Registry | None = None) -> Scenario:
    """Load a built-in (by name; ``None`` is ``"default"``) or a scenario file, apply overrides, validate.

    A scenario may start from another: ``extends = "eth-crash"`` (a built-in, or a file path
    relative to the extending file) takes that scenario and lays this one over it with
    :func:`merge_scenarios`. Relative file paths inside the scenario (CSV price paths, borrower
    books) are looked up beside the scenario file, then beside each file it extends; never in
    the working directory.
    """
    name_or_path = "default" if name_or_path is None else str(name_or_path)
    raw, source, dirs = _resolve(name_or_path, builtin_scenarios())
    return validate_scenario(apply_overrides(raw, overrides), registry, source, dirs)
