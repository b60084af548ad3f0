"""Loopers on the engine (loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ): they build their loops through the mempool, the
Aave pool and a StableSwap pool, reach the closed-form leverage up to the swaps' costs, and when
the collateral's oracle falls they unwind step by step before anyone can liquidate them."""
import pytest

from defisim import Simulation, load_scenario
from protocols.lending.loops import loop_leverage

SCENARIO = """
name = "loopers"
seed = 3
blocks = 150

[chain]
slot = "12s"
gas_limit = 36_000_000
initial_base_fee_gwei = 10.0

[background]
rate_tx_per_block = 50
gas_per_tx = 120_000
tip_gwei = { kind = "fixed", value = 1.0 }
max_fee_gwei = { kind = "fixed", value = 100.0 }

[markets.feeds.sUSDe]
kind = "scripted"
base_price_usd = 1.0
moves = [{ kind = "ramp", start = "16m", duration = "1m", change = -0.03 }]

[markets.venues.ex]
asset = "sUSDe"
depth = { kind = "linear", depth_usd_per_pct = 1e9 }

[protocols.susde]
kind = "token.ledger"
symbol = "sUSDe"
initial_balances = { "looper/0" = 10_000.0, "looper/1" = 10_000.0, "looper/2" = 10_000.0 }

[protocols.usdc]
kind = "token.ledger"
symbol = "USDC"

[protocols.susde_usd]
kind = "oracles.push"
initial_answer = 1.0
deviation = 0.001
heartbeat = "1h"

[protocols.usdc_usd]
kind = "oracles.fixed"
price = 1.0

[protocols.curve]
kind = "amm.stableswap"
token0 = "sUSDe"
token1 = "USDC"
reserve0 = 50_000_000.0
reserve1 = 50_000_000.0
A = 200
ledgers = { sUSDe = "susde", USDC = "usdc" }

[protocols.aave]
kind = "lending.aave_v3"
tokens = { sUSDe = "susde", USDC = "usdc" }
oracles = { sUSDe = "susde_usd", USDC = "usdc_usd" }
seed_supply = { USDC = 10_000_000 }

[[protocols.aave.reserves]]
symbol = "sUSDe"
ltv = 0.9
liquidation_threshold = 0.92
liquidation_bonus = 0.03
reserve_factor = 0.1
rate_strategy = { optimal_utilization = 0.9, slope1 = 0.06, slope2 = 0.5 }

[[protocols.aave.reserves]]
symbol = "USDC"
ltv = 0.75
liquidation_threshold = 0.78
liquidation_bonus = 0.045
reserve_factor = 0.1
rate_strategy = { optimal_utilization = 0.9, slope1 = 0.06, slope2 = 0.5 }

[[agents]]
kind = "oracles.push_updater"
name = "oracle"
params = { oracle = "susde_usd", sources = ["ex"] }

[[agents]]
kind = "lending.looper"
name = "looper"
count = 3
params = { pool = "aave", amm = "curve", collateral = "sUSDe", debt = "USDC", equity = 10_000.0, fraction = 0.89, loops = 15, unwind_below_hf = 1.03 }
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("loopers") / "loopers.toml"
    path.write_text(SCENARIO)
    sim = Simulation(load_scenario(str(path)))
    return sim, sim.run()


def test_loopers_reach_the_closed_form_leverage_through_the_mempool(run):
    sim, results = run
    txs = results.txs
    mine = txs[txs["sender"].astype(str).str.startswith("looper/")]
    assert (mine["status"].astype(str) == "included").sum() >= 3 * (1 + 3 * 15)  # supply + 15 × (borrow, swap, supply)
    swaps = results.tables["swaps"]
    assert len(swaps[swaps["sender"].astype(str).str.startswith("looper/")]) >= 45
    # the leverage built: the closed form, less the StableSwap's fee and impact on each loop
    first = swaps[swaps["sender"].astype(str) == "looper/0"]
    built = 1.0 + first["amount_out"].iloc[:15].sum() / 10_000.0
    assert built == pytest.approx(loop_leverage(0.89, 15), rel=0.01) and built < loop_leverage(0.89, 15)


def test_loopers_unwind_when_the_oracle_falls_and_nobody_is_liquidated(run):
    sim, results = run
    pool = sim.protocols["aave"]
    view = pool.view()
    for i in range(3):
        row = view.row_of(f"looper/{i}")
        coll, debt = view.position(row)
        # the 3% fall took the loop below 1.03; it was unwound until HF is back above it
        assert float(pool.health_factors()[row]) >= 1.03
        assert debt[1] < 0.99 * 10_000.0 * (loop_leverage(0.89, 15) - 1.0)  # less debt than built
    assert results.summary()["aave.liquidations"] == 0
    withdrawals = results.txs[(results.txs["sender"].astype(str).str.startswith("looper/"))]
    assert "withdraw" in set(withdrawals["method"].astype(str))


@pytest.mark.parametrize("max_rate", [None, 0.10])
def test_loopers_unwind_when_their_own_borrowing_spikes_the_rate(tmp_path, max_rate):
    """loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ: with 210,000 USDC to lend, three loops of 10,000 sUSDe at 15 × 0.89 take the USDC
    reserve past its kink. Loopers whose carry turns negative above 10% a year unwind until the
    rate is back below it (and stop building once it is past), selling no more than repays their
    debt; without that rule they keep paying the spike."""
    path = tmp_path / "loopers.toml"
    path.write_text(SCENARIO)
    overrides = ["protocols.aave.seed_supply.USDC=210000", "markets.feeds.sUSDe.moves=[]", "blocks=200"]
    if max_rate is not None:
        overrides.append(f"agents.1.params.max_borrow_rate={max_rate}")
    sim = Simulation(load_scenario(str(path), overrides))
    results = sim.run()
    usdc = sim.protocols["aave"].index["USDC"]
    rate = float(sim.protocols["aave"].current_rates()[0][usdc])
    borrows = results.txs[(results.txs["method"].astype(str) == "borrow") & (results.txs["status"].astype(str) == "included")]
    assert len(borrows) >= 30  # the loops were built
    if max_rate is None:
        assert rate > 0.10  # the spike stays
        assert len(borrows) == 3 * 15
    else:
        assert rate <= 0.10  # unwound below the threshold
        assert "repay" in set(results.txs["method"].astype(str))
        assert len(borrows) < 3 * 15  # the loops stop building once the rate is past the limit
        idle = [sim.protocols["usdc"].balance_of(f"looper/{i}") for i in range(3)]
        assert max(idle) < 0.01 * 10_000.0  # an unwind sells no more than repays the debt
    assert results.summary()["aave.liquidations"] == 0
