"""Perpetual-futures math: funding, margin, liquidation prices, ADL ranking (dYdX v4 and Hyperliquid docs).

Free float64 functions; sizes are signed base-asset units (``+`` long, ``−`` short), prices and
notionals USD, rates and margin fractions plain fractions (``0.0001`` = 0.01%), times in hours or
seconds as named. Branch-free functions take scalars or numpy arrays alike; those that branch
have a ``*_vec`` twin.

Sign convention everywhere (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs): a positive funding rate means longs pay shorts; the payment of
one position per interval is ``size · price · rate`` (positive: the position pays).

References
----------
Hyperliquid oracle and mark-price docs; Binance Futures mark price (prices: Binance's mark price), dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs (funding: the CEX template, Hyperliquid, dYdX v4, GMX v2),
dYdX v4 `margin.mdx`; Hyperliquid margining docs (margin and liquidation prices), Hyperliquid auto-deleveraging docs; Binance Futures ADL (ADL ranking), worked example.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "INTEREST_8H",
    "CLAMP_8H",
    "premium_index",
    "premium_index_vec",
    "binance_mark_price",
    "funding_rate",
    "funding_payment",
    "dydx_funding_cap_8h",
    "gmx_funding_per_second",
    "maintenance_fraction_at_max_leverage",
    "isolated_liquidation_price",
    "dydx_liquidation_price",
    "adl_score",
    "adl_score_vec",
]

#: The interest leg of the CEX template: 0.01% per 8 h (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs).
INTEREST_8H = 0.0001
#: Clamp on ``I − P̄``: ±0.05% per 8 h (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs).
CLAMP_8H = 0.0005


def premium_index(impact_bid: float, impact_ask: float, index: float) -> float:
    """Premium of the book over the index (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs):
    ``[max(0, impactBid − index) − max(0, index − impactAsk)] / index``.

    Parameters
    ----------
    impact_bid, impact_ask : float
        Average fill prices of a market sell / buy of the impact notional (USD).
    index : float
        Index (oracle) price (USD).

    See Also
    --------
    premium_index_vec : the vectorised twin.

    Examples
    --------
    >>> premium_index(101.0, 102.0, 100.0), premium_index(98.0, 99.0, 100.0), premium_index(99.0, 101.0, 100.0)
    (0.01, -0.01, 0.0)
    """
    return (max(0.0, impact_bid - index) - max(0.0, index - impact_ask)) / index


def premium_index_vec(impact_bid, impact_ask, index) -> np.ndarray:
    """:func:`premium_index` of many books at once.

    >>> premium_index_vec([101.0, 98.0], [102.0, 99.0], 100.0).tolist()
    [0.01, -0.01]
    """
    bid, ask, idx = (np.asarray(v, dtype=np.float64) for v in (impact_bid, impact_ask, index))
    return (np.maximum(0.0, bid - idx) - np.maximum(0.0, idx - ask)) / idx


def binance_mark_price(index: float, last_funding_rate: float, time_until_funding_s: float, interval_s: float,
                       basis_moving_average: float, last_price: float) -> float:
    """Binance's perpetual mark price (Hyperliquid oracle and mark-price docs; Binance Futures mark price): ``median(price1, price2, lastPrice)`` with
    ``price1 = index × (1 + lastFundingRate × timeUntilFunding / interval)`` and
    ``price2 = index + MA(basis)`` (the basis ``mid − index`` averaged over 30 s).

    Examples
    --------
    Index 100, funding 0.01% with half the interval left, basis MA +0.5, a last trade at 90
    (a wick): the mark ignores the wick.

    >>> round(binance_mark_price(100.0, 0.0001, 4 * 3600, 8 * 3600, 0.5, 90.0), 6)
    100.005
    """
    price1 = index * (1.0 + last_funding_rate * time_until_funding_s / interval_s)
    price2 = index + basis_moving_average
    return max(min(price1, price2), min(max(price1, price2), last_price))


def funding_rate(premium_avg, interval_h: float = 8.0, interest_8h: float = INTEREST_8H,
                 clamp_8h: float = CLAMP_8H, cap: float | None = None):
    """Funding rate per interval of the CEX / Hyperliquid template (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs).

    ``F_8h = P̄ + clamp(I − P̄, −c, c)``, scaled to the interval (``F_8h · interval_h / 8``) and
    capped to ``±cap`` per interval. Whenever ``|P̄ − I| ≤ c`` the rate is exactly the interest
    leg ``I``.

    Parameters
    ----------
    premium_avg : float or array_like
        Time-weighted average premium index over the interval (:func:`premium_index`).
    interval_h : float
        Hours between payments: 8 on most CEX, 1 on Hyperliquid and dYdX v4.
    interest_8h, clamp_8h : float
        ``I`` and ``c``, per 8 hours.
    cap : float, optional
        Cap per interval (Hyperliquid: 4% per hour; dYdX: :func:`dydx_funding_cap_8h` / 8).

    Examples
    --------
    Worked example: Hyperliquid with a zero premium pays 0.00125% per hour; 1% premium gives
    0.95% per 8 h (the clamp binds), 0.11875% per hour.

    >>> round(funding_rate(0.0, 1.0, cap=0.04), 10), round(funding_rate(0.01, 1.0, cap=0.04), 10)
    (1.25e-05, 0.0011875)
    """
    p = np.asarray(premium_avg, dtype=np.float64)
    f8 = p + np.clip(interest_8h - p, -clamp_8h, clamp_8h)
    rate = f8 * interval_h / 8.0
    if cap is not None:
        rate = np.clip(rate, -cap, cap)
    return float(rate) if rate.ndim == 0 else rate


def funding_payment(size, price, rate):
    """What a position pays for one funding interval (USD; negative: it receives) (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs):
    ``size · price · rate`` with signed ``size``.

    Examples
    --------
    dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs: 10 BTC long at $100,000 and 0.00125% per hour pay $12.50 per hour.

    >>> round(funding_payment(10.0, 100_000.0, 1.25e-05), 6), round(funding_payment(-10.0, 100_000.0, 1.25e-05), 6)
    (12.5, -12.5)
    """
    out = np.asarray(size, dtype=np.float64) * price * rate
    return float(out) if out.ndim == 0 else out


def dydx_funding_cap_8h(imf: float, mmf: float) -> float:
    """dYdX v4's 8-hour funding cap ``600% × (IMF − MMF)`` (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs).

    Examples
    --------
    Worked example: IMF 5%, MMF 3% give 12% per 8 h.

    >>> round(dydx_funding_cap_8h(0.05, 0.03), 12)
    0.12
    """
    return 6.0 * (imf - mmf)


def gmx_funding_per_second(funding_factor: float, oi_long_usd: float, oi_short_usd: float,
                           exponent: float = 1.0) -> tuple[float, float]:
    """GMX v2 funding (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs): the larger side pays
    ``fundingFactor · |OI_long − OI_short|^exponent / (OI_long + OI_short)`` per second of its
    open interest; the smaller side receives what was paid, spread over its smaller open interest.
    Nothing is paid when the sides are balanced or one of them is empty.

    Returns
    -------
    tuple of float
        ``(rate paid by longs, rate paid by shorts)`` per second, fractions of each side's open
        interest; the receiving side's rate is negative.

    Examples
    --------
    Worked example: factor 1/50,000 per second, OI $150k long / $50k short: longs pay
    0.001% per second, shorts receive 0.003% per second.

    >>> longs, shorts = gmx_funding_per_second(1 / 50_000, 150_000.0, 50_000.0)
    >>> round(longs, 12), round(shorts, 12)
    (1e-05, -3e-05)
    """
    if oi_long_usd <= 0.0 or oi_short_usd <= 0.0 or oi_long_usd == oi_short_usd:
        return 0.0, 0.0  # balanced, or nobody on the other side to receive it
    rate = funding_factor * abs(oi_long_usd - oi_short_usd) ** exponent / (oi_long_usd + oi_short_usd)
    if oi_long_usd > oi_short_usd:
        return rate, -rate * oi_long_usd / oi_short_usd
    return -rate * oi_short_usd / oi_long_usd, rate


def maintenance_fraction_at_max_leverage(max_leverage):
    """Hyperliquid's maintenance margin fraction: half the initial margin at maximum leverage,
    ``1 / (2 · maxLeverage)`` (dYdX v4 `margin.mdx`; Hyperliquid margining docs).

    >>> maintenance_fraction_at_max_leverage(40), maintenance_fraction_at_max_leverage(50)
    (0.0125, 0.01)
    """
    out = 1.0 / (2.0 * np.asarray(max_leverage, dtype=np.float64))
    return float(out) if out.ndim == 0 else out


def isolated_liquidation_price(entry_price, size, margin_usd, mmf):
    """Liquidation price of an isolated position (Hyperliquid's formula, dYdX v4 `margin.mdx`; Hyperliquid margining docs):
    ``liq = entry − side · margin_available / |size| / (1 − MMF · side)`` with
    ``margin_available = margin − MMF · |size| · entry``.

    Parameters
    ----------
    entry_price : float or array_like
        Entry price (USD).
    size : float or array_like
        Signed size (base units; ``+`` long).
    margin_usd : float or array_like
        Isolated margin (USD).
    mmf : float or array_like
        Maintenance margin fraction.

    Examples
    --------
    Worked example: long 1 BTC at $100,000 with $10,000 margin, MMF 1.25% → $91,139.24;
    the short → $108,641.98.

    >>> round(isolated_liquidation_price(100_000.0, 1.0, 10_000.0, 0.0125), 2)
    91139.24
    >>> round(isolated_liquidation_price(100_000.0, -1.0, 10_000.0, 0.0125), 2)
    108641.98
    """
    s = np.asarray(size, dtype=np.float64)
    side = np.sign(s)
    available = margin_usd - mmf * np.abs(s) * entry_price
    out = entry_price - side * available / np.abs(s) / (1.0 - mmf * side)
    return float(out) if out.ndim == 0 else out


def dydx_liquidation_price(equity_usd, size, price, mmf):
    """dYdX's isolated liquidation price ``p' = (e − s·p) / (|s|·MMF − s)`` (dYdX v4 `margin.mdx`; Hyperliquid margining docs).

    Parameters
    ----------
    equity_usd : float
        Account equity ``Q + s·p`` at price ``p`` (USD).
    size : float
        Signed size ``s``.
    price : float
        Current (oracle) price ``p``.
    mmf : float
        Maintenance margin fraction.

    Examples
    --------
    Worked example: equity $1,000, short 3 ETH at $3,000, MMF 5% → $3,174.60.

    >>> round(dydx_liquidation_price(1_000.0, -3.0, 3_000.0, 0.05), 2)
    3174.6
    """
    s = np.asarray(size, dtype=np.float64)
    out = (equity_usd - s * price) / (np.abs(s) * mmf - s)
    return float(out) if out.ndim == 0 else out


def adl_score(pnl_fraction: float, effective_leverage: float) -> float:
    """ADL ranking score (Binance's published formula, Hyperliquid auto-deleveraging docs; Binance Futures ADL): ``PnL% × leverage`` for a profit,
    ``PnL% / leverage`` for a loss; the highest score is deleveraged first.

    Parameters
    ----------
    pnl_fraction : float
        Unrealised PnL over the entry notional, ``(markValue − entryValue) / |entryValue|``.
    effective_leverage : float
        ``|markValue| / (markValue − bankruptcyValue)``, i.e. notional over equity (> 0).

    See Also
    --------
    adl_score_vec : the vectorised twin.

    Examples
    --------
    >>> adl_score(0.5, 4.0), adl_score(-0.5, 4.0)
    (2.0, -0.125)
    """
    if pnl_fraction > 0.0:
        return pnl_fraction * effective_leverage
    return pnl_fraction / effective_leverage


def adl_score_vec(pnl_fraction, effective_leverage) -> np.ndarray:
    """:func:`adl_score` of many positions.

    >>> adl_score_vec([0.5, -0.5, 0.0], [4.0, 4.0, 2.0]).tolist()
    [2.0, -0.125, 0.0]
    """
    p = np.asarray(pnl_fraction, dtype=np.float64)
    lev = np.asarray(effective_leverage, dtype=np.float64)
    return np.where(p > 0.0, p * lev, p / lev)
