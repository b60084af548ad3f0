"""A keeper's capital: venue proceeds that come back on chain (``withdraw``) and a debt asset
bought on a pool before the liquidation (``source_debt_on``), each checked by hand on a small
book."""
from __future__ import annotations

import math

import pytest

from defisim.run.simulation import Simulation
from defisim.scenario.loading import ScenarioError, validate_scenario
from protocols.amm.math import get_amount_in
from protocols.lending.aave_v3.liquidation import liquidation_call

WETH = {"symbol": "WETH", "ltv": 0.805, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05,
        "reserve_factor": 0.15, "rate_strategy": {"optimal_utilization": 0.9, "slope1": 0.027, "slope2": 0.8}}
USDC = {"symbol": "USDC", "ltv": 0.75, "liquidation_threshold": 0.78, "liquidation_bonus": 0.045,
        "reserve_factor": 0.1, "rate_strategy": {"optimal_utilization": 0.9, "slope1": 0.04, "slope2": 0.6}}
#: withdrawals one minute after the fill, a flat $5 and 0.1% of the amount
WITHDRAW = {"delay": "60s", "fee_usd": 5.0, "fee_share": 0.001}


def crash(tmp_path, *, keepers: int = 1, hot_wallet: float = 1e6, capital: float = 15_100.0, withdraw=WITHDRAW,
          accounts: int = 2, blocks: int = 30, keeper: dict | None = None, change: float = -0.15) -> dict:
    """ETH at $2,000 jumps by ``change`` at 30 s; ``accounts`` borrowers each hold 10 WETH against
    15,000 USDC (HF 1.107 at $2,000, 0.941 at $1,700: liquidated whole); each keeper holds
    ``capital`` USDC (one whole liquidation: a partial one leaving the interest accrued since the
    start behind would leave dust, which v3.3 refuses), the venue's hot wallet ``hot_wallet``."""
    book = tmp_path / "book.csv"
    book.write_text("owner,collateral_asset,collateral,debt_asset,debt\n"
                    + "".join(f"b{i},WETH,10,USDC,15000\n" for i in range(accounts)))
    balances = {f"keeper/{k}": capital for k in range(keepers)}
    if hot_wallet:
        balances["venue:cex"] = hot_wallet
    params = {"pool": "aave", "venue": "cex", "min_profit_usd": 50.0, **(keeper or {})}
    if withdraw is not None:
        params["withdraw"] = withdraw
    return {
        "name": "keeper-capital", "seed": 1, "blocks": blocks,
        "chain": {"slot": "12s", "gas_limit": 36_000_000, "initial_base_fee_gwei": 20.0},
        "network": {"public_latency": {"kind": "fixed", "value": 0}, "private_latency": {"kind": "fixed", "value": 0}},
        "background": {"rate_tx_per_block": 0},
        "markets": {"feeds": {"ETH": {"kind": "scripted", "base_price_usd": 2000.0,
                                      "moves": [{"kind": "jump", "at": "30s", "change": change}]}},
                    "venues": {"cex": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 2e6}}}},
        "protocols": {
            "weth": {"kind": "token.ledger", "symbol": "WETH"},
            "usdc": {"kind": "token.ledger", "symbol": "USDC", "initial_balances": balances},
            "eth_usd": {"kind": "oracles.push", "initial_answer": 2000.0, "deviation": 0.005, "heartbeat": "1h"},
            "usdc_usd": {"kind": "oracles.fixed", "price": 1.0},
            "aave": {"kind": "lending.aave_v3", "tokens": {"WETH": "weth", "USDC": "usdc"},
                     "oracles": {"WETH": "eth_usd", "USDC": "usdc_usd"}, "seed_supply": {"USDC": 1e6},
                     "reserves": [WETH, USDC], "population": {"csv": str(book)}},
        },
        "agents": [
            {"kind": "oracles.push_updater", "name": "oracle", "params": {"oracle": "eth_usd", "sources": ["cex"]}},
            {"kind": "lending.keeper", "name": "keeper", "count": keepers, "params": params},
        ],
    }


def run(raw):
    sim = Simulation(validate_scenario(raw))
    return sim, sim.run()


def withdrawals(res):
    t = res.transfers
    return t[(t["sender"] == "venue:cex") & (t["token"] == "usdc")].reset_index(drop=True)


def test_a_keeper_liquidates_again_with_the_proceeds_it_withdrew(tmp_path):
    """One keeper, capital for one liquidation: it liquidates b0, deposits and sells the WETH, the
    venue pays the proceeds less its fee one minute after the fill, and the keeper liquidates b1
    with them; the second sale's proceeds come back too."""
    sim, res = run(crash(tmp_path))
    liq = res.liquidations.reset_index(drop=True)
    assert liq["user"].tolist() == ["b0", "b1"]
    assert (liq["debt_repaid"] > 15_000.0).all() and (liq["debt_repaid"] < 15_000.01).all()  # each whole, with interest
    sales = res.venue_trades[res.venue_trades["trader"] == "keeper/0"].reset_index(drop=True)
    paid = withdrawals(res)
    assert len(sales) == len(paid) == 2 and (paid["recipient"] == "keeper/0").all()
    # each withdrawal: the sale's USD less 0.1% and $5, by hand
    assert paid["amount"].tolist() == [usd * (1 - 0.001) - 5.0 for usd in sales["usd"]]
    # the venue sent it one minute after the fill, signed by its hot wallet, nonces in order
    sent = res.txs[(res.txs["sender"] == "venue:cex")].reset_index(drop=True)
    assert sent["submitted_ms"].tolist() == [t + 60_000 for t in sales["time_ms"]]
    assert sent["nonce"].tolist() == [0, 1] and (sent["status"] == "included").all()
    assert sent["block"].tolist() == paid["block"].tolist()
    # the second liquidation came after the first withdrawal landed: before it the keeper held 0 USDC
    assert liq["block"][0] < paid["block"][0] < liq["block"][1]
    usdc, weth = sim.protocols["usdc"], sim.protocols["weth"]
    repaid = liq["debt_repaid"].sum()
    assert usdc.balance_of("keeper/0") == pytest.approx(15_100.0 - repaid + paid["amount"].sum(), rel=1e-12)
    assert usdc.balance_of("venue:cex") == pytest.approx(1e6 - paid["amount"].sum(), rel=1e-12)
    # conservation on each ledger: nothing minted or burned, the balances sum to the supply of the start
    assert (res.transfers["kind"] == "transfer").all()
    for ledger, supply in ((usdc, 1e6 + 15_100.0 + 1e6 + 30_000.0), (weth, 20.0)):  # seed, keeper, hot wallet, borrowed
        assert ledger.state.total_supply == pytest.approx(supply, rel=1e-12)
        assert ledger.state.balances["balance"].sum() == pytest.approx(supply, rel=1e-12)
    assert weth.balance_of("venue:cex") == pytest.approx(sales["amount"].sum(), rel=1e-12)  # the deposits it sold
    # the summary's keeper profit counts the sales before the venue's fees; what the keeper has
    # in hand is that less the fees
    fees = (sales["usd"] - paid["amount"]).sum()
    assert res.summary()["keeper_profit_usd"] == pytest.approx(sales["usd"].sum() - repaid, rel=1e-12)
    assert usdc.balance_of("keeper/0") - 15_100.0 == pytest.approx(res.summary()["keeper_profit_usd"] - fees, rel=1e-9)


def test_without_withdrawals_the_capital_is_spent_once(tmp_path):
    _sim, res = run(crash(tmp_path, withdraw=None))
    assert res.liquidations["user"].tolist() == ["b0"]
    assert len(withdrawals(res)) == 0
    assert any("keeper/0: ran out of capital" in w for w in res.meta["warnings"])


def test_keepers_share_one_hot_wallet_and_its_nonces(tmp_path):
    """Three keepers sell at one venue: one process signs every withdrawal of its hot wallet, so
    they take nonces 0, 1, 2 and all land."""
    _sim, res = run(crash(tmp_path, keepers=3, accounts=3))
    assert sorted(res.liquidations["liquidator"]) == ["keeper/0", "keeper/1", "keeper/2"]
    sent = res.txs[res.txs["sender"] == "venue:cex"]
    assert sorted(sent["nonce"]) == [0, 1, 2] and (sent["status"] == "included").all()
    paid = withdrawals(res)
    assert sorted(paid["recipient"]) == ["keeper/0", "keeper/1", "keeper/2"]


def test_a_dry_hot_wallet_makes_the_withdrawal_wait_and_says_so(tmp_path):
    sim, res = run(crash(tmp_path, hot_wallet=20_000.0))
    paid = withdrawals(res)
    assert len(paid) == 1 and len(res.liquidations) == 2  # the second sale's proceeds cannot be paid
    assert sim.protocols["usdc"].balance_of("venue:cex") == pytest.approx(20_000.0 - paid["amount"][0], rel=1e-12)
    (note,) = [w for w in res.meta["warnings"] if w.startswith("venue:cex:")]
    assert "hot wallet on usdc ran dry" in note


@pytest.mark.parametrize("change, error", [
    ({"agents": {1: {"withdraw": {**WITHDRAW, "asset": "DAI"}}}}, "withdraw.asset: 'DAI' is not a reserve"),
    ({"agents": {1: {"sell": False}}}, "withdraw: this keeper sells nothing on a venue"),
    ({"hot_wallet": 0.0}, "venue 'cex''s hot wallet holds no USDC"),
    ({"agents": {1: {"keep": ["DAI"]}}}, "keep.DAI: 'DAI' is not a reserve"),
])
def test_withdrawal_settings_are_checked(tmp_path, change, error):
    raw = crash(tmp_path, hot_wallet=change.get("hot_wallet", 1e6))
    for k, extra in change.get("agents", {}).items():
        raw["agents"][k]["params"].update(extra)
    with pytest.raises(ScenarioError, match=error.replace("(", r"\(").replace(")", r"\)")):
        validate_scenario(raw)


def squeeze(tmp_path, *, source: bool = True) -> dict:
    """A short squeeze: b0 owes 7 WETH against 20,000 USDC (HF 1.114 at $2,000); ETH jumps 20% to
    $2,400 (HF 0.929: liquidated whole). The keeper holds only USDC; a WETH/USDC pair holds 500
    WETH and 1.2M USDC (ETH at $2,400)."""
    book = tmp_path / "squeeze.csv"
    book.write_text("owner,collateral_asset,collateral,debt_asset,debt\nb0,USDC,20000,WETH,7\n")
    raw = crash(tmp_path, withdraw=None, hot_wallet=0.0, capital=30_000.0, change=0.2)
    raw["protocols"]["aave"].update(seed_supply={"WETH": 1_000.0}, population={"csv": str(book)})
    raw["protocols"]["weth_usdc"] = {"kind": "amm.cpmm", "token0": "WETH", "token1": "USDC", "reserve0": 500.0,
                                     "reserve1": 1.2e6, "ledgers": {"WETH": "weth", "USDC": "usdc"}}
    params = raw["agents"][1]["params"]
    params["keep"] = ["USDC"]
    if source:
        params["source_debt_on"] = "weth_usdc"
    return raw


def test_a_keeper_buys_the_debt_asset_with_impact_and_liquidates_a_short_squeeze(tmp_path):
    """The keeper buys the WETH it owes for b0 on the pair, in a swap one nonce before its
    liquidation (both land in one block, the swap first), then keeps the USDC it seizes. By hand:
    the swap pays ``1.2M·out / ((500 − out)·0.997)`` USDC for ``out`` WETH (Uniswap v2
    ``getAmountIn``; ``out`` is the planned debt and 1e-4 of it more, for interest), the
    liquidation pays ``repaid × 2,400 × (1 + 4.5% − 10% × 4.5%)`` USDC of collateral, and the
    keeper ends with 30,000 − what it paid + what it seized USDC and the WETH it bought beyond
    the debt."""
    sim, res = run(squeeze(tmp_path))
    (liq,) = res.liquidations.itertuples()
    (swap,) = res.swaps.itertuples()
    assert liq.user == "b0" and liq.liquidator == swap.sender == "keeper/0"
    assert swap.token_in == "USDC" and swap.token_out == "WETH"
    out = swap.amount_out
    assert swap.amount_in == pytest.approx(1.2e6 * out / ((500.0 - out) * 0.997), rel=1e-12)
    assert swap.amount_in == pytest.approx(get_amount_in(out, 1.2e6, 500.0, 0.003), rel=1e-12)
    assert liq.debt_repaid == pytest.approx(7.0, rel=1e-6)  # the whole debt, with a few blocks' interest
    assert out == pytest.approx(liq.debt_repaid * (1 + 1e-4), rel=1e-6)
    assert liq.liquidator_collateral == pytest.approx(liq.debt_repaid * 2_400.0 * (1 + 0.045 - 0.1 * 0.045), rel=1e-12)
    txs = res.txs[res.txs["sender"] == "keeper/0"].sort_values("nonce")
    assert txs["method"].tolist() == ["swap", "liquidation_call"] and (txs["status"] == "included").all()
    assert txs["block"].nunique() == 1 and txs["index"].is_monotonic_increasing
    usdc, weth = sim.protocols["usdc"], sim.protocols["weth"]
    assert usdc.balance_of("keeper/0") == pytest.approx(30_000.0 - swap.amount_in + liq.liquidator_collateral, rel=1e-12)
    assert weth.balance_of("keeper/0") == pytest.approx(out - liq.debt_repaid, rel=1e-9)
    profit_usd = liq.liquidator_collateral - swap.amount_in + (out - liq.debt_repaid) * 2_400.0
    # what the WETH cost beyond its oracle value: the pair's fee and impact, 16,802 × (500/493/0.997 − 1) ≈ $290
    premium = swap.amount_in - out * 2_400.0
    assert premium == pytest.approx(out * 2_400.0 * (500.0 / (500.0 - out) / 0.997 - 1.0), rel=1e-9)
    # the profit: the liquidator's share of the bonus, 16,800 × 4.05% = $680.40, less that premium
    assert profit_usd == pytest.approx(liq.debt_repaid * 2_400.0 * (0.045 - 0.1 * 0.045) - premium, rel=1e-9)
    assert 380.0 < profit_usd < 400.0
    # the summary's keeper profit counts venue trades only: the pool purchase and the kept USDC are not in it
    assert res.summary()["keeper_profit_usd"] == pytest.approx(-liq.debt_repaid_usd, rel=1e-12)
    for ledger in (usdc, weth):
        assert ledger.state.balances["balance"].sum() == pytest.approx(ledger.state.total_supply, rel=1e-12)


def test_without_a_source_a_keeper_holding_only_the_collateral_asset_cannot_liquidate(tmp_path):
    _sim, res = run(squeeze(tmp_path, source=False))
    assert len(res.liquidations) == 0 and len(res.swaps) == 0
    assert res.summary()["liquidation_backlog_at_end"] == 1


def test_a_debt_source_must_trade_the_pools_tokens(tmp_path):
    raw = squeeze(tmp_path)
    raw["protocols"]["weth_usdc"]["ledgers"] = None
    with pytest.raises(ScenarioError, match="source_debt_on: 'weth_usdc' must trade two of aave's tokens"):
        validate_scenario(raw)


def test_purchases_are_priced_one_after_the_other_against_the_pool():
    """``DebtSource.fund`` without a run: the first plan's purchase leaves the pair's reserves where
    the second's is priced; a plan the balance covers needs none; one the keeper cannot pay for
    is dropped, and so is one whose purchase eats its profit."""
    from types import SimpleNamespace

    import numpy as np

    from protocols.lending.aave_v3.agents import BUY_MARGIN, DebtSource, Plan, Purchase

    view = {"kind": "amm.cpmm", "tokens": ("WETH", "USDC"), "reserves": (500.0, 1.2e6), "fee": 0.003, "price": 2400.0}
    ctx = SimpleNamespace(view=lambda name: view,
                          params_of=lambda name: SimpleNamespace(ledgers={"WETH": "weth", "USDC": "usdc"}))
    lending = SimpleNamespace(symbols=["WETH", "USDC"], tokens={"WETH": "weth", "USDC": "usdc"})
    source = DebtSource(ctx, "weth_usdc", lending)
    prices = np.array([2400.0, 1.0])
    a = Plan(400.0, 0, "a", 1, 0, 5.0, 12_000.0)  # owes 5 WETH
    b = Plan(400.0, 1, "b", 1, 0, 4.0, 9_700.0)  # owes 4 WETH
    c = Plan(200.0, 2, "c", 0, 1, 1_000.0, 0.5)  # owes 1,000 USDC, which it holds
    balance = [1.0, 30_000.0]
    (fa, pa), (fb, pb), (fc, pc) = source.fund([a, b, c], balance, prices, 10.0, 50.0)
    buy_a = 4.0 * (1 + 1e-9) + BUY_MARGIN * 5.0  # it holds 1 WETH of the 5
    pay_a = get_amount_in(buy_a, 1.2e6, 500.0, 0.003)
    assert pa == Purchase("USDC", pay_a, 4.0)
    assert fa.profit_usd == pytest.approx(400.0 - (pay_a - 4.0 * 2400.0) - 10.0, rel=1e-12)
    left_weth = 1.0 + buy_a - 5.0  # the margin it bought beyond a's debt
    buy_b = (4.0 - left_weth) * (1 + 1e-9) + BUY_MARGIN * 4.0
    pay_b = get_amount_in(buy_b, 1.2e6 + pay_a, 500.0 - buy_a, 0.003)  # where a's purchase left the pair
    assert pb == Purchase("USDC", pay_b, 4.0 - left_weth)
    assert pay_b > get_amount_in(buy_b, 1.2e6, 500.0, 0.003)  # dearer than at the reserves before a's
    assert fb.profit_usd == pytest.approx(400.0 - (pay_b - (4.0 - left_weth) * 2400.0) - 10.0, rel=1e-12)
    assert pc is None and fc == c
    assert balance == [1.0, 30_000.0]  # the caller's balance is left alone
    # with 15,000 USDC it pays for a, not for b as well; a purchase that eats the profit drops the plan
    assert [p.user for p, _ in source.fund([a, b], [1.0, 15_000.0], prices, 10.0, 50.0)] == ["a"]
    assert source.fund([a._replace(profit_usd=100.0)], balance, prices, 10.0, 50.0) == []
    # what it could repay: its WETH and what all its USDC would buy (a hair under)
    capital = source.buyable([1.0, 30_000.0])
    assert capital[0] == pytest.approx(1.0 + 30_000.0 * 500.0 * 0.997 / (1.2e6 + 30_000.0 * 0.997), rel=1e-5)
    assert capital[1] == pytest.approx(30_000.0 + 1.0 * 1.2e6 * 0.997 / (500.0 + 0.997), rel=1e-5)


def test_the_recycled_capital_builtin_liquidates_more_than_its_capital():
    from defisim.scenario.loading import load_scenario

    sim = Simulation(load_scenario("crash-recycled-capital", ["protocols.aave.population.count=1500", "blocks=90"]))
    res = sim.run()
    s = res.summary()
    paid = withdrawals(res)
    assert len(paid) > 0 and set(paid["recipient"]) == {"keeper/0", "keeper/1", "keeper/2"}
    assert s["liquidated_usd"] > 1.5 * 9e6  # three keepers of $3M each
    usdc = sim.protocols["usdc"]
    assert usdc.balance_of("venue:cex") == pytest.approx(1e8 - paid["amount"].sum(), rel=1e-12)
    assert usdc.state.balances["balance"].sum() == pytest.approx(usdc.state.total_supply, rel=1e-12)


def test_a_backrunner_withdraws_its_proceeds_too(tmp_path):
    raw = crash(tmp_path, accounts=1)
    raw["chain"]["ordering"] = "bundle_auction"
    raw["agents"][1] = {"kind": "lending.backrunner", "name": "keeper",
                        "params": {"pool": "aave", "venue": "cex", "oracle": "eth_usd", "withdraw": WITHDRAW}}
    _sim, res = run(raw)
    assert res.liquidations["liquidator"].tolist() == ["keeper/0"]
    sales = res.venue_trades[res.venue_trades["trader"] == "keeper/0"]
    paid = withdrawals(res)
    assert paid["amount"].tolist() == [usd * (1 - 0.001) - 5.0 for usd in sales["usd"]]
    raw["agents"][1]["params"]["keep"] = ["USDC"]
    with pytest.raises(ScenarioError, match="keep: a backrunner does not support it"):
        validate_scenario(raw)
