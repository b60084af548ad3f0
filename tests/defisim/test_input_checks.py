"""Wiring and hostile input, each refused before anything runs with one line naming the dotted path
(``defisim: error: <path>: <reason>``, exit status 2); what a run would still fail on is
reported the same way."""
from __future__ import annotations

import textwrap

import pytest

import defisim.base.checks as checks
import defisim.run.simulation as simulation
from defisim.cli import main
from defisim.scenario.loading import ScenarioError, load_scenario, merge_scenarios

BTC = ["markets.feeds.BTC.kind=scripted", "markets.feeds.BTC.base_price_usd=60000",
       "markets.venues.btc_cex.asset=BTC", "markets.venues.btc_cex.depth.kind=linear",
       "markets.venues.btc_cex.depth.depth_usd_per_pct=1e6"]


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def refused(capsys, *argv) -> str:
    """The one error line of a command that must fail with status 2."""
    rc, _, err = cli(capsys, *argv)
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("defisim: error: "), err
    assert "Traceback" not in err
    return err.removeprefix("defisim: error: ").rstrip("\n")


def sets(*overrides):
    return [a for o in overrides for a in ("--set", o)]


def write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ---- A1: gas is priced in the native asset ----------------------------------------------------


def test_gas_is_priced_from_the_eth_feed_not_the_keepers_collateral_venue():
    # the keepers are told to sell on a BTC venue; gas must still cost ETH, priced at the ETH feed ($2,000)
    sim = simulation.Simulation(load_scenario("eth-crash", [*BTC, "agents.1.params.venue=btc_cex",
                                                            "agents.1.params.venues={WETH: btc_cex}"]))
    keeper = next(ctx for ctx in sim.agents if ctx.name.startswith("keeper/"))
    assert keeper.gas_pricer(None)(0) == pytest.approx(2000.0)
    assert keeper.market("btc_cex").mid(0) == pytest.approx(60000.0)


def test_without_an_eth_price_a_keeper_cannot_price_its_gas(capsys, tmp_path):
    msg = refused(capsys, "validate", "eth-crash", *sets("chain.native_asset=MATIC"))
    assert msg.startswith("agents.1.params.gas_venue: gas is paid in MATIC (chain.native_asset) but the scenario has no MATIC price")


def test_a_gas_venue_must_quote_the_native_asset(capsys):
    msg = refused(capsys, "validate", "eth-crash", *sets(*BTC, "agents.1.params.gas_venue=btc_cex"))
    assert msg.startswith("agents.1.params.gas_venue: venue 'btc_cex' quotes BTC, but gas is paid in ETH")


# ---- A2: an oracle prices the asset of its reserve --------------------------------------------


def test_an_oracle_fed_by_a_btc_venue_cannot_price_weth(capsys):
    msg = refused(capsys, "validate", "eth-crash", *sets(*BTC, "agents.0.params.sources=[btc_cex]"))
    assert msg == ("protocols.aave.oracles.WETH: oracle 'eth_usd' reports BTC, not WETH: give WETH an oracle of its own "
                   "(a derivative token: an oracles.exchange_rate over 'eth_usd')")


def test_an_updater_reads_venues_of_one_asset(capsys):
    msg = refused(capsys, "validate", "eth-crash", *sets(*BTC, "agents.0.params.sources=[cex, btc_cex]"))
    assert msg.startswith("agents.0.params.sources.1: venue 'btc_cex' quotes BTC, but sources.0 ('cex') quotes ETH")


def test_a_declared_oracle_asset_is_checked_against_its_sources(capsys):
    msg = refused(capsys, "validate", "eth-crash", *sets(*BTC, "protocols.eth_usd.asset=ETH", "agents.0.params.sources=[btc_cex]"))
    assert msg.startswith("agents.0.params.sources.0: venue 'btc_cex' quotes BTC, but oracle 'eth_usd' reports ETH")


def test_a_perp_book_quotes_the_asset_of_its_index(capsys):
    msg = refused(capsys, "validate", "usde-redemptions", *sets("protocols.perp_venue.markets.0.book=usde_book"))
    assert msg.startswith("protocols.perp_venue.markets.0.book: venue 'usde_book' quotes USDe_flow, but the market's index is the ETH feed")


# ---- A3: every name exists --------------------------------------------------------------------


@pytest.mark.parametrize("scenario, override, expected", [
    ("eth-crash", "agents.1.params.venue=binance_btc", "agents.1.params.venue: no venue 'binance_btc' in markets.venues (have: cex)"),
    ("eth-crash", "agents.0.params.sources=[cex, nope]", "agents.0.params.sources.1: no venue 'nope' in markets.venues (have: cex)"),
    ("eth-crash", "agents.1.params.pool=aavee", "agents.1.params.pool: no lending pool 'aavee' in protocols (have: aave)"),
    ("eth-crash", "agents.1.params.pool=weth",
     "agents.1.params.pool: 'weth' is a token.ledger, not a lending pool (filling the lending role; lending pools here: aave)"),
    ("eth-crash", "protocols.aave.tokens.USDC=usdcc", "protocols.aave.tokens.USDC: no token ledger 'usdcc' in protocols (have: usdc, weth)"),
    ("eth-crash", "protocols.aave.oracles.USDC=weth",
     "protocols.aave.oracles.USDC: 'weth' is a token.ledger, not a oracle (oracles.; oracles here: eth_usd, usdc_usd)"),
    ("eth-crash", "agents.0.params.oracle=usdc_usd",
     "agents.0.params.oracle: 'usdc_usd' is a oracles.fixed, not a push oracle (oracles.push; push oracles here: eth_usd)"),
    ("usde-redemptions", "protocols.perp_venue.markets.0.asset=BTC",
     "protocols.perp_venue.markets.0.asset: no feed 'BTC' in markets.feeds (have: ETH, USDe_flow)"),
    ("usde-redemptions", "agents.0.params.issuer=perp_venue",
     "agents.0.params.issuer: 'perp_venue' is a perps.orderbook, not a issuer (stablecoins.delta_neutral; issuers here: usde)"),
    ("payers", "agents.0.params.token=usdt", "agents.0.params.token: no token ledger 'usdt' in protocols (have: usdc)"),
])
def test_a_name_that_does_not_exist_is_refused_with_its_path(capsys, scenario, override, expected):
    assert refused(capsys, "validate", scenario, "--set", override) == expected


def test_a_missing_file_is_refused_with_its_path(capsys, tmp_path):
    s = write(tmp_path / "s.toml", """
        extends = "eth-crash"
        [protocols.aave.population]
        _replace = true
        csv = "borrowers.csv"
    """)
    msg = refused(capsys, "validate", s)
    assert msg.startswith("protocols.aave.population.csv: file not found: borrowers.csv (looked in ")
    assert str(tmp_path) in msg


# ---- A4: relative paths resolve beside the scenario file --------------------------------------

BOOK = "owner,collateral_asset,collateral,debt_asset,debt\nb/0,WETH,10,USDC,5000\nb/1,WETH,2,USDC,3000\n"


def book_scenario(tmp_path, book: str = BOOK, extra: str = ""):
    """eth-crash with its generated population replaced by the borrower book ``book.csv``."""
    write(tmp_path / "book.csv", book)
    return write(tmp_path / "s.toml", 'extends = "eth-crash"\n[protocols.aave.population]\n_replace = true\n'
                                      f'csv = "book.csv"\n{extra}')


def test_relative_paths_resolve_beside_the_scenario_not_the_working_directory(capsys, tmp_path, monkeypatch):
    write(tmp_path / "scn" / "eth.csv", "t,price\n0,2000\n600000,1500\n")
    write(tmp_path / "scn" / "book.csv", BOOK)
    s = write(tmp_path / "scn" / "s.toml", """
        extends = "eth-crash"
        [markets.feeds.ETH]
        kind = "csv"
        path = "eth.csv"
        [protocols.aave.population]
        _replace = true
        csv = "book.csv"
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    scenario = load_scenario(s)
    assert scenario.spec.markets.feeds["ETH"].path == str(tmp_path / "scn" / "eth.csv")
    assert scenario.protocols["aave"][1].population.csv == str(tmp_path / "scn" / "book.csv")
    rc, out, err = cli(capsys, "validate", s)
    assert (rc, err) == (0, ""), err


def test_a_base_files_relative_paths_resolve_beside_the_base(tmp_path):
    write(tmp_path / "base" / "eth.csv", "t,price\n0,2000\n")
    write(tmp_path / "base" / "base.toml", """
        extends = "eth-crash"
        [markets.feeds.ETH]
        kind = "csv"
        path = "eth.csv"
    """)
    child = write(tmp_path / "child" / "child.toml", 'extends = "../base/base.toml"\nname = "child"\n')
    assert load_scenario(child).spec.markets.feeds["ETH"].path == str(tmp_path / "base" / "eth.csv")


# ---- A5: validate finds what run would fail on ------------------------------------------------


def test_a_borrower_book_gives_its_own_assets(tmp_path):
    s = book_scenario(tmp_path)
    pool = simulation.Simulation(load_scenario(s)).protocols["aave"]
    rows = [r for r in range(pool.view().n_accounts()) if pool.view().owner(r).startswith("b/")]
    assert len(rows) == 2


def test_a_borrower_book_with_generating_keys_is_refused(capsys, tmp_path):
    s = book_scenario(tmp_path, extra='collateral_asset = "WETH"\n')
    msg = refused(capsys, "validate", s)
    assert msg.startswith("protocols.aave.population.collateral_asset: the borrower book ")
    assert msg.endswith("gives every position and its assets; remove collateral_asset (they describe a generated population)")


def test_a_borrower_book_asset_that_is_no_reserve_is_refused(capsys, tmp_path):
    s = book_scenario(tmp_path, BOOK.replace("b/1,WETH", "b/1,WBTC"))
    msg = refused(capsys, "validate", s)
    assert msg.startswith("protocols.aave.population.collateral_asset: 'WBTC' (in ")
    assert msg.endswith("is not a reserve (['WETH', 'USDC'])")


def test_validate_builds_the_protocols_a_run_would_build(capsys, monkeypatch):
    def broken(name, params, host):
        raise ValueError("protocols.aave: the factory refused")
    reg = simulation.default_registry()
    entry = reg.protocols["lending.aave_v3"]
    broken.view_roles = entry.factory.view_roles  # still a lending pool to the keepers' check
    monkeypatch.setitem(reg.protocols, "lending.aave_v3", entry._replace(factory=broken))
    assert refused(capsys, "validate", "eth-crash") == "protocols.aave: the factory refused"


# ---- B: hostile values ------------------------------------------------------------------------


@pytest.mark.parametrize("override, expected", [
    ("chain.initial_base_fee_gwei=1e300", "chain.initial_base_fee_gwei: Input should be less than or equal to 1000000"),
    ("protocols.aave.population.health_factor.high=.inf", "protocols.aave.population.health_factor.high: Input should be a finite number"),
    ("network.public_latency.sigma=1e300", "network.public_latency.sigma: Input should be less than or equal to 10"),
    ("protocols.aave.population.size_usd.sigma=1e300", "protocols.aave.population.size_usd.sigma: Input should be less than or equal to 10"),
    ("chain.gas_limit=true", "chain.gas_limit: expected a number, got the boolean true"),
    ("seed=true", "seed: expected a number, got the boolean true"),
    ("blocks=false", "blocks: expected a number, got the boolean false"),
    ("agents.1.params.max_per_block=true", "agents.1.params.max_per_block: expected a number, got the boolean true"),
    ("protocols.aave.reserves.0.ltv=true", "protocols.aave.reserves.0.ltv: expected a number, got the boolean true"),
    ("protocols.usdc.initial_balances.keeper/0=1e300", "protocols.usdc.initial_balances.keeper/0: 1e+300 is beyond any plausible value"),
    ("background.tip_gwei.median=1e9", "background.tip_gwei.median: 1e+09 is beyond any plausible value of a quantity in gwei (|x| ≤ 1e+06)"),
    ("agents.0.count=1e30", "agents.0.count: 1e+30 is too large for an integer"),
    ("agents.1.params.gas_limit=50000000",
     "agents.1.params.gas_limit: 50,000,000 gas is above the block gas limit chain.gas_limit (36,000,000): the transaction could never be included"),
    ("background.gas_per_tx=40000000",
     "background.gas_per_tx: 40,000,000 gas is above the block gas limit chain.gas_limit (36,000,000): no background transaction could be included"),
    ("name=" + "n" * 201, "name: String should have at most 200 characters"),
])
def test_hostile_values_are_refused_naming_the_key(capsys, override, expected):
    assert refused(capsys, "validate", "eth-crash", "--set", override).startswith(expected)


def test_sizes_beyond_the_machine_are_refused_with_the_memory_estimate(capsys, monkeypatch):
    monkeypatch.setattr(checks, "machine_memory_bytes", lambda: 16 * 2**30)
    msg = refused(capsys, "validate", "eth-crash", "--set", "protocols.aave.population.count=1000000000")
    assert msg.startswith("protocols.aave.population.count: 1e+09 borrowers need about 559 GB (about 600 B each); this machine has 16 GB of memory")
    msg = refused(capsys, "validate", "eth-crash", "--set", "agents.1.count=100000000000")
    assert msg.startswith("agents.1.count: 1e+11 agents need about 1.42 PB (about 15.6 KB each); this machine has 16 GB of memory")
    msg = refused(capsys, "validate", "eth-crash", "--set", "blocks=1000000000000")
    assert msg.startswith("blocks: 1e+12 blocks need about 3.55 PB (about 3.91 KB each)")


def test_duplicate_yaml_keys_are_refused_with_the_line(capsys, tmp_path):
    s = write(tmp_path / "s.yaml", "name: a\nseed: 1\nchain:\n  slot: 12s\n  slot: 2s\n")
    msg = refused(capsys, "validate", s)
    assert msg == f"{s}: malformed YAML at line 5, column 3: key 'slot' given twice (first at line 4)"


@pytest.mark.parametrize("text", ["", "\n\n# only a comment\n"])
def test_an_empty_file_is_refused(capsys, tmp_path, text):
    s = write(tmp_path / "s.toml", text)
    assert refused(capsys, "validate", s) == f"{s}: the file is empty (a scenario needs at least a name or an extends)"


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_deep_nesting_is_refused_without_exhausting_the_stack(capsys, tmp_path, suffix):
    deep = "[" * 3000 + "]" * 3000
    s = write(tmp_path / f"s{suffix}", f"name = {deep}\n" if suffix == ".toml" else f"name: {deep}\n")
    msg = refused(capsys, "validate", s)
    assert msg in (f"{s}: tables and lists nest too deeply to read", f"{s}: name.0.0.0...: tables and lists nest deeper than 32 levels")


def test_a_long_description_is_refused(capsys, tmp_path):
    s = write(tmp_path / "s.toml", f'extends = "eth-crash"\ndescription = "{"d" * 2_000_000}"\n')
    assert refused(capsys, "validate", s) == "description: String should have at most 10000 characters"


def test_an_override_in_exponent_notation_is_a_number(capsys):
    assert load_scenario("eth-crash", ["chain.initial_base_fee_gwei=2.5e1"]).spec.chain.initial_base_fee_gwei == 25.0
    assert load_scenario("eth-crash", ["chain.initial_base_fee_gwei=25e0"]).spec.chain.initial_base_fee_gwei == 25.0


# ---- extends: replacing a whole component ------------------------------------------------------


def test_extends_can_switch_a_feed_from_scripted_to_csv(tmp_path):
    write(tmp_path / "eth.csv", "t,price\n0,2000\n")
    s = write(tmp_path / "s.toml", 'extends = "eth-crash"\n[markets.feeds.ETH]\nkind = "csv"\npath = "eth.csv"\n')
    feed = load_scenario(s).spec.markets.feeds["ETH"]
    assert (feed.kind, feed.path) == ("csv", str(tmp_path / "eth.csv"))


def test_a_replace_marker_drops_the_base_keys():
    assert merge_scenarios({"a": {"x": 1, "y": 2}}, {"a": {"_replace": True, "x": 3}}) == {"a": {"x": 3}}
    assert merge_scenarios({"a": {"x": 1, "y": 2}}, {"a": {"x": 3}}) == {"a": {"x": 3, "y": 2}}
    with pytest.raises(ScenarioError, match=r"a\._replace: expected true or false"):
        merge_scenarios({"a": {"x": 1}}, {"a": {"_replace": "yes"}})


def test_a_replace_marker_in_a_file_without_a_base_is_dropped(tmp_path):
    s = write(tmp_path / "s.toml", 'name = "n"\n[background]\n_replace = true\nrate_tx_per_block = 3\n')
    assert load_scenario(s).spec.background.rate_tx_per_block == 3


# ---- runs that would do nothing, and failures inside a run -------------------------------------


def test_a_run_with_nothing_in_it_says_so(capsys, tmp_path):
    s = write(tmp_path / "s.toml", 'name = "idle"\nblocks = 2\n')
    rc, out, err = cli(capsys, "validate", s)
    assert rc == 0 and "note: nothing to simulate: no protocols, no agents and no background demand" in out


def test_a_scripted_move_after_the_end_is_noted(capsys):
    rc, out, err = cli(capsys, "validate", "eth-crash", "--set", "blocks=10")
    assert rc == 0
    assert "note: markets.feeds.ETH.moves.0 starts at 00:05:00.000, after the run ends (10 blocks × 12 s = 00:02:00.000)" in out


def test_a_failure_inside_the_run_is_one_line(capsys, monkeypatch, tmp_path):
    def overflow(self, blocks=None, progress=False):
        raise OverflowError("math range error")
    monkeypatch.setattr(simulation.Simulation, "run", overflow)
    msg = refused(capsys, "run", "payers", "--blocks", "2", "--out", tmp_path / "r", "--no-progress")
    assert msg == "the run failed: OverflowError: math range error"


@pytest.mark.parametrize("override, expected", [
    ("agents.2.params.venues={}",
     "agents.2.params.venue: venue 'dex_wbeth' quotes wBETH_conversion, no reserve of lst_pool (wBETH, USDC): "
     "name the reserve it sells there, e.g. venues = {wBETH = \"dex_wbeth\"}"),
    ("agents.2.params.venues={WETH: dex_wbeth}",
     "agents.2.params.venues.WETH: 'WETH' is not a reserve of lst_pool (reserves: wBETH, USDC)"),
])
def test_a_keeper_must_have_a_venue_for_the_collateral_it_takes(capsys, override, expected):
    assert refused(capsys, "validate", "oct-2025-cascade", "--set", override) == expected
