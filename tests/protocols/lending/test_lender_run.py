"""Lenders who run (``lending.lender_run``) and what makes a run visible: the pool's cash per
reserve (``reserves``), every withdrawal paid or refused with the cash it met (``withdrawals``).
A withdrawal larger than the reserve's cash reverts whole (Aave v3 ``SupplyLogic.executeWithdraw``)."""
import numpy as np
import pandas as pd
import pytest

from defisim.base.tx import TxStatus
from defisim.run.simulation import Simulation
from defisim.scenario.loading import ScenarioError, validate_scenario

from .test_aave_pool import Market


def withdrawals(market):
    return market.host.log.tables["withdrawals"].to_frame()


def test_first_withdrawal_within_cash_is_paid_the_second_beyond_it_reverts():
    """Cash C = 40,000 USDC; bob withdraws w1 = 30,000, then carol w2 = 20,000: w1 ≤ C < w1 + w2."""
    m = Market()  # 'lenders' supplied 100,000 USDC; bob holds 50,000
    usdc = m.host.protocols["usdc"]
    usdc.move("bob", "carol", 20_000.0)
    assert m.call("bob", "supply", asset="USDC", amount=30_000.0)[0] == TxStatus.INCLUDED
    assert m.call("carol", "supply", asset="USDC", amount=20_000.0)[0] == TxStatus.INCLUDED
    assert m.call("alice", "supply", asset="WETH", amount=10.0)[0] == TxStatus.INCLUDED
    assert m.call("alice", "borrow", asset="USDC", amount=16_000.0)[0] == TxStatus.INCLUDED
    assert m.call("lenders", "withdraw", asset="USDC", amount=94_000.0)[0] == TxStatus.INCLUDED
    cash = usdc.balance_of("aave")  # 150,000 supplied − 16,000 borrowed − 94,000 withdrawn
    assert cash == pytest.approx(40_000.0)
    totals = m.totals()
    w1, w2 = 30_000.0, 20_000.0
    assert w1 <= cash < w1 + w2
    first = m.call("bob", "withdraw", asset="USDC", amount=w1)
    assert first[0] == TxStatus.INCLUDED and first[3] == pytest.approx(w1)
    second = m.call("carol", "withdraw", asset="USDC", amount=w2)
    assert (second[0], second[1]) == (TxStatus.REVERTED, "not enough liquidity")  # whole, never a part
    assert usdc.balance_of("carol") == 0.0 and m.pool.account("carol")[0][1] == pytest.approx(w2)
    assert usdc.balance_of("bob") == pytest.approx(w1)
    assert m.totals() == pytest.approx(totals, rel=1e-12)  # tokens moved, none created or lost
    rows = withdrawals(m).iloc[-2:][["user", "amount", "cash_before", "status", "reason"]].values.tolist()
    assert rows == [["bob", pytest.approx(w1), pytest.approx(40_000.0), "included", ""],
                    ["carol", pytest.approx(w2), pytest.approx(10_000.0), "reverted", "not enough liquidity"]]
    # what is left goes to whoever asks for no more than it; then the reserve is dry
    assert m.call("carol", "withdraw", asset="USDC", amount=10_000.0)[0] == TxStatus.INCLUDED
    assert usdc.balance_of("aave") == pytest.approx(0.0, abs=1e-6)
    assert m.pool.utilization()[1] == pytest.approx(1.0)
    assert m.call("carol", "withdraw", asset="USDC", amount=1.0)[1] == "not enough liquidity"
    assert m.totals() == pytest.approx(totals, rel=1e-12)


def test_reserves_rows_and_the_liquidity_summary():
    m = Market(reserves_every_blocks=1)
    m.call("alice", "supply", asset="WETH", amount=10.0)
    m.call("alice", "borrow", asset="USDC", amount=15_000.0)
    m.block(12_000)
    reserves = m.host.log.tables["reserves"].to_frame()
    row = reserves[(reserves["block"] == 2) & (reserves["asset"] == "USDC")].iloc[0]
    assert row["cash"] == pytest.approx(85_000.0)
    assert row["borrowed"] == pytest.approx(15_000.0, rel=1e-6)
    assert row["utilization"] == pytest.approx(row["borrowed"] / (row["borrowed"] + 85_000.0), rel=1e-12)
    assert row["borrow_rate"] == pytest.approx(0.04 * 0.15 / 0.9, rel=1e-6)
    m.call("lenders", "withdraw", asset="USDC", amount=90_000.0)  # more than the cash
    m.call("lenders", "withdraw", asset="USDC", amount=85_000.0)
    m.block(24_000)
    tables = m.host.log.frames()
    out = m.pool.summary(tables)
    assert (out["withdrawals"], out["failed_withdrawals"]) == (1, 1)
    assert out["min_cash_usd"] == pytest.approx(0.0, abs=1e-6)
    assert out["max_utilization"] == pytest.approx(1.0)


# --- runs -----------------------------------------------------------------------------------------

RESERVES = [
    dict(symbol="WETH", ltv=0.805, liquidation_threshold=0.83, liquidation_bonus=0.05, reserve_factor=0.15,
         rate_strategy=dict(optimal_utilization=0.9, slope1=0.027, slope2=0.80)),
    dict(symbol="USDC", ltv=0.75, liquidation_threshold=0.78, liquidation_bonus=0.045, reserve_factor=0.10,
         rate_strategy=dict(optimal_utilization=0.9, slope1=0.04, slope2=0.60)),
]


def bank(run: dict | None = None, lenders: dict | None = None, blocks: int = 30, agents: bool = True) -> dict:
    """A pool whose 200 borrowers hold most of its USDC: 2M of cash, about 5.3M lent out
    (utilisation 0.73), supplied by 40 lenders who run above a utilisation of 0.5–0.7."""
    return {
        "name": "bank-run", "seed": 3, "blocks": blocks,
        "chain": {"slot": "12s", "gas_limit": 36_000_000, "initial_base_fee_gwei": 20.0},
        "network": {"public_latency": {"kind": "fixed", "value": "100ms"},
                    "private_latency": {"kind": "fixed", "value": "50ms"}},
        "background": {"rate_tx_per_block": 20},
        "protocols": {
            "weth": {"kind": "token.ledger", "symbol": "WETH"},
            "usdc": {"kind": "token.ledger", "symbol": "USDC"},
            "eth_usd": {"kind": "oracles.fixed", "price": 2000.0},
            "usdc_usd": {"kind": "oracles.fixed", "price": 1.0},
            "aave": {"kind": "lending.aave_v3", "tokens": {"WETH": "weth", "USDC": "usdc"},
                     "oracles": {"WETH": "eth_usd", "USDC": "usdc_usd"}, "reserves": RESERVES,
                     "seed_supply": {"USDC": 2_000_000.0},
                     "population": {"count": 200, "size_usd": {"kind": "lognormal", "median": 50_000.0, "sigma": 0.5},
                                    "health_factor": {"kind": "uniform", "low": 1.3, "high": 2.0}},
                     "lenders": {"count": 40, **(lenders or {})}, "reserves_every_blocks": 1},
        },
        "agents": [{"kind": "lending.lender_run", "name": "run",
                    "params": {"pool": "aave", "asset": "USDC",
                               "utilization": {"kind": "uniform", "low": 0.5, "high": 0.7},
                               "reaction": {"kind": "exponential", "mean": "30s"}, **(run or {})}}] if agents else [],
    }


def simulate(raw: dict):
    sim = Simulation(validate_scenario(raw))
    start = {name: sim.protocols[name].state.balances["balance"].sum() for name in ("weth", "usdc")}
    return sim, sim.run(), start


def usdc_rows(res):
    w = res.tables["withdrawals"]
    return w[w["asset"] == "USDC"]


def assert_conserved(sim, res, start):
    for name in ("weth", "usdc"):
        ledger = sim.protocols[name]
        balances = ledger.state.balances["balance"]
        assert balances.sum() == pytest.approx(start[name], rel=1e-12)
        assert ledger.state.total_supply == pytest.approx(start[name], rel=1e-12)
        assert (balances >= -1e-9).all()
    assert (res.transfers["kind"] == "transfer").all()  # nothing minted or burned


def assert_paid_exactly_when_the_cash_covers_it(rows):
    paid, refused = rows[rows["status"] == "included"], rows[rows["status"] == "reverted"]
    assert (paid["amount"] <= paid["cash_before"]).all()
    assert (refused["amount"] > refused["cash_before"]).all()
    assert (refused["reason"] == "not enough liquidity").all()


@pytest.fixture(scope="module")
def run_whole():
    """Each lender asks for its whole deposit every time."""
    return simulate(bank())


def test_a_run_is_paid_while_the_cash_lasts_then_refused(run_whole):
    sim, res, start = run_whole
    rows = usdc_rows(res)
    paid, refused = rows[rows["status"] == "included"], rows[rows["status"] == "reverted"]
    assert len(paid) > 0 and len(refused) > 0
    assert_paid_exactly_when_the_cash_covers_it(rows)
    # the paid ones came first, out of the 2M of cash: after them what is left covers no one's deposit
    assert paid["amount"].sum() <= 2_000_000.0 and rows.index[rows["status"] == "reverted"][0] > paid.index[-1]
    pool, usdc = sim.protocols["aave"], sim.protocols["usdc"]
    assert usdc.balance_of("aave") == pytest.approx(2_000_000.0 - paid["amount"].sum(), rel=1e-9)
    assert sum(usdc.balance_of(u) for u in paid["user"]) == pytest.approx(paid["amount"].sum(), rel=1e-12)
    # a refused lender keeps its deposit and tries again in the next block, to the end of the run
    first = refused.iloc[0]
    tries = refused.loc[refused["user"] == first["user"], "block"].tolist()
    assert tries == list(range(first["block"], res.meta["blocks"] + 1))
    assert pool.account(first["user"])[0][1] >= first["amount"]
    # the summary and the chain's own record of the same attempts agree
    s = res.summary()
    txs = res.txs[(res.txs["method"] == "withdraw") & (res.txs["block"] >= 0)]
    assert s["aave.failed_withdrawals"] == len(refused) == int((txs["reason"] == "not enough liquidity").sum())
    assert s["aave.withdrawals"] == len(paid) == int((txs["status"] == "included").sum())
    # the reserve is nearly dry and its rate near the top of the curve
    reserves = res.tables["reserves"]
    last = reserves[reserves["asset"] == "USDC"].iloc[-1]
    assert last["cash"] == pytest.approx(usdc.balance_of("aave"), rel=1e-9)
    assert last["utilization"] > 0.99 and s["aave.max_utilization"] == last["utilization"]
    assert s["aave.min_cash_usd"] == pytest.approx(last["cash"], rel=1e-12)
    assert_conserved(sim, res, start)


def test_lenders_taking_what_is_there_drain_the_reserve_to_zero():
    sim, res, start = simulate(bank({"take_what_is_there": True}))
    rows = usdc_rows(res)
    assert_paid_exactly_when_the_cash_covers_it(rows)
    usdc = sim.protocols["usdc"]
    assert usdc.balance_of("aave") == pytest.approx(0.0, abs=1e-6)
    s = res.summary()
    assert s["aave.max_utilization"] == 1.0 and s["aave.min_cash_usd"] == pytest.approx(0.0, abs=1e-6)
    # once the reserve is dry (utilisation 1) every withdrawal fails; lenders who read no cash send none
    reserves = res.tables["reserves"]
    usdc_reserve = reserves[reserves["asset"] == "USDC"].set_index("block")
    dry = usdc_reserve.index[usdc_reserve["cash"] <= 1e-6]
    assert len(dry) > 0 and (usdc_reserve.loc[dry, "utilization"] == 1.0).all()
    assert (rows.loc[rows["block"] >= dry[0], "status"] == "reverted").all()
    assert rows["block"].max() < dry[0] + 1  # no one sends into a dry reserve
    assert s["aave.failed_withdrawals"] < 40  # a race for the last cash, not a retry storm
    assert_conserved(sim, res, start)


def test_no_run_below_the_thresholds_and_none_refused_while_the_cash_covers_the_runners():
    # thresholds above the utilisation: nobody moves
    _sim, calm, _start = simulate(bank({"utilization": {"kind": "uniform", "low": 0.8, "high": 0.95}}))
    assert len(usdc_rows(calm)) == 0 and (calm.txs["method"] == "withdraw").sum() == 0
    # a tenth of 40 equal lenders run (182,000 USDC each): their deposits fit in the 2M of cash, so all are paid
    sim, some, start = simulate(bank({"share": 0.1}, lenders={"size": {"kind": "fixed", "value": 1.0}}))
    rows = usdc_rows(some)
    assert len(rows) > 0 and (rows["status"] == "included").all()
    assert some.summary()["aave.failed_withdrawals"] == 0 and some.summary()["aave.max_utilization"] < 1.0
    assert_conserved(sim, some, start)


def test_a_lender_that_does_not_retry_fails_once():
    _sim, res, _start = simulate(bank({"retry_every_blocks": 0}))
    refused = usdc_rows(res)
    refused = refused[refused["status"] == "reverted"]
    assert len(refused) > 0 and refused["user"].is_unique


def test_losses_move_lenders_who_watch_them():
    raw = bank({"utilization": None, "losses": {"kind": "fixed", "value": 0.01}, "reaction": {"kind": "fixed", "value": 0}},
               blocks=12)
    sim = Simulation(validate_scenario(raw))
    pool = sim.protocols["aave"]

    def write_off(env):  # at 60 s a USDC deficit appears, as a liquidation would leave it
        yield env.timeout(60_000)
        pool.state.deficit[1] = 0.05 * pool.supplied_tokens()[1]
        assert pool.distress() > 0.01  # of all deposits, the borrowers' WETH included

    sim.env.process(write_off(sim.env))
    res = sim.run()
    rows = usdc_rows(res)
    assert len(rows) > 0
    assert rows["block"].min() >= 6  # nobody ran before the loss (block 5 is sealed at 60 s)
    assert_paid_exactly_when_the_cash_covers_it(rows)


def test_the_crowd_holds_what_one_account_held():
    raw = bank(agents=False)
    crowd = Simulation(validate_scenario(raw))
    del raw["protocols"]["aave"]["lenders"]
    one = Simulation(validate_scenario(raw))
    a, b = one.protocols["aave"], crowd.protocols["aave"]
    whole = a.account("lenders")[0]
    parts = np.array([b.account(f"lender/{i}")[0] for i in range(40)])
    assert parts.sum(axis=0) == pytest.approx(whole, rel=1e-12)
    assert (parts[:, 1] > 0).all() and b.account("lenders")[0].sum() == 0.0
    assert np.array_equal(a.state.total_collateral_scaled, b.state.total_collateral_scaled)
    assert np.array_equal(a.cash(), b.cash()) and np.array_equal(a.utilization(), b.utilization())


@pytest.mark.parametrize("change, message", [
    ({"agents": [{"kind": "lending.lender_run", "params": {"pool": "aave", "asset": "DAI"}}]}, "not a reserve"),
    ({"agents": [{"kind": "lending.lender_run", "count": 2, "params": {"pool": "aave", "asset": "USDC"}}]}, "count = 1"),
    ({"agents": [{"kind": "lending.lender_run", "name": "lender", "params": {"pool": "aave", "asset": "USDC"}}]},
     "first lender"),
    ({"agents": [{"kind": "lending.lender_run", "params": {"pool": "aave", "asset": "USDC", "utilization": None}}]},
     "at least one threshold"),
])
def test_scenario_errors_name_the_problem(change, message):
    with pytest.raises(ScenarioError, match=message):
        validate_scenario(bank() | change)


def test_a_pool_without_a_crowd_is_refused():
    raw = bank()
    del raw["protocols"]["aave"]["lenders"]
    with pytest.raises(ScenarioError, match=r"agents\.0\.params\.pool: .*lenders"):
        validate_scenario(raw)


def test_same_seed_same_run(run_whole):
    _sim, res, _start = run_whole
    _sim2, again, _start2 = simulate(bank())
    pd.testing.assert_frame_equal(again.tables["withdrawals"], res.tables["withdrawals"])
    pd.testing.assert_frame_equal(again.tables["reserves"], res.tables["reserves"])
