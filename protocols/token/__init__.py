"""A fungible-token ledger (ERC-20-like): the smallest real protocol on the engine."""
from .agents import Payer, PayerParams
from .model import TokenLedger
from .params import LedgerParams

__all__ = ["TokenLedger", "LedgerParams", "Payer", "PayerParams", "register"]


def register(registry) -> None:
    """Register the token kinds."""
    registry.protocol("token.ledger", LedgerParams, TokenLedger, "ERC-20-like token: transfer, mint, burn")
    registry.agent("token.payer", PayerParams, Payer, "sends random transfers of a token through the mempool")
