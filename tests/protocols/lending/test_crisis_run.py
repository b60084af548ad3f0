"""A lending crisis end to end (built-in ``eth-crash``, smaller): liquidations happen, keepers
race, tokens are conserved, bad debt is booked, and the keepers' selling deepens the drop."""
import numpy as np
import pytest

from defisim.scenario.loading import load_scenario
from protocols.lending.aave_v3 import math as am
from defisim.run.simulation import Simulation

SMALL = ["protocols.aave.population.count=1500", "blocks=90"]


def run(*overrides):
    sim = Simulation(load_scenario("eth-crash", SMALL + list(overrides)))
    return sim, sim.run()


@pytest.fixture(scope="module")
def base():
    return run()


def venue_min(res):
    p = res.prices
    return p.loc[p["name"] == "cex", "price_usd"].min()


def test_liquidations_and_keeper_races(base):
    sim, res = base
    assert len(res.liquidations) > 20
    liq_txs = res.txs[res.txs["method"] == "liquidation_call"]
    lost = liq_txs[liq_txs["status"] == "reverted"]
    assert len(lost) > 0 and (lost["fee_paid_gwei"] > 0).all()  # losers pay gas
    assert set(lost["reason"]) <= {"HEALTH_FACTOR_NOT_BELOW_THRESHOLD", "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER",
                                   "COLLATERAL_CANNOT_BE_LIQUIDATED", "MUST_NOT_LEAVE_DUST"}
    # every liquidated account was below HF 1 at the oracle price when it was liquidated
    assert (res.liquidations["hf_before"] < 1).all()


def test_tokens_are_conserved_and_custody_matches(base):
    sim, res = base
    for name in ("weth", "usdc"):
        ledger = sim.protocols[name]
        balances = ledger.state.balances["balance"]
        assert balances.sum() == pytest.approx(ledger.state.total_supply, rel=1e-12)
        assert (balances >= -1e-9).all()
    assert (res.transfers["kind"] == "transfer").all()  # nothing minted or burned during the run
    pool = sim.protocols["aave"]
    coll, _debt = pool.balances()
    # WETH is not borrowed: the pool holds exactly its depositors' collateral
    assert sim.protocols["weth"].balance_of("aave") == pytest.approx(coll[:, 0].sum(), rel=1e-9)


def test_bad_debt_is_the_debt_left_without_collateral():
    sim, res = run("markets.venues.cex.depth.depth_usd_per_pct=300000")
    pool = sim.protocols["aave"]
    coll, debt = pool.balances()
    prices = pool.prices_usd()
    assert res.liquidations["deficit_usd"].sum() > 0
    empty = coll.sum(axis=1) == 0
    assert debt[empty].sum() == pytest.approx(0.0, abs=1e-6)  # written off, not hidden
    assert pool.state.deficit @ prices == pytest.approx(res.liquidations["deficit_usd"].sum(), rel=1e-9)


def test_selling_seized_collateral_deepens_the_drop(base):
    _sim, res = base
    _, thin = run("markets.venues.cex.depth.depth_usd_per_pct=500000")
    _, deep = run("markets.venues.cex.depth.depth_usd_per_pct=50000000")
    _, kept = run("markets.venues.cex.depth.depth_usd_per_pct=500000", "agents.1.params.sell=false")
    feed_min = res.prices.loc[res.prices["name"] == "ETH", "price_usd"].min()
    assert venue_min(thin) < venue_min(res) < venue_min(deep) <= feed_min + 1e-9
    assert venue_min(kept) == pytest.approx(feed_min, rel=1e-12)  # no sales, no extra drop
    assert len(res.venue_trades) > 0 and (res.venue_trades["side"] == "sell").all()


MEV = [
    "chain.ordering=bundle_auction",
    'protocols.usdc.initial_balances={"keeper/0": 3e6, "keeper/1": 3e6, "keeper/2": 3e6, "mev/0": 3e6}',
    "agents=[{kind: oracles.push_updater, name: oracle, params: {oracle: eth_usd, sources: [cex]}},"
    " {kind: lending.keeper, name: keeper, count: 3, params: {pool: aave, venue: cex, max_per_block: 20}},"
    " {kind: lending.backrunner, name: mev, params: {pool: aave, venue: cex, oracle: eth_usd, max_per_block: 20}}]",
]


def test_backrunner_lands_liquidations_right_behind_the_oracle_update():
    _sim, res = run(*MEV)
    txs = res.txs
    mev = txs[(txs["sender"] == "mev/0") & (txs["method"] == "liquidation_call") & (txs["status"] == "included")]
    oracle = txs[(txs["method"] == "transmit") & (txs["status"] == "included")].set_index("block")
    assert len(mev) > 0
    for block, group in mev.groupby("block"):
        # the bundle: the transmission at the top of the block, then the liquidations
        assert group["index"].min() == oracle.loc[block, "index"] + 1
        assert (group["bundle_id"] >= 0).all()
    included = res.bundles[res.bundles["status"] == "included"]
    assert len(included) > 0 and (included["payment_gwei"] > 0).all()
    # in those blocks the public keepers' liquidations come after the whole bundle
    public = txs[(txs["method"] == "liquidation_call") & (txs["sender"] != "mev/0") & txs["block"].isin(mev["block"])]
    last_of_bundle = mev.groupby("block")["index"].max()
    assert (public["index"].to_numpy() > last_of_bundle.loc[public["block"]].to_numpy()).all()


def guarded(share: float):
    return run("agents=[{kind: oracles.push_updater, name: oracle, params: {oracle: eth_usd, sources: [cex]}},"
               " {kind: lending.keeper, name: keeper, count: 3, params: {pool: aave, venue: cex, max_per_block: 20}},"
               f" {{kind: lending.borrower_guard, name: guard, params: {{pool: aave, share: {share}}}}}]")


def test_borrowers_who_repay_in_time_are_liquidated_less():
    sim0, none = guarded(0.0)
    sim1, all_ = guarded(1.0)
    repays = all_.txs[all_.txs["method"] == "repay"]
    assert len(none.txs[none.txs["method"] == "repay"]) == 0
    assert (repays["status"] == "included").mean() > 0.9
    assert all_.liquidations["debt_repaid_usd"].sum() < 0.6 * none.liquidations["debt_repaid_usd"].sum()
    # the repayments came from the borrowers' own wallets and reduced their debt
    pool = sim1.protocols["aave"]
    usdc = sim1.protocols["usdc"]
    repaid = repays[repays["status"] == "included"]
    some = repaid["sender"].iloc[0]
    _coll, debt = pool.account(some)
    assert usdc.balance_of(some) >= 0.0 and debt[1] >= 0.0
    assert usdc.state.balances["balance"].sum() == pytest.approx(usdc.state.total_supply, rel=1e-12)


def test_congestion_delays_the_oracle_and_leaves_bad_debt():
    """Same seed, same crash; only the background demand rises (``crash-congested-oracle``): the
    oracle's capped transmissions wait many blocks, the on-chain price goes stale, and positions
    that were liquidatable in time are liquidated late, with collateral short of their debt."""
    whole = ["protocols.aave.population.count=1500"]  # the scenarios' 150 blocks: past the spike's end
    calm = Simulation(load_scenario("eth-crash", whole)).run()
    congested = Simulation(load_scenario("crash-congested-oracle", whole)).run()
    assert load_scenario("crash-congested-oracle").spec.seed == load_scenario("eth-crash").spec.seed
    calm_s, cong_s = calm.summary(), congested.summary()
    slot_s = 12.0
    assert calm_s["oracle_lag_max_s"] < 2 * slot_s  # calm: an update lands in the next block or so
    assert cong_s["oracle_lag_max_s"] > 5 * slot_s  # congested: several blocks behind
    assert cong_s["written_off_usd"] > calm_s["written_off_usd"] + 1_000.0
    assert cong_s["total_loss_usd"] > calm_s["total_loss_usd"]
    # the stale price is the cause: the oracle answer sat above the venue while updates waited
    p = congested.prices.pivot_table(index="block", columns="name", values="price_usd")
    assert (p["eth_usd.answer"] / p["cex"]).max() > 1.05


def test_health_factor_quantiles_follow_the_pool():
    """The ``health_factors`` rows equal the quantiles of the pool's own health factors. Before
    the crash (it starts at block 25) no transaction changes a position and the oracle does not
    move, so rows come every ``health_quiet_blocks``, and the state at the end of block 19 is the
    state the row of block 19 was recorded from (after its accrual)."""
    quiet = ["protocols.aave.population.count=800", "protocols.aave.health_every_blocks=3",
             "protocols.aave.health_quiet_blocks=6"]
    res = Simulation(load_scenario("eth-crash", quiet + ["blocks=20"])).run()
    hf = res.tables["health_factors"]
    assert hf["block"].tolist() == [1, 7, 13, 19]
    sim_last = Simulation(load_scenario("eth-crash", quiet + ["blocks=19"]))
    sim_last.run()
    pool = sim_last.protocols["aave"]
    prices = pool.prices_usd()
    coll, debt = pool.balances()
    debt_usd = (debt * prices).sum(axis=1)
    has = debt_usd > 0
    values = am.health_factors(coll[has], debt[has], prices, pool.lt)
    last = hf.iloc[-1]
    assert last["borrowers"] == has.sum() == 800
    for q in (0.01, 0.05, 0.25, 0.5):  # computed another way: equal up to float rounding
        assert last[f"hf_p{round(q * 100):02d}"] == pytest.approx(np.quantile(values, q), rel=1e-12)
    assert last["below_1"] == (values < 1).sum() == 0  # before the crash nobody is liquidatable
    assert last["debt_below_1_usd"] == 0.0
    assert (hf["hf_p01"] <= hf["hf_p05"]).all() and (hf["hf_p25"] <= hf["hf_p50"]).all()


def test_health_factors_are_recorded_often_while_prices_move():
    res = Simulation(load_scenario("eth-crash", ["protocols.aave.population.count=800", "blocks=50",
                                                 "protocols.aave.health_every_blocks=3"])).run()
    blocks = res.tables["health_factors"]["block"].tolist()
    assert blocks[0] == 1 and all(b - a >= 3 for a, b in zip(blocks, blocks[1:]))
    during = [b for b in blocks if 28 <= b <= 46]  # the oracle moves every block or two
    assert len(during) >= 5
    assert res.tables["health_factors"]["below_1"].max() > 0


FUNDED = ['protocols.usdc.initial_balances={"keeper/0": 2e7, "keeper/1": 2e7, "keeper/2": 2e7}',
          "protocols.aave.population.count=2000", "blocks=300"]


def test_thinner_depth_gives_a_lower_price_and_more_liquidations():
    """The spiral, emergent: with keepers funded well enough not to run dry, the same crash on a
    book ten times thinner sinks the venue further (their sales), pushes more accounts below
    HF 1 (the oracle follows the venue) and so ends in more liquidations and more bad debt."""
    thin = Simulation(load_scenario("eth-crash", FUNDED + ["markets.venues.cex.depth.depth_usd_per_pct=2000000"])).run()
    deep = Simulation(load_scenario("eth-crash", FUNDED + ["markets.venues.cex.depth.depth_usd_per_pct=20000000"])).run()
    t, d = thin.summary(), deep.summary()
    assert t["min_price_usd.feed.ETH"] == d["min_price_usd.feed.ETH"]  # the same exogenous shock
    assert t["min_price_usd.venue.cex"] < d["min_price_usd.venue.cex"] - 50.0
    assert thin.tables["health_factors"]["below_1"].max() > deep.tables["health_factors"]["below_1"].max()
    assert t["liquidations"] > 1.1 * d["liquidations"]
    assert t["liquidated_usd"] > d["liquidated_usd"]
    assert t["written_off_usd"] > d["written_off_usd"] and t["total_loss_usd"] > d["total_loss_usd"]


def test_escalating_keepers_get_in_while_the_base_fee_climbs():
    """A gas spike right as liquidations start: keepers whose fee cap is the base fee plus a small
    tip fall behind the rising base fee and wait; re-bidding (replace-by-fee, escalating) gets
    their liquidations in."""
    spike = ["protocols.aave.population.count=1500", "blocks=90",
             "background.spikes=[{start: 5m30s, duration: 20m, rate_multiplier: 6.0, tip_multiplier: 3.0}]",
             "agents.0.params.gas={kind: percentile, quantile: 0.9, markup: 3.0}",  # the oracle keeps up
             "agents.1.params.gas={kind: fixed, tip_gwei: 1.0, max_fee_multiplier: 1.0}"]
    flat = Simulation(load_scenario("eth-crash", spike)).run()
    escalating = Simulation(load_scenario("eth-crash", spike + ["agents.1.params.rebid_after_blocks=1"])).run()

    def keeper_txs(res):
        t = res.txs
        return t[t["method"] == "liquidation_call"]

    stuck = keeper_txs(flat)
    assert (stuck["status"] == "pending").sum() > 100  # fee caps left behind by the base fee
    assert (stuck["reason"] == "replaced").sum() == 0
    bumped = keeper_txs(escalating)
    assert (bumped["reason"] == "replaced").sum() > 0
    assert len(escalating.liquidations) > 2 * len(flat.liquidations)


def test_keepers_selling_into_a_pool_move_its_price_on_chain():
    """Keepers that sell seized ETH into a Uniswap-like pool (swaps through the mempool) push the
    pool's price below the venue's; tokens stay conserved across ledgers, pool and pool custody."""
    pool = ('protocols.uni={kind: amm.cpmm, token0: WETH, token1: USDC, reserve0: 2000.0, reserve1: 4000000.0,'
            ' ledgers: {WETH: weth, USDC: usdc}}')
    sim, res = run(pool, "agents.1.params.sell_pool=uni")
    swaps = res.tables["swaps"]
    assert len(swaps) > 0 and swaps["sender"].str.startswith("keeper/").all()
    assert (swaps["token_in"] == "WETH").all()
    assert len(res.venue_trades) == 0  # nothing sold off chain
    p = res.prices.pivot_table(index="block", columns="name", values="price_usd")
    assert p["uni.price"].min() < p["cex"].min()  # their sales sank the pool below the venue
    weth, usdc, uni = sim.protocols["weth"], sim.protocols["usdc"], sim.protocols["uni"]
    assert weth.balance_of("uni") == pytest.approx(uni.state.reserves[0], rel=1e-12)
    assert usdc.balance_of("uni") == pytest.approx(uni.state.reserves[1], rel=1e-12)
    for ledger in (weth, usdc):
        assert ledger.state.balances["balance"].sum() == pytest.approx(ledger.state.total_supply, rel=1e-12)


def test_skipping_sizing_is_exact():
    """Whenever ``worth_planning`` says no, sizing the candidates with that capital finds nothing
    that clears the profit threshold: the keepers' shortcut never changes what they send."""
    from protocols.lending.aave_v3.agents import plan_liquidations, worth_planning

    sim = Simulation(load_scenario("eth-crash", ["protocols.aave.population.count=1500", "blocks=34",
                                                 'protocols.usdc.initial_balances={"keeper/0": 1.0}']))
    sim.run()  # mid-crash: many accounts below HF 1
    pool, venue = sim.protocols["aave"].view(), sim.venues["cex"]
    now = sim.env.now
    rows, hf, debt_usd = pool.liquidation_candidates()
    assert rows.size > 50
    prices = pool.prices_usd()
    rng = np.random.default_rng(4)
    said_no = 0
    for usdc in np.concatenate([10 ** rng.uniform(-3, 3.5, 80), 10 ** rng.uniform(3.5, 6, 20), [0.0]]):
        capital = [0.0, float(usdc)]
        for gas_usd, min_profit in ((5.0, 10.0), (40.0, 10.0), (0.0, 50.0)):
            if worth_planning(capital, prices, pool.max_bonus, venue.mid(now), gas_usd, min_profit, pool.borrowed()):
                continue
            said_no += 1
            plans = plan_liquidations(pool, venue, rows, prices, hf, gas_usd, min_profit, now, 20, debt_usd,
                                      np.array(capital))
            assert plans == []
    assert said_no > 20


def test_health_records_thin_out_on_a_large_book():
    """The health table reads every account: by default it is written at most every 10 blocks,
    and every accounts / 10,000 blocks beyond 100,000 accounts; a given cadence is kept."""
    def gaps(count, *extra):
        res = Simulation(load_scenario("eth-crash", [f"protocols.aave.population.count={count}", "blocks=150",
                                                     *extra])).run()
        return np.diff(res.health_factors["block"].to_numpy())

    small = gaps(2_000)
    assert small.min() == 10
    large = gaps(250_000)  # 250,000 borrowers and the pool's own accounts: at most every 25 blocks
    assert large.min() == 25
    assert gaps(250_000, "protocols.aave.health_every_blocks=10").min() == 10
