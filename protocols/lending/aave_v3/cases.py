"""Seeded random replay cases for differential checks of Aave v3 models (mechanics.md §1).

A :class:`Case` is one small market and one crisis: a lender funds the debt reserve, a borrower
posts collateral and borrows, optionally a saver funds the collateral reserve and the lender
borrows from it (so that both reserves accrue interest), time passes, prices move, and a
liquidator calls ``liquidationCall``. :func:`run_case` replays it on any
:class:`~.replay.Market` (the exact model, the engine's float pool, the real contracts) and
returns what each step observed, so that two markets can be compared step by step.

:func:`generate_cases` draws cases from one seeded ``numpy.random.Generator``: risk parameters
within the configurator's limits, token decimals 6/8/18, interest curves up to 1000% APR, position
sizes from a cent to ten million dollars, elapsed times from 0 to 3 years, health factors after
the price move from 0.5 to 1.1, and debts to cover that are the maximum, a fraction, one wei, a
few wei, or more than the debt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from defisim.tx import Revert

from .replay import MAX_UINT256, Market, ReserveConfig

__all__ = ["Case", "Reverted", "generate_cases", "run_case", "STEPS"]

#: What :func:`run_case` observes, in order (the keys of its result).
STEPS = (
    "setup", "reserves_after_setup", "reserves_after_time", "account_after_time",
    "account_after_prices", "liquidation", "account_after", "reserves_after",
)

_DECIMALS = (6, 8, 18)
_YEAR = 31_536_000


@dataclass(frozen=True)
class Reverted:
    """A call that reverted, with the contract's error name."""

    reason: str


@dataclass(frozen=True)
class Case:
    """One replay (amounts raw token units, prices USD·1e8, times in seconds).

    ``collateral`` and ``debt`` are the two reserves; ``saver_supply`` (collateral asset, 0 for
    none) is what the lender's ``lender_borrow`` of the collateral asset draws on.
    """

    label: str
    collateral: ReserveConfig
    debt: ReserveConfig
    collateral_price: int
    debt_price: int
    lender_supply: int
    saver_supply: int
    borrower_supply: int
    lender_borrow: int
    borrower_borrow: int
    elapsed: int
    collateral_price_after: int
    debt_price_after: int
    debt_to_cover: int


def run_case(market: Market, case: Case) -> dict[str, object]:
    """Replay ``case`` on ``market``; a dict of what each step in :data:`STEPS` observed
    (:class:`Reverted` for a call that reverted)."""
    c, d = case.collateral.symbol, case.debt.symbol

    def attempt(fn, *args):
        try:
            return fn(*args)
        except Revert as e:
            return Reverted(e.reason)

    out: dict[str, object] = {}
    setup = [attempt(market.supply, "lender", d, case.lender_supply)]
    if case.saver_supply:
        setup.append(attempt(market.supply, "saver", c, case.saver_supply))
    setup.append(attempt(market.supply, "borrower", c, case.borrower_supply))
    if case.lender_borrow:
        setup.append(attempt(market.borrow, "lender", c, case.lender_borrow))
    setup.append(attempt(market.borrow, "borrower", d, case.borrower_borrow))
    out["setup"] = setup
    out["reserves_after_setup"] = (market.reserve_data(c), market.reserve_data(d))
    market.advance(case.elapsed)
    out["reserves_after_time"] = (market.reserve_data(c), market.reserve_data(d))
    out["account_after_time"] = market.account_data("borrower")
    market.set_price(c, case.collateral_price_after)
    market.set_price(d, case.debt_price_after)
    out["account_after_prices"] = market.account_data("borrower")
    out["liquidation"] = attempt(market.liquidation_call, "liquidator", c, d, "borrower", case.debt_to_cover)
    out["account_after"] = market.account_data("borrower")
    out["reserves_after"] = (market.reserve_data(c), market.reserve_data(d))
    return out


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _reserve(rng: np.random.Generator, symbol: str) -> ReserveConfig:
    """Risk parameters the configurator accepts: LTV ≤ LT, percentMul(LT, bonus) ≤ 100%,
    1% ≤ U* ≤ 99%, slope1 ≤ slope2, base + slope1 + slope2 ≤ 1000% (mechanics §1.4, §1.5)."""
    lt = int(rng.integers(5_000, 9_501))
    ltv = int(rng.integers(max(1_000, lt - 1_500), lt + 1))
    max_bonus = min(2_000, (10_000 * 10_000 + 5_000) // lt - 10_000)  # keeps percentMul(lt, 10000 + b) ≤ 10000
    while (lt * (10_000 + max_bonus) + 5_000) // 10_000 > 10_000:
        max_bonus -= 1
    bonus = 10_000 + int(rng.integers(1, max_bonus + 1))
    protocol_fee = 0 if rng.random() < 0.2 else int(rng.integers(1, 5_001))
    reserve_factor = 0 if rng.random() < 0.2 else int(rng.integers(1, 5_001))
    optimal = int(rng.integers(100, 9_901))
    base = 0 if rng.random() < 0.5 else int(rng.integers(1, 501))
    slope1 = int(rng.integers(0, 2_001))
    slope2 = int(rng.integers(slope1, min(30_000, 100_000 - base - slope1) + 1))
    return ReserveConfig(symbol, int(rng.choice(_DECIMALS)), ltv, lt, bonus, protocol_fee, reserve_factor,
                         optimal, base, slope1, slope2)


def _raw(value_usd: float, price: int, decimals: int) -> int:
    """Raw token units worth ``value_usd`` at ``price`` (USD·1e8), at least 1."""
    return max(1, int(value_usd * 1e8 / price * 10**decimals))


def _elapsed(rng: np.random.Generator) -> int:
    kind = rng.integers(0, 6)
    if kind == 0:
        return 0
    if kind == 1:
        return int(rng.integers(1, 13))
    return int(_log_uniform(rng, 12, (3_600, 86_400, _YEAR, 3 * _YEAR)[kind - 2]))


def _debt_to_cover(rng: np.random.Generator, borrowed: int) -> int:
    kind = rng.integers(0, 6)
    if kind == 0:
        return MAX_UINT256
    if kind == 1:
        return 1
    if kind == 2:
        return int(rng.integers(2, 1_000))
    if kind == 3:
        return 2 * borrowed + 1  # over-cover
    return max(1, int(borrowed * rng.uniform(0.0, 1.0)))


def _case(rng: np.random.Generator, label: str) -> Case:
    coll, debt = _reserve(rng, "COLL"), _reserve(rng, "DEBT")
    coll_price = max(1, int(_log_uniform(rng, 1e-2, 1e5) * 1e8))
    debt_price = max(1, int(_log_uniform(rng, 1e-1, 1e4) * 1e8))
    collateral_usd = _log_uniform(rng, 1e-2, 1e7)
    borrow_usd = collateral_usd * coll.ltv / 1e4 * rng.uniform(0.3, 0.99)
    utilization = rng.uniform(0.05, 0.99)
    lender_usd = borrow_usd / utilization
    saver_usd = lender_borrow_usd = 0.0
    if rng.random() < 0.5:
        saver_usd = collateral_usd * _log_uniform(rng, 0.1, 10.0)
        lender_borrow_usd = min(saver_usd * rng.uniform(0.0, 0.5), 0.9 * lender_usd * debt.ltv / 1e4)
    # price move toward a target health factor (ignoring interest; the spread is what matters)
    hf_now = coll.liquidation_threshold / 1e4 * collateral_usd / max(borrow_usd, 1e-12)
    target = rng.uniform(0.5, 1.1)
    debt_price_after = debt_price if rng.random() < 0.8 else max(1, int(debt_price * rng.uniform(0.9, 1.3)))
    coll_price_after = max(1, int(coll_price * target / hf_now * debt_price_after / debt_price))
    borrowed = _raw(borrow_usd, debt_price, debt.decimals)
    return Case(
        label, coll, debt, coll_price, debt_price,
        lender_supply=_raw(lender_usd, debt_price, debt.decimals),
        saver_supply=_raw(saver_usd, coll_price, coll.decimals) if saver_usd else 0,
        borrower_supply=_raw(collateral_usd, coll_price, coll.decimals),
        lender_borrow=_raw(lender_borrow_usd, coll_price, coll.decimals) if lender_borrow_usd > 0 else 0,
        borrower_borrow=borrowed,
        elapsed=_elapsed(rng),
        collateral_price_after=coll_price_after,
        debt_price_after=debt_price_after,
        debt_to_cover=_debt_to_cover(rng, borrowed),
    )


def generate_cases(seed: int, n: int) -> list[Case]:
    """``n`` cases from ``numpy.random.default_rng(seed)``, labelled ``"seed/i"``; the same seed
    gives the same cases.

    >>> a, b = generate_cases(7, 3), generate_cases(7, 3)
    >>> a == b, len({c.collateral for c in a})
    (True, 3)
    """
    rng = np.random.default_rng(seed)
    return [_case(rng, f"{seed}/{i}") for i in range(n)]
