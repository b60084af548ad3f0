"""The scenario format's reference: ``defisim schema`` covers every kind's parameters with descriptions
and units, ``docs/reference.md`` is the one the models render today, and ``defisim show`` writes a
scenario file that loads back to the same scenario."""
from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest
import yaml

from defisim.base.registry import default_registry
from defisim.cli import main
from defisim.scenario.loading import builtin_scenarios, load_scenario, merge_scenarios, validate_scenario
from defisim.scenario.reference import REGENERATE, render_reference, scenario_schema
from defisim.scenario.show import scenario_document, to_toml, to_yaml

ROOT = Path(__file__).resolve().parents[2]


def cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# --- docs/reference.md ------------------------------------------------------------------------


def test_committed_reference_is_up_to_date():
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), f"docs/reference.md is out of date; regenerate it: {REGENERATE}"


def test_reference_has_a_table_per_kind_with_every_key():
    text = render_reference()
    reg = default_registry()
    for kind, entry in [*reg.protocols.items(), *reg.agents.items()]:
        section = text.split(f"### `{kind}`\n", 1)[1].split("\n### ", 1)[0]
        keys = re.findall(r"^\| `(\w+)` \|", section, re.M)
        assert set(entry.params.model_fields) <= set(keys), kind


def test_reference_rows_state_the_unit_convention():
    text = render_reference()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", text, re.M)}
    assert "| `\"12s\"` |" in rows["slot"] and "duration" in rows["slot"]  # default shown as a duration string
    assert "| `\"1h\"` |" in rows["heartbeat"]
    assert "| fraction |" in rows["liquidation_bonus"]
    assert "| gwei |" in rows["initial_base_fee_gwei"]  # from the name's ending
    assert "| USD |" in rows["initial_answer"]  # declared with unit()


# --- defisim schema ---------------------------------------------------------------------------


def _resolve(schema: dict, node: dict, value) -> dict:
    """The schema node that validates ``value``: follow $ref, pick a oneOf by its discriminator and an
    anyOf (an optional) by the value's JSON type."""
    while True:
        if "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        elif "oneOf" in node:
            assert isinstance(value, dict) and "kind" in value, node
            mapping = node["discriminator"]["mapping"]
            assert value["kind"] in mapping, (value["kind"], sorted(mapping))
            node = {"$ref": mapping[value["kind"]]}
        elif "anyOf" in node:
            want = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}[type(value)]
            options = [o for o in node["anyOf"] if o.get("type") != "null"]
            picked = [o for o in options if o.get("type") in (want, None) or "$ref" in o or "oneOf" in o]
            node = picked[0] if picked else options[0]
        else:
            return node


def _walk(schema: dict, node: dict, value, path: str, seen: set) -> None:
    node = _resolve(schema, node, value)
    if isinstance(value, dict) and ("properties" in node or "additionalProperties" in node):
        for key, item in value.items():
            if key in node.get("properties", {}):
                prop = node["properties"][key]
                assert prop.get("description"), f"{path}.{key}: no description in the schema"
                seen.add(f"{path}.{key}")
            else:
                prop = node.get("additionalProperties")
                assert isinstance(prop, dict), f"{path}.{key}: not in the schema"
            _walk(schema, prop, item, f"{path}.{key}", seen)
    elif isinstance(value, list) and node.get("type") == "array" and "items" in node:
        for i, item in enumerate(value):
            _walk(schema, node["items"], item, f"{path}.{i}", seen)


def _raw(name: str) -> dict:
    raw = tomllib.loads(resources.files("defisim.scenario.builtins").joinpath(f"{name}.toml").read_text())
    base = raw.pop("extends", None)
    return merge_scenarios(_raw(base), raw) if base else raw


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_key_a_builtin_sets_is_in_the_schema_with_a_description(name):
    schema = scenario_schema()
    seen: set = set()
    _walk(schema, schema, _raw(name), "", seen)
    assert any(".params." in p for p in seen) or not _raw(name).get("agents")  # agent params were reached
    assert any(p.startswith(".protocols.") and p.count(".") >= 3 for p in seen)  # so were protocol params


def test_schema_names_every_kind_by_its_kind_key(capsys):
    rc, out, _ = cli(capsys, "schema")
    assert rc == 0
    schema = json.loads(out)
    reg = default_registry()
    protocols = schema["properties"]["protocols"]["additionalProperties"]
    agents = schema["properties"]["agents"]["items"]
    assert set(protocols["discriminator"]["mapping"]) == set(reg.protocols)
    assert set(agents["discriminator"]["mapping"]) == set(reg.agents)
    aave = schema["$defs"][protocols["discriminator"]["mapping"]["lending.aave_v3"].rsplit("/", 1)[1]]
    assert aave["properties"]["kind"]["const"] == "lending.aave_v3"
    assert set(aave["properties"]) == set(reg.protocols["lending.aave_v3"].params.model_fields) | {"kind"}
    keeper = schema["$defs"][agents["discriminator"]["mapping"]["lending.keeper"].rsplit("/", 1)[1]]
    assert {"kind", "name", "count", "params"} == set(keeper["properties"])
    reserve = schema["$defs"]["ReserveParams"]["properties"]
    assert reserve["liquidation_bonus"]["unit"] == "fraction"
    assert schema["$defs"]["ChainSpec"]["properties"]["slot"]["unit"] == "duration"


# --- defisim show -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_show_loads_back_to_the_same_scenario(name):
    scenario = load_scenario(name)
    doc = scenario_document(scenario)
    from_toml = validate_scenario(tomllib.loads(to_toml(doc)))
    from_yaml = validate_scenario(yaml.safe_load(to_yaml(doc)))
    assert from_toml.hash == from_yaml.hash == scenario.hash
    assert from_toml.spec.sweep == scenario.spec.sweep


def test_show_writes_durations_as_strings():
    doc = scenario_document(load_scenario("eth-crash"))
    assert doc["chain"]["slot"] == "12s"
    assert doc["protocols"]["eth_usd"]["heartbeat"] == "1h"
    assert doc["network"]["public_latency"] == {"kind": "lognormal", "median": "200ms", "sigma": 0.5}
    assert doc["agents"][1]["params"]["think"] == "500ms"
    assert "extends" not in doc and doc["protocols"]["aave"]["rules"] == "v3.3"  # resolved, defaults filled in


def test_show_default_to_a_file_then_run_it_gives_the_hash_of_default(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, _ = cli(capsys, "show", "default")
    assert rc == 0
    (tmp_path / "f.toml").write_text(out)
    runs = {}
    for i, source in enumerate((str(tmp_path / "f.toml"), "default")):
        rc, out, _ = cli(capsys, "run", source, "--blocks", "2", "--out", str(tmp_path / f"out{i}"), "--no-progress")
        assert rc == 0
        runs[source] = re.search(r"hash ([0-9a-f]{12})", out).group(1)
    assert runs[str(tmp_path / "f.toml")] == runs["default"]
    assert runs["default"] == load_scenario("default", ["blocks=2"]).hash[:12]


def test_show_yaml_option(capsys):
    rc, out, _ = cli(capsys, "show", "payers", "--format", "yaml", "--set", "blocks=9")
    assert rc == 0
    data = yaml.safe_load(out)
    assert data["blocks"] == 9
    assert validate_scenario(data).hash == load_scenario("payers", ["blocks=9"]).hash


# --- the units and rule-version tables against the code ---------------------------------------


def test_rule_versions_table_names_the_rules_the_code_takes():
    from typing import get_args

    from protocols.lending.aave_v3.driver import RULES_FOR_VERSION
    from protocols.lending.aave_v3.params import PoolParams
    from protocols.lending.aave_v3.replay import VERSIONS

    table = render_reference().split("## Aave rule versions", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(v\d(?:\.\d)?)` \|", table, re.M)
    assert sorted(rows) == sorted(set(get_args(PoolParams.model_fields["rules"].annotation)) | set(VERSIONS))
    assert f"`rules = {json.dumps(RULES_FOR_VERSION)}[version]`" in " ".join(table.split())


def test_contract_units_table_converts_as_the_driver_does():
    from protocols.lending.aave_v3.driver import reserve_params
    from protocols.lending.aave_v3.replay import ReserveConfig

    c = ReserveConfig("WETH", 18, ltv=8050, liquidation_threshold=8300, liquidation_bonus=10500, protocol_fee=1000,
                      reserve_factor=1500, optimal_usage=9000, base_rate=0, slope1=270, slope2=8000)
    p = reserve_params(c)
    # the table: bps = round(fraction × 10_000); bonus bps = 10_000 + round(bonus × 10_000)
    assert (round(p["ltv"] * 10_000), round(p["liquidation_threshold"] * 10_000)) == (8050, 8300)
    assert 10_000 + round(p["liquidation_bonus"] * 10_000) == 10500 and p["liquidation_bonus"] == pytest.approx(0.05)
    assert round(p["rate_strategy"]["slope1"] * 10_000) == 270
