"""The books at the end of a run: debt left uncovered and still liquidatable, per protocol.

Every protocol that reports :meth:`~defisim.base.protocol.Protocol.positions` gets one row of the
``loss_at_end`` table. Debt is valued at the protocol's oracle prices (the one convention for
debt, :mod:`defisim.base.roles`); collateral twice: at the same oracle prices, and at what it
would fetch on its venue: the mid price of the venue the protocol names for it
(``Positions.venues``: an off-chain venue, or an on-chain pool through its protocol's ``market``), else the price of the feed of the asset's own name, else the oracle
price (the ``valued_at`` column says which for each asset). A venue's mid is a price before impact: selling a whole book of
collateral would fetch less.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from defisim.base.eventlog import Column, EventLog
from defisim.base.roles import Positions
from defisim.results.crisis import END_TABLE

__all__ = ["END_COLUMNS", "sale_markets", "collateral_prices", "book_at_end", "record_books_at_end"]

END_COLUMNS = [
    Column("protocol", "string", "lending protocol"),
    Column("accounts", "int64", "accounts with debt"),
    Column("debt_usd", "float64", "their debt at the protocol's oracle prices (USD)"),
    Column("liquidatable_accounts", "int64", "of which liquidatable (HF < 1)"),
    Column("liquidatable_debt_usd", "float64", "their debt (USD)"),
    Column("uncovered_usd", "float64", "Σ max(0, debt − collateral), collateral at the oracle prices (USD)"),
    Column("uncovered_venue_usd", "float64", "the same, collateral at its venue's mid price (USD)"),
    Column("valued_at", "string", "where each asset's venue price came from: 'ASSET=venue:<name>|feed|oracle', comma-separated"),
]


def sale_markets(positions: Positions, venues: Mapping, protocols: Mapping) -> list:
    """Per asset of ``positions``: the market its collateral sells at (an off-chain venue, or an
    on-chain protocol's :meth:`~defisim.base.protocol.Protocol.market`), or None."""
    out = []
    for asset, name in zip(positions.assets, positions.venues):
        if name is None:
            out.append(None)
        elif name in venues:
            out.append(venues[name])
        else:
            market = protocols[name].market(asset) if name in protocols else None
            if market is None:
                raise ValueError(f"{name!r} is neither a venue nor a protocol trading {asset}")
            out.append(market)
    return out


def collateral_prices(positions: Positions, feeds: Mapping, markets: list, now_ms: int) -> tuple[np.ndarray, list[str]]:
    """Per asset of ``positions``: the price its collateral would sell at (USD per token) and where
    it came from (``venue:<name>``, ``feed`` or ``oracle``), as the module docstring says;
    ``markets`` from :func:`sale_markets`."""
    prices, basis = positions.prices_usd.astype(float).copy(), []
    for i, (asset, venue, market) in enumerate(zip(positions.assets, positions.venues, markets)):
        if market is not None:
            prices[i], where = market.mid(now_ms), f"venue:{venue}"
        elif asset in feeds:
            prices[i], where = feeds[asset].price_at(now_ms), "feed"
        else:
            where = "oracle"
        basis.append(f"{asset}={where}")
    return prices, basis


def book_at_end(positions: Positions, venue_prices_usd: np.ndarray) -> tuple:
    """``(accounts, debt_usd, liquidatable_accounts, liquidatable_debt_usd, uncovered_usd,
    uncovered_venue_usd)`` of one book (USD).

    >>> p = Positions(("C", "D"), np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([[0.0, 150.0], [0.0, 100.0]]),
    ...               np.array([100.0, 1.0]), np.array([True, False]), ("venue_c", None))
    >>> book_at_end(p, np.array([80.0, 1.0]))
    (2, 250.0, 1, 150.0, 50.0, 70.0)
    """
    debt_usd = positions.debt @ positions.prices_usd
    # collateral at both prices in one pass; an account without debt has a gap ≤ 0 and adds nothing
    collateral_usd = positions.collateral @ np.column_stack([positions.prices_usd, venue_prices_usd])
    at_oracle = np.maximum(debt_usd - collateral_usd[:, 0], 0.0)
    at_venue = np.maximum(debt_usd - collateral_usd[:, 1], 0.0)
    liquidatable = positions.liquidatable
    return (int(np.count_nonzero(debt_usd > 0)), float(debt_usd.sum()), int(np.count_nonzero(liquidatable)),
            float(debt_usd[liquidatable].sum()), float(at_oracle.sum()), float(at_venue.sum()))


def record_books_at_end(log: EventLog, protocols: Mapping, feeds: Mapping, venues: Mapping, now_ms: int) -> dict:
    """Write a ``loss_at_end`` row for every protocol that reports positions (none: no table).
    Returns, per such protocol, the sale price of each asset (USD per token) and its market (or None)."""
    rows, sale = [], {}
    for name, protocol in protocols.items():
        positions = protocol.positions()
        if positions is None:
            continue
        markets = sale_markets(positions, venues, protocols)
        prices, basis = collateral_prices(positions, feeds, markets, now_ms)
        rows.append((name, *book_at_end(positions, prices), ", ".join(basis)))
        sale[name] = (prices, markets)
    if rows:
        table = log.declare(END_TABLE, "lending books at the end of the run: debt uncovered and liquidatable", END_COLUMNS)
        for row in rows:
            table.append(row)
    return sale
