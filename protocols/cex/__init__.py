"""Centralised-exchange accounts: unified cross-margin with haircut collateral (Binance unified-account uniMMR FAQ; Bybit UTA trading rules).

:mod:`.math` (haircut equity, uniMMR), :mod:`.unified` (the accounts and the liquidation engine,
no engine needed), :mod:`.model` (the ``cex.unified`` protocol kind).
"""
from .model import UnifiedVenue
from .params import UnifiedVenueParams

__all__ = ["register", "UnifiedVenue", "UnifiedVenueParams"]


def register(registry) -> None:
    """Register the exchange kinds."""
    registry.protocol("cex.unified", UnifiedVenueParams, UnifiedVenue,
                      "unified cross-margin accounts marked on the venue's books; a liquidation engine selling into them")
