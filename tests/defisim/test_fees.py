"""EIP-1559 base fee (EIP-1559 and vector 21), in isolation and through the chain."""
import pytest

from defisim.chain.fees import effective_gas_price_gwei, next_base_fee_wei
from defisim.base.units import GWEI


def test_ten_full_blocks_from_20_gwei():
    base = 20 * GWEI
    for _ in range(10):
        base = next_base_fee_wei(base, 36_000_000, 36_000_000)
    assert base / GWEI == pytest.approx(64.9464, abs=1e-4)


def test_empty_block_lowers_by_one_eighth_and_target_keeps():
    assert next_base_fee_wei(20 * GWEI, 0, 30_000_000) == 17.5 * GWEI
    assert next_base_fee_wei(20 * GWEI, 15_000_000, 30_000_000) == 20 * GWEI


def test_rise_is_at_least_one_wei():
    assert next_base_fee_wei(7, 15_000_001, 30_000_000) == 8


def test_partial_fill_is_proportional():
    # 75% full: (used - target)/target = 0.5 → +1/16
    assert next_base_fee_wei(16 * GWEI, 27_000_000, 36_000_000) == 17 * GWEI


def test_effective_price_caps_at_max_fee():
    assert effective_gas_price_gwei(50.0, 3.0, 40.0) == 43.0
    assert effective_gas_price_gwei(41.0, 3.0, 40.0) == 41.0


def test_chain_full_blocks_follow_the_vector(sandbox):
    # 300 background txs of 120k gas fill a 36M block exactly; fee caps never bind.
    sim = sandbox.simulation(
        blocks=12,
        background={"rate_tx_per_block": 5000, "gas_per_tx": 120_000, "max_fee_gwei": {"kind": "fixed", "value": 1e6}},
    )
    blocks = sim.run().blocks
    assert (blocks["gas_used"] == 36_000_000).all()
    assert blocks["base_fee_gwei"].iloc[0] == 20.0
    assert blocks["base_fee_gwei"].iloc[10] == pytest.approx(64.9464, abs=1e-4)


def _empty_block_path(base_wei: int, n: int) -> list[float]:
    """Base fees (gwei) of n consecutive empty blocks: each drops by floor(base / 8) wei."""
    out = []
    for _ in range(n):
        out.append(base_wei / GWEI)
        base_wei -= base_wei // 8
    return out


def test_chain_empty_blocks_fall_by_one_eighth(sandbox):
    blocks = sandbox.simulation(blocks=4).run().blocks
    assert blocks["base_fee_gwei"].tolist() == _empty_block_path(20 * GWEI, 4)


def test_base_fee_not_touched_by_missed_slots(sandbox):
    sim = sandbox.simulation(blocks=40, seed=3, chain={"missed_slot_probability": 0.4, "initial_base_fee_gwei": 20.0})
    res = sim.run()
    blocks, missed = res.blocks, res.missed_slots
    assert len(missed) > 0
    assert sorted(blocks["slot"].tolist() + missed["slot"].tolist()) == list(range(1, blocks["slot"].max() + 1))
    assert (blocks["time_ms"] == blocks["slot"] * 12_000).all()
    # one block after another, missed slots in between change nothing
    assert blocks["base_fee_gwei"].tolist() == _empty_block_path(20 * GWEI, 40)


# -- the fee market before EIP-1559 -------------------------------------------------------------
def test_a_first_price_market_has_no_base_fee_and_charges_the_offered_price():
    import pandas as pd

    from defisim.run.simulation import Simulation
    from defisim.scenario.loading import ScenarioError, load_scenario, validate_scenario

    data = load_scenario("payers", ["blocks=120"]).to_dict()
    data["chain"].pop("initial_base_fee_gwei")
    data["chain"]["fee_market"] = "first_price"

    res = Simulation(validate_scenario(data)).run()
    blocks, txs = res.tables["blocks"], res.tables["txs"]
    assert (blocks["base_fee_gwei"] == 0.0).all()
    assert (blocks["gas_used"] > blocks["gas_limit"] // 2).any()  # full blocks would have raised an EIP-1559 base fee
    landed = txs[txs["status"] == "included"]
    price = landed[["max_fee_gwei", "priority_fee_gwei"]].min(axis=1)
    pd.testing.assert_series_equal(landed["effective_gas_price_gwei"], price, check_names=False)
    # the same hour under EIP-1559 charges a base fee
    eip1559 = Simulation(load_scenario("payers", ["blocks=120"])).run().tables["blocks"]
    assert (eip1559["base_fee_gwei"] > 0).all()
    with pytest.raises(ScenarioError, match="initial_base_fee_gwei: a first-price fee market has no base fee"):
        load_scenario("payers", ["chain.fee_market=first_price", "chain.initial_base_fee_gwei=30"])
