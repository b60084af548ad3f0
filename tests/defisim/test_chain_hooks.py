"""Per-block hooks, background spikes and result round trips."""
import pandas as pd
import pytest

from defisim.base.eventlog import Column
from defisim.base.protocol import Protocol, handler
from defisim.results.results import Results
from defisim.base.tx import Call, Revert
from pydantic import BaseModel, ConfigDict


class VaultParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rate_per_block: float = 0.01


class Vault(Protocol):
    """A deposit that grows by a fixed rate each block through an index (on_block accrual)."""

    kind = "test.vault"
    Params = VaultParams

    def __init__(self, name, params, host):
        super().__init__(name, params, host)
        self.state = {"index": 1.0, "scaled": {}, "blocks_seen": []}

    def on_block(self, block):
        self.state["index"] *= 1 + self.params.rate_per_block
        self.state["blocks_seen"].append(block.number)

    @handler(gas=40_000)
    def deposit(self, sender, amount):
        if amount <= 0:
            raise Revert("zero deposit")
        self.state["scaled"][sender] = self.state["scaled"].get(sender, 0.0) + amount / self.state["index"]

    def balance(self, who):
        return self.state["scaled"].get(who, 0.0) * self.state["index"]


def test_on_block_runs_once_per_block_before_the_txs(sandbox):
    sandbox.registry.protocol("test.vault", VaultParams, Vault)

    def saver(ctx):
        yield ctx.delay(1_000)
        yield ctx.submit(Call("vault", "deposit", {"amount": 100.0}), 60_000, 100.0, 1.0)

    sim = sandbox.simulation({"alice": saver}, blocks=4, protocols={"vault": {"kind": "test.vault"}})
    sim.run()
    vault = sim.protocols["vault"]
    assert vault.state["blocks_seen"] == [1, 2, 3, 4]
    # deposited in block 1 after its accrual, then grows in blocks 2, 3, 4
    assert vault.balance("alice/0") == pytest.approx(100.0 * 1.01**3, rel=1e-12)


def test_spike_scales_background_demand(sandbox):
    spike = {"start": "60s", "duration": "60s", "rate_multiplier": 3.0, "tip_multiplier": 10.0}
    res = sandbox.simulation(
        blocks=15,
        background={"rate_tx_per_block": 100, "max_fee_gwei": {"kind": "fixed", "value": 1e6}, "spikes": [spike]},
    ).run()
    b = res.blocks.set_index("block")
    inside = b.loc[(b["time_ms"] >= 60_000) & (b["time_ms"] < 120_000)]
    outside = b.loc[(b["time_ms"] < 60_000)]
    assert len(inside) == 5
    assert inside["background_demand"].mean() > 2.3 * outside["background_demand"].mean()
    assert inside["min_tip_gwei"].median() > 5 * outside["min_tip_gwei"].median()


def test_results_round_trip(tmp_path, sandbox):
    def payer(ctx):
        for _ in range(3):
            yield ctx.new_block
            ctx.submit(Call("usd", "transfer", {"to": "bob/0", "amount": 1.0}), 60_000, 100.0, 1.0)

    res = sandbox.simulation({"alice": payer}, blocks=5, background={"rate_tx_per_block": 50}).run()
    back = Results.load(res.save(tmp_path / "out"))
    assert set(back.tables) == set(res.tables) >= {"blocks", "txs", "missed_slots", "bundles", "transfers"}
    for name, df in res.tables.items():
        pd.testing.assert_frame_equal(back.tables[name], df)
    assert back.summary().keys() == res.summary().keys()
    assert back.meta["scenario_hash"] == res.meta["scenario_hash"] and back.meta["seed"] == 0
    with pytest.raises(FileNotFoundError):
        Results.load(tmp_path / "nothing")


class Picky(Protocol):
    """Takes deposits of at most 10; a refused deposit is recorded by ``on_revert``."""

    kind = "test.picky"
    Params = VaultParams

    def __init__(self, name, params, host):
        super().__init__(name, params, host)
        self.state = {"held": 0.0}
        self.refused = host.log.declare("refused", "refused deposits", [
            Column("block", "int64", "block number"), Column("sender", "string", "caller"),
            Column("amount", "float64", "tokens"), Column("reason", "string", "why"),
            Column("held", "float64", "tokens held when refused")])

    @handler(gas=40_000, revert_gas=25_000)
    def deposit(self, sender, amount):
        if amount > 10:
            raise Revert("too much")
        self.state["held"] += amount

    def on_revert(self, sender, method, args, reason):
        self.refused.append((self.block.number, sender, args["amount"], reason, self.state["held"]))


def test_on_revert_hears_of_a_reverted_call_with_its_state_untouched(sandbox):
    sandbox.registry.protocol("test.picky", VaultParams, Picky)

    def saver(ctx):
        yield ctx.delay(1_000)
        for amount in (4.0, 50.0, 5.0):
            ctx.submit(Call("picky", "deposit", {"amount": amount}), 60_000, 100.0, 1.0)

    res = sandbox.simulation({"alice": saver}, blocks=2, protocols={"picky": {"kind": "test.picky"}}).run()
    txs = res.txs[res.txs["target"] == "picky"]
    assert list(txs["status"]) == ["included", "reverted", "included"]
    refused = res.tables["refused"]
    # one row, for the reverted call only, written after it with the state it met
    assert refused[["block", "sender", "amount", "reason", "held"]].values.tolist() == [[1, "alice/0", 50.0, "too much", 4.0]]


def test_agents_signing_for_one_address_share_its_nonces_and_shared_objects(sandbox):
    """Two agents each send a payment signed by the same third address (``ctx.account``): the run
    has one context for that address, so the payments take nonces 0 and 1 and both land (two
    contexts would both send nonce 0, and the second would be refused as an underpriced
    replacement). ``ctx.shared`` hands both agents the object the first one made."""
    made = []

    def payer(ctx):
        desk = ctx.shared("desk", lambda: made.append(ctx.name) or {"by": ctx.name})
        hot = ctx.account("hot")
        assert hot is ctx.account("hot") and desk is ctx.shared("desk", dict)
        yield ctx.delay(1_000)
        yield hot.submit(Call("usd", "transfer", {"to": ctx.name, "amount": 10.0}), 60_000, 100.0, 1.0)

    sim = sandbox.simulation({"alice": payer, "bob": payer}, blocks=2,
                             protocols__usd__initial_balances={"hot": 100.0})
    res = sim.run()
    sent = res.txs[res.txs["sender"] == "hot"]
    assert sorted(sent["nonce"]) == [0, 1] and (sent["status"] == "included").all()
    assert sim.protocols["usd"].balance_of("hot") == pytest.approx(80.0)
    assert made == ["alice/0"]
