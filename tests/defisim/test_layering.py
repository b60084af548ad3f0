"""The engine's floors: every import goes down a floor (or stays inside its own package), the module
graph has no cycle, the engine never imports the protocol models, and the protocol models use only
the public names of the floors below the run.

Floors (README, Layout): base 0; chain, markets, graph, results 1 (siblings that don't import each
other); scenario 2; run 3; sweep 4; the command line 5 (and `python -m defisim` above it). ``defisim/__init__.py`` is the public
facade over all of them and is imported by none.
"""
import ast
import importlib
from pathlib import Path

import networkx as nx
import pytest

import defisim

ENGINE = Path(defisim.__file__).parent
PROTOCOLS = ENGINE.parent / "protocols"

FLOORS = {"base": 0, "chain": 1, "markets": 1, "graph": 1, "results": 1, "scenario": 2, "run": 3, "sweep": 4,
          "cli": 5, "__main__": 6}
#: what a protocol model may import: the public names of these floors' packages
PROTOCOL_FLOORS = ("base", "chain", "markets", "graph", "results")


def imports(path: Path, relative_ok: bool = False) -> list[tuple[str, tuple[str, ...]]]:
    """Every absolute import in a file, deferred ones included: ``(module, names imported from it)``;
    a relative import fails the check unless ``relative_ok`` (the protocol packages use them inside themselves)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level and relative_ok:
                continue
            if node.level:
                raise AssertionError(f"{path}: relative import of {node.module!r}; the engine imports by absolute name")
            found.append((node.module, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant):
                found.append((str(node.args[0].value), ()))
    return found


def imported_modules(path: Path) -> set[str]:
    return {m for m, _ in imports(path)}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ENGINE.parent / rel.with_suffix(".py")).exists() or (ENGINE.parent / rel / "__init__.py").exists()


def engine_edges() -> list[tuple[str, str]]:
    """Module → module edges inside ``defisim`` (``from pkg import submodule`` counts as the submodule)."""
    edges = []
    for f in sorted(ENGINE.rglob("*.py")):
        src = module_name(f)
        for mod, names in imports(f):
            if mod != "defisim" and not mod.startswith("defisim."):
                continue
            subs = [f"{mod}.{n}" for n in names if is_module(f"{mod}.{n}")]
            edges += [(src, s) for s in subs]
            if len(subs) < len(names) or not names:
                edges.append((src, mod))
    return edges


def floor_of(module: str) -> tuple[str, int] | None:
    """``(package, floor)`` of a module under ``defisim``; None for the facade ``defisim`` itself."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    return parts[1], FLOORS[parts[1]]


def layering_violations(edges) -> list[str]:
    bad = []
    for src, dst in edges:
        s, d = floor_of(src), floor_of(dst)
        if s is None:  # the facade may import anything
            continue
        if d is None:
            bad.append(f"{src} imports the facade defisim")
        elif s[0] != d[0] and d[1] >= s[1]:
            bad.append(f"{src} (floor {s[1]}, {s[0]}) imports {dst} (floor {d[1]}, {d[0]})")
    return bad


def test_every_engine_package_has_a_floor():
    packages = {p.name for p in ENGINE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in ENGINE.glob("*.py")} - {"__init__"}
    assert packages | modules == set(FLOORS)


def test_imports_go_down_the_floors():
    edges = engine_edges()
    assert len(edges) > 100
    assert layering_violations(edges) == []


def test_the_engine_has_no_import_cycle():
    graph = nx.DiGraph(engine_edges())
    assert list(nx.simple_cycles(graph)) == []


def test_engine_does_not_import_protocols():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 10
    offenders = {
        str(f.relative_to(ENGINE)): sorted(m for m, _ in imports(f, relative_ok=True) if m == "protocols" or m.startswith("protocols."))
        for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_protocols_use_only_public_names_of_the_lower_floors():
    bad = []
    for f in sorted(PROTOCOLS.rglob("*.py")):
        for mod, names in imports(f, relative_ok=True):
            if mod != "defisim" and not mod.startswith("defisim."):
                continue
            where = str(f.relative_to(PROTOCOLS.parent))
            floor = mod.removeprefix("defisim.")
            if floor not in PROTOCOL_FLOORS:
                bad.append(f"{where}: imports {mod}, not a public floor ({', '.join(PROTOCOL_FLOORS)})")
                continue
            public = importlib.import_module(mod).__all__
            bad += [f"{where}: {mod}.{n} is not public" for n in names if n not in public]
    assert bad == []


# ---- the checks themselves see what they must ------------------------------------------------

def test_the_check_sees_an_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom protocols.token import TokenLedger\nimport importlib\nimportlib.import_module('protocols')\n"
                   "def f():\n    from defisim.run.simulation import Simulation\n")
    assert {"protocols.token", "protocols", "defisim.run.simulation"} <= imported_modules(bad)


def test_the_check_refuses_relative_imports(tmp_path):
    bad = tmp_path / "rel.py"
    bad.write_text("from .tx import Revert\n")
    with pytest.raises(AssertionError, match="relative import"):
        imports(bad)


@pytest.mark.parametrize("edge, reason", [
    (("defisim.chain.blockchain", "defisim.scenario.spec"), "floor 1, chain) imports defisim.scenario.spec (floor 2"),
    (("defisim.chain.blockchain", "defisim.markets.feeds"), "floor 1, chain) imports defisim.markets.feeds (floor 1"),
    (("defisim.base.units", "defisim"), "imports the facade"),
])
def test_the_check_sees_a_wrong_direction(edge, reason):
    (violation,) = layering_violations([edge])
    assert reason in violation


def test_the_check_sees_a_cycle():
    graph = nx.DiGraph(engine_edges() + [("defisim.markets.spec", "defisim.markets.feeds")])
    assert list(nx.simple_cycles(graph))
