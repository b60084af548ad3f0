"""Liquidation keepers (Aave v3 `LiquidationLogic.executeLiquidationCall`; gas used by Aave v3 `liquidationCall` transactions on Ethereum mainnet).

After each block a keeper reads the pool's shared candidate set (HF < 1 at on-chain prices),
sizes each liquidation as the pool would, estimates its profit — the collateral it receives,
valued at what selling it on its venue would fetch (price impact included), minus the debt it
repays and the gas — and sends ``liquidation_call`` for the profitable ones through the
mempool with its gas strategy. Competing keepers race: only the first to land succeeds, the
others revert and still pay gas. A keeper that won deposits the seized collateral at its venue
(an on-chain transfer) and sells it there once the deposit lands; that selling moves the
venue's price, which the oracle follows, which makes more positions liquidatable.

Its capital is its on-chain balance of the debt assets. With ``withdraw`` the USD its venue
sales brought comes back on chain after the venue's delay and fee
(:mod:`protocols.lending.withdrawals`), so the same capital liquidates again; with
``source_debt_on`` it buys the debt asset a liquidation needs beyond its balance on a
constant-product pool, in a swap sent just before the liquidation, the purchase's price impact
priced into the liquidation's profit (a short squeeze: the borrowers owe the asset that rises).
"""
from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from defisim.base import Distribution, DurationMs, Exponential, GasVenue, LatencyMs, Uniform, VenueName, protocol_filling, protocol_of, unit
from defisim.chain import GasStrategy, PercentileTip, bid, outbid, rebid
from defisim.base import Call, largest_debts_of

from protocols.amm.math import get_amount_in, get_amount_out
from protocols.lending.withdrawals import WithdrawalParams, hot_wallet, venue_address, withdrawal_amount
from protocols.oracles.checks import same_asset
from .math import row_sums


__all__ = ["KeeperParams", "Keeper", "BackrunnerParams", "Backrunner", "plan_liquidations", "worth_planning",
           "Kept", "DebtSource", "Purchase",
           "largest_debts", "settle_in_flight", "without_in_flight", "outbid_rivals", "start_racing", "send_liquidation",
           "Race", "RACE_DOC",
           "BorrowerGuardParams", "BorrowerGuard"]


#: The name of an Aave v3 market of the scenario.
LendingPool = protocol_of("lending.aave_v3", role="lending pool")
#: Any protocol whose view fills the lending role (defisim.base.LendingView): what a keeper liquidates.
Liquidatable = protocol_filling("lending", role="lending pool")


#: How a keeper competes for a liquidation others want too.
Race = Literal["none", "outbid", "private"]
RACE_DOC = ("how it races rivals for an account: 'none' bids by its gas strategy and waits; 'outbid' watches the "
            "public mempool and, when a rival's liquidation of an account it has pending tips as much or more, "
            "replaces its own by fee (a priority gas auction) while the gas stays below its expected profit; "
            "'private' sends to the builder directly, unseen by rivals")


class KeeperParams(BaseModel):
    """A liquidation keeper's strategy and means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: Liquidatable = Field(description="lending pool to watch: any protocol filling the lending role")
    venue: VenueName = Field(description="venue where seized collateral is valued and sold, for the collateral "
                             "reserves whose asset it quotes (WETH sells as ETH)")
    venues: dict[str, VenueName] = Field(default_factory=dict, description="collateral reserve -> the venue its "
        "seized collateral is valued and sold at, where it is not `venue`; a reserve with no venue quoting it is "
        "not taken as collateral by this keeper")
    gas_venue: GasVenue = Field(None, description="venue quoting the chain's native asset, pricing gas in USD "
                                "(default: the native asset's feed, chain.native_asset)")
    max_per_block: int = Field(5, ge=1, description="most liquidations sent after one block")
    min_profit_usd: float = Field(10.0, ge=0,
        description="send a liquidation only if its expected profit after gas exceeds this")
    gas: GasStrategy = Field(PercentileTip(quantile=0.9, markup=2.0), description="gas bidding of its liquidations")
    gas_limit: int = Field(450_000, gt=0,
        description="gas limit of a liquidation (gas used by Aave v3 `liquidationCall` transactions on Ethereum mainnet)", json_schema_extra=unit("gas"))
    think: DurationMs = Field(500, ge=0, description="compute delay after a block before sending")
    sell: bool = Field(True, description="sell seized collateral on the venue (False: keep it)")
    sell_pool: protocol_of("amm.cpmm", role="constant-product pool") | None = Field(
        None, description="sell seized collateral into this constant-product pool (amm.cpmm, token 1 taken as $1) "
        "with a swap transaction, and estimate profit from its quote, instead of the venue")
    rebid_after_blocks: int = Field(
        0, ge=0, description="re-bid a liquidation still pending after this many blocks, escalating both fees "
        "by the gas strategy's `escalate` (replace-by-fee); 0: never")
    race: Race = Field("none", description=RACE_DOC)
    withdraw: WithdrawalParams | None = Field(None, description="withdraw what its venue sales bring back on "
        "chain, from the venue's hot wallet after its delay and fee, and liquidate with it again (none: the "
        "proceeds stay at the venue, and capital is spent once)")
    source_debt_on: protocol_of("amm.cpmm", role="constant-product pool") | None = Field(
        None, description="buy the debt asset a liquidation needs beyond its balance on this constant-product "
        "pool (amm.cpmm with ledgers, trading two of the lending pool's tokens), paying with the pool's other "
        "token, in a swap sent right before the liquidation; the purchase's cost, impact and fee included, is "
        "priced into the liquidation's profit")
    keep: tuple[str, ...] = Field((), description="collateral reserves it keeps rather than sells, valued at "
        "the lending pool's oracle price (a stablecoin it holds as capital, e.g. the token it buys the debt "
        "asset with)")


class Plan(NamedTuple):
    """A liquidation worth sending: expected profit (USD) and the call's arguments."""

    profit_usd: float
    row: int
    user: str
    collateral: int  # reserve index
    debt: int  # reserve index
    debt_repaid: float  # tokens
    liquidator_collateral: float  # tokens
    debt_to_cover: float = math.inf  # tokens; below the maximum when the keeper's capital limits it


#: How many of the largest candidate debts a keeper sizes per liquidation it may send.
PLAN_SHORTLIST = 8


def worth_planning(capital: list[float], prices: np.ndarray, bonus: np.ndarray, venue_mid, gas_usd: float,
                   min_profit_usd: float, borrowed: np.ndarray | None = None) -> bool:
    """Whether a keeper holding ``capital`` (tokens per reserve) could make any liquidation clear
    ``min_profit_usd``. A liquidation repaying ``x`` USD receives at most ``x·(1+bonus)/p_c``
    collateral tokens, worth that times ``venue_mid`` at the venue, so its profit at the mid is at
    most ``x·((1+bonus)·mid/p_c − 1) − gas`` with ``x`` at most the largest capital in USD among
    the reserves someone owes (``borrowed``, default all): when that is below the threshold no
    plan can pass, and sizing candidates would be wasted.
    """
    # plain floats: a handful of reserves, checked by every keeper after every block
    price_list = prices.tolist()
    mids = [float(venue_mid)] * len(price_list) if np.ndim(venue_mid) == 0 else list(venue_mid)
    gains = [(1.0 + b) * m / p for b, m, p in zip(bonus.tolist(), mids, price_list) if p > 0 and m == m]
    if not gains:
        return True
    owed = [True] * len(capital) if borrowed is None else borrowed.tolist()
    most = max((c * p for c, p, o in zip(capital, price_list, owed) if o), default=0.0)
    return most * (max(gains) - 1.0) - gas_usd >= min_profit_usd


def largest_debts(pool, rows: np.ndarray, hf: np.ndarray, prices: np.ndarray, debt_usd: np.ndarray | None,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` candidates among ``rows`` with the largest debts (USD at ``prices``; ``debt_usd``
    when given spares loading every position; equal debts: the lower row), in row order, with their health factors: a
    liquidation's profit grows with the debt it repays, so only these are worth sizing."""
    if rows.size <= n:
        return rows, hf
    total = row_sums(pool.positions(rows)[1] * prices) if debt_usd is None else debt_usd
    return largest_debts_of(rows, hf, total, n)[:2]


def plan_liquidations(pool, markets, rows: np.ndarray, prices: np.ndarray, hf: np.ndarray, gas_usd: float,
                      min_profit_usd: float, now: int, limit: int, debt_usd: np.ndarray | None = None,
                      capital: np.ndarray | None = None) -> list[Plan]:
    """The most profitable liquidations among ``rows``, best first, at most ``limit``.

    ``pool`` is any protocol view that fills the lending role (:class:`defisim.base.LendingView`);
    ``markets`` holds, per reserve, where its seized collateral is valued and sold (a venue, a
    :class:`PoolSale`, or None: not taken), or one market for every reserve.
    The candidates with the largest debts (``PLAN_SHORTLIST × limit`` of them) are sized by the
    protocol itself, all at once (:meth:`~defisim.base.LendingView.quote_liquidations`: for an
    Aave pool the (collateral, debt) pair that pays most at the markets' mids and the most the
    close factor allows, Aave v3 `LiquidationLogic.executeLiquidationCall`); they are ranked by profit at the venue's mid
    and the best are priced exactly against the venue's depth (the impact of selling the seized
    collateral), net of ``gas_usd``. ``debt_usd`` (total debt of each candidate, USD) spares
    loading every candidate's position to find the largest. With ``capital`` (tokens per asset)
    a liquidation repays at most the keeper's capital in its debt asset (a partial liquidation).
    """
    if rows.size == 0:
        return []
    rows, hf = largest_debts(pool, rows, hf, prices, debt_usd, PLAN_SHORTLIST * limit)
    if not isinstance(markets, (list, tuple)):
        markets = [markets] * len(prices)
    mids = np.array([m.mid(now) if m is not None else np.nan for m in markets])
    q = pool.quote_liquidations(rows, hf, prices, capital, mids)  # the pair that pays most at these mids
    rc, rd = q.collateral, q.debt
    cover = np.inf if capital is None else np.asarray(capital, dtype=np.float64)[rd]
    at_mid = q.liquidator_collateral * mids[rc] - q.debt_repaid * prices[rd] - gas_usd  # NaN: no market, never ok
    ok = np.flatnonzero(q.ok & (q.liquidator_collateral > 0) & (at_mid >= min_profit_usd))
    # the best 2 × limit, ties in candidate order (capital-bound plans tie: same repay, same profit)
    best = ok[np.argsort(-at_mid[ok], kind="stable")][: 2 * limit]
    plans = []
    for i in best.tolist():
        got = float(q.liquidator_collateral[i])
        proceeds_usd, _avg = markets[rc[i]].quote_sell(got, now)
        profit = proceeds_usd - float(q.debt_repaid[i]) * prices[rd[i]] - gas_usd
        if profit >= min_profit_usd:
            repaid = float(q.debt_repaid[i])
            limit_i = math.inf if capital is None else float(cover[i])
            plans.append(Plan(profit, int(rows[i]), pool.owner(int(rows[i])), int(rc[i]), int(rd[i]), repaid, got,
                              limit_i if repaid >= limit_i else math.inf))
    plans.sort(key=lambda p: -p.profit_usd)
    return plans[:limit]


def _liquidation(pool_name: str, pool, plan: Plan) -> Call:
    return Call(pool_name, pool.liquidation_method, {
        "collateral_asset": pool.symbols[plan.collateral], "debt_asset": pool.symbols[plan.debt],
        "user": plan.user, "debt_to_cover": plan.debt_to_cover})


def _sell_winnings(ctx, receipt, tokens: dict[str, str], params, venue_of: dict[str, str | None]) -> None:
    """After a won liquidation: sell the collateral (if selling, and not a reserve it keeps) into
    the pool with a swap, or deposit it at its venue (``venue_of[asset]``) and sell it there (and
    with ``withdraw``, withdraw the proceeds)."""
    if receipt.ok and params.sell and receipt.result.liquidator_collateral > 0:
        asset = receipt.tx.call.args["collateral_asset"]
        if asset in getattr(params, "keep", ()):
            return
        # a hair under what was won: float sums of many winnings must not overdraw the balance
        amount = DEPOSIT_MARGIN * receipt.result.liquidator_collateral
        if params.sell_pool is not None:
            cap, tip = bid(params.gas, ctx.chain)
            ctx.submit(Call(params.sell_pool, "swap", {"token_in": asset, "amount_in": amount}), 150_000, cap, tip)
        else:
            ctx.env.process(_deposit_and_sell(ctx, tokens[asset], venue_of[asset], amount, params,
                                              _payout_ledger(params, tokens)))


def _payout_ledger(params, tokens: dict[str, str]) -> str | None:
    """The token ledger a keeper's venue withdrawals are paid on (None: it does not withdraw)."""
    withdraw = getattr(params, "withdraw", None)
    return None if withdraw is None else tokens[withdraw.asset]


class Kept:
    """Seized collateral a keeper keeps instead of selling it (``keep``: a stablecoin it holds as
    capital), valued at the lending pool's oracle price: the venue interface
    :func:`plan_liquidations` prices with, without impact."""

    def __init__(self, pool, reserve: int):
        self._pool, self._r = pool, reserve

    def mid(self, t_ms: int) -> float:
        """The reserve's oracle price (USD)."""
        return float(self._pool.prices_usd()[self._r])

    def quote_sell(self, amount_tokens: float, t_ms: int) -> tuple[float, float]:
        """What ``amount_tokens`` are worth at the oracle price, and that price."""
        price = self.mid(t_ms)
        return amount_tokens * price, price


class PoolSale:
    """A constant-product pool seen by a keeper as the place to sell collateral (token 0 for
    token 1, taken as worth $1): the venue interface :func:`plan_liquidations` prices with."""

    def __init__(self, ctx, pool: str):
        self._view = lambda: ctx.view(pool)
        if self._view()["kind"] != "amm.cpmm":
            raise ValueError(f"sell_pool: {pool} is not an amm.cpmm pool")

    def mid(self, t_ms: int) -> float:
        """Marginal price of token 0 (USD), no fee."""
        return self._view()["price"]

    def quote_sell(self, amount_tokens: float, t_ms: int) -> tuple[float, float]:
        """USD out of selling ``amount_tokens`` of token 0 now (fee and impact, Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input), and the average price."""
        v = self._view()
        out = get_amount_out(amount_tokens, v["reserves"][0], v["reserves"][1], v["fee"])
        return out, (out / amount_tokens if amount_tokens > 0 else self.mid(t_ms))


def collateral_venues(ctx, params: KeeperParams, symbols: list[str]) -> dict[str, str | None]:
    """Per collateral reserve, the venue a keeper values and sells it at: its ``venues`` entry,
    else ``venue`` when that venue quotes the reserve's asset (``same_asset``: WETH is ETH), else
    None (the keeper does not take that collateral: it has nowhere to price or sell it)."""
    quoted = ctx.market_asset(params.venue)
    return {s: params.venues.get(s, params.venue if same_asset(s, quoted) else None) for s in symbols}


def _markets(ctx, params: KeeperParams, venue_of: dict[str, str | None], pool=None) -> list:
    """The market object of each reserve, in the order of the pool's symbols (the sell pool, with
    one), and for the reserves it keeps (``keep``, with ``pool``) their oracle price."""
    if params.sell_pool is not None:
        markets = [PoolSale(ctx, params.sell_pool)] * len(venue_of)
    else:
        markets = [ctx.market(v) if v is not None else None for v in venue_of.values()]
    if pool is not None:
        markets = [Kept(pool, r) if s in params.keep else m for r, (s, m) in enumerate(zip(venue_of, markets))]
    return markets


class Purchase(NamedTuple):
    """A swap that buys a liquidation's missing debt asset: ``amount_in`` of the pool's other
    token sold for at least ``min_out`` of the debt asset (tokens)."""

    token_in: str  # symbol in the swap pool
    amount_in: float
    min_out: float


#: What a keeper buys beyond a liquidation's planned repayment, as a share of it, when the close
#: factor and not its capital sizes the liquidation: the debt accrues interest between the plan and
#: the call (at 100% a year, 4e-7 of it per 12 s block), and the call must not find it short.
BUY_MARGIN = 1e-4
#: Relative slack on the amounts of a purchase, for float rounding of the pool's quote and its inverse.
FLOAT_SLACK = 1e-9
#: Share of its balance of the paying token a keeper leaves unspent when it sizes what it could buy,
#: so that a liquidation its capital sizes can always pay for its purchase.
SPEND_HAIRCUT = 1e-6


class DebtSource:
    """A constant-product pool a keeper buys debt assets on (``source_debt_on``): each of its two
    tokens is a reserve of the lending pool, bought with the other (Uniswap v2
    `UniswapV2Library.getAmountIn`: the least input for an exact output, 0.3% fee on the input).

    Parameters
    ----------
    ctx : AgentContext
    pool_name : str
        The ``amm.cpmm`` pool (it must have ``ledgers``).
    lending : LendingView
        The keeper's lending pool: its reserves' token ledgers say which reserve each token is.
    """

    def __init__(self, ctx, pool_name: str, lending):
        self.name = pool_name
        self._view = lambda: ctx.view(pool_name)
        ledgers = ctx.params_of(pool_name).ledgers or {}
        reserve_of_ledger = {lending.tokens[s]: r for r, s in enumerate(lending.symbols)}
        tokens = self._view()["tokens"]
        self.reserve = [reserve_of_ledger.get(ledgers.get(t)) for t in tokens]  # AMM side -> reserve
        if None in self.reserve:
            raise ValueError(f"source_debt_on: {pool_name} must trade two of the lending pool's tokens on their ledgers")
        self.tokens = tokens
        self.side = {r: k for k, r in enumerate(self.reserve)}  # reserve -> AMM side

    def buyable(self, balance: list[float]) -> list[float]:
        """Per reserve, the tokens the keeper holds plus what selling all it holds of the pool's
        other token would buy now (a hair under, for rounding): its capital in that debt asset."""
        v = self._view()
        reserves, fee = v["reserves"], v["fee"]
        capital = list(balance)
        for k in (0, 1):
            d, o = self.reserve[k], self.reserve[1 - k]
            spend = balance[o] * (1.0 - SPEND_HAIRCUT)
            if spend > 0:
                capital[d] += (1.0 - SPEND_HAIRCUT) * get_amount_out(spend, reserves[1 - k], reserves[k], fee)
        return capital

    def fund(self, plans: list[Plan], balance: list[float], prices: np.ndarray, swap_gas_usd: float,
             min_profit_usd: float) -> list[tuple[Plan, Purchase | None]]:
        """The plans (best first) the keeper can fund, each with the purchase it needs (None: its
        balance covers it), at most what it holds spent, each purchase priced against the pool's
        reserves as the earlier ones leave them. A purchase of ``short`` tokens paying ``amount_in``
        lowers the plan's profit by ``amount_in × p_in − short × p_debt`` (what the tokens cost
        beyond their oracle value: the pool's fee, its impact, its price against the oracle's) and
        by the swap's gas; plans then below ``min_profit_usd`` are dropped. A plan that the
        keeper's capital does not size (``debt_to_cover`` infinite) buys :data:`BUY_MARGIN` of its
        repayment more, for the interest accrued by the time it lands. A purchase whose
        liquidation then loses its race leaves the keeper holding the debt asset, which repays its
        next liquidation of that asset."""
        v = self._view()
        reserves, fee = list(v["reserves"]), v["fee"]
        own = list(balance)
        out = []
        for plan in plans:
            d, repaid = plan.debt, plan.debt_repaid
            short = repaid - own[d]
            if short <= 0:
                own[d] -= repaid
                out.append((plan, None))
                continue
            if d not in self.side:
                continue  # not an asset it can buy here
            k = self.side[d]
            o = self.reserve[1 - k]
            margin = 0.0 if math.isfinite(plan.debt_to_cover) else BUY_MARGIN * repaid
            buy = short * (1.0 + FLOAT_SLACK) + margin
            if not buy < reserves[k]:
                continue
            pay = get_amount_in(buy, reserves[1 - k], reserves[k], fee)
            if not (math.isfinite(pay) and pay <= own[o]):
                continue
            profit = plan.profit_usd - (pay * float(prices[o]) - short * float(prices[d])) - swap_gas_usd
            if profit < min_profit_usd:
                continue
            own[o] -= pay
            own[d] += buy - repaid
            reserves[1 - k] += pay
            reserves[k] -= buy
            out.append((plan._replace(profit_usd=profit), Purchase(self.tokens[1 - k], pay, short)))
        return out


def Keeper(ctx, params: KeeperParams, index: int):
    """Generator process of one keeper."""
    pool = ctx.view(params.pool)
    venue_of = collateral_venues(ctx, params, pool.symbols)
    markets = _markets(ctx, params, venue_of, pool)
    gas_price = ctx.gas_pricer(params.gas_venue)  # USD per native token
    tokens = pool.tokens
    source = None if params.source_debt_on is None else DebtSource(ctx, params.source_debt_on, pool)
    in_flight: dict[int, object] = {}  # account row -> receipt event of our liquidation
    sent_at: dict[int, int] = {}  # account row -> block number when it was (re)sent
    warned, next_check = False, 0  # told the summary it ran out of capital; when to look again
    pending = start_racing(ctx, params, params.pool, pool.liquidation_method, in_flight, gas_price)
    while True:
        yield ctx.new_block
        if params.think:
            yield ctx.delay(params.think)
        now = ctx.now
        for receipt in settle_in_flight(ctx, params, in_flight, sent_at):
            _sell_winnings(ctx, receipt, tokens, params, venue_of)
        cap_gwei, tip_gwei = bid(params.gas, ctx.chain)
        gas_usd = params.gas_limit * cap_gwei * 1e-9 * gas_price(now)
        prices = pool.prices_usd()
        balance = _balance(ctx, tokens, pool.symbols)
        capital = balance if source is None else source.buyable(balance)  # what it holds, or can buy
        mids = [m.mid(now) if m is not None else math.nan for m in markets]
        if not worth_planning(capital, prices, pool.max_bonus, mids, gas_usd, params.min_profit_usd, pool.borrowed()):
            if not warned and ctx.chain.number >= next_check:  # would a liquidation it can't afford pay?
                warned = _warn_if_out_of_capital(ctx, pool, markets, prices, gas_usd, params.min_profit_usd, now)
                next_check = ctx.chain.number + OUT_OF_CAPITAL_CHECK_BLOCKS
            continue  # nothing it could afford would pay
        # the shortlist plan_liquidations sizes, after the accounts it already has in flight
        shortlist = PLAN_SHORTLIST * params.max_per_block + len(in_flight)
        rows, hf, debt_usd = without_in_flight(pool.liquidation_candidates(largest=shortlist), in_flight)
        if rows.size == 0:
            continue
        plans = plan_liquidations(pool, markets, rows, prices, hf, gas_usd, params.min_profit_usd, now,
                                  params.max_per_block, debt_usd, np.array(capital))
        if source is None:
            funded = []
            for plan in plans:
                if balance[plan.debt] >= plan.debt_repaid:  # else not enough capital to repay this one
                    balance[plan.debt] -= plan.debt_repaid
                    funded.append((plan, None))
        else:
            swap_gas_usd = SWAP_GAS * cap_gwei * 1e-9 * gas_price(now)
            funded = source.fund(plans, balance, prices, swap_gas_usd, params.min_profit_usd)
        for plan, purchase in funded:
            if purchase is not None:  # the swap first: the next nonce, so the builder takes it before
                ctx.submit(Call(source.name, "swap", {"token_in": purchase.token_in, "amount_in": purchase.amount_in,
                                                      "min_amount_out": purchase.min_out}),
                           SWAP_GAS, cap_gwei, tip_gwei, private=params.race == "private")
            send_liquidation(ctx, params, _liquidation(params.pool, pool, plan), plan.row, plan.user,
                             plan.profit_usd + gas_usd, cap_gwei, tip_gwei, in_flight, sent_at, pending)


def settle_in_flight(ctx, params, in_flight: dict, sent_at: dict) -> list:
    """A keeper's pending liquidations after a block: forget those that landed or failed and
    return their receipts; re-bid (replace-by-fee, escalating both fees by the gas strategy's
    ``escalate``) those still waiting ``params.rebid_after_blocks`` blocks after they were sent.
    ``in_flight`` maps an account row to the receipt event of our call, ``sent_at`` to the block
    number it was (re)sent at; both are updated in place."""
    done = []
    for row, ev in list(in_flight.items()):
        if ev.triggered:
            del in_flight[row]
            sent_at.pop(row, None)
            done.append(ev.value)
        elif params.rebid_after_blocks and ctx.chain.number - sent_at[row] >= params.rebid_after_blocks:
            tx = ev.tx  # still waiting: escalate (a refused replacement is dropped at once)
            cap, tip = rebid(params.gas, ctx.chain, tx.max_fee_gwei, tx.priority_fee_gwei)
            replacement = ctx.replace(tx, cap, tip)
            if not replacement.triggered:
                in_flight[row] = replacement
            sent_at[row] = ctx.chain.number
    return done


def outbid_rivals(ctx, params, pool_name: str, liquidation_method: str, in_flight: dict, pending: dict, gas_price):
    """Generator process of a keeper that races (``race = "outbid"``): for every public
    transaction that liquidates an account the keeper has a liquidation pending for (the pool's
    liquidation call, or a liquidator contract's ``liquidate`` of that pool) and tips at least as
    much, replace ours by fee to tip more (:func:`defisim.chain.outbid`, Daian et al. 2019,
    "Flash Boys 2.0", arXiv:1904.05234) while the gas at the new fees stays below the profit the
    keeper expects before gas (``pending[user] = (row, profit_usd)``); past that it stops bidding
    and its call, if it lands behind the rival's, reverts and pays gas. ``in_flight`` maps the
    row to the receipt event of our call and is updated in place."""
    watch = ctx.watch_mempool()
    while True:
        tx = yield watch.get()
        if tx.sender == ctx.name:
            continue
        call = tx.call
        if not ((call.target == pool_name and call.method == liquidation_method)
                or (call.method == "liquidate" and call.args.get("pool") == pool_name)):
            continue
        row, profit_usd = pending.get(call.args.get("user"), (None, 0.0))
        ev = in_flight.get(row) if row is not None else None
        if ev is None or ev.triggered:
            continue
        mine = ev.tx
        if mine.priority_fee_gwei > tx.priority_fee_gwei:
            continue  # ahead already
        cap, tip = outbid(params.gas, ctx.chain, mine.max_fee_gwei, mine.priority_fee_gwei, tx.priority_fee_gwei)
        cost_usd = params.gas_limit * min(cap, ctx.base_fee_gwei + tip) * 1e-9 * gas_price(ctx.now)
        if tip <= tx.priority_fee_gwei or cost_usd > profit_usd:
            continue  # the fee ceiling or the profit stops it here
        replacement = ctx.replace(mine, cap, tip)
        if not replacement.triggered:
            in_flight[row] = replacement


def start_racing(ctx, params, pool_name: str, liquidation_method: str, in_flight: dict, gas_price) -> dict:
    """The accounts a keeper races for (user -> (row, expected profit before gas, USD)), filled
    by :func:`send_liquidation`; with ``race = "outbid"`` also start :func:`outbid_rivals` on them."""
    pending: dict[str, tuple[int, float]] = {}
    if params.race == "outbid":
        ctx.env.process(outbid_rivals(ctx, params, pool_name, liquidation_method, in_flight, pending, gas_price))
    return pending


def send_liquidation(ctx, params, call: Call, row: int, user: str, profit_usd: float, cap_gwei: float,
                     tip_gwei: float, in_flight: dict, sent_at: dict, pending: dict) -> None:
    """Send one liquidation (privately with ``race = "private"``) and track it: ``in_flight``,
    ``sent_at``, and ``pending`` (what an outbidding keeper may spend on gas for it)."""
    in_flight[row] = ctx.submit(call, params.gas_limit, cap_gwei, tip_gwei, private=params.race == "private")
    sent_at[row] = ctx.chain.number
    if params.race == "outbid":
        for u in [u for u, (r, _p) in pending.items() if r not in in_flight]:
            del pending[u]  # settled since: no longer raced for
        pending[user] = (row, profit_usd)


def without_in_flight(candidates, in_flight: dict):
    """The candidates (rows, hf, debt_usd) less the accounts we already have a liquidation pending for."""
    rows, hf, debt_usd = candidates
    if in_flight:
        free = ~np.isin(rows, np.fromiter(in_flight, dtype=np.int64, count=len(in_flight)))
        rows, hf, debt_usd = rows[free], hf[free], debt_usd[free]
    return rows, hf, debt_usd


#: Blocks between two looks, while a keeper's capital is spent, for a liquidation it could not afford
#: that would have paid (each look sizes the candidates: not free on a large book).
OUT_OF_CAPITAL_CHECK_BLOCKS = 50


def _warn_if_out_of_capital(ctx, pool, markets, prices: np.ndarray, gas_usd: float, min_profit_usd: float,
                            now: int) -> bool:
    """When the keeper's capital is spent: whether a liquidation it could not afford would have
    paid (sized with the capital it needs); if so, warn the run's summary. Returns whether it warned."""
    rows, hf, debt_usd = pool.liquidation_candidates()
    if rows.size == 0:
        return False
    plans = plan_liquidations(pool, markets, rows, prices, hf, gas_usd, min_profit_usd, now, 1, debt_usd)
    if not plans:
        return False
    ctx.warn(f"ran out of capital while {rows.size:,} accounts were liquidatable, the best at a profit of "
             f"${plans[0].profit_usd:,.0f}")
    return True


class BackrunnerParams(KeeperParams):
    """A keeper that backruns oracle updates with bundles (Flashbots MEV-Boost and bundle docs): ``payment_share`` of
    the expected profit goes to the builder as priority fee."""

    pool: LendingPool = Field(description="Aave v3 pool to watch (the backrunner reads which reserve its oracle prices)")
    oracle: protocol_of("oracles.push", role="push oracle") = Field(description="push oracle whose transmissions it backruns")
    payment_share: float = Field(0.5, ge=0, le=1,
        description="share of the expected profit paid to the builder as priority fee", json_schema_extra=unit("fraction"))


def Backrunner(ctx, params: BackrunnerParams, index: int):
    """Watch the public mempool for the oracle's transmissions; for each, size the liquidations
    that the new price will open and send the builder the bundle [transmission, liquidations]:
    under the bundle-auction ordering they land in the same block, right behind the update."""
    pool = ctx.view(params.pool)
    venue_of = collateral_venues(ctx, params, pool.symbols)
    markets = [ctx.market(v) if v is not None else None for v in venue_of.values()]
    gas_price = ctx.gas_pricer(params.gas_venue)  # USD per native token
    tokens = pool.tokens
    reserve = [s for s, o in ctx.params_of(params.pool).oracles.items() if o == params.oracle]
    r = pool.symbols.index(reserve[0])
    watch = ctx.watch_mempool()
    while True:
        tx = yield watch.get()
        if tx.call.target != params.oracle or tx.call.method != "transmit":
            continue
        now = ctx.now
        prices = pool.prices_usd().copy()
        prices[r] = tx.call.args["answer"]
        # at the price the update will set; the shortlist plan_liquidations sizes
        rows, hf, debt_usd = pool.liquidation_candidates(prices, PLAN_SHORTLIST * params.max_per_block)
        gas_price_usd = 1e-9 * gas_price(now)
        cap_gwei, _tip = bid(params.gas, ctx.chain)
        plans = plan_liquidations(pool, markets, rows, prices, hf, params.gas_limit * cap_gwei * gas_price_usd,
                                  params.min_profit_usd, now, params.max_per_block, debt_usd)
        capital = _balance(ctx, tokens, pool.symbols)
        chosen = []
        for plan in plans:
            if capital[plan.debt] >= plan.debt_repaid:
                capital[plan.debt] -= plan.debt_repaid
                chosen.append(plan)
        if not chosen:
            continue
        profit = sum(p.profit_usd for p in chosen)
        tip = params.payment_share * profit / (len(chosen) * params.gas_limit * gas_price_usd)
        items = [tx, *(_liquidation(params.pool, pool, p) for p in chosen)]
        deposits: dict[str, float] = {}
        if params.sell:
            # deposit the winnings at each collateral's venue inside the bundle (a separate public tx
            # would take a nonce the next bundle needs); a hair under the plan, as accrual can move it
            for plan in chosen:
                asset = pool.symbols[plan.collateral]
                deposits[asset] = deposits.get(asset, 0.0) + DEPOSIT_MARGIN * plan.liquidator_collateral
            items += [Call(tokens[a], "transfer", {"to": venue_address(venue_of[a]), "amount": d}) for a, d in deposits.items()]
        events = ctx.submit_bundle(items, params.gas_limit, ctx.base_fee_gwei * 2 + tip, tip)
        for k, (asset, deposit) in enumerate(deposits.items()):
            ctx.env.process(_sell_after(ctx, events[len(events) - len(deposits) + k], venue_of[asset], deposit,
                                        params.withdraw, _payout_ledger(params, tokens)))


#: Share of the planned winnings a backrunner deposits at its venue within the bundle.
DEPOSIT_MARGIN = 0.999
#: Gas limit of a keeper's swap on a pool (the pool's swap uses 110,000).
SWAP_GAS = 150_000


def _sell_after(ctx, deposit_event, venue: str, amount: float, withdraw=None, payout_ledger: str | None = None):
    receipt = yield deposit_event
    if receipt.ok:
        yield from _sell_and_withdraw(ctx, venue, amount, withdraw, payout_ledger)


def _sell_and_withdraw(ctx, venue: str, amount: float, withdraw: WithdrawalParams | None, payout_ledger: str | None):
    """Sell ``amount`` on ``venue``; with ``withdraw``, ask the venue's hot wallet on
    ``payout_ledger`` for the proceeds less its fee (:func:`~protocols.lending.withdrawals.withdrawal_amount`),
    paid ``withdraw.delay`` after the fill."""
    usd, _avg = yield ctx.sell_on(venue, amount)
    if withdraw is not None:
        payout = withdrawal_amount(usd, withdraw)
        if payout > 0:
            hot_wallet(ctx, venue, payout_ledger).request(ctx.name, payout, withdraw.delay, withdraw.gas)


def _balance(ctx, tokens: dict[str, str], symbols: list[str]) -> list[float]:
    """The keeper's on-chain balance of each reserve's token."""
    return [ctx.view(tokens[sym]).balance_of(ctx.name) for sym in symbols]


def _deposit_and_sell(ctx, ledger: str, venue: str, amount: float, params: KeeperParams,
                      payout_ledger: str | None = None):
    """Move won collateral to the venue's deposit address (an on-chain transfer), then sell it
    there; with ``withdraw``, withdraw the proceeds to ``payout_ledger``."""
    cap, tip = bid(params.gas, ctx.chain)
    receipt = yield ctx.submit(Call(ledger, "transfer", {"to": venue_address(venue), "amount": amount}), 60_000, cap, tip)
    if receipt.ok:
        yield from _sell_and_withdraw(ctx, venue, amount, getattr(params, "withdraw", None), payout_ledger)


class BorrowerGuardParams(BaseModel):
    """Borrowers who defend their positions: a ``share`` of the pool's borrowers each watch their
    health factor and, once it falls below a personal ``threshold``, notice after a ``reaction``
    delay and repay debt from their wallet to bring it back to ``target_hf``. Their repayments
    are transactions like any other: in a congested block they wait. The others do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: LendingPool = Field(description="lending pool whose borrowers defend themselves")
    share: float = Field(0.3, ge=0, le=1,
        description="share of the pool's borrowers that do", json_schema_extra=unit("fraction"))
    threshold: Distribution = Field(Uniform(low=1.02, high=1.15),
        description="health factor below which a guard acts, drawn per borrower")
    target_hf: float = Field(1.3, gt=1, description="health factor a repayment brings the position back to")
    reaction: LatencyMs = Field(Exponential(mean=30_000),
        description="delay between the health factor crossing the threshold and the repayment", json_schema_extra=unit("ms"))
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.2), description="gas bidding of the repayments")
    gas_limit: int = Field(200_000, gt=0, description="gas limit of a repayment", json_schema_extra=unit("gas"))


def BorrowerGuard(ctx, params: BorrowerGuardParams, index: int):
    """One process for the whole crowd: the HF check is vectorised over the watching borrowers;
    each repayment is signed by the borrower's own address (``ctx.account``)."""
    pool = ctx.view(params.pool)
    rng = ctx.rng
    rows = np.array([r for r in range(pool.n_accounts()) if pool.owner(r) != "lenders"], dtype=np.int64)
    watching = rows[rng.random(rows.size) < params.share]
    threshold = params.threshold.sample(rng, watching.size)
    busy = np.zeros(watching.size, dtype=bool)
    while True:
        yield ctx.new_block
        hf = pool.health_factors()[watching]
        for i in np.flatnonzero((hf < threshold) & ~busy).tolist():
            busy[i] = True
            delay = int(round(float(params.reaction.sample(rng, 1)[0])))
            ctx.env.process(_defend(ctx, params, pool, int(watching[i]), delay, busy, i))


def _defend(ctx, params: BorrowerGuardParams, pool, row: int, delay_ms: int, busy: np.ndarray, i: int):
    yield ctx.delay(delay_ms)
    coll, debt = pool.position(row)
    prices = pool.prices_usd()
    rd = int(np.argmax(debt * prices))
    # repay so that Σ coll·p·LT / (debt_usd − x·p_d) = target
    excess_usd = debt @ prices - (coll * prices) @ pool.thresholds(row) / params.target_hf
    owner = ctx.account(pool.owner(row))
    wallet = owner.view(ctx.params_of(params.pool).tokens[pool.symbols[rd]]).balance_of(owner.name)
    amount = min(excess_usd / prices[rd], wallet, debt[rd])
    if amount > 0:
        cap, tip = bid(params.gas, ctx.chain)
        yield owner.submit(Call(params.pool, "repay", {"asset": pool.symbols[rd], "amount": float(amount)}),
                           params.gas_limit, cap, tip)
    busy[i] = False
