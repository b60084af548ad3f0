"""Stablecoins: a delta-neutral synthetic dollar (Ethena USDe style), its staked vault and its
whitelisted redemption arbitrageurs (Ethena docs).

:mod:`.delta_neutral` (the issuer and the vault, no engine needed), :mod:`.model` (the
``stablecoins.delta_neutral`` kind and the ``stablecoins.redeem_arbitrageur`` agent).
"""
from .model import DeltaNeutralStablecoin, RedeemArbitrageur
from .params import DeltaNeutralParams, RedeemArbitrageurParams

__all__ = ["register", "DeltaNeutralStablecoin", "DeltaNeutralParams"]


def register(registry) -> None:
    """Register the stablecoin kinds."""
    registry.protocol("stablecoins.delta_neutral", DeltaNeutralParams, DeltaNeutralStablecoin,
                      "delta-neutral synthetic dollar: spot + perp short, funding income, reserve fund, limits")
    registry.agent("stablecoins.redeem_arbitrageur", RedeemArbitrageurParams, RedeemArbitrageur,
                   "whitelisted arbitrageur: buys the dollar below peg on a venue and redeems it")
