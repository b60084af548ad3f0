"""Finding the accounts below a health factor without recomputing every account.

Health factors (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt) are computed for all accounts once, at a *reference* point
(oracle prices and interest indices), and kept sorted. Later, for an account whose scaled
balances have not changed since, every term of its health factor has moved by a known
per-reserve ratio::

    HF = Σ_i c_i · p_i · L_i · LT_i / Σ_j d_j · p_j · B_j          (c, d scaled balances)

    HF_now ≥ HF_ref · min_i (p_i L_i / p_i,ref L_i,ref) / max_j (p_j B_j / p_j,ref B_j,ref)

so the accounts that may be below a threshold ``h`` now are a prefix of the sorted reference
(``HF_ref < h / factor``), found by binary search, plus the accounts changed since the
reference (*dirty* rows). Only those get their exact health factor computed. The search is
conservative: no account below ``h`` is ever missed (tested against the full computation).
When the prefix holds many accounts that turn out not to be below ``h`` (prices moved a
lot since the reference), the reference is rebuilt at the current point.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import math as am

__all__ = ["HealthIndex", "Candidates"]

#: Relative slack on the bound, far above the rounding of the health-factor sums.
_SLACK = 1e-9


class Candidates(NamedTuple):
    """Accounts below a health factor: rows in increasing order, their exact health factors and
    total debts (USD at the prices asked for)."""

    rows: np.ndarray
    hf: np.ndarray
    debt_usd: np.ndarray


class HealthIndex:
    """Accounts sorted by health factor at a reference point, and the rows changed since.

    Parameters
    ----------
    liquidation_threshold : numpy.ndarray
        Per-reserve liquidation thresholds (fractions).
    min_rebuild : int
        Rebuild only when at least this many accounts were computed in vain.
    """

    def __init__(self, liquidation_threshold: np.ndarray, min_rebuild: int = 1024):
        self.lt = np.asarray(liquidation_threshold, dtype=np.float64)
        self.min_rebuild = min_rebuild
        self._order: np.ndarray | None = None  # rows sorted by reference HF
        self._sorted_hf: np.ndarray | None = None
        # the scaled balances (and per-account thresholds) at the reference, in the sorted order: the
        # prefix a query computes is one contiguous slice (rows changed since are recomputed live)
        self._coll_sorted: np.ndarray | None = None
        self._debt_sorted: np.ndarray | None = None
        self._lt_sorted: np.ndarray | None = None
        self._ref: tuple[np.ndarray, np.ndarray] | None = None  # (p·L, p·B) per reserve at the reference
        self._n = 0  # rows covered by the reference
        self._dirty_mask = np.zeros(0, dtype=bool)  # rows of the reference changed since
        self._dirty = np.zeros(64, dtype=np.int64)  # the same rows, in the order they changed: [:_n_dirty]
        self._n_dirty = 0
        self.rebuilds = 0

    def mark(self, row: int) -> None:
        """Row ``row`` changed its scaled balances (or is new)."""
        if row < self._n and not self._dirty_mask[row]:
            self._dirty_mask[row] = True
            if self._n_dirty == self._dirty.size:
                self._dirty = np.concatenate([self._dirty, np.zeros(self._dirty.size, dtype=np.int64)])
            self._dirty[self._n_dirty] = row
            self._n_dirty += 1

    def invalidate(self) -> None:
        """Forget the reference (e.g. after many rows were added at once)."""
        self._order = None

    def _rebuild(self, coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt) -> None:
        hf = am.health_factors(coll_scaled * liquidity_index, debt_scaled * borrow_index, prices, lt)
        self._order = np.argsort(hf, kind="stable")
        self._sorted_hf = hf[self._order]
        self._coll_sorted, self._debt_sorted = coll_scaled[self._order], debt_scaled[self._order]
        self._lt_sorted = lt[self._order] if lt.ndim == 2 else None
        self._ref = (prices * liquidity_index, prices * borrow_index)
        self._n = hf.shape[0]
        self._dirty_mask = np.zeros(self._n, dtype=bool)
        self._n_dirty = 0
        self.rebuilds += 1

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
        if self._order is None or n < self._n:
            self._rebuild(coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        ref_coll, ref_debt = self._ref
        if (ref_coll > 0).all() and (ref_debt > 0).all() and (prices > 0).all():
            factor = ((prices * liquidity_index) / ref_coll).min() / ((prices * borrow_index) / ref_debt).max()
            k = int(np.searchsorted(self._sorted_hf, threshold / factor * (1.0 + _SLACK), side="left"))
        else:  # a zero price: no bound, every account is a candidate
            k = self._n
        # the prefix, from the reference's balances (the same float operations per row as live)
        coll = self._coll_sorted[:k] * liquidity_index
        debt = self._debt_sorted[:k] * borrow_index
        hf = am.health_factors(coll, debt, prices, self._lt_sorted[:k] if lt.ndim == 2 else lt)
        hit = hf < threshold
        prefix_rows = self._order[:k]
        if self._n_dirty:
            hit &= ~self._dirty_mask[prefix_rows]  # changed since the reference: recomputed below
        computed = k
        # rows changed or added since the reference, live
        extra = np.concatenate([self._dirty[:self._n_dirty], np.arange(self._n, n, dtype=np.int64)])
        parts = [(prefix_rows[hit], hf[hit], debt[hit])]
        if extra.size:
            e_coll = coll_scaled[extra] * liquidity_index
            e_debt = debt_scaled[extra] * borrow_index
            e_hf = am.health_factors(e_coll, e_debt, prices, lt[extra] if lt.ndim == 2 else lt)
            e_hit = e_hf < threshold
            parts.append((extra[e_hit], e_hf[e_hit], e_debt[e_hit]))
            computed += extra.size
        rows = np.concatenate([p[0] for p in parts])
        hfs = np.concatenate([p[1] for p in parts])
        debt_usd = (np.concatenate([p[2] for p in parts]) * prices).sum(axis=1)  # as the full computation sums
        # rows in increasing order: a scatter over all rows when many, a sort when few
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
        out = Candidates(ordered, hfs[perm], debt_usd[perm])
        wasted = computed - rows.size
        if wasted > max(self.min_rebuild, n // 16) or self._n_dirty > max(self.min_rebuild, n // 16):
            self._rebuild(coll_scaled, debt_scaled, liquidity_index, borrow_index, prices, lt)
        return out
