"""The push feed's node network in a run (Chainlink Data Feeds docs: a new round on a deviation threshold or a heartbeat; Chainlink OCR docs): rounds on deviation and
heartbeat, and congestion delaying the on-chain answer."""
from defisim.scenario.loading import validate_scenario
from defisim.run.simulation import Simulation


def scenario(background_rate=0.0, blocks=60, moves=None, heartbeat="10m"):
    return validate_scenario({
        "name": "oracle",
        "blocks": blocks,
        "seed": 4,
        "network": {"public_latency": {"kind": "fixed", "value": "100ms"}},
        "background": {"rate_tx_per_block": background_rate, "gas_per_tx": 120_000,
                       "tip_gwei": {"kind": "lognormal", "median": 3.0, "sigma": 0.5},
                       "max_fee_gwei": {"kind": "fixed", "value": 1e6}},
        "markets": {
            "feeds": {"ETH": {"kind": "scripted", "base_price_usd": 2000.0, "moves": moves or []}},
            "venues": {"cex": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 1e6}}},
        },
        "protocols": {"eth_usd": {"kind": "oracles.push", "initial_answer": 2000.0, "deviation": 0.005, "heartbeat": heartbeat}},
        "agents": [{"kind": "oracles.push_updater", "name": "oracle",
                    "params": {"oracle": "eth_usd", "sources": ["cex"], "round_latency": {"kind": "fixed", "value": "3s"},
                               "gas": {"kind": "fixed", "tip_gwei": 2.0}}}],
    })


CRASH = [{"kind": "ramp", "start": "2m", "duration": "4m", "change": -0.30}]


def test_calm_market_updates_on_heartbeat_only():
    res = Simulation(scenario(blocks=120, heartbeat="10m")).run()  # 24 minutes
    up = res.oracle_updates
    assert len(up) == 2  # at ~10 and ~20 minutes
    assert ((up["observed_ms"] // 600_000) == [1, 2]).all()
    assert (up["answer"] == 2000.0).all()


def test_crash_is_followed_within_the_deviation_threshold():
    res = Simulation(scenario(blocks=60, moves=CRASH)).run()
    prices = res.prices.pivot(index="block", columns="name", values="price_usd")
    feed, answer = prices["ETH"], prices["eth_usd.answer"]
    # each block of the ramp moves the price 1.5%, past the 0.5% threshold: a round per block
    # (one transmission in flight at a time), 20 blocks of ramp
    assert 20 <= len(res.oracle_updates) <= 22
    up = res.oracle_updates
    assert (up["answer"] == up["reported"]).all()
    # one block after the ramp ended, the answer is within one deviation step of the feed
    assert abs(answer.iloc[-1] / feed.iloc[-1] - 1) < 0.005 + 1e-9
    assert (res.oracle_updates["lag_ms"] >= 3_000).all()


def test_congestion_delays_the_answer():
    calm = Simulation(scenario(blocks=60, moves=CRASH)).run().oracle_updates
    # background tips well above the transmitter's fixed 2 gwei tip: transmissions wait
    jam = Simulation(scenario(background_rate=400.0, blocks=60, moves=CRASH)).run().oracle_updates
    assert jam["lag_ms"].mean() > 2 * calm["lag_ms"].mean()
    assert jam["lag_ms"].max() > 24_000
