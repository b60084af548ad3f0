"""The delta-neutral dollar on the engine (``stablecoins.delta_neutral``) and its whitelisted
redemption arbitrageurs (``stablecoins.redeem_arbitrageur``), Ethena docs.

The issuer is off-chain (mints and redemptions are signed RFQs): agents reach it with
:meth:`~defisim.run.context.AgentContext.call_offchain`, after their latency. Its own process
rebalances the hedge and books the result every ``settle_every``.
"""
from __future__ import annotations

from defisim.base import Column
from defisim.graph import Exposure, Node
from defisim.base import Protocol, handler
from defisim.base import Revert

from .delta_neutral import DeltaNeutralIssuer
from .params import DeltaNeutralParams, RedeemArbitrageurParams

__all__ = ["DeltaNeutralStablecoin", "RedeemArbitrageur", "SETTLEMENT_COLUMNS", "REDEMPTION_COLUMNS"]

SETTLEMENT_COLUMNS = [
    Column("t_ms", "int64", "time of the settlement (ms)"),
    Column("coin", "string", "stablecoin instance"),
    Column("result_usd", "float64", "backing minus supply before booking: income (+) or loss (−) (USD)"),
    Column("reserve_fund_usd", "float64", "reserve fund after the settlement (USD)"),
    Column("collateral_ratio", "float64", "backing over supply after the settlement"),
    Column("supply", "float64", "tokens outstanding"),
]
REDEMPTION_COLUMNS = [
    Column("t_ms", "int64", "time of the redemption (ms)"),
    Column("coin", "string", "stablecoin instance"),
    Column("redeemer", "string", "whitelisted party"),
    Column("amount", "float64", "tokens redeemed for $1 each"),
]


class DeltaNeutralStablecoin(Protocol):
    """``stablecoins.delta_neutral``: see the module docstring; calls ``mint(usd)`` and
    ``redeem(amount)`` (off-chain)."""

    kind = "stablecoins.delta_neutral"
    Params = DeltaNeutralParams
    offchain = True

    def __init__(self, name: str, params: DeltaNeutralParams, host):
        super().__init__(name, params, host)
        venue = host.protocols.get(params.venue)
        if venue is None or getattr(venue, "kind", "") != "perps.orderbook":
            raise ValueError(f"protocols.{name}.venue: {params.venue!r} must be a perps.orderbook listed before it")
        if params.asset not in host.feeds:
            raise ValueError(f"protocols.{name}.asset: no feed {params.asset!r} (have {sorted(host.feeds)})")
        self.state = DeltaNeutralIssuer(venue.state, params.market, host.feeds[params.asset], name=name,
                                        margin_share=params.margin_share, mint_limit_usd=float("inf"),
                                        window_ms=params.window, reserve_fund_usd=params.reserve_fund_usd)
        if params.supply_usd:
            self.state.mint(params.supply_usd, 0)
            self.state.vault.deposit("stakers", params.supply_usd * params.staked_share, 0)
        self.state.mint_limit_usd, self.state.redeem_limit_usd = params.mint_limit_usd, params.redeem_limit_usd
        self.reserve_start_usd = params.reserve_fund_usd
        self._settlements = host.log.declare("stablecoin_settlements", "the issuer's periodic results", SETTLEMENT_COLUMNS)
        self._redemptions = host.log.declare("redemptions", "whitelisted redemptions", REDEMPTION_COLUMNS)
        host.env.process(self._run(host.env))

    def _run(self, env):
        while True:
            yield env.timeout(self.params.settle_every)
            t = int(env.now)
            self.state.rebalance(t)
            result = self.state.settle(t)
            self._settlements.append((t, self.name, result, self.state.reserve_fund_usd,
                                      self.state.collateral_ratio(t), self.state.supply))

    @handler(gas=0, revert_gas=0)
    def redeem(self, sender: str, amount: float) -> float:
        """Burn ``amount`` for $1 each (whitelisted, per-window limit)."""
        try:
            paid = self.state.redeem(float(amount), int(self.host.now_ms))
        except ValueError as e:
            raise Revert(str(e)) from None
        self._redemptions.append((int(self.host.now_ms), self.name, sender, float(amount)))
        return paid

    @handler(gas=0, revert_gas=0)
    def mint(self, sender: str, usd: float) -> float:
        """Mint ``usd`` against ``usd`` of collateral (whitelisted, per-window limit)."""
        try:
            self.state.mint(float(usd), int(self.host.now_ms))
        except ValueError as e:
            raise Revert(str(e)) from None
        return float(usd)

    def view(self) -> DeltaNeutralIssuer:
        return self.state

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """Mechanics Ethena docs: spot hedged by perp shorts: the coin is backed by the issuer (``backing``), which holds
        spot and a short at the venue (``backing``); the staked coin wraps the coin
        (``wrapping``). Equity: the reserve fund (USD)."""
        t, s, p = int(self.host.now_ms), self.state, self.params
        out: list = [Node(self.name, "protocol", equity_usd=s.reserve_fund_usd), Node(p.symbol, "token"),
                     Node(f"s{p.symbol}", "token"),
                     Exposure(p.symbol, self.name, "backing", s.supply)]
        held = ((self.name, p.venue, "backing", s.hedge_equity(t)),
                (self.name, p.asset, "backing", s.spot_units * s.spot_feed.price_at(t)),
                (f"s{p.symbol}", p.symbol, "wrapping", s.vault.total_assets(t)))
        return out + [Exposure(*edge) for edge in held if edge[3] > 0]

    def distress(self) -> float:
        """The backing's shortfall: ``max(0, 1 − collateral ratio)``."""
        return max(0.0, 1.0 - self.state.collateral_ratio(int(self.host.now_ms)))

    def issued_distress(self) -> dict[str, float]:
        """The coin and its staked wrapper are short by the backing's shortfall."""
        h = self.distress()
        return {self.params.symbol: h, f"s{self.params.symbol}": h}

    def summary(self, tables: dict) -> dict:
        t = int(self.host.now_ms)
        red = tables.get("redemptions")
        mine = red[red["coin"] == self.name] if red is not None else None
        return {
            "collateral_ratio": self.state.collateral_ratio(t),
            "reserve_fund_used_usd": self.reserve_start_usd - self.state.reserve_fund_usd,
            "redeemed": 0.0 if mine is None else float(mine["amount"].sum()),
            "staked_share_price": self.state.vault.share_price(t),
        }


def RedeemArbitrageur(ctx, params: RedeemArbitrageurParams, index: int):
    """Buys the dollar below peg on a venue and redeems it at the issuer (Ethena docs: mint and redeem by whitelisted parties, with per-block limits)."""
    book = ctx.market(params.venue)
    while True:
        yield ctx.delay(params.every)
        mid = book.mid(ctx.now)
        if mid >= 1.0 - params.min_discount:
            continue
        tokens = params.max_usd / mid
        _usd, _avg = yield ctx.buy_on(params.venue, tokens)
        yield ctx.call_offchain(params.issuer, "redeem", amount=float(tokens))
