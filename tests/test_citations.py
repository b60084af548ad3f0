"""The repo cites public sources only: no section of a house note a reader does not have (the mechanics,
contagion, crisis-inputs and performance notes, the design plan and the style guide)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("defisim", "protocols", "docs", "README.md", "benchmarks")
PRIVATE = re.compile(
    r"mechanics(\.md)?,? ?§|\bmechanics\.md\b|contagion\.md|crisis-inputs\.md|perf-notes\.md|evm-oracle\.md"
    r"|\bDESIGN(\.md)? ?§|\bDESIGN\.md\b|\bSTYLE \d"
)
#: a section sign is fine after a paper or an EIP that has the section ("Eisenberg & Noe §3")
PAPER_SECTION = re.compile(r"(et al\.|Noe|Veraart|\(\d{4}\)|EIP-\d+)\s*§")


def scanned_files():
    for name in SCANNED:
        path = ROOT / name
        for f in [path] if path.is_file() else sorted(path.rglob("*")):
            if f.is_file() and f.suffix in (".py", ".md", ".toml", ".yaml", ".yml") and "__pycache__" not in f.parts:
                yield f


def test_no_citation_of_a_private_note():
    found = []
    for f in scanned_files():
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            bare = "§" in PAPER_SECTION.sub("", line)
            if PRIVATE.search(line) or bare:
                found.append(f"{f.relative_to(ROOT)}:{i}: {line.strip()[:120]}")
    assert not found, "cite the public source (contract and function, paper, docs, EIP) instead:\n" + "\n".join(found)


def test_the_check_catches_each_form(tmp_path):
    for text in ("see mechanics §1.3", "(mechanics.md §6.1)", "contagion.md §3", "DESIGN §8", "(STYLE 9)",
                 "crisis-inputs.md", "perf-notes.md", "as in §7.2"):
        assert PRIVATE.search(text) or "§" in PAPER_SECTION.sub("", text), text
    assert "§" not in PAPER_SECTION.sub("", "Eisenberg & Noe §3; Rogers & Veraart (2013) §3")
