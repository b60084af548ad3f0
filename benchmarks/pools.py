"""Lending pools side by side: the same day (ETH −35% in 4 minutes on a thin venue, a full day of
7,200 blocks) on the Aave v3 pool (``eth-crash``), a Morpho Blue market (``morpho-crash``) and a
Compound III deployment (``comet-crash``), at each size.

    python benchmarks/pools.py [--sizes 1e5,1e6] [--blocks 7200] [--quiet] [--out FILE]

``--quiet`` runs the same day without the crash (ETH flat): the per-block cost of each book.

One JSON document on stdout: per pool and size, CPU seconds of ``Simulation.run()`` (process
time, one core), setup seconds, peak RSS (MB), liquidations, and the ratio of the run time to the
Aave pool's at the same size. Each run is a fresh process (``subprocess``) so its peak RSS is its
own. The books differ in what each protocol's borrowers look like (Aave: health factors; Morpho:
health factors at its LLTV; Compound III: a share of the borrow limit), so the liquidation
counts differ; the time is per day of the same market.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from bench_env import emit, load_average, pin_to_one_core, source_state

POOLS = {"aave": ("eth-crash", "protocols.aave.population.count"),
         "morpho": ("morpho-crash", "protocols.morpho.borrowers.count"),
         "comet": ("comet-crash", "protocols.comet.borrowers.count")}


def one(pool: str, n: int, blocks: int, quiet: bool = False) -> dict:
    """One day of ``pool`` at ``n`` borrowers in this process."""
    from defisim.run.simulation import Simulation
    from defisim.scenario.loading import load_scenario

    scenario, count = POOLS[pool]
    t0 = time.process_time()
    overrides = [f"{count}={n}", f"blocks={blocks}"] + (["markets.feeds.ETH.moves=[]"] if quiet else [])
    sim = Simulation(load_scenario(scenario, overrides))
    t1 = time.process_time()
    s = sim.run().summary()
    t2 = time.process_time()
    return {"pool": pool, "scenario": scenario, "day": "quiet" if quiet else "crash", "borrowers": n, "blocks": blocks,
            "setup_s": round(t1 - t0, 2),
            "run_cpu_s": round(t2 - t1, 2), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            "liquidations": int(s.get("liquidations", 0))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e5,1e6")
    ap.add_argument("--blocks", type=int, default=7200)
    ap.add_argument("--pools", default=",".join(POOLS))
    ap.add_argument("--quiet", action="store_true", help="the same day without the crash")
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", nargs=4, metavar=("POOL", "N", "BLOCKS", "QUIET"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), int(args.one[2]), args.one[3] == "1")))
        return 0
    cpu = pin_to_one_core()  # the runs inherit the pinning
    rows, start = [], load_average()
    for n in (int(float(x)) for x in args.sizes.split(",")):
        for pool in args.pools.split(","):
            print(f"{pool} at {n:,} …", file=sys.stderr)
            out = subprocess.run([sys.executable, __file__, "--one", pool, str(n), str(args.blocks), str(int(args.quiet))],
                                 capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    aave = {r["borrowers"]: r["run_cpu_s"] for r in rows if r["pool"] == "aave"}
    for r in rows:
        if r["borrowers"] in aave and aave[r["borrowers"]] > 0:
            r["vs_aave"] = round(r["run_cpu_s"] / aave[r["borrowers"]], 2)
    emit({"benchmark": "pools", "target": "each new pool within 2x of the Aave pool at 1e5 and 1e6", "runs": rows,
          "load_average": {"start": start, "end": load_average()}}, cpu, source_state(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
