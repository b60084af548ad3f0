"""Perps benchmark: one simulated day of one order-book perp market at 1e5 and 1e6 accounts.

Target (one core): a day at 1e5 accounts in under 5 s.

Run it with one command::

    python benchmarks/perps.py [--sizes 1e5,1e6] [--shock 0.85] [--out FILE]

It prints one JSON document on stdout (and writes it to ``--out`` if given).

What is measured
----------------
A :class:`~protocols.perps.clearinghouse.Clearinghouse` with one market (max leverage 40×, MMF
1.25%), its index a seeded random walk at 60% annual volatility sampled every minute, its book a
linear depth of ``500 · N`` USD per 1% (the book grows with the venue), resilience half-life 5
minutes, an insurance fund of $50 M. ``N`` accounts: notional lognormal (median $20,000,
σ = 1), leverage lognormal (median 4×, σ = 0.6, within 1.1–30×), long or short with equal
odds, all opened at the start. The day is 28,800 ticks of 3 s (mark, premium sample,
margin check, liquidations into the book, ADL when the fund cannot absorb), and a funding
payment at every hour boundary inside the day (23). ``--shock`` multiplies the index by that factor from noon on (a crash day): 1 is a
quiet day.

Per size: ``setup_s`` (opening the accounts), ``wall_s`` (the day), liquidations, ADL fills,
the insurance fund at the end.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench_env import emit, pin_to_one_core, source_state
from defisim.markets.feeds import CsvFeed
from defisim.markets.venues import LinearDepth, Venue
from protocols.perps.clearinghouse import Clearinghouse, PerpMarket

DAY_MS = 86_400_000
TICK_MS = 3_000
TARGET_S = {100_000: 5.0}


def run_day(n: int, shock: float, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(0, DAY_MS + 1, 60_000)
    path = 100_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.6 / np.sqrt(365 * 1440), t.size)))
    path[t >= DAY_MS // 2] *= shock
    feed = CsvFeed(t.tolist(), path.tolist(), "linear")
    book = Venue(feed, LinearDepth(500.0 * n), half_life_ms=300_000)
    ch = Clearinghouse([PerpMarket("BTC", feed, book, max_leverage=40.0)], insurance_fund_usd=5e7)
    notional = rng.lognormal(np.log(20_000.0), 1.0, n)
    leverage = np.clip(rng.lognormal(np.log(4.0), 0.6, n), 1.1, 30.0)
    side = rng.choice([-1.0, 1.0], n)
    start = time.perf_counter()
    ch.open_positions([f"a{i}" for i in range(n)], "BTC", side * notional / 100_000.0, 100_000.0, notional / leverage)
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    for tm in range(0, DAY_MS, TICK_MS):
        ch.tick(tm)
    wall_s = time.perf_counter() - start
    out = {"accounts": n, "setup_s": round(setup_s, 3), "wall_s": round(wall_s, 3),
           "liquidations": len(ch.liquidations), "adl_fills": len(ch.adl),
           "insurance_fund_usd": round(ch.insurance_fund_usd, 2), "funding_payments": len(ch.funding),
           "lowest_index_usd": round(float(path.min()), 2)}
    if n in TARGET_S:
        out["target_s"] = TARGET_S[n]
        out["pass"] = wall_s < TARGET_S[n]
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e5,1e6")
    parser.add_argument("--shock", type=float, default=1.0)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    pinned = pin_to_one_core()
    source = source_state()
    run_day(1_000, args.shock)  # untimed warm-up
    results = []
    for size in (int(float(s)) for s in args.sizes.split(",")):
        print(f"perps: {size:,} accounts ...", file=sys.stderr)
        results.append(run_day(size, args.shock))
    emit({"benchmark": "perps", "shock": args.shock, "results": results}, pinned, source, args.out)


if __name__ == "__main__":
    main()
