"""Maker's rules on floats: the engine's twins of :mod:`protocols.maker.exact` (whole tokens and
DAI, ratios as numbers, seconds), scalar and vectorised. ``tests/protocols/maker`` runs each
against the integer reference.

References: makerdao/dss `src/jug.sol` (drip), `src/spot.sol` (poke), `src/dog.sol` (bark),
`src/cat.sol` (bite, before Liq 2.0), `src/abaci.sol`, `src/clip.sol` (take, status, redo).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from defisim.base import Revert

from .params import SECONDS_PER_YEAR, ExponentialCurve, LinearCurve, StairstepCurve

__all__ = ["duty_of", "log_duty_of", "grow_rate", "spot_of", "unsafe_rows", "Seizure", "bark_amounts", "bark_feasible", "bite_amounts",
           "auction_price", "auction_prices", "needs_reset", "TakeAmounts", "take_amounts", "keeper_coin", "redo_coin"]


def duty_of(stability_fee: float) -> float:
    """Per-second fee factor of an annual fee: ``(1 + fee)^(1/365 days)`` (dss `jug.sol` ``duty``).

    >>> duty_of(0.05)  # 1.000000001547125957… per second for 5 %/yr (Maker's ray: …957863212448)
    1.000000001547126
    """
    return math.exp(math.log1p(stability_fee) / SECONDS_PER_YEAR)


def log_duty_of(stability_fee: float) -> float:
    """``log(duty)`` per second, ``log1p(fee) / 365 days``: what :func:`grow_rate` compounds
    (``duty`` itself is 1 + 1.5e-9 for 5 %/yr, and a float of it raised to a year's seconds loses 8 digits)."""
    return math.log1p(stability_fee) / SECONDS_PER_YEAR


def grow_rate(rate: float, log_duty: float, seconds: int) -> float:
    """``rate · duty^seconds`` as ``rate · exp(seconds · log duty)`` (dss `jug.sol` ``drip``).

    >>> round(grow_rate(1.0, log_duty_of(0.05), 31_536_000), 15)
    1.05
    """
    return rate * math.exp(log_duty * seconds)


def spot_of(price_usd: float, mat: float, par: float = 1.0) -> float:
    """``spot = price / par / mat``: DAI of debt one collateral token may back (dss `spot.sol` ``poke``)."""
    return price_usd / par / mat


def unsafe_rows(ink: np.ndarray, art: np.ndarray, rate: np.ndarray, spot: np.ndarray) -> np.ndarray:
    """Per vault, ``ink·spot < art·rate`` with ``spot > 0`` (``rate`` and ``spot`` per vault).

    >>> unsafe_rows(np.array([100.0, 100.0]), np.array([120_000.0, 110_000.0]), np.ones(2), np.full(2, 1_700 / 1.45)).tolist()
    [True, False]
    """
    return (spot > 0) & (ink * spot < art * rate)


class Seizure(NamedTuple):
    """What a bark or bite takes: normalised debt ``dart``, collateral ``dink`` (tokens), debt
    ``due = dart·rate`` and the auction's ``tab = due·chop`` (DAI)."""

    dart: float
    dink: float
    due: float
    tab: float


def bark_amounts(ink: float, art: float, rate: float, dust: float, chop: float, room: float) -> Seizure:
    """``Dog.bark`` with ``room = min(Hole − Dirt, hole − dirt)`` DAI of tab left (the caller checked
    the vault is unsafe and the room positive): a partial liquidation takes ``room / rate / chop``;
    a dusty remainder is taken whole; a dusty auction reverts (dss `dog.sol` ``bark``)."""
    dart = min(art, room / rate / chop)
    if art > dart:
        if (art - dart) * rate < dust:
            dart = art
        elif dart * rate < dust:
            raise Revert("Dog/dusty-auction-from-partial-liquidation")
    dink = ink if dart == art else ink * dart / art
    if not dink > 0:
        raise Revert("Dog/null-auction")
    due = dart * rate
    return Seizure(dart, dink, due, due * chop)


def bark_feasible(ink: np.ndarray, art: np.ndarray, rate: np.ndarray, dust: np.ndarray, chop: np.ndarray,
                  room: np.ndarray) -> np.ndarray:
    """Per vault, whether :func:`bark_amounts` would take it (no revert) with ``room`` DAI of tab
    left: the vectorised twin of its dust rules (the caller checked the vaults are unsafe)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dart = np.minimum(art, room / rate / chop)
        whole = (dart >= art) | ((art - dart) * rate < dust)
        dink = np.where(whole, ink, ink * dart / art)
        return (room > 0) & (dink > 0) & (whole | (dart * rate >= dust))


def bite_amounts(ink: float, art: float, rate: float, dust: float, chop: float, dunk: float, room: float) -> Seizure:
    """``Cat.bite`` (Liquidations 1.2) with ``room = box − litter``: at most ``min(dunk, room)`` of
    tab; a room below ``dust`` reverts; it may leave the vault dusty (dss `cat.sol` ``bite``)."""
    if not (room > 0 and room >= dust):
        raise Revert("Cat/liquidation-limit-hit")
    dart = min(art, min(dunk, room) / rate / chop)
    dink = ink if dart == art else min(ink, ink * dart / art)
    if not (dart > 0 and dink > 0):
        raise Revert("Cat/null-auction")
    due = dart * rate
    return Seizure(dart, dink, due, due * chop)


def auction_price(calc, top: float, seconds: int) -> float:
    """The Dutch auction's price (DAI per token) ``seconds`` after its start at ``top`` (dss `abaci.sol`).

    >>> round(auction_price(StairstepCurve(), 2_040.0, 1_800), 3)
    1668.53
    """
    if isinstance(calc, StairstepCurve):
        return top * calc.cut ** (seconds // (calc.step // 1000))
    if isinstance(calc, LinearCurve):
        tau = calc.tau // 1000
        return 0.0 if seconds >= tau else top * (tau - seconds) / tau
    if isinstance(calc, ExponentialCurve):
        return top * calc.cut ** seconds
    raise TypeError(f"no price curve {calc!r}")


def auction_prices(calc, top: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """:func:`auction_price` of many auctions of one curve at once (the same float operations)."""
    top, seconds = np.asarray(top, dtype=np.float64), np.asarray(seconds, dtype=np.int64)
    if isinstance(calc, StairstepCurve):
        return top * calc.cut ** (seconds // (calc.step // 1000)).astype(np.float64)
    if isinstance(calc, LinearCurve):
        tau = calc.tau // 1000
        return np.where(seconds >= tau, 0.0, top * (tau - seconds) / tau)
    if isinstance(calc, ExponentialCurve):
        return top * calc.cut ** seconds.astype(np.float64)
    raise TypeError(f"no price curve {calc!r}")


def needs_reset(top: float, price: float, seconds: int, tail_s: int, cusp: float) -> bool:
    """``done`` of dss `clip.sol` ``status``: older than ``tail`` or below ``cusp·top``."""
    return seconds > tail_s or price / top < cusp


class TakeAmounts(NamedTuple):
    """One take: collateral bought ``slice`` (tokens), DAI paid ``owe``, the auction's ``tab`` and ``lot`` after."""

    slice: float
    owe: float
    tab: float
    lot: float


def take_amounts(lot: float, tab: float, amt: float, price: float, max_price: float, chost: float) -> TakeAmounts:
    """``Clipper.take`` (dss `clip.sol`): up to ``amt`` tokens at ``price`` if ``max_price ≥ price``,
    never more than the tab; a partial purchase leaves at least ``chost`` of tab."""
    if not max_price >= price:
        raise Revert("Clipper/too-expensive")
    slice_ = min(lot, amt)
    owe = slice_ * price
    if owe > tab:
        owe = tab
        slice_ = min(lot, owe / price)
    elif owe < tab and slice_ < lot and tab - owe < chost:
        if not tab > chost:
            raise Revert("Clipper/no-partial-purchase")
        owe = tab - chost
        slice_ = owe / price
    return TakeAmounts(slice_, owe, tab - owe, lot - slice_)


def keeper_coin(tab: float, tip: float, chip: float) -> float:
    """``tip + tab·chip`` (DAI) at kick (dss `clip.sol` ``kick``)."""
    return tip + tab * chip


def redo_coin(tab: float, lot: float, feed: float, tip: float, chip: float, chost: float) -> float:
    """The incentive at ``redo``: only for an auction that is not dusty (dss `clip.sol` ``redo``)."""
    return tip + tab * chip if (tab >= chost and lot * feed >= chost) else 0.0
