"""Liquidation keepers (mechanics §1.3, §7.5, §12.3).

After each block a keeper reads the pool's shared candidate set (HF < 1 at on-chain prices),
sizes each liquidation as the pool would, estimates its profit — the collateral it receives,
valued at what selling it on its venue would fetch (price impact included), minus the debt it
repays and the gas — and sends ``liquidation_call`` for the profitable ones through the
mempool with its gas strategy. Competing keepers race: only the first to land succeeds, the
others revert and still pay gas. A keeper that won deposits the seized collateral at its venue
(an on-chain transfer) and sells it there once the deposit lands; that selling moves the
venue's price, which the oracle follows, which makes more positions liquidatable.
"""
from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from defisim.gas import GasStrategy, PercentileTip, bid
from defisim.tx import Call

from . import math as am

__all__ = ["KeeperParams", "Keeper"]


class KeeperParams(BaseModel):
    """A liquidation keeper's strategy and means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str = Field(description="lending pool to watch")
    venue: str = Field(description="venue where seized collateral is sold")
    gas_venue: str | None = Field(None, description="venue pricing ETH for gas costs (default: venue)")
    max_per_block: int = Field(5, ge=1, description="most liquidations sent after one block")
    min_profit_usd: float = Field(10.0, ge=0)
    gas: GasStrategy = PercentileTip(quantile=0.9, markup=2.0)
    gas_limit: int = Field(450_000, gt=0, description="gas limit of a liquidation (mechanics §7.5)")
    think: int = Field(500, ge=0, description="compute delay after a block before sending (ms)")
    sell: bool = Field(True, description="sell seized collateral on the venue (False: keep it)")


def Keeper(ctx, params: KeeperParams, index: int):
    """Generator process of one keeper."""
    pool = ctx.view(params.pool)
    venue = ctx.market(params.venue)
    gas_venue = ctx.market(params.gas_venue or params.venue)
    tokens = ctx.params_of(params.pool).tokens
    in_flight: dict[str, object] = {}  # user -> receipt event of our liquidation
    while True:
        yield ctx.new_block
        if params.think:
            yield ctx.delay(params.think)
        now = ctx.now
        # what landed: deposit won collateral at the venue, then sell it there
        for user, ev in list(in_flight.items()):
            if not ev.triggered:
                continue
            del in_flight[user]
            receipt = ev.value
            if receipt.ok and params.sell and receipt.result.liquidator_collateral > 0:
                asset = receipt.tx.call.args["collateral_asset"]
                ctx.env.process(_deposit_and_sell(ctx, tokens[asset], params.venue, receipt.result.liquidator_collateral, params))
        rows = np.array([r for r in pool.liquidatable().tolist() if pool.owner(r) not in in_flight], dtype=np.int64)
        if rows.size == 0:
            continue
        prices = pool.prices_usd()
        cap_gwei, tip_gwei = bid(params.gas, ctx.chain)
        gas_usd = params.gas_limit * cap_gwei * 1e-9 * gas_venue.mid(now)
        # size every candidate as the pool would, all at once (largest collateral and debt reserve)
        coll, debt = pool.positions(rows)
        coll_usd, debt_usd = coll * prices, debt * prices
        rc, rd = coll_usd.argmax(axis=1), debt_usd.argmax(axis=1)
        pick = np.arange(rows.size)
        out = am.liquidation_calls(
            coll[pick, rc], debt[pick, rd], prices[rc], prices[rd], pool.health_factors()[rows],
            pool.bonus[rc], pool.fee[rc],
            other_collateral_usd=coll_usd.sum(axis=1) - coll_usd[pick, rc],
            other_debt_usd=debt_usd.sum(axis=1) - debt_usd[pick, rd], rules=pool.rules)
        # rank by profit at the mid, then price the best few exactly against the venue's depth
        at_mid = out.liquidator_collateral * venue.mid(now) - out.debt_repaid * prices[rd] - gas_usd
        ok = np.flatnonzero(out.ok & (out.liquidator_collateral > 0) & (at_mid >= params.min_profit_usd))
        best = ok[np.argsort(-at_mid[ok], kind="stable")][: 2 * params.max_per_block]
        plans = []
        for i in best.tolist():
            proceeds_usd, _avg = venue.quote_sell(float(out.liquidator_collateral[i]), now)
            profit = proceeds_usd - float(out.debt_repaid[i]) * prices[rd[i]] - gas_usd
            if profit >= params.min_profit_usd:
                plans.append((-profit, int(rows[i]), pool.owner(int(rows[i])), int(rc[i]), int(rd[i]), float(out.debt_repaid[i])))
        plans.sort()
        capital = _balance(ctx, tokens, pool.symbols)
        for _neg, _row, user, rc, rd, repay in plans[: params.max_per_block]:
            if capital[rd] < repay:
                continue  # not enough capital to repay this one
            capital[rd] -= repay
            call = Call(params.pool, "liquidation_call", {
                "collateral_asset": pool.symbols[rc], "debt_asset": pool.symbols[rd], "user": user,
                "debt_to_cover": math.inf})
            in_flight[user] = ctx.submit(call, params.gas_limit, cap_gwei, tip_gwei)


def _balance(ctx, tokens: dict[str, str], symbols: list[str]) -> list[float]:
    """The keeper's on-chain balance of each reserve's token."""
    out = []
    for sym in symbols:
        view = ctx.view(tokens[sym])
        row = view["accounts"].get(ctx.name)
        out.append(0.0 if row is None else float(view["balance"][row]))
    return out


def _deposit_and_sell(ctx, ledger: str, venue: str, amount: float, params: KeeperParams):
    """Move won collateral to the venue's deposit address (an on-chain transfer), then sell it there."""
    cap, tip = bid(params.gas, ctx.chain)
    receipt = yield ctx.submit(Call(ledger, "transfer", {"to": f"venue:{venue}", "amount": amount}), 60_000, cap, tip)
    if receipt.ok:
        yield ctx.sell_on(venue, amount)
