"""The result tables of a Maker system (``maker.dss``): their columns and the result roles
they fill (:mod:`defisim.base.roles`)."""
from __future__ import annotations

from defisim.base import Column

__all__ = ["LIQUIDATION_COLUMNS", "LIQUIDATION_ROLE", "AUCTION_COLUMNS", "AUCTION_ROLE", "BID_COLUMNS", "LOSS_COLUMNS",
           "LOSS_ROLE", "FLOP_COLUMNS"]

LIQUIDATION_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("system", "string", "Maker system (protocol instance)"),
    Column("ilk", "string", "collateral type"),
    Column("vault", "string", "liquidated vault (its owner)"),
    Column("keeper", "string", "who barked or bit (receives the incentive)"),
    Column("kind", "string", "bark (Dog, Dutch auction) or bite (Cat, English auction)"),
    Column("auction_id", "int64", "the auction started"),
    Column("debt_dai", "float64", "debt taken from the vault to the Vow's queue (due = dart × rate)"),
    Column("debt_usd", "float64", "the same in USD (DAI at 1)"),
    Column("collateral_tokens", "float64", "collateral taken into the auction"),
    Column("collateral_usd", "float64", "its value at the Spotter's price (USD)"),
    Column("tab_dai", "float64", "DAI the auction is to raise (debt × chop)"),
    Column("incentive_dai", "float64", "keeper incentive minted as system debt (tip + tab × chip)"),
    Column("written_off_usd", "float64", "debt written off by the call itself (always 0: auctions settle later)"),
]
LIQUIDATION_ROLE = {"protocol": "system", "account": "vault", "liquidator": "keeper", "debt_repaid_usd": "debt_usd",
                    "collateral_seized_usd": "collateral_usd"}

AUCTION_COLUMNS = [
    Column("block", "int64", "block number in which the auction ended"),
    Column("system", "string", "Maker system"),
    Column("ilk", "string", "collateral type"),
    Column("kind", "string", "clip (Dutch) or flip (English)"),
    Column("auction_id", "int64", "auction id"),
    Column("vault", "string", "vault whose collateral was sold"),
    Column("tab_usd", "float64", "DAI the auction was to raise (USD, DAI at 1)"),
    Column("debt_usd", "float64", "the vault's debt it took (USD, DAI at 1)"),
    Column("proceeds_usd", "float64", "DAI the bids raised (USD, DAI at 1)"),
    Column("collateral_sold", "float64", "collateral tokens that went to bidders"),
    Column("collateral_returned", "float64", "collateral tokens returned to the vault"),
    Column("winner", "string", "last bidder or taker ('' when nobody bid)"),
    Column("zero_bid", "bool", "the bids raised less than 1 % of the tab (the zero-bid auctions of March 2020)"),
    Column("written_off_usd", "float64", "debt the proceeds left uncovered: max(0, debt − proceeds) (USD)"),
]
AUCTION_ROLE = {"protocol": "system", "account": "vault", "debt_usd": "tab_usd", "proceeds_usd": "proceeds_usd"}

BID_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("system", "string", "Maker system"),
    Column("kind", "string", "take (Dutch), tend or dent (English)"),
    Column("auction_id", "int64", "auction id"),
    Column("bidder", "string", "sender"),
    Column("price_dai", "float64", "DAI per collateral token paid or bid"),
    Column("dai", "float64", "DAI paid (take) or the bid (tend, dent)"),
    Column("collateral_tokens", "float64", "collateral bought (take) or the lot bid for (tend, dent)"),
]

LOSS_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("system", "string", "Maker system"),
    Column("auction_id", "int64", "the auction that left the debt uncovered"),
    Column("written_off_usd", "float64", "debt left uncovered by the auction's proceeds (USD, DAI at 1)"),
]
LOSS_ROLE = {"protocol": "system"}

FLOP_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("system", "string", "Maker system"),
    Column("action", "string", "kick, dent (debt auction) or tend (surplus auction), tick or deal"),
    Column("auction_id", "int64", "debt or surplus auction id"),
    Column("bidder", "string", "sender"),
    Column("dai", "float64", "DAI raised (debt auction: the fixed bid) or sold (surplus auction: the fixed lot)"),
    Column("gov_tokens", "float64", "governance tokens offered, bid for or minted (debt auction); bid or burnt "
                                    "(surplus auction)"),
]
