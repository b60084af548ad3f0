"""The actors around a Maker system: who pokes the Spotter, barks or bites unsafe vaults, takes
Dutch auctions, bids English auctions, and heals and auctions the Vow's debt.

Every action is a transaction with a gas bid (:mod:`defisim.chain.gas`): when congestion prices
a keeper out it cannot bark, take or bid, which is how auctions closed on near-zero bids on
12 March 2020 (Maker forum post-mortem "Black Thursday Response Thread"; mechanics: dss
`flip.sol` ``tend`` accepts any bid above the last one). Each agent keeps at most one
transaction in flight per auction or vault.
"""
from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from defisim.base import Call, DurationMs, Exponential, LatencyMs, TxStatus, protocol_of, unit
from defisim.chain import GasStrategy, PercentileTip, bid

from protocols.amm.math import get_amount_out

__all__ = ["SpotPokerParams", "SpotPoker", "BarkerParams", "Barker", "ClipTakerParams", "ClipTaker",
           "FlipBidderParams", "FlipBidder", "VowKeeperParams", "VowKeeper", "VowBidderParams", "VowBidder",
           "VaultGuardParams", "VaultGuard", "PsmArbitrageurParams", "PsmArbitrageur"]

_CONFIG = ConfigDict(extra="forbid", frozen=True)
_SYSTEM = protocol_of("maker.dss", role="Maker system")


def _landed(pending: dict) -> None:
    """Forget the transactions that are no longer pending (included, reverted or dropped)."""
    for key in [k for k, ev in pending.items() if ev.triggered]:
        del pending[key]


def _send(ctx, params, pending: dict, key, target: str, method: str, args: dict) -> None:
    cap, tip = bid(params.gas, ctx.chain)
    pending[key] = ctx.submit(Call(target, method, args), params.gas_limit, cap, tip)


class SpotPokerParams(BaseModel):
    """Pokes the Spotter of each ilk whose oracle price moved since its spot was set (oracle
    keepers poke the OSM, then the Spotter: dss `spot.sol` ``poke``)."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.2), description="gas bidding of the pokes")
    gas_limit: int = Field(100_000, gt=0, description="gas limit of a poke", json_schema_extra=unit("gas"))


def SpotPoker(ctx, params: SpotPokerParams, index: int):
    """After each block, a ``poke(ilk)`` for every ilk whose spot is not its oracle's price now."""
    pending: dict = {}
    while True:
        yield ctx.new_block
        _landed(pending)
        view = ctx.view(params.system)
        for ilk in view.ilk_names:
            if ilk not in pending and view.spot_is_stale(ilk):
                _send(ctx, params, pending, ilk, params.system, "poke", {"ilk": ilk})


class BarkerParams(BaseModel):
    """Liquidates unsafe vaults: ``bark`` (Liquidations 2.0, for the incentive ``tip + tab·chip``)
    or ``bite`` (1.2), the largest debts first."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    max_per_block: int = Field(10, ge=1, description="most liquidations sent after one block")
    gas: GasStrategy = Field(PercentileTip(quantile=0.9, markup=1.5), description="gas bidding of its liquidations")
    gas_limit: int = Field(300_000, gt=0, description="gas limit of a bark or bite (150k–300k on mainnet)",
                           json_schema_extra=unit("gas"))


def Barker(ctx, params: BarkerParams, index: int):
    """After each block, bark or bite up to ``max_per_block`` unsafe vaults not already in flight.
    A bark is sent only if the Dog would take it now, with the room (``Hole``/``hole`` less
    ``Dirt``/``dirt``, public state) less the tabs of its own barks still in flight."""
    pending: dict = {}
    in_flight_tab: dict = {}  # row -> (ilk, tab) of its barks not yet landed
    while True:
        yield ctx.new_block
        _landed(pending)
        for row in [r for r in in_flight_tab if r not in pending]:
            del in_flight_tab[row]
        view = ctx.view(params.system)
        names = view.ilk_names
        clip = [view.params.ilks[n].auction == "clip" for n in names]
        room = np.array([view.bark_room(n) - sum(t for i, t in in_flight_tab.values() if i == n) if c else np.inf
                         for n, c in zip(names, clip)])
        rows, ilks = view.bark_candidates(room, params.max_per_block + len(pending))
        sent = 0
        for row, i in zip(rows.tolist(), ilks.tolist()):
            if sent == params.max_per_block:
                break
            if row in pending:
                continue
            if clip[i]:
                seizure = view.would_bark(row, float(room[i]))  # with the room its earlier barks left
                if seizure is None:
                    continue
                room[i] -= seizure.tab
                in_flight_tab[row] = (names[i], seizure.tab)
            _send(ctx, params, pending, row, params.system, "bark" if clip[i] else "bite",
                  {"ilk": names[i], "vault": view.owner(row)})
            sent += 1


class ClipTakerParams(BaseModel):
    """Takes Dutch auctions once their price is ``discount`` below the market (the mid of
    ``venue``): with its DAI (capital), or with ``swap_pool`` through a ``clipperCall`` that sells
    the collateral on chain inside the take (no capital). Resets auctions that need it (``redo``,
    for its incentive)."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    venue: str = Field(description="off-chain venue whose mid values the collateral (USD per token)")
    discount: float = Field(0.05, ge=0, lt=1, description="takes at a price at most mid × (1 − discount)",
                            json_schema_extra=unit("fraction"))
    swap_pool: protocol_of("amm.", role="AMM pool") | None = Field(
        None, description="sell the collateral on this pool within the take (take_and_sell) instead of paying with DAI held")
    max_per_block: int = Field(5, ge=1, description="most takes sent after one block")
    redo: bool = Field(True, description="reset auctions that need it")
    gas: GasStrategy = Field(PercentileTip(quantile=0.9, markup=1.5), description="gas bidding of its takes")
    gas_limit: int = Field(500_000, gt=0, description="gas limit of a take (250k–600k with a swap callback)",
                           json_schema_extra=unit("gas"))


def ClipTaker(ctx, params: ClipTakerParams, index: int):
    """After each block, take each running auction whose price at the next block is cheap enough."""
    pending: dict = {}
    market = ctx.market(params.venue)
    system = ctx.params_of(params.system)
    dai = system.dai
    gem_symbol = None
    if params.swap_pool is not None:  # the pool's symbol of the (one) ilk's gem it trades
        ledgers = ctx.params_of(params.swap_pool).ledgers or {}
        gems = {ilk.gem for ilk in system.ilks.values()}
        gem_symbol = next((sym for sym, led in ledgers.items() if led in gems), None)
    while True:
        yield ctx.new_block
        _landed(pending)
        view = ctx.view(params.system)
        sales = view.sales()
        next_s = (ctx.now + ctx.chain.spec.slot) // 1000
        ids, prices, done = view.running_sales(next_s)
        limit = market.mid(ctx.now) * (1 - params.discount)
        # the pool's reserves as this keeper's own sales of the block will leave them, in order
        pool = None if params.swap_pool is None else {**ctx.view(params.swap_pool)}
        cash = ctx.view(dai).balance_of(ctx.name) if pool is None else 0.0
        worth = (prices <= limit) | done
        if pool is not None:  # no slice sells above the pool's marginal price after its fee
            worth &= (prices < _marginal_price(pool, gem_symbol)) | done
        sent = 0
        for k, price, reset in zip(ids[worth].tolist(), prices[worth].tolist(), done[worth].tolist()):
            if sent == params.max_per_block:
                break
            if k in pending:
                continue
            if reset:
                if params.redo:
                    _send(ctx, params, pending, k, params.system, "redo", {"auction_id": k})
                    sent += 1
                continue
            lot = float(sales["lot"][k])
            args = {"auction_id": k, "amt": lot, "max_price": limit}  # the most it pays per token
            if pool is not None:
                amt = _sellable(pool, gem_symbol, lot, float(sales["tab"][k]), price)
                if amt is None:
                    continue
                _send(ctx, params, pending, k, params.system, "take_and_sell",
                      {**args, "amt": amt, "swap_pool": params.swap_pool})
            else:
                if cash <= 0:
                    continue
                args["amt"] = min(lot, cash / price)
                cash -= args["amt"] * price
                _send(ctx, params, pending, k, params.system, "take", args)
            sent += 1


def _marginal_price(pool: dict, gem_symbol: str | None) -> float:
    """DAI per collateral token of the first unit sold into a constant-product pool (after its fee)."""
    if gem_symbol is None or gem_symbol not in pool["tokens"]:
        return 0.0
    i = pool["tokens"].index(gem_symbol)
    return pool["reserves"][1 - i] / pool["reserves"][i] * (1 - pool["fee"])


def _sellable(pool: dict, gem_symbol: str | None, lot: float, tab: float, price: float) -> float | None:
    """The most collateral (the lot, else halves of it, down to 1/16) whose sale on ``pool`` (a
    constant-product pool's view, as a dict whose ``reserves`` this moves by the sale it plans)
    brings more DAI than the take costs at ``price``, or None."""
    if gem_symbol is None or gem_symbol not in pool["tokens"] or not price > 0:
        return None
    i = pool["tokens"].index(gem_symbol)
    r_in, r_out = pool["reserves"][i], pool["reserves"][1 - i]
    amt = lot
    for _ in range(5):
        slice_ = min(amt, tab / price)
        out = get_amount_out(slice_, r_in, r_out, pool["fee"])
        if out > slice_ * price:
            reserves = [0.0, 0.0]
            reserves[i], reserves[1 - i] = r_in + slice_, r_out - out
            pool["reserves"] = tuple(reserves)
            return amt
        amt /= 2
    return None


class FlipBidderParams(BaseModel):
    """Bids on English auctions (Liquidations 1.2) with its DAI: up to the lot's value at the
    mid of ``venue`` less ``discount``, in ``beg`` steps (tend), then less collateral for the tab
    (dent); settles auctions whose time is up (``deal``) and restarts those without a bid
    (``tick``). With ``opening_bid_dai``, it opens an auction nobody has bid on with that bid
    (the near-zero bids of 12 March 2020) and raises only when a rival bids."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    venue: str = Field(description="off-chain venue whose mid values the collateral (USD per token)")
    discount: float = Field(0.05, ge=0, lt=1, description="bids at most the lot's value × (1 − discount)",
                            json_schema_extra=unit("fraction"))
    opening_bid_dai: float | None = Field(None, gt=0, description="first bid on an auction with no bid (None: "
                                          "bid what the lot is worth at once)")
    max_per_block: int = Field(5, ge=1, description="most bids sent after one block")
    gas: GasStrategy = Field(PercentileTip(quantile=0.9, markup=1.5), description="gas bidding of its bids")
    gas_limit: int = Field(200_000, gt=0, description="gas limit of a bid", json_schema_extra=unit("gas"))


def FlipBidder(ctx, params: FlipBidderParams, index: int):
    """After each block: deal what it won, tick what ended without a bid, then bid where it is
    not the last bidder."""
    pending: dict = {}
    market = ctx.market(params.venue)
    dai = ctx.params_of(params.system).dai
    while True:
        yield ctx.new_block
        _landed(pending)
        view = ctx.view(params.system)
        flips = view.flips()
        now_s = (ctx.now + ctx.chain.spec.slot) // 1000
        sent = 0
        for k in np.flatnonzero(flips["alive"]).tolist():
            if sent == params.max_per_block:
                break
            if k in pending:
                continue
            tic, end = int(flips["tic_s"][k]), int(flips["end_s"][k])
            if tic != 0 and (tic < now_s or end < now_s):
                if view.flip_guy(k) == ctx.name:  # the winner settles its own auction
                    _send(ctx, params, pending, k, params.system, "deal", {"auction_id": k})
                    sent += 1
                continue
            if end < now_s:
                _send(ctx, params, pending, k, params.system, "tick", {"auction_id": k})
                sent += 1
                continue
            if view.flip_guy(k) == ctx.name:
                continue
            call = _flip_bid(view, k, flips, market.mid(ctx.now) * (1 - params.discount), params.opening_bid_dai,
                             ctx.view(dai).balance_of(ctx.name))
            if call is not None:
                _send(ctx, params, pending, k, params.system, *call)
                sent += 1


def _flip_bid(view, k: int, flips, price_usd: float, opening: float | None, cash: float):
    """The bid a flip bidder sends on auction ``k`` valuing the collateral at ``price_usd``
    (method and arguments), or None: tend up to the lot's value in ``beg`` steps, dent at the tab."""
    beg = view.params.ilks[view.ilk_names[int(flips["ilk"][k])]].flip.beg
    lot, cur, tab = float(flips["lot"][k]), float(flips["bid"][k]), float(flips["tab"][k])
    if cur < tab:
        worth = min(tab, lot * price_usd)
        new = opening if (cur == 0 and opening is not None) else worth
        new = min(new, tab)
        if not (new > cur and (new >= beg * cur or new == tab) and new <= worth and new <= cash):
            return None
        return "tend", {"auction_id": k, "lot": lot, "bid": new}
    new_lot = tab / price_usd if price_usd > 0 else lot
    if not beg * new_lot <= lot or cash < tab:
        return None
    return "dent", {"auction_id": k, "lot": new_lot, "bid": tab}


class VowKeeperParams(BaseModel):
    """Keeps the Vow's books: ``drip`` (accrues each ilk's stability fee into the surplus every
    ``drip_every``; dss `jug.sol`), ``flog`` (frees queued debt once ``wait`` has passed), ``heal``
    (cancels surplus against free debt) and ``flop`` (starts a
    debt auction once the free debt reaches ``sump`` and no surplus is left), and settles or
    restarts debt auctions that ended (dss `vow.sol`, `flop.sol`)."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.2), description="gas bidding")
    gas_limit: int = Field(200_000, gt=0, description="gas limit", json_schema_extra=unit("gas"))
    drip_every: DurationMs | None = Field(
        3_600_000, ge=1_000, description="how often the stability fee of an ilk that has one is accrued (None: never)")


def VowKeeper(ctx, params: VowKeeperParams, index: int):
    """After each block, one Vow action at most: drip of an ilk due, flog, heal, the deal or tick
    of a debt or surplus auction that ended, then flop or flap."""
    pending: dict = {}
    while True:
        yield ctx.new_block
        _landed(pending)
        if pending:
            continue
        view = ctx.view(params.system)
        surplus, debt = view.surplus(), view.bad_debt()
        due = [] if params.drip_every is None else view.drips_due(ctx.now // 1000, params.drip_every // 1000)
        if due:
            _send(ctx, params, pending, "vow", params.system, "drip", {"ilk": due[0]})
            continue
        eras = view.eras_due(ctx.now // 1000)
        if eras:
            _send(ctx, params, pending, "vow", params.system, "flog", {"era_s": eras[0]})
            continue
        if surplus > 0 and debt > 0:
            _send(ctx, params, pending, "vow", params.system, "heal", {"dai": min(surplus, debt)})
            continue
        now_s = (ctx.now + ctx.chain.spec.slot) // 1000
        ended = _ended_auction(view.flops(), now_s, "flop") or _ended_auction(view.flaps(), now_s, "flap")
        if ended is not None:
            _send(ctx, params, pending, "vow", params.system, ended[0], {"auction_id": ended[1]})
        elif view.params.gov is not None and surplus <= 0 and debt >= view.params.vow.sump_dai:
            _send(ctx, params, pending, "vow", params.system, "flop", {})
        elif view.can_flap():
            _send(ctx, params, pending, "vow", params.system, "flap", {})


def _ended_auction(auctions: dict, now_s: int, kind: str) -> tuple[str, int] | None:
    """The first of the Vow's ``kind`` auctions (flop or flap) that can be dealt (a bid, and its
    time up) or restarted (no bid, ended) at ``now_s``: the call and its id."""
    for k in np.flatnonzero(auctions["alive"]).tolist():
        tic, end = int(auctions["tic_s"][k]), int(auctions["end_s"][k])
        if tic != 0 and (tic < now_s or end < now_s):
            return f"{kind}_deal", k
        if tic == 0 and end < now_s:
            return f"{kind}_tick", k
    return None


class VowBidderParams(BaseModel):
    """Bids on the Vow's auctions, valuing the governance token at the mid of ``venue`` (USD per
    token, DAI at 1) less ``discount``: on a debt auction (flop), for the fixed DAI bid it asks for
    the fewest tokens worth the DAI, ``bid / (price·(1 − discount))``; on a surplus auction (flap),
    for the fixed DAI lot it offers the most tokens it is worth, ``lot·(1 − discount) / price``.
    Each bid must beat the last by the auction's ``beg`` (dss `flop.sol` ``dent``, `flap.sol`
    ``tend``); it pays from its DAI (flop) or governance tokens (flap)."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    venue: str = Field(description="off-chain venue whose mid values the governance token (USD per token)")
    discount: float = Field(0.05, ge=0, lt=1, description="margin it keeps against the token's mid",
                            json_schema_extra=unit("fraction"))
    max_per_block: int = Field(5, ge=1, description="most bids sent after one block")
    gas: GasStrategy = Field(PercentileTip(quantile=0.9, markup=1.5), description="gas bidding of its bids")
    gas_limit: int = Field(200_000, gt=0, description="gas limit of a bid", json_schema_extra=unit("gas"))


def VowBidder(ctx, params: VowBidderParams, index: int):
    """After each block, bid on the running debt and surplus auctions it is not winning."""
    pending: dict = {}
    market = ctx.market(params.venue)
    system = ctx.params_of(params.system)
    while True:
        yield ctx.new_block
        _landed(pending)
        view = ctx.view(params.system)
        price = market.mid(ctx.now) * (1 - params.discount)
        now_s = (ctx.now + ctx.chain.spec.slot) // 1000
        cash = {"flop": ctx.view(system.dai).balance_of(ctx.name), "flap": ctx.view(system.gov).balance_of(ctx.name)}
        sent = 0
        for kind, auctions, guy in (("flop", view.flops(), view.flop_guy), ("flap", view.flaps(), view.flap_guy)):
            for k in np.flatnonzero(auctions["alive"]).tolist():
                if sent == params.max_per_block:
                    break
                tic, end = int(auctions["tic_s"][k]), int(auctions["end_s"][k])
                if (kind, k) in pending or guy(k) == ctx.name or not (tic > now_s or tic == 0) or not end > now_s:
                    continue
                call = _vow_bid(view, kind, k, auctions, price, cash[kind])
                if call is not None:
                    method, args, cost = call
                    _send(ctx, params, pending, (kind, k), params.system, method, args)
                    cash[kind] -= cost
                    sent += 1


def _vow_bid(view, kind: str, k: int, auctions, price: float, cash: float):
    """The bid a Vow bidder valuing the governance token at ``price`` (DAI per token) sends on
    the ``kind`` auction ``k`` (method, arguments and what it pays: DAI or tokens), or None when
    the auction is past its value or its capital."""
    lot, bid = float(auctions["lot"][k]), float(auctions["bid"][k])
    if price <= 0:
        return None
    if kind == "flop":
        beg = view.params.vow.beg
        ask = bid / price  # the fewest tokens worth the DAI it pays
        if not (beg * ask <= lot and bid <= cash):
            return None
        return "flop_dent", {"auction_id": k, "lot": ask}, bid
    beg = view.params.vow.flap.beg
    offer = lot / price  # the most tokens the DAI lot is worth
    if not (offer > bid and offer >= beg * bid and offer <= cash):
        return None
    return "flap_tend", {"auction_id": k, "lot": lot, "bid": offer}, offer


class VaultGuardParams(BaseModel):
    """Vault owners who read the OSM's next price (public an hour ahead, ``peep``) and, when it
    would make their vault unsafe, repay DAI from their wallet after a reaction delay, back to
    ``target_ratio`` at that price (or all of it when the rest would be below the dust)."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    share: float = Field(0.3, ge=0, le=1, description="share of the vaults whose owners watch",
                         json_schema_extra=unit("fraction"))
    target_ratio: float = Field(2.0, gt=1, description="collateral value at the next price over the debt left",
                                json_schema_extra=unit("x"))
    reaction: LatencyMs = Field(Exponential(mean=600_000), description="delay from seeing the next price to sending")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.2), description="gas bidding of the repayments")
    gas_limit: int = Field(250_000, gt=0, description="gas limit of a repayment", json_schema_extra=unit("gas"))


def VaultGuard(ctx, params: VaultGuardParams, index: int):
    """One process for the watching owners: the check at the next price is vectorised; each
    repayment is signed by the owner's own address (``ctx.account``)."""
    view = ctx.view(params.system)
    rng = ctx.rng
    rows = view.vault_rows()
    watching = rows[rng.random(rows.size) < params.share]
    busy = np.zeros(watching.size, dtype=bool)
    while True:
        yield ctx.new_block
        ilk, ink, debt = view.vaults(watching)
        unsafe_next = (ink * view.next_spot()[ilk] < debt) & (debt > 0) & ~busy
        for i in np.flatnonzero(unsafe_next).tolist():
            busy[i] = True
            delay = int(round(float(params.reaction.sample(rng, 1)[0])))
            ctx.env.process(_repay(ctx, params, view, int(watching[i]), delay, busy, i))


def _repay(ctx, params: VaultGuardParams, view, row: int, delay_ms: int, busy: np.ndarray, i: int):
    yield ctx.delay(delay_ms)
    ilk, ink, debt = (float(a[0]) for a in view.vaults(np.array([row])))
    k = int(ilk)
    name = view.ilk_names[k]
    owner = ctx.account(view.owner(row))
    wallet = owner.view(view.params.dai).balance_of(owner.name)
    repay = debt - ink * float(view.next_spot()[k]) / params.target_ratio * view.params.ilks[name].mat
    if debt - repay < view.params.ilks[name].dust_dai:
        repay = debt  # what would be left is dust: all of it
    repay = min(repay, wallet)
    if repay > 0 and (debt - repay == 0 or debt - repay >= view.params.ilks[name].dust_dai):
        cap, tip = bid(params.gas, ctx.chain)
        yield owner.submit(Call(params.system, "frob", {"ilk": name, "dink": 0.0, "dart": -repay / view.rate(k)}),
                           params.gas_limit, cap, tip)
    busy[i] = False


class PsmArbitrageurParams(BaseModel):
    """Trades DAI against a PSM's gem between two off-chain books and the PSM (dss-psm
    `DssPsm.sol`): when DAI's book bids more than the gem's book asks by more than ``tin`` and
    ``min_edge``, it sells gem it holds to the PSM for DAI (a transaction, sized to the room under the
    PSM's ceiling) and, once the swap has landed, sells that DAI on DAI's book and buys the gem back
    on the gem's; the other way with ``buy_gem`` and ``tout``. Its on-chain inventory of both is what the scenario gives;
    the books' fills are off chain (USD), as for the lending keepers' venue sales. This is how
    DAI's price follows the gem's through the PSM."""

    model_config = _CONFIG
    system: _SYSTEM = Field(description="the Maker system")
    ilk: str = Field(description="the ilk with the PSM")
    gem_venue: str = Field(description="off-chain book of the PSM's gem (USD per token)")
    dai_venue: str = Field(description="off-chain book of DAI (USD per DAI)")
    min_edge: float = Field(0.001, ge=0, description="least edge after the PSM's fee", json_schema_extra=unit("fraction"))
    max_usd: float = Field(1_000_000.0, gt=0, description="most traded in one round")
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.5), description="gas bidding of its PSM swaps")
    gas_limit: int = Field(200_000, gt=0, description="gas limit of a PSM swap", json_schema_extra=unit("gas"))


def PsmArbitrageur(ctx, params: PsmArbitrageurParams, index: int):
    """After each block, one round at most: the PSM swap (sized to the ceiling's room, waiting for
    its receipt), then both books."""
    gem_book, dai_book = ctx.market(params.gem_venue), ctx.market(params.dai_venue)
    system = ctx.params_of(params.system)
    psm = system.ilks[params.ilk].psm
    gem_ledger, dai_ledger = system.ilks[params.ilk].gem, system.dai
    while True:
        yield ctx.new_block
        gem, dai = gem_book.mid(ctx.now), dai_book.mid(ctx.now)
        if dai > gem * (1 + psm.tin) * (1 + params.min_edge):  # DAI dear: gem in, DAI out
            method, spend_ledger, buy_book, sell_book = "sell_gem", gem_ledger, params.gem_venue, params.dai_venue
        elif dai * (1 + psm.tout) * (1 + params.min_edge) < gem:  # DAI cheap: DAI in, gem out
            method, spend_ledger, buy_book, sell_book = "buy_gem", dai_ledger, params.dai_venue, params.gem_venue
        else:
            continue
        held = ctx.view(spend_ledger).balance_of(ctx.name)
        if method == "buy_gem":
            held /= 1 + psm.tout  # buy_gem(amount) costs amount × (1 + tout) DAI
        view = ctx.view(params.system)
        room = view.psm_room(params.ilk) if method == "sell_gem" else view.psm_holding(params.ilk)
        amount = min(held, room, params.max_usd / max(gem, dai))
        if not amount > 0:
            continue  # the ceiling is reached (or the PSM holds no gem), or nothing left to spend
        cap, tip = bid(params.gas, ctx.chain)
        receipt = yield ctx.submit(Call(params.system, method, {"ilk": params.ilk, "amount": float(amount)}),
                                   params.gas_limit, cap, tip)
        if receipt.status == TxStatus.INCLUDED:  # then both books: sell what it got, restock what it spent
            got = amount * (1 - psm.tin) if method == "sell_gem" else amount
            yield ctx.sell_on(sell_book, got)
            yield ctx.buy_on(buy_book, amount)
