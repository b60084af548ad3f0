"""Leverage loopers on the engine (loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ): each borrows a stablecoin against its
collateral, swaps it into more collateral on an AMM pool and re-supplies, ``loops`` times; under
stress it unwinds — withdraws what its health factor allows, sells it on the same pool and repays
— all through transactions that wait in the mempool like any other.

A looper starts with ``equity`` of the collateral token in its wallet (the ledger's
``initial_balances``), borrows ``fraction`` of what its last supply is worth at the pool's oracle
prices each loop, and unwinds one step per block while its health factor is below
``unwind_below_hf``. The pool's leverage after ``k`` loops is the closed form
:func:`~.loops.loop_leverage` up to the swaps' price impact and fee.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from defisim.chain import GasStrategy, PercentileTip, bid
from defisim.base import Call, protocol_of, unit

__all__ = ["LooperParams", "Looper"]


class LooperParams(BaseModel):
    """Loopers on ``pool`` swapping on ``amm`` (a two-token pool of ``collateral`` and ``debt``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: protocol_of("lending.aave_v3", role="lending pool") = Field(description="lending pool it loops in")
    amm: protocol_of("amm.", role="AMM pool") = Field(description="constant-product pool it swaps debt into collateral on")
    collateral: str = Field(description="reserve supplied as collateral")
    debt: str = Field(description="reserve borrowed")
    equity: float = Field(gt=0,
        description="collateral tokens each looper starts with", json_schema_extra=unit("tokens"))
    fraction: float = Field(0.8, gt=0, lt=1,
        description="share of each supply's value borrowed (≤ LTV)", json_schema_extra=unit("fraction"))
    loops: int = Field(5, ge=0, description="supply-borrow-swap rounds at the start")
    unwind_below_hf: float = Field(1.03, gt=1, description="unwind one step per block below this health factor")
    unwind_share: float = Field(0.5, gt=0, le=1,
        description="share of the withdrawable collateral sold per step", json_schema_extra=unit("fraction"))
    max_borrow_rate: float | None = Field(
        None, gt=0, description="also unwind one step per block while the debt's borrow rate (annual) is above this: "
        "the loop's carry turns negative once it passes the collateral's yield (loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ)")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.2), description="gas bidding")
    gas_limit: int = Field(400_000, gt=0, description="gas limit of one step", json_schema_extra=unit("gas"))


def _send(ctx, params: LooperParams, target: str, method: str, args: dict):
    cap, tip = bid(params.gas, ctx.chain)
    return ctx.submit(Call(target, method, args), params.gas_limit, cap, tip)


def Looper(ctx, params: LooperParams, index: int):
    """Build the loop, then watch and unwind (one generator per looper)."""
    pool = ctx.view(params.pool)
    c, d = pool.symbols.index(params.collateral), pool.symbols.index(params.debt)
    receipt = yield _send(ctx, params, params.pool, "supply", {"asset": params.collateral, "amount": params.equity})
    last = params.equity if receipt.ok else 0.0
    for _ in range(params.loops if receipt.ok else 0):
        if params.max_borrow_rate is not None and pool.borrow_rates()[d] > params.max_borrow_rate:
            break  # borrowing more would cost more than the limit
        prices = pool.prices_usd()
        amount = params.fraction * last * prices[c] / prices[d]
        receipt = yield _send(ctx, params, params.pool, "borrow", {"asset": params.debt, "amount": float(amount)})
        if not receipt.ok:
            break
        receipt = yield _send(ctx, params, params.amm, "swap", {"token_in": params.debt, "amount_in": float(amount)})
        if not receipt.ok:
            break
        last = float(receipt.result)
        receipt = yield _send(ctx, params, params.pool, "supply", {"asset": params.collateral, "amount": last})
        if not receipt.ok:
            break
    while True:
        yield ctx.new_block
        row = pool.row_of(ctx.name)
        if row is None:
            continue
        hf = float(pool.health_factors()[row])
        coll, debt = pool.position(row)
        too_costly = params.max_borrow_rate is not None and pool.borrow_rates()[d] > params.max_borrow_rate
        if not (1.0 <= hf < params.unwind_below_hf or (hf >= 1.0 and too_costly)) or debt[d] <= 0:
            continue
        # withdraw what keeps HF at 1 after (Σ coll·p·LT ≥ debt), sell it, repay; never sell
        # more than repays the debt (the swap's fee allowed for)
        prices = pool.prices_usd()
        lt = pool.thresholds(row)[c]
        spare = (coll[c] * prices[c] * lt - debt @ prices) / (prices[c] * lt)
        to_repay = debt[d] * prices[d] / prices[c] / (1.0 - ctx.params_of(params.amm).fee)
        amount = params.unwind_share * min(spare, coll[c], to_repay)
        if amount <= 0:
            continue
        receipt = yield _send(ctx, params, params.pool, "withdraw", {"asset": params.collateral, "amount": float(amount)})
        if not receipt.ok:
            continue
        receipt = yield _send(ctx, params, params.amm, "swap", {"token_in": params.collateral, "amount_in": float(amount)})
        if receipt.ok:
            yield _send(ctx, params, params.pool, "repay", {"asset": params.debt, "amount": float(receipt.result)})
