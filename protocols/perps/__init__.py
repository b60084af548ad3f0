"""Perpetual futures: funding, margin, liquidation, insurance and ADL (mechanics.md §8).

:mod:`.math` (free functions), :mod:`.clearinghouse` (the state and its rules, no engine),
:mod:`.model` (the ``perps.orderbook`` protocol kind on the engine).
"""
from .model import PerpVenue
from .params import PerpVenueParams

__all__ = ["register", "PerpVenue", "PerpVenueParams"]


def register(registry) -> None:
    """Register the perp kinds."""
    registry.protocol("perps.orderbook", PerpVenueParams, PerpVenue,
                      "order-book perps: cross margin, funding, liquidations into the book, insurance fund, ADL")
