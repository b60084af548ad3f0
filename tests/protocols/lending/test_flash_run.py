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


def test_two_keepers_outbid_each_other_in_the_public_mempool_and_the_loser_pays_gas():
    """race = "outbid": a keeper that sees a rival's liquidation of an account it has pending,
    tipping as much or more, replaces its own by fee; the builder puts the higher tip first, the
    other call reverts and pays gas. Every bid is a row of ``txs`` (replaced ones dropped)."""
    sim = Simulation(load_scenario("flash-crash", SMALL + ["agents.2.count=2", "agents.2.params.race=outbid"]))
    res = sim.run()
    receipts = [r for r in sim.chain._tx_log.rows if r.tx.call.method == "liquidate"]
    replaced = [r for r in receipts if r.status.name == "DROPPED" and r.reason == "replaced"]
    assert replaced  # the outbidding happened
    # each replacement tips more than the bid it replaced (same sender and nonce)
    by_nonce = {}
    for r in sorted(receipts, key=lambda r: r.tx.seq):
        by_nonce.setdefault((r.tx.sender, r.tx.nonce), []).append(r.tx.priority_fee_gwei)
    assert all(b > a for tips in by_nonce.values() for a, b in zip(tips, tips[1:]))
    assert any(len(t) > 2 for t in by_nonce.values())  # a war, not a single bump
    # per account and block: one winner, first in the block; the losers revert, paying gas
    landed = {}
    for r in receipts:
        if r.block >= 0:
            landed.setdefault((r.block, r.tx.call.args["user"]), []).append(r)
    contested = [rs for rs in landed.values() if len(rs) > 1]
    assert contested
    for rs in contested:
        won = [r for r in rs if r.ok]
        lost = [r for r in rs if not r.ok]
        assert len(won) <= 1 and lost and all(r.fee_paid_gwei > 0 for r in lost)
        if won:
            for r in lost:
                assert won[0].index < r.index
                # a loser that tipped more was held back by an earlier nonce of its own in the block
                # (the builder keeps each sender's nonce order: a cheap head delays the rest)
                assert won[0].tx.priority_fee_gwei >= r.tx.priority_fee_gwei or any(
                    o.tx.sender == r.tx.sender and o.block == r.block and o.tx.nonce < r.tx.nonce
                    and o.tx.priority_fee_gwei < won[0].tx.priority_fee_gwei for o in sim.chain._tx_log.rows)
    # the summary's gas counts the losers' gas too
    gas = sum(r.fee_paid_gwei for r in receipts) / 1e9
    assert res.summary()["keeper_gas_eth"] == pytest.approx(gas, rel=1e-9)
