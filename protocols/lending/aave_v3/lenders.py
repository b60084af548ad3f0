"""Lenders who run (``lending.lender_run``): a pool's lenders withdraw once the utilisation of
their reserve, or the pool's losses, cross a threshold of their own — a bank run, through the
mempool like any other transaction.

A lender can only take out what the reserve holds. Aave v3 `SupplyLogic.executeWithdraw` checks
the user's balance alone (`ValidationLogic.validateWithdraw`: amount ≠ 0, amount ≤ balance,
reserve active and not paused), then takes the whole amount out of the reserve's cash
(`ReserveLogic.updateInterestRatesAndVirtualBalance`) and transfers it: a withdrawal larger than the
cash reverts, it is never paid in part. When the borrowers hold most of a reserve's tokens the
first lenders out are paid and the later ones find it dry (utilisation 100%) until borrowers
repay or are liquidated or someone deposits; meanwhile the borrow rate stands at the top of its
kinked curve, ``base_rate + slope1 + slope2`` (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`),
which is how the pool asks borrowers to repay.

The lenders are the pool's crowd ``lender/0`` … (its ``lenders`` parameter: what was supplied at
the start, shared among many accounts). One process watches them all, the thresholds compared
at once after every block; a lender that crossed its threshold acts after its reaction delay,
signing with its own address (``ctx.account``). A withdrawal that meets a reserve short of cash
reverts (it still pays gas), and a lender in a run keeps trying: it sends the withdrawal again
every ``retry_every_blocks`` blocks until it is paid (0: it gives up after the first failure).
With ``take_what_is_there`` it asks for no more than the cash it reads before sending and comes
back for the rest; others may still take that cash first, so its call can revert too.
"""
from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import Call, Distribution, Exponential, LatencyMs, Uniform, protocol_of, unit
from defisim.chain import GasStrategy, PercentileTip, bid

from .population import lender_names

__all__ = ["LenderRunParams", "LenderRun"]

#: What is left to withdraw, as a share of the deposit, below which a lender is done.
DUST_SHARE = 1e-9


class LenderRunParams(BaseModel):
    """Lenders who run: a ``share`` of the pool's lenders (its ``lenders`` crowd) each draw a
    ``utilization`` threshold for ``asset`` and, optionally, a ``losses`` threshold; once the
    reserve's utilisation (borrowed / (borrowed + cash)) or the pool's losses (deficit / deposits)
    is above it, they notice after a ``reaction`` delay and withdraw ``pull`` of their deposit,
    again every ``retry_every_blocks`` blocks while the reserve is short of cash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: protocol_of("lending.aave_v3", role="lending pool") = Field(
        description="Aave v3 pool whose lenders may run (it needs a `lenders` crowd)")
    asset: str = Field(description="reserve whose utilisation they watch and that they withdraw")
    share: float = Field(1.0, ge=0, le=1,
        description="share of the pool's lenders that may run (the others stay)", json_schema_extra=unit("fraction"))
    utilization: Distribution | None = Field(Uniform(low=0.9, high=0.99),
        description="utilisation of the reserve above which a lender runs, drawn per lender (1 or more: never on "
        "utilisation; none: utilisation does not move them)", json_schema_extra=unit("fraction"))
    losses: Distribution | None = Field(None,
        description="share of the pool's deposits lost to its deficit (USD/USD) above which a lender runs, drawn per "
        "lender (0: at the first loss; none: losses do not move them)", json_schema_extra=unit("fraction"))
    reaction: LatencyMs = Field(Exponential(mean=60_000),
        description="delay between the threshold crossing and the first withdrawal", json_schema_extra=unit("ms"))
    pull: float = Field(1.0, gt=0, le=1,
        description="share of its deposit, at the time it acts, that a lender withdraws",
        json_schema_extra=unit("fraction"))
    take_what_is_there: bool = Field(False,
        description="ask for no more than the reserve's cash read before sending, and come back for the rest; "
        "false: ask for the whole amount each time (it reverts while the cash is short)")
    retry_every_blocks: int = Field(1, ge=0,
        description="a withdrawal not paid in full is sent again this many blocks later (1: in the next block), until "
        "paid; 0: never")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.2), description="gas bidding of the withdrawals")
    gas_limit: int = Field(200_000, gt=0, description="gas limit of a withdrawal", json_schema_extra=unit("gas"))

    @model_validator(mode="after")
    def _moved_by_something(self):
        if self.utilization is None and self.losses is None:
            raise ValueError("utilization, losses: give at least one threshold (with neither, no lender ever runs)")
        return self


def LenderRun(ctx, params: LenderRunParams, index: int):
    """One process for the crowd: after each block, utilisation and losses are compared with
    every watching lender's thresholds at once; a lender that crossed one starts its run
    (:func:`_run`) after its reaction delay, and is no longer watched. Ends when every lender ran."""
    pool = ctx.view(params.pool)
    r = pool.symbols.index(params.asset)
    rng = ctx.rng
    owners = lender_names(ctx.params_of(params.pool).lenders.count)
    chosen = np.flatnonzero(rng.random(len(owners)) < params.share)
    n = chosen.size
    never = np.full(n, np.inf)
    usage_at = never if params.utilization is None else params.utilization.sample(rng, n)
    loss_at = never if params.losses is None else params.losses.sample(rng, n)
    watching = np.ones(n, dtype=bool)
    while watching.any():
        yield ctx.new_block
        crossed = usage_at < float(pool.utilization()[r])
        if params.losses is not None:
            crossed |= loss_at < pool.distress()
        now_running = np.flatnonzero(crossed & watching)
        if now_running.size == 0:
            continue
        watching[now_running] = False
        delays_ms = np.rint(params.reaction.sample(rng, now_running.size)).astype(np.int64).tolist()
        for i, delay_ms in zip(now_running.tolist(), delays_ms):
            ctx.env.process(_run(ctx, params, pool, owners[chosen[i]], r, delay_ms))


def _run(ctx, params: LenderRunParams, pool, owner: str, r: int, delay_ms: int):
    """One lender's run: withdraw ``pull`` of its deposit, trying again while it is not paid in full."""
    yield ctx.delay(delay_ms)
    me = ctx.account(owner)
    row = pool.row_of(owner)
    asset = pool.symbols[r]
    deposit = float(pool.position(row)[0][r])
    keep = (1.0 - params.pull) * deposit
    while True:
        want = float(pool.position(row)[0][r]) - keep  # interest included
        if want <= DUST_SHARE * deposit:
            return
        amount = min(want, float(pool.cash()[r])) if params.take_what_is_there else want
        wait = max(params.retry_every_blocks, 1)  # blocks until the next look
        if amount > 0:
            cap, tip = bid(params.gas, ctx.chain)
            receipt = yield me.submit(Call(params.pool, "withdraw", {"asset": asset, "amount": amount}),
                                      params.gas_limit, cap, tip)
            if receipt.ok and amount >= want:
                return
            if receipt.block >= 0:  # it was in a block: the next try can land in the block after
                wait -= 1
        if not params.retry_every_blocks:
            return
        for _ in range(wait):
            yield ctx.new_block
