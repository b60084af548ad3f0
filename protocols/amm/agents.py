"""Arbitrageurs between a constant-product pool and an off-chain venue (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input; Uniswap v2 whitepaper: constant-product price impact).

After each block an arbitrageur compares the pool's price of token 0 (in token 1, taken as
worth $1, e.g. USDC) with the venue's mid. When the gap is larger than the pool's fee plus a
margin, it swaps on the pool through the mempool so that the pool's marginal price net of the
fee lands on the venue's mid, and once the swap is included it hedges on the venue: it buys
back the token 0 it sold into the pool, or sells the token 0 it bought. Both legs move prices:
the pool's toward the venue's, the venue's a little toward the pool's. It holds inventory on
both sides (tokens on chain, a balance at the venue), so no transfers between them are needed.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from defisim.chain import GasStrategy, PercentileTip, bid
from defisim.base import Call, VenueName, protocol_of, unit

from .math import amount_to_move_price, get_amount_out

__all__ = ["ArbitrageurParams", "Arbitrageur", "arbitrage_trade"]


class ArbitrageurParams(BaseModel):
    """An arbitrageur's pool, venue and thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: protocol_of("amm.cpmm", role="constant-product pool") = Field(
        description="constant-product pool (amm.cpmm) to arbitrage; token 1 is taken as worth $1")
    venue: VenueName = Field(description="off-chain venue quoting token 0 in USD")
    min_edge: float = Field(0.001, ge=0,
        description="gap beyond the fee (fraction of the price) worth a trade", json_schema_extra=unit("fraction"))
    max_trade_share: float = Field(0.2, gt=0, le=1,
        description="largest input as a share of the pool's reserve", json_schema_extra=unit("fraction"))
    slippage: float = Field(0.005, ge=0, lt=1,
        description="min_amount_out below the expected output", json_schema_extra=unit("fraction"))
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.5), description="gas bidding of its swaps")
    gas_limit: int = Field(150_000, gt=0, description="gas limit of a swap", json_schema_extra=unit("gas"))
    hedge: bool = Field(True, description="trade the opposite leg on the venue after the swap")


def arbitrage_trade(reserves: tuple[float, float], fee: float, venue_price: float, min_edge: float = 0.0,
                    max_trade_share: float = 1.0) -> tuple[int, float] | None:
    """``(index of the token to sell into the pool, amount in)`` that brings a constant-product
    pool's marginal price net of its fee to ``venue_price`` (token 1 per token 0), or None when
    the gap is within ``fee + min_edge`` (Uniswap v2 whitepaper: constant-product price impact, :func:`~.math.amount_to_move_price`).

    Examples
    --------
    >>> i, a = arbitrage_trade((1_000.0, 2_000_000.0), 0.003, 1_800.0)  # token 0 dear in the pool: sell it
    >>> i, round(a, 2)
    (0, 52.59)
    >>> arbitrage_trade((1_000.0, 2_000_000.0), 0.003, 1_999.0) is None  # inside the fee band
    True
    """
    r0, r1 = reserves
    pool_price = r1 / r0
    g = 1.0 - fee
    if pool_price * g > venue_price * (1.0 + min_edge):  # token 0 dear in the pool: sell token 0 there
        i, factor = 0, venue_price / (pool_price * g)
    elif pool_price < venue_price * g * (1.0 - min_edge):  # token 0 cheap in the pool: sell token 1 there
        i, factor = 1, pool_price / (venue_price * g)
    else:
        return None
    amount = float(amount_to_move_price(reserves[i], factor, fee))
    return i, min(amount, max_trade_share * reserves[i])


def Arbitrageur(ctx, params: ArbitrageurParams, index: int):
    """Generator process of one arbitrageur."""
    venue = ctx.market(params.venue)
    first = ctx.view(params.pool)
    if first["kind"] != "amm.cpmm":
        raise ValueError(f"amm.arbitrageur: {params.pool} is a {first['kind']} pool; only amm.cpmm is supported")
    tokens = first["tokens"]
    pending = None
    while True:
        yield ctx.new_block
        if pending is not None and not pending.triggered:
            continue  # one swap at a time
        pool = ctx.view(params.pool)
        trade = arbitrage_trade(pool["reserves"], pool["fee"], venue.mid(ctx.now), params.min_edge,
                                params.max_trade_share)
        if trade is None:
            continue
        i, amount = trade
        expected = get_amount_out(amount, pool["reserves"][i], pool["reserves"][1 - i], pool["fee"])
        cap, tip = bid(params.gas, ctx.chain)
        call = Call(params.pool, "swap", {"token_in": tokens[i], "amount_in": amount,
                                          "min_amount_out": expected * (1.0 - params.slippage)})
        pending = ctx.submit(call, params.gas_limit, cap, tip)
        if params.hedge:
            ctx.env.process(_hedge(ctx, pending, params.venue, i, amount))


def _hedge(ctx, pending, venue: str, sold: int, amount_in: float):
    """After an included swap, the opposite leg on the venue."""
    receipt = yield pending
    if not receipt.ok:
        return
    if sold == 0:  # sold token 0 into the pool: buy it back on the venue
        yield ctx.buy_on(venue, amount_in)
    else:  # bought token 0 from the pool: sell it on the venue
        yield ctx.sell_on(venue, float(receipt.result))
