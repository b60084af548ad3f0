"""Margin brackets of a perp market (dYdX v4 `margin.mdx`; Hyperliquid margining docs): maintenance counted slice by slice of
the notional, initial the whole notional at its bracket's fraction, the missing one derived by
Hyperliquid's rule, and the check that initial stays above maintenance. Notionals and margins
in USD, fractions plain floats.
"""
from __future__ import annotations

import numpy as np

from . import math as pm

__all__ = ["margin_tiers", "maintenance_margin", "initial_margin"]


def margin_tiers(symbol: str, max_leverage: float, mm_tiers: tuple, im_tiers: tuple) -> tuple[tuple, tuple]:
    """The maintenance and initial brackets of a market, the missing one derived (Hyperliquid's
    rule: maintenance half of initial, initial at least ``1/max_leverage``), checked: each starts
    at 0 and rises, and the initial margin is above the maintenance margin at every notional
    (dYdX v4 `margin.mdx`; Hyperliquid margining docs). Raises ``ValueError`` naming the market otherwise."""
    if mm_tiers and not im_tiers:
        im_tiers = tuple((a, max(2.0 * f, 1.0 / max_leverage)) for a, f in mm_tiers)
    elif im_tiers and not mm_tiers:
        mm_tiers = tuple((a, f / 2.0) for a, f in im_tiers)
    for name, tiers in (("mm_tiers", mm_tiers), ("im_tiers", im_tiers)):
        starts = [a for a, _ in tiers]
        if tiers and (starts[0] != 0.0 or any(b <= a for a, b in zip(starts, starts[1:]))):
            raise ValueError(f"{symbol}: {name} must start at 0 and rise, got starts {starts}")
    # both margins are linear between kinks (the initial one jumps at its own): comparing them
    # on both sides of every kink and far out compares them everywhere
    kinks = sorted({a for a, _ in mm_tiers + im_tiers} - {0.0})
    points = np.array([x for k in kinks for x in (k * (1.0 - 1e-9), k)] + [1.0, 1e18])
    initial = initial_margin(points, im_tiers, 1.0 / max_leverage)
    maintenance = maintenance_margin(points, mm_tiers, pm.maintenance_fraction_at_max_leverage(max_leverage))
    short = initial <= maintenance * (1.0 + 1e-12)
    if short.any():
        raise ValueError(f"{symbol}: initial margin not above maintenance at notional {points[short][0]:g} USD")
    return tuple(mm_tiers), tuple(im_tiers)


def maintenance_margin(notional_usd, mm_tiers: tuple, flat: float):
    """Each slice of ``notional_usd`` inside a bracket of ``mm_tiers`` at its fraction (``flat``
    throughout without brackets) (USD, dYdX v4 `margin.mdx`; Hyperliquid margining docs)."""
    n = np.asarray(notional_usd, dtype=np.float64)
    if not mm_tiers:
        return n * flat
    out = np.zeros_like(n)
    uppers = [a for a, _ in mm_tiers[1:]] + [np.inf]
    for (lower, fraction), upper in zip(mm_tiers, uppers):
        out = out + np.clip(n - lower, 0.0, upper - lower) * fraction
    return out


def initial_margin(notional_usd, im_tiers: tuple, flat: float):
    """All of ``notional_usd`` at the fraction of the bracket of ``im_tiers`` it falls in
    (``flat`` without brackets) (USD, dYdX v4 `margin.mdx`; Hyperliquid margining docs)."""
    n = np.asarray(notional_usd, dtype=np.float64)
    if not im_tiers:
        return n * flat
    starts = np.array([a for a, _ in im_tiers])
    fractions = np.array([f for _, f in im_tiers])
    return n * fractions[np.searchsorted(starts, n, side="right") - 1]
