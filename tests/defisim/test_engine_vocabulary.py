"""The engine knows no protocol by name: none of the tables, columns or call methods the protocol models
declare appears in ``defisim/``; the engine reads them through the result roles it defines."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import defisim
import protocols
from defisim.base.eventlog import Column
from defisim.base.protocol import Protocol
from defisim.base.roles import ROLES
from defisim.results.crisis import END_TABLE

ENGINE = Path(defisim.__file__).parent
PROTOCOLS = Path(protocols.__file__).parent

#: The engine's own words that protocols happen to use too, with what they mean in the engine.
ENGINE_WORDS = {
    "withdraw": "venue_events.kind: market makers withdrawing depth from a venue",
    "token": "a kind of node of the exposure graph",
    "pool": "the timeline's kind of an on-chain spot price that is not an oracle's",
    "size": "pandas' aggregation that counts rows",
}
#: Role names and fields: the engine's vocabulary, which protocols fill.
ROLE_WORDS = set(ROLES) | {f.name for r in ROLES.values() for f in r.fields}


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def protocol_names() -> dict[str, set[str]]:
    """Table names, column names and handler methods declared under ``protocols/``."""
    for module in pkgutil.walk_packages(protocols.__path__, "protocols."):
        importlib.import_module(module.name)
    methods = {m for c in _subclasses(Protocol) if c.__module__.startswith("protocols.") for m in c.handlers}
    tables, columns = set(), set()
    for f in PROTOCOLS.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            if getattr(node.func, "attr", "") == "declare":
                tables.add(node.args[0].value)
            elif getattr(node.func, "id", "") == Column.__name__:
                columns.add(node.args[0].value)
    return {"tables": tables, "columns": columns, "methods": methods}


def engine_columns() -> set[str]:
    """Column names the engine declares itself (its own tables share words such as ``block``)."""
    names = set()
    for f in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == Column.__name__ and node.args
                    and isinstance(node.args[0], ast.Constant)):
                names.add(node.args[0].value)
    return names


def string_constants(path: Path) -> set[str]:
    """Every string literal of a module's code (docstrings excluded: prose may name a protocol)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings}


def table_lookups(path: Path) -> set[str]:
    """Constant names looked up in a mapping: ``x["name"]`` (read, not assigned), ``x.get("name")``,
    ``"name" in x``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant):
            found.add(node.slice.value)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get" and node.args
              and isinstance(node.args[0], ast.Constant)):
            found.add(node.args[0].value)
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant)
              and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops)):
            found.add(node.left.value)
    return {v for v in found if isinstance(v, str)}


@pytest.fixture(scope="module")
def names():
    return protocol_names()


def test_the_protocols_declare_what_the_check_looks_for(names):
    # the names the engine read by name before it read roles: the check must know them
    assert {"liquidations", "health_factors", "perp_liquidations", "unified_liquidations", "pool_perp_events",
            "oracle_updates"} <= names["tables"]
    assert {"liquidation_call", "transmit", "swap"} <= names["methods"]
    assert {"deficit_usd", "user", "pool", "borrowers", "debt_below_1_usd"} <= names["columns"]


def test_no_protocol_table_column_or_method_name_in_the_engine(names):
    own_columns = engine_columns()
    forbidden = (names["tables"] | names["methods"] | (names["columns"] - own_columns)) - ROLE_WORDS - set(ENGINE_WORDS)
    hits = {}
    for f in sorted(ENGINE.rglob("*.py")):
        found = string_constants(f) & forbidden
        if found:
            hits[str(f.relative_to(ENGINE))] = sorted(found)
    assert hits == {}


def test_no_protocol_table_is_looked_up_by_name_in_the_engine(names):
    # role names are the engine's words, but a protocol's table of the same name is still not read by name
    engine_tables = {"blocks", "txs", "missed_slots", "bundles", "prices", "venue_events", "venue_trades",
                     "exposures", "exposure_nodes", "contagion_losses", END_TABLE}
    hits = {}
    for f in sorted(ENGINE.rglob("*.py")):
        found = table_lookups(f) & (names["tables"] - engine_tables)
        if found:
            hits[str(f.relative_to(ENGINE))] = sorted(found)
    assert hits == {}


def test_the_checks_see_a_name(tmp_path, names):
    bad = tmp_path / "bad.py"
    bad.write_text('"""liquidations are fine in prose."""\n'
                   'def f(tables):\n    return tables.get("health_factors"), tables["liquidations"], "deficit_usd"\n')
    assert {"health_factors", "deficit_usd"} <= string_constants(bad) and "liquidations are fine in prose." not in \
        string_constants(bad)
    assert {"health_factors", "liquidations"} <= table_lookups(bad)
