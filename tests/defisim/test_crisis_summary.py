"""``crisis_summary``: headline crisis metrics from a run's tables alone, read by result role, fresh or loaded."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from defisim.base.eventlog import EventLog
from defisim.results.crisis import crisis_summary, keeper_profit_usd, run_warnings, time_to_liquidate_s
from defisim.results.results import Results
from defisim.results.roles import CALLS_KEY
from defisim.run.end_loss import END_COLUMNS
from defisim.scenario.loading import builtin_scenarios, load_scenario, validate_scenario
from defisim.run.simulation import Simulation
from protocols.lending.aave_v3.model import (HEALTH_COLUMNS, HEALTH_ROLE, LIQUIDATION_COLUMNS, LIQUIDATION_ROLE)
from protocols.oracles.model import UPDATE_COLUMNS


def _schema() -> dict:
    """The schema a run with an Aave-like pool and a push oracle writes: tables, roles, liquidation calls."""
    log = EventLog()
    log.declare("liquidations", "", LIQUIDATION_COLUMNS, role="liquidations", role_columns=LIQUIDATION_ROLE)
    log.declare("health_factors", "", HEALTH_COLUMNS, role="positions", role_columns=HEALTH_ROLE)
    log.declare("oracle_updates", "", UPDATE_COLUMNS, role="oracle_rounds")
    schema = log.schema()
    schema["txs"] = {"doc": "", "columns": {}, CALLS_KEY: {"liquidation": [["aave", "liquidation_call"]]}}
    return schema


SCHEMA = _schema()


def _liquidations(rows):
    cols = ["block", "pool", "liquidator", "user", "collateral_asset", "debt_asset", "debt_repaid", "debt_repaid_usd",
            "collateral_seized", "liquidator_collateral", "protocol_fee_collateral", "deficit_usd", "hf_before"]
    df = pd.DataFrame(rows, columns=cols)
    df.insert(9, "collateral_seized_usd", df["collateral_seized"] * 1900.0)
    return df


def _txs(rows):
    return pd.DataFrame(rows, columns=["sender", "target", "method", "status", "fee_paid_gwei", "block"])


@pytest.fixture
def tiny() -> dict[str, pd.DataFrame]:
    """Three liquidations by two keepers, a third keeper who only lost races, a market maker."""
    return {
        "liquidations": _liquidations([
            (10, "aave", "k/0", "b/1", "WETH", "USDC", 1000.0, 1000.0, 0.55, 0.54, 0.01, 0.0, 0.98),
            (11, "aave", "k/1", "b/2", "WETH", "USDC", 2000.0, 2000.0, 1.40, 1.38, 0.02, 150.0, 0.80),
            (11, "aave", "k/0", "b/3", "WETH", "USDC", 500.0, 500.0, 0.36, 0.35, 0.01, 50.0, 0.85),
        ]),
        "txs": _txs([
            ("k/0", "aave", "liquidation_call", "included", 2e7, 10),
            ("k/1", "aave", "liquidation_call", "included", 3e7, 11),
            ("k/0", "aave", "liquidation_call", "included", 1e7, 11),
            ("k/1", "aave", "liquidation_call", "reverted", 5e6, 10),
            ("k/2", "aave", "liquidation_call", "reverted", 5e6, 11),
            ("k/2", "aave", "liquidation_call", "dropped", 0.0, -1),
            ("k/0", "weth", "transfer", "reverted", 1e6, 12),  # not a liquidation: neither gas nor count
            ("oracle/0", "eth_usd", "transmit", "included", 9e6, 9),
        ]),
        "venue_trades": pd.DataFrame({
            "time_ms": [130_000, 131_000, 140_000, 141_000, 142_000, 143_000],
            "venue": ["cex"] * 6,
            "trader": ["k/0", "k/0", "k/1", "k/1", "mm/0", "k/2"],  # mm/0 and k/2 liquidated nobody
            "side": ["sell", "sell", "sell", "buy", "sell", "sell"],
            "usd": [1100.0, 540.0, 2050.0, 100.0, 999.0, 70.0],
        }),
        "oracle_updates": pd.DataFrame({"block": [9, 10, 11], "oracle": ["eth_usd"] * 3, "lag_ms": [8000, 12000, 15500]}),
        "prices": pd.DataFrame({
            "block": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3],
            "source": ["feed", "venue", "venue", "protocol", "feed", "venue", "venue", "protocol", "feed", "venue"],
            "name": ["ETH", "cex", "dex", "eth_usd.answer", "ETH", "cex", "dex", "eth_usd.answer", "ETH", "cex"],
            "price_usd": [2000.0, 2000.0, 2000.0, 2000.0, 1500.0, 1400.0, 1450.0, 1480.0, 1600.0, 1550.0],
        }),
    }


def test_tiny_tables_give_hand_computed_metrics(tiny):
    result = crisis_summary(tiny, SCHEMA)
    expected = {
        "liquidations": 3,
        "liquidated_usd": 3500.0,  # 1000 + 2000 + 500
        "written_off_usd": 200.0,  # 150 + 50
        "total_loss_usd": 200.0,  # no end-of-run books: only what was written off
        "reverted_liquidations": 2,  # k/1 and k/2; the reverted transfer is not a liquidation
        "keeper_gas_eth": 0.07,  # (2e7 + 3e7 + 1e7 + 5e6 + 5e6) gwei / 1e9
        "keeper_profit_usd": 90.0,  # k/0, k/1 only: (1100 + 540 + 2050 − 100) − 3500
        "oracle_rounds": 3,
        "oracle_lag_max_s": 15.5,
        "oracle_lag_mean_s": 35.5 / 3,
        "min_price_usd.venue.cex": 1400.0,
        "min_price_usd.venue.dex": 1450.0,
        "min_price_usd.feed.ETH": 1500.0,
        "min_price_usd.protocol.eth_usd.answer": 1480.0,
    }
    assert list(result) == list(expected)
    assert result == pytest.approx(expected, rel=1e-12)
    assert all(type(v) in (int, float) for v in result.values())


def test_a_table_is_read_by_its_role_not_its_name(tiny):
    # the same rows under other table and column names, declared with the same roles, give the same summary
    renamed = {("loans_closed" if n == "liquidations" else n): df for n, df in tiny.items()}
    renamed["loans_closed"] = renamed["loans_closed"].rename(columns={"user": "borrower"})
    schema = {("loans_closed" if n == "liquidations" else n): dict(e) for n, e in SCHEMA.items()}
    schema["loans_closed"]["role_columns"] = {**schema["loans_closed"]["role_columns"], "account": "borrower"}
    assert crisis_summary(renamed, schema) == crisis_summary(tiny, SCHEMA)
    # without roles the tables mean nothing to the engine
    assert crisis_summary(tiny, {}).keys() == {"min_price_usd.venue.cex", "min_price_usd.venue.dex",
                                               "min_price_usd.feed.ETH", "min_price_usd.protocol.eth_usd.answer"}


def test_keeper_profit_counts_unsold_collateral_as_zero(tiny):
    assert keeper_profit_usd(tiny["liquidations"], tiny["venue_trades"].iloc[:0]) == -3500.0


def test_no_crisis_tables_give_an_empty_dict():
    assert crisis_summary({}, {}) == {}
    scenario = load_scenario("payers", ["blocks=5"])  # token payers only: no lending, oracle or market
    results = Simulation(scenario).run()
    assert "liquidations" not in results.tables
    assert crisis_summary(results.tables, results.schema) == {}


def test_each_group_needs_only_its_own_tables(tiny):
    assert list(crisis_summary({"oracle_updates": tiny["oracle_updates"]}, SCHEMA)) == [
        "oracle_rounds", "oracle_lag_max_s", "oracle_lag_mean_s"]
    assert list(crisis_summary({"liquidations": tiny["liquidations"]}, SCHEMA)) == [
        "liquidations", "liquidated_usd", "written_off_usd", "total_loss_usd"]
    assert crisis_summary({"prices": tiny["prices"].iloc[:0]}, SCHEMA) == {}


def test_empty_tables_give_zeros_and_nan_not_errors(tiny):
    empty = {name: df.iloc[:0] for name, df in tiny.items()}
    result = crisis_summary(empty, SCHEMA)
    assert result["liquidations"] == 0 and result["reverted_liquidations"] == 0
    assert result["liquidated_usd"] == result["written_off_usd"] == result["keeper_gas_eth"] == result["keeper_profit_usd"] == 0.0
    assert result["oracle_rounds"] == 0
    assert math.isnan(result["oracle_lag_max_s"]) and math.isnan(result["oracle_lag_mean_s"])


@pytest.fixture(scope="module")
def crash_tables():
    scenario = load_scenario("eth-crash", ["protocols.aave.population.count=500", "blocks=60"])
    return Simulation(scenario).run()


def test_real_run_is_consistent_with_its_tables(crash_tables):
    tables = crash_tables.tables
    result = crisis_summary(tables, crash_tables.schema)
    liq, txs = tables["liquidations"], tables["txs"]
    assert result["liquidations"] == len(liq) > 0
    calls = txs[txs["method"] == "liquidation_call"]
    assert result["reverted_liquidations"] == int((calls["status"] == "reverted").sum())
    assert result["liquidated_usd"] == pytest.approx(float(liq["debt_repaid_usd"].sum()))
    assert result["written_off_usd"] == pytest.approx(float(liq["deficit_usd"].sum()))
    assert result["keeper_gas_eth"] == pytest.approx(float(calls["fee_paid_gwei"].sum()) / 1e9) and result["keeper_gas_eth"] > 0
    assert result["oracle_rounds"] == len(tables["oracle_updates"]) > 0
    assert 0 < result["oracle_lag_mean_s"] <= result["oracle_lag_max_s"]
    # keepers sell into the venue, so its mid goes below the true price
    assert result["min_price_usd.venue.cex"] <= result["min_price_usd.feed.ETH"] < 2000.0


def test_loaded_results_give_the_same_summary(crash_tables, tmp_path):
    loaded = Results.load(crash_tables.save(tmp_path / "run"))
    assert {n: e.get("role") for n, e in loaded.schema.items()} == {n: e.get("role") for n, e in crash_tables.schema.items()}
    a, b = crisis_summary(loaded.tables, loaded.schema), crisis_summary(crash_tables.tables, crash_tables.schema)
    assert a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
    assert loaded.meta["warnings"] == crash_tables.meta["warnings"]


def _health(block, pool, below_1, debt_below_1_usd, uncovered_usd):
    n = len(block)
    return pd.DataFrame({"block": block, "pool": pool, "hf_p01": [0.9] * n, "hf_p05": [1.0] * n, "hf_p25": [1.2] * n,
                         "hf_p50": [1.5] * n, "borrowers": [10] * n, "below_1": below_1,
                         "debt_below_1_usd": debt_below_1_usd, "uncovered_usd": uncovered_usd})


def _end(liquidatable_accounts, liquidatable_debt_usd, uncovered_usd, uncovered_venue_usd):
    return pd.DataFrame([("aave", 10, 1e6, liquidatable_accounts, liquidatable_debt_usd, uncovered_usd,
                          uncovered_venue_usd, "WETH=venue:cex")], columns=[c.name for c in END_COLUMNS])


def test_time_to_liquidate_carries_each_pools_last_row_forward(tiny):
    # pool a: 5, 3, 0 accounts below HF 1 at blocks 10, 20, 30; pool b: 0 at 15 and 25. Between its
    # rows a pool's backlog holds, so all pools together: 5 from block 10, 3 from 20, none from 30
    hf = _health([10, 15, 20, 25, 30], ["a", "b", "a", "b", "a"], [5, 0, 3, 0, 0], [500.0, 0.0, 300.0, 0.0, 0.0],
                 [0.0] * 5)
    blocks = pd.DataFrame({"block": range(1, 41), "time_ms": range(12_000, 492_000, 12_000)})
    frame = hf.rename(columns={"pool": "protocol"})
    assert time_to_liquidate_s(frame, blocks) == (30 - 10) * 12.0
    result = crisis_summary({**tiny, "health_factors": hf, "blocks": blocks, "loss_at_end": _end(0, 0.0, 0.0, 0.0)},
                            SCHEMA)
    assert result["time_to_liquidate_s"] == 240.0 and result["liquidation_cut_off"] == 0
    assert result["liquidation_backlog_at_end"] == 0 and result["liquidation_backlog_usd_at_end"] == 0.0
    # the run ends before pool a's backlog clears: counted to the last block it would be a lower
    # bound, so it is no time at all, and the summary says the run was cut off
    assert time_to_liquidate_s(frame.iloc[:4], blocks) == (40 - 10) * 12.0
    cut = crisis_summary({**tiny, "health_factors": hf.iloc[:4], "blocks": blocks,
                          "loss_at_end": _end(3, 300.0, 20.0, 35.0)}, SCHEMA)
    assert math.isnan(cut["time_to_liquidate_s"]) and cut["liquidation_cut_off"] == 1
    assert cut["liquidation_backlog_at_end"] == 3 and cut["liquidation_backlog_usd_at_end"] == 300.0
    # total loss: written off (150 + 50) plus what no collateral covers at the end
    assert cut["uncovered_usd"] == 20.0 and cut["total_loss_usd"] == 220.0
    assert cut["uncovered_venue_usd"] == 35.0 and cut["total_loss_venue_usd"] == 235.0
    assert run_warnings(cut)[0].startswith("the run ends with 3 accounts ($300 of debt) still liquidatable")


def _uncovered_by_account(pool, prices) -> float:
    """Σ over accounts of max(debt − collateral, 0) in USD, one account and one reserve at a time;
    debt at the pool's oracle prices, collateral at ``prices``."""
    debt_prices = pool.prices_usd()
    coll, debt = pool.balances()
    total = 0.0
    for row in range(coll.shape[0]):
        debt_usd = sum(float(debt[row, r]) * float(debt_prices[r]) for r in range(len(prices)))
        coll_usd = sum(float(coll[row, r]) * float(prices[r]) for r in range(len(prices)))
        total += max(debt_usd - coll_usd, 0.0)
    return total


def test_total_loss_counts_the_uncovered_debt_left_at_the_end():
    # a deep crash the keepers (one call a block) cannot keep up with: accounts left under water
    scenario = load_scenario("sweep-small", ["protocols.aave.population.count=200", "agents.1.params.max_per_block=1",
                                             "markets.feeds.ETH.moves.0.change=-0.6"])
    sim = Simulation(scenario)
    results = sim.run()
    summary = results.summary()
    pool = sim.protocols["aave"]
    at_oracle = _uncovered_by_account(pool, pool.prices_usd())
    venue_mid = sim.venues["cex"].mid(sim.env.now)  # WETH sells as ETH on the venue cex
    at_venue = _uncovered_by_account(pool, np.array([venue_mid, pool.prices_usd()[1]]))
    assert at_oracle > 0 and summary["uncovered_usd"] == pytest.approx(at_oracle, rel=1e-9)
    assert summary["uncovered_venue_usd"] == pytest.approx(at_venue, rel=1e-9) and at_venue != at_oracle
    assert summary["total_loss_usd"] == summary["written_off_usd"] + summary["uncovered_usd"]
    hf = pool.health_factors()
    below = (hf < 1) & (pool.balances()[1].sum(axis=1) > 0)
    assert summary["liquidation_backlog_at_end"] == int(below.sum()) > 0
    assert summary["liquidation_cut_off"] == 1 and math.isnan(summary["time_to_liquidate_s"])
    assert any("still liquidatable" in w for w in results.meta["warnings"])


LENDING_BUILTINS = [n for n in builtin_scenarios() if n not in ("payers", "usde-redemptions")]


@pytest.mark.parametrize("name", LENDING_BUILTINS)
def test_written_off_plus_uncovered_is_the_total_on_every_builtin(name):
    results = Simulation(load_scenario(name, ["blocks=40"])).run()
    s = results.summary()
    if "total_loss_usd" not in s:
        pytest.skip(f"{name} has no lending book")
    assert s["total_loss_usd"] == pytest.approx(s["written_off_usd"] + s.get("uncovered_usd", 0.0), rel=1e-12, abs=1e-9)
    if "uncovered_venue_usd" in s:
        assert s["total_loss_venue_usd"] == pytest.approx(s["written_off_usd"] + s["uncovered_venue_usd"], rel=1e-12,
                                                          abs=1e-9)
    # each protocol's own column of what a liquidation wrote off, summed table by table
    written = sum(float(results.tables[t][c].sum()) for t, c in WRITTEN_OFF_COLUMNS.items() if t in results.tables)
    assert s["written_off_usd"] == pytest.approx(written)
    filling = {t for t, info in results.schema.items() if info.get("role") in ("liquidations", "losses")}
    assert filling <= set(WRITTEN_OFF_COLUMNS), f"name the written-off column of {sorted(filling - set(WRITTEN_OFF_COLUMNS))}"


#: Tables filling the liquidations or losses role in the built-ins, and their written-off column (USD).
WRITTEN_OFF_COLUMNS = {"liquidations": "deficit_usd", "morpho_liquidations": "bad_debt_usd",
                       "comet_absorbs": "shortfall_usd", "maker_liquidations": "written_off_usd",
                       "maker_losses": "written_off_usd"}


def test_a_stale_oracle_hides_no_loss():
    # the oracle never updates while ETH falls 99%: at the oracle's price nothing is lost, at the
    # venue's the collateral no longer covers the debt; the summary has both and warns
    data = load_scenario("eth-crash", ["protocols.aave.population.count=300", "blocks=40",
                                       "markets.feeds.ETH.moves.0.start=1m",
                                       "markets.feeds.ETH.moves.0.change=-0.99"]).to_dict()
    data["agents"] = [a for a in data["agents"] if a["kind"] != "oracles.push_updater"]
    results = Simulation(validate_scenario(data)).run()
    s = results.summary()
    assert s["oracle_rounds"] == 0 and s["liquidations"] == 0
    assert s["total_loss_usd"] == 0.0 and s["total_loss_venue_usd"] > 0.5 * results.tables["loss_at_end"]["debt_usd"].sum()
    assert results.tables["loss_at_end"]["valued_at"].iloc[0] == "WETH=venue:cex, USDC=oracle"
    assert results.meta["warnings"][0].startswith("with collateral valued at its venue's price the total loss is $")


def test_losses_and_auctions_roles_count_in_the_summary(tiny):
    # a protocol writing off debt outside a liquidation (a settled auction's shortfall) adds to the
    # debt written off; its auctions are counted with what they had to raise and what they raised
    from defisim.base.eventlog import Column

    log = EventLog()
    log.declare("vault_losses", "", [Column("blk", "int64", ""), Column("vault", "string", ""),
                                     Column("bad_usd", "float64", "")], role="losses",
                role_columns={"block": "blk", "protocol": "vault", "written_off_usd": "bad_usd"})
    log.declare("flips", "", [Column("block", "int64", ""), Column("protocol", "string", ""),
                              Column("account", "string", ""), Column("debt_usd", "float64", ""),
                              Column("proceeds_usd", "float64", ""), Column("winner", "string", "")], role="auctions")
    schema = {**SCHEMA, **log.schema()}
    tables = {**tiny,
              "vault_losses": pd.DataFrame({"blk": [12, 13], "vault": ["maker"] * 2, "bad_usd": [30.0, 70.0]}),
              "flips": pd.DataFrame({"block": [12, 13], "protocol": ["maker"] * 2, "account": ["u1", "u2"],
                                     "debt_usd": [1000.0, 500.0], "proceeds_usd": [970.0, 430.0],
                                     "winner": ["k/0", "k/1"]})}
    s = crisis_summary(tables, schema)
    assert s["written_off_usd"] == 200.0 + 100.0 and s["total_loss_usd"] == 300.0
    assert s["auctions"] == 2 and s["auction_debt_usd"] == 1500.0 and s["auction_proceeds_usd"] == 1400.0


def test_a_table_that_does_not_fill_its_role_is_refused():
    from defisim.base.eventlog import Column

    with pytest.raises(ValueError, match="role 'losses': field 'written_off_usd' is filled by no column"):
        EventLog().declare("x", "", [Column("block", "int64", ""), Column("protocol", "string", "")], role="losses")
    with pytest.raises(ValueError, match="field 'block' needs int64, column 'block' is float64"):
        EventLog().declare("x", "", [Column("block", "float64", ""), Column("protocol", "string", ""),
                                     Column("written_off_usd", "float64", "")], role="losses")
    with pytest.raises(ValueError, match="no result role 'loss'"):
        EventLog().declare("x", "", [Column("block", "int64", "")], role="loss")


def test_profits_settled_on_chain_replace_the_venue_reckoning_of_their_contract():
    """A flash liquidation's contract is the liquidator of record and never trades on a venue:
    its profit is the one the contract settled, not −debt repaid."""
    liq = pd.DataFrame({"liquidator": ["k/0", "flash", "flash"], "debt_repaid_usd": [1000.0, 5000.0, 7000.0]})
    trades = pd.DataFrame({"trader": ["k/0"], "side": ["sell"], "usd": [1050.0]})
    settled = pd.DataFrame({"liquidator": ["flash", "flash"], "keeper": ["f/0", "f/1"], "profit_usd": [40.0, 25.5]})
    assert keeper_profit_usd(liq, trades, settled) == 50.0 + 65.5
    assert keeper_profit_usd(liq, trades) == 1050.0 - 13_000.0
