"""Unified cross-margin accounts on a centralised exchange, marked on the venue's own books
(Binance unified-account uniMMR FAQ; Bybit UTA trading rules).

A plain data structure. :class:`UnifiedAccounts` keeps every account's net balance of
each asset (units; negative for loans and realised losses in the settlement asset) and its
maintenance margin (USD, from its derivatives) as arrays. Each collateral asset has a book on
the venue (a :class:`~defisim.markets.venues.Venue`), and the venue marks the asset there (optionally a
blend with a conversion rate, as wBETH and BNSOL were: ``weight · book mid + (1 − weight) ·
conversion price``). Collateral counts at a tiered value ratio (the marginal ratio falls with the
amount held, Binance Portfolio Margin and Bybit UTA docs); liabilities count in full.

The liquidation engine (:meth:`UnifiedAccounts.check`) takes every account whose uniMMR
(:func:`~.math.uni_mmr`) is at or below the liquidation line (1.05), lowest first, and sells its
collateral assets into their books, largest value first, until the account's ratio is back above
the line or nothing is left to sell; proceeds repay the settlement-asset debt. The sales move
the books, which lowers the marks, and so the ratio, of every other account holding the asset:
:meth:`check` repeats until no account is liquidatable (the reflexive loop of Binance Portfolio Margin and Bybit UTA docs; Binance's notices on the 10–11 October 2025 depeg).

References: Binance Portfolio Margin and Bybit UTA docs; Binance unified-account uniMMR FAQ; Bybit Unified Trading Account trading rules; Binance's notices on the 10–11 October 2025 depeg; worked example.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from defisim.markets import Venue

__all__ = ["LIQUIDATION_LINE", "CollateralAsset", "tiered_value", "UnifiedAccounts"]

#: uniMMR at or below which the engine liquidates (Binance: 100–105% band, Binance unified-account uniMMR FAQ).
LIQUIDATION_LINE = 1.05


def tiered_value(value_usd: np.ndarray, tiers: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Collateral value after tiered ratios: ``tiers`` are ``(upper bound USD, ratio)`` from the
    first tier up (the last bound may be ``inf``); each slice of the holding counts at its ratio.

    Examples
    --------
    90% up to $1M, 50% above: $3M counts $0.9M + $1M.

    >>> tiered_value(np.array([500_000.0, 3_000_000.0]), ((1e6, 0.9), (np.inf, 0.5))).tolist()
    [450000.0, 1900000.0]
    """
    value = np.asarray(value_usd, dtype=np.float64)
    out = np.zeros_like(value)
    lower = 0.0
    for upper, ratio in tiers:
        out += np.clip(value - lower, 0.0, upper - lower) * ratio
        lower = upper
    return out


@dataclass
class CollateralAsset:
    """A collateral asset of the venue: its ``book`` (None for the settlement asset, worth 1), the
    value-ratio ``tiers``, and the index blend: ``book_weight`` of the book's mid and the rest at
    ``conversion`` (a feed-like object with ``price_at``; e.g. wBETH's ETH conversion rate)."""

    symbol: str
    book: Venue | None = None
    tiers: tuple[tuple[float, float], ...] = ((np.inf, 1.0),)
    book_weight: float = 1.0
    conversion: object | None = None

    def price(self, t_ms: int) -> float:
        """The venue's index price of the asset (USD)."""
        if self.book is None:
            return 1.0
        mid = self.book.mid(t_ms)
        if self.conversion is None or self.book_weight >= 1.0:
            return mid
        return self.book_weight * mid + (1.0 - self.book_weight) * self.conversion.price_at(t_ms)


@dataclass
class UnifiedAccounts:
    """The unified accounts of one venue (see the module docstring).

    Parameters
    ----------
    assets : list of CollateralAsset
        The settlement asset (``book=None``) and the collateral assets.

    Examples
    --------
    worked example: 100,000 USDe against 80,000 USDT of losses and $5,000 of maintenance: liquidated once
    the venue's USDe book trades at 0.93.

    >>> from defisim.markets import ConstantFeed
    >>> from defisim.markets import LinearDepth
    >>> usde = CollateralAsset("USDe", Venue(ConstantFeed(0.93), LinearDepth(1e6), half_life_ms=None), ((np.inf, 0.9),))
    >>> accounts = UnifiedAccounts([CollateralAsset("USDT"), usde])
    >>> accounts.open("trader", {"USDe": 100_000.0, "USDT": -80_000.0}, maintenance_usd=5_000.0)
    >>> round(float(accounts.ratios(0)[0]), 6)
    0.74
    >>> [row[1] for row in accounts.check(0)]
    ['trader']
    """

    assets: list[CollateralAsset]
    owners: list[str] = field(default_factory=list)
    liquidations: list[tuple] = field(default_factory=list)  # (t_ms, owner, asset, units_sold, usd, ratio_before)

    def __post_init__(self):
        self.column = {a.symbol: i for i, a in enumerate(self.assets)}
        self.settlement = next(i for i, a in enumerate(self.assets) if a.book is None)
        self.balances = np.zeros((0, len(self.assets)))
        self.maintenance_usd = np.zeros(0)

    def open(self, owner: str, balances: dict[str, float], maintenance_usd: float = 0.0) -> None:
        """Open one account with ``balances`` (units per symbol) and its maintenance margin."""
        self.open_many([owner], np.array([[balances.get(a.symbol, 0.0) for a in self.assets]]), [maintenance_usd])

    def open_many(self, owners, balances, maintenance_usd) -> None:
        """Open many accounts: ``balances`` of shape (accounts, assets) in the order of ``assets``."""
        self.owners.extend(owners)
        self.balances = np.vstack([self.balances, np.asarray(balances, dtype=np.float64)])
        self.maintenance_usd = np.concatenate([self.maintenance_usd, np.asarray(maintenance_usd, dtype=np.float64)])

    def prices(self, t_ms: int) -> np.ndarray:
        return np.array([a.price(t_ms) for a in self.assets])

    def equity(self, t_ms: int, rows=slice(None)) -> np.ndarray:
        """Haircut equity of ``rows`` (default every account; USD): tiered value of what they hold,
        liabilities in full."""
        prices = self.prices(t_ms)
        value = self.balances[rows] * prices
        out = np.zeros(value.shape[0])
        for j, asset in enumerate(self.assets):
            held = value[:, j] > 0
            out += np.where(held, tiered_value(np.where(held, value[:, j], 0.0), asset.tiers), value[:, j])
        return out

    def ratios(self, t_ms: int, rows=slice(None)) -> np.ndarray:
        """uniMMR of ``rows`` (default every account; ``inf`` without maintenance margin)."""
        mm = self.maintenance_usd[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mm > 0, self.equity(t_ms, rows) / np.where(mm > 0, mm, 1.0), np.inf)

    def check(self, t_ms: int) -> list[tuple]:
        """Liquidate until no account with collateral left is at or below :data:`LIQUIDATION_LINE`;
        the liquidation rows added (each row one asset sold for one account). Each round sells
        at least one account's collateral, so there are at most as many rounds as accounts."""
        start = len(self.liquidations)
        while True:
            ratios = self.ratios(t_ms)
            sellable = (self.balances[:, [j for j, a in enumerate(self.assets) if a.book is not None]] > 0).any(axis=1)
            rows = np.flatnonzero((ratios <= LIQUIDATION_LINE) & sellable)
            if rows.size == 0:
                break
            row = int(rows[np.lexsort((rows, ratios[rows]))][0])
            self._liquidate(row, t_ms, float(ratios[row]))
        return self.liquidations[start:]

    def _liquidate(self, row: int, t_ms: int, ratio_before: float) -> None:
        """Sell ``row``'s collateral, largest value first, until its ratio clears the line."""
        prices = self.prices(t_ms)
        order = sorted((j for j, a in enumerate(self.assets) if a.book is not None and self.balances[row, j] > 0),
                       key=lambda j: (-self.balances[row, j] * prices[j], j))
        for j in order:
            units = self.balances[row, j]
            usd, _ = self.assets[j].book.sell(units, t_ms)
            self.balances[row, j] = 0.0
            self.balances[row, self.settlement] += usd
            self.liquidations.append((t_ms, self.owners[row], self.assets[j].symbol, units, usd, ratio_before))
            if self.ratios(t_ms, [row])[0] > LIQUIDATION_LINE:  # this account only
                break
