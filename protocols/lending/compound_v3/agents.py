"""The agents of a Compound III deployment: the absorber, who calls ``absorb`` on liquidatable
accounts, and the collateral buyer, who buys what the protocol absorbed at its store-front
discount and sells it on a venue (compound-finance/comet `Comet.absorb`, `Comet.buyCollateral`;
Compound III docs, "Liquidation")."""
from __future__ import annotations

from defisim.base import Call
from defisim.chain import bid

from .params import AbsorberParams, CollateralBuyerParams

__all__ = ["Absorber", "CollateralBuyer"]


def Absorber(ctx, params: AbsorberParams, index: int):
    """Generator process: after each block, absorb the largest liquidatable debts, one call each,
    none twice while its call is pending."""
    pending: dict[str, object] = {}
    while True:
        yield ctx.new_block
        pending = {a: ev for a, ev in pending.items() if not ev.triggered}
        view = ctx.view(params.comet)
        room = params.max_per_block - len(pending)
        if room <= 0:
            continue
        rows, _debt = view.liquidatable_accounts(largest=params.max_per_block + len(pending))
        for row in rows.tolist():
            if room <= 0:
                break
            account = view.owner(row)
            if account in pending:
                continue
            cap, tip = bid(params.gas, ctx.chain)
            pending[account] = ctx.submit(Call(params.comet, "absorb", {"account": account}), params.gas_limit, cap, tip)
            room -= 1


def CollateralBuyer(ctx, params: CollateralBuyerParams, index: int):
    """Generator process: after each block, while the protocol sells (reserves below target), buy
    each absorbed collateral whose store-front price is ``min_edge`` or more below its venue's
    mid, with all the base it holds (at most what the reserves hold), and sell it on the venue."""
    base_ledger = ctx.params_of(params.comet).tokens[ctx.params_of(params.comet).base]
    pending = None
    while True:
        yield ctx.new_block
        if pending is not None and not pending.triggered:
            continue
        view = ctx.view(params.comet)
        if view.reserves() >= view.target_reserves():
            continue
        cash = ctx.view(base_ledger).balance_of(ctx.name)
        if cash <= 0:
            continue
        stock, prices, base_usd = view.collateral_reserves(), view.store_front_prices(), view.base_price()
        for i, symbol in enumerate(view.symbols):
            venue = params.venues.get(symbol)
            if venue is None or stock[i] <= 0 or prices[i] > ctx.market(venue).mid(ctx.now) * (1 - params.min_edge):
                continue
            base_amount = min(cash, stock[i] * prices[i] / base_usd * (1 - 1e-9))
            cap, tip = bid(params.gas, ctx.chain)
            pending = ctx.submit(Call(params.comet, "buy_collateral", {"asset": symbol, "min_amount": 0.0,
                                                                      "base_amount": base_amount}),
                                 params.gas_limit, cap, tip)
            ctx.env.process(_sell(ctx, pending, venue))
            break  # one purchase at a time


def _sell(ctx, pending, venue: str):
    receipt = yield pending
    if receipt.ok:
        yield ctx.sell_on(venue, float(receipt.result))
