"""Leverage loops on a lending market: borrow → swap → re-supply (loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ).

Closed forms used to check the simulated loopers (which loop through the pool and the mempool
like anyone else): leverage after ``k`` loops, its limit ``1/(1 − λ)``, return on equity, the
price fall that liquidates and the one that wipes the equity out. ``λ`` is the fraction of the
collateral re-borrowed each loop (at most the market's LTV); prices are in debt units, 1 at the
start; rates annual fractions.

References
----------
loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ, worked example.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from defisim.graph import loop_leverage  # the closed form lives with the graph measures

__all__ = ["loop_leverage", "max_loop_leverage", "loop_roe", "wipeout_fall", "liquidation_fall", "build_loop"]


def max_loop_leverage(ltv):
    """The limit of :func:`loop_leverage`, ``1 / (1 − λ)``.

    Examples
    --------
    Worked example: λ = 0.9 → 10 (0.8 → 5, 0.92 → 12.5).

    >>> [round(max_loop_leverage(x), 9) for x in (0.9, 0.8, 0.92)]
    [10.0, 5.0, 12.5]
    """
    out = 1.0 / (1.0 - np.asarray(ltv, dtype=np.float64))
    return float(out) if out.ndim == 0 else out


def loop_roe(leverage, collateral_yield, borrow_rate):
    """Return on equity ``L·y_c − (L − 1)·r_b`` (before swap costs).

    Examples
    --------
    Worked example: L = 5, y = 10%, r = 7% → 22%.

    >>> round(loop_roe(5.0, 0.10, 0.07), 12)
    0.22
    """
    lev = np.asarray(leverage, dtype=np.float64)
    out = lev * collateral_yield - (lev - 1.0) * borrow_rate
    return float(out) if out.ndim == 0 else out


def wipeout_fall(leverage):
    """Relative price fall that takes the equity to zero: ``1/L``.

    >>> wipeout_fall(5.0), wipeout_fall(8.0)
    (0.2, 0.125)
    """
    out = 1.0 / np.asarray(leverage, dtype=np.float64)
    return float(out) if out.ndim == 0 else out


def liquidation_fall(leverage, liquidation_threshold):
    """Relative price fall to the liquidation point ``1 − (L − 1)/(L · LT)``.

    Examples
    --------
    Worked example with LT 92%: L = 3 → 27.5%, 5 → 13.0%, 8 → 4.9%.

    >>> [round(liquidation_fall(L, 0.92), 3) for L in (3.0, 5.0, 8.0)]
    [0.275, 0.13, 0.049]
    """
    lev = np.asarray(leverage, dtype=np.float64)
    out = 1.0 - (lev - 1.0) / (lev * liquidation_threshold)
    return float(out) if out.ndim == 0 else out


def build_loop(market, user: str, collateral: str, debt: str, equity: int, fraction: float, loops: int,
               value_in_debt: Callable[[int], int], swap: Callable[[int], int]) -> tuple[int, int]:
    """Build a loop on ``market`` (any :class:`~protocols.lending.aave_v3.replay.Market`): supply
    ``equity`` of ``collateral``, then ``loops`` times borrow ``fraction`` of what the last supply
    is worth in ``debt``, ``swap`` it into collateral and supply that (loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ).

    Parameters
    ----------
    market : replay.Market
        The lending market (raw token units).
    user : str
    collateral, debt : str
        Reserve symbols.
    equity : int
        Collateral the user brings (raw units).
    fraction : float
        ``λ``, the share of each supply's value borrowed (at most the LTV).
    loops : int
    value_in_debt : callable
        Collateral raw units → their value in debt raw units at the market's oracle prices.
    swap : callable
        Debt raw units → collateral raw units (an AMM pool, a venue, a fixed rate).

    Returns
    -------
    tuple of int
        Total collateral supplied and total debt borrowed (raw units).
    """
    market.supply(user, collateral, equity)
    supplied, borrowed, last = equity, 0, equity
    for _ in range(loops):
        amount = int(fraction * value_in_debt(last))
        market.borrow(user, debt, amount)
        borrowed += amount
        last = swap(amount)
        market.supply(user, collateral, last)
        supplied += last
    return supplied, borrowed
