"""Heavy-day benchmark: a day in which keepers without capital clear a crashed book.

The built-in ``flash-crash`` (ETH −35% in 4 minutes; flash-loan keepers selling on an on-chain
WETH/USDC pair that an arbitrageur keeps at the venue's price) made heavy: the pair and the
arbitrageur's inventory 1,000× deeper (10M WETH / $20B USDC: the book's collateral, not the
pair, is the limit), 4 keepers of ``max_per_block`` 50, a full day of 7,200 blocks. About half
the borrowers fall below HF 1 at minute 5 and the keepers liquidate them, blocks filling with
flash liquidations (600k gas each: 60 to a block).

    python benchmarks/heavy_day.py [--sizes 1e4,1e5] [--blocks 7200] [--seeds 3,7,11] [--out FILE]

One JSON document on stdout: per size and seed, CPU seconds of ``Simulation.run()`` (process
time, one core), setup seconds, peak RSS of the process (MB), liquidations and liquidations per
second, reverted liquidation attempts, and the backlog at the end by cause. Each size runs in a
fresh process (``subprocess``) so the peak RSS is that run's.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

HEAVY = ["protocols.pair.reserve0=10000000", "protocols.pair.reserve1=20000000000",
         'protocols.weth.initial_balances={"arb/0": 50000000}',
         'protocols.usdc.initial_balances={"arb/0": 100000000000}',
         "agents.2.count=4", "agents.2.params.max_per_block=50"]
CAUSES = ("no_collateral", "refused", "dust", "gas", "depth", "profitable")


def one(n: int, blocks: int, seed: int) -> dict:
    """One heavy day in this process."""
    from defisim.run.simulation import Simulation
    from defisim.scenario.loading import load_scenario

    t0 = time.process_time()
    sim = Simulation(load_scenario("flash-crash", [f"protocols.aave.population.count={n}", f"blocks={blocks}",
                                                   f"seed={seed}", *HEAVY]))
    t1 = time.process_time()
    res = sim.run()
    t2 = time.process_time()
    s = res.summary()
    run_s = t2 - t1
    return {"borrowers": n, "seed": seed, "blocks": int(s["blocks"]), "setup_s": round(t1 - t0, 2),
            "run_cpu_s": round(run_s, 2), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "liquidations": int(s["liquidations"]), "liquidations_per_s": round(s["liquidations"] / run_s, 1),
            "reverted_liquidations": int(s["reverted_liquidations"]),
            "backlog_at_end": int(s["liquidation_backlog_at_end"]),
            "backlog_by_cause": {c: int(s.get(f"backlog_{c}", 0)) for c in CAUSES}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e4,1e5", help="borrowers, comma-separated (e.g. 1e4,1e5,1e6)")
    ap.add_argument("--blocks", type=int, default=7200)
    ap.add_argument("--seeds", default="7", help="seeds, comma-separated")
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", nargs=3, type=int, metavar=("N", "BLOCKS", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return 0
    runs = []
    for size in (int(float(x)) for x in args.sizes.split(",")):
        for seed in (int(x) for x in args.seeds.split(",")):
            print(f"heavy day: {size:,} borrowers, seed {seed}", file=sys.stderr)
            out = subprocess.run([sys.executable, __file__, "--one", str(size), str(args.blocks), str(seed)],
                                 capture_output=True, text=True)
            if out.returncode:
                runs.append({"borrowers": size, "seed": seed, "error": out.stderr.strip().splitlines()[-1:]})
            else:
                runs.append(json.loads(out.stdout))
    doc = json.dumps({"benchmark": "heavy_day", "runs": runs}, indent=2)
    print(doc)
    if args.out:
        with open(args.out, "w") as f:
            f.write(doc + "\n")
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
