"""Per-block observations of prices: exogenous feeds, off-chain venues and on-chain answers
(``prices``), and the market makers' depth events of the venues."""
from __future__ import annotations

from typing import Mapping

from defisim.base.eventlog import Column, EventLog
from defisim.base.protocol import BlockInfo, Protocol

__all__ = ["PriceRecorder", "PRICE_COLUMNS", "VENUE_EVENT_COLUMNS", "VENUE_TRADE_COLUMNS"]

VENUE_TRADE_COLUMNS = [
    Column("time_ms", "int64", "time the order filled (ms)"),
    Column("venue", "string", "venue"),
    Column("trader", "string", "agent"),
    Column("side", "string", "sell | buy"),
    Column("amount", "float64", "tokens sold or bought"),
    Column("usd", "float64", "USD received (sell) or paid (buy)"),
    Column("avg_price_usd", "float64", "average fill price (USD per token)"),
    Column("mid_after_usd", "float64", "venue mid right after the trade (USD per token)"),
]

PRICE_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("time_ms", "int64", "block time (ms)"),
    Column("source", "string", "feed (true exogenous price) | venue (off-chain mid) | protocol (on-chain answer)"),
    Column("name", "string", "asset for a feed, venue name, or '<protocol>.<price name>'"),
    Column("price_usd", "float64", "price at the block (USD per token)"),
]

VENUE_EVENT_COLUMNS = [
    Column("time_ms", "int64", "time of the event (ms)"),
    Column("venue", "string", "venue"),
    Column("kind", "string", "withdraw (market makers pull depth) | return (depth restored)"),
    Column("realized_vol_annual", "float64", "realised volatility that triggered it (annualised fraction)"),
    Column("depth_share", "float64", "share of normal depth from then on"),
]


class PriceRecorder:
    """Appends one ``prices`` row per feed, venue and protocol price after every block."""

    def __init__(self, log: EventLog, feeds: Mapping, venues: Mapping, protocols: Mapping):
        self.feeds, self.venues, self.protocols = feeds, venues, protocols
        # a protocol that keeps the base class's ``prices`` never shows any
        self._priced = [(name, p) for name, p in protocols.items() if type(p).prices is not Protocol.prices]
        self._table = log.declare("prices", "true, venue and on-chain prices per block", PRICE_COLUMNS)
        self._events = log.declare("venue_events", "market makers pulling and restoring depth", VENUE_EVENT_COLUMNS)
        self.trades = log.declare("venue_trades", "agents' fills on off-chain venues", VENUE_TRADE_COLUMNS)

    def __call__(self, block: BlockInfo) -> None:
        n, t = block.number, block.time_ms
        add = self._table.append
        for asset, feed in self.feeds.items():
            add((n, t, "feed", asset, feed.price_at(t)))
        for name, venue in self.venues.items():
            add((n, t, "venue", name, venue.mid(t)))
        for pname, p in self._priced:
            for key, price in p.prices().items():
                add((n, t, "protocol", f"{pname}.{key}", price))

    def finish(self) -> None:
        """Log the venues' market-maker events."""
        for venue in self.venues.values():
            for e in venue.events:
                self._events.append(tuple(e))
