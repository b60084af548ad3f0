"""The ``defisim`` command: run, validate, schema, scenarios; bad input is one line on stderr, exit 2."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import resources

import pandas as pd
import pytest

from defisim.cli import main
from defisim.scenario.loading import load_scenario

SMALL_TOML = """\
name = "small"
seed = 3
blocks = 4

[chain]
slot = "12s"

[protocols.usdc]
kind = "token.ledger"
initial_balances = { "payer/0" = 100.0, "payer/1" = 100.0 }

[[agents]]
kind = "token.payer"
name = "payer"
count = 2
params = { token = "usdc", peers = 2 }
"""

SMALL_YAML = """\
name: small
seed: 3
blocks: 4
chain: {slot: 12s}
protocols:
  usdc:
    kind: token.ledger
    initial_balances: {payer/0: 100.0, payer/1: 100.0}
agents:
  - {kind: token.payer, name: payer, count: 2, params: {token: usdc, peers: 2}}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stray default --out lands in tmp, not in the repo


def cli(capsys, *argv):
    """Run ``defisim *argv`` in-process; an argparse exit counts as its status."""
    try:
        rc = main(list(argv))
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(err: str, *fragments: str):
    assert err.startswith("defisim: error: "), err
    assert err.endswith("\n")
    assert err.count("\n") == 1, f"not one line: {err!r}"
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


def edit(old: str, new: str) -> str:
    assert old in SMALL_TOML
    return SMALL_TOML.replace(old, new, 1)


BAD_FILES = {
    "unknown_key": ("bad.toml", edit('slot = "12s"', 'slott = "12s"'), ["chain.slott", "unknown key"]),
    "negative_slot": ("bad.toml", edit('slot = "12s"', 'slot = "-12s"'), ["chain.slot", "negative"]),
    "unknown_protocol_param": ("bad.toml", edit('kind = "token.ledger"', 'kind = "token.ledger"\nfoo = 1'), ["protocols.usdc.foo", "unknown key"]),
    "unknown_protocol_kind": ("bad.toml", edit('kind = "token.ledger"', 'kind = "lending.nope"'), ["protocols.usdc.kind", "'lending.nope'"]),
    "agent_protocol_missing": ("bad.toml", edit('token = "usdc"', 'token = "dai"'), ["agents.0.params.token", "'dai'"]),
    "malformed_toml": ("bad.toml", "[chain\nslot = 1\n", ["bad.toml", "malformed TOML"]),
    "malformed_yaml": ("bad.yaml", "chain: [1, 2\nseed: 3\n", ["bad.yaml", "malformed YAML"]),
    "yaml_unknown_key": ("bad.yaml", SMALL_YAML.replace("slot: 12s", "slott: 12s"), ["chain.slott", "unknown key"]),
    "unknown_suffix": ("bad.json", "{}", ["unknown scenario format '.json'"]),
    # Used to escape as a TypeError traceback.
    "toml_date": ("bad.toml", edit("seed = 3", "seed = 3\ndescription = 2024-01-01"), ["description", "valid string"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_scenario_file_is_one_line_error(capsys, tmp_path, case, command):
    name, text, fragments = BAD_FILES[case]
    path = tmp_path / name
    path.write_text(text)
    argv = [command, str(path)] + (["--out", str(tmp_path / "out"), "--blocks", "1"] if command == "run" else [])
    rc, out, err = cli(capsys, *argv)
    assert rc == 2
    assert out == ""
    assert_one_line_error(err, *fragments)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_missing_file(capsys, tmp_path, command):
    rc, out, err = cli(capsys, command, str(tmp_path / "nope.toml"))
    assert rc == 2
    assert_one_line_error(err, "not found", "nope.toml")


def test_run_unknown_builtin(capsys):
    rc, _, err = cli(capsys, "run", "no-such-scenario")
    assert rc == 2
    assert_one_line_error(err, "no-such-scenario")


def test_subprocess_bad_file_has_no_traceback(tmp_path):
    bad = tmp_path / "badfile.toml"
    bad.write_text('[chain]\nslott = "12s"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "defisim", "validate", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == "defisim: error: chain.slott: unknown key\n"


# --- validate --------------------------------------------------------------------------------


def test_validate_prints_the_hash(capsys, tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML)
    rc, out, err = cli(capsys, "validate", str(path))
    assert rc == 0
    assert err == ""
    expected = load_scenario(path).hash
    assert out == f"ok: {path} (small), hash {expected}\n"


def test_validate_toml_and_yaml_print_the_same_hash(capsys, tmp_path):
    (tmp_path / "s.toml").write_text(SMALL_TOML)
    (tmp_path / "s.yaml").write_text(SMALL_YAML)
    _, out_toml, _ = cli(capsys, "validate", str(tmp_path / "s.toml"))
    _, out_yaml, _ = cli(capsys, "validate", str(tmp_path / "s.yaml"))
    h_toml = out_toml.rsplit("hash ", 1)[1].strip()
    h_yaml = out_yaml.rsplit("hash ", 1)[1].strip()
    assert len(h_toml) == 64
    assert h_toml == h_yaml


def test_validate_with_set(capsys, tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL_TOML)
    _, plain, _ = cli(capsys, "validate", str(path))
    rc, out, err = cli(capsys, "validate", str(path), "--set", "seed=9", "--set", "chain.slot=2s")
    assert rc == 0
    expected = load_scenario(path, ["seed=9", "chain.slot=2s"]).hash
    assert out.endswith(f"hash {expected}\n")
    assert out != plain


@pytest.mark.parametrize(
    "override, fragments",
    [
        ("chain.slott=2s", ["chain.slott", "unknown key"]),
        ("protocols.usdc.foo=1", ["protocols.usdc.foo", "unknown key"]),
        ("agents.4.count=1", ["agents.4", "no such list item"]),
        ("seed", ["expected dotted.path=value"]),
    ],
)
def test_validate_bad_set(capsys, tmp_path, override, fragments):
    path = tmp_path / "small.toml"
    path.write_text(SMALL_TOML)
    rc, out, err = cli(capsys, "validate", str(path), "--set", override)
    assert rc == 2
    assert out == ""
    assert_one_line_error(err, *fragments)


# --- schema and scenarios --------------------------------------------------------------------


def test_schema_is_json_with_the_sections(capsys):
    rc, out, err = cli(capsys, "schema")
    assert rc == 0
    schema = json.loads(out)
    assert {"chain", "network", "mempool", "background", "protocols", "agents", "seed", "blocks"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False  # unknown keys are rejected
    chain = schema["$defs"]["ChainSpec"]
    assert "slot" in chain["properties"]
    assert chain["additionalProperties"] is False


def test_scenarios_lists_default(capsys):
    rc, out, err = cli(capsys, "scenarios")
    assert rc == 0
    rows = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in out.splitlines()}
    default = tomllib.loads(resources.files("defisim.scenario.builtins").joinpath("default.toml").read_text())
    assert rows["default"] == default["description"]


# --- run -------------------------------------------------------------------------------------


def test_run_default_writes_results(capsys, tmp_path):
    out_dir = tmp_path / "res"
    rc, out, err = cli(capsys, "run", "--blocks", "5", "--out", str(out_dir))
    assert rc == 0, err
    assert (out_dir / "meta.json").is_file()
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["scenario"]["name"] == "default"
    assert meta["scenario"]["blocks"] == 5
    assert meta["seed"] == load_scenario("default").spec.seed  # the seed it inherits from eth-crash
    assert meta["scenario_hash"] == load_scenario("default", ["blocks=5"]).hash
    for table in ("blocks", "txs"):
        assert table in meta["tables"]
        assert (out_dir / f"{table}.parquet").is_file()
    blocks = pd.read_parquet(out_dir / "blocks.parquet")
    assert blocks["block"].tolist() == [1, 2, 3, 4, 5]
    for table in ("liquidations", "prices"):  # the default is a lending crisis
        assert table in meta["tables"]
    assert f"results written to {out_dir}/" in out
    assert f"hash {meta['scenario_hash'][:12]}" in out


def test_run_with_set_seed_and_file(capsys, tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL_TOML)
    out_dir = tmp_path / "res"
    rc, _, err = cli(capsys, "run", str(path), "--set", "chain.slot=2s", "--seed", "7", "--blocks", "5", "--out", str(out_dir))
    assert rc == 0, err
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["scenario"]["chain"]["slot"] == 2000
    assert meta["scenario"]["seed"] == 7
    assert meta["seed"] == 7
    assert meta["scenario"]["blocks"] == 5
    assert meta["scenario_hash"] == load_scenario(path, ["chain.slot=2s", "seed=7", "blocks=5"]).hash
    blocks = pd.read_parquet(out_dir / "blocks.parquet")
    assert (blocks["time_ms"] == blocks["slot"] * 2000).all()


def test_run_default_with_set_slot(capsys, tmp_path):
    out_dir = tmp_path / "res"
    rc, _, err = cli(capsys, "run", "--set", "chain.slot=2s", "--blocks", "5", "--out", str(out_dir))
    assert rc == 0, err
    meta = json.loads((out_dir / "meta.json").read_text())
    assert meta["scenario"]["chain"]["slot"] == 2000
    assert meta["scenario"]["name"] == "default"


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--seed", "-1"], ["--seed", "non-negative"]),
        (["--blocks", "0"], ["--blocks", "positive"]),
        (["--blocks", "-3"], ["--blocks", "positive"]),
        (["--seed", "abc"], ["--seed", "invalid int value"]),
        (["--set", "chain.slott=2s"], ["chain.slott", "unknown key"]),
        (["--set", "chain.slot=-2s"], ["chain.slot", "negative"]),
        (["--set", "seed"], ["expected dotted.path=value"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_run_bad_arguments(capsys, tmp_path, argv, fragments):
    out_dir = tmp_path / "res"
    rc, out, err = cli(capsys, "run", *argv, "--out", str(out_dir))
    assert rc == 2
    assert out == ""
    assert_one_line_error(err, *fragments)
    assert not out_dir.exists()


def test_run_out_is_a_file(capsys, tmp_path):
    # Used to escape as a FileExistsError traceback.
    target = tmp_path / "taken"
    target.write_text("")
    rc, _, err = cli(capsys, "run", "--blocks", "1", "--out", str(target))
    assert rc == 2
    assert_one_line_error(err, "taken")


@pytest.mark.parametrize("argv", [[], ["frobnicate"]])
def test_no_or_unknown_command(capsys, argv):
    rc, out, err = cli(capsys, *argv)
    assert rc == 2
    assert_one_line_error(err)


def test_ltv_above_liquidation_threshold_is_one_line_naming_the_reserve(capsys):
    code = main(["validate", "eth-crash", "--set", "protocols.aave.reserves.0.ltv=0.9"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("defisim: error: protocols.aave.reserves.0: ltv (0.9) must not exceed liquidation_threshold")
