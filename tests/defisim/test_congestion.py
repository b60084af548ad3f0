"""Inclusion under congestion (go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest): waiting time of a fixed bid against background
demand whose fee distribution is known, replace-by-fee and per-sender nonce order."""
import math

import pytest

from defisim.base.distributions import LogNormal
from defisim.base.tx import Call, TxStatus

LAM, GAS_BG, LIMIT = 400.0, 120_000, 36_000_000
TIPS = LogNormal(median=2.0, sigma=0.5)
CONGESTED = {
    "rate_tx_per_block": LAM,
    "gas_per_tx": GAS_BG,
    "tip_gwei": TIPS.model_dump(),
    "max_fee_gwei": {"kind": "fixed", "value": 1e6},  # fee caps never bind: only tips decide
}
TRANSFER = Call("usd", "transfer", {"to": "bob", "amount": 1.0})


def poisson_cdf(k: int, lam: float) -> float:
    return sum(math.exp(i * math.log(lam) - lam - math.lgamma(i + 1)) for i in range(k + 1))


def inclusion_probability(p: float, gas_limit: int) -> float:
    """A bid at tip quantile p gets in iff the background txs bidding more leave room for it.

    Those are Poisson(λ(1-p)); the tx fits behind k of them iff k·g + gas ≤ limit."""
    room = (LIMIT - gas_limit) // GAS_BG
    return poisson_cdf(room, LAM * (1 - p))


def wait_blocks(sandbox, seed: int, tip: float) -> int:
    out = {}

    def bidder(ctx):
        receipt = yield ctx.submit(TRANSFER, 60_000, 1e6, tip)
        out["block"] = receipt.block

    sandbox.simulation({"alice": bidder}, seed=seed, blocks=60, background=CONGESTED).run()
    return out["block"]


@pytest.mark.parametrize("p", [0.22, 0.25])
def test_wait_matches_geometric_law(sandbox, p):
    q = inclusion_probability(p, 60_000)
    tip = TIPS.quantile(p)
    waits = [wait_blocks(sandbox, seed, tip) for seed in range(200)]
    mean = sum(waits) / len(waits)
    expected = 1 / q  # blocks are independent trials; first block is block 1
    se = math.sqrt(1 - q) / q / math.sqrt(len(waits))
    assert abs(mean - expected) < 4 * se, (mean, expected, se)
    share_first = sum(w == 1 for w in waits) / len(waits)
    assert abs(share_first - q) < 4 * math.sqrt(q * (1 - q) / len(waits))


def test_high_bid_gets_in_at_once(sandbox):
    tip = TIPS.quantile(0.9)
    assert inclusion_probability(0.9, 60_000) > 1 - 1e-12
    assert all(wait_blocks(sandbox, seed, tip) == 1 for seed in range(20))


def test_replace_by_fee_gets_a_stuck_tx_included(sandbox):
    log = {}

    def bidder(ctx):
        first = ctx.submit(TRANSFER, 60_000, 1e6, TIPS.quantile(0.01))
        for _ in range(5):
            yield ctx.new_block
        log["stuck_after_5"] = not first.triggered
        low = ctx.replace(first.tx, 1e6 * 1.05, TIPS.quantile(0.01) * 1.05)  # below the 10% bump
        high = ctx.replace(first.tx, 1e6 * 1.2, TIPS.quantile(0.999) * 2)
        log["replaced_at"] = ctx.chain.number
        log["low"], log["first"], log["high"] = (yield low), (yield first), (yield high)

    sim = sandbox.simulation({"alice": bidder}, blocks=10, background=CONGESTED)
    sim.run()
    assert inclusion_probability(0.01, 60_000) < 1e-6
    assert log["stuck_after_5"]
    assert log["low"].status == TxStatus.DROPPED and log["low"].reason == "replacement underpriced"
    assert log["first"].status == TxStatus.DROPPED and log["first"].reason == "replaced"
    assert log["high"].status == TxStatus.INCLUDED
    assert log["high"].block == log["replaced_at"] + 1 == 6
    assert sim.protocols["usd"].balance_of("bob") == 1.0


def test_stuck_nonce_blocks_later_nonces(sandbox):
    log = {}

    def sender(ctx):
        stuck = ctx.submit(TRANSFER, 60_000, 1e6, TIPS.quantile(0.01))
        rich = ctx.submit(TRANSFER, 60_000, 1e6, TIPS.quantile(0.999) * 2)
        for _ in range(3):
            yield ctx.new_block
        log["rich_waiting"] = not rich.triggered
        bumped = ctx.replace(stuck.tx, 2e6, TIPS.quantile(0.999) * 3)
        log["bumped"], log["rich"] = (yield bumped), (yield rich)

    sandbox.simulation({"alice": sender}, blocks=6, background=CONGESTED).run()
    assert log["rich_waiting"]
    assert log["bumped"].block == log["rich"].block == 4
    assert log["bumped"].index < log["rich"].index
    assert (log["bumped"].tx.nonce, log["rich"].tx.nonce) == (0, 1)


def test_fee_cap_below_base_fee_waits(sandbox):
    """A tx whose fee cap is under the base fee is not includable until the base fee falls."""
    log = {}

    def sender(ctx):
        r = yield ctx.submit(TRANSFER, 60_000, 16.0, 1.0)
        log["r"] = r

    res = sandbox.simulation({"alice": sender}, blocks=5).run()  # empty blocks: 20 → 17.5 → 15.3
    assert log["r"].block == 3
    assert res.blocks["base_fee_gwei"].iloc[2] <= 16.0 < res.blocks["base_fee_gwei"].iloc[1]
    assert log["r"].effective_gas_price_gwei == pytest.approx(16.0)
