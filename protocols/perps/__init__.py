"""Perpetual futures: funding, margin, liquidation, insurance and ADL (dYdX v4 and Hyperliquid docs).

:mod:`.math` (free functions), :mod:`.clearinghouse` (the state and its rules, no engine),
:mod:`.pool` (pool-based perps, no engine), :mod:`.model` (the ``perps.orderbook`` and ``perps.pool``
protocol kinds on the engine).
"""
from .model import PerpVenue, PoolPerpVenue
from .params import PerpVenueParams, PoolPerpVenueParams, check_perp_venue

__all__ = ["register", "PerpVenue", "PerpVenueParams", "PoolPerpVenue", "PoolPerpVenueParams"]


def register(registry) -> None:
    """Register the perp kinds."""
    registry.protocol("perps.orderbook", PerpVenueParams, PerpVenue,
                      "order-book perps: cross margin, funding, liquidations into the book, insurance fund, ADL",
                      check_perp_venue)
    registry.protocol("perps.pool", PoolPerpVenueParams, PoolPerpVenue,
                      "pool-based perps (GMX v2 style): the LP pool is the counterparty; funding, borrowing, impact, ADL")
