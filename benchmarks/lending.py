"""Lending benchmark: one simulated day of the ``eth-crash`` scenario at 1e4, 1e5 and 1e6
borrowers, against a naive one-object-per-position implementation of the same model.

Acceptance point::

    one simulated day of the default scenario at 1e4, 1e5 and 1e6 borrowers, in the same run
    as a naive one-object-per-position implementation of the same lending model at 1e4 (and
    1e5 extrapolated). Targets on one core: a day at 1e5 borrowers in under 2 s, at 1e6 under
    10 s, >= 50x faster than the naive baseline at 1e4.

Run it with one command (defaults: the full 7,200-block day at 1e4, 1e5 and 1e6 borrowers,
the naive baseline at 1e4)::

    python benchmarks/lending.py [--sizes 1e4,1e5,1e6] [--blocks N] [--naive-size 1e4] [--out FILE]
    python benchmarks/lending.py --profile [--profile-size 1e5] [--profile-blocks N]

It prints one JSON document on stdout (and writes it to ``--out`` if given); progress goes to
stderr.

What is measured
----------------
The built-in ``eth-crash`` scenario (ETH -35% in 4 minutes on a thin venue, a push oracle, an
Aave v3 pool, 3 keepers), loaded with :func:`defisim.scenario.loading.load_scenario` and the dotted
overrides ``blocks=7200`` (a day of 12 s slots; ``--blocks`` shortens it for a quick look) and
``protocols.aave.population.count=N``. For each size:

* ``load_s``: loading and validating the scenario;
* ``setup_s``: ``Simulation(scenario)``, which generates the borrower population and opens the
  positions (vectorised; the naive pool then turns every row into one object);
* ``wall_s``: ``Simulation.run()``, everything the run does, including building the result
  tables and the summary. Targets are checked against ``wall_s`` (``pass``) and against
  ``setup_s + wall_s`` (``pass_including_setup``).

An untimed warm-up run (1,000 borrowers, 60 blocks) comes first, so that one-time costs of a
fresh process (lazy imports, the first pandas/Arrow conversions) fall on no measured size.

A sanity block per size shows the crisis really happens at that size: liquidations, liquidated
debt, reverted transactions (all, and reverted ``liquidation_call`` races), bad debt (the
pool's deficit), the lowest venue mid and oracle answer, the largest candidate set.

The naive baseline
------------------
``NaivePool`` (kind ``bench.naive_aave_v3``) and ``NaiveKeeper`` (kind ``bench.naive_keeper``)
live in this file only, registered in a private :class:`~defisim.base.registry.Registry` (the
library's registry is never touched). They implement the same lending model the obvious way:

* one ``Position`` Python object per account (a ``__slots__`` class: owner, scaled and token
  balances per reserve, as lists of floats), the pool holding a list of them (the library's
  constructor opens the initial positions, then each row becomes an object: setup, not run);
* every block, after the reserve indices accrue (the library's own O(reserves) code,
  inherited), a Python loop over all positions refreshes each one's token balances
  (``balance = scaled × index``), i.e. interest is accrued position by position;
* health factors: a Python loop over all positions calling the scalar
  :func:`protocols.lending.aave_v3.math.health_factor`; candidates (HF < 1) collected by a
  Python loop. The cache is the library pool's (same key: block, state version, prices), so
  the comparison isolates the data layout, not caching;
* the keeper sizes each candidate with the scalar
  :func:`~protocols.lending.aave_v3.liquidation.liquidation_call` in a Python loop (the library keeper
  uses the vectorised twin), then ranks, quotes, bids and sends exactly as the library keeper
  does (its gas bid, capital check, in-flight set and selling are the library's own helpers);
* the pool's handlers (``liquidation_call`` etc.) are inherited unchanged; they see the
  objects through the overridden ``account`` / ``_add_collateral`` / ``_add_debt``.

Same model, proven in the same run: the naive and the vectorised run at ``--naive-size`` (same
seed) must give the same ``liquidations`` table (``naive.same_liquidations``; exact equality is
expected and reported, floats are also compared with a relative tolerance of 1e-9) and the same
summary. Balances are ``scaled × index`` in both, so they agree to the last bit.

The naive day at 1e5 (and at each larger size) is *extrapolated*, not measured:
``naive(N) ≈ vectorised(N) + (N / n) × (naive(n) − vectorised(n))``: the naive run's excess
over the vectorised one is its per-position Python loops, linear in N; the rest (engine,
oracle, keepers' per-candidate work) is what the vectorised run at N costs. The plain linear
``(N / n) × naive(n)`` is reported too.

Honesty notes
-------------
* The process is pinned to one core with :func:`os.sched_setaffinity` (``pinned_cpu``), and
  numpy/BLAS threads are limited to one before numpy is imported. The machine may be shared:
  the load average at the start and end is reported, and ``python_loop_ns_per_iter`` (a
  trivial pure-Python loop) lets figures from different machines be compared.
* One run per size (a day at 1e6 is long); no best-of. Sizes run smallest first, the naive
  run right after the vectorised run of its size.
* With ``--blocks`` below a day, every figure is for the blocks run, and the targets are
  checked against ``day_estimate_s = wall_s × 7200 / blocks`` (flagged ``extrapolated``).
  The crash happens in the first ~10 minutes (blocks 25-45) and the busy aftermath follows,
  so a short run over-weights the expensive blocks: the linear estimate is pessimistic.
* The engine pauses the cyclic garbage collector during ``run()`` (the library's choice);
  a ``gc.collect()`` precedes every build.
* ``source`` records the git commit and the files under ``defisim/`` and ``protocols/`` that
  differ from it: the measured code is the working tree at the time of the run.
* ``--profile`` runs cProfile on one vectorised run instead (``--profile-size``, default 1e5;
  ``--profile-blocks``, default ``--blocks``) and prints the 20 functions with the largest own
  time to stderr; the JSON gets the same top 20 with calls per block. cProfile slows Python
  code ~2× and counts time inside numpy as its caller's: use it for shares, not for figures.
* ``--setup-memory`` measures instead what ``Simulation(scenario)`` keeps per borrower (target:
  at most 150 B): each size of ``--sizes`` is set up (not run) in a fresh process, twice, once
  per method: ``rss`` (the resident set after the build less before it, Linux only) and
  ``tracemalloc`` (Python and numpy allocations still held after the build). Per borrower is
  the difference between the largest and the smallest size over the difference of borrowers,
  so that what any setup costs cancels. RSS also keeps memory the allocator took for
  temporaries of the build and has not given back; tracemalloc counts only what is held.
  ``peak_rss_mb`` is each setup process's peak.
"""
from __future__ import annotations

import os

# numpy and BLAS thread pools must be limited before numpy is imported (one core).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from defisim.chain.gas import bid  # noqa: E402
from defisim.base import largest_debts_of  # noqa: E402
from defisim.base.registry import Registry, default_registry  # noqa: E402
from defisim.scenario.loading import Scenario, load_scenario  # noqa: E402
from defisim.run.simulation import Simulation  # noqa: E402
from protocols.lending.aave_v3 import agents as keeper_mod  # noqa: E402
from protocols.lending.aave_v3 import math as am  # noqa: E402
from protocols.lending.aave_v3.liquidation import liquidation_call  # noqa: E402
from protocols.lending.aave_v3.model import AaveV3Pool  # noqa: E402
from protocols.lending.aave_v3.view import PoolView  # noqa: E402
from protocols.lending.aave_v3.params import PoolParams  # noqa: E402

from bench_env import emit, load_average, pin_to_one_core, python_speed_ns, source_state  # noqa: E402

SCENARIO = "eth-crash"
DAY_BLOCKS = 7_200
TARGETS_S = {100_000: 2.0, 1_000_000: 10.0}  # a day, one core
TARGET_SPEEDUP = 50.0
BASE_PRICE = 2_000.0  # the scenario's ETH price at the start (sanity: how far the crash went)


# -- the naive baseline: one Python object per position --------------------------------------
class Position:
    """One account of the naive pool: per-reserve scaled balances and token balances (lists)."""

    __slots__ = ("owner", "collateral_scaled", "debt_scaled", "collateral", "debt")

    def __init__(self, owner: str, collateral_scaled: list[float], debt_scaled: list[float],
                 liquidity_index: list[float], borrow_index: list[float]):
        self.owner = owner
        self.collateral_scaled = collateral_scaled
        self.debt_scaled = debt_scaled
        self.collateral = [c * i for c, i in zip(collateral_scaled, liquidity_index)]  # tokens, refreshed every block
        self.debt = [d * i for d, i in zip(debt_scaled, borrow_index)]


class NaivePool(AaveV3Pool):
    """The Aave v3 pool with ``state.positions`` a list of :class:`Position` objects and every
    per-position computation a Python loop. Handlers, accrual of the indices, oracle reads and
    the health-factor cache key are the library pool's own (inherited).

    The library's constructor opens the initial positions (seed supply, population) in its own
    table; right after, every row becomes one object and the table is dropped. (Opening the
    population is setup, timed apart from the run; this way it stays the library's code.)
    """

    kind = "bench.naive_aave_v3"

    def __init__(self, name: str, params: PoolParams, host):
        if getattr(params, "emode_categories", ()):
            raise ValueError("the naive baseline does not model e-mode categories")
        self._naive = False  # the library's table until the constructor is done
        super().__init__(name, params, host)
        s = self.state
        if s.positions.size != len(s.accounts):
            raise RuntimeError("NaivePool: the pool's table and address book disagree")
        li, bi = s.liquidity_index.tolist(), s.borrow_index.tolist()
        s.positions = [Position(o, c, d, li, bi) for o, c, d in zip(
            s.accounts, s.positions["collateral_scaled"].tolist(), s.positions["debt_scaled"].tolist())]
        self._naive = True

    def _row(self, owner: str) -> int:
        if not self._naive:
            return super()._row(owner)
        s = self.state
        row = s.accounts.get(owner)
        if row is None:
            n = len(self.symbols)
            row = s.accounts.add(owner)
            s.positions.append(Position(owner, [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n))
        return row

    def _add_collateral(self, row: int, r: int, tokens: float) -> None:
        if not self._naive:
            return super()._add_collateral(row, r, tokens)
        s = self.state
        scaled = float(tokens / s.liquidity_index[r])
        p = s.positions[row]
        p.collateral_scaled[r] += scaled
        p.collateral[r] = p.collateral_scaled[r] * float(s.liquidity_index[r])
        s.total_collateral_scaled[r] += scaled
        self._after_change(row)

    def _add_debt(self, row: int, r: int, tokens: float) -> None:
        if not self._naive:
            return super()._add_debt(row, r, tokens)
        s = self.state
        scaled = float(tokens / s.borrow_index[r])
        p = s.positions[row]
        p.debt_scaled[r] += scaled
        p.debt[r] = p.debt_scaled[r] * float(s.borrow_index[r])
        s.total_debt_scaled[r] += scaled
        self._after_change(row)

    def _after_change(self, row: int) -> None:
        """The library's bookkeeping after a position change (its name has changed over time)."""
        changed = getattr(super(), "_changed", None)
        if changed is not None:
            changed(row)
        else:
            self.state.version += 1

    def category(self, row: int) -> int:
        return super().category(row) if not self._naive else 0  # no e-mode (refused above)

    def liquidation_thresholds(self) -> np.ndarray:
        return super().liquidation_thresholds() if not self._naive else self.lt

    def scaled_balances(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._naive:
            return super().scaled_balances()
        objs, n = self.state.positions, len(self.symbols)
        return (np.array([p.collateral_scaled for p in objs], dtype=float).reshape(-1, n),
                np.array([p.debt_scaled for p in objs], dtype=float).reshape(-1, n))

    def balances(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._naive:
            return super().balances()
        objs, n = self.state.positions, len(self.symbols)
        return (np.array([p.collateral for p in objs], dtype=float).reshape(-1, n),
                np.array([p.debt for p in objs], dtype=float).reshape(-1, n))

    def account(self, owner: str) -> tuple[np.ndarray, np.ndarray]:
        if not self._naive:
            return super().account(owner)
        row = self.state.accounts.get(owner)
        if row is None:
            z = np.zeros(len(self.symbols))
            return z, z.copy()
        p = self.state.positions[row]
        return np.array(p.collateral), np.array(p.debt)

    def on_block(self, block) -> None:
        """The library's index accrual, then every position's balances, one object at a time."""
        before = self.state.version
        super().on_block(block)
        if not self._naive or self.state.version == before:
            return
        li, bi = self.state.liquidity_index.tolist(), self.state.borrow_index.tolist()
        for p in self.state.positions:
            p.collateral = [c * i for c, i in zip(p.collateral_scaled, li)]
            p.debt = [d * i for d, i in zip(p.debt_scaled, bi)]

    def health_factors(self) -> np.ndarray:
        """Every account's HF with the scalar formula in a Python loop; the library's cache key."""
        if not self._naive:
            return super().health_factors()
        prices = self.prices_usd()
        key = (self.block.number if self.block else -1, self.state.version, prices.tobytes())
        if self._hf_cache is None or self._hf_cache[0] != key:
            pl, lt = prices.tolist(), self.lt.tolist()
            hf = am.health_factor
            objs = self.state.positions
            values = np.fromiter((hf(p.collateral, p.debt, pl, lt) for p in objs), dtype=float, count=len(objs))
            self._hf_cache = (key, values)
        return self._hf_cache[1]

    def liquidatable(self) -> np.ndarray:
        if not self._naive:
            return super().liquidatable()
        threshold = am.HEALTH_FACTOR_LIQUIDATION_THRESHOLD
        return np.array([i for i, h in enumerate(self.health_factors().tolist()) if h < threshold], dtype=np.int64)

    def liquidation_candidates(self, prices_usd=None, largest=None):
        """HF < 1 by the Python loop (the run's end-of-run backlog asks for it; no keeper of the
        naive run does)."""
        if not self._naive:
            return super().liquidation_candidates(prices_usd, largest)
        from protocols.lending.aave_v3.health_index import Candidates
        rows = self.liquidatable()
        hf = self.health_factors()[rows]
        prices = self.prices_usd()
        objs = self.state.positions
        debt_usd = np.array([sum(d * p for d, p in zip(objs[r].debt, prices.tolist())) for r in rows.tolist()])
        return Candidates(*largest_debts_of(rows, hf, debt_usd, largest))

    def view(self) -> "NaivePoolView":
        return NaivePoolView(self)


class NaivePoolView(PoolView):
    """The library's read-only view, reading the objects."""

    def liquidation_bonus(self, rows, collateral) -> np.ndarray:
        """The reserves' own bonuses (the naive pool has no e-mode)."""
        return self._pool.bonus_by_category[0, np.asarray(collateral)]

    def position_lists(self, row: int) -> tuple[list[float], list[float]]:
        p = self._pool.state.positions[row]
        return list(p.collateral), list(p.debt)

    def positions(self, rows) -> tuple[np.ndarray, np.ndarray]:
        objs, n = self._pool.state.positions, len(self.symbols)
        rows = [int(r) for r in rows]
        return (np.array([objs[r].collateral for r in rows], dtype=float).reshape(-1, n),
                np.array([objs[r].debt for r in rows], dtype=float).reshape(-1, n))

    def position(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        p = self._pool.state.positions[row]
        return np.array(p.collateral), np.array(p.debt)


#: The library keeper's shortlist (sizes only the ``SHORTLIST × limit`` largest debts; since e401fa1).
SHORTLIST = getattr(keeper_mod, "PLAN_SHORTLIST", None)


def _plan(**values) -> "keeper_mod.Plan":
    """A library :class:`~protocols.lending.aave_v3.agents.Plan` from the fields it has."""
    return keeper_mod.Plan(**{f: values[f] for f in keeper_mod.Plan._fields if f in values})


def naive_plan_liquidations(pool: NaivePoolView, venue, rows, prices, hf, gas_usd: float,
                            min_profit_usd: float, now: int, limit: int, capital=None) -> list:
    """:func:`protocols.lending.aave_v3.agents.plan_liquidations` one candidate at a time with
    the scalar ``liquidation_call`` (same shortlist, same float operations, same order, same
    ranking)."""
    pl = [float(x) for x in prices]
    bonus, fee = pool.bonus.tolist(), pool.fee.tolist()
    mid = venue.mid(now)
    candidates = []  # (row, hf, collateral, debt, debt_usd) per candidate, in row order
    for row, h in zip([int(r) for r in rows], [float(x) for x in hf]):
        coll, debt = pool.position_lists(row)
        candidates.append((row, h, coll, debt, [d * p for d, p in zip(debt, pl)]))
    shortlist = SHORTLIST * limit if SHORTLIST else None
    if shortlist and len(candidates) > shortlist:  # the library keeper sizes only the largest debts
        candidates = sorted(candidates, key=lambda c: -sum(c[4]))[:shortlist]
        candidates.sort(key=lambda c: c[0])
    sized = []  # (at_mid, row, rc, rd, outcome) of the profitable-looking ones, in candidate order
    for row, h, coll, debt, debt_usd in candidates:
        coll_usd = [c * p for c, p in zip(coll, pl)]
        rc = max(range(len(pl)), key=coll_usd.__getitem__)
        rd = max(range(len(pl)), key=debt_usd.__getitem__)
        cover = math.inf if capital is None else float(capital[rd])
        out = liquidation_call(
            coll[rc], debt[rd], pl[rc], pl[rd], h, bonus[rc], fee[rc], cover,
            other_collateral_usd=sum(coll_usd) - coll_usd[rc], other_debt_usd=sum(debt_usd) - debt_usd[rd],
            rules=pool.rules)
        at_mid = out.liquidator_collateral * mid - out.debt_repaid * pl[rd] - gas_usd
        if out.ok and out.liquidator_collateral > 0 and at_mid >= min_profit_usd:
            sized.append((at_mid, row, rc, rd, out, cover))
    best = sorted(sized, key=lambda t: -t[0])[: 2 * limit]  # stable, like the argsort it mirrors
    plans = []
    for _at_mid, row, rc, rd, out, cover in best:
        got = float(out.liquidator_collateral)
        proceeds_usd, _avg = venue.quote_sell(got, now)
        profit = proceeds_usd - float(out.debt_repaid) * pl[rd] - gas_usd
        if profit >= min_profit_usd:
            repaid = float(out.debt_repaid)
            plans.append(_plan(profit_usd=profit, row=row, user=pool.owner(row), collateral=rc, debt=rd,
                               debt_repaid=repaid, liquidator_collateral=got,
                               debt_to_cover=cover if repaid >= cover else math.inf))
    plans.sort(key=lambda p: -p.profit_usd)
    return plans[:limit]


#: The library keeper sizes liquidations to its capital and skips planning when out of it (since this change).
WORTH_PLANNING = hasattr(keeper_mod, "worth_planning")
KEY_IS_ROW = "row" in keeper_mod.Plan._fields  # the library keeper keys its in-flight set by row since 6dcb79c


def NaiveKeeper(ctx, params: keeper_mod.KeeperParams, index: int):
    """The library keeper's loop (:func:`protocols.lending.aave_v3.agents.Keeper`) with the naive sizing."""
    if getattr(params, "rebid_after_blocks", 0) or getattr(params, "sell_pool", None):
        raise ValueError("the naive baseline keeper neither re-bids nor sells into pools")
    pool = ctx.view(params.pool)
    venue = ctx.market(params.venue)
    gas_price = ctx.gas_pricer(params.gas_venue)  # USD per native token, as the library keeper prices gas
    venue_of = keeper_mod.collateral_venues(ctx, params, pool.symbols)
    tokens = ctx.params_of(params.pool).tokens
    in_flight: dict[object, object] = {}  # the library keeper's key (row, or user before it had rows) -> receipt
    while True:
        yield ctx.new_block
        if params.think:
            yield ctx.delay(params.think)
        now = ctx.now
        for key, ev in list(in_flight.items()):
            if ev.triggered:
                del in_flight[key]
                keeper_mod._sell_winnings(ctx, ev.value, tokens, params, venue_of)
        cap_gwei, tip_gwei = bid(params.gas, ctx.chain)
        gas_usd = params.gas_limit * cap_gwei * 1e-9 * gas_price(now)
        prices = pool.prices_usd()
        capital = keeper_mod._balance(ctx, tokens, pool.symbols)
        mids = [venue.mid(now) if venue_of[s] is not None else math.nan for s in pool.symbols]  # as the library keeper
        if WORTH_PLANNING and not keeper_mod.worth_planning(capital, prices, pool.bonus, mids, gas_usd,
                                                            params.min_profit_usd, pool.borrowed()):
            continue
        rows = [r for r in pool.liquidatable().tolist() if (r if KEY_IS_ROW else pool.owner(r)) not in in_flight]
        if not rows:
            continue
        hf_all = pool.health_factors()
        plans = naive_plan_liquidations(pool, venue, rows, prices, [hf_all[r] for r in rows], gas_usd,
                                        params.min_profit_usd, now, params.max_per_block,
                                        capital if WORTH_PLANNING else None)
        for plan in plans:
            if capital[plan.debt] < plan.debt_repaid:
                continue
            capital[plan.debt] -= plan.debt_repaid
            in_flight[plan.row if KEY_IS_ROW else plan.user] = ctx.submit(keeper_mod._liquidation(params.pool, pool, plan), params.gas_limit,
                                              cap_gwei, tip_gwei)


def bench_registry() -> Registry:
    """The default registry plus the two naive kinds (private to this benchmark)."""
    base = default_registry()
    reg = Registry()
    reg.protocols.update(base.protocols)
    reg.agents.update(base.agents)
    reg.protocol(NaivePool.kind, PoolParams, NaivePool, "benchmark: Aave v3 pool, one Python object per position")
    reg.agent("bench.naive_keeper", keeper_mod.KeeperParams, NaiveKeeper, "benchmark: keeper sizing one candidate at a time")
    return reg


# -- scenarios and runs ----------------------------------------------------------------------
def scenario_for(n: int, blocks: int, naive: bool, registry: Registry) -> Scenario:
    base = load_scenario(SCENARIO, [], registry)
    pools = [name for name, (kind, _p) in base.protocols.items() if kind == "lending.aave_v3"]
    keepers = [i for i, a in enumerate(base.spec.agents) if a.kind == "lending.keeper"]
    if len(pools) != 1:
        raise RuntimeError(f"{SCENARIO}: expected one lending.aave_v3 pool, found {pools}")
    overrides = [f"blocks={blocks}", f"protocols.{pools[0]}.population.count={n}"]
    if naive:
        overrides.append(f"protocols.{pools[0]}.kind={NaivePool.kind}")
        overrides += [f"agents.{i}.kind=bench.naive_keeper" for i in keepers]
    return load_scenario(SCENARIO, overrides, registry)


def pool_name(scenario: Scenario) -> str:
    return next(n for n, (k, _p) in scenario.protocols.items() if k in ("lending.aave_v3", NaivePool.kind))


def timed_run(n: int, blocks: int, naive: bool, registry: Registry) -> tuple[dict, dict]:
    """One run; (figures and sanity checks, raw tables kept for the naive comparison)."""
    gc.collect()
    t0 = time.perf_counter()
    scenario = scenario_for(n, blocks, naive, registry)
    t1 = time.perf_counter()
    sim = Simulation(scenario, registry=registry)
    t2 = time.perf_counter()
    res = sim.run()
    t3 = time.perf_counter()
    name = pool_name(scenario)
    pool = sim.protocols[name]
    n_positions = len(pool.state.positions) if isinstance(pool.state.positions, list) else pool.state.positions.size
    s = res.summary()
    liq, txs, prices = res.liquidations, res.txs, res.prices
    is_liq = txs["method"] == "liquidation_call"
    venue = prices[prices["source"] == "venue"]["price_usd"]
    oracle = prices[(prices["source"] == "protocol") & prices["name"].str.startswith("eth_usd")]["price_usd"]
    wall = t3 - t2
    figures = {
        "borrowers": n,
        "positions": int(n_positions),  # borrowers + the lenders' account (+ keepers if they supply)
        "implementation": "naive" if naive else "vectorised",
        "blocks": int(s["blocks"]),
        "load_s": round(t1 - t0, 4),
        "setup_s": round(t2 - t1, 4),
        "wall_s": round(wall, 4),
        "per_block_ms": round(wall / s["blocks"] * 1e3, 4),
        "day_estimate_s": round(wall * DAY_BLOCKS / s["blocks"], 3),
        "day_estimate_extrapolated": s["blocks"] != DAY_BLOCKS,
        "sanity": {
            "liquidations": int(s.get(f"{name}.liquidations", len(liq))),
            "liquidated_debt_usd": round(float(s.get(f"{name}.liquidated_debt_usd", 0.0)), 2),
            "written_off_usd": round(float(s.get("written_off_usd", 0.0)), 2),
            "total_loss_usd": round(float(s.get("total_loss_usd", 0.0)), 2),
            "txs_submitted": int(s["txs_submitted"]),
            "txs_reverted": int(s["txs_reverted"]),
            "liquidation_calls_sent": int(is_liq.sum()),
            "liquidation_calls_reverted": int((is_liq & (txs["status"] == "reverted")).sum()),
            "revert_reasons": {str(k): int(v) for k, v in txs[is_liq]["reason"].value_counts().items() if k},
            "min_venue_price_usd": round(float(venue.min()), 2) if len(venue) else None,
            "min_oracle_answer_usd": round(float(oracle.min()), 2) if len(oracle) else None,
            "oracle_rounds": s.get("eth_usd.rounds"),
            "first_liquidation_block": int(liq["block"].min()) if len(liq) else None,
            "last_liquidation_block": int(liq["block"].max()) if len(liq) else None,
            "blocks_with_liquidations": int(liq["block"].nunique()),
        },
    }
    figures["sanity"]["crisis_happened"] = bool(
        figures["sanity"]["liquidations"] > 0 and (figures["sanity"]["min_venue_price_usd"] or BASE_PRICE) < 0.8 * BASE_PRICE)
    kept = {"liquidations": liq.copy(), "summary": dict(s), "reverted": txs[is_liq][["block", "sender", "status", "reason"]].copy()}
    del sim, res, pool
    gc.collect()
    return figures, kept


def compare_liquidations(a, b) -> dict:
    """Same liquidations table? Exact equality, and the largest relative float difference."""
    out = {"rows_vectorised": int(len(a)), "rows_naive": int(len(b))}
    if len(a) != len(b) or list(a.columns) != list(b.columns):
        out.update(same_liquidations=False, identical_exact=False, reason="different row counts or columns")
        return out
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    floats = [c for c in a.columns if a[c].dtype.kind == "f"]
    others = [c for c in a.columns if c not in floats]
    keys_equal = bool((a[others] == b[others]).all().all())
    worst = 0.0
    close = True
    for c in floats:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        both_inf = np.isinf(x) & np.isinf(y) & (np.sign(x) == np.sign(y))
        diff = np.where(both_inf, 0.0, np.abs(x - y) / np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-300))
        worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
        close &= bool(np.allclose(x, y, rtol=1e-9, atol=0.0, equal_nan=True))
    out.update(
        same_liquidations=keys_equal and close,
        identical_exact=bool(a.equals(b)),
        max_relative_float_difference=worst,
    )
    return out


def compare_summaries(a: dict, b: dict) -> dict:
    diff = {}
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, float) and isinstance(y, float):
            if not (x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-9)):
                diff[k] = [x, y]
        elif x != y:
            diff[k] = [x, y]
    return {"same_summary": not diff, "summary_differences": diff}


# -- environment (as benchmarks/engine.py) -----------------------------------------------------





# -- modes -----------------------------------------------------------------------------------
#: The untimed warm-up run before the measured ones (borrowers, blocks).
WARMUP_BORROWERS, WARMUP_BLOCKS = 1_000, 60


def measure(sizes: list[int], blocks: int, naive_size: int | None) -> dict:
    registry = bench_registry()
    load_start = load_average()
    speed_ns = python_speed_ns()
    runs: dict[int, dict] = {}
    kept: dict[int, dict] = {}
    naive_fig = naive_kept = None
    # warm-up, not timed: the first run in a process pays one-time costs (lazy imports, first Arrow
    # and pandas conversions, numpy's first calls) that belong to no size in particular
    timed_run(WARMUP_BORROWERS, WARMUP_BLOCKS, False, registry)
    for n in sorted(set(sizes) | ({naive_size} if naive_size else set())):
        runs[n], kept[n] = timed_run(n, blocks, False, registry)
        print(f"vectorised {n:>9,}: setup {runs[n]['setup_s']:.2f} s, run {runs[n]['wall_s']:.2f} s, "
              f"{runs[n]['sanity']['liquidations']} liquidations", file=sys.stderr)
        if n == naive_size:
            naive_fig, naive_kept = timed_run(n, blocks, True, registry)
            print(f"naive      {n:>9,}: setup {naive_fig['setup_s']:.2f} s, run {naive_fig['wall_s']:.2f} s, "
                  f"{naive_fig['sanity']['liquidations']} liquidations", file=sys.stderr)
            kept[n]["summary_naive"] = naive_kept["summary"]

    sized = {str(n): runs[n] for n in sorted(sizes)}
    targets: dict = {}
    for n, limit in TARGETS_S.items():
        if n in runs:
            r = runs[n]
            day = r["day_estimate_s"]
            targets[f"day_{sci(n)}_s"] = {
                "target_s": limit,
                "measured_wall_s": r["wall_s"],
                "blocks": r["blocks"],
                "day_s": day,
                "extrapolated": r["day_estimate_extrapolated"],
                "pass": day < limit,
                "pass_including_setup": day + r["setup_s"] < limit,
            }
    naive_out = None
    if naive_fig is not None:
        v = runs[naive_size]
        speedup = naive_fig["wall_s"] / v["wall_s"]
        naive_out = {
            "borrowers": naive_size,
            "run": naive_fig,
            "vectorised_wall_s": v["wall_s"],
            "speedup": round(speedup, 2),
            "speedup_definition": "wall_s(naive run) / wall_s(vectorised run): same scenario, same seed, same blocks",
            "equivalence": {**compare_liquidations(kept[naive_size]["liquidations"], naive_kept["liquidations"]),
                            **compare_summaries(kept[naive_size]["summary"], naive_kept["summary"])},
            "extrapolated": {},
        }
        excess = naive_fig["wall_s"] - v["wall_s"]
        for n in sorted(runs):
            if n <= naive_size:
                continue
            k = n / naive_size
            est = runs[n]["wall_s"] + k * excess
            naive_out["extrapolated"][str(n)] = {
                "naive_wall_s_estimate": round(est, 2),
                "naive_wall_s_linear": round(k * naive_fig["wall_s"], 2),
                "vectorised_wall_s": runs[n]["wall_s"],
                "speedup_estimate": round(est / runs[n]["wall_s"], 1),
                "method": f"vectorised({n}) + {k:g} x (naive({naive_size}) - vectorised({naive_size})); not measured",
            }
        targets[f"speedup_at_{sci(naive_size)}"] = {
            "target": TARGET_SPEEDUP, "measured": round(speedup, 2), "pass": speedup >= TARGET_SPEEDUP,
            "same_model_verified": naive_out["equivalence"]["same_liquidations"],
        }
    targets["pass"] = all(t["pass"] for t in targets.values() if isinstance(t, dict))
    return {
        "benchmark": "lending",
        "acceptance": "one simulated day (7,200 blocks) of eth-crash at 1e4, 1e5, 1e6 borrowers; naive one-object-per-"
        "position baseline at 1e4 in the same run (1e5 extrapolated); one core: 1e5 < 2 s, 1e6 < 10 s, >= 50x naive at 1e4",
        "scenario": SCENARIO,
        "blocks": blocks,
        "sizes": sized,
        "naive": naive_out,
        "targets": targets,
        "python_loop_ns_per_iter": round(speed_ns, 1),
        "load_average": {"start": load_start, "end": load_average()},
    }


def profile(n: int, blocks: int, top: int = 20) -> dict:
    registry = bench_registry()
    scenario = scenario_for(n, blocks, False, registry)
    sim = Simulation(scenario, registry=registry)
    gc.collect()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    sim.run()
    prof.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof, stream=sys.stderr)
    print(f"--- cProfile of the vectorised run, {n:,} borrowers, {blocks} blocks: top {top} by tottime ---", file=sys.stderr)
    stats.sort_stats("tottime").print_stats(top)
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tt, ct, nc, f"{os.path.relpath(file) if file.startswith('/') else file}:{line}({fn})"))
    rows.sort(reverse=True)
    total = stats.total_tt  # type: ignore[attr-defined]
    return {
        "benchmark": "lending",
        "mode": "profile",
        "borrowers": n,
        "blocks": blocks,
        "profiled_wall_s": round(wall, 3),
        "profiled_total_tottime_s": round(total, 3),
        "top_by_tottime": [
            {"function": name, "tottime_s": round(tt, 3), "share": round(tt / total, 4), "cumtime_s": round(ct, 3),
             "calls": nc, "calls_per_block": round(nc / blocks, 2), "us_per_block": round(tt / blocks * 1e6, 1)}
            for tt, ct, nc, name in rows[:top]
        ],
    }


#: Acceptance: memory ``Simulation(scenario)`` keeps per borrower (bytes).
TARGET_SETUP_BYTES = 150
SETUP_METHODS = ("rss", "tracemalloc")


def resident_bytes() -> int | None:
    """This process's resident set size now (bytes; Linux ``/proc/self/statm``), None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def setup_memory_one(n: int, method: str) -> dict:
    """In this process: the memory (bytes) that setting up ``n`` borrowers keeps, by ``method``
    (``"rss"`` or ``"tracemalloc"``), and the process's peak RSS (MB)."""
    scenario = scenario_for(n, DAY_BLOCKS, False, bench_registry())
    gc.collect()
    if method == "tracemalloc":
        tracemalloc.start()
        sim = Simulation(scenario)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        before = resident_bytes()
        sim = Simulation(scenario)
        gc.collect()
        after = resident_bytes()
        held = None if before is None or after is None else after - before
    del sim
    return {"borrowers": n, "method": method, "held_bytes": held,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def setup_memory(sizes: list[int]) -> dict:
    """Per method, the bytes per borrower that setup keeps, each size in a fresh process."""
    sizes = sorted(set(sizes))
    runs, per_borrower = [], {}
    for method in SETUP_METHODS:
        held = {}
        for n in sizes:
            done = subprocess.run([sys.executable, __file__, "--setup-memory-one", str(n), method],
                                  capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout))
            held[n] = runs[-1]["held_bytes"]
            print(f"setup memory {method:>11} {n:>9,}: {held[n]} B", file=sys.stderr)
        lo, hi = sizes[0], sizes[-1]
        if None in (held[lo], held[hi]) or hi == lo:
            per_borrower[method] = None
        else:
            per_borrower[method] = round((held[hi] - held[lo]) / (hi - lo), 1)
    measured = [v for v in per_borrower.values() if v is not None]
    return {
        "benchmark": "lending",
        "mode": "setup_memory",
        "acceptance": f"memory at setup <= {TARGET_SETUP_BYTES} B per borrower (state in arrays)",
        "scenario": SCENARIO,
        "bytes_per_borrower": per_borrower,
        "bytes_per_borrower_definition": f"(held({sizes[-1]}) - held({sizes[0]})) / {sizes[-1] - sizes[0]} borrowers, "
                                         "held = memory Simulation(scenario) keeps, each size in a fresh process",
        "target_bytes": TARGET_SETUP_BYTES,
        "pass": bool(measured) and all(v <= TARGET_SETUP_BYTES for v in measured),
        "runs": runs,
    }


def sci(n: int) -> str:
    """``100000`` -> ``"1e5"`` (short size labels for keys)."""
    e = int(math.floor(math.log10(n))) if n > 0 else 0
    return f"1e{e}" if n == 10**e else str(n)


def parse_sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if part:
            v = float(part)
            if not (v >= 1 and v == int(v)):
                raise argparse.ArgumentTypeError(f"size {part!r} must be a positive whole number")
            out.append(int(v))
    if not out:
        raise argparse.ArgumentTypeError("no sizes given")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=parse_sizes, default=[10_000, 100_000, 1_000_000],
                   help="borrower counts, comma-separated (default: 1e4,1e5,1e6)")
    p.add_argument("--blocks", type=int, default=DAY_BLOCKS, help="blocks per run (default: a day, 7200)")
    p.add_argument("--naive-size", type=lambda s: parse_sizes(s)[0], default=10_000,
                   help="borrowers of the naive baseline run (default 1e4)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--profile", action="store_true", help="cProfile one vectorised run instead; top 20 by tottime")
    p.add_argument("--profile-size", type=lambda s: parse_sizes(s)[0], default=100_000)
    p.add_argument("--profile-blocks", type=int, default=None, help="blocks of the profiled run (default: --blocks)")
    p.add_argument("--no-pin", action="store_true", help="do not pin the process to one core")
    p.add_argument("--setup-memory", action="store_true",
                   help=f"measure the memory setup keeps per borrower instead (target {TARGET_SETUP_BYTES} B)")
    p.add_argument("--setup-memory-one", nargs=2, metavar=("N", "METHOD"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.setup_memory_one:
        n, method = args.setup_memory_one
        print(json.dumps(setup_memory_one(parse_sizes(n)[0], method)))
        return 0
    if args.blocks <= 0:
        p.error("--blocks must be positive")
    pinned = None if args.no_pin else pin_to_one_core()
    source = source_state()  # before the runs: the code imported is the code on disk now
    if args.profile:
        out = profile(args.profile_size, args.profile_blocks or args.blocks)
    elif args.setup_memory:
        out = setup_memory(args.sizes)
    else:
        out = measure(args.sizes, args.blocks, None if args.no_naive else args.naive_size)
    emit(out, pinned, source, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
