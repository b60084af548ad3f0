"""Scenarios: loading TOML/YAML, one-line errors naming the dotted path, overrides, hash, durations."""
from __future__ import annotations

import pytest

from defisim.scenario.loading import ScenarioError, apply_overrides, builtin_scenarios, load_scenario
from defisim.base.units import parse_duration_ms

# The same small scenario, as TOML and as YAML.
GOOD_TOML = """\
name = "small"
description = "two payers"
seed = 3
blocks = 4

[chain]
slot = "12s"
gas_limit = 30_000_000

[protocols.usdc]
kind = "token.ledger"
symbol = "USDC"
initial_balances = { "payer/0" = 100.0, "payer/1" = 100.0 }

[[agents]]
kind = "token.payer"
name = "payer"
count = 2
params = { token = "usdc", peers = 2 }
"""

GOOD_YAML = """\
name: small
description: two payers
seed: 3
blocks: 4
chain:
  slot: 12s
  gas_limit: 30000000
protocols:
  usdc:
    kind: token.ledger
    symbol: USDC
    initial_balances: {payer/0: 100.0, payer/1: 100.0}
agents:
  - kind: token.payer
    name: payer
    count: 2
    params: {token: usdc, peers: 2}
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edit(old: str, new: str) -> str:
    """GOOD_TOML with one fragment replaced (fails loudly if the fragment is not there)."""
    assert old in GOOD_TOML
    return GOOD_TOML.replace(old, new, 1)


def error_of(path, overrides=()) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    msg = str(info.value)
    assert "\n" not in msg, f"error message is not one line: {msg!r}"
    return msg


# --- good files ------------------------------------------------------------------------------


def test_toml_scenario_loads_with_values_and_defaults(tmp_path):
    s = load_scenario(write(tmp_path, "small.toml", GOOD_TOML))
    assert s.spec.name == "small"
    assert s.spec.seed == 3
    assert s.spec.blocks == 4
    assert s.spec.chain.slot == 12_000
    assert s.spec.chain.gas_limit == 30_000_000
    assert s.spec.chain.elasticity == 2  # not in the file: default
    kind, params = s.protocols["usdc"]
    assert kind == "token.ledger"
    assert params.symbol == "USDC"
    assert params.initial_balances == {"payer/0": 100.0, "payer/1": 100.0}
    assert len(s.agents) == 1
    assert s.agents[0].token == "usdc"
    assert s.agents[0].peers == 2
    assert s.spec.agents[0].count == 2
    assert s.source == str(tmp_path / "small.toml")


def test_yaml_scenario_loads_to_the_same_resolved_scenario_as_toml(tmp_path):
    from_toml = load_scenario(write(tmp_path, "small.toml", GOOD_TOML))
    from_yaml = load_scenario(write(tmp_path, "small.yaml", GOOD_YAML))
    assert from_yaml.to_dict() == from_toml.to_dict()
    assert from_yaml.spec.chain.slot == 12_000


def test_yml_suffix_is_read_as_yaml(tmp_path):
    s = load_scenario(write(tmp_path, "small.yml", GOOD_YAML))
    assert s.spec.name == "small"


def test_builtin_default_is_listed_and_loads():
    builtins = builtin_scenarios()
    assert "default" in builtins
    assert builtins["default"].startswith("ETH falls 35%")
    s = load_scenario("default")
    assert s.source == "builtin:default"
    assert s.spec.name == "default"
    assert s.spec.chain.slot == 12_000
    assert load_scenario(None).hash == s.hash  # None means the default
    # the crisis the tool exists for: an Aave-like pool with >= 10,000 borrowers, a push oracle, flash-loan keepers
    assert s.protocols["aave"][0] == "lending.aave_v3"
    assert s.protocols["aave"][1].population.count >= 10_000
    assert s.protocols["eth_usd"][0] == "oracles.push"
    assert sum(a.count for a in s.spec.agents if a.kind == "lending.flash_keeper") >= 3  # keepers without capital


# --- bad files: one line naming the dotted path ---------------------------------------------

BAD = {
    "unknown_chain_key": (edit('slot = "12s"', 'slott = "12s"'), ["chain.slott", "unknown key"]),
    "unknown_top_level_key": (edit('seed = 3', 'seed = 3\ncolour = "red"'), ["colour", "unknown key"]),
    "negative_slot": (edit('slot = "12s"', 'slot = "-12s"'), ["chain.slot", "negative"]),
    "zero_slot": (edit('slot = "12s"', 'slot = "0s"'), ["chain.slot", "greater than 0"]),
    "unreadable_slot": (edit('slot = "12s"', 'slot = "twelve"'), ["chain.slot", "cannot read duration 'twelve'"]),
    "cutoff_not_inside_slot": (edit('slot = "12s"', 'slot = "12s"\nbuild_cutoff = "12s"'), ["chain", "build_cutoff"]),
    "negative_seed": (edit("seed = 3", "seed = -1"), ["seed", "greater than or equal to 0"]),
    "bad_ordering": (edit('slot = "12s"', 'slot = "12s"\nordering = "lifo"'), ["chain.ordering"]),
    "bad_latency_distribution": (
        edit("[chain]", '[network]\npublic_latency = { kind = "lognormal", median = -5, sigma = 0.5 }\n\n[chain]'),
        ["network.public_latency.median", "greater than 0"],
    ),
    "negative_latency_duration": (
        edit("[chain]", '[network]\npublic_latency = { kind = "fixed", value = "-5ms" }\n\n[chain]'),
        ["network.public_latency", "negative", "'-5ms'"],
    ),
    "unknown_protocol_param": (edit('symbol = "USDC"', 'symbol = "USDC"\nfoo = 1'), ["protocols.usdc.foo", "unknown key"]),
    "bad_protocol_param": (edit('"payer/1" = 100.0', '"payer/1" = -1.0'), ["protocols.usdc.initial_balances", "non-negative"]),
    "unknown_protocol_kind": (edit('kind = "token.ledger"', 'kind = "token.nope"'), ["protocols.usdc.kind", "unknown protocol kind 'token.nope'", "token.ledger"]),
    "missing_protocol_kind": (edit('kind = "token.ledger"\n', ""), ["protocols.usdc.kind", "missing"]),
    "agent_token_not_a_protocol": (edit('token = "usdc"', 'token = "dai"'), ["agents.0.params.token", "no token ledger 'dai' in protocols (have: usdc)"]),
    "unknown_agent_param": (edit("peers = 2", "peers = 2, bogus = 1"), ["agents.0.params.bogus", "unknown key"]),
    "bad_agent_param": (edit("peers = 2", "peers = 0"), ["agents.0.params.peers", "greater than or equal to 1"]),
    "unknown_agent_kind": (edit('kind = "token.payer"', 'kind = "token.nobody"'), ["agents.0.kind", "unknown agent kind 'token.nobody'"]),
    "duplicate_agent_group": (
        GOOD_TOML + '\n[[agents]]\nkind = "token.payer"\nname = "payer"\nparams = { token = "usdc" }\n',
        ["two groups are named 'payer'"],
    ),
    # A TOML date where a string belongs (used to crash with a TypeError instead of a ScenarioError).
    "toml_date_value": (edit('description = "two payers"', "description = 2024-01-01"), ["description", "valid string"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_gives_one_line_naming_the_path(tmp_path, case):
    text, fragments = BAD[case]
    msg = error_of(write(tmp_path, "bad.toml", text))
    for fragment in fragments:
        assert fragment in msg


def test_error_path_counts_list_items(tmp_path):
    text = GOOD_TOML + '\n[[agents]]\nkind = "token.payer"\nname = "second"\nparams = { token = "usdt" }\n'
    assert error_of(write(tmp_path, "bad.toml", text)).startswith("agents.1.params.token:")


def test_yaml_bad_value_names_the_path(tmp_path):
    msg = error_of(write(tmp_path, "bad.yaml", GOOD_YAML.replace("slot: 12s", "slott: 12s")))
    assert msg.startswith("chain.slott: unknown key")


def test_yaml_hex_looking_key_is_rejected_not_silently_renamed(tmp_path):
    # YAML reads an unquoted 0x10 as the integer 16; it must not become the address "16".
    text = GOOD_YAML.replace("{payer/0: 100.0, payer/1: 100.0}", "{0x10: 100.0}")
    msg = error_of(write(tmp_path, "bad.yaml", text))
    assert msg.startswith("protocols.usdc.initial_balances.16")


def test_missing_file(tmp_path):
    msg = error_of(tmp_path / "nope.toml")
    assert "not found" in msg
    assert "nope.toml" in msg


def test_unknown_name_that_is_neither_file_nor_builtin():
    msg = error_of("no-such-scenario")
    assert "no-such-scenario" in msg
    assert "default" in msg  # lists the built-ins


def test_malformed_toml(tmp_path):
    msg = error_of(write(tmp_path, "bad.toml", "[chain\nslot = 1\n"))
    assert "bad.toml" in msg
    assert "malformed TOML" in msg


def test_malformed_yaml(tmp_path):
    msg = error_of(write(tmp_path, "bad.yaml", "chain: [1, 2\nseed: 3\n"))
    assert "bad.yaml" in msg
    assert "malformed YAML" in msg


def test_yaml_that_is_not_a_table(tmp_path):
    msg = error_of(write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    assert "must be a table" in msg
    assert "list" in msg


def test_unknown_suffix(tmp_path):
    msg = error_of(write(tmp_path, "small.txt", GOOD_TOML))
    assert "unknown scenario format '.txt'" in msg


@pytest.mark.parametrize("name, text", [("empty.yaml", ""), ("comments.toml", "# nothing\n\n"), ("null.yaml", "~\n")])
def test_empty_file_is_an_error(tmp_path, name, text):
    with pytest.raises(ScenarioError, match=r"empty\.yaml|comments\.toml|null\.yaml") as e:
        load_scenario(write(tmp_path, name, text))
    assert "the file is empty" in str(e.value)


def test_defaults_fill_a_scenario_that_only_names_itself(tmp_path):
    s = load_scenario(write(tmp_path, "named.yaml", "name: x\nbackground: {rate_tx_per_block: 1}\n"))
    assert s.spec.name == "x"
    assert s.spec.chain.slot == 12_000
    assert s.protocols == {}


# --- overrides -------------------------------------------------------------------------------


def test_override_dict_path_reads_yaml_scalars():
    raw = {"seed": 1, "chain": {"slot": "12s", "gas_limit": 1}}
    result = apply_overrides(raw, ["chain.slot=2s", "seed=5", "chain.missed_slot_probability=0.25", "description=a=b"])
    expected = {"seed": 5, "chain": {"slot": "2s", "gas_limit": 1, "missed_slot_probability": 0.25}, "description": "a=b"}
    assert result == expected
    assert type(result["seed"]) is int
    assert type(result["chain"]["slot"]) is str
    assert type(result["chain"]["missed_slot_probability"]) is float


def test_override_other_yaml_values():
    result = apply_overrides({}, ["name=", "a.list=[1, 2]", "a.flag=true", "a.nothing=null"])
    assert result == {"name": "", "a": {"list": [1, 2], "flag": True, "nothing": None}}


def test_override_list_index():
    raw = {"agents": [{"kind": "x", "count": 1}, {"kind": "y", "count": 1}]}
    result = apply_overrides(raw, ["agents.0.count=3", "agents.1.params.token=usdc"])
    assert result == {"agents": [{"kind": "x", "count": 3}, {"kind": "y", "count": 1, "params": {"token": "usdc"}}]}


def test_override_creates_missing_tables_and_leaves_input_alone():
    raw = {"chain": {"slot": "12s"}, "agents": [{"count": 1}]}
    result = apply_overrides(raw, ["mempool.capacity=7", "chain.slot=1s", "agents.0.count=2"])
    assert result == {"chain": {"slot": "1s"}, "agents": [{"count": 2}], "mempool": {"capacity": 7}}
    assert raw == {"chain": {"slot": "12s"}, "agents": [{"count": 1}]}


def test_overrides_apply_in_order():
    assert apply_overrides({}, ["seed=1", "seed=2"]) == {"seed": 2}


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("seed", "expected dotted.path=value"),
        ("chain..slot=1", "empty part"),
        ("agents.5.count=1", "agents.5: no such list item"),
        ("agents.x.count=1", "agents.x: no such list item"),
        ("agents.3=1", "agents.3: no such list item"),
        ("chain.slot.x=1", "chain.slot.x: cannot set a key inside a str"),
    ],
)
def test_bad_override_is_rejected(override, fragment):
    raw = {"chain": {"slot": "12s"}, "agents": [{"count": 1}]}
    with pytest.raises(ScenarioError) as info:
        apply_overrides(raw, [override])
    assert fragment in str(info.value)


def test_overrides_through_load_scenario(tmp_path):
    path = write(tmp_path, "small.toml", GOOD_TOML)
    s = load_scenario(path, ["chain.slot=2s", "agents.0.count=3", "protocols.usdc.symbol=DAI", "seed=11"])
    assert s.spec.chain.slot == 2_000
    assert s.spec.agents[0].count == 3
    assert s.protocols["usdc"][1].symbol == "DAI"
    assert s.spec.seed == 11


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("chain.slott=2s", "chain.slott: unknown key"),
        ("protocols.usdc.foo=1", "protocols.usdc.foo: unknown key"),
        ("agents.0.params.nope=1", "agents.0.params.nope: unknown key"),
        ("protocols.dai.symbol=DAI", "protocols.dai.kind: missing"),
        ("chain.slot=-2s", "chain.slot:"),
        ("seed=1.5", "seed:"),
    ],
)
def test_override_of_a_path_that_does_not_exist_is_rejected_by_validation(tmp_path, override, fragment):
    msg = error_of(write(tmp_path, "small.toml", GOOD_TOML), [override])
    assert msg.startswith(fragment)


# --- hash ------------------------------------------------------------------------------------


def test_hash_is_the_same_for_toml_and_yaml(tmp_path):
    h_toml = load_scenario(write(tmp_path, "small.toml", GOOD_TOML)).hash
    h_yaml = load_scenario(write(tmp_path, "small.yaml", GOOD_YAML)).hash
    assert h_toml == h_yaml
    assert len(h_toml) == 64
    int(h_toml, 16)


def test_hash_ignores_file_name_whitespace_comments_and_key_order(tmp_path):
    reformatted = """\
# a comment
blocks   =   4      # trailing comment
seed = 3
description = "two payers"
name = "small"


[protocols.usdc]
initial_balances.'payer/1' = 100.0
initial_balances."payer/0" = 1e2
symbol = "USDC"
kind = "token.ledger"

[chain]
gas_limit = 30000000
slot = "12000ms"

[[agents]]
params = { peers = 2, token = "usdc" }
count = 2
name = "payer"
kind = "token.payer"
"""
    h_original = load_scenario(write(tmp_path, "a.toml", GOOD_TOML)).hash
    h_reformatted = load_scenario(write(tmp_path, "b.toml", reformatted)).hash
    assert h_reformatted == h_original


def test_hash_is_of_the_resolved_scenario(tmp_path):
    """Writing out a default, or a duration in other units, does not change the scenario."""
    h = load_scenario(write(tmp_path, "a.toml", GOOD_TOML)).hash
    explicit = edit('slot = "12s"', "slot = 12000\nelasticity = 2\nordering = \"priority_fee\"")
    assert load_scenario(write(tmp_path, "b.toml", explicit)).hash == h
    assert load_scenario(write(tmp_path, "c.toml", GOOD_TOML), ["chain.slot=0.2min"]).hash == h


CHANGES = [
    "seed=4",
    "blocks=5",
    "name=other",
    "description=three payers",
    "chain.slot=13s",
    "chain.gas_limit=30000001",
    "background.rate_tx_per_block=1",
    "protocols.usdc.symbol=USDT",
    "protocols.usdc.initial_balances.payer/0=101",
    "agents.0.count=3",
    "agents.0.params.peers=1",
    "agents.0.params.tip_markup=1.2",
]


def test_hash_changes_when_any_value_changes(tmp_path):
    path = write(tmp_path, "small.toml", GOOD_TOML)
    base = load_scenario(path).hash
    hashes = [load_scenario(path, [change]).hash for change in CHANGES]
    for change, h in zip(CHANGES, hashes):
        assert h != base, change
    assert len(set(hashes)) == len(CHANGES)


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected_ms",
    [
        ("12s", 12_000),
        ("150ms", 150),
        ("1h", 3_600_000),
        ("1h30m", 5_400_000),
        ("1m30s", 90_000),
        ("2min", 120_000),
        ("1d", 86_400_000),
        ("0.5s", 500),
        ("1.5ms", None),  # not a whole millisecond: an error, checked below
        ("0s", 0),
        (" 12s ", 12_000),
        (12_000, 12_000),
        (0, 0),
    ],
)
def test_parse_duration_ms(text, expected_ms):
    if expected_ms is None:
        with pytest.raises(ValueError, match="whole number of milliseconds"):
            parse_duration_ms(text)
    else:
        result = parse_duration_ms(text)
        assert result == expected_ms
        assert type(result) is int


@pytest.mark.parametrize("text", ["", "12", "s", "12x", "12 parsecs", "twelve", "1.5.s", "1e3s", "s12", "12s!", "h1"])
def test_parse_duration_ms_rejects_unreadable(text):
    with pytest.raises(ValueError, match="cannot read duration"):
        parse_duration_ms(text)


@pytest.mark.parametrize("value", [True, 1.5, None, [12]])
def test_parse_duration_ms_rejects_non_strings(value):
    with pytest.raises(ValueError, match="duration must be a string"):
        parse_duration_ms(value)


@pytest.mark.parametrize("value", ["-12s", " -1ms", -5])
def test_parse_duration_ms_rejects_negative(value):
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration_ms(value)


# --- extends ---------------------------------------------------------------------------------


def test_extends_a_builtin_merges_tables_and_replaces_lists(tmp_path):
    path = write(tmp_path, "deep.toml", """\
extends = "eth-crash"
name = "deep"
[markets.venues.cex.depth]
depth_usd_per_pct = 20_000_000
[[agents]]
kind = "oracles.push_updater"
name = "oracle"
params = { oracle = "eth_usd", sources = ["cex"] }
""")
    base, s = load_scenario("eth-crash"), load_scenario(path)
    assert s.spec.name == "deep" and s.source == str(path)
    venue, base_venue = s.spec.markets.venues["cex"], base.spec.markets.venues["cex"]
    assert venue.depth.depth_usd_per_pct == 20_000_000
    assert venue.half_life == base_venue.half_life  # a sibling key of the base is kept
    assert s.protocols == base.protocols  # untouched tables come through whole
    assert [a.name for a in s.spec.agents] == ["oracle"]  # a list replaces the base's list


def test_extends_a_file_relative_to_the_extending_file(tmp_path):
    write(tmp_path, "base.toml", GOOD_TOML)
    sub = tmp_path / "variants"
    sub.mkdir()
    path = write(sub, "slow.toml", 'extends = "../base.toml"\n[chain]\nslot = "2s"\n')
    s, base = load_scenario(path), load_scenario(tmp_path / "base.toml")
    assert s.spec.chain.slot == 2_000
    assert s.spec.chain.gas_limit == base.spec.chain.gas_limit and s.spec.name == base.spec.name


@pytest.mark.parametrize("files, fragment", [
    ({"a.toml": 'extends = "b.toml"', "b.toml": 'extends = "a.toml"'}, "extends: cycle"),
    ({"a.toml": 'extends = "nowhere.toml"'}, "scenario file not found"),
    ({"a.toml": 'extends = "no-such-builtin"'}, "no scenario file or built-in named 'no-such-builtin'"),
    ({"a.toml": "extends = 3"}, "extends: expected the name of a built-in or a scenario file"),
])
def test_bad_extends_is_one_clear_line(tmp_path, files, fragment):
    for name, text in files.items():
        write(tmp_path, name, text + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "a.toml")
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg and "a.toml" in msg


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_builtin_validates(name):
    assert load_scenario(name).spec.name == name
