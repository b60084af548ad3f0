"""A price manipulator: it pushes a pool off its price with one large swap and swaps back.

At ``at`` it sells ``amount`` of ``token_in`` into the pool (one transaction), and once that is
included, after ``hold_blocks`` further blocks, it sells back all it received. The price stands
off for ``hold_blocks + 1`` block boundaries: what a spot-read oracle shows at once, and a TWAP
(:mod:`protocols.oracles.pool_oracles`) weighs by its share of the window. It pays for it: the
pool's fee twice, the price impact it gives back to arbitrageurs who trade in between, and gas.
Its two swaps are the ``swaps`` rows with its address as ``sender``; its cost is what its token
balances lost.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from defisim.base import Call, DurationMs, protocol_of, unit
from defisim.chain import GasStrategy, PercentileTip, bid

__all__ = ["ManipulatorParams", "Manipulator", "check_manipulator"]


class ManipulatorParams(BaseModel):
    """What a manipulator moves, by how much, when and for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: protocol_of("amm.", role="swap pool") = Field(description="the pool pushed off its price")
    token_in: str = Field(min_length=1, description="the pool's token it sells first (its price falls)")
    amount: float = Field(gt=0, allow_inf_nan=False, description="tokens of token_in sold in the push",
                          json_schema_extra=unit("tokens"))
    at: DurationMs = Field(description="when the push is sent")
    hold_blocks: int = Field(0, ge=0, description="blocks between the push's inclusion and sending the unwind")
    gas: GasStrategy = Field(PercentileTip(quantile=0.9, markup=2.0), description="gas bidding of both swaps")
    gas_limit: int = Field(150_000, gt=0, description="gas limit of a swap", json_schema_extra=unit("gas"))


def check_manipulator(index: int, params: ManipulatorParams, scenario) -> None:
    """``token_in`` must be one of the pool's two tokens."""
    entry = scenario.protocols.get(params.pool)
    if entry is None:
        return
    tokens = (entry[1].token0, entry[1].token1)
    if params.token_in not in tokens:
        raise ValueError(f"agents.{index}.params.token_in: {params.token_in!r} is not a token of {params.pool!r} "
                         f"(it trades {tokens[0]} and {tokens[1]})")


def Manipulator(ctx, params: ManipulatorParams, index: int):
    """Generator process of one manipulator: push, hold, unwind, once."""
    while ctx.now < params.at:
        yield ctx.new_block
    tokens = ctx.view(params.pool)["tokens"]
    back = tokens[1 - tokens.index(params.token_in)]
    cap, tip = bid(params.gas, ctx.chain)
    push = yield ctx.submit(Call(params.pool, "swap", {"token_in": params.token_in, "amount_in": params.amount,
                                                       "min_amount_out": 0.0}), params.gas_limit, cap, tip)
    if not push.ok:
        return
    for _ in range(params.hold_blocks):
        yield ctx.new_block
    cap, tip = bid(params.gas, ctx.chain)
    yield ctx.submit(Call(params.pool, "swap", {"token_in": back, "amount_in": float(push.result),
                                                "min_amount_out": 0.0}), params.gas_limit, cap, tip)
