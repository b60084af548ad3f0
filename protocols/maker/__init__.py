"""Maker (Sky): vaults (Vat, Jug, Spotter), liquidations by Dutch auctions (Dog and Clipper,
Liquidations 2.0) or English auctions (Cat and Flipper, 1.2), the Vow's debt auctions, and the
keepers around them (makerdao/dss).

:mod:`.exact` (the contracts' integer arithmetic), :mod:`.math` (its float twins),
:mod:`.params`, :mod:`.model` (the ``maker.dss`` kind), :mod:`.agents`.
"""
from .agents import (Barker, BarkerParams, PsmArbitrageur, PsmArbitrageurParams, ClipTaker, ClipTakerParams, FlipBidder, FlipBidderParams, SpotPoker,
                     SpotPokerParams, VaultGuard, VaultGuardParams, VowKeeper, VowKeeperParams, VowBidder,
                     VowBidderParams)
from .model import MakerState, MakerSystem
from .view import MakerView
from .params import ClipParams, FlapParams, FlipParams, IlkParams, MakerParams, VaultsParams, VowParams

__all__ = ["register", "MakerSystem", "MakerView", "MakerState", "MakerParams", "IlkParams", "ClipParams",
           "FlipParams", "FlapParams", "VowParams", "VaultsParams"]


def register(registry) -> None:
    """Register the Maker kinds."""
    registry.protocol("maker.dss", MakerParams, MakerSystem,
                      "Maker vaults: stability fee, Spotter, Dog/Clipper or Cat/Flipper auctions, the Vow")
    registry.agent("maker.spot_poker", SpotPokerParams, SpotPoker, "pokes the Spotter when an ilk's oracle price moved")
    registry.agent("maker.barker", BarkerParams, Barker, "barks (or bites) unsafe vaults, largest debts first")
    registry.agent("maker.clip_taker", ClipTakerParams, ClipTaker,
                   "takes Dutch auctions below the market, with DAI or selling on chain within the take")
    registry.agent("maker.flip_bidder", FlipBidderParams, FlipBidder,
                   "bids English auctions with DAI: tend to the lot's value, dent at the tab; deals and ticks")
    registry.agent("maker.vault_guard", VaultGuardParams, VaultGuard,
                   "vault owners who repay when the OSM's next price would make their vault unsafe")
    registry.agent("maker.psm_arbitrageur", PsmArbitrageurParams, PsmArbitrageur,
                   "trades DAI against the PSM's gem between their books and the PSM")
    registry.agent("maker.vow_keeper", VowKeeperParams, VowKeeper,
                   "heals the Vow and starts and settles its debt and surplus auctions")
    registry.agent("maker.vow_bidder", VowBidderParams, VowBidder,
                   "bids the Vow's debt and surplus auctions at the governance token's market price")
