"""The built-in ``flash-crash``, smaller: keepers without capital liquidate with flash loans,
each liquidation repays its loan inside its own transaction, the keepers end with exactly the
profits the contract settled, and tokens are conserved."""
import numpy as np
import pytest

from defisim.run.simulation import Simulation
from defisim.scenario.loading import load_scenario

SMALL = ["protocols.aave.population.count=1500", "blocks=90"]


@pytest.fixture(scope="module")
def run():
    sim = Simulation(load_scenario("flash-crash", SMALL))
    return sim, sim.run()


def test_keepers_without_capital_liquidate_and_keep_what_the_contract_settled(run):
    sim, res = run
    flash = res.tables["flash_liquidations"]
    assert len(res.liquidations) > 10 and len(flash) == len(res.liquidations)
    assert set(res.liquidations["liquidator"]) == {"flash"}  # the contract is the liquidator of record
    assert (flash["profit"] > 0).all()
    # each loan is the debt its liquidation repaid, and the sale covered it and its 5 bps premium
    assert np.allclose(flash["loan"].to_numpy(), res.liquidations["debt_repaid"].to_numpy(), rtol=0, atol=0)
    assert np.allclose(flash["premium"], flash["loan"] * 0.0005, rtol=1e-12)
    assert (flash["debt_bought"] >= flash["loan"] + flash["premium"]).all()
    usdc = sim.protocols["usdc"]
    for keeper, profit in flash.groupby("keeper")["profit"].sum().items():
        assert usdc.balance_of(keeper) == pytest.approx(profit, rel=1e-12)  # they started with nothing
    assert usdc.balance_of("flash") == pytest.approx(0.0, abs=1e-6) and sim.protocols["weth"].balance_of("flash") == pytest.approx(0.0, abs=1e-9)
    assert res.summary()["keeper_profit_usd"] == pytest.approx(flash["profit_usd"].sum(), rel=1e-12)


def test_tokens_are_conserved(run):
    sim, res = run
    for name in ("weth", "usdc"):
        ledger = sim.protocols[name]
        balances = ledger.state.balances["balance"]
        assert balances.sum() == pytest.approx(ledger.state.total_supply, rel=1e-12)
        assert (balances >= -1e-6).all()
    assert (res.transfers["kind"] == "transfer").all()


def test_losers_of_a_race_revert_and_pay_gas(run):
    sim, res = run
    attempts = res.txs[res.txs["method"] == "liquidate"]
    lost = attempts[attempts["status"] == "reverted"]
    assert (lost["fee_paid_gwei"] > 0).all()
    assert res.summary()["reverted_liquidations"] == len(lost)
