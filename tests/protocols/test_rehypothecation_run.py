"""Contagion through derived prices in a run, on the built-in
``rehypothecation`` scenario: ETH → stETH → wstETH → lender_a → its aUSDC → lender_b."""
from __future__ import annotations

import pytest

from defisim.scenario.loading import load_scenario
from defisim.run.simulation import Simulation

CUT_LST = "exposures.cut=[{source: wsteth_usd, target: steth_usd}]"
CUT_RECEIPT = "exposures.cut=[{source: ausdc_usd, target: lender_a}]"


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, overrides in {"base": [], "cut_lst": [CUT_LST], "cut_receipt": [CUT_RECEIPT]}.items():
        sim = Simulation(load_scenario("rehypothecation", overrides))
        out[name] = (sim, sim.run())
    return out


def test_the_base_shock_liquidates_a_pool_that_never_holds_the_base_asset(runs):
    sim, res = runs["base"]
    pool = sim.protocols["lender_a"]
    assert set(pool.params.tokens.values()) == {"wsteth", "usdc"}  # no ETH, no ETH oracle
    assert set(pool.params.oracles.values()) == {"wsteth_usd", "usdc_usd"}
    assert sim.scenario.spec.markets.feeds["wstETH"].moves == sim.scenario.spec.markets.feeds["ETH"].moves
    liq = res.liquidations
    assert (liq["pool"] == "lender_a").sum() > 0
    # the only price the pool reads moved because the ETH oracle did: 1.18 × 1 × eth_usd
    prices = res.prices.pivot_table(index="block", columns="name", values="price_usd")
    assert prices["wsteth_usd.answer"].to_numpy() == pytest.approx(1.18 * prices["eth_usd.answer"].to_numpy())


def test_cutting_the_derivation_edge_removes_the_liquidations(runs):
    sim, res = runs["cut_lst"]
    assert len(res.liquidations) == 0
    prices = res.prices.pivot_table(index="block", columns="name", values="price_usd")
    assert prices["wsteth_usd.answer"].nunique() == 1 and prices["eth_usd.answer"].min() < 1300.0
    assert not ((res.exposures["source"] == "wsteth_usd") & (res.exposures["target"] == "steth_usd")).any()


def test_a_deficit_writes_the_receipt_token_down_and_liquidates_the_next_pool(runs):
    sim, res = runs["base"]
    a = sim.protocols["lender_a"]
    usdc = a.index["USDC"]
    assert a.state.deficit[usdc] > 0
    written_down = 1.0 - a.state.deficit[usdc] / a.supplied_tokens()[usdc]
    assert sim.protocols["ausdc_usd"].price() == pytest.approx(written_down, rel=1e-12)
    assert (res.liquidations["pool"] == "lender_b").sum() > 0
    _, cut = runs["cut_receipt"]  # the same deficit, but aUSDC no longer reads it
    assert (cut.liquidations["pool"] == "lender_a").sum() == (res.liquidations["pool"] == "lender_a").sum()
    assert (cut.liquidations["pool"] == "lender_b").sum() == 0


def test_every_liquidation_block_has_a_snapshot_and_losses_reach_declared_counterparties(runs):
    _, res = runs["base"]
    assert set(res.liquidations["block"]) <= set(res.exposures["block"])
    assert "event" in set(res.exposures["trigger"])
    losses = res.contagion_losses
    fund = losses[losses["source"] == "restaking_fund"]
    treasury = losses[losses["source"] == "dao_treasury"]
    assert set(fund["target"]) >= {"wsteth"} and set(treasury["target"]) == {"restaking_fund"}
    assert treasury["block"].min() >= fund["block"].min() + 10  # the treasury's edge has a 10-block delay
    assert treasury["loss_usd"].sum() <= 2_000_000 + 1e-6  # never more than its exposure


def test_the_graph_tables_are_identical_for_the_same_seed(tmp_path):
    """Byte-identical in two processes with different string hashing (set and dict order)."""
    import filecmp
    import os
    import subprocess
    import sys

    names = ["exposures.parquet", "exposure_nodes.parquet", "contagion_losses.parquet", "liquidations.parquet"]
    for run, hashseed in (("a", "1"), ("b", "2")):
        subprocess.run([sys.executable, "-m", "defisim", "run", "rehypothecation", "--out", str(tmp_path / run),
                        "--no-progress"], check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": hashseed})
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert match == names
