"""Agents that use the token ledger."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from defisim.base import Distribution, DurationMs, LogNormal, unit
from defisim.base import ChunkedDraws
from defisim.base import Call, protocol_of

__all__ = ["PayerParams", "Payer"]


class PayerParams(BaseModel):
    """A payer sends ``Poisson(txs_per_block)`` transfers after each block to random peers.

    Its tip is the ``tip_quantile`` of recent inclusion tips times ``tip_markup`` (at least
    ``min_tip_gwei``); its fee cap is ``max_fee_multiplier`` × base fee + tip.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: protocol_of("token.ledger", role="token ledger") = Field(description="token ledger protocol to pay with")
    peers: int = Field(10, ge=1, description="payees are payer/0 … payer/(peers-1) of the same group")
    txs_per_block: float = Field(1.0, ge=0,
        description="mean payments per block per payer (Poisson)", json_schema_extra=unit("tx per block"))
    amount: Distribution = Field(LogNormal(median=100.0, sigma=1.0),
        description="tokens per payment", json_schema_extra=unit("tokens"))
    tip_quantile: float = Field(0.5, ge=0, le=1,
        description="tip at this quantile of the recent blocks' tips", json_schema_extra=unit("fraction"))
    tip_markup: float = Field(1.1, gt=0, description="factor on that tip", json_schema_extra=unit("x"))
    min_tip_gwei: float = Field(0.1, ge=0, description="never tip less than this")
    max_fee_multiplier: float = Field(2.0, ge=1,
        description="fee cap = base fee × this + tip", json_schema_extra=unit("x"))
    gas_limit: int = Field(60_000, gt=0, description="gas limit of a payment", json_schema_extra=unit("gas"))
    think: DurationMs = Field(0, ge=0, description="compute delay after a block before sending")


def Payer(ctx, params: PayerParams, index: int):
    """Generator process of one payer (``index`` within its group)."""
    group = ctx.name.rsplit("/", 1)[0]
    rng = ctx.rng
    # per-block draws come in chunks from the agent's own stream (a numpy call per block costs
    # more than the draw); the sequence stays a pure function of the seed
    counts = ChunkedDraws(lambda g, k: g.poisson(params.txs_per_block, k), rng, 256)
    peers = ChunkedDraws(lambda g, k: g.integers(0, params.peers, k), rng, 1024)
    amounts = ChunkedDraws(params.amount.sample, rng, 1024)
    while True:
        yield ctx.new_block
        if params.think:
            yield ctx.delay(params.think)
        n = counts.next()
        if n == 0:
            continue
        tip = max(params.min_tip_gwei, ctx.chain.inclusion_tip_gwei(params.tip_quantile) * params.tip_markup)
        max_fee = ctx.base_fee_gwei * params.max_fee_multiplier + tip
        for _ in range(n):
            call = Call(params.token, "transfer", {"to": f"{group}/{peers.next()}", "amount": amounts.next()})
            ctx.submit(call, params.gas_limit, max_fee, tip)
