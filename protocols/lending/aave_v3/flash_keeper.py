"""Flash-loan liquidation keepers: no capital, one atomic transaction per liquidation.

After each block a flash keeper reads the pool's candidates (HF < 1 at on-chain prices), sizes
each liquidation against the depth of the on-chain pool it would sell the collateral on, and
sends its liquidator contract (``lending.flash_liquidator``) one ``liquidate`` call per account:
borrow the debt asset (Aave v3 `Pool.flashLoanSimple` from the pool itself or another, a flash
vault, or a Uniswap v2 flash swap from the swap pool), liquidate, sell, repay, keep the rest.

Sizing (what a liquidation searcher does): the liquidation pays ``k`` collateral tokens per
debt token repaid (Aave v3 `LiquidationLogic.executeLiquidationCall`: the bonus, less the
protocol fee), so repaying ``x`` tokens leaves ``out(k·x) − (1 + premium)·x`` debt tokens after
selling the collateral into a pool of output ``out`` (concave: price impact). That is largest
where the pool's marginal price ``k·out'(k·x)`` falls to ``1 + premium``, which in a thin pool
is well below the most the close factor allows: the keeper repays that much (when the pool
accepts a partial liquidation of that size, else the maximum), found by a bounded scalar
search (``scipy.optimize.minimize_scalar``) on the pools' own pure quotes. A flash swap pays
``k·x − in(x)`` collateral tokens, ``in`` the pair's ``getAmountIn``.
"""
from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.optimize import minimize_scalar

from defisim.base import Call, DurationMs, GasVenue, protocol_of, unit
from defisim.chain import GasStrategy, PercentileTip, bid

from protocols.amm.math import exchange_amounts, get_amount_in, get_amount_in_vec, get_amount_out, get_amount_out_vec
from protocols.lending.flash import FLASH_LIQUIDATION_GAS

from .agents import PLAN_SHORTLIST, RACE_DOC, Race, largest_debts, send_liquidation, settle_in_flight, start_racing

__all__ = ["FlashKeeperParams", "FlashKeeper", "Route", "best_repay", "FlashPlan", "SizedOptions", "size_options",
           "pick_plans", "plan_flash_liquidations"]

#: Relative tolerance of the size search (of the most the close factor allows).
SIZE_RTOL = 1e-9


class FlashKeeperParams(BaseModel):
    """A keeper that liquidates with flash loans through its liquidator contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: protocol_of("lending.aave_v3", role="lending pool") = Field(description="Aave v3 pool to watch")
    contract: protocol_of("lending.flash_liquidator", role="liquidator contract") = Field(
        description="the keeper's liquidator contract (lending.flash_liquidator)")
    swap_pools: tuple[protocol_of("amm.", role="AMM pool"), ...] = Field(min_length=1,
        description="on-chain pools it sells collateral on (amm.cpmm, amm.stableswap, with ledgers): each trades "
        "one collateral reserve's token against one debt reserve's token; a pair with no pool is not liquidated")
    lender: protocol_of("lending.aave_v3", "lending.flash_vault", role="flash lender") | None = Field(
        None, description="where it borrows the debt asset: an Aave v3 pool (flashLoanSimple, its "
        "`flash_loan_premium`) or a flash vault (default: the pool it liquidates)")
    flash_swap: bool = Field(False, description="borrow the debt asset from the swap pool by a Uniswap v2 flash "
        "swap and repay it in collateral (amm.cpmm pools only), instead of a flash loan from `lender`")
    size: Literal["best", "max"] = Field("best", description="repay what makes the most profit against the swap "
        "pool's depth ('best'), or the most the close factor allows ('max')")
    gas_venue: GasVenue = Field(None, description="venue quoting the chain's native asset, pricing gas in USD "
                                "(default: the native asset's feed, chain.native_asset)")
    max_per_block: int = Field(5, ge=1, description="most liquidations sent after one block")
    max_pending: int | None = Field(None, ge=1, description="most liquidations of its own waiting in the mempool "
        "at once: it sends more only as they land (default: max_per_block)")
    min_profit_usd: float = Field(10.0, ge=0,
        description="send a liquidation only if its expected profit after gas exceeds this", json_schema_extra=unit("USD"))
    gas: GasStrategy = Field(PercentileTip(quantile=0.9, markup=2.0), description="gas bidding of its liquidations")
    gas_limit: int = Field(700_000, ge=FLASH_LIQUIDATION_GAS, description="gas limit of a flash liquidation (a flash "
        "loan, liquidationCall and one DEX swap use 500k–1.0M gas on Ethereum mainnet)", json_schema_extra=unit("gas"))
    think: DurationMs = Field(500, ge=0, description="compute delay after a block before sending")
    rebid_after_blocks: int = Field(
        0, ge=0, description="re-bid a liquidation still pending after this many blocks, escalating both fees "
        "by the gas strategy's `escalate` (replace-by-fee); 0: never")
    race: Race = Field("none", description=RACE_DOC)

    @model_validator(mode="after")
    def _one_source(self):
        if self.flash_swap and self.lender is not None:
            raise ValueError("lender: a flash swap borrows from the swap pool; give no lender with flash_swap")
        return self


class Route:
    """One way to turn seized collateral into the debt repaid: a swap pool trading collateral
    reserve ``c`` against debt reserve ``d``, and the loan's premium. Quotes with the pools' pure
    math (token units) on a copy of the pool's reserves taken by :meth:`refresh`, which
    :meth:`trade` moves as the keeper's own liquidations of the block would, in order: each
    liquidation it sends sells into the pool after the ones before it."""

    def __init__(self, ctx, name: str, c_symbol: str, d_symbol: str, premium: float, flash_swap: bool):
        self.name, self.premium, self.flash_swap = name, premium, flash_swap
        self._view = lambda: ctx.view(name)
        v = self._view()
        self._i = v["tokens"].index(c_symbol)  # the collateral's index in the pool
        self._stable = v["kind"] == "amm.stableswap"
        self._fee, self._a = v["fee"], v.get("A")
        self.reserves = list(v["reserves"])

    def refresh(self) -> None:
        """Take the pool's reserves now."""
        self.reserves = list(self._view()["reserves"])

    def reserves_now(self) -> tuple:
        """The pool's reserves now (token units)."""
        return self._view()["reserves"]

    def _sell(self, amount: float, reserves: list) -> float:
        """Debt tokens out of selling ``amount`` collateral tokens at ``reserves``."""
        i = self._i
        if self._stable:
            return exchange_amounts(i, 1 - i, amount, reserves, self._a, self._fee)[0]
        return get_amount_out(amount, reserves[i], reserves[1 - i], self._fee)

    def profit_fn(self, k: float):
        """Tokens the keeper keeps when it repays ``x`` debt tokens receiving ``k·x`` collateral,
        as a function of ``x`` (debt tokens for a loan, collateral tokens for a flash swap)."""
        r, i, fee = list(self.reserves), self._i, self._fee
        if self.flash_swap:
            return lambda x: k * x - get_amount_in(x, r[i], r[1 - i], fee)
        premium = 1.0 + self.premium
        return lambda x: self._sell(k * x, r) - premium * x

    def best(self, k: np.ndarray, x_max: np.ndarray, size: str = "best") -> tuple[np.ndarray, np.ndarray]:
        """Per liquidation (``k`` collateral per debt token, at most ``x_max`` repaid): the
        repayment that keeps most and what it keeps (tokens), at the reserves now. A
        constant-product pool (fee ``f``, ``γ = 1 − f``) has it in closed form: a loan at premium
        ``p`` peaks where ``R_in + γkx = sqrt(γk·R_in·R_out / (1 + p))``, a flash swap where
        ``R_out − x = sqrt(R_in·R_out / (γk))``; a StableSwap pool by :func:`best_repay`."""
        k, x_max = np.asarray(k, dtype=np.float64), np.asarray(x_max, dtype=np.float64)
        if size != "best":
            return x_max, np.array([self.profit_fn(a)(b) for a, b in zip(k.tolist(), x_max.tolist())])
        if self._stable:
            pairs = [best_repay(self.profit_fn(a), b) for a, b in zip(k.tolist(), x_max.tolist())]
            return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        r, i, fee = self.reserves, self._i, self._fee
        r_in, r_out, gamma = r[i], r[1 - i], 1.0 - fee
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.flash_swap:
                x = r_out - np.sqrt(r_in * r_out / (gamma * k))
            else:
                x = (np.sqrt(gamma * k * r_in * r_out / (1.0 + self.premium)) - r_in) / (gamma * k)
        x = np.where(x > 0, np.minimum(x, x_max), x_max)  # no interior peak: the end point, for the record
        if self.flash_swap:
            return x, k * x - get_amount_in_vec(x, r_in, r_out, fee)
        return x, get_amount_out_vec(k * x, r_in, r_out, fee) - (1.0 + self.premium) * x

    def best_one(self, k: float, x_max: float, size: str = "best") -> tuple[float, float]:
        """:meth:`best` for one liquidation, in plain floats: the same arithmetic, the same results."""
        if size != "best":
            return x_max, self.profit_fn(k)(x_max)
        if self._stable:
            return best_repay(self.profit_fn(k), x_max)
        r, i, fee = self.reserves, self._i, self._fee
        r_in, r_out, gamma = r[i], r[1 - i], 1.0 - fee
        if self.flash_swap:
            x = r_out - math.sqrt(r_in * r_out / (gamma * k))
        else:
            x = (math.sqrt(gamma * k * r_in * r_out / (1.0 + self.premium)) - r_in) / (gamma * k)
        x = min(x, x_max) if x > 0 else x_max  # no interior peak: the end point, for the record
        if self.flash_swap:
            return x, k * x - get_amount_in(x, r_in, r_out, fee)
        return x, get_amount_out(k * x, r_in, r_out, fee) - (1.0 + self.premium) * x

    def trade(self, k: float, x: float) -> None:
        """Move the reserves as repaying ``x`` (receiving ``k·x`` collateral) would."""
        r, i = self.reserves, self._i
        if self.flash_swap:
            r[i] += get_amount_in(x, r[i], r[1 - i], self._fee)
            r[1 - i] -= x
        else:
            out = self._sell(k * x, r)
            r[i] += k * x
            r[1 - i] -= out


def best_repay(profit, x_max: float) -> tuple[float, float]:
    """The repayment in ``(0, x_max]`` that makes ``profit`` (concave in it) largest, and that
    profit: a bounded scalar search, then the end point ``x_max`` when it does as well."""
    at_max = profit(x_max)
    if not x_max > 0:
        return x_max, at_max
    res = minimize_scalar(lambda x: -profit(x), bounds=(0.0, x_max), method="bounded",
                          options={"xatol": SIZE_RTOL * x_max})
    x, best = float(res.x), -float(res.fun)
    return (x, best) if best > at_max and x < x_max else (x_max, at_max)


class FlashPlan(NamedTuple):
    """A flash liquidation worth sending: expected profit after gas (USD) and the call's arguments."""

    profit_usd: float
    row: int
    user: str
    collateral: int  # reserve index
    debt: int  # reserve index
    debt_to_cover: float  # tokens; inf: the most the close factor allows
    route: Route


class SizedOptions(NamedTuple):
    """Candidate liquidations sized on their routes at the pools now, one entry each (arrays of
    one length): the tokens each keeps before gas and the reserve they are in (the collateral
    for a flash swap, the debt asset for a loan), its account row, the (collateral, debt) pair
    of reserve indices, ``k`` collateral per debt token, the most the close factor allows (debt
    tokens) and whether the pool accepts the partial repayment the best size asks for."""

    tokens: np.ndarray
    kept_in: np.ndarray
    row: np.ndarray
    collateral: np.ndarray
    debt: np.ndarray
    k: np.ndarray
    x_max: np.ndarray
    partial: np.ndarray


NO_OPTIONS = SizedOptions(*(np.zeros(0, dtype=t) for t in (float, np.int64, np.int64, np.int64, np.int64, float, float,
                                                             bool)))


def size_options(pool, routes: dict, rows: np.ndarray, hf: np.ndarray, prices: np.ndarray,
                 debt_usd: np.ndarray, shortlist: int, size: str = "best") -> SizedOptions:
    """The largest debts among the candidates ``rows`` (``shortlist`` of them) sized by the pool
    (:meth:`PoolView.quote_pair`, the most the close factor allows) on each pair with a route,
    and for profit against the route's depth (:func:`best_repay`), at the pools' reserves now.
    Nothing here depends on who asks: keepers with the same routes share it within a block."""
    if rows.size == 0 or not routes:
        return NO_OPTIONS
    rows, hf = largest_debts(pool, rows, hf, prices, debt_usd, shortlist)
    coll, owed = pool.positions(rows)
    parts = []
    for (c, d), route in routes.items():
        on = np.flatnonzero((coll[:, c] > 0) & (owed[:, d] > 0))  # accounts holding both sides of the pair
        if on.size == 0:
            continue
        route.refresh()
        pair = np.full(on.size, c), np.full(on.size, d)
        q = pool.quote_pair(rows[on], hf[on], prices, *pair)
        ok = np.flatnonzero(q.ok & (q.liquidator_collateral > 0))
        if ok.size == 0:
            continue
        x_max = q.debt_repaid[ok]
        k = q.liquidator_collateral[ok] / x_max
        x, tokens = route.best(k, x_max, size)
        partial = x < x_max
        if partial.any():  # a partial repayment the pool must accept (v3.3: no dust left behind)
            cover = np.where(partial, x, np.inf)
            accepted = pool.quote_pair(rows[on[ok]], hf[on[ok]], prices, pair[0][ok], pair[1][ok], debt_to_cover=cover).ok
            refused = partial & ~accepted
            if refused.any():
                tokens = np.where(refused, route.best(k, x_max, "max")[1], tokens)
                partial &= accepted
        kept_in = pair[0][ok] if route.flash_swap else pair[1][ok]
        parts.append(SizedOptions(tokens, kept_in, rows[on[ok]], pair[0][ok], pair[1][ok], k, x_max, partial))
    if not parts:
        return NO_OPTIONS
    return SizedOptions(*(np.concatenate(field) for field in zip(*parts)))


def pick_plans(pool, routes: dict, options: SizedOptions, prices: np.ndarray, gas_usd: float,
               min_profit_usd: float, limit: int, size: str = "best", exclude=()) -> list[FlashPlan]:
    """The best ``limit`` of ``options`` for one keeper: profit at the oracle price of the asset it
    is in, less ``gas_usd``, best first (ties by row, then route); each sized again on the reserves
    the ones before it leave (its own sales of the block, in order) and kept while it clears
    ``min_profit_usd``; one plan per account, none for the rows in ``exclude``."""
    if options.row.size == 0:
        return []
    usd_per_token = prices[options.kept_in]
    usd = options.tokens * usd_per_token
    keep = usd - gas_usd >= min_profit_usd
    if exclude:
        keep &= ~np.isin(options.row, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
    at = np.flatnonzero(keep)
    at = at[np.lexsort((options.row[at], -usd[at]))]
    for route in routes.values():
        route.refresh()
    plans: list[FlashPlan] = []
    taken: set[int] = set()
    for i in at.tolist():
        if len(plans) == limit:
            break
        row = int(options.row[i])
        if row in taken:
            continue
        c, d = int(options.collateral[i]), int(options.debt[i])
        route = routes[(c, d)]
        k, x_max = float(options.k[i]), float(options.x_max[i])
        x, tokens = route.best_one(k, x_max, size if options.partial[i] else "max")
        # a smaller partial than the pool accepted leaves more debt and collateral behind: accepted too
        profit = tokens * float(usd_per_token[i]) - gas_usd
        if profit < min_profit_usd:
            continue
        route.trade(k, x)
        taken.add(row)
        plans.append(FlashPlan(profit, row, pool.owner(row), c, d, x if x < x_max else math.inf, route))
    return plans


def plan_flash_liquidations(pool, routes: dict, rows: np.ndarray, hf: np.ndarray, prices: np.ndarray,
                            debt_usd: np.ndarray, gas_usd: float, min_profit_usd: float, limit: int,
                            size: str = "best") -> list[FlashPlan]:
    """The most profitable flash liquidations among the candidates ``rows``, best first, at most
    ``limit`` (``routes`` maps a (collateral, debt) pair of reserve indices to its :class:`Route`):
    :func:`size_options` on the largest ``PLAN_SHORTLIST × limit`` debts, then :func:`pick_plans`."""
    options = size_options(pool, routes, rows, hf, prices, debt_usd, PLAN_SHORTLIST * limit, size)
    return pick_plans(pool, routes, options, prices, gas_usd, min_profit_usd, limit, size)


def routes_of(ctx, params: FlashKeeperParams, pool) -> dict:
    """The keeper's routes: for each swap pool, the (collateral, debt) pair of the lending pool's
    reserves whose tokens it trades (matched by token ledger), in both directions."""
    by_ledger = {ledger: pool.symbols.index(sym) for sym, ledger in pool.tokens.items()}
    lender = params.lender or params.pool
    lender_params = ctx.params_of(lender)
    premium = getattr(lender_params, "flash_loan_premium", getattr(lender_params, "premium", 0.0))
    routes = {}
    for name in params.swap_pools:
        ledgers = ctx.params_of(name).ledgers or {}
        reserves = {sym: by_ledger[led] for sym, led in ledgers.items() if led in by_ledger}
        if len(reserves) != 2:
            continue  # it does not trade two of the pool's reserves
        (s0, r0), (s1, r1) = reserves.items()
        for (cs, c), (ds, d) in (((s0, r0), (s1, r1)), ((s1, r1), (s0, r0))):
            routes.setdefault((c, d), Route(ctx, name, cs, ds, 0.0 if params.flash_swap else premium, params.flash_swap))
    return routes


def _flash_call(params: FlashKeeperParams, pool, plan: FlashPlan) -> Call:
    args = {"pool": params.pool, "collateral_asset": pool.symbols[plan.collateral],
            "debt_asset": pool.symbols[plan.debt], "user": plan.user, "swap_pool": plan.route.name,
            "lender": "" if params.flash_swap else (params.lender or params.pool),
            "debt_to_cover": plan.debt_to_cover}
    return Call(params.contract, "liquidate", args)


def FlashKeeper(ctx, params: FlashKeeperParams, index: int):
    """Generator process of one flash keeper."""
    pool = ctx.view(params.pool)
    routes = routes_of(ctx, params, pool)
    gas_price = ctx.gas_pricer(params.gas_venue)  # USD per native token
    in_flight: dict[int, object] = {}  # account row -> receipt event of our liquidation
    sent_at: dict[int, int] = {}  # account row -> block number when it was (re)sent
    pending = start_racing(ctx, params, params.pool, pool.liquidation_method, in_flight, gas_price)
    # the shortlist leaves room for the rows a keeper has in flight (at most max_pending of them)
    shortlist = PLAN_SHORTLIST * params.max_per_block + (params.max_pending or params.max_per_block)
    shared = ctx.shared(f"flash-options:{params.pool}:{sorted(params.swap_pools)}:{params.lender}:{params.flash_swap}", dict)
    while True:
        yield ctx.new_block
        if params.think:
            yield ctx.delay(params.think)
        settle_in_flight(ctx, params, in_flight, sent_at)
        room = min(params.max_per_block, (params.max_pending or params.max_per_block) - len(in_flight))
        if room <= 0:
            continue
        rows, hf, debt_usd = pool.liquidation_candidates(largest=shortlist)  # all size_options looks at
        if rows.size == 0:
            continue
        prices = pool.prices_usd()
        # sized once per block and pool state for every keeper with the same routes and shortlist
        key = (ctx.chain.number, pool.state_version, prices.tobytes(), params.size, shortlist,
               tuple(sorted({r.name: tuple(r.reserves_now()) for r in routes.values()}.items())))
        if shared.get("key") != key:
            shared["key"], shared["options"] = key, size_options(pool, routes, rows, hf, prices, debt_usd, shortlist,
                                                                 params.size)
        cap_gwei, tip_gwei = bid(params.gas, ctx.chain)
        gas_usd = params.gas_limit * cap_gwei * 1e-9 * gas_price(ctx.now)
        plans = pick_plans(pool, routes, shared["options"], prices, gas_usd, params.min_profit_usd, room, params.size,
                           in_flight)
        for plan in plans:
            send_liquidation(ctx, params, _flash_call(params, pool, plan), plan.row, plan.user,
                             plan.profit_usd + gas_usd, cap_gwei, tip_gwei, in_flight, sent_at, pending)
