"""Finding the accounts below a health factor without recomputing every account.

Health factors (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt)
are computed for all accounts once, at a *reference* point (oracle prices and interest indices),
and kept sorted. Later, for an account whose scaled balances have not changed since, every term
of its health factor has moved by a known per-reserve ratio::

    HF = Σ_i c_i · p_i · L_i · LT_i / Σ_j d_j · p_j · B_j          (c, d scaled balances)

    HF_now ≥ HF_ref · min_i (p_i L_i / p_i,ref L_i,ref) / max_j (p_j B_j / p_j,ref B_j,ref)

so the accounts that may be below a threshold ``h`` now are a prefix of the sorted reference
(``HF_ref < h / factor``), found by binary search, plus the accounts changed since the
reference (*dirty* rows). Only those get their exact health factor computed. The search is
conservative: no account below ``h`` is ever missed (tested against the full computation).

The same reference sorts the accounts by debt (USD), largest first, and a debt moves by at most
``max_j (p_j B_j / p_j,ref B_j,ref)``: :meth:`HealthIndex.largest_below` finds the ``n`` largest
debts below ``h`` by walking that order, computing only the accounts that may be below, and
stops once no account further down can owe more than the ``n``-th found. A keeper with a backlog
of a million liquidatable accounts asks for its shortlist at the cost of the shortlist.

Changed and new accounts are *keyed* at the reference point (their health factor and debt at
the reference prices and indices, with their new balances) when a query first sees them, wait
beside the sorted orders, where the same bound applies to them, and are merged into both orders
once they are many. A full rebuild at the current point happens only when queries keep computing
accounts that turn out not to be below ``h`` (prices moved far).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from defisim.base import largest_debts_of

from . import math as am

__all__ = ["HealthIndex", "Candidates"]

#: Relative slack on the bounds, far above the rounding of the health-factor and debt sums.
_SLACK = 1e-9


class Candidates(NamedTuple):
    """Accounts below a health factor: rows in increasing order, their exact health factors and
    total debts (USD at the prices asked for)."""

    rows: np.ndarray
    hf: np.ndarray
    debt_usd: np.ndarray


class _Exact(NamedTuple):
    """Exact health factors and debts (USD) of some rows at the point of a query."""

    rows: np.ndarray
    hf: np.ndarray
    debt_usd: np.ndarray


class HealthIndex:
    """Accounts sorted by health factor and by debt at a reference point, and the rows changed since.

    Parameters
    ----------
    liquidation_threshold : numpy.ndarray
        Per-reserve liquidation thresholds (fractions).
    min_rebuild : int
        Rebuild only when at least this many accounts were computed in vain.
    merge_every : int or None
        Merge the changed rows into the sorted orders once this many are waiting (default:
        ``max(1024, n/32)``: a merge copies the orders, O(n); a waiting row costs every query a
        comparison, and its exact health factor only when it may be below the threshold).
    """

    def __init__(self, liquidation_threshold: np.ndarray, min_rebuild: int = 1024, merge_every: int | None = None):
        self.lt = np.asarray(liquidation_threshold, dtype=np.float64)
        self.min_rebuild = min_rebuild
        self.merge_every = merge_every
        self._order: np.ndarray | None = None  # rows sorted by reference HF (increasing)
        self._sorted_hf: np.ndarray | None = None
        self._by_debt: np.ndarray | None = None  # rows sorted by reference debt (decreasing)
        self._debt_sorted: np.ndarray | None = None  # their reference debts (USD)
        self._hf_by_debt: np.ndarray | None = None  # their reference HF
        self._point: tuple | None = None  # (prices, liquidity index, borrow index) of the reference
        self._ref: tuple[np.ndarray, np.ndarray] | None = None  # (p·L, p·B) per reserve at the reference
        self._n = 0  # rows known: in the sorted orders or waiting beside them
        # rows changed (or new) since they were sorted, keyed at the reference point, waiting to be
        # merged: their sorted entries are stale; slot[row] is the row's place here, or -1
        self._slot = np.zeros(0, dtype=np.int64)
        self._side_rows = np.zeros(0, dtype=np.int64)
        self._side_hf = np.zeros(0)
        self._side_debt = np.zeros(0)
        self._pending: list[int] = []  # rows marked since they were last keyed
        self._wasted = 0  # accounts computed in vain since the reference was built
        self.rebuilds = 0
        self.merges = 0

    def mark(self, row: int) -> None:
        """Row ``row`` changed its scaled balances or thresholds (or is new)."""
        self._pending.append(row)

    def invalidate(self) -> None:
        """Forget the reference (e.g. after many rows were added at once)."""
        self._order = None

    # -- the reference ------------------------------------------------------------------------
    def _at_reference(self, rows, coll_scaled, debt_scaled, lt) -> tuple[np.ndarray, np.ndarray]:
        """(HF, debt USD) of ``rows`` with their balances now, at the reference point."""
        prices, li, bi = self._point
        return am.health_factors_and_debts(coll_scaled[rows] * li, debt_scaled[rows] * bi, prices,
                                           lt[rows] if lt.ndim == 2 else lt)

    def _rebuild(self, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt) -> None:
        n = coll_scaled.shape[0]
        self._point = (prices.copy(), np.array(liquidity_index, dtype=np.float64), np.array(borrow_index, dtype=np.float64))
        self._ref = (prices * liquidity_index, prices * borrow_index)
        hf, debt = self._at_reference(slice(None), coll_scaled, debt_scaled, lt)
        self._order = np.argsort(hf, kind="stable")
        self._sorted_hf = hf[self._order]
        self._by_debt = np.argsort(-debt, kind="stable")
        self._debt_sorted = debt[self._by_debt]
        self._hf_by_debt = hf[self._by_debt]
        self._n = n
        self._clear_side(n)
        self._pending = []
        self._wasted = 0
        self.rebuilds += 1

    def _clear_side(self, n: int) -> None:
        self._slot = np.full(n, -1, dtype=np.int64)
        self._side_rows, self._side_hf, self._side_debt = np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)

    def _key_changed(self, coll_scaled, debt_scaled, lt) -> None:
        """Key the rows marked since the last query, and the new ones, at the reference point."""
        n = coll_scaled.shape[0]
        if not self._pending and n == self._n:
            return
        rows = np.unique(np.concatenate([np.asarray(self._pending, dtype=np.int64),
                                         np.arange(self._n, n, dtype=np.int64)]))
        self._pending = []
        if n > self._n:
            self._slot = np.concatenate([self._slot, np.full(n - self._n, -1, dtype=np.int64)])
            self._n = n
        hf, debt = self._at_reference(rows, coll_scaled, debt_scaled, lt)
        slot = self._slot[rows]
        known = slot >= 0
        self._side_hf[slot[known]], self._side_debt[slot[known]] = hf[known], debt[known]
        new = ~known
        self._slot[rows[new]] = self._side_rows.size + np.arange(int(new.sum()))
        self._side_rows = np.concatenate([self._side_rows, rows[new]])
        self._side_hf = np.concatenate([self._side_hf, hf[new]])
        self._side_debt = np.concatenate([self._side_debt, debt[new]])

    def _merge(self) -> None:
        """Merge the waiting rows into both orders, at their keys (positions by binary search,
        after their equals: the order among equal keys decides nothing, the queries' answers come
        from exact values)."""
        moved, hf, debt = self._side_rows, self._side_hf, self._side_debt
        keep = self._slot[self._order] < 0
        order, sorted_hf = self._order[keep], self._sorted_hf[keep]
        at = np.argsort(hf, kind="stable")
        pos = np.searchsorted(sorted_hf, hf[at], side="right")
        self._order, self._sorted_hf = np.insert(order, pos, moved[at]), np.insert(sorted_hf, pos, hf[at])
        keep = self._slot[self._by_debt] < 0
        by_debt, debt_sorted, hf_by_debt = self._by_debt[keep], self._debt_sorted[keep], self._hf_by_debt[keep]
        at = np.argsort(-debt, kind="stable")
        pos = np.searchsorted(-debt_sorted, -debt[at], side="right")  # decreasing: search the negated
        self._by_debt = np.insert(by_debt, pos, moved[at])
        self._debt_sorted = np.insert(debt_sorted, pos, debt[at])
        self._hf_by_debt = np.insert(hf_by_debt, pos, hf[at])
        self._clear_side(self._n)
        self.merges += 1

    def _prepare(self, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt) -> None:
        n = coll_scaled.shape[0]
        if self._order is None or n < self._n:
            self._rebuild(coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
            return
        self._key_changed(coll_scaled, debt_scaled, lt)
        every = self.merge_every if self.merge_every is not None else max(1024, n // 32)
        if self._side_rows.size >= every:
            self._merge()

    def _bounds(self, threshold: float, prices, liquidity_index, borrow_index) -> tuple[float, float]:
        """(HF_ref below which an account may be below ``threshold`` now, the most a reference
        debt can have grown by): ``inf`` where a zero price or index leaves no bound."""
        ref_coll, ref_debt = self._ref
        if not ((ref_coll > 0).all() and (ref_debt > 0).all() and (prices > 0).all()):
            return math.inf, math.inf
        fall = float(((prices * liquidity_index) / ref_coll).min())
        rise = float(((prices * borrow_index) / ref_debt).max())
        return threshold * rise / fall * (1.0 + _SLACK), rise * (1.0 + _SLACK)

    def _exact(self, rows, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt) -> _Exact:
        """Exact HF and debt (USD) of ``rows`` now: the same float operations per row as the full
        computation (:func:`~.math.health_factors_and_debts`)."""
        return _Exact(rows, *am.health_factors_and_debts(coll_scaled[rows] * liquidity_index, debt_scaled[rows] * borrow_index,
                                                         prices, lt[rows] if lt.ndim == 2 else lt))

    def _sorted_rows(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` of the sorted orders, less those waiting beside them (their entries are stale)."""
        return rows[self._slot[rows] < 0] if self._side_rows.size else rows

    def _after_query(self, computed: int, hits: int, coll_scaled, debt_scaled, liquidity_index, borrow_index,
                     prices, lt) -> None:
        """Rebuild at this point when this query computed many accounts in vain (prices moved far
        since the reference), or all queries since the reference did: several times what a
        rebuild costs (an exact HF of every account and two sorts)."""
        wasted = computed - hits
        self._wasted += wasted
        n = coll_scaled.shape[0]
        if wasted > max(self.min_rebuild, n // 16) or self._wasted > max(self.min_rebuild, 8 * n):
            self._rebuild(coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)

    # -- queries ------------------------------------------------------------------------------
    def below(self, threshold: float, coll_scaled: np.ndarray, debt_scaled: np.ndarray,
              liquidity_index: np.ndarray, borrow_index: np.ndarray, prices: np.ndarray,
              lt: np.ndarray | None = None) -> Candidates:
        """Accounts with health factor below ``threshold`` at ``prices`` (USD per token) and the
        given indices; ``coll_scaled``/``debt_scaled`` are the (accounts, reserves) matrices;
        ``lt`` the liquidation thresholds, per reserve or per account and reserve (e-mode; a
        row whose thresholds change must be :meth:`mark`-ed). The bound does not depend on them."""
        n = coll_scaled.shape[0]
        prices = np.asarray(prices, dtype=np.float64)
        lt = self.lt if lt is None else lt
        self._prepare(coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        hf_bound, _rise = self._bounds(threshold, prices, liquidity_index, borrow_index)
        k = int(np.searchsorted(self._sorted_hf, hf_bound, side="left")) if hf_bound < math.inf else self._order.size
        rows = np.concatenate([self._sorted_rows(self._order[:k]), self._side_rows[_maybe(self._side_hf, hf_bound)]])
        got = self._exact(rows, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        hit = got.hf < threshold
        out = _in_row_order(got.rows[hit], got.hf[hit], got.debt_usd[hit], n)
        self._after_query(rows.size, out.rows.size, coll_scaled, debt_scaled, liquidity_index, borrow_index,
                          prices, lt)
        return out

    def largest_below(self, count: int, threshold: float, coll_scaled: np.ndarray, debt_scaled: np.ndarray,
                      liquidity_index: np.ndarray, borrow_index: np.ndarray, prices: np.ndarray,
                      lt: np.ndarray | None = None) -> Candidates:
        """Of the accounts :meth:`below` would return, the ``count`` with the largest debts (USD;
        equal debts: the lower row), in increasing row order, with the same health factors and
        debts bit for bit. Walks the accounts by reference debt, largest first, in growing chunks,
        computing those that may be below ``threshold`` (no more at a time than the shortlist
        still lacks); stops when the next reference debt, grown by the most any debt can have
        grown, is below the ``count``-th debt found."""
        prices = np.asarray(prices, dtype=np.float64)
        lt = self.lt if lt is None else lt
        self._prepare(coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        hf_bound, rise = self._bounds(threshold, prices, liquidity_index, borrow_index)
        k = int(np.searchsorted(self._sorted_hf, hf_bound, side="left")) if hf_bound < math.inf else self._order.size
        if k <= 4 * count + 64:  # few may be below: all of them, as below() would
            return _largest(self.below(threshold, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt),
                            count)
        found, hits, computed, n_hits = [], [], 0, 0
        nth = -math.inf  # the count-th largest debt found so far
        start, chunk, n_sorted = 0, max(count, 256), self._by_debt.size
        while start < n_sorted:
            stop = min(start + chunk, n_sorted)
            at = start + np.flatnonzero(_maybe(self._hf_by_debt[start:stop], hf_bound))
            if self._side_rows.size:
                at = at[self._slot[self._by_debt[at]] < 0]  # entries of waiting rows are stale
            need = max(count - n_hits, 64)
            if at.size > need:  # no more than the shortlist still needs: the rest stays unvisited
                at, stop = at[:need], int(at[need - 1]) + 1
            else:
                chunk *= 2
            rows = self._by_debt[at]
            got = self._exact(rows, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
            hit = got.hf < threshold
            found.append(got)
            hits.append(hit)
            computed += rows.size
            n_hits += int(hit.sum())
            start = stop
            if n_hits >= count:
                debts = np.concatenate([f.debt_usd[h] for f, h in zip(found, hits)])
                nth = np.partition(debts, debts.size - count)[debts.size - count]
                if start < n_sorted and self._debt_sorted[start] * rise < nth:
                    break
        # the waiting rows that may be below and may owe more than the count-th found (any that
        # owes less cannot enter the top: the count-th only rises as rows join)
        side = _maybe(self._side_hf, hf_bound)
        if nth > -math.inf and rise < math.inf:
            side &= self._side_debt * rise >= nth
        side = self._side_rows[side]
        got = self._exact(side, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        found.append(got)
        hits.append(got.hf < threshold)
        computed += side.size
        n_hits += int(hits[-1].sum())
        out = _largest(Candidates(*(np.concatenate([getattr(f, name)[h] for f, h in zip(found, hits)])
                                    for name in ("rows", "hf", "debt_usd"))), count)
        self._after_query(computed, n_hits, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        return out

    def debts_at_least(self, usd: float, coll_scaled: np.ndarray, debt_scaled: np.ndarray,
                       liquidity_index: np.ndarray, borrow_index: np.ndarray, prices: np.ndarray,
                       lt: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Accounts owing at least ``usd`` (USD at ``prices``) in increasing row order, and their
        debts (the same float operations as :meth:`below`'s): the prefix of the debt order whose
        reference debts, grown by the most any debt can have grown, reach ``usd``, computed."""
        prices = np.asarray(prices, dtype=np.float64)
        lt = self.lt if lt is None else lt
        self._prepare(coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        _hf_bound, rise = self._bounds(1.0, prices, liquidity_index, borrow_index)
        if rise < math.inf:
            k = int(np.searchsorted(-self._debt_sorted, -(usd / rise), side="right"))
            rows = np.concatenate([self._sorted_rows(self._by_debt[:k]), self._side_rows[self._side_debt * rise >= usd]])
        else:
            rows = np.arange(coll_scaled.shape[0], dtype=np.int64)
        got = self._exact(np.sort(rows), coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        large = got.debt_usd >= usd
        return got.rows[large], got.debt_usd[large]


def _maybe(hf_ref: np.ndarray, hf_bound: float) -> np.ndarray:
    """Which reference health factors may be below the threshold now: all without a bound (a
    zero price at the reference: even an account without debt there may owe now)."""
    return hf_ref < hf_bound if hf_bound < math.inf else np.ones(hf_ref.shape, dtype=bool)


def _largest(c: Candidates, count: int) -> Candidates:
    """The ``count`` largest debts of ``c`` (equal debts: the lower row), in increasing row order."""
    return Candidates(*largest_debts_of(c.rows, c.hf, c.debt_usd, count))


def _in_row_order(rows: np.ndarray, hf: np.ndarray, debt_usd: np.ndarray, n: int) -> Candidates:
    """Candidates sorted by row: a scatter over all ``n`` rows when many, a sort when few."""
    if rows.size > n // 64:
        slot = np.full(n, -1, dtype=np.int64)
        slot[rows] = np.arange(rows.size)
        pick = np.zeros(n, dtype=bool)
        pick[rows] = True
        ordered = np.flatnonzero(pick)
        perm = slot[ordered]
    else:
        perm = np.argsort(rows, kind="stable")
        ordered = rows[perm]
    return Candidates(ordered, hf[perm], debt_usd[perm])
