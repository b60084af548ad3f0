"""Invariants over random call sequences (Hypothesis): a reverted call leaves every state array
bit-identical and still pays gas; token totals change only by mint and burn."""
import copy

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base.eventlog import EventLog
from defisim.chain.execution import Executor
from defisim.base.protocol import BlockInfo
from defisim.base.tx import Call, Tx, TxStatus
from protocols.token import LedgerParams, TokenLedger

ADDRS = ["alice", "bob", "carol", "minter", "zed"]


class Host:
    def __init__(self):
        self.log = EventLog()


amounts = st.one_of(
    st.floats(min_value=-10, max_value=2_000),
    st.sampled_from([0.0, 1e-12, 100.0, 1_000.0, 1_000.0000001, float("nan"), float("inf"), -float("inf")]),
)
calls = st.one_of(
    st.builds(lambda s, t, a: (s, Call("usd", "transfer", {"to": t, "amount": a})), st.sampled_from(ADDRS), st.sampled_from(ADDRS), amounts),
    st.builds(lambda s, t, a: (s, Call("usd", "mint", {"to": t, "amount": a})), st.sampled_from(ADDRS), st.sampled_from(ADDRS), amounts),
    st.builds(lambda s, a: (s, Call("usd", "burn", {"amount": a})), st.sampled_from(ADDRS), amounts),
    st.builds(lambda s: (s, Call("usd", "rug", {})), st.sampled_from(ADDRS)),
    st.builds(lambda s: (s, Call("nowhere", "transfer", {})), st.sampled_from(ADDRS)),
)


def snapshot(ledger: TokenLedger):
    s = ledger.state
    return copy.deepcopy(s.accounts), s.balances.copy(), s.total_supply


@settings(max_examples=300, deadline=None)
@given(st.lists(calls, max_size=40), st.lists(st.integers(min_value=1_000, max_value=80_000), min_size=40, max_size=40))
def test_reverted_call_leaves_state_bit_identical(seq, gas_limits):
    ledger = TokenLedger("usd", LedgerParams(minter="minter", initial_balances={"alice": 1000.0, "bob": 50.0}), Host())
    ex = Executor({"usd": ledger})
    ex.begin_block(BlockInfo(1, 1, 12_000, 20.0, 36_000_000))
    minted = burned = 0.0
    for i, (sender, call) in enumerate(seq):
        tx = Tx(sender, i, call, gas_limits[i], 100.0, 1.0, False, -1, i, 0, 0)
        accounts, balances, supply = snapshot(ledger)
        status, reason, gas_used, _ = ex.execute(tx)
        if status == TxStatus.REVERTED:
            assert reason
            assert 0 < gas_used <= tx.gas_limit  # gas is paid
            assert ledger.state.accounts == accounts
            assert ledger.state.balances.equals(balances)
            assert ledger.state.total_supply == supply
        else:
            assert gas_used <= tx.gas_limit
            if call.method == "mint":
                minted += call.args["amount"]
            elif call.method == "burn":
                burned += call.args["amount"]
        bal = ledger.state.balances["balance"]
        assert (bal >= 0).all()
        assert np.isclose(bal.sum(), 1050.0 + minted - burned, rtol=1e-12, atol=1e-9)
        assert np.isclose(ledger.state.total_supply, 1050.0 + minted - burned, rtol=1e-12, atol=1e-9)


def test_reverted_tx_pays_gas_on_chain(sandbox):
    seen = {}

    def broke(ctx):
        yield ctx.delay(1_000)
        seen["r"] = yield ctx.submit(Call("usd", "transfer", {"to": "bob/0", "amount": 1e9}), 60_000, 100.0, 2.0)

    sim = sandbox.simulation({"alice": broke}, blocks=1)
    res = sim.run()
    r = seen["r"]
    spec = type(sim.protocols["usd"]).handlers["transfer"]
    assert r.status == TxStatus.REVERTED and r.reason == "transfer amount exceeds balance"
    assert r.gas_used == spec.revert_gas
    assert r.fee_paid_gwei == spec.revert_gas * (20.0 + 2.0)
    assert res.txs["fee_paid_gwei"].iloc[0] == r.fee_paid_gwei
    assert sim.protocols["usd"].balance_of("alice/0") == 1000.0
    assert len(res.transfers) == 0


def test_out_of_gas_uses_the_whole_limit(sandbox):
    seen = {}

    def stingy(ctx):
        yield ctx.delay(1_000)
        seen["r"] = yield ctx.submit(Call("usd", "transfer", {"to": "bob/0", "amount": 1.0}), 30_000, 100.0, 2.0)

    sim = sandbox.simulation({"alice": stingy}, blocks=1)
    sim.run()
    assert seen["r"].status == TxStatus.REVERTED and seen["r"].reason == "out of gas"
    assert seen["r"].gas_used == 30_000
    assert sim.protocols["usd"].balance_of("bob/0") == 1000.0


def test_calls_with_wrong_arguments_revert_instead_of_crashing():
    ledger = TokenLedger("usd", LedgerParams(initial_balances={"alice": 10.0}), Host())
    ex = Executor({"usd": ledger})
    ex.begin_block(BlockInfo(1, 1, 12_000, 20.0, 36_000_000))
    for args in ({"to": "bob"}, {"to": "bob", "amount": 1.0, "memo": "x"}, {}):
        status, reason, gas, _ = ex.execute(Tx("alice", 0, Call("usd", "transfer", args), 60_000, 100.0, 1.0, False, -1, 0, 0, 0))
        assert status == TxStatus.REVERTED and reason.startswith("bad arguments") and gas == 21_000
    assert ledger.balance_of("alice") == 10.0
