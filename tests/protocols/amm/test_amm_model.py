"""AMM pools as protocols: swaps on the chain, reverts, invariants over random call sequences."""
import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base.eventlog import EventLog
from defisim.chain.execution import Executor
from defisim.base.protocol import BlockInfo
from defisim.base.registry import Registry
from defisim.scenario.loading import ScenarioError
from defisim.base.tx import Call, Revert, Tx, TxStatus
from protocols.amm import CpmmParams, CpmmPool, StableSwapParams, StableSwapPool, register
from protocols.amm.math import get_amount_out, get_D, get_dy

CPMM = {"kind": "amm.cpmm", "token0": "ETH", "token1": "USDC", "reserve0": 1_000.0, "reserve1": 2_000_000.0}
CURVE = {"kind": "amm.stableswap", "token0": "USDe", "token1": "USDC", "reserve0": 50e6, "reserve1": 50e6, "A": 100}


class Host:
    def __init__(self):
        self.log = EventLog()


def make(kind_params):
    body = dict(kind_params)
    kind = body.pop("kind")
    cls = {"amm.cpmm": CpmmPool, "amm.stableswap": StableSwapPool}[kind]
    return cls("pool", cls.Params(**body), Host())


def swap_tx(sender, n, args):
    """A plain transaction calling ``pool.swap(**args)`` (nonce and seq ``n``)."""
    return Tx(sender, n, Call("pool", "swap", args), 300_000, 100.0, 1.0, False, -1, n, 0, 0)


def bits(pool):
    """The pool's state as exact bit patterns."""
    return [x.hex() for x in pool.state.reserves], [x.hex() for x in pool.state.fees]


def test_register_adds_both_kinds():
    reg = Registry()
    register(reg)
    assert reg.protocols["amm.cpmm"].params is CpmmParams and reg.protocols["amm.cpmm"].factory is CpmmPool
    assert reg.protocols["amm.stableswap"].params is StableSwapParams
    assert CpmmPool.kind == "amm.cpmm" and StableSwapPool.kind == "amm.stableswap"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"token1": "USDe"}, "protocols.pool: token0 and token1 must differ"),
        ({"reserve0": -1.0}, "protocols.pool.reserve0"),
        ({"reserve1": float("inf")}, "protocols.pool.reserve1"),
        ({"fee": 1.0}, "protocols.pool.fee"),
        ({"A": 0.5}, "protocols.pool.A"),
        ({"depth": 3}, "protocols.pool.depth: unknown key"),
    ],
)
def test_params_fail_at_construction_with_the_dotted_path(sandbox, change, message):
    register(sandbox.registry)
    with pytest.raises(ScenarioError, match=message.replace(".", r"\.")):
        sandbox.scenario(protocols={"pool": {**CURVE, **change}})


@pytest.mark.parametrize(
    "pool, token_in, amount_in, expected",
    [
        (CPMM, "ETH", 100.0, lambda: get_amount_out(100.0, 1_000.0, 2_000_000.0, 0.003)),
        (CPMM, "USDC", 100_000.0, lambda: get_amount_out(100_000.0, 2_000_000.0, 1_000.0, 0.003)),
        (CURVE, "USDe", 10e6, lambda: get_dy(0, 1, 10e6, [50e6, 50e6], 100, 0.0001)),
    ],
    ids=["cpmm-sell-token0", "cpmm-sell-token1", "stableswap"],
)
def test_swap_on_chain_then_slippage_revert(sandbox, pool, token_in, amount_in, expected):
    register(sandbox.registry)
    seen = {}

    def trader(ctx):
        yield ctx.delay(1_000)
        call = Call("pool", "swap", {"token_in": token_in, "amount_in": amount_in, "min_amount_out": 0.99 * expected()})
        seen["ok"] = yield ctx.submit(call, 300_000, 100.0, 1.0)
        seen["view_before"] = ctx.view("pool")
        greedy = {"token_in": token_in, "amount_in": amount_in, "min_amount_out": 2 * expected()}
        seen["reverted"] = yield ctx.submit(Call("pool", "swap", greedy), 300_000, 100.0, 1.0)
        seen["view_after"] = ctx.view("pool")

    sim = sandbox.simulation({"trader": trader}, blocks=3, protocols={"pool": pool})
    res = sim.run()
    p = sim.protocols["pool"]
    i = p.tokens.index(token_in)
    start = [pool["reserve0"], pool["reserve1"]]

    ok = seen["ok"]
    assert ok.status == TxStatus.INCLUDED and ok.result == pytest.approx(expected(), rel=1e-15)
    result = list(seen["view_before"]["reserves"])
    expected_reserves = list(start)
    expected_reserves[i] += amount_in
    expected_reserves[1 - i] -= ok.result
    assert result == expected_reserves  # exactly the math's numbers
    assert ok.gas_used == type(p).handlers["swap"].gas

    bad = seen["reverted"]
    spec = type(p).handlers["swap"]
    assert bad.status == TxStatus.REVERTED and bad.reason == "slippage"
    assert bad.block == ok.block + 1
    assert bad.gas_used == spec.revert_gas
    assert bad.fee_paid_gwei == spec.revert_gas * bad.effective_gas_price_gwei > 0
    after = seen["view_after"]
    assert [x.hex() for x in after["reserves"]] == [x.hex() for x in seen["view_before"]["reserves"]]
    assert after["fees"] == seen["view_before"]["fees"]

    swaps = res.swaps
    assert len(swaps) == 1
    row = swaps.iloc[0]
    assert (row["block"], row["pool"], row["sender"], row["token_in"]) == (ok.block, "pool", "trader/0", token_in)
    assert row["token_out"] == p.tokens[1 - i] and row["amount_in"] == amount_in and row["amount_out"] == ok.result
    assert row["price_after"] == p.spot_price() == p.price(p.tokens[0])
    assert res.schema["swaps"]["columns"]["price_after"][0] == "float64"
    summary = res.summary()
    assert summary["pool.swaps"] == 1
    assert summary["pool.price"] == p.spot_price()
    assert summary[f"pool.volume{i}"] == amount_in and summary[f"pool.volume{1 - i}"] == ok.result
    assert (summary["pool.reserve0"], summary["pool.reserve1"]) == tuple(p.state.reserves)


def test_sandwich_through_the_executor():
    """Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input / worked example, as three transactions in one block; then the victim's amountOutMin."""
    block = BlockInfo(1, 1, 12_000, 20.0, 36_000_000)

    def run(victim_min):
        pool = make(CPMM)
        ex = Executor({"pool": pool})
        ex.begin_block(block)
        calls = [
            ("searcher", {"token_in": "USDC", "amount_in": 50_000.0}),
            ("victim", {"token_in": "USDC", "amount_in": 100_000.0, "min_amount_out": victim_min}),
        ]
        out = [ex.execute(swap_tx(sender, k, args)) for k, (sender, args) in enumerate(calls)]
        back = ex.execute(swap_tx("searcher", 2, {"token_in": "ETH", "amount_in": out[0][3]}))
        return pool, out, back

    pool, (front, victim), back = run(45.0)
    assert front[3] == pytest.approx(24.319, abs=5e-4) and victim[3] == pytest.approx(45.251, abs=5e-4)
    assert back[3] - 50_000.0 == pytest.approx(4_603.51, rel=1e-6)

    pool, (front, victim), back = run(46.5)
    assert victim[:2] == (TxStatus.REVERTED, "slippage")
    assert victim[2] == CpmmPool.handlers["swap"].revert_gas
    assert back[3] < 50_000.0  # without the victim's trade the round trip only pays fees
    assert len(pool._log.rows) == 2


def test_checks_revert_before_any_effect():
    pool = make(CPMM)
    swap = CpmmPool.handlers["swap"].fn
    before = bits(pool)
    bad = [
        ({"token_in": "BTC", "amount_in": 1.0}, "unknown token 'BTC'"),
        ({"token_in": "ETH", "amount_in": 0.0}, "amount_in must be a positive finite number"),
        ({"token_in": "ETH", "amount_in": -1.0}, "amount_in must be a positive finite number"),
        ({"token_in": "ETH", "amount_in": float("nan")}, "amount_in must be a positive finite number"),
        ({"token_in": "ETH", "amount_in": float("inf")}, "amount_in must be a positive finite number"),
        ({"token_in": "ETH", "amount_in": True}, "amount_in must be a positive finite number"),
        ({"token_in": "ETH", "amount_in": "1"}, "amount_in must be a positive finite number"),
        ({"token_in": "ETH", "amount_in": 1.0, "min_amount_out": -1.0}, "min_amount_out must be a non-negative number"),
        ({"token_in": "ETH", "amount_in": 1.0, "min_amount_out": float("nan")}, "min_amount_out must be a non-negative number"),
        ({"token_in": "ETH", "amount_in": 1e300}, "insufficient liquidity"),
        ({"token_in": "ETH", "amount_in": 1.0, "min_amount_out": float("inf")}, "slippage"),
    ]
    for args, reason in bad:
        with pytest.raises(Revert) as e:
            swap(pool, "alice", **args)
        assert e.value.reason == reason
        assert bits(pool) == before
    assert pool._log.rows == []


def test_view_is_a_snapshot_and_price_names_the_token():
    pool = make(CPMM)
    v = pool.view()
    assert v["tokens"] == ("ETH", "USDC") and v["price"] == 2_000.0 and v["fee"] == 0.003
    CpmmPool.handlers["swap"].fn(pool, "alice", token_in="ETH", amount_in=10.0)
    assert v["reserves"] == (1_000.0, 2_000_000.0)  # unchanged: a snapshot
    assert pool.price("USDC") == 1.0 / pool.price("ETH")
    assert pool.quote("ETH", 1.0) == get_amount_out(1.0, *pool.state.reserves, 0.003)
    with pytest.raises(KeyError):
        pool.price("BTC")
    curve = make(CURVE)
    assert curve.view()["A"] == 100 and curve.view()["price"] == pytest.approx(1.0, rel=1e-12)


def test_checkpoint_and_rollback():
    pool = make(CURVE)
    before = bits(pool)
    snap = pool.checkpoint()
    StableSwapPool.handlers["swap"].fn(pool, "alice", token_in="USDC", amount_in=1e6)
    assert bits(pool) != before
    pool.rollback(snap)
    assert bits(pool) == before


amounts = st.one_of(
    st.floats(min_value=-1, max_value=5e7),
    st.sampled_from([0.0, 1e-12, 1.0, 1e9, float("nan"), float("inf")]),
)
calls = st.tuples(st.sampled_from(["token0", "token1", "DAI"]), amounts, st.one_of(st.just(0.0), st.floats(0, 1e8)))


THIN = {**CPMM, "reserve0": 3.0, "reserve1": 7.0, "fee": 0.01}


@pytest.mark.parametrize("pool_params", [CPMM, THIN, CURVE], ids=["cpmm", "cpmm-thin", "stableswap"])
def test_random_swaps_keep_the_invariants(pool_params):
    @settings(max_examples=40, deadline=None)
    @given(st.lists(calls, max_size=25))
    def check(seq):
        pool = make(pool_params)
        ex = Executor({"pool": pool})
        ex.begin_block(BlockInfo(1, 1, 12_000, 20.0, 36_000_000))
        swaps = 0
        for n, (which, amount, min_out) in enumerate(seq):
            token = {"token0": pool.tokens[0], "token1": pool.tokens[1]}.get(which, which)
            before = bits(pool)
            reserves = list(pool.state.reserves)
            args = {"token_in": token, "amount_in": amount, "min_amount_out": min_out}
            status, reason, gas_used, out = ex.execute(swap_tx("alice", n, args))
            r = pool.state.reserves
            if status == TxStatus.REVERTED:
                assert reason and gas_used == type(pool).handlers["swap"].revert_gas
                assert bits(pool) == before
                continue
            swaps += 1
            assert out >= min_out and all(x > 0 for x in r)
            i = pool.tokens.index(token)
            assert r[i] == reserves[i] + amount and r[1 - i] == reserves[1 - i] - out
            if pool.kind == "amm.cpmm":
                assert r[0] * r[1] >= reserves[0] * reserves[1] * (1 - 1e-12)
            else:
                assert get_D(r, pool.params.A) >= get_D(reserves, pool.params.A) * (1 - 1e-12)
        assert len(pool._log.rows) == swaps

    check()


def test_deepcopy_of_state_is_independent():
    pool = make(CPMM)
    twin = copy.deepcopy(pool.state)
    CpmmPool.handlers["swap"].fn(pool, "alice", token_in="USDC", amount_in=1.0)
    assert twin.reserves == [1_000.0, 2_000_000.0] and twin.fees == [0.0, 0.0]
    assert pool.state.fees == [0.0, 0.003] and not math.isclose(pool.state.reserves[1], 2_000_000.0, rel_tol=0)


def test_invariant_guard_reverts_float_garbage():
    """A trade ~1e15 × the reserve leaves R_out − out to float cancellation; the pool refuses it (like v2's K check)."""
    pool = make({**CPMM, "reserve0": 13_180_754.0, "reserve1": 1.6093253210058833e-06, "fee": 0.01})
    before = bits(pool)
    with pytest.raises(Revert, match="invariant would decrease"):
        CpmmPool.handlers["swap"].fn(pool, "alice", token_in="USDC", amount_in=1e9)
    assert bits(pool) == before
