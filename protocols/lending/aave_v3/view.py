"""What agents read of an Aave v3 pool: :class:`PoolView`, a read-only window that fills the
engine's lending role (:class:`defisim.base.LendingView`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from defisim.base import LiquidationQuotes

from .health_index import Candidates
from .liquidation import liquidation_calls
from .math import row_sums

if TYPE_CHECKING:
    from .model import AaveV3Pool

__all__ = ["PoolView"]


class PoolView:
    """Read-only window on a pool for agents (nothing here mutates the pool); it fills the engine's
    lending role (:class:`defisim.base.LendingView`), so a keeper written against that role
    liquidates this pool."""

    liquidation_method = "liquidation_call"

    def __init__(self, pool: AaveV3Pool):
        self._pool = pool
        self.symbols = list(pool.symbols)
        self.tokens = dict(pool.params.tokens)
        self.bonus = pool.bonus.copy()
        self.fee = pool.fee.copy()
        self.rules = pool.params.rules

    def quote_liquidations(self, rows: np.ndarray, hf: np.ndarray, prices_usd: np.ndarray,
                           capital: np.ndarray | None = None, value_usd: np.ndarray | None = None) -> LiquidationQuotes:
        """Size ``liquidation_call`` for each account as the pool would (the most the close factor
        allows, Aave v3 `LiquidationLogic.executeLiquidationCall`), repaying at most
        ``capital[debt reserve]`` when given. The (collateral, debt) pair: with ``value_usd`` (what
        one token of each collateral fetches, NaN where the liquidator has no market for it) the
        pair whose liquidation pays the liquidator most at those values, among the pairs the
        account holds; without it, its largest collateral and debt reserve (USD at ``prices_usd``)."""
        coll, debt = self.positions(rows)
        debt_usd = debt * prices_usd
        coll_usd = coll * prices_usd
        largest = coll_usd.argmax(axis=1), debt_usd.argmax(axis=1)
        if value_usd is None:
            return self._quote(rows, hf, prices_usd, coll, debt, coll_usd, debt_usd, *largest, capital)
        best, best_gain = None, None
        for c in np.flatnonzero((coll > 0).any(axis=0) & np.isfinite(value_usd)).tolist():
            for d in np.flatnonzero((debt > 0).any(axis=0)).tolist():
                pair = np.full(rows.size, c), np.full(rows.size, d)
                q = self._quote(rows, hf, prices_usd, coll, debt, coll_usd, debt_usd, *pair, capital)
                gain = np.where(q.ok, q.liquidator_collateral * value_usd[c] - q.debt_repaid * prices_usd[d], -np.inf)
                if best is None:
                    best, best_gain = q, gain
                    continue
                take = gain > best_gain  # ties keep the earlier pair: reserve order
                best = LiquidationQuotes(*(np.where(take, new, old) for new, old in zip(q, best)))
                best_gain = np.where(take, gain, best_gain)
        if best is None:  # no collateral it can value: the largest pair, for the record
            return self._quote(rows, hf, prices_usd, coll, debt, coll_usd, debt_usd, *largest, capital)
        return best

    def quote_pair(self, rows: np.ndarray, hf: np.ndarray, prices_usd: np.ndarray, collateral: np.ndarray,
                   debt: np.ndarray, debt_to_cover: np.ndarray | float = np.inf) -> LiquidationQuotes:
        """Size ``liquidation_call`` for each account on a given (collateral, debt) pair of reserve
        indices (one per account), repaying at most ``debt_to_cover`` (tokens, per account); ``ok``
        is False where the pool would revert (no such position, HF ≥ 1, a partial that leaves dust)."""
        coll, owed = self.positions(rows)
        return self._quote(rows, hf, prices_usd, coll, owed, coll * prices_usd, owed * prices_usd,
                           np.asarray(collateral), np.asarray(debt), None, debt_to_cover)

    def _quote(self, rows, hf, prices_usd, coll, debt, coll_usd, debt_usd, rc, rd, capital,
               cover=np.inf) -> LiquidationQuotes:
        pick = np.arange(rows.size)
        if capital is not None:
            cover = np.asarray(capital, dtype=np.float64)[rd]
        out = liquidation_calls(
            coll[pick, rc], debt[pick, rd], prices_usd[rc], prices_usd[rd], hf,
            self.liquidation_bonus(rows, rc), self.fee[rc], cover,
            other_collateral_usd=row_sums(coll_usd) - coll_usd[pick, rc],
            other_debt_usd=row_sums(debt_usd) - debt_usd[pick, rd], rules=self.rules)
        return LiquidationQuotes(rc, rd, out.ok, out.debt_repaid, out.liquidator_collateral)

    @property
    def state_version(self) -> int:
        """Changes with every change of the pool's state (positions, accrual): a cache key."""
        return self._pool.state.version

    def _ro(self, a: np.ndarray) -> np.ndarray:
        a = a.view()
        a.flags.writeable = False
        return a

    def health_factors(self) -> np.ndarray:
        return self._ro(self._pool.health_factors())

    def liquidatable(self) -> np.ndarray:
        """Row ids with HF < 1 at the current on-chain prices."""
        return self._pool.liquidatable()

    def liquidation_candidates(self, prices_usd: np.ndarray | None = None, largest: int | None = None) -> Candidates:
        """Accounts with HF < 1: rows, health factors, debts (USD); at ``prices_usd`` if given;
        only the ``largest`` debts if given (see :meth:`AaveV3Pool.liquidation_candidates`)."""
        c = self._pool.liquidation_candidates(prices_usd, largest)
        return Candidates(self._ro(c.rows), self._ro(c.hf), self._ro(c.debt_usd))

    def prices_usd(self) -> np.ndarray:
        return self._pool.prices_usd()

    def liquidation_bonus(self, rows: np.ndarray, collateral: np.ndarray) -> np.ndarray:
        """Bonus each account gets on its collateral reserve (e-mode aware, Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode)."""
        p = self._pool
        return p.bonus_by_category[p.state.positions["emode"][rows], collateral]

    @property
    def max_bonus(self) -> np.ndarray:
        """Per reserve, the highest bonus any account can give (a bound for keepers)."""
        return self._pool.max_bonus.copy()

    def thresholds(self, row: int) -> np.ndarray:
        """Liquidation thresholds per reserve of account ``row`` (e-mode aware)."""
        return self._pool.lt_by_category[self._pool.category(row)].copy()

    def borrow_rates(self) -> np.ndarray:
        """Borrow rate of each reserve now (annual fractions, Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`)."""
        return self._pool.current_rates()[0]

    def borrowed(self) -> np.ndarray:
        """Per reserve: whether anyone owes it (a liquidation can only repay such a reserve)."""
        return self._pool.state.total_debt_scaled > 0

    def n_accounts(self) -> int:
        return len(self._pool.state.accounts)

    def row_of(self, owner: str) -> int | None:
        """The row of ``owner``'s account, or ``None`` if it has none."""
        return self._pool.state.accounts.get(owner)

    def owner(self, row: int) -> str:
        return self._pool.state.accounts.name(row)

    def positions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(collateral, debt) tokens of many accounts: matrices (len(rows), reserves)."""
        s = self._pool.state
        return (s.positions["collateral_scaled"][rows] * s.liquidity_index,
                s.positions["debt_scaled"][rows] * s.borrow_index)

    def position(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(collateral, debt) tokens per reserve of one account."""
        s = self._pool.state
        return (s.positions["collateral_scaled"][row] * s.liquidity_index,
                s.positions["debt_scaled"][row] * s.borrow_index)

    def cash(self) -> np.ndarray:
        """Tokens the pool holds of each reserve: all that withdrawals and borrowing can take."""
        return self._pool.cash()

    def utilization(self) -> np.ndarray:
        """Borrow usage ratio of each reserve now, ``debt / (debt + cash)`` (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`)."""
        return self._pool.utilization()

    def distress(self) -> float:
        """The pool's deficit over its deposits (USD/USD): what its lenders stand to lose."""
        return self._pool.distress()
