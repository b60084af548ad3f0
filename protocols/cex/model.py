"""Unified accounts on the engine (``cex.unified``): :class:`~.unified.UnifiedAccounts` marked on
the scenario's off-chain venues, its liquidation engine run by its own SimPy process every
``check_every`` (Binance unified-account uniMMR FAQ; Bybit UTA trading rules), liquidations in the ``unified_liquidations`` table."""
from __future__ import annotations

import numpy as np

from defisim.base import Column
from defisim.graph import Exposure, Node
from defisim.base import Protocol

from .params import UnifiedVenueParams
from .unified import CollateralAsset, UnifiedAccounts

__all__ = ["UnifiedVenue", "UNIFIED_LIQUIDATION_COLUMNS"]

UNIFIED_LIQUIDATION_COLUMNS = [
    Column("t_ms", "int64", "venue time (ms)"),
    Column("venue", "string", "exchange"),
    Column("account", "string", "liquidated account"),
    Column("asset", "string", "collateral sold"),
    Column("units", "float64", "units sold into the venue's book"),
    Column("usd", "float64", "proceeds (USD)"),
    Column("uni_mmr", "float64", "the account's uniMMR when the engine took it"),
]


class UnifiedVenue(Protocol):
    """``cex.unified``: unified cross-margin accounts marked on the venue's own books."""

    kind = "cex.unified"
    node_kind = "venue"
    Params = UnifiedVenueParams

    def __init__(self, name: str, params: UnifiedVenueParams, host):
        super().__init__(name, params, host)
        assets = []
        for i, a in enumerate(params.assets):
            if a.book is not None and a.book not in host.venues:
                raise ValueError(f"protocols.{name}.assets[{i}].book: no venue {a.book!r} (have {sorted(host.venues)})")
            if a.conversion is not None and a.conversion not in host.feeds:
                raise ValueError(f"protocols.{name}.assets[{i}].conversion: no feed {a.conversion!r} (have {sorted(host.feeds)})")
            assets.append(CollateralAsset(a.symbol, host.venues.get(a.book) if a.book else None, a.tiers_by_upper_bound,
                                          a.book_weight, host.feeds.get(a.conversion) if a.conversion else None))
        self.state = UnifiedAccounts(assets)
        rng = host.stream(f"{name}/population")
        settlement = self.state.settlement
        for k, pop in enumerate(params.populations):
            col = self.state.column[pop.collateral]
            value = pop.value_usd.sample(rng, pop.count)
            balances = np.zeros((pop.count, len(assets)))
            balances[:, col] = value / assets[col].price(0)
            balances[:, settlement] -= value * pop.liability_ratio.sample(rng, pop.count)
            self.state.open_many([f"{name}/{pop.collateral}/{k}/{i}" for i in range(pop.count)], balances,
                                 value * pop.maintenance_ratio.sample(rng, pop.count))
        self._table = host.log.declare("unified_liquidations", "unified-account collateral sold by the liquidation engine",
                                       UNIFIED_LIQUIDATION_COLUMNS, role="closeouts",
                                       role_columns={"protocol": "venue", "kind": "asset", "notional_usd": "usd"})
        host.env.process(self._run(host.env))

    def _run(self, env):
        while True:
            for row in self.state.check(int(env.now)):
                self._table.append((row[0], self.name, *row[1:]))
            yield env.timeout(self.params.check_every)

    def view(self) -> UnifiedAccounts:
        return self.state

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """The exchange holds its users' collateral in each asset, marked on its own books
        (``collateral``, Binance Portfolio Margin and Bybit UTA docs); users' negative equity is its loss."""
        t = int(self.host.now_ms)
        held_usd = self.state.balances.clip(min=0.0).sum(axis=0) * self.state.prices(t)
        return [Node(self.name, "venue")] + [Exposure(self.name, a.symbol, "collateral", float(v))
                                             for a, v in zip(self.state.assets, held_usd) if v > 0]

    def distress(self) -> float:
        """Accounts' negative equity over the collateral held (USD/USD)."""
        t = int(self.host.now_ms)
        equity = self.state.equity(t)
        held = float((self.state.balances.clip(min=0.0) * self.state.prices(t)).sum())
        return float(-equity[equity < 0].sum()) / held if held > 0 else 0.0

    def summary(self, tables: dict) -> dict:
        liq = tables.get("unified_liquidations")
        mine = liq[liq["venue"] == self.name] if liq is not None else None
        equity = self.state.equity(int(self.host.now_ms))
        return {
            "liquidated_accounts": 0 if mine is None else int(mine["account"].nunique()),
            "collateral_sold_usd": 0.0 if mine is None else float(mine["usd"].sum()),
            "negative_equity_usd": float(-equity[equity < 0].sum()),
        }
