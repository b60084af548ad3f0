"""The scenario format's reference, from its models: the JSON schema of ``defisim schema`` and the
markdown of ``docs/reference.md``.

Both cover the engine spec (:class:`~defisim.scenario.spec.ScenarioSpec`) and every protocol and
agent kind of a registry (:mod:`defisim.base.registry`): in the schema, ``protocols.<name>`` is one
of the protocol kinds' params and ``agents[]`` one of the agent kinds', chosen by ``kind``
(``oneOf`` with a ``discriminator``); in the markdown, one table per model (key, type, default,
unit, description). Units come from :func:`defisim.base.units.field_unit`.

Regenerate the committed reference with ``python -m defisim.scenario.reference > docs/reference.md``.
"""
from __future__ import annotations

import json
import sys
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticUndefined

from defisim.base.distributions import LatencyMs
from defisim.base.registry import Registry, default_registry
from defisim.base.units import duration_string, field_unit, is_duration
from defisim.scenario.spec import AgentSpec, ScenarioSpec

__all__ = ["scenario_schema", "render_reference", "REGENERATE"]

#: The command that rewrites ``docs/reference.md``.
REGENERATE = "python -m defisim.scenario.reference > docs/reference.md"

_LATENCY = LatencyMs.__metadata__[-1].func


def _kind_model(kind: str, params: type[BaseModel], name: str) -> type[BaseModel]:
    """``params`` with its ``kind`` key (schema only: validation goes through the registry)."""
    return create_model(name, __base__=params, __doc__=params.__doc__,
                        kind=(Literal[kind], Field(description="the protocol kind")))


def _agent_model(kind: str, params: type[BaseModel], name: str) -> type[BaseModel]:
    return create_model(name, __base__=AgentSpec, __doc__=AgentSpec.__doc__,
                        kind=(Literal[kind], Field(description="the agent kind")),
                        params=(params, Field({} if _all_optional(params) else ..., description="the agent kind's parameters")))


def _all_optional(model: type[BaseModel]) -> bool:
    return not any(f.is_required() for f in model.model_fields.values())


def _def_name(what: str, kind: str) -> str:
    """``$defs`` name of a kind's model: ``Protocol_lending_aave_v3``."""
    return f"{what}_{kind.replace('.', '_')}"


def _tagged(models: list[type[BaseModel]]):
    if not models:
        return dict[str, Any]
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]


def scenario_schema(registry: Registry | None = None) -> dict:
    """The JSON schema of a scenario file with every registered protocol and agent kind.

    ``protocols`` maps an instance name to one of the protocol kinds' params (``kind`` tells which);
    each ``agents`` item is an agent group whose ``params`` are its kind's. Every property carries
    its ``description`` and, where known, its ``unit``.
    """
    registry = registry or default_registry()
    protocols = [_kind_model(k, e.params, _def_name("Protocol", k)) for k, e in sorted(registry.protocols.items())]
    agents = [_agent_model(k, e.params, _def_name("Agent", k)) for k, e in sorted(registry.agents.items())]
    full = create_model(
        "Scenario", __base__=ScenarioSpec, __doc__=ScenarioSpec.__doc__,
        protocols=(dict[str, _tagged(protocols)], Field({}, description="protocol instances by name; `kind` picks the params")),
        agents=(tuple[_tagged(agents), ...], Field((), description="agent groups; `kind` picks the params")),
    )
    schema = full.model_json_schema()
    _add_units(schema, [full, *protocols, *agents])
    return schema


def _models_below(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    for f in model.model_fields.values():
        for m in _models_in(f.annotation):
            if m.__name__ not in seen:
                seen[m.__name__] = m
                _models_below(m, seen)


def _add_units(schema: dict, roots: list[type[BaseModel]]) -> None:
    """Copy every field's unit into its schema property (``"unit"``), where the name or type states it."""
    models: dict[str, type[BaseModel]] = {m.__name__: m for m in roots}
    for m in roots:
        _models_below(m, models)
    defs = schema.get("$defs", {})
    for key, body in [("", schema), *defs.items()]:
        model = models.get(body.get("title", key)) or models.get(key)
        if model is None:
            continue
        for name, prop in body.get("properties", {}).items():
            field = model.model_fields.get(name)
            u = field_unit(name, field) if field is not None else ""
            if u and "unit" not in prop:
                prop["unit"] = u


# ---------------------------------------------------------------------------------------------
# markdown


def _models_in(annotation) -> list[type[BaseModel]]:
    """The models an annotation mentions, in order."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out = []
    for arg in typing.get_args(annotation):
        for m in _models_in(arg):
            if m not in out:
                out.append(m)
    return out


def _anchor(model: type[BaseModel]) -> str:
    return model.__name__.lower()


def _type(annotation, field=None) -> str:
    if field is not None:
        if any(getattr(m, "func", None) is _LATENCY for m in field.metadata):
            return "duration distribution"
        if is_duration(field):
            return "duration" + (" \\| null" if type(None) in typing.get_args(annotation) else "")
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _type(args[0])
    if origin is Literal:
        return " \\| ".join(f'`"{a}"`' if isinstance(a, str) else f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        models = [a for a in parts if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == len(parts) and len(models) > 1 and all("kind" in m.model_fields for m in models):
            kinds = ", ".join(f"[{m.model_fields['kind'].default}](#{_anchor(m)})" for m in models)
            text = f"one of (by `kind`): {kinds}"
        else:
            text = " \\| ".join(_type(a) for a in parts)
        return text + (" \\| null" if len(parts) < len(args) else "")
    if origin in (tuple, list):
        inner = args[0] if args else Any
        return f"list of {_type(inner)}"
    if origin is dict:
        return f"table of {_type(args[1])}" if args else "table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{_anchor(annotation)})"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _value(v) -> str:
    if isinstance(v, BaseModel):
        v = v.model_dump(mode="json", exclude_none=True)
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else f'"{v}"'


def _default(name: str, field) -> str:
    if field.default_factory is not None:
        return f"`{_value(field.default_factory())}`"
    if field.default is PydanticUndefined:
        return "required"
    if field.default is not None and is_duration(field):
        return f'`"{duration_string(field.default)}"`'
    return f"`{_value(field.default)}`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _doc(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip()
    if not doc or doc.startswith(("Usage docs:", "!!! abstract")):
        return ""
    para = doc.split("\n\n")[0]
    return " ".join(para.split()).replace("``", "`")


_UNIT_SHOWN = {"duration": "`\"12s\"`-style string (integer: ms)"}


def _table(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
    lines = ["| key | type | default | unit | description |", "|---|---|---|---|---|"]
    for name, f in model.model_fields.items():
        if name in skip:
            continue
        u = _UNIT_SHOWN.get(field_unit(name, f), field_unit(name, f))
        lines.append(f"| `{name}` | {_type(f.annotation, f)} | {_default(name, f)} | {u} | "
                     f"{_cell(f.description or '')} |")
    return lines


def _section(title: str, model: type[BaseModel], done: set, out: list[str], level: int = 3,
             skip: tuple[str, ...] = (), intro: str = "") -> None:
    """A heading, the model's table, then the tables of the models it uses (each once)."""
    out += [f"{'#' * level} {title}", ""]
    if intro:
        out += [intro, ""]
    doc = _doc(model)
    if doc:
        out += [doc, ""]
    out += [*_table(model, skip), ""]
    done.add(model)
    for f in (f for n, f in model.model_fields.items() if n not in skip):
        for m in _models_in(f.annotation):
            if m not in done:
                _section(f"`{m.__name__}`", m, done, out, level=min(level + 1, 5))


ENGINE_SECTIONS = ("chain", "network", "mempool", "background", "markets", "exposures", "ecosystem", "sweep")


def render_reference(registry: Registry | None = None, conventions: str | None = None) -> str:
    """``docs/reference.md``: the conventions, then per engine section, protocol kind and agent kind
    a table of key, type, default, unit and description."""
    registry = registry or default_registry()
    out = ["# Scenario reference", "",
           f"Generated from the parameter models by `{REGENERATE}`; do not edit by hand "
           "(a test fails when it is out of date). `defisim schema` prints the same as a JSON schema, "
           "`defisim show NAME` a built-in scenario with every default filled in.", ""]
    out += [(CONVENTIONS if conventions is None else conventions).strip(), ""]
    done: set = set()
    out += ["## Engine sections", ""]
    _section("Top level", ScenarioSpec, {ScenarioSpec}, out, skip=ENGINE_SECTIONS + ("protocols", "agents"),
             intro="`protocols` maps an instance name to a protocol kind's params (below), `agents` is a list of "
                   "agent groups (below).")
    done.add(ScenarioSpec)
    for name in ENGINE_SECTIONS:
        f = ScenarioSpec.model_fields[name]
        model = _models_in(f.annotation)[0]
        _section(f"`[{name}]`: `{model.__name__}`", model, done, out)
    out += ["## Protocol kinds", "", "`[protocols.<name>]` with `kind = \"<kind>\"` and the kind's keys.", ""]
    for kind, entry in sorted(registry.protocols.items()):
        _section(f"`{kind}`", entry.params, done, out, intro=f"Params model: `{entry.params.__name__}`. {entry.doc}".strip())
    out += ["## Agent kinds", "",
            "`[[agents]]` with `kind = \"<kind>\"`, `name` (default: the kind), `count` (default 1) and "
            "`params` with the kind's keys.", ""]
    for kind, entry in sorted(registry.agents.items()):
        _section(f"`{kind}`", entry.params, done, out, intro=f"Params model: `{entry.params.__name__}`. {entry.doc}".strip())
    return "\n".join(out).rstrip() + "\n"


#: The hand-written part of docs/reference.md: units, contract units, rule versions.
CONVENTIONS = """
## Units

One convention per quantity, in the engine, the scenario files and these tables:

| quantity | unit in defisim | how the name or type says it | example |
|---|---|---|---|
| time, durations | integer milliseconds inside; duration strings in files (`"12s"`, `"150ms"`, `"1h30m"`; a bare integer is ms) | type *duration*; `_ms` in Python attributes and result columns | `slot = "12s"`, `heartbeat = "1h"`, `updated_ms` |
| a distribution of durations | milliseconds; its parameters take duration strings | type *duration distribution* | `public_latency = { kind = "lognormal", median = "200ms", sigma = 0.5 }` |
| ratios (LTV, thresholds, bonus, fees, factors, deviations, utilisation) | plain fractions | unit *fraction* | `liquidation_threshold = 0.83`, `deviation = 0.005` |
| annual rates | annual fractions (APR) | unit *annual fraction* | `slope2 = 0.8` is 80% a year |
| USD values and prices | US dollars, float | `_usd`; a price is USD per whole token | `size_usd`, `base_price_usd`, `initial_answer` (unit USD) |
| token amounts | whole tokens, float | unit *tokens* (`_wei` only for raw integers) | `seed_supply = { USDC = 50_000_000 }` |
| gas | gas units; fee rates in gwei per gas | `gas_limit`; `_gwei` | `gas_limit = 450_000`, `max_fee_ceiling_gwei = 100` |
| block counts | blocks | `_blocks`, `blocks` | `rebid_after_blocks = 2` |

## Contract units

Where the real contracts (and the exact-integer twins of `protocols/lending/aave_v3/exact.py`,
`exact_pool.py`, `replay.py`, which take the contracts' units) differ from the units above:

| quantity | defisim params (float) | contract / exact twin (integer) | conversion |
|---|---|---|---|
| LTV, liquidation threshold, reserve factor, protocol liquidation fee | fraction: `ltv = 0.805` | bps (`PercentageMath`, 1e4 = 100%): `ltv = 8050` | `bps = round(fraction × 10_000)` |
| liquidation bonus | bonus on top of the repaid value: `liquidation_bonus = 0.05` | `10_000 + bonus` in bps: `liquidation_bonus = 10500` | `bps = 10_000 + round(bonus × 10_000)` |
| e-mode LTV / LT / bonus | fractions as above | bps as above (`EModeCategory`) | as above |
| interest-rate strategy (base rate, slopes, optimal usage) | annual fractions: `slope1 = 0.027`, `optimal_utilization = 0.9` | bps in `ReserveConfig` (`slope1 = 270`, `optimal_usage = 9000`); the v3.0 `DefaultReserveInterestRateStrategy` takes rays (`bps × 10**23`), v3.6's `…StrategyV2` bps; the reserve's current rates are rays | `bps = round(fraction × 10_000)`; `ray = fraction × 1e27` |
| liquidity and borrow indices, rates | float64 factors | ray (1e27, `WadRayMath`) | `ray = factor × 1e27` |
| health factor | float: 1.0 | wad (1e18; `2**256 − 1` without debt) | `wad = hf × 1e18` |
| prices | USD per whole token, float | USD × 1e8 (`AaveOracle`, Chainlink 8 decimals) | `price × 10**8` |
| token amounts | whole tokens, float | raw units (`amount × 10**decimals`) | `tokens × 10**decimals` |
| time | milliseconds (SimPy clock), duration strings in files | seconds (`block.timestamp`; `ExactPool.advance(seconds)`; the index accrual's `SECONDS_PER_YEAR = 31_536_000`) | `s = ms / 1000` |
| Chainlink deviation threshold | fraction: `deviation = 0.005` | percent in the feed's docs (0.5%) | `percent = fraction × 100` |

## Aave rule versions

`lending.aave_v3` takes `rules = "v3.3"` (the default), `"v3.0"` or `"v2"`; the exact-integer `ExactPool`
and the replays take `"v3.0"` or `"v3.6"`. The names stand for these contract versions:

| rule name | where | contract versions followed | checked against (docs/fidelity.md) | what it means |
|---|---|---|---|---|
| `v2` | `lending.aave_v3` `rules` | Aave v2 (`aave/protocol-v2` `LendingPoolCollateralManager.liquidationCall`, `MathUtils.calculateCompoundedInterest`) | not replayed: hand-computed tests only | close factor 50% of the reserve's debt at any HF below 1 (`LIQUIDATION_CLOSE_FACTOR_PERCENT = 5000`); no protocol fee, the whole bonus goes to the liquidator (each reserve's `protocol_liquidation_fee` must be 0); no dust rule; residual debt stays on the account; self-liquidation allowed; the borrow index compounds by v3.0's binomial series with its per-second powers rounded half up instead of down; the pool's e-mode and caps, which v2 lacks, stay available |
| `v3.0` | `lending.aave_v3` `rules`, `ExactPool`, `EnginePool` | Aave v3.0 … v3.2 (`aave/aave-v3-core` `LiquidationLogic.sol`, the 2022–2024 mainnet logic) | npm `@aave/core-v3@1.19.3` | close factor 50% of the reserve's debt while HF > 0.95, 100% at or below; no dust rule; residual debt stays on the account; debt balances round half up |
| `v3.3` | `lending.aave_v3` `rules` (default) | Aave v3.3 … v3.7 (`aave-dao/aave-v3-origin` `LiquidationLogic.sol`, current mainnet) | through `EnginePool("v3.6")`, against v3.6 | 100% close factor unless collateral and debt reserves are each worth ≥ $2,000 and HF > 0.95 (then 50% of the total debt); both leftovers ≥ $1,000 or `MUST_NOT_LEAVE_DUST`; a borrower left without collateral has the rest of its debt written off as a reserve deficit; no self-liquidation; the contracts' integer rounding is not modelled |
| `v3.6` | `ExactPool`, `EnginePool`, replays | Aave v3.6 (`@aave-dao/aave-v3-origin@3.6.0`) | the same package, compiled with `solc@0.8.27` | the `v3.3` liquidation rules with the contracts' integer rounding (v3.5 rounding: debt balances round up) |

`EnginePool(version)` runs the engine's pool with `rules = {"v3.0": "v3.0", "v3.6": "v3.3"}[version]`
(`protocols.lending.aave_v3.driver.RULES_FOR_VERSION`).
"""


def main(argv: list[str] | None = None) -> int:
    sys.stdout.write(render_reference())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
