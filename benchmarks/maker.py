"""Maker benchmark: a day of vaults with auctions.

The built-in ``maker-crash`` (ETH −40% over an hour through the one-hour OSM; a barker, a taker
with DAI, a searcher selling on an on-chain pair inside the take, the Vow keeper) for a full day
of 7,200 blocks, at each size of vault book.

    python benchmarks/maker.py [--sizes 1e4,1e5] [--blocks 7200] [--seed 7] [--out FILE]

One JSON document on stdout: per size, CPU seconds of ``Simulation.run()`` (process time, one
core), setup seconds, peak RSS (MB), vault liquidations, auctions ended and still running, takes.
Each size runs in a fresh process so that the peak RSS is that run's. Target: 1e5 vaults ≤ 10 s.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from bench_env import emit, load_average, pin_to_one_core, source_state


def one(n: int, blocks: int, seed: int) -> dict:
    """One day at ``n`` vaults in this process."""
    from defisim.run.simulation import Simulation
    from defisim.scenario.loading import load_scenario

    t0 = time.process_time()
    sim = Simulation(load_scenario("maker-crash", [f"protocols.maker.vaults.count={n}", f"blocks={blocks}", f"seed={seed}"]))
    t1 = time.process_time()
    res = sim.run()
    t2 = time.process_time()
    s = res.summary()
    txs = res.tables["txs"]
    landed = txs[txs["status"] == "included"]
    return {"vaults": n, "seed": seed, "blocks": int(s["blocks"]), "setup_s": round(t1 - t0, 2),
            "run_cpu_s": round(t2 - t1, 2), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "vault_liquidations": int(s["maker.vault_liquidations"]), "auctions_ended": int(s["maker.auctions_ended"]),
            "auctions_running": int(s["maker.auctions_running"]),
            "takes": int(landed["method"].isin(["take", "take_and_sell"]).sum()),
            "auction_shortfall_dai": round(float(s["maker.auction_shortfall_dai"]), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e4,1e5", help="vaults, comma-separated")
    ap.add_argument("--blocks", type=int, default=7200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", nargs=3, type=int, metavar=("N", "BLOCKS", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    cpu = pin_to_one_core()  # the runs inherit the pinning
    runs, start = [], load_average()
    for size in (int(float(x)) for x in args.sizes.split(",")):
        print(f"maker day: {size:,} vaults", file=sys.stderr)
        out = subprocess.run([sys.executable, __file__, "--one", str(size), str(args.blocks), str(args.seed)],
                             capture_output=True, text=True)
        runs.append({"vaults": size, "error": out.stderr.strip().splitlines()[-1:]} if out.returncode
                    else json.loads(out.stdout))
    emit({"benchmark": "maker", "target": "1e5 vaults, a day with auctions: <= 10 s on one core", "runs": runs,
          "load_average": {"start": start, "end": load_average()}}, cpu, source_state(), args.out)
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
