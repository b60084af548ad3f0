"""Heavy-day benchmark: a day in which keepers without capital clear a crashed book.

The built-in ``flash-crash`` (ETH −35% in 4 minutes; flash-loan keepers selling on an on-chain
WETH/USDC pair that an arbitrageur keeps at the venue's price) made heavy: the pair and the
arbitrageur's inventory 1,000× deeper (10M WETH / $20B USDC: the book's collateral, not the
pair, is the limit), 4 keepers of ``max_per_block`` 50, a full day of 7,200 blocks. About half
the borrowers fall below HF 1 at minute 5 and the keepers liquidate them, blocks filling with
flash liquidations (600k gas each: 60 to a block).

    python benchmarks/heavy_day.py [--sizes 1e4,1e5] [--blocks 7200] [--seeds 3,7,11] [--naive-size 1e4] [--out FILE]

One JSON document on stdout: per size and seed, CPU seconds of ``Simulation.run()`` (process
time, one core), setup seconds, peak RSS of the process (MB), liquidations and liquidations per
second, reverted liquidation attempts, and the backlog at the end by cause. Each size runs in a
fresh process (``subprocess``) so the peak RSS is that run's.

``--naive-size N`` adds the same day at N borrowers on the naive pool of ``benchmarks/lending.py``
(one Python object per position, health factors and candidates by Python loops over all of
them, interest accrued position by position), liquidated by the same flash keepers, and the
ratio of the two run times; the two days must liquidate the same accounts (checked).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ["protocols.pair.reserve0=10000000", "protocols.pair.reserve1=20000000000",
         'protocols.weth.initial_balances={"arb/0": 50000000}',
         'protocols.usdc.initial_balances={"arb/0": 100000000000}',
         "agents.2.count=4", "agents.2.params.max_per_block=50"]
CAUSES = ("no_collateral", "refused", "dust", "gas", "depth", "profitable")


def one(n: int, blocks: int, seed: int, naive: bool = False) -> dict:
    """One heavy day in this process (on the naive pool of ``benchmarks/lending.py`` if ``naive``)."""
    from defisim.run.simulation import Simulation
    from defisim.scenario.loading import load_scenario

    registry, extra = None, []
    if naive:
        sys.path.insert(0, str(Path(__file__).parent))
        from lending import NaivePool, bench_registry

        registry, extra = bench_registry(), [f"protocols.aave.kind={NaivePool.kind}"]
    t0 = time.process_time()
    overrides = [f"protocols.aave.population.count={n}", f"blocks={blocks}", f"seed={seed}", *HEAVY, *extra]
    sim = Simulation(load_scenario("flash-crash", overrides, registry), registry=registry)
    t1 = time.process_time()
    res = sim.run()
    t2 = time.process_time()
    s = res.summary()
    run_s = t2 - t1
    liq = res.liquidations
    return {"borrowers": n, "seed": seed, "implementation": "naive" if naive else "vectorised",
            "blocks": int(s["blocks"]), "setup_s": round(t1 - t0, 2),
            "liquidated_users_digest": hashlib.sha256("\n".join(map(str, zip(liq["block"], liq["user"]))).encode()).hexdigest(),
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
    ap.add_argument("--naive-size", default=None, help="also run the naive per-object pool at this size (e.g. 1e4)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", nargs=4, type=int, metavar=("N", "BLOCKS", "SEED", "NAIVE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        n, blocks, seed, naive = args.one
        print(json.dumps(one(n, blocks, seed, bool(naive))))
        return 0
    seeds = [int(x) for x in args.seeds.split(",")]
    todo = [(int(float(x)), seed, False) for x in args.sizes.split(",") for seed in seeds]
    if args.naive_size:
        todo.append((int(float(args.naive_size)), seeds[0], True))
    runs = []
    for size, seed, naive in todo:
        print(f"heavy day: {size:,} borrowers, seed {seed}{' (naive)' if naive else ''}", file=sys.stderr)
        out = subprocess.run([sys.executable, __file__, "--one", str(size), str(args.blocks), str(seed), str(int(naive))],
                             capture_output=True, text=True)
        if out.returncode:
            runs.append({"borrowers": size, "seed": seed, "error": out.stderr.strip().splitlines()[-1:]})
        else:
            runs.append(json.loads(out.stdout))
    doc = {"benchmark": "heavy_day", "runs": runs}
    naive_runs = [r for r in runs if r.get("implementation") == "naive"]
    for r in naive_runs:
        same = [v for v in runs if v.get("implementation") == "vectorised" and (v["borrowers"], v["seed"]) == (r["borrowers"], r["seed"])]
        if same:
            doc["naive_vs_vectorised"] = {"borrowers": r["borrowers"], "naive_run_cpu_s": r["run_cpu_s"],
                                          "vectorised_run_cpu_s": same[0]["run_cpu_s"],
                                          "speedup": round(r["run_cpu_s"] / same[0]["run_cpu_s"], 1),
                                          "same_liquidations": r["liquidated_users_digest"] == same[0]["liquidated_users_digest"]}
    doc = json.dumps(doc, indent=2)
    print(doc)
    if args.out:
        with open(args.out, "w") as f:
            f.write(doc + "\n")
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
