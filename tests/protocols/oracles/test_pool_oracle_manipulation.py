"""A spot-read lending market against a TWAP-read one under the same pool manipulation.

A manipulator sells 1,952 WETH into a 10,000 WETH / $20M pair (its price falls 30%), holds it
there for a block and buys back. A lending market that prices WETH by the pair's spot price sees
the fall at once and its keepers liquidate; one that reads the pair's 30-minute TWAP (Uniswap v2
style) moves by two slots' share of the window and liquidates nobody. There is no arbitrageur:
the pool is a thin one that nobody else trades.
"""
from __future__ import annotations

import pytest

from defisim import Simulation, load_scenario
from defisim.scenario.loading import ScenarioError

SCENARIO = """\
extends = "flash-crash"
name = "pool-oracle-manipulation"
blocks = 40

[markets.feeds.ETH]
moves = []

[protocols]
_replace = true

[protocols.weth]
kind = "token.ledger"
symbol = "WETH"
initial_balances = { "arb/0" = 50_000, "manip/0" = 2_000 }

[protocols.usdc]
kind = "token.ledger"
symbol = "USDC"
initial_balances = { "arb/0" = 100_000_000 }

[protocols.eth_usd]
kind = "oracles.push"
initial_answer = 2000.0

[protocols.usdc_usd]
kind = "oracles.fixed"
price = 1.0

[protocols.pair]
kind = "amm.cpmm"
token0 = "WETH"
token1 = "USDC"
reserve0 = 10_000
reserve1 = 20_000_000
ledgers = { WETH = "weth", USDC = "usdc" }

[protocols.weth_read]
kind = "oracles.spot"
pool = "pair"
asset = "WETH"

[protocols.aave]
kind = "lending.aave_v3"
tokens = { WETH = "weth", USDC = "usdc" }
oracles = { WETH = "weth_read", USDC = "usdc_usd" }
seed_supply = { USDC = 50_000_000 }
collateral_venues = { WETH = "pair" }
reserves = [
  { symbol = "WETH", ltv = 0.805, liquidation_threshold = 0.83, liquidation_bonus = 0.05, reserve_factor = 0.15, rate_strategy = { optimal_utilization = 0.9, slope1 = 0.027, slope2 = 0.8 } },
  { symbol = "USDC", ltv = 0.75, liquidation_threshold = 0.78, liquidation_bonus = 0.045, reserve_factor = 0.1, rate_strategy = { optimal_utilization = 0.9, slope1 = 0.04, slope2 = 0.6 } },
]
population = { count = 2_000, collateral_asset = "WETH", debt_asset = "USDC", size_usd = { kind = "lognormal", median = 20_000.0, sigma = 1.0 }, health_factor = { kind = "uniform", low = 1.02, high = 2.0 } }

[protocols.flash]
kind = "lending.flash_liquidator"

[[agents]]
kind = "lending.flash_keeper"
name = "keeper"
count = 3
params = { pool = "aave", contract = "flash", swap_pools = ["pair"], max_per_block = 20 }

[[agents]]
kind = "amm.manipulator"
name = "manip"
params = { pool = "pair", token_in = "WETH", amount = 1952.0, at = "2m" }
"""
FEE = 0.003


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("manipulation") / "manipulation.toml"
    path.write_text(SCENARIO)
    return {kind: Simulation(load_scenario(str(path), [f"protocols.weth_read.kind=oracles.{kind}",
                                                       "agents.1.params.hold_blocks=1"])).run()
            for kind in ("spot", "twap")}


def _manipulator_swaps(res):
    sw = res.tables["swaps"]
    return sw[sw["sender"] == "manip/0"].reset_index(drop=True)


def test_spot_read_market_liquidates_and_twap_read_market_does_not(runs):
    assert runs["spot"].summary()["liquidations"] >= 50
    assert runs["twap"].summary()["liquidations"] == 0
    for res in runs.values():  # the same push, included in the same block
        push = _manipulator_swaps(res).iloc[0]
        assert (push["block"], push["token_in"], push["amount_in"]) == (11, "WETH", 1952.0)


def test_twap_moves_by_the_slots_the_price_stood_off(runs):
    """After the push (block 11) the pair stands at p for the boundaries of blocks 12 and 13:
    the 30-minute average at block 13 is 2000 − (2000 − p)·24 s/1800 s."""
    res = runs["twap"]
    p = float(_manipulator_swaps(res).iloc[0]["price_after"])
    prices = res.tables["prices"]
    answer = prices[(prices["name"] == "weth_read.answer")].set_index("block")["price_usd"]
    assert answer[11] == pytest.approx(2000.0, rel=1e-12)  # the push is in block 11: counted from block 12
    assert answer[12] == pytest.approx(2000.0 - (2000.0 - p) * 12 / 1800, rel=1e-12)
    assert answer[13] == pytest.approx(2000.0 - (2000.0 - p) * 24 / 1800, rel=1e-12)
    spot = prices[(prices["name"] == "weth_read.spot")].set_index("block")["price_usd"]
    assert spot[12] == pytest.approx(p, rel=1e-12)


def test_the_manipulator_pays_the_fees_of_its_round_trip(runs):
    """Against an untouched pool the round trip returns, by the constant product with a 0.3% fee
    each way, less WETH than it sold; against the spot market the keepers' sales of seized WETH
    in between make WETH cheaper and the round trip gains."""
    r0, r1, x = 10_000.0, 20_000_000.0, 1952.0
    usdc = r1 * x * (1 - FEE) / (r0 + x * (1 - FEE))
    back = (r0 + x) * usdc * (1 - FEE) / (r1 - usdc + usdc * (1 - FEE))
    twap = _manipulator_swaps(runs["twap"])
    assert twap["amount_out"].tolist() == pytest.approx([usdc, back], rel=1e-12)
    assert back < x
    assert _manipulator_swaps(runs["spot"])["amount_out"].iloc[1] > x


def test_a_pool_oracle_must_price_a_token_of_its_pool(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.replace('pool = "pair"\nasset = "WETH"', 'pool = "pair"\nasset = "WBTC"'))
    with pytest.raises((ScenarioError, ValueError), match="WBTC.*is not a token of 'pair'"):
        Simulation(load_scenario(str(path)))
