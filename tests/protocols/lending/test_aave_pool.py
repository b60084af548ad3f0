"""The Aave v3 pool on the engine: the worked example liquidation vectors through real calls, token
custody conservation, deficit booking, reverts leaving state untouched, interest accrual."""
import copy

import numpy as np
import pytest

from defisim.base.eventlog import EventLog
from defisim.chain.execution import Executor
from defisim.base.protocol import BlockInfo
from defisim.base.tx import Call, Tx, TxStatus
from protocols.lending.aave_v3.model import AaveV3Pool
from protocols.lending.aave_v3.params import PoolParams
from protocols.oracles import FixedOracle
from protocols.oracles.params import FixedOracleParams
from protocols.token import LedgerParams, TokenLedger

WETH = dict(symbol="WETH", ltv=0.805, liquidation_threshold=0.83, liquidation_bonus=0.05, reserve_factor=0.15,
            rate_strategy=dict(optimal_utilization=0.9, slope1=0.027, slope2=0.80))
USDC = dict(symbol="USDC", ltv=0.75, liquidation_threshold=0.78, liquidation_bonus=0.045, reserve_factor=0.10,
            rate_strategy=dict(optimal_utilization=0.9, slope1=0.04, slope2=0.60))


class Host:
    def __init__(self):
        self.log = EventLog()
        self.protocols = {}


class Market:
    """WETH and USDC ledgers, fixed oracles whose price a test can set, and a pool."""

    def __init__(self, rules="v3.3", weth_price=2_000.0, reserves=(WETH, USDC), **pool_args):
        self.host = h = Host()
        h.protocols["weth"] = TokenLedger("weth", LedgerParams(symbol="WETH", initial_balances={"alice": 10.0}), h)
        h.protocols["usdc"] = TokenLedger("usdc", LedgerParams(symbol="USDC", initial_balances={"bob": 50_000.0}), h)
        h.protocols["eth_usd"] = FixedOracle("eth_usd", FixedOracleParams(price=weth_price), h)
        h.protocols["usdc_usd"] = FixedOracle("usdc_usd", FixedOracleParams(price=1.0), h)
        params = PoolParams(reserves=reserves, tokens={"WETH": "weth", "USDC": "usdc"},
                            oracles={"WETH": "eth_usd", "USDC": "usdc_usd"}, rules=rules, seed_supply={"USDC": 100_000.0},
                            **pool_args)
        h.protocols["aave"] = self.pool = AaveV3Pool("aave", params, h)
        self.ex = Executor(h.protocols)
        self.seq = 0
        self.t_ms = 0
        self.block(0)

    def block(self, t_ms):
        self.t_ms = t_ms
        self.ex.begin_block(BlockInfo(t_ms // 12_000 + 1, t_ms // 12_000 + 1, t_ms, 20.0, 36_000_000))

    def call(self, sender, method, **args):
        self.seq += 1
        tx = Tx(sender, self.seq, Call("aave", method, args), 1_000_000, 100.0, 1.0, False, -1, self.seq, 0, 0)
        return self.ex.execute(tx)

    def set_price(self, usd):
        self.host.protocols["eth_usd"].state = usd

    def totals(self):
        return {name: self.host.protocols[name].state.balances["balance"].sum() for name in ("weth", "usdc")}


@pytest.fixture
def market():
    m = Market()
    assert m.call("alice", "supply", asset="WETH", amount=10.0)[0] == TxStatus.INCLUDED
    assert m.call("alice", "borrow", asset="USDC", amount=15_000.0)[0] == TxStatus.INCLUDED
    return m


def test_vector_1_health_factor(market):
    market.set_price(1_800.0)
    assert market.pool.health_factors()[market.pool.state.accounts["alice"]] == pytest.approx(0.996, rel=1e-6)
    assert market.pool.state.accounts["alice"] in market.pool.liquidatable()


def test_borrow_is_limited_by_ltv():
    m = Market()
    m.call("alice", "supply", asset="WETH", amount=10.0)
    status, reason, *_ = m.call("alice", "borrow", asset="USDC", amount=16_100.01)  # LTV 80.5% of $20,000
    assert (status, reason) == (TxStatus.REVERTED, "COLLATERAL_CANNOT_COVER_NEW_BORROW")
    assert m.call("alice", "borrow", asset="USDC", amount=16_099.0)[0] == TxStatus.INCLUDED


def test_vector_2_liquidation_through_the_pool_conserves_tokens(market):
    before = market.totals()
    market.set_price(1_800.0)
    status, reason, _gas, out = market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert status == TxStatus.INCLUDED, reason
    assert out.debt_repaid == pytest.approx(7_500.0, rel=1e-9)
    h = market.host.protocols
    assert h["weth"].balance_of("bob") == pytest.approx(4.3541667, rel=1e-6)
    assert market.pool.account("treasury")[0][0] == pytest.approx(0.0208333, rel=2e-6)  # as aTokens
    coll, debt = market.pool.account("alice")
    assert coll[0] == pytest.approx(10 - 4.375, rel=1e-9) and debt[1] == pytest.approx(7_500.0, rel=1e-9)
    hf = market.pool.health_factors()[market.pool.state.accounts["alice"]]
    assert hf == pytest.approx(1.1205, abs=5e-5)
    assert market.totals() == pytest.approx(before, rel=1e-12)  # no token created or lost
    assert h["weth"].balance_of("aave") == pytest.approx(coll[0] + market.pool.account("treasury")[0][0], rel=1e-12)


def test_vector_4_deficit_is_booked_not_hidden(market):
    market.set_price(1_400.0)
    status, reason, _gas, out = market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert status == TxStatus.INCLUDED, reason
    assert out.debt_repaid == pytest.approx(13_333.33, abs=0.01)
    assert market.pool.state.deficit[1] == pytest.approx(1_666.67, abs=0.01)
    coll, debt = market.pool.account("alice")
    assert coll[0] == pytest.approx(0.0, abs=1e-12) and debt[1] == pytest.approx(0.0, abs=1e-6)
    row = market.host.log.tables["liquidations"].to_frame().iloc[-1]
    # the debt left without collateral is exactly the deficit, written off at the call's oracle price (USDC $1)
    assert row["deficit_usd"] == pytest.approx(15_000.0 - out.debt_repaid, rel=1e-9)
    assert row["collateral_seized_usd"] == pytest.approx(row["collateral_seized"] * 1_400.0, rel=1e-12)
    # and nothing of it is left on the books: the account owes nothing, so nothing is uncovered
    positions = market.pool.positions()
    alice = market.pool.state.accounts["alice"]
    assert positions.debt[alice].sum() == pytest.approx(0.0, abs=1e-6) and not positions.liquidatable[alice]


def test_v30_rules_keep_the_debt_instead(market):
    m = Market(rules="v3.0")
    m.call("alice", "supply", asset="WETH", amount=10.0)
    m.call("alice", "borrow", asset="USDC", amount=15_000.0)
    m.set_price(1_400.0)
    _s, _r, _g, out = m.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert m.pool.state.deficit.sum() == 0.0
    assert m.pool.account("alice")[1][1] == pytest.approx(15_000.0 - out.debt_repaid, rel=1e-9)


V2_RESERVES = tuple({**r, "protocol_liquidation_fee": 0.0} for r in (WETH, USDC))


def test_v2_rules_refuse_a_protocol_fee_naming_the_field():
    with pytest.raises(ValueError, match=r"reserves\.0\.protocol_liquidation_fee: must be 0 with rules = 'v2'.*got 0\.1 for WETH"):
        Market(rules="v2")
    with pytest.raises(ValueError, match=r"reserves\.1\.protocol_liquidation_fee"):
        Market(rules="v2", reserves=(V2_RESERVES[0], USDC))


def test_v2_liquidations_through_the_pool_take_half_and_leave_the_rest_as_debt():
    """alice: 10 WETH against 15,000 USDC. At ETH $1,000, HF = 10 × 1,000 × 0.83 / 15,000 = 0.5533.
    1st call: half the debt, 7,500, for 7,500 × 1.05 / 1,000 = 7.875 WETH, all to bob (no fee);
    alice keeps 2.125 WETH and 7,500 USDC of debt (HF 0.2352). 2nd call: half of 7,500 would need
    3.9375 WETH; the 2.125 left are seized for 2,125 / 1.05 = 2,023.81 USDC. The 5,476.19 USDC
    left stays on alice's account: no deficit. A 3rd call has no collateral to take. No token is
    created or lost on the way."""
    m = Market(rules="v2", reserves=V2_RESERVES)
    assert m.call("alice", "supply", asset="WETH", amount=10.0)[0] == TxStatus.INCLUDED
    assert m.call("alice", "borrow", asset="USDC", amount=15_000.0)[0] == TxStatus.INCLUDED
    before = m.totals()
    m.set_price(1_000.0)
    alice, weth = m.pool.state.accounts["alice"], m.host.protocols["weth"]
    assert m.pool.health_factors()[alice] == pytest.approx(0.5533333, rel=1e-6)
    # the keepers' quote sizes it by the same rules
    view = m.pool.view()
    q = view.quote_liquidations(np.array([alice]), m.pool.health_factors()[[alice]], m.pool.prices_usd())
    assert q.ok[0] and q.debt_repaid[0] == pytest.approx(7_500.0, rel=1e-12)
    assert q.liquidator_collateral[0] == pytest.approx(7.875, rel=1e-12)

    status, reason, _gas, out = m.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert status == TxStatus.INCLUDED, reason
    assert out.debt_repaid == pytest.approx(7_500.0, rel=1e-12) and out.protocol_fee_collateral == 0.0
    assert weth.balance_of("bob") == pytest.approx(7.875, rel=1e-12)
    coll, debt = m.pool.account("alice")
    assert coll[0] == pytest.approx(2.125, rel=1e-12) and debt[1] == pytest.approx(7_500.0, rel=1e-12)
    assert m.pool.health_factors()[alice] == pytest.approx(2.125 * 1_000 * 0.83 / 7_500, rel=1e-9)

    status, reason, _gas, out = m.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert status == TxStatus.INCLUDED, reason
    assert out.collateral_seized == pytest.approx(2.125, rel=1e-12)
    assert out.debt_repaid == pytest.approx(2_125.0 / 1.05, rel=1e-12) == pytest.approx(2_023.81, abs=0.005)
    coll, debt = m.pool.account("alice")
    assert coll[0] == pytest.approx(0.0, abs=1e-12)
    assert debt[1] == pytest.approx(15_000.0 - 7_500.0 - 2_125.0 / 1.05, rel=1e-12) == pytest.approx(5_476.19, abs=0.005)
    assert m.pool.state.deficit.sum() == 0.0
    log = m.host.log.tables["liquidations"].to_frame()
    assert log["deficit_usd"].tolist() == [0.0, 0.0] and log["protocol_fee_collateral"].tolist() == [0.0, 0.0]
    assert weth.balance_of("bob") == pytest.approx(10.0, rel=1e-12)
    assert m.pool.account("treasury")[0][0] == 0.0

    status, reason, *_ = m.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert (status, reason) == (TxStatus.REVERTED, "COLLATERAL_CANNOT_BE_LIQUIDATED")
    # conservation: the tokens only changed hands; the pool holds what alice and the treasury are owed
    assert m.totals() == pytest.approx(before, rel=1e-12)
    assert weth.balance_of("aave") == pytest.approx(0.0, abs=1e-12)
    assert m.host.protocols["usdc"].balance_of("bob") == pytest.approx(50_000.0 - 7_500.0 - 2_125.0 / 1.05, rel=1e-12)


def test_v2_rules_let_an_account_liquidate_itself():
    """Aave v2 has no self-liquidation check (v3.3 reverts SELF_LIQUIDATION)."""
    m = Market(rules="v2", reserves=V2_RESERVES)
    m.call("alice", "supply", asset="WETH", amount=10.0)
    m.call("alice", "borrow", asset="USDC", amount=15_000.0)
    m.set_price(1_000.0)
    status, reason, _gas, out = m.call("alice", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert status == TxStatus.INCLUDED, reason
    assert out.debt_repaid == pytest.approx(7_500.0, rel=1e-12)


@pytest.mark.parametrize("method, args", [
    ("liquidation_call", dict(collateral_asset="WETH", debt_asset="USDC", user="alice")),  # healthy
    ("withdraw", dict(asset="WETH", amount=5.0)),
    ("borrow", dict(asset="USDC", amount=10_000.0)),
    ("repay", dict(asset="USDC", amount=1e9)),
    ("supply", dict(asset="DOGE", amount=1.0)),
])
def test_reverted_calls_leave_every_array_untouched(market, method, args):
    sender = "bob" if method == "liquidation_call" else "alice"
    if method == "repay":
        market.host.protocols["usdc"].move("alice", "carol", 15_000.0)  # alice cannot pay
    snap = copy.deepcopy({n: p.state for n, p in market.host.protocols.items()})
    status, reason, gas, _ = market.call(sender, method, **args)
    assert status == TxStatus.REVERTED and reason and gas > 0
    for name, p in market.host.protocols.items():
        a, b = snap[name], p.state
        if hasattr(b, "positions"):
            assert b.positions.equals(a.positions)
            for f in ("liquidity_index", "borrow_index", "total_collateral_scaled", "total_debt_scaled", "deficit"):
                assert np.array_equal(getattr(a, f), getattr(b, f))
        elif hasattr(b, "balances"):
            assert b.balances.equals(a.balances) and b.total_supply == a.total_supply
        else:
            assert a == b


def test_interest_accrues_by_the_kinked_rate(market):
    """One hour at utilisation U = 15,000 / 100,000: USDC borrow rate 0.04 × U / 0.9 (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`), compounded (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`)."""
    u = 15_000.0 / 100_000.0
    rate = 0.04 * u / 0.9
    dt = 3_600
    x = rate / 31_536_000
    expected = 1 + x * dt + x * x * dt * (dt - 1) / 2 + x**3 * dt * (dt - 1) * (dt - 2) / 6
    market.block(3_600_000)
    assert market.pool.state.borrow_index[1] == pytest.approx(expected, rel=1e-12)
    assert market.pool.account("alice")[1][1] == pytest.approx(15_000.0 * expected, rel=1e-12)
    # suppliers earn the borrowers' interest net of the reserve factor: supply rate = rate × U × (1 − RF)
    assert market.pool.state.liquidity_index[1] == pytest.approx(1 + rate * u * 0.9 * dt / 31_536_000, rel=1e-12)


def test_float_dust_settles_to_zero_and_a_bad_liquidation_reverts(market):
    """Taking a whole debt out in tokens can leave the scaled balance a few ulps below zero
    (``scaled − tokens / index``); the contracts' integer balances never go negative, so the
    remainder settles to exactly zero, and liquidating the account again reverts instead of
    raising out of the run."""
    pool = market.pool
    row, usdc = pool.state.accounts["alice"], pool.index["USDC"]
    owed = pool.account("alice")[1][usdc]
    total_before = pool.state.total_debt_scaled[usdc]
    pool._add_debt(row, usdc, -owed * (1 + 1e-15))  # a hair more than owed: float rounding of a full repayment
    assert pool.state.positions["debt_scaled"][row, usdc] == 0.0
    assert pool.state.total_debt_scaled[usdc] == pytest.approx(total_before - owed / pool.state.borrow_index[usdc])
    market.set_price(500.0)
    status, reason, *_ = market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")
    assert status == TxStatus.REVERTED and reason  # nothing owed: nothing to liquidate
    with pytest.raises(ValueError, match="more taken than held"):
        pool._add_collateral(row, pool.index["WETH"], -11.0)  # a real overdraw is a bug, not rounding


def test_a_liquidation_with_a_bad_amount_reverts(market):
    market.set_price(1_700.0)
    status, reason, *_ = market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC",
                                     user="alice", debt_to_cover=-5.0)
    assert status == TxStatus.REVERTED and reason.startswith("INVALID_LIQUIDATION_INPUT: debt_to_cover")


def _two_collateral_market():
    """alice: 10 WETH against 15,000 USDC; carol: 20,000 USDC against 7 WETH. At ETH $2,300 only
    carol is liquidatable (debt $16,100 > 0.78 × $20,000), and her collateral is USDC."""
    m = Market()
    m.host.protocols["usdc"].issue_quietly("carol", 20_000.0)
    assert m.call("alice", "supply", asset="WETH", amount=10.0)[0] == TxStatus.INCLUDED
    assert m.call("alice", "borrow", asset="USDC", amount=15_000.0)[0] == TxStatus.INCLUDED
    assert m.call("carol", "supply", asset="USDC", amount=20_000.0)[0] == TxStatus.INCLUDED
    assert m.call("carol", "borrow", asset="WETH", amount=7.0)[0] == TxStatus.INCLUDED
    m.set_price(2_300.0)
    return m


def _add_dave(m):
    """dave: 7 WETH and 13,000 USDC against 20,500 USDC (liquidatable at ETH $1,700)."""
    m.host.protocols["weth"].issue_quietly("dave", 7.0)
    m.host.protocols["usdc"].issue_quietly("dave", 13_000.0)
    for asset, amount in (("WETH", 7.0), ("USDC", 13_000.0)):
        assert m.call("dave", "supply", asset=asset, amount=amount)[0] == TxStatus.INCLUDED
    assert m.call("dave", "borrow", asset="USDC", amount=20_500.0)[0] == TxStatus.INCLUDED


def test_each_collateral_is_valued_at_its_own_venue():
    from types import SimpleNamespace

    from defisim.markets import ConstantFeed, LinearDepth, Venue
    from protocols.lending.aave_v3.agents import KeeperParams, collateral_venues, plan_liquidations

    m = _two_collateral_market()
    view, prices = m.pool.view(), m.pool.prices_usd()
    rows, hf, debt_usd = view.liquidation_candidates()
    assert [view.owner(int(r)) for r in rows] == ["carol"]
    eth = Venue(ConstantFeed(2_300.0), LinearDepth(5e6), name="cex")
    usd = Venue(ConstantFeed(1.0), LinearDepth(5e6), name="usdc_otc")
    (plan,) = plan_liquidations(view, [eth, usd], rows, prices, hf, 5.0, 10.0, 0, 5, debt_usd)
    assert view.symbols[plan.collateral] == "USDC" and view.symbols[plan.debt] == "WETH"
    proceeds, _avg = usd.quote_sell(plan.liquidator_collateral, 0)  # USDC sold for about $1 each
    assert plan.profit_usd == pytest.approx(proceeds - plan.debt_repaid * 2_300.0 - 5.0, rel=1e-12)
    assert plan.profit_usd < 0.05 * plan.debt_repaid * 2_300.0  # a bonus-sized profit, not USDC at ETH's price
    # with no venue quoting USDC the keeper does not take it
    assert plan_liquidations(view, [eth, None], rows, prices, hf, 5.0, 10.0, 0, 5, debt_usd) == []
    # which venue a keeper gives each reserve: its `venues`, else `venue` where it quotes the asset
    ctx = SimpleNamespace(market_asset={"cex": "ETH", "usdc_otc": "USDC"}.get)
    keeper = KeeperParams(pool="aave", venue="cex")
    assert collateral_venues(ctx, keeper, view.symbols) == {"WETH": "cex", "USDC": None}
    keeper = KeeperParams(pool="aave", venue="cex", venues={"USDC": "usdc_otc"})
    assert collateral_venues(ctx, keeper, view.symbols) == {"WETH": "cex", "USDC": "usdc_otc"}


def test_a_keeper_sells_each_collateral_at_its_own_venue():
    from types import SimpleNamespace

    from protocols.lending.aave_v3.agents import KeeperParams, _sell_winnings

    started = []
    ctx = SimpleNamespace(env=SimpleNamespace(process=started.append))
    keeper = KeeperParams(pool="aave", venue="cex", venues={"USDC": "usdc_otc"})
    venue_of = {"WETH": "cex", "USDC": "usdc_otc"}
    for asset, amount in (("USDC", 1_000.0), ("WETH", 2.0)):
        receipt = SimpleNamespace(ok=True, result=SimpleNamespace(liquidator_collateral=amount),
                                  tx=SimpleNamespace(call=SimpleNamespace(args={"collateral_asset": asset})))
        _sell_winnings(ctx, receipt, {"WETH": "weth", "USDC": "usdc"}, keeper, venue_of)
    assert [(g.gi_frame.f_locals["ledger"], g.gi_frame.f_locals["venue"]) for g in started] == [
        ("usdc", "usdc_otc"), ("weth", "cex")]


def test_the_keeper_takes_the_pair_that_pays_most_not_the_largest():
    """dave: 7 WETH and 13,000 USDC against 20,500 USDC. At ETH $1,700 (HF ≈ 0.976) his largest
    collateral is USDC ($13,000 against $11,900), but WETH's larger bonus (5% against 4.5%) makes
    the WETH pair pay more for the same 50% close factor (both leave more than $1,000 behind)."""
    from defisim.markets import ConstantFeed, LinearDepth, Venue
    from protocols.lending.aave_v3.agents import plan_liquidations
    from protocols.lending.aave_v3.liquidation import liquidation_call

    m = Market()
    _add_dave(m)
    m.set_price(1_700.0)
    view, prices = m.pool.view(), m.pool.prices_usd()
    rows, hf, debt_usd = view.liquidation_candidates()
    assert [view.owner(int(r)) for r in rows] == ["dave"]
    # each pair sized by hand with the scalar liquidationCall, valued at the oracle prices
    coll, debt = m.pool.account("dave")
    coll_usd = coll * prices
    gains = {}
    for c in (0, 1):
        out = liquidation_call(coll[c], debt[1], prices[c], 1.0, float(hf[0]), float(m.pool.bonus[c]), float(m.pool.fee[c]),
                               other_collateral_usd=float(coll_usd.sum() - coll_usd[c]), other_debt_usd=0.0)
        gains[view.symbols[c]] = out.liquidator_collateral * prices[c] - out.debt_repaid
    assert gains["WETH"] > gains["USDC"] > 0 and coll_usd[1] > coll_usd[0]
    venues = [Venue(ConstantFeed(1_700.0), LinearDepth(1e12)), Venue(ConstantFeed(1.0), LinearDepth(1e12))]
    (plan,) = plan_liquidations(view, venues, rows, prices, hf, 0.0, 10.0, 0, 5, debt_usd)
    assert view.symbols[plan.collateral] == "WETH"
    assert plan.profit_usd == pytest.approx(gains["WETH"], rel=1e-6)  # the deep venues' impact is ~0
    # without values the pool's quote takes the largest collateral, as before
    assert view.symbols[int(view.quote_liquidations(rows, hf, prices).collateral[0])] == "USDC"


def test_usd_besides_equals_numpy_dot_less_one_product():
    from protocols.lending.aave_v3.model import _usd_besides

    rng = np.random.default_rng(3)
    for _ in range(2_000):
        n = int(rng.integers(1, 6))
        amounts = np.where(rng.random(n) < 0.5, 0.0, rng.lognormal(3.0, 4.0, n))
        prices = rng.lognormal(0.0, 3.0, n)
        if rng.random() < 0.1:
            prices[int(rng.integers(n))] = rng.choice([np.inf, np.nan, 0.0])
        r = int(rng.integers(n))
        with np.errstate(invalid="ignore", over="ignore"):
            expected = float(amounts @ prices - amounts[r] * prices[r])
            result = _usd_besides(amounts.tolist(), prices.tolist(), r, amounts)
        assert np.array([result]).tobytes() == np.array([expected]).tobytes(), (amounts, prices, r)


@pytest.mark.parametrize("user, price, rc, rd", [("alice", 1_650.123456789, 0, 1), ("carol", 2_300.987654321, 1, 0),
                                                  ("dave", 1_700.5, 0, 1), ("dave", 1_700.5, 1, 1)])
def test_a_liquidation_quote_equals_the_arithmetic_on_the_arrays(user, price, rc, rd):
    """The quote computes on Python floats; the outcome is the one of the arrays' elements, bit for bit
    (alice: WETH against USDC; carol: USDC against WETH; dave: both as collateral against USDC)."""
    from protocols.lending.aave_v3 import math as am
    from protocols.lending.aave_v3.liquidation import liquidation_call

    m = _two_collateral_market()
    _add_dave(m)
    m.set_price(price)
    pool = m.pool
    coll, debt = pool.account(user)
    prices = pool.prices_usd()
    hf = am.health_factor(coll, debt, prices, pool.lt_by_category[0])
    expected = liquidation_call(coll[rc], debt[rd], prices[rc], prices[rd], hf, pool.bonus_by_category[0, rc],
                                pool.fee[rc], 1_000.0, other_collateral_usd=float(coll @ prices - coll[rc] * prices[rc]),
                                other_debt_usd=float(debt @ prices - debt[rd] * prices[rd]))
    q = pool.quote_liquidation_call("bob", pool.symbols[rc], pool.symbols[rd], user, 1_000.0)
    assert expected.ok and q.out == expected and q.hf == hf


def test_a_bad_price_reverts_naming_the_value_as_the_pool_holds_it(market):
    market.set_price(0.0)
    status, reason, *_ = market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC",
                                     user="alice")
    assert status == TxStatus.REVERTED
    assert reason == f"INVALID_LIQUIDATION_INPUT: collateral_price_usd must be positive and finite, got {np.float64(0.0)!r}"


def test_an_emptied_account_reverts_each_time_as_the_first_time(market):
    """After its liquidation left alice nothing, every further attempt reverts as the full checks say,
    whether or not the pool remembers the last such revert (same prices and arguments)."""
    market.set_price(1_400.0)
    assert market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC", user="alice")[0] == TxStatus.INCLUDED
    coll, debt = market.pool.account("alice")
    assert not coll.any() and not debt.any()

    def attempt(**args):
        status, reason, gas, _ = market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC",
                                             user="alice", **args)
        assert status == TxStatus.REVERTED
        return reason, gas

    first = attempt()
    assert first[0] == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
    assert attempt() == first and attempt(debt_to_cover=float("inf")) == first
    assert attempt(debt_to_cover=-1.0)[0].startswith("INVALID_LIQUIDATION_INPUT: debt_to_cover")
    assert attempt(debt_to_cover=float("nan"))[0].startswith("INVALID_LIQUIDATION_INPUT: debt_to_cover")
    market.set_price(0.0)
    assert attempt()[0].startswith("INVALID_LIQUIDATION_INPUT: collateral_price_usd")
    market.set_price(1_300.0)
    assert attempt() == first
