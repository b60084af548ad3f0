"""``crisis_summary``: headline crisis metrics from a run's tables alone, fresh or loaded."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from defisim.results.crisis import crisis_summary, keeper_profit_usd, time_to_liquidate_s
from defisim.results.results import Results
from defisim.scenario.loading import load_scenario
from defisim.run.simulation import Simulation


def _liquidations(rows):
    cols = ["block", "pool", "liquidator", "user", "collateral_asset", "debt_asset", "debt_repaid", "debt_repaid_usd",
            "collateral_seized", "liquidator_collateral", "protocol_fee_collateral", "deficit_usd", "hf_before"]
    return pd.DataFrame(rows, columns=cols)


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
        "oracle_updates": pd.DataFrame({"oracle": ["eth_usd"] * 3, "lag_ms": [8000, 12000, 15500]}),
        "prices": pd.DataFrame({
            "block": [1, 1, 1, 1, 2, 2, 2, 2, 3, 3],
            "source": ["feed", "venue", "venue", "protocol", "feed", "venue", "venue", "protocol", "feed", "venue"],
            "name": ["ETH", "cex", "dex", "eth_usd.answer", "ETH", "cex", "dex", "eth_usd.answer", "ETH", "cex"],
            "price_usd": [2000.0, 2000.0, 2000.0, 2000.0, 1500.0, 1400.0, 1450.0, 1480.0, 1600.0, 1550.0],
        }),
    }


def test_tiny_tables_give_hand_computed_metrics(tiny):
    result = crisis_summary(tiny)
    expected = {
        "liquidations": 3,
        "liquidated_usd": 3500.0,  # 1000 + 2000 + 500
        "bad_debt_usd": 200.0,  # 150 + 50
        "reverted_liquidations": 2,  # k/1 and k/2; the reverted transfer is not a liquidation
        "keeper_gas_eth": 0.07,  # (2e7 + 3e7 + 1e7 + 5e6 + 5e6) gwei / 1e9
        "keeper_profit_usd": 90.0,  # k/0, k/1 only: (1100 + 540 + 2050 − 100) − 3500
        "oracle_updates": 3,
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


def test_keeper_profit_counts_unsold_collateral_as_zero(tiny):
    assert keeper_profit_usd(tiny["liquidations"], tiny["venue_trades"].iloc[:0]) == -3500.0


def test_no_crisis_tables_give_an_empty_dict():
    assert crisis_summary({}) == {}
    scenario = load_scenario("payers", ["blocks=5"])  # token payers only: no lending, oracle or market
    tables = Simulation(scenario).run().tables
    assert "liquidations" not in tables
    assert crisis_summary(tables) == {}


def test_each_group_needs_only_its_own_tables(tiny):
    assert list(crisis_summary({"oracle_updates": tiny["oracle_updates"]})) == [
        "oracle_updates", "oracle_lag_max_s", "oracle_lag_mean_s"]
    assert list(crisis_summary({"liquidations": tiny["liquidations"]})) == ["liquidations", "liquidated_usd", "bad_debt_usd"]
    assert crisis_summary({"prices": tiny["prices"].iloc[:0]}) == {}


def test_empty_tables_give_zeros_and_nan_not_errors(tiny):
    empty = {name: df.iloc[:0] for name, df in tiny.items()}
    result = crisis_summary(empty)
    assert result["liquidations"] == 0 and result["reverted_liquidations"] == 0
    assert result["liquidated_usd"] == result["bad_debt_usd"] == result["keeper_gas_eth"] == result["keeper_profit_usd"] == 0.0
    assert result["oracle_updates"] == 0
    assert math.isnan(result["oracle_lag_max_s"]) and math.isnan(result["oracle_lag_mean_s"])


@pytest.fixture(scope="module")
def crash_tables():
    scenario = load_scenario("eth-crash", ["protocols.aave.population.count=500", "blocks=60"])
    return Simulation(scenario).run()


def test_real_run_is_consistent_with_its_tables(crash_tables):
    tables = crash_tables.tables
    result = crisis_summary(tables)
    liq, txs = tables["liquidations"], tables["txs"]
    assert result["liquidations"] == len(liq) > 0
    calls = txs[txs["method"] == "liquidation_call"]
    assert result["reverted_liquidations"] == int((calls["status"] == "reverted").sum())
    assert result["liquidated_usd"] == pytest.approx(float(liq["debt_repaid_usd"].sum()))
    assert result["bad_debt_usd"] == pytest.approx(float(liq["deficit_usd"].sum()))
    assert result["keeper_gas_eth"] == pytest.approx(float(calls["fee_paid_gwei"].sum()) / 1e9) and result["keeper_gas_eth"] > 0
    assert result["oracle_updates"] == len(tables["oracle_updates"]) > 0
    assert 0 < result["oracle_lag_mean_s"] <= result["oracle_lag_max_s"]
    # keepers sell into the venue, so its mid goes below the true price
    assert result["min_price_usd.venue.cex"] <= result["min_price_usd.feed.ETH"] < 2000.0


def test_loaded_results_give_the_same_summary(crash_tables, tmp_path):
    loaded = Results.load(crash_tables.save(tmp_path / "run"))
    assert crisis_summary(loaded.tables) == crisis_summary(crash_tables.tables)


def test_time_to_liquidate_carries_each_pools_last_row_forward(tiny):
    # pool a: 5, 3, 0 accounts below HF 1 at blocks 10, 20, 30; pool b: 0 at 15 and 25. Between its
    # rows a pool's backlog holds, so all pools together: 5 from block 10, 3 from 20, none from 30
    hf = pd.DataFrame({"block": [10, 15, 20, 25, 30], "pool": ["a", "b", "a", "b", "a"], "below_1": [5, 0, 3, 0, 0],
                       "debt_below_1_usd": [500.0, 0.0, 300.0, 0.0, 0.0]})
    blocks = pd.DataFrame({"block": range(1, 41), "time_ms": range(12_000, 492_000, 12_000)})
    assert time_to_liquidate_s(hf, blocks) == (30 - 10) * 12.0
    result = crisis_summary({**tiny, "health_factors": hf, "blocks": blocks})
    assert result["time_to_liquidate_s"] == 240.0
    assert result["liquidation_backlog_at_end"] == 0 and result["liquidation_backlog_usd_at_end"] == 0.0
    # the run ends before pool a's backlog clears: counted to the last block (a lower bound), reported as cut off
    cut = crisis_summary({**tiny, "health_factors": hf.iloc[:4], "blocks": blocks})
    assert cut["time_to_liquidate_s"] == (40 - 10) * 12.0
    assert cut["liquidation_backlog_at_end"] == 3 and cut["liquidation_backlog_usd_at_end"] == 300.0


def _shortfall_by_account(pool) -> float:
    """Σ over accounts of max(debt − collateral, 0) in USD, one account and one reserve at a time."""
    prices = pool.prices_usd()
    coll, debt = pool.balances()
    total = 0.0
    for row in range(coll.shape[0]):
        debt_usd = sum(float(debt[row, r]) * float(prices[r]) for r in range(len(prices)))
        coll_usd = sum(float(coll[row, r]) * float(prices[r]) for r in range(len(prices)))
        total += max(debt_usd - coll_usd, 0.0)
    return total


def test_pool_shortfall_is_the_uncovered_debt_left_at_the_end():
    # a deep crash the keepers (one call a block) cannot keep up with: accounts left under water
    scenario = load_scenario("sweep-small", ["protocols.aave.population.count=200", "agents.1.params.max_per_block=1",
                                             "markets.feeds.ETH.moves.0.change=-0.6"])
    sim = Simulation(scenario)
    summary = sim.run().summary()
    expected = _shortfall_by_account(sim.protocols["aave"])
    assert expected > 0 and summary["aave.shortfall_usd"] == pytest.approx(expected, rel=1e-9)
