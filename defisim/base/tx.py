"""Transactions, calls and receipts.

A :class:`Tx` is immutable. Its ``seq`` and timestamps are stamped by the engine when an
agent submits it (see :meth:`defisim.run.context.AgentContext.submit`), never by the agent.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Any, Mapping, NamedTuple

__all__ = ["Call", "Tx", "Receipt", "TxStatus", "Revert"]


class Revert(Exception):
    """Raised by a call handler, during its checks, to revert the call with ``reason``.

    The executor turns it into a reverted :class:`Receipt`: gas is paid and protocol
    state is left untouched (handlers check first, then apply effects). ``gas_used`` (gas
    units), when given, is what the call burned before it reverted, in place of the handler's
    ``revert_gas``: a call that reverts late (a flash liquidation whose swap does not repay the
    loan) costs nearly as much as one that succeeds.
    """

    def __init__(self, reason: str, gas_used: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.gas_used = gas_used


class Call(NamedTuple):
    """What a transaction asks a protocol to do: ``protocols[target].method(sender, **args)``."""

    target: str
    method: str
    args: Mapping[str, Any] = {}


class TxStatus(IntEnum):
    """Outcome of a transaction."""

    INCLUDED = 0  #: executed successfully in a block
    REVERTED = 1  #: included in a block, call reverted, gas paid, no state change
    DROPPED = 2  #: never included (replaced, evicted, bundle lost or reverted)
    PENDING = 3  #: still waiting when the run ended (results only)


_INCLUDED = TxStatus.INCLUDED  # module constant: enum attribute lookups are slow on 3.11


class Tx(NamedTuple):
    """A signed transaction.

    Fees are per unit of gas in gwei. ``bundle_id`` is -1 for a plain transaction.
    ``seq``, ``submitted_ms`` and ``arrival_ms`` are stamped by the engine: ``arrival_ms`` is
    when the transaction reaches the public mempool (or the builder, if ``private``).
    """

    sender: str
    nonce: int
    call: Call
    gas_limit: int
    max_fee_gwei: float
    priority_fee_gwei: float
    private: bool
    bundle_id: int
    seq: int
    submitted_ms: int
    arrival_ms: int

    def effective_tip_gwei(self, base_fee_gwei: float) -> float:
        """Priority fee per gas the builder receives at ``base_fee_gwei`` (EIP-1559, EIP-1559)."""
        return min(self.priority_fee_gwei, self.max_fee_gwei - base_fee_gwei)


class Receipt(NamedTuple):
    """What became of a transaction.

    ``block`` and ``index`` are -1 for a dropped transaction; ``index`` counts every
    transaction of the block, background demand included. ``fee_paid_gwei`` is
    ``gas_used × effective gas price`` in gwei (divide by 1e9 for ETH).
    """

    tx: Tx
    status: TxStatus
    reason: str
    block: int
    index: int
    gas_used: int
    effective_gas_price_gwei: float
    fee_paid_gwei: float
    time_ms: int
    result: Any = None

    @property
    def ok(self) -> bool:
        """True when the call executed successfully."""
        return self.status == _INCLUDED
