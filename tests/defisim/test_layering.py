"""The engine never imports the protocol models (DESIGN §1)."""
import ast
from pathlib import Path

import defisim

ENGINE = Path(defisim.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value))
    return names


def test_engine_does_not_import_protocols():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 10
    offenders = {
        str(f.relative_to(ENGINE)): sorted(m for m in imported_modules(f) if m == "protocols" or m.startswith("protocols."))
        for f in files
    }
    assert {f: m for f, m in offenders.items() if m} == {}


def test_the_check_sees_an_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom protocols.token import TokenLedger\nimport importlib\nimportlib.import_module('protocols')\n")
    assert {"protocols.token", "protocols"} <= imported_modules(bad)
