"""An order-book perpetuals clearinghouse (Hyperliquid / dYdX v4 / CEX style), dYdX v4 and Hyperliquid docs.

A plain data structure: no SimPy needed. A :class:`Clearinghouse` holds cross-margin
accounts over one or more markets as a struct of arrays (collateral per account; size, entry
price and funding snapshot per account and market) and trades against each market's book, an
off-chain :class:`~defisim.markets.venues.Venue` whose walk gives the fill price. The book's resting
liquidity is one account, ``"book"``, that takes the other side of every book fill, so that
every trade has two sides and value is conserved (see *Invariant*).

Per market: the index (oracle) is a feed; the mark is the median of the index, the book's mid
and the index plus an EMA of the basis ``mid − index`` (Hyperliquid oracle and mark-price docs; Binance Futures mark price, Hyperliquid's first two
components); the premium ``[max(0, impactBid − index) − max(0, index − impactAsk)] / index`` is
sampled every :meth:`Clearinghouse.tick` and averaged over the funding interval; funding
(dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs) is ``F_8h = P̄ + clamp(I − P̄, ±c)`` scaled to the interval and capped, paid on the
index price into a cumulative index per unit of long size, settled into an account's collateral
whenever it trades or is liquidated.

Margin (dYdX v4 `margin.mdx`; Hyperliquid margining docs), cross by default (one account's equity backs all its positions); an isolated
position is an account of its own (:meth:`Clearinghouse.open_isolated`). Initial fraction
``1/max_leverage``, maintenance ``1/(2·max_leverage)``;
``equity = collateral + Σ size·(mark − entry) − unsettled funding``; an account is liquidatable
when ``equity < Σ |size|·mark·MMF``.

Liquidation (dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs; Hyperliquid auto-deleveraging docs; Binance Futures ADL), account by account, lowest ``equity/maintenance`` first:

1. The positions are quoted into the books. If the account's equity after those fills covers
   the liquidation fee (``liquidation_fee`` of the notional at mark), the fills happen and the
   fee goes to the insurance fund (only the part the equity covers).
2. Else, if the insurance fund covers the shortfall, the fills happen and the fund pays it.
3. Else, if the fund covers the account's loss *at mark* (only the thin book made the close
   too costly), the backstop liquidity (an HLP-like vault; here the book's account) takes the
   positions at mark, the fund paying the loss or receiving the fee.
4. Else the fund gives all it has (it is then exhausted) and the positions are
   **auto-deleveraged**: closed, without the book, against opposing positions ranked by
   :func:`~.math.adl_score` (PnL% × leverage for a profit, highest first; ties by account row;
   the book's account is not a trader and never in the queue), at the bankrupt account's
   **bankruptcy prices** (its remaining negative equity at mark spread over its positions by
   notional), so that it ends at exactly zero. A counterparty is never taken below zero equity;
   what the queue cannot absorb goes to the backstop at mark and the loss is charged to the
   traders with unrealised profit, pro rata (socialised loss, the last resort); what they
   cannot cover stays with the backstop.

Invariant: ``Σ collateral + Σ size·(mark − entry) − Σ unsettled funding + insurance fund`` is
constant — every fill, funding payment, fee, ADL close and socialised loss moves value between
two places, and each market's sizes sum to zero.

References: Hyperliquid oracle and mark-price docs; Binance Futures mark price; dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs; dYdX v4 `margin.mdx`; Hyperliquid margining docs; dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs; Hyperliquid auto-deleveraging docs; Binance Futures ADL; :mod:`protocols.perps.math`.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from defisim.markets import Venue

from . import math as pm
from .margin import initial_margin, maintenance_margin, margin_tiers

__all__ = ["PerpMarket", "Clearinghouse", "BOOK"]

#: Binance's basis average covers this much time (Hyperliquid oracle and mark-price docs; Binance Futures mark price: 30 s since 18 Sep 2025).
BINANCE_BASIS_WINDOW_MS = 30_000

#: The account holding the books' side of every book fill.
BOOK = "book"
_MS_PER_HOUR = 3_600_000


@dataclass
class PerpMarket:
    """One perpetual market: its index ``feed`` (``price_at(t_ms)``), its ``book`` venue,
    ``max_leverage`` (IMF ``1/max_leverage``, MMF half of it), the ``impact_notional_usd`` of the
    premium's impact prices, the funding cap per interval (fraction), and optional margin tiers
    (dYdX v4 `margin.mdx`; Hyperliquid margining docs), ``(from notional USD, fraction)`` pairs from 0 up:

    - ``mm_tiers``, maintenance: each slice of a position's notional counted at its tier's
      fraction (Binance's ``notional × MMR − cumulative amount`` is the same function);
    - ``im_tiers``, initial: the whole notional at the fraction of the bracket it falls in (the
      maximum leverage falling with size, Binance's and Hyperliquid's margin tiers).

    Given one, the other follows Hyperliquid's rule, maintenance half of initial (initial twice
    the maintenance fraction, at least ``1/max_leverage``). The initial margin must exceed the
    maintenance margin at every size.

    >>> from defisim.markets import ConstantFeed
    >>> from defisim.markets import LinearDepth
    >>> book = Venue(ConstantFeed(100.0), LinearDepth(1e9))
    >>> m = PerpMarket("X", ConstantFeed(100.0), book, 50.0, im_tiers=((0.0, 0.02), (100_000.0, 0.1)))
    >>> m.initial_usd(np.array([50_000.0, 300_000.0])).tolist()   # 2% of 50k; above 100k, 10% of it all
    [1000.0, 30000.0]
    >>> m.maintenance_usd(np.array([300_000.0])).tolist()         # half the fractions, slice by slice
    [11000.0]
    """

    symbol: str
    feed: object
    book: Venue
    max_leverage: float = 20.0
    impact_notional_usd: float = 20_000.0
    funding_cap: float = 0.04
    mm_tiers: tuple[tuple[float, float], ...] = ()
    im_tiers: tuple[tuple[float, float], ...] = ()
    mark_rule: str = "hyperliquid"

    def __post_init__(self):
        if self.mark_rule not in ("hyperliquid", "binance"):
            raise ValueError(f"{self.symbol}: mark_rule must be 'hyperliquid' or 'binance', got {self.mark_rule!r}")
        self.mm_tiers, self.im_tiers = margin_tiers(self.symbol, self.max_leverage, self.mm_tiers, self.im_tiers)

    @property
    def imf(self) -> float:
        """The first tier's initial fraction (all of it without tiers): ``1/max_leverage``."""
        return self.im_tiers[0][1] if self.im_tiers else 1.0 / self.max_leverage

    @property
    def mmf(self) -> float:
        """The first tier's maintenance fraction (all of it without tiers)."""
        return self.mm_tiers[0][1] if self.mm_tiers else pm.maintenance_fraction_at_max_leverage(self.max_leverage)

    @property
    def mmf_bound(self) -> float:
        """The largest maintenance fraction any slice can have."""
        return max([self.mmf] + [f for _, f in self.mm_tiers])

    def maintenance_usd(self, notional_usd):
        """Maintenance margin of positions of ``notional_usd`` (USD, array): slice by slice."""
        return maintenance_margin(notional_usd, self.mm_tiers, self.mmf)

    def initial_usd(self, notional_usd):
        """Initial margin of positions of ``notional_usd`` (USD, array): all of it at its bracket's fraction."""
        return initial_margin(notional_usd, self.im_tiers, self.imf)


class Clearinghouse:
    """Cross-margin accounts over ``markets`` (see the module docstring).

    Parameters
    ----------
    markets : sequence of PerpMarket
    insurance_fund_usd : float
        Starting balance of the insurance fund (USD).
    liquidation_fee : float
        Fraction of the liquidated notional (at mark) paid to the fund, from what equity is left.
    funding_interval_ms : int
        Between funding payments (1 h on Hyperliquid and dYdX, 8 h on CEX).
    interest_8h, clamp_8h : float
        The template's interest leg and clamp (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs).
    basis_ema_ms : int
        Time constant of the mark's basis EMA (Hyperliquid: 150 s).

    Examples
    --------
    >>> from defisim.markets import ConstantFeed
    >>> from defisim.markets import LinearDepth
    >>> btc = PerpMarket("BTC", ConstantFeed(100_000.0), Venue(ConstantFeed(100_000.0), LinearDepth(1e9)), 40.0)
    >>> ch = Clearinghouse([btc], insurance_fund_usd=1e6)
    >>> ch.deposit("alice", 10_000.0)
    >>> round(ch.trade("alice", "BTC", 1.0, t_ms=0), 2)   # a $100,000 buy moves a deep book by 0.05 USD
    100000.05
    >>> round(ch.liquidation_price("alice", "BTC", t_ms=0), 2)   # worked example at that entry
    91139.29
    """

    def __init__(self, markets, *, insurance_fund_usd: float = 0.0, liquidation_fee: float = 0.01,
                 funding_interval_ms: int = _MS_PER_HOUR, interest_8h: float = pm.INTEREST_8H,
                 clamp_8h: float = pm.CLAMP_8H, basis_ema_ms: int = 150_000,
                 partial_above_usd: float | None = None, partial_share: float = 0.2,
                 partial_cooldown_ms: int = 30_000, backstop_fraction: float = 2.0 / 3.0):
        self.markets = list(markets)
        self.index = {m.symbol: i for i, m in enumerate(self.markets)}
        self.insurance_fund_usd = float(insurance_fund_usd)
        self.liquidation_fee = liquidation_fee
        self.funding_interval_ms = funding_interval_ms
        self.interest_8h, self.clamp_8h = interest_8h, clamp_8h
        self.basis_ema_ms = basis_ema_ms
        self.partial_above_usd, self.partial_share = partial_above_usd, partial_share
        self.partial_cooldown_ms, self.backstop_fraction = partial_cooldown_ms, backstop_fraction
        self._cooldown_until: dict[int, int] = {}
        n_markets = len(self.markets)
        self.mmf = np.array([m.mmf for m in self.markets])
        self.mmf_bound = np.array([m.mmf_bound for m in self.markets])  # for the index: a superset of candidates
        self.rows: dict[str, int] = {}
        self.owners: list[str] = []
        self.collateral = np.zeros(0)
        self.size = np.zeros((0, n_markets))
        self.entry = np.zeros((0, n_markets))
        self.snapshot = np.zeros((0, n_markets))
        self.cum_funding = np.zeros(n_markets)  # USD paid per unit of long size, cumulative
        self.basis_ema = np.zeros(n_markets)
        self.last_rate = np.zeros(n_markets)  # the last funding rate paid, per market (Binance's mark)
        # Binance's basis average: the basis sampled at each tick over the last 30 s, per market
        self._basis_window: list[deque] = [deque() for _ in range(n_markets)]
        self.premium_sum = np.zeros(n_markets)
        self.premium_samples = 0
        self.last_tick_ms: int | None = None
        self.next_funding_ms = funding_interval_ms
        self.liquidations: list[tuple] = []  # (t_ms, account, kind, notional_usd, equity_before_usd, fund_delta_usd)
        self.adl: list[tuple] = []  # (t_ms, market, bankrupt, counterparty, size, price)
        self.funding: list[tuple] = []  # (t_ms, market, premium, rate, index_price)
        self.socialized_usd = 0.0
        self.net_deposits_usd = 0.0  # deposits less withdrawals: what crossed the venue's boundary (USD)
        self._index = None
        self._dirty: set[int] = set()  # rows changed since the index was built, still holding positions
        self._stale = 0  # changes since the index was built
        self._adl_ranked: tuple | None = None  # (t_ms, {(t_ms, market, side): ranked rows})
        self._row(BOOK)

    # -- accounts ---------------------------------------------------------------------------
    def _row(self, owner: str) -> int:
        row = self.rows.get(owner)
        return self._new_rows([owner])[0] if row is None else row

    def _new_rows(self, owners) -> list[int]:
        """Open accounts for ``owners`` (all new) in one allocation; their rows."""
        if len(set(owners)) != len(owners) or any(o in self.rows for o in owners):
            raise ValueError("accounts must be new and distinct")
        first = len(self.owners)
        rows = list(range(first, first + len(owners)))
        self.rows.update(zip(owners, rows))
        self.owners.extend(owners)
        k, n = len(owners), len(self.markets)
        self.collateral = np.concatenate([self.collateral, np.zeros(k)])
        self.size = np.vstack([self.size, np.zeros((k, n))])
        self.entry = np.vstack([self.entry, np.zeros((k, n))])
        self.snapshot = np.vstack([self.snapshot, np.tile(self.cum_funding, (k, 1))])
        self._changed()
        return rows

    def deposit(self, owner: str, usd: float) -> None:
        """Add ``usd`` of collateral to ``owner``'s account (opened if new)."""
        if not usd >= 0:
            raise ValueError(f"deposit must be non-negative, got {usd}")
        row = self._row(owner)  # may reallocate the arrays: take the row first
        self.collateral[row] += usd
        self.net_deposits_usd += usd
        self._changed(row)

    def take_back(self, owner: str, usd: float) -> None:
        """``usd`` leaves ``owner``'s account with no margin check: the end of :meth:`withdraw`
        once checked, or a deposit returned right after the order it funded was refused."""
        row = self.rows[owner]
        self.collateral[row] -= usd
        self.net_deposits_usd -= usd
        self._changed(row)

    @staticmethod
    def isolated_account(owner: str, market: str) -> str:
        """The margin account of ``owner``'s isolated position in ``market``."""
        return f"{owner}/isolated/{market}"

    def open_isolated(self, owner: str, market: str, size: float, margin_usd: float, t_ms: int) -> float:
        """Open (or add to) an isolated position: its own margin account
        (:meth:`isolated_account`) gets ``margin_usd`` and the order, so its liquidation never
        touches ``owner``'s cross account (dYdX v4 `margin.mdx`; Hyperliquid margining docs). Returns the fill price."""
        name = self.isolated_account(owner, market)
        self.deposit(name, margin_usd)
        return self.trade(name, market, size, t_ms)

    def withdraw(self, owner: str, usd: float, t_ms: int) -> None:
        """Take ``usd`` of collateral out; refused (``ValueError``) if the account's equity after
        it would be below its initial margin."""
        row = self.rows[owner]
        initial = float(self.initial(t_ms, row))
        if not 0 <= usd <= float(self.equity(t_ms, row)) - initial:
            raise ValueError(f"{owner}: cannot withdraw {usd} USD (equity above initial margin: "
                             f"{float(self.equity(t_ms, row)) - initial:.2f})")
        self.take_back(owner, usd)

    def open_positions(self, owners, market: str, sizes, entry_price: float, collateral_usd) -> None:
        """Open new accounts ``owners`` with ``collateral_usd`` and a position of ``sizes`` in
        ``market`` at ``entry_price`` (a population at the start of a run); the book account
        takes the opposite of their net size at the same price."""
        m = self.index[market]
        rows = np.array(self._new_rows(list(owners)), dtype=np.int64)
        sizes = np.asarray(sizes, dtype=np.float64)
        self.collateral[rows] = collateral_usd
        self.size[rows, m] = sizes
        self.entry[rows, m] = np.where(sizes != 0.0, entry_price, 0.0)
        self._changed()
        self._fill(self.rows[BOOK], m, -float(sizes.sum()), entry_price)

    # -- prices -----------------------------------------------------------------------------
    def index_price(self, m: int, t_ms: int) -> float:
        return self.markets[m].feed.price_at(t_ms)

    def mark(self, m: int, t_ms: int) -> float:
        """The market's mark (Hyperliquid oracle and mark-price docs; Binance Futures mark price): Hyperliquid's ``median(index, book mid, index + EMA basis)``
        (150 s), or Binance's ``median(index × (1 + last rate paid × time to funding / interval),
        index + mean basis of the ticks in the last 30 s, book mid)``
        (:func:`~.math.binance_mark_price`)."""
        index = self.index_price(m, t_ms)
        mid = self.markets[m].book.mid(t_ms)
        if self.markets[m].mark_rule == "binance":
            until_s = max(self.next_funding_ms - t_ms, 0) / 1000.0
            window = self._basis_window[m]
            basis = sum(b for _, b in window) / len(window) if window else 0.0
            return pm.binance_mark_price(index, float(self.last_rate[m]), until_s, self.funding_interval_ms / 1000.0,
                                         basis, mid)
        ema = index + float(self.basis_ema[m])
        return max(min(index, mid), min(max(index, mid), ema))  # the median of the three

    def marks(self, t_ms: int) -> np.ndarray:
        return np.array([self.mark(m, t_ms) for m in range(len(self.markets))])

    # -- margin -----------------------------------------------------------------------------
    def _unsettled_funding(self, rows=slice(None)) -> np.ndarray:
        return (self.size[rows] * (self.cum_funding - self.snapshot[rows])).sum(axis=-1)

    def equity(self, t_ms: int, rows=slice(None)) -> np.ndarray:
        """``collateral + Σ size·(mark − entry) − unsettled funding`` (USD) of ``rows``."""
        marks = self.marks(t_ms)
        return self.collateral[rows] + (self.size[rows] * (marks - self.entry[rows])).sum(axis=-1) - self._unsettled_funding(rows)

    def maintenance(self, t_ms: int, rows=slice(None)) -> np.ndarray:
        """``Σ |size|·mark·MMF`` over markets, by bracket where the market has tiers (USD)."""
        notional = np.abs(self.size[rows]) * self.marks(t_ms)
        if not any(m.mm_tiers for m in self.markets):
            return (notional * self.mmf).sum(axis=-1)
        return sum(m.maintenance_usd(notional[..., k]) for k, m in enumerate(self.markets))

    def initial(self, t_ms: int, rows=slice(None), marks: np.ndarray | None = None) -> np.ndarray:
        """``Σ |size|·mark·IMF`` over markets, by bracket where the market has tiers (USD)."""
        notional = np.abs(self.size[rows]) * (self.marks(t_ms) if marks is None else marks)
        return sum(m.initial_usd(notional[..., k]) for k, m in enumerate(self.markets))

    def liquidation_price(self, owner: str, market: str, t_ms: int) -> float:
        """The mark of ``market`` at which ``owner`` becomes liquidatable, others held (dYdX v4 `margin.mdx`; Hyperliquid margining docs);
        with maintenance tiers, at the first tier's fraction (exact for positions inside it)."""
        r, m = self.rows[owner], self.index[market]
        s = self.size[r, m]
        if s == 0.0:
            raise ValueError(f"{owner} has no position in {market}")
        mark = self.mark(m, t_ms)
        rest = float(self.equity(t_ms, r)) - s * mark  # equity without this market's mark term
        others = float(self.maintenance(t_ms, r)) - abs(s) * mark * self.mmf[m]
        # rest + s·p = others + |s|·p·MMF  →  p = (others − rest) / (s − |s|·MMF)
        return float((others - rest) / (s - abs(s) * self.mmf[m]))

    def total_value(self, t_ms: int) -> float:
        """The conserved quantity of the module docstring (USD); it moves only by deposits and
        withdrawals (``net_deposits_usd``)."""
        return float(self.equity(t_ms).sum()) + self.insurance_fund_usd

    # -- trading ----------------------------------------------------------------------------
    def _settle_funding(self, row: int) -> None:
        self.collateral[row] -= float(self._unsettled_funding(row))
        self.snapshot[row] = self.cum_funding

    def _fill(self, row: int, m: int, dsize: float, price: float) -> None:
        """Change ``row``'s size in market ``m`` by ``dsize`` at ``price``: realise the PnL of the
        part that reduces the position, average the entry of the part that adds to it."""
        self._settle_funding(row)
        s0, entry = self.size[row, m], self.entry[row, m]
        s1 = s0 + dsize
        if s0 == 0.0 or np.sign(s0) == np.sign(dsize):  # opening or adding
            self.entry[row, m] = (s0 * entry + dsize * price) / s1 if s1 != 0.0 else 0.0
        else:
            closed = min(abs(dsize), abs(s0)) * np.sign(s0)
            self.collateral[row] += closed * (price - entry)
            if np.sign(s1) != np.sign(s0) and s1 != 0.0:  # flipped
                self.entry[row, m] = price
            elif s1 == 0.0:
                self.entry[row, m] = 0.0
        self.size[row, m] = s1
        self._changed(row)

    def _book_fill(self, m: int, size: float, t_ms: int, execute: bool) -> float:
        """Average price of a taker order of ``size`` (``+`` buys) on market ``m``'s book."""
        book = self.markets[m].book
        if size > 0:
            usd, price = (book.buy_tokens if execute else book.quote_buy)(size, t_ms)
        else:
            usd, price = (book.sell if execute else book.quote_sell)(-size, t_ms)
        return price

    def trade(self, owner: str, market: str, size: float, t_ms: int) -> float:
        """A taker order of ``size`` (``+`` buys) into the book. An order that only reduces a
        position is always taken; one that opens, increases or flips a position is refused
        (``ValueError``, nothing changes) when the account is below maintenance (it is the
        liquidation engine's) or when the equity after it is below the initial margin (dYdX v4 `margin.mdx`; Hyperliquid margining docs);
        a reducing order whose fill would leave the equity below 0 is refused too. Returns the
        fill price."""
        r, m = self._row(owner), self.index[market]
        price = self._book_fill(m, size, t_ms, execute=False)
        marks = self.marks(t_ms)  # read every book before anything changes
        s0 = self.size[r, m]
        reducing = s0 != 0.0 and np.sign(size) != np.sign(s0) and abs(size) <= abs(s0)
        if not reducing and float(self.equity(t_ms, r)) < float(self.maintenance(t_ms, r)):
            raise ValueError(f"{owner}: below maintenance, in liquidation: only orders that reduce a position")
        saved = (self.collateral[r], self.size[r].copy(), self.entry[r].copy(), self.snapshot[r].copy())
        self._fill(r, m, size, price)
        equity = self.collateral[r] + float((self.size[r] * (marks - self.entry[r])).sum())
        # adding needs the initial margin after; reducing must not fill past the bankruptcy
        # price (a loss beyond the collateral is the liquidation engine's to handle)
        refusal = None
        if not reducing and equity < float(self.initial(t_ms, r, marks)):
            refusal = "equity below initial margin after the order"
        elif reducing and equity < 0.0:
            refusal = "the fill is past the bankruptcy price, in liquidation"
        if refusal is not None:
            self.collateral[r], self.size[r], self.entry[r], self.snapshot[r] = saved
            self._changed(r)
            raise ValueError(f"{owner}: {refusal}")
        self._book_fill(m, size, t_ms, execute=True)
        self._fill(self.rows[BOOK], m, -size, price)
        return price

    # -- the venue's clock ------------------------------------------------------------------
    def tick(self, t_ms: int) -> None:
        """One oracle tick: update the basis EMA, sample the premium, pay funding when an
        interval has passed, liquidate the accounts below maintenance."""
        if self.last_tick_ms is not None and t_ms <= self.last_tick_ms:
            if t_ms < self.last_tick_ms:
                raise ValueError(f"tick at {t_ms} ms is before the last one at {self.last_tick_ms} ms")
            self.liquidate_unhealthy(t_ms)  # the same instant again: no new sample
            return
        first = self.last_tick_ms is None
        dt = 0 if first else t_ms - self.last_tick_ms
        self.last_tick_ms = t_ms
        weight = 1.0 if first else 1.0 - np.exp(-dt / self.basis_ema_ms)
        for m, market in enumerate(self.markets):
            index = self.index_price(m, t_ms)
            basis = market.book.mid(t_ms) - index
            self.basis_ema[m] += weight * (basis - self.basis_ema[m])
            if market.mark_rule == "binance":
                window = self._basis_window[m]
                window.append((t_ms, basis))
                while window[0][0] <= t_ms - BINANCE_BASIS_WINDOW_MS:
                    window.popleft()
            q = market.impact_notional_usd / index
            bid = market.book.quote_sell(q, t_ms)[1]
            ask = market.book.quote_buy(q, t_ms)[1]
            self.premium_sum[m] += pm.premium_index(bid, ask, index)
        self.premium_samples += 1
        while t_ms >= self.next_funding_ms:
            self._pay_funding(self.next_funding_ms)
            self.next_funding_ms += self.funding_interval_ms
        self.liquidate_unhealthy(t_ms)

    def _pay_funding(self, t_ms: int) -> None:
        interval_h = self.funding_interval_ms / _MS_PER_HOUR
        for m, market in enumerate(self.markets):
            premium = self.premium_sum[m] / max(self.premium_samples, 1)
            rate = pm.funding_rate(premium, interval_h, self.interest_8h, self.clamp_8h, market.funding_cap)
            index = self.index_price(m, t_ms)
            self.cum_funding[m] += rate * index
            self.last_rate[m] = rate
            self.funding.append((t_ms, market.symbol, premium, rate, index))
        self.premium_sum[:] = 0.0
        self.premium_samples = 0

    def _changed(self, row: int | None = None) -> None:
        """``row``'s collateral, size or entry changed (``None``: many rows did). Changed rows are
        checked in full until the liquidation index is rebuilt, which happens when they are many."""
        if row is None or self._index is None:
            self._index = None
            self._dirty.clear()
            return
        self._stale += 1
        if self._stale > max(1_000, len(self.owners) // 100):  # the index holds too many stale rows
            self._index = None
            self._dirty.clear()
        elif not self.size[row].any() or row == self.rows[BOOK]:  # cannot be liquidated
            self._dirty.discard(row)
        else:
            self._dirty.add(row)

    def _build_index(self):
        """The liquidation-price index: per market, the accounts whose only position is
        there, longs and shorts each sorted by ``key = (s·(entry − snapshot) − collateral) /
        (s − |s|·MMF)``; a long is liquidatable when ``key > mark − F/(1 − MMF)``, a short when
        ``key < mark − F/(1 + MMF)`` (``F`` the cumulative funding: settling funding leaves the
        key unchanged, a funding payment shifts every threshold alike). Accounts with positions in
        several markets are checked in full. With maintenance tiers the keys use the largest tier
        fraction, which can only widen the candidate set (confirmed on the tiered equity check)."""
        nonzero = self.size != 0.0
        count = nonzero.sum(axis=1)
        count[self.rows[BOOK]] = 0
        markets = []
        for m in range(len(self.markets)):
            rows = np.flatnonzero((count == 1) & nonzero[:, m])
            s = self.size[rows, m]
            key = (s * (self.entry[rows, m] - self.snapshot[rows, m]) - self.collateral[rows]) / (s - np.abs(s) * self.mmf_bound[m])
            sides = []
            for side in (s > 0, s < 0):
                order = np.argsort(key[side], kind="stable")
                sides.append((key[side][order], rows[side][order]))
            markets.append(sides)
        self._index = (np.flatnonzero(count > 1), markets)
        self._stale = 0

    def liquidatable(self, t_ms: int) -> np.ndarray:
        """Rows below maintenance, lowest ``equity/maintenance`` first (ties by row); candidates
        from the liquidation-price index, confirmed on their equity."""
        if self._index is None:
            self._build_index()
        multi, markets = self._index
        found = [multi, np.fromiter(self._dirty, dtype=np.int64, count=len(self._dirty))]
        for m, ((long_keys, long_rows), (short_keys, short_rows)) in enumerate(markets):
            mark, f, mmf = self.mark(m, t_ms), self.cum_funding[m], self.mmf_bound[m]
            slack = 1e-9 * (abs(mark) + abs(f)) + 1e-12
            found.append(long_rows[np.searchsorted(long_keys, mark - f / (1.0 - mmf) - slack, side="right"):])
            found.append(short_rows[:np.searchsorted(short_keys, mark - f / (1.0 + mmf) + slack, side="left")])
        found = [f for f in found if f.size]
        if not found:
            return np.zeros(0, dtype=np.int64)
        rows = np.unique(np.concatenate(found))
        rows = rows[rows != self.rows[BOOK]]
        mm = self.maintenance(t_ms, rows)
        eq = self.equity(t_ms, rows)
        below = (mm > 0) & (eq < mm)
        rows, ratio = rows[below], eq[below] / mm[below]
        return rows[np.lexsort((rows, ratio))]

    def liquidatable_brute_force(self, t_ms: int) -> np.ndarray:
        """:meth:`liquidatable` by checking every account (the reference the index is tested against)."""
        mm = self.maintenance(t_ms)
        eq = self.equity(t_ms)
        below = np.flatnonzero((mm > 0) & (eq < mm))
        below = below[below != self.rows[BOOK]]
        return below[np.lexsort((below, eq[below] / mm[below]))]

    def liquidate_unhealthy(self, t_ms: int) -> None:
        """Liquidate every account below maintenance (lowest ratio first). With
        ``partial_above_usd`` set, an account holding more notional than that is closed
        ``partial_share`` at a time into the books, at most once per ``partial_cooldown_ms``, for
        as long as its equity stays above ``backstop_fraction`` of its maintenance; below that it
        is liquidated in full (Hyperliquid: 20%, 30 s, 2/3; dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs)."""
        for row in self.liquidatable(t_ms):
            row = int(row)
            equity, mm = float(self.equity(t_ms, row)), float(self.maintenance(t_ms, row))
            if equity >= mm:  # earlier liquidations may have moved prices
                continue
            notional = float((np.abs(self.size[row]) * self.marks(t_ms)).sum())
            if self.partial_above_usd is not None and notional > self.partial_above_usd and equity >= self.backstop_fraction * mm:
                if t_ms >= self._cooldown_until.get(row, -1):
                    self._liquidate_partially(row, t_ms, notional, equity)
                continue
            self.liquidate(row, t_ms)

    def _liquidate_partially(self, row: int, t_ms: int, notional: float, equity: float) -> None:
        """Close ``partial_share`` of every position of ``row`` into the books; the fee on that
        part goes to the fund."""
        self._settle_funding(row)
        for m in np.flatnonzero(self.size[row]):
            q = -self.partial_share * self.size[row, m]
            price = self._book_fill(int(m), q, t_ms, execute=True)
            self._fill(row, int(m), q, price)
            self._fill(self.rows[BOOK], int(m), -q, price)
        fee = min(self.liquidation_fee * self.partial_share * notional, max(self.collateral[row], 0.0))
        self._to_fund(row, fee)
        self._cooldown_until[row] = t_ms + self.partial_cooldown_ms
        self.liquidations.append((t_ms, self.owners[row], "partial", self.partial_share * notional, equity, fee))

    def liquidate(self, row: int, t_ms: int) -> None:
        """Close every position of ``row`` (module docstring, steps 1–4)."""
        self._settle_funding(row)
        marks = self.marks(t_ms)
        open_markets = np.flatnonzero(self.size[row])
        equity_before = float(self.equity(t_ms, row))
        notional = float((np.abs(self.size[row]) * marks).sum())
        fills = {m: self._book_fill(int(m), -self.size[row, m], t_ms, execute=False) for m in open_markets}
        after = self.collateral[row] + sum(self.size[row, m] * (fills[m] - self.entry[row, m]) for m in open_markets)
        fee = self.liquidation_fee * notional
        if after >= 0.0 or self.insurance_fund_usd >= -after:
            for m in open_markets:
                s = self.size[row, m]
                price = self._book_fill(int(m), -s, t_ms, execute=True)
                self._fill(row, int(m), -s, price)
                self._fill(self.rows[BOOK], int(m), s, price)
            paid = min(fee, max(self.collateral[row], 0.0)) if after >= 0.0 else self.collateral[row]
            self._to_fund(row, paid)
            self.liquidations.append((t_ms, self.owners[row], "book", notional, equity_before, paid))
        elif equity_before + self.insurance_fund_usd >= 0.0:
            # the book is too thin for a close the fund could absorb, the loss at mark is not:
            # the backstop liquidity takes the positions at mark (an HLP-like vault)
            for m in open_markets:
                s = self.size[row, m]
                self._fill(row, int(m), -s, marks[m])
                self._fill(self.rows[BOOK], int(m), s, marks[m])
            paid = min(fee, self.collateral[row]) if self.collateral[row] >= 0.0 else self.collateral[row]
            self._to_fund(row, paid)
            self.liquidations.append((t_ms, self.owners[row], "backstop", notional, equity_before, paid))
        else:
            drained = self.insurance_fund_usd  # the fund gives all it has, ADL takes the rest
            self._to_fund(row, -drained)
            self._auto_deleverage(row, t_ms, marks, equity_before + drained)
            self.liquidations.append((t_ms, self.owners[row], "adl", notional, equity_before, -drained))

    def _to_fund(self, row: int, usd: float) -> None:
        """Move ``usd`` from ``row``'s collateral into the insurance fund (negative: out of it)."""
        self.collateral[row] -= usd
        self.insurance_fund_usd += usd
        self._changed(row)

    def _auto_deleverage(self, row: int, t_ms: int, marks: np.ndarray, equity: float) -> None:
        """Close ``row``'s positions against ranked opposing positions at its bankruptcy prices."""
        notional = np.abs(self.size[row]) * marks
        bankruptcy = marks - equity * (notional / notional.sum()) / np.where(self.size[row] != 0, self.size[row], 1.0)
        for m in np.flatnonzero(self.size[row]):
            m = int(m)
            s, price = self.size[row, m], float(bankruptcy[m])
            remaining = abs(s)
            for cp in self._adl_queue(row, m, -np.sign(s), t_ms):
                if remaining <= 0.0:
                    break
                loss_per_unit = (price - marks[m]) * np.sign(s)  # what the counterparty gives up per unit vs mark
                room = float(self.equity(t_ms, cp))
                take = min(remaining, abs(self.size[cp, m]))
                if loss_per_unit > 0.0:
                    take = min(take, room / loss_per_unit)
                if take <= 0.0:
                    continue
                self._fill(row, m, -np.sign(s) * take, price)
                self._fill(cp, m, np.sign(s) * take, price)
                self.adl.append((t_ms, self.markets[m].symbol, self.owners[row], self.owners[cp], take, price))
                remaining -= take
            if remaining > 0.0:  # nobody left to take it: close at mark, share the loss (socialised)
                q = np.sign(s) * remaining
                self._fill(row, m, -q, marks[m])
                self._fill(self.rows[BOOK], m, q, marks[m])
        self._socialize(row, t_ms)

    def _adl_queue(self, row: int, m: int, side: float, t_ms: int):
        """Rows holding ``side`` in market ``m``, highest ADL score first (ties by row).

        The queue is ranked once per tick and market side, at that moment's marks and equities
        (venues publish it periodically, as Binance's indicator lights); later bankruptcies in
        the same tick continue down the same queue: rows that no longer hold that side are
        passed over for good, the others are offered again."""
        if self._adl_ranked is None or self._adl_ranked[0] != t_ms:
            self._adl_ranked = (t_ms, {})
        queue = self._adl_ranked[1].get((m, side))
        if queue is None:
            rows = np.flatnonzero(np.sign(self.size[:, m]) == side)
            rows = rows[rows != self.rows[BOOK]]  # the book's liquidity is not a trader
            mark = self.mark(m, t_ms)
            s, entry = self.size[rows, m], self.entry[rows, m]
            pnl = (mark - entry) * np.sign(s) / entry
            eq = self.equity(t_ms, rows)
            leverage = np.abs(s) * mark / np.where(eq > 0, eq, np.nan)
            score = np.where(eq > 0, pm.adl_score_vec(pnl, leverage), -np.inf)
            queue = [rows[np.lexsort((rows, -score))].tolist(), 0]  # ranked rows, first still holding
            self._adl_ranked[1][(m, side)] = queue
        ranked = queue[0]
        i = queue[1]
        while i < len(ranked):
            r = ranked[i]
            if np.sign(self.size[r, m]) != side:  # closed or flipped since: gone from this queue
                if i == queue[1]:
                    queue[1] += 1
            elif r != row:
                yield r
            i += 1

    def _socialize(self, row: int, t_ms: int) -> None:
        """Whatever ``row`` still owes (negative collateral) is charged to the traders with
        unrealised profit, pro rata to it and never beyond their equity (Hyperliquid auto-deleveraging docs; Binance Futures ADL's clawback; an
        account without positions never pays)."""
        owed = -self.collateral[row]
        if owed <= 1e-6:  # a float residue of the bankruptcy-price closes is no loss (USD)
            self._backstop_absorbs(row)
            return
        marks = self.marks(t_ms)
        profit = (self.size * (marks - self.entry)).sum(axis=1)
        equity = self.equity(t_ms)
        base = np.clip(np.minimum(profit, equity), 0.0, None)
        base[[row, self.rows[BOOK]]] = 0.0
        total = base.sum()
        if total <= 0.0:
            self._backstop_absorbs(row)
            return
        share = min(owed, total) * base / total
        self.collateral -= share
        self.collateral[row] += share.sum()
        self.socialized_usd += float(share.sum())
        self._changed()
        self._backstop_absorbs(row)

    def _backstop_absorbs(self, row: int) -> None:
        """What ``row`` still owes after the socialised loss stays with the backstop (the book's
        account, i.e. the venue): ``row`` ends at zero."""
        owed = -self.collateral[row]
        if owed > 0.0:
            self.collateral[row] = 0.0
            self.collateral[self.rows[BOOK]] -= owed
            self._changed(row)
