"""Arbitrageurs pull a constant-product pool to the venue's price; swaps move traders' tokens."""
import numpy as np
import pytest

from defisim.scenario.loading import validate_scenario
from defisim.run.simulation import Simulation
from protocols.amm.agents import arbitrage_trade
from protocols.amm.math import get_amount_out

FEE = 0.003


def scenario(arbitrageurs: int = 1, blocks: int = 60) -> dict:
    """ETH −20% over 2 minutes on a venue; a Uniswap-like ETH/USDC pool starts at the venue's price."""
    agents = [{"kind": "amm.arbitrageur", "name": "arb", "count": arbitrageurs,
               "params": {"pool": "uni", "venue": "cex"}}] if arbitrageurs else []
    return {
        "name": "arb", "seed": 3, "blocks": blocks,
        "markets": {
            "feeds": {"ETH": {"kind": "scripted", "base_price_usd": 2000.0,
                              "moves": [{"kind": "ramp", "start": "1m", "duration": "2m", "change": -0.2}]}},
            "venues": {"cex": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 50_000_000}}},
        },
        "protocols": {
            "weth": {"kind": "token.ledger", "symbol": "WETH", "initial_balances": {"arb/0": 5_000.0}},
            "usdc": {"kind": "token.ledger", "symbol": "USDC", "initial_balances": {"arb/0": 1e7}},
            "uni": {"kind": "amm.cpmm", "token0": "WETH", "token1": "USDC", "reserve0": 5_000.0,
                    "reserve1": 1e7, "fee": FEE, "ledgers": {"WETH": "weth", "USDC": "usdc"}},
        },
        "agents": agents,
    }


def run(raw):
    sim = Simulation(validate_scenario(raw))
    return sim, sim.run()


def test_the_trade_lands_the_net_marginal_price_on_the_venue():
    for venue in (1_600.0, 2_300.0):
        i, a = arbitrage_trade((5_000.0, 1e7), FEE, venue)
        r = [5_000.0, 1e7]
        out = get_amount_out(a, r[i], r[1 - i], FEE)
        r[i] += a
        r[1 - i] -= out
        spot = r[1] / r[0]
        net = spot * (1 - FEE) if i == 0 else spot / (1 - FEE)  # what the next marginal unit fetches / costs
        assert net == pytest.approx(venue, rel=1e-12)


def test_arbitrageur_pulls_the_pool_to_the_venue_and_tokens_are_conserved():
    sim, res = run(scenario())
    _, idle = run(scenario(arbitrageurs=0))
    venue_end = res.prices.loc[res.prices["name"] == "cex", "price_usd"].iloc[-1]
    assert venue_end < 1_700.0  # the shock happened
    pool = sim.protocols["uni"]
    gap = abs(pool.spot_price() / venue_end - 1.0)
    assert gap < FEE + 0.002 + 1e-9  # within the fee band plus the arbitrageur's margin
    assert idle.summary()["uni.price"] == pytest.approx(2_000.0)  # nobody trades: the pool stays stale
    assert len(res.tables["swaps"]) > 0 and (res.tables["swaps"]["token_in"] == "WETH").all()
    # custody: the pool's ledger balances are its reserves; every token is conserved
    weth, usdc = sim.protocols["weth"], sim.protocols["usdc"]
    assert weth.balance_of("uni") == pytest.approx(pool.state.reserves[0], rel=1e-12)
    assert usdc.balance_of("uni") == pytest.approx(pool.state.reserves[1], rel=1e-12)
    assert weth.balance_of("arb/0") + weth.balance_of("uni") == pytest.approx(10_000.0, rel=1e-12)
    assert usdc.balance_of("arb/0") + usdc.balance_of("uni") == pytest.approx(2e7, rel=1e-12)
    # and it hedged on the venue: bought back the ETH it sold into the pool
    trades = res.tables["venue_trades"]
    assert (trades["side"] == "buy").all() and trades["amount"].sum() == pytest.approx(res.tables["swaps"]["amount_in"].sum())


def test_a_swap_without_the_tokens_reverts_and_changes_nothing():
    raw = scenario(arbitrageurs=0, blocks=1)
    sim = Simulation(validate_scenario(raw))
    pool = sim.protocols["uni"]
    before = (list(pool.state.reserves), sim.protocols["weth"].state.balances["balance"].copy())
    from defisim.base.tx import Revert
    with pytest.raises(Revert, match="insufficient balance"):
        type(pool).handlers["swap"].fn(pool, "nobody", token_in="WETH", amount_in=1.0)
    assert pool.state.reserves == before[0]
    assert np.array_equal(sim.protocols["weth"].state.balances["balance"], before[1])
