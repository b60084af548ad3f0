"""The order-book perp venue on the engine (``perps.orderbook``): a
:class:`~.clearinghouse.Clearinghouse` whose books are the scenario's off-chain venues and whose
index is the markets' feeds, ticked by its own SimPy process (an off-chain venue's matching loop,
), with its liquidations, ADL fills and funding payments in result tables (dYdX v4 and Hyperliquid docs).
"""
from __future__ import annotations

import math

import numpy as np

from defisim.base import Column
from defisim.graph import Exposure, Node
from defisim.base import Protocol, handler, is_number
from defisim.base import Revert

from .clearinghouse import Clearinghouse, PerpMarket
from .params import PerpVenueParams, PoolPerpVenueParams
from .pool import PoolPerpParams, PoolPerps

__all__ = ["PerpVenue", "PoolPerpVenue", "LIQUIDATION_COLUMNS", "ADL_COLUMNS", "FUNDING_COLUMNS", "POOL_EVENT_COLUMNS"]

LIQUIDATION_COLUMNS = [
    Column("t_ms", "int64", "venue time of the liquidation (ms)"),
    Column("venue", "string", "perp venue"),
    Column("account", "string", "liquidated account"),
    Column("kind", "string", "'book', 'partial' (a share into the books), 'backstop' (taken at mark) or 'adl'"),
    Column("notional_usd", "float64", "notional closed, at mark (USD)"),
    Column("equity_usd", "float64", "account equity before the liquidation (USD)"),
    Column("fund_delta_usd", "float64", "into (+) or out of (−) the insurance fund (USD)"),
]
ADL_COLUMNS = [
    Column("t_ms", "int64", "venue time (ms)"),
    Column("venue", "string", "perp venue"),
    Column("market", "string", "market"),
    Column("bankrupt", "string", "account whose position was closed"),
    Column("counterparty", "string", "account deleveraged against it"),
    Column("size", "float64", "base units closed"),
    Column("price_usd", "float64", "bankruptcy price of the close (USD)"),
]
FUNDING_COLUMNS = [
    Column("t_ms", "int64", "payment time (ms)"),
    Column("venue", "string", "perp venue"),
    Column("market", "string", "market"),
    Column("premium", "float64", "average premium index over the interval"),
    Column("rate", "float64", "funding rate paid by longs for the interval"),
    Column("index_usd", "float64", "index price the payment was computed on (USD)"),
]


class PerpVenue(Protocol):
    """``perps.orderbook``: cross-margin accounts on order-book perps. Its process ticks the
    clearinghouse every ``tick``; populations are opened at the start. Calls ``deposit(usd)``,
    ``order(market, size)`` (a taker order, ``+`` buys, base units) and ``withdraw(usd)``: off
    the chain by default (on arrival, :meth:`~defisim.run.context.AgentContext.call_offchain`), in
    transactions through the mempool with ``onchain`` (dYdX v4, Hyperliquid's L1). Deposits and
    withdrawals move ``collateral_token`` between the sender and the venue's address."""

    kind = "perps.orderbook"
    Params = PerpVenueParams
    node_kind = "venue"

    def __init__(self, name: str, params: PerpVenueParams, host):
        super().__init__(name, params, host)
        self.offchain = not params.onchain
        if params.collateral_token is not None and getattr(host.protocols.get(params.collateral_token), "kind", "") != "token.ledger":
            raise ValueError(f"protocols.{name}.collateral_token: {params.collateral_token!r} must be a token.ledger listed before it")
        markets = []
        for i, m in enumerate(params.markets):
            if m.asset not in host.feeds:
                raise ValueError(f"protocols.{name}.markets[{i}].asset: no feed {m.asset!r} (have {sorted(host.feeds)})")
            if m.book not in host.venues:
                raise ValueError(f"protocols.{name}.markets[{i}].book: no venue {m.book!r} (have {sorted(host.venues)})")
            try:
                markets.append(PerpMarket(m.symbol, host.feeds[m.asset], host.venues[m.book], m.max_leverage,
                                          m.impact_notional_usd, m.funding_cap, m.mm_tiers, m.im_tiers, m.mark))
            except ValueError as e:
                raise ValueError(f"protocols.{name}.markets[{i}]: {e}") from None
        self.state = Clearinghouse(markets, insurance_fund_usd=params.insurance_fund_usd,
                                   liquidation_fee=params.liquidation_fee, funding_interval_ms=params.funding_interval,
                                   partial_above_usd=params.partial_above_usd, partial_share=params.partial_share,
                                   partial_cooldown_ms=params.partial_cooldown, backstop_fraction=params.backstop_fraction)
        self.fund_start_usd = params.insurance_fund_usd
        rng = host.stream(f"{name}/population")
        for k, pop in enumerate(params.populations):
            market = markets[[m.symbol for m in markets].index(pop.market)]
            price = market.feed.price_at(0)
            notional = pop.notional_usd.sample(rng, pop.count)
            leverage = np.clip(pop.leverage.sample(rng, pop.count), 1.0, 0.9 * market.max_leverage)
            side = np.where(rng.random(pop.count) < pop.long_share, 1.0, -1.0)
            self.state.open_positions([f"{name}/{pop.market}/{k}/{i}" for i in range(pop.count)], pop.market,
                                      side * notional / price, price, notional / leverage)
        self._tables = (
            (host.log.declare("perp_liquidations", "perp accounts liquidated (book or ADL)", LIQUIDATION_COLUMNS,
                              role="closeouts", role_columns={"protocol": "venue"}),
             self.state.liquidations),
            (host.log.declare("perp_adl", "auto-deleveraging fills", ADL_COLUMNS), self.state.adl),
            (host.log.declare("perp_funding", "funding payments", FUNDING_COLUMNS), self.state.funding),
        )
        self._written = [0, 0, 0]
        host.env.process(self._run(host.env))

    def _run(self, env):
        """The venue's matching loop: a tick every ``tick`` ms, rows written as they happen."""
        while True:
            self.state.tick(int(env.now))
            self._flush()
            yield env.timeout(self.params.tick)

    # -- calls ------------------------------------------------------------------------------
    @staticmethod
    def _number(value, what: str) -> float:
        """``value`` as a finite float, or the call reverts."""
        if not (is_number(value) and math.isfinite(value)):
            raise Revert(f"{what}: expected a finite number, got {value!r}")
        return float(value)

    def _ledger(self):
        if self.params.collateral_token is None:
            raise Revert(f"{self.name} takes no deposits (no collateral_token)")
        return self.host.protocols[self.params.collateral_token]

    @handler(gas=90_000, revert_gas=30_000)
    def deposit(self, sender: str, usd: float) -> float:
        """Move ``usd`` tokens of the collateral token from ``sender`` into its account (USD)."""
        ledger = self._ledger()
        usd = self._number(usd, "deposit")
        if not 0.0 < usd <= ledger.balance_of(sender):
            raise Revert(f"deposit: {usd} is not a positive amount within the balance")
        ledger.move(sender, self.name, float(usd))
        self.state.deposit(sender, float(usd))
        return float(usd)

    @handler(gas=250_000, revert_gas=60_000)
    def order(self, sender: str, market: str, size: float) -> float:
        """A taker order of ``size`` base units into ``market``'s book (``+`` buys); returns the
        fill price (USD). Reverts on an unknown market, an account in liquidation or short of
        initial margin (dYdX v4 `margin.mdx`; Hyperliquid margining docs)."""
        size = self._number(size, "order")
        if market not in self.state.index:
            raise Revert(f"order: no market {market!r}")
        if sender not in self.state.rows:
            raise Revert(f"order: {sender} has no account")
        try:
            return self.state.trade(sender, market, float(size), int(self.host.now_ms))
        except ValueError as e:
            raise Revert(str(e)) from None

    @handler(gas=90_000, revert_gas=30_000)
    def withdraw(self, sender: str, usd: float) -> float:
        """Take ``usd`` of collateral back to ``sender``'s token balance, if its equity stays
        above its initial margin."""
        ledger = self._ledger()
        usd = self._number(usd, "withdraw")
        if sender not in self.state.rows:
            raise Revert(f"withdraw: {sender} has no account")
        if ledger.balance_of(self.name) < usd:  # the venue's own tokens (populations start without any)
            raise Revert(f"withdraw: the venue holds {ledger.balance_of(self.name):.2f} tokens")
        try:
            self.state.withdraw(sender, float(usd), int(self.host.now_ms))
        except ValueError as e:
            raise Revert(str(e)) from None
        ledger.move(self.name, sender, float(usd))
        return float(usd)

    def _flush(self) -> None:
        for k, (table, rows) in enumerate(self._tables):
            for row in rows[self._written[k]:]:
                table.append((row[0], self.name, *row[1:]))
            self._written[k] = len(rows)

    def view(self) -> Clearinghouse:
        return self.state

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """The venue (equity: its insurance fund) holds its deposits in the collateral token
        (``backing``); accounts of at least ``large_account_usd`` notional are nodes the venue is
        exposed to for the part of their loss their collateral does not cover (``debt``, amount:
        notional at mark, recovery: equity over notional, dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs)."""
        t = int(self.host.now_ms)
        ch = self.state
        out: list = [Node(self.name, "venue", equity_usd=max(ch.insurance_fund_usd, 0.0))]
        if self.params.collateral_token is not None:
            held = self.host.protocols[self.params.collateral_token].balance_of(self.name)
            if held > 0:
                out.append(Exposure(self.name, self.params.collateral_token, "backing", held))
        notional = (abs(ch.size) * ch.marks(t)).sum(axis=1)
        equity = ch.equity(t)
        for row in np.flatnonzero(notional >= large_account_usd):
            owner = ch.owners[row]
            if owner == "book":
                continue
            out.append(Node(owner, "account", equity_usd=max(float(equity[row]), 0.0)))
            out.append(Exposure(self.name, owner, "debt", float(notional[row]),
                                recovery=min(1.0, max(float(equity[row]), 0.0) / float(notional[row]))))
        return out

    def distress(self) -> float:
        """Losses socialised over the deposits (USD/USD, Hyperliquid auto-deleveraging docs; Binance Futures ADL)."""
        deposits = float(self.state.collateral.sum())
        return self.state.socialized_usd / deposits if deposits > 0 else 0.0

    def prices(self) -> dict[str, float]:
        t = int(self.host.now_ms)
        return {f"{m.symbol}.mark": self.state.mark(i, t) for i, m in enumerate(self.state.markets)}

    def summary(self, tables: dict) -> dict:
        liq = tables.get("perp_liquidations")
        adl = tables.get("perp_adl")
        out = {
            "liquidations": 0 if liq is None else int(len(liq[liq["venue"] == self.name])),
            "insurance_fund_pnl_usd": self.state.insurance_fund_usd - self.fund_start_usd,
            "socialized_loss_usd": self.state.socialized_usd,
        }
        if adl is not None:
            mine = adl[adl["venue"] == self.name]
            out["adl_notional_usd"] = float((mine["size"] * mine["price_usd"]).sum())
            out["first_adl_s"] = float(mine["t_ms"].min() / 1000) if len(mine) else float("nan")
        return out


POOL_EVENT_COLUMNS = [
    Column("t_ms", "int64", "time (ms)"),
    Column("market", "string", "pool-based perp market"),
    Column("kind", "string", "'liquidation' or 'adl'"),
    Column("account", "string", "position owner"),
    Column("size_usd", "float64", "size closed (USD, + long)"),
    Column("pool_delta_usd", "float64", "into (+) or out of (−) the pool: collateral left, a hole paid, or the PnL paid out"),
]


class PoolPerpVenue(Protocol):
    """``perps.pool``: a GMX-v2-style market whose LP pool is every trader's counterparty
    (:mod:`.pool`); keepers check it every ``tick``: liquidations, then ADL."""

    kind = "perps.pool"
    Params = PoolPerpVenueParams
    node_kind = "venue"

    def __init__(self, name: str, params: PoolPerpVenueParams, host):
        super().__init__(name, params, host)
        if params.asset not in host.feeds:
            raise ValueError(f"protocols.{name}.asset: no feed {params.asset!r} (have {sorted(host.feeds)})")
        self.feed = host.feeds[params.asset]
        factors = {f: getattr(params, f) for f in PoolPerpParams.__dataclass_fields__}
        self.state = PoolPerps(PoolPerpParams(**factors), pool_usd=params.pool_usd)
        self.pool_start_usd = params.pool_usd
        rng = host.stream(f"{name}/population")
        if params.count:
            notional = params.notional_usd.sample(rng, params.count)
            leverage = np.maximum(params.leverage.sample(rng, params.count), 1.0)
            side = np.where(rng.random(params.count) < params.long_share, 1.0, -1.0)
            price = self.feed.price_at(0)
            for i in range(params.count):
                self.state.open(f"{name}/{i}", float(side[i] * notional[i]), float(notional[i] / leverage[i]), price, 0)
        self._table = host.log.declare("pool_perp_events", "pool-based perp liquidations and ADL", POOL_EVENT_COLUMNS,
                                       role="closeouts", role_columns={"protocol": "market", "notional_usd": "size_usd"})
        self._written = [0, 0]
        host.env.process(self._run(host.env))

    def _run(self, env):
        while True:
            yield env.timeout(self.params.tick)
            t_ms = int(env.now)
            t_s, price = t_ms // 1000, self.feed.price_at(t_ms)
            self.state.accrue(t_s)
            for i in self.state.liquidatable(price):
                self.state.liquidate(int(i), price, t_s)
            self.state.auto_deleverage(price, t_s)
            liq, adl = self.state.liquidations, self.state.adl
            for row in liq[self._written[0]:]:
                self._table.append((row[0] * 1000, self.name, "liquidation", row[1], row[2], row[3] - row[4]))
            for row in adl[self._written[1]:]:
                self._table.append((row[0] * 1000, self.name, "adl", row[1], row[2], -row[3]))
            self._written = [len(liq), len(adl)]

    def view(self) -> PoolPerps:
        return self.state

    def summary(self, tables: dict) -> dict:
        return {
            "pool_pnl_usd": self.state.pool_usd - self.pool_start_usd,
            "liquidations": len(self.state.liquidations),
            "adl_positions": len(self.state.adl),
        }
