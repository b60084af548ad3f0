"""Calls to the order-book perp venue on the engine: off the chain an order fills on arrival,
on chain it waits in the mempool for its block; deposits and withdrawals move the
collateral token, nothing else does (conservation)."""
import pytest

from defisim.base.tx import Call, TxStatus

MARKETS = {
    # the index jumps 10% at 5 s, between an order's arrival (1 s) and the next block (12 s)
    "feeds": {"X": {"kind": "scripted", "base_price_usd": 100.0, "moves": [{"kind": "jump", "at": "5s", "change": 0.1}]}},
    "venues": {"x_book": {"asset": "X", "depth": {"kind": "linear", "depth_usd_per_pct": 1e12}}},
}


def _venue(onchain: bool) -> dict:
    return {"kind": "perps.orderbook", "onchain": onchain, "collateral_token": "usd",
            "markets": [{"symbol": "X", "asset": "X", "book": "x_book", "max_leverage": 10.0}]}


def _run(sandbox, onchain: bool, trader):
    protocols = {"usd": {"kind": "token.ledger", "minter": "minter", "initial_balances": {"alice/0": 1000.0}},
                 "perp": _venue(onchain)}
    sim = sandbox.simulation({"alice": trader}, blocks=3, markets=MARKETS, protocols=protocols)
    sim.run()
    return sim


def test_offchain_orders_fill_on_arrival_and_onchain_ones_in_their_block(sandbox):
    seen = {}

    def offchain(ctx):
        yield ctx.delay(1_000)
        seen["deposit"] = yield ctx.call_offchain("perp", "deposit", usd=500.0)
        seen["order"] = yield ctx.call_offchain("perp", "order", market="X", size=20.0)
        seen["tx"] = yield ctx.submit(Call("perp", "order", {"market": "X", "size": 1.0}), 300_000, 100.0, 2.0)

    sim = _run(sandbox, False, offchain)
    assert seen["deposit"] == (True, 500.0)
    assert seen["order"][0] and seen["order"][1] == pytest.approx(100.0)  # before the jump
    assert seen["tx"].status == TxStatus.REVERTED and seen["tx"].reason == "perp is off-chain"

    def onchain(ctx):
        yield ctx.delay(1_000)
        seen["deposit"] = yield ctx.submit(Call("perp", "deposit", {"usd": 500.0}), 100_000, 100.0, 2.0)
        seen["order"] = yield ctx.submit(Call("perp", "order", {"market": "X", "size": 20.0}), 300_000, 100.0, 2.0)
        with pytest.raises(ValueError, match="on chain"):
            yield ctx.call_offchain("perp", "order", market="X", size=1.0)

    sim = _run(sandbox, True, onchain)
    order = seen["order"]
    assert seen["deposit"].ok and order.ok and order.time_ms >= 12_000
    assert order.result == pytest.approx(110.0)  # filled in its block, after the jump
    ch = sim.protocols["perp"].state
    assert ch.size[ch.rows["alice/0"]].tolist() == [20.0]


def test_margin_is_checked_and_withdrawals_return_tokens(sandbox):
    seen = {}

    def trader(ctx):
        yield ctx.delay(1_000)
        yield ctx.call_offchain("perp", "deposit", usd=100.0)
        seen["too_big"] = yield ctx.call_offchain("perp", "order", market="X", size=11.0)  # $1,100 at 10× needs $110
        seen["ok"] = yield ctx.call_offchain("perp", "order", market="X", size=9.0)
        seen["too_much_out"] = yield ctx.call_offchain("perp", "withdraw", usd=50.0)  # $90 must stay
        seen["out"] = yield ctx.call_offchain("perp", "withdraw", usd=5.0)
        seen["overdraw"] = yield ctx.call_offchain("perp", "deposit", usd=5_000.0)

    sim = _run(sandbox, False, trader)
    assert seen["too_big"] == (False, "alice/0: equity below initial margin after the order")
    assert seen["ok"][0]
    assert not seen["too_much_out"][0] and seen["out"] == (True, 5.0)
    assert not seen["overdraw"][0]
    usd = sim.protocols["usd"]
    assert usd.balance_of("alice/0") == 905.0 and usd.balance_of("perp") == 95.0
    assert usd.balance_of("alice/0") + usd.balance_of("perp") == 1000.0  # moved, not created


def test_malformed_calls_revert_and_change_nothing(sandbox):
    seen = {}

    def trader(ctx):
        yield ctx.delay(1_000)
        seen["missing"] = yield ctx.call_offchain("perp", "deposit", amount=5.0)
        seen["text"] = yield ctx.call_offchain("perp", "deposit", usd="500")
        seen["nan"] = yield ctx.call_offchain("perp", "order", market="X", size=float("nan"))

    sim = _run(sandbox, False, trader)
    assert seen["missing"] == (False, "bad arguments: missing ['usd'], unknown ['amount']")
    assert seen["text"][0] is False and "finite number" in seen["text"][1]
    assert seen["nan"][0] is False
    assert sim.protocols["usd"].balance_of("alice/0") == 1000.0 and "alice/0" not in sim.protocols["perp"].state.rows
