"""docs/results.md documents every table, column, summary key and meta.json key of a run."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from defisim.scenario.loading import load_scenario
from defisim.run.simulation import Simulation

DOC = Path(__file__).parents[2] / "docs" / "results.md"

_PRICE_NAME = {"feed": "<asset>", "venue": "<venue>", "protocol": "<name>"}

_CELL_SPLIT = re.compile(r"(?<!\\)\|")


RUNS = {
    # the default (a lending crisis): long enough for liquidations to happen
    "default": ["blocks=40", "protocols.aave.population.count=500"],
    # perps and unified accounts: their tables and summaries
    "oct-2025-cascade": ["blocks=120", "protocols.aave.population.count=100",
                         *(f"protocols.perp_venue.populations.{i}.count=300" for i in range(3)),
                         "protocols.perp_venue.insurance_fund_usd=0", "protocols.eth_pool_perps.count=200",
                         *(f"protocols.exchange.populations.{i}.count=100" for i in range(3))],
    # a synthetic dollar and its redemptions
    "usde-redemptions": ["blocks=100"],
    # Maker vaults and their auctions
    "maker-crash": ["blocks=700", "protocols.maker.vaults.count=300"],
}


@pytest.fixture(scope="module", params=sorted(RUNS))
def run(request):
    scenario = load_scenario(request.param, RUNS[request.param])
    return scenario, Simulation(scenario).run()


@pytest.fixture(scope="module")
def doc_lines() -> list[str]:
    return DOC.read_text().splitlines()


def _section(lines: list[str], heading: str, level: int) -> list[str]:
    """Lines under the heading ``'#' * level + ' ' + heading`` up to the next heading of that level or higher."""
    marker = "#" * level + " " + heading
    starts = [i for i, line in enumerate(lines) if line.strip() == marker]
    assert len(starts) == 1, f"{DOC.name}: expected one heading {marker!r}, found {len(starts)}"
    out = []
    for line in lines[starts[0] + 1 :]:
        m = re.match(r"^(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        out.append(line)
    return out


def _rows(lines: list[str]) -> dict[str, list[str]]:
    """Markdown table rows by their first cell (backticks stripped); header and separator rows skipped."""
    rows = {}
    for line in lines:
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in _CELL_SPLIT.split(line.strip("|"))]
        first = cells[0].strip("`")
        if first in ("column", "key") or set(cells[0]) <= set("-: "):
            continue
        rows[first] = cells[1:]
    return rows


def test_every_table_and_column_is_documented(run, doc_lines):
    _scenario, results = run
    assert results.schema, "the run declared no tables"
    for table, info in results.schema.items():
        documented = _rows(_section(doc_lines, f"`{table}`", 3))
        columns = info["columns"]
        missing = [c for c in columns if c not in documented]
        assert not missing, f"{DOC.name}: columns of table {table!r} not documented: {missing}"
        stale = [c for c in documented if c not in columns]
        assert not stale, f"{DOC.name}: table {table!r} documents columns the code does not have: {stale}"
        for name, (dtype, _doc) in columns.items():
            result = documented[name][0]
            assert result == dtype, f"{DOC.name}: {table}.{name} documented as {result}, declared {dtype}"


def test_every_summary_key_is_documented(run, doc_lines):
    scenario, results = run
    documented = _rows(_section(doc_lines, "Summary", 2))
    missing = []
    for key in results.summary():
        protocol, _, metric = key.partition(".")
        if metric and protocol in scenario.protocols:
            key = f"<protocol>.{metric}"
        elif protocol == "min_price_usd":  # min_price_usd.<source>.<name>: one documented row per source
            source = metric.partition(".")[0]
            key = f"min_price_usd.{source}.{_PRICE_NAME.get(source, '?')}"
        if key not in documented:
            missing.append(key)
    assert not missing, f"{DOC.name}: summary keys not documented: {missing}"


def test_every_meta_json_key_is_documented(run, doc_lines, tmp_path):
    _scenario, results = run
    meta = json.loads((results.save(tmp_path) / "meta.json").read_text())
    documented = _rows(_section(doc_lines, "Files", 2))
    missing = [k for k in meta if k not in documented]
    assert not missing, f"{DOC.name}: meta.json keys not documented: {missing}"
