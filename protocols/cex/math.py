"""Unified cross-margin accounts: haircut equity and the account maintenance ratio (Binance unified-account uniMMR FAQ; Bybit UTA trading rules).

Free float64 functions. Amounts are per-asset net balances in asset units (negative: a loan or a
loss), prices USD per unit *on the venue* (its own index or mark), collateral rates plain
fractions (0.9 = a 10% haircut), margins USD.

References
----------
Binance Portfolio Margin and Bybit UTA docs (mechanism), Binance unified-account uniMMR FAQ (Binance Portfolio Margin ``uniMMR``), worked example and worked example.
"""
from __future__ import annotations

import numpy as np

__all__ = ["STATUS_BANDS", "haircut_equity", "uni_mmr", "uni_mmr_status"]

#: Binance's uniMMR bands (Binance unified-account uniMMR FAQ), from the top: (lower bound, status).
STATUS_BANDS = ((1.5, "free"), (1.2, "reminder"), (1.05, "reduce-only"), (1.0, "liquidation"),
                (-np.inf, "liquidation and loss claim"))


def haircut_equity(net_units, price_usd, collateral_rate):
    """Equity of each asset: ``min(net · price · rate, net · price)``, a haircut only on what the
    account holds, never on what it owes (Binance unified-account uniMMR FAQ).

    Parameters
    ----------
    net_units : float or array_like
        Net balance per asset (units; negative for loans and losses).
    price_usd : float or array_like
        Venue price per unit (USD).
    collateral_rate : float or array_like
        Collateral rate per asset (fraction ≤ 1).

    Examples
    --------
    >>> haircut_equity([100_000.0, -80_000.0], [0.93, 1.0], [0.9, 0.9]).round(2).tolist()
    [83700.0, -80000.0]
    """
    value = np.asarray(net_units, dtype=np.float64) * price_usd
    out = np.minimum(value * collateral_rate, value)
    return float(out) if out.ndim == 0 else out


def uni_mmr(net_units, price_usd, collateral_rate, maintenance_usd: float) -> float:
    """``uniMMR = Σ haircut equity / Σ maintenance margin`` (Binance unified-account uniMMR FAQ; open-order losses left out).

    Returns ``inf`` without maintenance margin.

    Examples
    --------
    Worked example: 100,000 USDe at 0.93 with rate 0.9, −80,000 USDT of losses,
    maintenance $5,000 → 0.74 (liquidation below 1.05).

    >>> round(uni_mmr([100_000.0, -80_000.0], [0.93, 1.0], [0.9, 0.9], 5_000.0), 6)
    0.74
    """
    equity = float(np.sum(haircut_equity(net_units, price_usd, collateral_rate)))
    if maintenance_usd <= 0.0:
        return np.inf
    return equity / maintenance_usd


def uni_mmr_status(ratio: float) -> str:
    """The status band of a uniMMR (Binance unified-account uniMMR FAQ): ``"free"`` above 150%, ``"reminder"`` 120–150%,
    ``"reduce-only"`` 105–120%, ``"liquidation"`` 100–105%, below: ``"liquidation and loss claim"``.

    >>> [uni_mmr_status(r) for r in (2.0, 1.1, 0.74, -4.3)]
    ['free', 'reduce-only', 'liquidation and loss claim', 'liquidation and loss claim']
    >>> uni_mmr_status(1.04)
    'liquidation'
    """
    for lower, status in STATUS_BANDS:
        if ratio > lower:
            return status
    return STATUS_BANDS[-1][1]
