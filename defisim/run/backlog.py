"""Why the accounts still liquidatable at the end of a run were not liquidated: one cause each.

For every protocol whose view fills the lending role (:class:`defisim.base.LendingView`), each
account below HF 1 at the end is sized by the protocol itself (``quote_liquidations``, the pair
that pays most at the collateral's sale price, the most its close factor allows) and given the
first cause that applies, in this order:

``no_collateral``  nothing left to seize (collateral worth $0 at the oracle): bad debt, not a
                   liquidation left undone
``refused``        the protocol refuses every liquidation of it (e.g. Aave v3.3's
                   ``MUST_NOT_LEAVE_DUST`` on every pair)
``dust``           the debt is worth less than ``DUST_USD``
``gas``            unprofitable at the gas price: the bonus at the collateral's mid price (before
                   impact) is below the gas of one liquidation call
``depth``          no depth to sell into: profitable at the mid, but the backlog's seized
                   collateral, sold into its market one account after another (the most
                   profitable per token first), stops paying the debt and the gas at this
                   account or before it
``profitable``     a liquidation would pay: left undone for lack of capital or of time (the
                   keepers' out-of-capital warnings and ``liquidation_cut_off`` say which)

The sale price of each asset is the one ``loss_at_end`` values collateral at (the protocol's
venue for it, else the feed, else the oracle), and the sale walks that venue's depth. The gas of
a liquidation is the gas its handler uses (``@handler(gas=...)`` of the protocol's liquidation
method) at the last block's base fee plus the median tip of recent blocks, in the chain's
native asset at its feed's price. The market is taken as it stands at the end, with no
recovery between the sales (no arbitrage, no resilience): ``profitable`` counts what the
market could absorb at once.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from defisim.base.eventlog import Column, EventLog
from defisim.base.roles import LIQUIDATION_CALL
from defisim.results.crisis import BACKLOG_CAUSES, BACKLOG_TABLE

__all__ = ["CAUSES", "DUST_USD", "BACKLOG_TABLE", "BACKLOG_COLUMNS", "backlog_causes", "liquidation_gas", "record_backlog"]

#: The causes, in the order they are tried.
CAUSES = BACKLOG_CAUSES
#: Debt below this (USD) is dust.
DUST_USD = 1.0
BACKLOG_COLUMNS = [
    Column("protocol", "string", "lending protocol"),
    Column("cause", "string", "why its accounts below HF 1 were left: " + ", ".join(CAUSES)),
    Column("accounts", "int64", "accounts left for that cause"),
    Column("debt_usd", "float64", "their debt at the protocol's oracle prices (USD)"),
]


def backlog_causes(view, sale_prices_usd: np.ndarray, markets: list, gas_usd: float, now_ms: int) -> dict:
    """``{cause: (accounts, debt_usd)}`` for the accounts of ``view`` (a lending view) below HF 1.

    ``sale_prices_usd`` per asset (USD per token, what its collateral sells at before impact);
    ``markets`` per asset: an object with ``quote_sell(tokens, t_ms) -> (usd, avg)`` (a venue), or
    None where the asset is valued without one (no impact); ``gas_usd``: one liquidation call.
    """
    rows, hf, debt_usd = view.liquidation_candidates()
    out = {c: (0, 0.0) for c in CAUSES}
    if rows.size == 0:
        return out
    rows, hf, debt_usd = np.asarray(rows), np.asarray(hf), np.asarray(debt_usd)
    prices = np.asarray(view.prices_usd(), dtype=float)
    coll, _debt = view.positions(rows)
    no_collateral = (coll @ prices) <= 0
    q = view.quote_liquidations(rows, hf, prices, None, sale_prices_usd)
    repaid_usd = q.debt_repaid * prices[q.debt]
    gain_mid = q.liquidator_collateral * sale_prices_usd[q.collateral] - repaid_usd
    cause = np.full(rows.size, len(CAUSES) - 1)  # profitable unless a cause below applies
    at_mid_ok = gain_mid >= gas_usd
    # impact: the sales walked one after another into each market as it stands, the most profitable
    # per token first, up to the first that would no longer pay
    walk = np.flatnonzero(~no_collateral & q.ok & (debt_usd >= DUST_USD) & at_mid_ok)
    per_token = gain_mid[walk] / np.maximum(q.liquidator_collateral[walk], 1e-300)
    walk = walk[np.argsort(-per_token, kind="stable")]
    deep = np.ones(rows.size, dtype=bool)
    for c in np.unique(q.collateral[walk]).tolist():
        market = markets[c]
        if market is None:
            continue
        mine = walk[q.collateral[walk] == c]
        tokens = proceeds = 0.0
        for j, i in enumerate(mine.tolist()):
            amount = float(q.liquidator_collateral[i])
            total, _avg = market.quote_sell(tokens + amount, now_ms)
            if (total - proceeds) - repaid_usd[i] < gas_usd:
                deep[mine[j:]] = False  # the first that no longer pays: it and those after it
                break
            tokens, proceeds = tokens + amount, total
    # the first cause that applies wins: assign from the last to the first
    for k, hit in reversed(list(enumerate((no_collateral, ~q.ok, debt_usd < DUST_USD, ~at_mid_ok, ~deep)))):
        cause[hit] = k
    for k, c in enumerate(CAUSES):
        mine = cause == k
        out[c] = (int(mine.sum()), float(debt_usd[mine].sum()))
    return out


def liquidation_gas(protocol) -> int:
    """Gas of one liquidation call of ``protocol``: the most any of its liquidation-role handlers uses."""
    return max((protocol.handlers[m].gas for m in protocol.calls_by_role().get(LIQUIDATION_CALL, ())), default=0)


def record_backlog(log: EventLog, protocols: Mapping, sale_prices: Mapping, usd_per_gas: float, now_ms: int) -> None:
    """Write the ``backlog_at_end`` rows of every lending protocol (one per cause);
    ``sale_prices[name] = (prices per asset, market or None per asset)``; ``usd_per_gas``: the
    gas price at the end in USD per unit of gas."""
    rows = []
    for name, (prices, markets) in sale_prices.items():
        protocol = protocols[name]
        if "lending" not in getattr(protocol, "view_roles", ()):
            continue
        gas_usd = liquidation_gas(protocol) * usd_per_gas
        for cause, (n, usd) in backlog_causes(protocol.view(), prices, markets, gas_usd, now_ms).items():
            rows.append((name, cause, n, usd))
    if rows:
        table = log.declare(BACKLOG_TABLE, "accounts still liquidatable at the end, by why they were left", BACKLOG_COLUMNS)
        for row in rows:
            table.append(row)
