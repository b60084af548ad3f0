"""Checks of a whole scenario after each part has validated on its own.

One pass walks the engine spec and every protocol's and agent's params model beside the raw
data they were read from and reports, as ``<dotted path>: <reason>``:

- a boolean given where a number is expected (pydantic would read ``true`` as 1);
- a number that is not finite, or larger than is plausible for the unit in its name
  (:data:`defisim.base.checks.UNIT_LIMITS`), an integer beyond 64 bits;
- a string longer than :data:`MAX_STRING`;
- a name of a venue, feed or protocol (a :class:`~defisim.base.checks.Ref` annotation) that the
  scenario does not have, or a protocol of the wrong kind; a gas-pricing venue that does not
  quote the chain's native asset, or no price of it at all;
- a transaction gas limit above the block gas limit (it could never be included).

Then each protocol and agent kind's own ``check`` (registered with the kind) sees the whole
scenario: an oracle that prices another asset than the reserve it is given for, and so on.
"""
from __future__ import annotations

import math
import types
from typing import Annotated, Any, Iterator, Union, get_args, get_origin

from pydantic import BaseModel

from defisim.base.checks import Ref, unit_limit

__all__ = ["MAX_STRING", "MAX_NAME", "MAX_DEPTH", "value_problems", "boolean_problems", "raw_depth_problem", "notes"]

#: Longest string of a scenario (characters): descriptions, names, paths.
MAX_STRING = 10_000
#: Longest scenario ``name`` (it titles figures and progress lines).
MAX_NAME = 200
#: Deepest nesting of tables and lists in a scenario file.
MAX_DEPTH = 32
#: Largest integer of a scenario: the widest numpy integer (uint64; seeds are 64-bit).
MAX_INT = 2**64 - 1

_MISSING = object()


def raw_depth_problem(raw: Any, limit: int = MAX_DEPTH) -> str | None:
    """``"<path>: ..."`` when tables and lists in ``raw`` nest deeper than ``limit`` (iterative:
    a hostile file must not exhaust the interpreter's stack), else ``None``."""
    stack = [(raw, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > limit:
            where = ".".join(str(p) for p in path[:4])
            return f"{where}...: tables and lists nest deeper than {limit} levels"
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in enumerate(node))
    return None


def _strip(annotation) -> tuple[Any, list]:
    """The annotation without ``Annotated`` and ``Optional`` wrappers, and their metadata."""
    meta: list = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *m = get_args(annotation)
            meta.extend(m)
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation, meta
            annotation = args[0]
        else:
            return annotation, meta


def _item_annotation(annotation, i: int):
    bare, _ = _strip(annotation)
    args = get_args(bare)
    if get_origin(bare) in (tuple, list) and args:
        return args[0] if len(args) == 2 and args[1] is Ellipsis or get_origin(bare) is list else args[min(i, len(args) - 1)]
    return Any


def _value_annotation(annotation):
    bare, _ = _strip(annotation)
    args = get_args(bare)
    return args[1] if get_origin(bare) is dict and len(args) == 2 else Any


class _Walk:
    """The walk over one model tree (see the module docstring)."""

    def __init__(self, scenario, registry=None):
        spec = scenario.spec
        self.registry = registry
        self.params = {n: p for n, (_, p) in scenario.protocols.items()}
        self.venues = {n: v.asset for n, v in spec.markets.venues.items()}
        self.feeds = set(spec.markets.feeds)
        self.protocols = {n: k for n, (k, _) in scenario.protocols.items()}
        self.native = spec.chain.native_asset
        self.block_gas = spec.chain.gas_limit

    def model(self, obj: BaseModel, raw, path: tuple, unit_name: str = "") -> Iterator[str]:
        """``unit_name``: the nearest enclosing field naming a unit (``tip_gwei`` for its ``median``)."""
        raw = raw if isinstance(raw, dict) else {}
        for name, info in type(obj).model_fields.items():
            if info.exclude:
                continue
            annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            unit = name if unit_limit(name)[1] else unit_name
            yield from self.value(getattr(obj, name), raw.get(name, _MISSING), annotation, (*path, name), unit)

    def value(self, value, raw, annotation, path: tuple, unit_name: str) -> Iterator[str]:
        bare, meta = _strip(annotation)
        refs = [m for m in meta if isinstance(m, Ref)]
        if isinstance(value, BaseModel):
            yield from self.model(value, raw, path, unit_name)
        elif isinstance(value, (tuple, list)):
            raws = raw if isinstance(raw, list) and len(raw) == len(value) else [_MISSING] * len(value)
            for i, (v, r) in enumerate(zip(value, raws)):
                yield from self.value(v, r, _item_annotation(bare, i), (*path, i), unit_name)
        elif isinstance(value, dict):
            raws = raw if isinstance(raw, dict) else {}
            for k, v in value.items():
                if isinstance(k, str) and len(k) > MAX_STRING:
                    yield f"{_dotted(path)}: a key of {len(k):,} characters (at most {MAX_STRING:,})"
                yield from self.value(v, raws.get(k, _MISSING), _value_annotation(bare), (*path, k), unit_name)
        else:
            problem = self.scalar(value, raw, path, unit_name)
            if problem is None:
                for ref in refs:
                    problem = self.reference(ref, value, path)
                    if problem:
                        break
            if problem is not None:
                yield f"{_dotted(path)}: {problem}"

    def scalar(self, value, raw, path: tuple, unit_name: str) -> str | None:
        if isinstance(raw, bool) and not isinstance(value, bool):
            return f"expected a number, got the boolean {str(raw).lower()}"
        if isinstance(value, float):
            if not math.isfinite(value):
                return f"must be a finite number, got {value}"
            limit, unit = unit_limit(unit_name)
            if abs(value) > limit:
                unit_text = f"a quantity in {unit[1:]}" if unit else "a number of a scenario"
                return f"{value:.6g} is beyond any plausible value of {unit_text} (|x| ≤ {limit:g})"
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > MAX_INT:
                return f"{value:.6g} is too large (at most 2**64 - 1)"
            if path[-1] == "gas_limit" and path[0] in ("agents", "protocols") and value > self.block_gas:
                return (f"{value:,} gas is above the block gas limit chain.gas_limit ({self.block_gas:,}): "
                        "the transaction could never be included")
        elif isinstance(value, str) and len(value) > MAX_STRING:
            return f"a string of {len(value):,} characters (at most {MAX_STRING:,})"
        return None

    def reference(self, ref: Ref, value, path: tuple) -> str | None:
        if ref.what == "gas_venue":
            return self.gas_venue(value)
        if value is None:
            return None
        if ref.what == "venue":
            if value not in self.venues:
                return f"no venue {value!r} in markets.venues (have: {_names(self.venues)})"
        elif ref.what == "feed":
            if value not in self.feeds:
                return f"no feed {value!r} in markets.feeds (have: {_names(self.feeds)})"
        elif ref.what == "protocol":
            role = ref.role or "protocol"
            fitting = [n for n in self.protocols if self.fits(ref, n)]
            if value not in self.protocols:
                return f"no {role} {value!r} in protocols (have: {_names(fitting)})"
            if not self.fits(ref, value):
                wanted = f"filling the {ref.fills} role" if ref.fills else " or ".join(ref.kinds)
                return (f"{value!r} is a {self.protocols[value]}, not a {role} ({wanted}; "
                        f"{role}s here: {_names(fitting)})")
        return None

    def fits(self, ref: Ref, name: str) -> bool:
        """Whether the protocol ``name`` is of a kind ``ref`` accepts, or stands in for one: a kind
        registered with the same params model (a benchmark's naive twin of a pool)."""
        entry = self.registry.protocols.get(self.protocols[name]) if self.registry is not None else None
        if ref.accepts(self.protocols[name], entry.factory if entry else None):
            return True
        if self.registry is None:
            return False
        models = {e.params for k, e in self.registry.protocols.items() if ref.accepts(k, e.factory)}
        return type(self.params[name]) in models

    def gas_venue(self, value) -> str | None:
        """Gas is paid in the chain's native asset: priced by a venue quoting it, else its feed."""
        if value is None:
            if self.native not in self.feeds:
                return (f"gas is paid in {self.native} (chain.native_asset) but the scenario has no {self.native} price: "
                        f"add markets.feeds.{self.native} or set gas_venue to a venue quoting {self.native}")
            return None
        if value not in self.venues:
            return f"no venue {value!r} in markets.venues (have: {_names(self.venues)})"
        if self.venues[value] != self.native:
            return (f"venue {value!r} quotes {self.venues[value]}, but gas is paid in {self.native} "
                    f"(chain.native_asset): name a venue quoting {self.native}, or leave gas_venue out "
                    f"to use the {self.native} feed")
        return None


def _numeric(annotation) -> bool:
    """Whether ``annotation`` accepts numbers but not booleans (``int``, ``float``, optional or in a union)."""
    bare, _ = _strip(annotation)
    if get_origin(bare) in (Union, types.UnionType):
        args = [_strip(a)[0] for a in get_args(bare) if a is not type(None)]
        return bool not in args and any(a in (int, float) for a in args)
    return bare in (int, float)


def _model_for(annotation, raw) -> type[BaseModel] | None:
    """The params model ``raw`` (a dict) is validated by under ``annotation``: the model itself,
    or the member of a union of models whose ``kind`` default is ``raw["kind"]``."""
    bare, _ = _strip(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return bare
    if get_origin(bare) in (Union, types.UnionType):
        models = [m for m in (_strip(a)[0] for a in get_args(bare)) if isinstance(m, type) and issubclass(m, BaseModel)]
        for m in models:
            kind = m.model_fields.get("kind")
            if kind is not None and kind.default == raw.get("kind"):
                return m
        if len(models) == 1:
            return models[0]
    return None


def boolean_problems(model: type[BaseModel], raw, path: tuple = ()) -> Iterator[str]:
    """``"<path>: ..."`` for each boolean in ``raw`` where ``model`` expects a number.

    Runs on the raw data before validation: pydantic reads ``true`` as 1 in a number field,
    and a cross-field rule of the model would then report the 1 instead of the boolean.
    """
    if not isinstance(raw, dict):
        return
    for name, info in model.model_fields.items():
        if name not in raw:
            continue
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        yield from _booleans(annotation, raw[name], (*path, name))


def _booleans(annotation, raw, path: tuple) -> Iterator[str]:
    if isinstance(raw, bool):
        if _numeric(annotation):
            yield f"{_dotted(path)}: expected a number, got the boolean {str(raw).lower()}"
        return
    bare, _ = _strip(annotation)
    if isinstance(raw, dict):
        sub = _model_for(bare, raw)
        if sub is not None:
            yield from boolean_problems(sub, raw, path)
        elif get_origin(bare) is dict:
            for k, v in raw.items():
                yield from _booleans(_value_annotation(bare), v, (*path, k))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            yield from _booleans(_item_annotation(bare, i), v, (*path, i))


def _names(names) -> str:
    names = sorted(names)
    return ", ".join(names) if names else "none"


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def value_problems(scenario, raw: dict, registry=None) -> Iterator[str]:
    """Every problem of the walk (see the module docstring), in the order of the file; with the
    ``registry``, a protocol kind taking the same params model as an expected kind is accepted."""
    walk = _Walk(scenario, registry)
    yield from walk.model(scenario.spec, raw, ())
    raw_protocols = raw.get("protocols") if isinstance(raw.get("protocols"), dict) else {}
    for name, (_kind, params) in scenario.protocols.items():
        yield from walk.model(params, raw_protocols.get(name), ("protocols", name))
    raw_agents = raw.get("agents") if isinstance(raw.get("agents"), list) else []
    for i, params in enumerate(scenario.agents):
        raw_agent = raw_agents[i] if i < len(raw_agents) and isinstance(raw_agents[i], dict) else {}
        yield from walk.model(params, raw_agent.get("params"), ("agents", i, "params"))


def notes(scenario) -> list[str]:
    """Things a user may not mean that are no error: a run with nothing in it (no protocols, agents
    or background demand: empty blocks), scripted moves that start after the run ends."""
    from defisim.base.units import format_duration_ms

    spec = scenario.spec
    end_ms = spec.blocks * spec.chain.slot
    out = []
    if not spec.protocols and not spec.agents and spec.background.rate_tx_per_block == 0:
        out.append("nothing to simulate: no protocols, no agents and no background demand "
                   "(background.rate_tx_per_block = 0): every block will be empty")
    for asset, feed in spec.markets.feeds.items():
        for i, move in enumerate(getattr(feed, "moves", ())):
            start = move.window_ms[0]
            if start >= end_ms:
                out.append(f"markets.feeds.{asset}.moves.{i} starts at {format_duration_ms(start)}, after the run ends "
                           f"({spec.blocks} blocks × {spec.chain.slot / 1000:g} s = {format_duration_ms(end_ms)}): it has no effect")
    return out
