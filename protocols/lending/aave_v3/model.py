"""The Aave v3 pool on the engine: positions as a struct of arrays, index accrual per block,
supply / withdraw / borrow / repay / liquidationCall handlers (Aave v3 (aave-dao/aave-v3-origin)).

Balances are stored scaled (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`): collateral = scaled × liquidity index, debt =
scaled × variable borrow index, so interest accrues in O(reserves) per block. Tokens move
through the token ledgers named in the params: the pool's own address holds the reserves'
available liquidity. The accounts below HF 1 (the keepers' shared candidate set) come from a
:class:`~.health_index.HealthIndex`, cached per (block, state version, prices): a quiet block
costs a binary search, not a pass over every account.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from defisim.base import LIQUIDATION_CALL, AddressBook, Column, Positions, Protocol, Revert, Table, handler
from defisim.graph import Exposure, Node

from ..records import book_due, book_every_blocks
from . import math as am
from .liquidation import liquidation_call
from .health_index import Candidates, HealthIndex
from .params import PoolParams
from .population import BorrowerBook, generate_population, lender_names, lender_shares, read_population_csv
from .view import PoolView

__all__ = ["AaveV3Pool", "PoolState", "LIQUIDATION_COLUMNS", "HEALTH_COLUMNS", "HEALTH_QUANTILES", "RESERVE_COLUMNS",
           "WITHDRAWAL_COLUMNS", "NOT_ENOUGH_LIQUIDITY"]

#: Float remainder below zero, as a share of the balance or the amount taken, that settles to zero.
DUST_SHARE = 1e-9

#: Quantiles of the borrowers' health factors recorded in the ``health_factors`` table.
HEALTH_QUANTILES = (0.01, 0.05, 0.25, 0.5)

HEALTH_COLUMNS = [
    Column("block", "int64", "block number (recorded at the top of the block, after accrual)"),
    Column("pool", "string", "lending pool"),
    *(Column(f"hf_p{round(q * 100):02d}", "float64", f"{q:.0%} quantile of the borrowers' health factors")
      for q in HEALTH_QUANTILES),
    Column("borrowers", "int64", "accounts with debt"),
    Column("below_1", "int64", "of which with health factor below 1 (liquidatable)"),
    Column("debt_below_1_usd", "float64", "their debt at oracle prices (USD)"),
    Column("uncovered_usd", "float64", "Σ over accounts with debt of max(0, debt − collateral), at oracle prices (USD)"),
]

#: The ``positions`` result role (:mod:`defisim.base.roles`) filled by the ``health_factors`` table.
HEALTH_ROLE = {"protocol": "pool", "accounts": "borrowers",
               "hf_quantiles": [f"hf_p{round(q * 100):02d}" for q in HEALTH_QUANTILES]}

LIQUIDATION_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("pool", "string", "lending pool"),
    Column("liquidator", "string", "caller"),
    Column("user", "string", "liquidated account"),
    Column("collateral_asset", "string", "collateral reserve"),
    Column("debt_asset", "string", "debt reserve"),
    Column("debt_repaid", "float64", "debt tokens repaid by the liquidator"),
    Column("debt_repaid_usd", "float64", "the same at the oracle price (USD)"),
    Column("collateral_seized", "float64", "collateral tokens leaving the account (liquidator + protocol fee)"),
    Column("collateral_seized_usd", "float64", "the same at the oracle price (USD)"),
    Column("liquidator_collateral", "float64", "collateral tokens received by the liquidator"),
    Column("protocol_fee_collateral", "float64", "collateral credited to the treasury as aTokens (tokens)"),
    Column("deficit_usd", "float64", "debt written off as reserve deficit by this call, all reserves (USD)"),
    Column("hf_before", "float64", "health factor before the call at oracle prices"),
]
#: The ``liquidations`` result role filled by the ``liquidations`` table.
LIQUIDATION_ROLE = {"protocol": "pool", "account": "user", "written_off_usd": "deficit_usd"}

RESERVE_COLUMNS = [
    Column("block", "int64", "block number (recorded at the top of the block, after accrual)"),
    Column("pool", "string", "lending pool"),
    Column("asset", "string", "reserve"),
    Column("cash", "float64", "tokens the pool holds of the reserve: what withdrawals and new borrowing can take "
           "(tokens)"),
    Column("supplied", "float64", "deposits, interest included (tokens)"),
    Column("borrowed", "float64", "debt owed to the reserve, interest included (tokens)"),
    Column("deficit", "float64", "debt written off and not covered (tokens)"),
    Column("utilization", "float64", "borrowed / (borrowed + cash): the borrow usage ratio of the rate strategy"),
    Column("borrow_rate", "float64", "variable borrow rate set by the last action (annual fraction)"),
    Column("supply_rate", "float64", "supply rate set by the last action (annual fraction)"),
    Column("price_usd", "float64", "oracle price of the reserve's token (USD)"),
]

WITHDRAWAL_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("pool", "string", "lending pool"),
    Column("user", "string", "account withdrawing"),
    Column("asset", "string", "reserve"),
    Column("amount", "float64", "tokens withdrawn, or that the call would have paid out: the amount asked for, "
           "at most the account's deposit"),
    Column("cash_before", "float64", "tokens the pool held of the reserve when the call ran"),
    Column("status", "string", "included | reverted"),
    Column("reason", "string", "revert reason ('' when included)"),
]

#: Revert reason of a withdrawal (or a borrow) larger than the reserve's cash.
NOT_ENOUGH_LIQUIDITY = "not enough liquidity"


class LiquidationQuote(NamedTuple):
    """A checked liquidation: the account's row, the collateral and debt reserve indices, its
    health factor before, the oracle prices (USD, one per reserve) and the outcome (:class:`.liquidation.LiquidationOutcome`)."""

    row: int
    collateral: int
    debt: int
    hf: float
    prices: list[float]
    out: object


def _usd_besides(amounts: list, prices: list, r: int, vector: np.ndarray) -> float:
    """USD of an account's ``amounts`` (tokens per reserve; ``vector`` the same as an array) at
    ``prices`` (USD per token) in the reserves other than ``r``: ``vector @ prices − amounts[r]·prices[r]``
    with numpy's dot. When every other reserve adds an exact zero (no balance, a finite price), the dot
    is that one product whatever the order of its sum, and the difference is taken without it."""
    x = amounts[r] * prices[r]
    for k, (a, p) in enumerate(zip(amounts, prices)):
        if k != r and not (a == 0.0 and -math.inf < p < math.inf):
            return float(vector @ np.array(prices) - x)
    return x - x


@dataclass
class PoolState:
    """All mutable state of a pool (checkpointed whole for atomic bundles).

    ``positions`` has one row per account: ``collateral_scaled`` and ``debt_scaled`` with one
    column per reserve, and the account's e-mode category ``emode`` (0: none); ``accounts``
    names the rows (owner → row and back; a population held as one range). Per-reserve
    arrays: indices (fractions ≥ 1), scaled totals, deficit (tokens), and the borrow and supply
    rates (annual fractions) set after the last action. ``version`` changes with every position
    change and accrual (cache key).
    """

    accounts: AddressBook
    positions: Table
    liquidity_index: np.ndarray
    borrow_index: np.ndarray
    total_collateral_scaled: np.ndarray
    total_debt_scaled: np.ndarray
    deficit: np.ndarray
    last_accrual_ms: int
    version: int
    borrow_rate: np.ndarray | None = None  # per reserve, annual, set after the last action (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`)
    supply_rate: np.ndarray | None = None


class AaveV3Pool(Protocol):
    """An Aave v3 market (``lending.aave_v3``). Calls (amounts in tokens):
    ``supply(asset, amount)``, ``withdraw(asset, amount)``, ``borrow(asset, amount)``,
    ``repay(asset, amount)``, ``set_user_emode(category)``,
    ``liquidation_call(collateral_asset, debt_asset, user, debt_to_cover)``.
    """

    view_roles = ("lending",)  # its PoolView fills defisim.base.LendingView

    kind = "lending.aave_v3"
    Params = PoolParams

    def __init__(self, name: str, params: PoolParams, host):
        super().__init__(name, params, host)
        res = params.reserves
        self.symbols = [r.symbol for r in res]
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.ltv = np.array([r.ltv for r in res])
        self.lt = np.array([r.liquidation_threshold for r in res])
        # e-mode (Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode): row k of each matrix holds the LTV / LT / bonus per reserve of an account in
        # category k (row 0: no e-mode); a category overrides them on its collateral reserves
        self.ltv_by_category = np.tile(self.ltv, (len(params.emode_categories) + 1, 1))
        self.lt_by_category = np.tile(self.lt, (len(params.emode_categories) + 1, 1))
        self.bonus_by_category = np.tile(np.array([r.liquidation_bonus for r in res]), (len(params.emode_categories) + 1, 1))
        self.borrowable_by_category = np.ones((len(params.emode_categories) + 1, len(res)), dtype=bool)
        for k, cat in enumerate(params.emode_categories, start=1):
            cols = [self.symbols.index(sym) for sym in cat.collateral_symbols]
            self.ltv_by_category[k, cols] = cat.ltv
            self.lt_by_category[k, cols] = cat.liquidation_threshold
            self.bonus_by_category[k, cols] = cat.liquidation_bonus
            self.borrowable_by_category[k] = [sym in cat.borrowable_symbols for sym in self.symbols]
        self.max_bonus = self.bonus_by_category.max(axis=0)  # the highest bonus any account can give, per reserve
        self.bonus = self.bonus_by_category[0].copy()  # the reserves' own bonuses
        self.fee = np.array([r.protocol_liquidation_fee for r in res])
        self.reserve_factor = np.array([r.reserve_factor for r in res])
        rs = [r.rate_strategy for r in res]
        self.rate_args = tuple(np.array([getattr(s, f) for s in rs]) for f in ("optimal_utilization", "base_rate", "slope1", "slope2"))
        n = len(res)
        width = (np.float64, n)
        self.state = PoolState(
            AddressBook(), Table({"collateral_scaled": width, "debt_scaled": width, "emode": np.int64}, capacity=1024),
            np.ones(n), np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n), 0, 0,
        )
        self._log = host.log.declare("liquidations", "liquidationCall executions", LIQUIDATION_COLUMNS,
                                     role="liquidations", role_columns=LIQUIDATION_ROLE)
        self._health_log = host.log.declare("health_factors", "borrowers' health factors, every few blocks",
                                            HEALTH_COLUMNS, role="positions", role_columns=HEALTH_ROLE)
        self._reserve_log = host.log.declare("reserves", "each reserve's cash, debt, utilisation and rates, every "
                                             "few blocks", RESERVE_COLUMNS)
        self._withdrawal_log = host.log.declare("withdrawals", "withdraw calls that reached a pool: paid or reverted",
                                                WITHDRAWAL_COLUMNS)
        self._hf_cache: tuple | None = None
        self._liquidation_terms: dict[int, tuple] = {}  # e-mode category -> (LTs, bonuses, fees) as lists
        self._empty_account_revert: tuple = (None, "")  # (the call's reserves, category, cover, prices), reason
        self._candidates_cache: tuple = (None, {})  # (block, version, prices), {largest: answer}
        self._health = HealthIndex(self.lt)
        self._position_changes = 0  # counts changes of scaled balances (not accrual)
        self._rates_stale = True  # an action changed liquidity or debt since the rates were set
        self._health_recorded: tuple[int, tuple] | None = None  # (block, (position changes, prices))
        self._health_every_blocks: int | None = None  # set at the first look (see _health_every)
        for sym, amount in params.seed_supply.items():
            if amount > 0:
                self._ledger(sym).issue_quietly(self.name, amount)
                self._add_collateral(self._row("lenders"), self.index[sym], amount)
        if params.population is not None:
            pop = params.population
            book = BorrowerBook.from_frame(read_population_csv(pop.csv)) if pop.csv else generate_population(
                pop, host.stream(f"{name}/population"), dict(zip(self.symbols, self._initial_prices())),
                dict(zip(self.symbols, self.lt_by_category[pop.emode_category])))
            self.load_positions(book, pop.emode_category)
        if params.lenders is not None:
            self._spread_lenders(params.lenders, host.stream(f"{name}/lenders"))
        # capital efficiency of the parameters: the borrowers opened at the start (the population)
        self._capital_at_start = self.capital_use() if params.population is not None else (float("nan"), 0.0)

    def _initial_prices(self) -> np.ndarray:
        missing = [o for o in self.params.oracles.values() if o not in self.host.protocols]
        if missing:
            raise ValueError(f"protocols.{self.name}.oracles: {missing} must be listed before the pool in the scenario")
        return self.prices_usd()

    def load_positions(self, table: BorrowerBook, emode_category: int = 0) -> None:
        """Open positions at the start (a :class:`~.population.BorrowerBook`, tokens): the lenders
        supplied what they borrow, the borrowed tokens sit in each borrower's wallet. Vectorised:
        one append for all rows."""
        s, n_res = self.state, len(self.symbols)
        owners = table.owner
        try:
            s.accounts.add_all(owners)  # the rows the append below gives them
        except ValueError as e:
            raise ValueError(f"population: owners must be unique and new to the pool ({e})") from None
        n = len(owners)
        coll = np.zeros((n, n_res))
        debt = np.zeros((n, n_res))
        rows = np.arange(n)
        coll[rows, self._reserves_of(table.collateral_asset)] = np.asarray(table.collateral, dtype=float)
        debt[rows, self._reserves_of(table.debt_asset)] = np.asarray(table.debt, dtype=float)
        s.positions.append(collateral_scaled=coll / s.liquidity_index, debt_scaled=debt / s.borrow_index,
                           emode=np.full(n, emode_category))
        self._health.invalidate()
        s.total_collateral_scaled += coll.sum(axis=0) / s.liquidity_index
        s.total_debt_scaled += debt.sum(axis=0) / s.borrow_index
        for r, sym in enumerate(self.symbols):
            c, d = coll[:, r].sum(), debt[:, r].sum()
            if c > 0:
                self._ledger(sym).issue_quietly(self.name, c)
            if d > 0:  # lent by the lenders, now in each borrower's wallet
                has = debt[:, r] > 0
                holders = owners if has.all() else [owners[i] for i in np.flatnonzero(has).tolist()]
                self._ledger(sym).issue_many(holders, debt[has, r])
                self._add_collateral(self._row("lenders"), r, d)
        s.version += 1

    def _reserves_of(self, assets) -> np.ndarray:
        """The reserve index of each symbol of ``assets`` (a :class:`pandas.Categorical`)."""
        return np.array([self.index[a] for a in assets.categories], dtype=np.int64)[assets.codes]

    def _spread_lenders(self, p, rng) -> None:
        """Share what the account ``lenders`` supplied among the crowd ``lender/0`` … in
        proportion to the drawn sizes (scaled balances: the same share of every reserve, its
        interest alike); ``lenders`` keeps nothing, no token moves."""
        s = self.state
        owners = lender_names(p.count)
        row = self._row("lenders")
        try:
            s.accounts.add_all(owners)  # the rows the append below gives them
        except ValueError:
            raise ValueError("lenders: accounts named lender/<i> already exist in the pool (a borrower book's owners?)") from None
        whole = s.positions["collateral_scaled"][row].copy()
        parts = np.outer(lender_shares(p.size.sample(rng, p.count)), whole)
        parts[-1] = np.maximum(whole - parts[:-1].sum(axis=0), 0.0)  # the parts add up to the whole
        s.positions.append(collateral_scaled=parts, debt_scaled=np.zeros_like(parts),
                           emode=np.zeros(p.count, dtype=np.int64))
        s.positions["collateral_scaled"][row] = 0.0
        self._health.invalidate()
        s.version += 1

    # -- plumbing ---------------------------------------------------------------------------
    def _ledger(self, symbol: str):
        return self.host.protocols[self.params.tokens[symbol]]

    def prices_usd(self) -> np.ndarray:
        """Oracle price of each reserve (USD per token), as the pool reads them now."""
        return np.array(self._price_list())

    def _price_list(self) -> list:
        """:meth:`prices_usd` as a list (the oracles' answers, Python floats for scalar arithmetic)."""
        protocols, oracles = self.host.protocols, self.params.oracles
        return [protocols[oracles[s]].price() for s in self.symbols]

    def _row(self, owner: str) -> int:
        s = self.state
        row = s.accounts.get(owner)
        if row is None:
            n = len(self.symbols)
            row = s.accounts.add(owner)
            s.positions.append(collateral_scaled=[np.zeros(n)], debt_scaled=[np.zeros(n)], emode=0)  # row `row`
        return row

    def _add_collateral(self, row: int, r: int, tokens: float) -> None:
        s = self.state
        self._add_scaled(s.positions["collateral_scaled"], s.total_collateral_scaled, row, r, tokens / s.liquidity_index[r])

    def _add_debt(self, row: int, r: int, tokens: float) -> None:
        s = self.state
        self._add_scaled(s.positions["debt_scaled"], s.total_debt_scaled, row, r, tokens / s.borrow_index[r])

    def _add_scaled(self, balances: np.ndarray, totals: np.ndarray, row: int, r: int, scaled: float) -> None:
        """Add ``scaled`` to one scaled balance and its reserve's total. The contracts' integer
        balances cannot go below zero (Aave v3 `ScaledBalanceTokenBase._burn`); taking a whole
        balance out in tokens (``tokens / index``) can leave a float remainder of a few ulps below
        zero, which settles to exactly zero. Anything larger is a bug, not rounding."""
        old = balances[row, r]
        new = old + scaled
        if new < 0.0:
            if -new > DUST_SHARE * max(old, -scaled):
                raise ValueError(f"scaled balance would go from {old!r} to {new!r}: more taken than held")
            new = 0.0
        balances[row, r] = new
        totals[r] += new - old
        self._changed(row)

    def _changed(self, row: int) -> None:
        """Bookkeeping after ``row``'s scaled balances changed: cache keys, the rates to reset
        before the next accrual (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`), the health index."""
        self.state.version += 1
        self._position_changes += 1
        self._rates_stale = True
        self._health.mark(row)

    def liquidation_thresholds(self) -> np.ndarray:
        """Liquidation thresholds in force: per reserve, or per account and reserve when the pool
        has e-mode categories (Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode)."""
        if len(self.lt_by_category) == 1:
            return self.lt
        return self.lt_by_category[self.state.positions["emode"]]

    def category(self, row: int) -> int:
        """E-mode category of account ``row`` (0: none)."""
        return int(self.state.positions["emode"][row])

    def scaled_balances(self) -> tuple[np.ndarray, np.ndarray]:
        """(collateral, debt) scaled balances (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`): matrices of shape (accounts, reserves)."""
        return self.state.positions["collateral_scaled"], self.state.positions["debt_scaled"]

    def balances(self) -> tuple[np.ndarray, np.ndarray]:
        """(collateral, debt) in tokens: matrices of shape (accounts, reserves)."""
        s = self.state
        return s.positions["collateral_scaled"] * s.liquidity_index, s.positions["debt_scaled"] * s.borrow_index

    def account(self, owner: str) -> tuple[np.ndarray, np.ndarray]:
        """(collateral, debt) of one account, tokens per reserve (zeros if unknown)."""
        s = self.state
        row = s.accounts.get(owner)
        if row is None:
            z = np.zeros(len(self.symbols))
            return z, z.copy()
        return s.positions["collateral_scaled"][row] * s.liquidity_index, s.positions["debt_scaled"][row] * s.borrow_index

    def health_factors(self) -> np.ndarray:
        """Health factor of every account at current oracle prices (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt), cached."""
        prices = self.prices_usd()
        key = (self.block.number if self.block else -1, self.state.version, prices.tobytes())
        if self._hf_cache is None or self._hf_cache[0] != key:
            coll, debt = self.balances()
            self._hf_cache = (key, am.health_factors(coll, debt, prices, self.liquidation_thresholds()))
        return self._hf_cache[1]

    def liquidation_candidates(self, prices_usd: np.ndarray | None = None, largest: int | None = None) -> Candidates:
        """Accounts with HF < 1 (the keepers' shared candidate set): rows, exact health factors
        and total debts in USD, at the oracle prices (cached per block, state version and
        prices) or at ``prices_usd`` (a what-if, not cached). With ``largest``, only that many
        with the largest debts (equal debts: the lower row; :meth:`HealthIndex.largest_below`),
        at the cost of those rather than of the whole backlog."""
        s = self.state
        if prices_usd is not None:
            args = (am.HEALTH_FACTOR_LIQUIDATION_THRESHOLD, s.positions["collateral_scaled"], s.positions["debt_scaled"],
                    s.liquidity_index, s.borrow_index, prices_usd, self.liquidation_thresholds())
            return self._health.below(*args) if largest is None else self._health.largest_below(largest, *args)
        prices = self.prices_usd()
        point = (self.block.number if self.block else -1, s.version, prices.tobytes())
        if self._candidates_cache[0] != point:
            self._candidates_cache = (point, {})
        answers = self._candidates_cache[1]
        if largest not in answers:
            answers[largest] = self.liquidation_candidates(prices, largest)
        return answers[largest]

    def liquidatable(self) -> np.ndarray:
        """Row ids of accounts with HF < 1, in increasing order."""
        return self.liquidation_candidates().rows

    def cash(self) -> np.ndarray:
        """Tokens the pool holds of each reserve (its balance on each ledger): the available
        liquidity of the rate strategy (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`), all that
        withdrawals and borrowing can take."""
        return np.array([self._ledger(sym).balance_of(self.name) for sym in self.symbols])

    def utilization(self) -> np.ndarray:
        """Borrow usage ratio of each reserve now, ``debt / (debt + cash)`` (0 without debt; Aave
        `DefaultReserveInterestRateStrategyV2.calculateInterestRates`)."""
        s = self.state
        return am.usage_ratios(s.total_debt_scaled * s.borrow_index, self.cash())

    def _record_reserves(self, block) -> None:
        """One ``reserves`` row per reserve: cash, deposits, debt, deficit, utilisation, rates."""
        s = self.state
        cash = self.cash()
        debt = s.total_debt_scaled * s.borrow_index
        usage = am.usage_ratios(debt, cash).tolist()
        borrow, supply = self.current_rates()
        prices = self.prices_usd().tolist()
        supplied = self.supplied_tokens().tolist()
        for r, sym in enumerate(self.symbols):
            self._reserve_log.append((block.number, self.name, sym, float(cash[r]), supplied[r], float(debt[r]),
                                      float(s.deficit[r]), usage[r], float(borrow[r]), float(supply[r]), prices[r]))

    def _record_health(self, block) -> None:
        """One ``health_factors`` row: quantiles over the accounts with debt (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt).

        Straight from the scaled balances: ``HF = c·(p·L·LT) / d·(p·B)`` with one matrix-vector
        product each (equal to :func:`~.math.health_factors` up to float rounding)."""
        s = self.state
        prices = self.prices_usd()
        coll_scaled, debt_scaled = self.scaled_balances()
        debt_usd = debt_scaled @ (prices * s.borrow_index)
        borrowing = debt_usd > 0
        lt = self.liquidation_thresholds()
        per_scaled = prices * s.liquidity_index  # USD per scaled collateral unit
        if lt.ndim == 2:  # e-mode: thresholds per account
            weighted, value = (coll_scaled * lt) @ per_scaled, coll_scaled @ per_scaled
        else:  # both products in one pass over the balances
            both = coll_scaled @ np.column_stack([per_scaled * lt, per_scaled])
            weighted, value = both[:, 0], both[:, 1]
        hf_all = np.divide(weighted, debt_usd, out=np.full(debt_usd.shape, np.inf), where=borrowing)
        below = hf_all < am.HEALTH_FACTOR_LIQUIDATION_THRESHOLD
        hf = hf_all[borrowing]
        gap = debt_usd - value  # ≤ 0 for an account without debt
        uncovered = float(np.maximum(gap, 0.0, out=gap).sum())
        qs = np.quantile(hf, HEALTH_QUANTILES).tolist() if hf.size else [float("nan")] * len(HEALTH_QUANTILES)
        self._health_log.append((block.number, self.name, *qs, int(hf.size), int(below.sum()),
                                 float(debt_usd[below].sum()), uncovered))
        self._health_recorded = (block.number, (self._position_changes, prices.tobytes()))

    # -- accrual ----------------------------------------------------------------------------
    def on_block(self, block) -> None:
        """Accrue both indices of every reserve over the time since the last block (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`);
        record the reserves every ``reserves_every_blocks`` blocks (from the first) and the
        borrowers' health-factor quantiles when due (:meth:`_health_due`)."""
        self._accrue(block)
        every = self.params.reserves_every_blocks
        if every and (block.number - 1) % every == 0:
            self._record_reserves(block)
        if self._health_every and self._health_due(block.number):
            self._record_health(block)

    @property
    def _health_every(self) -> int:
        """Blocks between two health records at most: ``health_every_blocks``, or by default
        ``max(10, accounts // 10,000)`` with the accounts counted at the first look."""
        if self._health_every_blocks is None:
            every = self.params.health_every_blocks
            self._health_every_blocks = book_every_blocks(len(self.state.accounts)) if every is None else every
        return self._health_every_blocks

    def _health_due(self, number: int) -> bool:
        """Whether to record health factors now: the first block; then at most every
        ``health_every_blocks`` when prices or positions changed, at least every ``health_quiet_blocks``."""
        return book_due(self._health_recorded, number, self._health_every, self.params.health_quiet_blocks,
                        (self._position_changes, self.prices_usd().tobytes()))

    def _accrue(self, block) -> None:
        """Grow the indices over the time since the last block at the rates set after the last
        action (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`: rates change only when an action changes liquidity or debt; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`)."""
        s = self.state
        if self._rates_stale:  # the rates the last action of the previous block set
            self._update_rates()
        dt_s = (block.time_ms - s.last_accrual_ms) // 1000
        s.last_accrual_ms = block.time_ms
        if dt_s <= 0 or not self._accruing:
            return
        if self._growth[0] != dt_s:  # the same rates over the same interval grow the indices alike
            borrow_growth = am.compounded_interest(s.borrow_rate, dt_s, self.params.rules)
            # the contract grows a borrow index only while the reserve has debt (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`)
            self._growth = (dt_s, am.linear_interest(s.supply_rate, dt_s), np.where(self._owed, borrow_growth, 1.0))
        s.liquidity_index = s.liquidity_index * self._growth[1]
        s.borrow_index = s.borrow_index * self._growth[2]
        s.version += 1

    def _update_rates(self) -> None:
        """Borrow and supply rates of every reserve from its utilisation now (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`)."""
        s = self.state
        debt = s.total_debt_scaled * s.borrow_index
        available = self.cash()
        borrow = am.borrow_rates(am.usage_ratios(debt, available), *self.rate_args)
        s.borrow_rate = borrow
        s.supply_rate = am.supply_rate(borrow, am.usage_ratios(debt, available, s.deficit), self.reserve_factor)
        self._owed = s.total_debt_scaled > 0
        self._accruing = bool(self._owed.any())
        self._rates_stale = False
        self._growth = (-1, None, None)  # index growth factors per interval, for these rates

    def current_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """(borrow, supply) rates per reserve (annual fractions) as the last action set them
        (Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`); read-only arrays."""
        if self._rates_stale:
            self._update_rates()
        return self.state.borrow_rate.copy(), self.state.supply_rate.copy()

    # -- calls ------------------------------------------------------------------------------
    def _reserve(self, asset: str) -> int:
        r = self.index.get(asset)
        if r is None:
            raise Revert(f"unknown reserve {asset!r}")
        return r

    @staticmethod
    def _positive(amount: float) -> None:
        if not (isinstance(amount, (int, float)) and np.isfinite(amount) and amount > 0):
            raise Revert("amount must be a positive number")

    @handler(gas=180_000, revert_gas=40_000)
    def supply(self, sender: str, asset: str, amount: float) -> float:
        """Deposit ``amount`` tokens as collateral."""
        r = self._reserve(asset)
        self._positive(amount)
        ledger = self._ledger(asset)
        if ledger.balance_of(sender) < amount:
            raise Revert("supply amount exceeds balance")
        cap = self.params.reserves[r].supply_cap
        if cap and self.state.total_collateral_scaled[r] * self.state.liquidity_index[r] + amount > cap:
            raise Revert("SUPPLY_CAP_EXCEEDED")
        ledger.move(sender, self.name, amount)
        self._add_collateral(self._row(sender), r, amount)
        return amount

    @handler(gas=250_000, revert_gas=60_000)
    def borrow(self, sender: str, asset: str, amount: float) -> float:
        """Borrow ``amount`` tokens against collateral (LTV check, Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt)."""
        r = self._reserve(asset)
        self._positive(amount)
        coll, debt = self.account(sender)
        prices = self.prices_usd()
        row = self.state.accounts.get(sender)
        cat = 0 if row is None else self.category(row)
        if not self.borrowable_by_category[cat, r]:
            raise Revert("NOT_BORROWABLE_IN_EMODE")
        if (debt @ prices) + amount * prices[r] > (coll * prices) @ self.ltv_by_category[cat]:
            raise Revert("COLLATERAL_CANNOT_COVER_NEW_BORROW")
        ledger = self._ledger(asset)
        if ledger.balance_of(self.name) < amount:
            raise Revert("not enough liquidity")
        cap = self.params.reserves[r].borrow_cap
        if cap and self.state.total_debt_scaled[r] * self.state.borrow_index[r] + amount > cap:
            raise Revert("BORROW_CAP_EXCEEDED")
        ledger.move(self.name, sender, amount)
        self._add_debt(self._row(sender), r, amount)
        return amount

    @handler(gas=150_000, revert_gas=40_000)
    def repay(self, sender: str, asset: str, amount: float) -> float:
        """Repay up to ``amount`` tokens of the sender's debt; returns what was repaid."""
        r = self._reserve(asset)
        self._positive(amount)
        _coll, debt = self.account(sender)
        if debt[r] <= 0:
            raise Revert("no debt to repay")
        paid = min(amount, debt[r])
        ledger = self._ledger(asset)
        if ledger.balance_of(sender) < paid:
            raise Revert("repay amount exceeds balance")
        ledger.move(sender, self.name, paid)
        self._add_debt(self.state.accounts[sender], r, -paid)
        return paid

    @handler(gas=160_000, revert_gas=40_000)
    def withdraw(self, sender: str, asset: str, amount: float) -> float:
        """Withdraw up to ``amount`` tokens of the sender's deposit (at most the deposit) if the
        account stays healthy; returns what was paid out.

        A withdrawal larger than the reserve's cash reverts (``"not enough liquidity"``), as in
        the contracts: `SupplyLogic.executeWithdraw` checks only the user's balance
        (`ValidationLogic.validateWithdraw`) and then takes the amount from the reserve's virtual
        balance (`ReserveLogic.updateInterestRatesAndVirtualBalance`, v3.1+: an underflow) and
        pays it out with the aToken's transfer of the underlying (v3.0: the transfer fails) —
        never a part of it. Every call that reaches the pool is a ``withdrawals`` row (a reverted
        one through :meth:`on_revert`)."""
        r, taken = self._withdrawal(sender, asset, amount)
        if taken <= 0:
            raise Revert("nothing to withdraw")
        coll, debt = self.account(sender)
        after = coll.copy()
        after[r] -= taken
        if am.health_factor(after, debt, self.prices_usd(), self.lt_by_category[self.category(self.state.accounts[sender])]) < 1.0:
            raise Revert("HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD")
        ledger = self._ledger(asset)
        cash = ledger.balance_of(self.name)
        if cash < taken:
            raise Revert(NOT_ENOUGH_LIQUIDITY)
        ledger.move(self.name, sender, taken)
        self._add_collateral(self.state.accounts[sender], r, -taken)
        self._withdrawal_log.append((self.block.number, self.name, sender, asset, taken, cash, "included", ""))
        return taken

    def _withdrawal(self, sender: str, asset: str, amount: float) -> tuple[int, float]:
        """(reserve, tokens a withdrawal pays out: ``amount`` capped at the sender's deposit); reverts on a bad input."""
        r = self._reserve(asset)
        self._positive(amount)
        return r, float(min(amount, self.account(sender)[0][r]))

    def on_revert(self, sender: str, method: str, args: dict, reason: str) -> None:
        """A reverted ``withdraw`` of a known reserve and a valid amount is a ``withdrawals`` row
        with the cash it met (the pool's state is as the call found it)."""
        if method != "withdraw":
            return
        try:
            r, taken = self._withdrawal(sender, args["asset"], args["amount"])
        except (Revert, TypeError):  # a bad input: nothing to record
            return
        self._withdrawal_log.append((self.block.number if self.block else -1, self.name, sender, self.symbols[r],
                                     taken, float(self._ledger(self.symbols[r]).balance_of(self.name)),
                                     "reverted", reason))

    @handler(gas=90_000, revert_gas=40_000)
    def set_user_emode(self, sender: str, category: int) -> int:
        """``setUserEMode`` (Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode): enter e-mode ``category`` (0 leaves it). Every reserve the
        account owes must be borrowable in the category, and its health factor under the
        category's thresholds must stay at or above 1."""
        if not (isinstance(category, int) and 0 <= category < len(self.lt_by_category)):
            raise Revert("INCONSISTENT_EMODE_CATEGORY")
        coll, debt = self.account(sender)  # zeros for a new account
        owed = debt > 0
        if owed.any() and not self.borrowable_by_category[category, owed].all():
            raise Revert("NOT_BORROWABLE_IN_EMODE")
        if am.health_factor(coll, debt, self.prices_usd(), self.lt_by_category[category]) < 1.0:
            raise Revert("HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD")
        row = self._row(sender)
        self.state.positions["emode"][row] = category
        self._changed(row)
        return category

    def quote_liquidation_call(self, sender: str, collateral_asset: str, debt_asset: str, user: str,
                               debt_to_cover: float = float("inf")) -> "LiquidationQuote":
        """The checks of ``liquidation_call``, no state change: what it would do now, or
        :class:`~defisim.base.Revert` with its reason (the liquidator's balance aside). A contract
        that liquidates inside a larger call (a flash liquidation) checks with it first."""
        rc, rd = self._reserve(collateral_asset), self._reserve(debt_asset)
        if sender == user and self.params.rules == "v3.3":
            raise Revert("SELF_LIQUIDATION")
        row = self.state.accounts.get(user)
        if row is None:
            raise Revert("unknown user")
        coll, debt = self.account(user)
        prices = self._price_list()
        cat = self.category(row)
        terms = self._liquidation_terms.get(cat)
        if terms is None:  # the category's thresholds and bonuses, and the fees, as Python floats
            terms = self._liquidation_terms[cat] = (self.lt_by_category[cat].tolist(),
                                                    self.bonus_by_category[cat].tolist(), self.fee.tolist())
        lt, bonus, fee = terms
        # scalar arithmetic on Python floats: the same float64 operations as on the arrays' elements
        c, d = coll.tolist(), debt.tolist()
        # an emptied account (a rival's liquidation of it landed first) reverts as the last one did at the
        # same prices and arguments: without balances nothing else enters the outcome
        empty = None
        if not (any(c) or any(d)) and isinstance(debt_to_cover, float):
            empty = (rc, rd, cat, debt_to_cover, *prices)
            if self._empty_account_revert[0] == empty:
                raise Revert(self._empty_account_revert[1])
        hf = am.health_factor(c, d, prices, lt)
        others = (_usd_besides(c, prices, rc, coll), _usd_besides(d, prices, rd, debt))
        try:  # the outcome is computed before any effect: a bad input is a revert, never an error of the run
            out = self._liquidation_outcome(c, d, prices, hf, bonus, fee, rc, rd, debt_to_cover, others)
        except ValueError:
            try:  # the reason names the bad input as the arrays hold it (a numpy scalar)
                p = np.array(prices)
                self._liquidation_outcome(coll, debt, p, am.health_factor(coll, debt, p, self.lt_by_category[cat]),
                                          self.bonus_by_category[cat], self.fee, rc, rd, debt_to_cover, others)
            except ValueError as e:
                raise Revert(f"INVALID_LIQUIDATION_INPUT: {e}") from None
            raise
        if out.revert:
            if empty is not None:
                self._empty_account_revert = (empty, out.revert)
            raise Revert(out.revert)
        if self._ledger(collateral_asset).balance_of(self.name) < out.liquidator_collateral:
            raise Revert("not enough liquidity")  # the collateral is lent out: it cannot be handed over
        return LiquidationQuote(row, rc, rd, hf, prices, out)

    def _liquidation_outcome(self, coll, debt, prices, hf, bonus, fee, rc: int, rd: int, debt_to_cover,
                             others: tuple[float, float]):
        """:func:`.liquidation.liquidation_call` of the pair (``rc``, ``rd``) of one account:
        ``coll``, ``debt`` (tokens), ``prices`` (USD), ``bonus``, ``fee`` (fractions) per reserve,
        ``others`` its collateral and debt in the other reserves (USD, :func:`_usd_besides`)."""
        return liquidation_call(coll[rc], debt[rd], prices[rc], prices[rd], hf, bonus[rc], fee[rc], debt_to_cover,
                                other_collateral_usd=others[0], other_debt_usd=others[1], rules=self.params.rules)

    @handler(gas=350_000, revert_gas=60_000, role=LIQUIDATION_CALL)
    def liquidation_call(self, sender: str, collateral_asset: str, debt_asset: str, user: str,
                         debt_to_cover: float = float("inf")):
        """``liquidationCall`` (Aave v3 `LiquidationLogic.executeLiquidationCall`; under v2 rules Aave v2
        `LendingPoolCollateralManager.liquidationCall`): repay debt of an unhealthy account and take its
        collateral with the bonus; the protocol fee goes to the treasury (none under v2: the params
        refuse a fee with those rules); under v3.3 rules an account left without collateral has
        its remaining debt written off as deficit, under v3.0 and v2 it keeps it. Only v3.3 refuses
        self-liquidation."""
        q = self.quote_liquidation_call(sender, collateral_asset, debt_asset, user, debt_to_cover)
        if self._ledger(debt_asset).balance_of(sender) < q.out.debt_repaid:
            raise Revert("liquidator cannot pay the debt")
        return self.apply_liquidation(sender, user, q)

    def apply_liquidation(self, sender: str, user: str, q: "LiquidationQuote"):
        """The effects of a liquidation checked by :meth:`quote_liquidation_call`: ``sender``
        pays the debt and receives the collateral (it must hold ``q.out.debt_repaid``)."""
        row, rc, rd, hf, prices, out = q
        collateral_asset, debt_asset = self.symbols[rc], self.symbols[rd]
        debt_ledger = self._ledger(debt_asset)
        debt_ledger.move(sender, self.name, out.debt_repaid)
        self._add_debt(row, rd, -out.debt_repaid)
        self._add_collateral(row, rc, -out.collateral_seized)
        self._ledger(collateral_asset).move(self.name, sender, out.liquidator_collateral)
        if out.protocol_fee_collateral > 0:  # the fee stays in the reserve as the treasury's aTokens (Aave v3 `LiquidationLogic.executeLiquidationCall` step 4)
            self._add_collateral(self._row(self.params.treasury), rc, out.protocol_fee_collateral)
        deficit_usd = 0.0
        if out.deficit > 0 or (out.no_collateral_left and self.params.rules == "v3.3"):
            _c, left = self.account(user)
            for r, owed in enumerate(left.tolist()):
                if owed > 0:
                    self.state.deficit[r] += owed
                    deficit_usd += owed * prices[r]
                    self._add_debt(row, r, -owed)
        self._log.append((self.block.number, self.name, sender, user, collateral_asset, debt_asset, out.debt_repaid,
                          out.debt_repaid * prices[rd], out.collateral_seized, out.collateral_seized * prices[rc],
                          out.liquidator_collateral,
                          out.protocol_fee_collateral, deficit_usd, hf))
        return out

    # -- flash loans (Aave v3 `Pool.flashLoanSimple`, `FlashLoanLogic.executeFlashLoanSimple`) --------
    def check_flash_loan(self, asset: str, amount: float) -> float:
        """The premium (tokens) of a flash loan of ``amount`` tokens of ``asset``, or
        :class:`~defisim.base.Revert`: the reserve must hold the cash (its available liquidity;
        the contract's aToken transfer of the underlying fails otherwise)."""
        self._reserve(asset)
        if not (type(amount) is float and 0.0 < amount < math.inf):  # a positive float passes without numpy
            self._positive(amount)
        if self._ledger(asset).balance_of(self.name) < amount:
            raise Revert("flash loan exceeds available liquidity")
        return amount * self.params.flash_loan_premium

    def lend_flash(self, receiver: str, asset: str, amount: float) -> None:
        """Hand a checked flash loan to ``receiver`` (the underlying leaves the reserve)."""
        self._ledger(asset).move(self.name, receiver, amount)

    def repay_flash(self, receiver: str, asset: str, amount: float, premium: float) -> None:
        """Take back ``amount + premium`` from ``receiver``; the premium stays in the reserve as the
        treasury's aTokens (Aave v3.4+ `FlashLoanLogic._handleFlashLoanRepayment`: all of it to the protocol)."""
        r = self._reserve(asset)
        self._ledger(asset).move(receiver, self.name, amount + premium)
        if premium > 0:
            self._add_collateral(self._row(self.params.treasury), r, premium)

    # -- hooks ------------------------------------------------------------------------------
    def view(self) -> "PoolView":
        """What keepers read: health factors, candidates, balances (read-only arrays)."""
        return PoolView(self)

    def supplied_tokens(self) -> np.ndarray:
        """Tokens supplied per reserve, interest included."""
        return self.state.total_collateral_scaled * self.state.liquidity_index

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """: the pool holds its deposits in each token (``collateral``)
        and prices them by its oracles (``oracle``, naming the token); each reserve's receipt
        token ``a<SYM>@<pool>`` is a claim on the pool (``wrapping``); borrowers owing at least
        ``large_account_usd`` are nodes the pool lends to (``debt``, recovery = their
        collateral's value over their debt, at most 1). Equity: the treasury's deposits less the
        deficit (USD)."""
        prices = self.prices_usd()
        supplied_usd = self.supplied_tokens() * prices
        deficit_usd = float(self.state.deficit @ prices)
        treasury_usd = float(self.account(self.params.treasury)[0] @ prices)
        out: list = [Node(self.name, "protocol", equity_usd=max(treasury_usd - deficit_usd, 0.0))]
        for r, sym in enumerate(self.symbols):
            if supplied_usd[r] <= 0:
                continue
            token = self.params.tokens[sym]
            out.append(Exposure(self.name, token, "collateral", float(supplied_usd[r])))
            out.append(Exposure(self.name, self.params.oracles[sym], "oracle", 0.0, asset=token))
            out.append(Node(self.receipt_name(sym), "token"))
            out.append(Exposure(self.receipt_name(sym), self.name, "wrapping", float(supplied_usd[r]), asset=sym))
        coll_scaled, debt_scaled = self.scaled_balances()
        s = self.state
        # found by the health index's debt order: the cost of the large accounts, not of the book
        large, debt_usd = self._health.debts_at_least(large_account_usd, coll_scaled, debt_scaled, s.liquidity_index,
                                                      s.borrow_index, prices, self.liquidation_thresholds())
        collateral_usd = coll_scaled[large] @ (s.liquidity_index * prices)
        for row, c_usd, d_usd in zip(large.tolist(), collateral_usd.tolist(), debt_usd.tolist()):
            owner = s.accounts.name(row)
            out.append(Node(owner, "account", equity_usd=max(c_usd - d_usd, 0.0)))
            out.append(Exposure(self.name, owner, "debt", d_usd, recovery=min(1.0, c_usd / d_usd)))
        return out

    def distress(self) -> float:
        """Deficit over deposits (USD/USD): what lenders lose if the deficit is never covered
        (all of it when nothing is left supplied)."""
        prices = self.prices_usd()
        supplied, deficit = float(self.supplied_tokens() @ prices), float(self.state.deficit @ prices)
        return min(1.0, deficit / supplied) if supplied > 0 else float(deficit > 0)

    def receipt_rate(self, symbol: str) -> float:
        """Value of one receipt token of reserve ``symbol`` in its underlying: ``1 − deficit /
        supplied`` (a claim written down by the reserve's deficit, never below 0; 0 when a
        deficit is left with nothing supplied)."""
        r = self.index[symbol]
        supplied, deficit = float(self.supplied_tokens()[r]), float(self.state.deficit[r])
        if supplied <= 0:
            return 0.0 if deficit > 0 else 1.0
        return max(0.0, 1.0 - deficit / supplied)

    def receipt_name(self, symbol: str) -> str:
        """The node of reserve ``symbol``'s receipt token (``params.receipt_tokens`` or ``a<SYMBOL>@<pool>``)."""
        return self.params.receipt_tokens.get(symbol, f"a{symbol}@{self.name}")

    def issued_distress(self) -> dict[str, float]:
        """Each receipt token's written-down share, ``1 − receipt_rate`` (Aave v3 (aave-dao/aave-v3-origin))."""
        return {self.receipt_name(sym): 1.0 - self.receipt_rate(sym) for sym in self.symbols}

    def capital_use(self) -> tuple[float, float]:
        """How much of their collateral the borrowers use, at the oracle prices now.

        Returns ``(ltv_used, borrowable_usd)`` over the accounts with debt: Σ debt / Σ collateral
        (USD; NaN without borrowers) and Σ collateral × LTV (USD: the borrowing power the
        reserves' LTVs, or their e-mode category's, give that collateral; Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt).
        """
        coll, debt = self.balances()
        prices = self.prices_usd()
        has = debt @ prices > 0
        coll_usd = coll[has] * prices
        total = float(coll_usd.sum())
        ltv = self.ltv_by_category[self.state.positions["emode"][has]]
        return (float((debt[has] @ prices).sum()) / total if total > 0 else float("nan"), float((coll_usd * ltv).sum()))

    def summary(self, tables: dict) -> dict:
        t = tables["liquidations"]
        mine = t[t["pool"] == self.name]
        ltv_used, borrowable_usd = self._capital_at_start
        return {
            "liquidations": int(len(mine)),
            "liquidated_debt_usd": float(mine["debt_repaid_usd"].sum()),
            "ltv_used": ltv_used,
            "borrowable_usd": borrowable_usd,
            **self._liquidity_summary(tables["withdrawals"], tables["reserves"]),
        }

    def _liquidity_summary(self, withdrawals, reserves) -> dict:
        """Withdrawals paid and refused for want of cash; the lowest cash (USD) and the highest
        utilisation of a reserve with deposits, over the ``reserves`` rows."""
        w = withdrawals[withdrawals["pool"] == self.name]
        paid = w["status"] == "included"
        short = (w["status"] == "reverted") & (w["reason"] == NOT_ENOUGH_LIQUIDITY)
        r = reserves[(reserves["pool"] == self.name) & (reserves["supplied"] > 0)]
        return {
            "withdrawals": int(paid.sum()),
            "failed_withdrawals": int(short.sum()),
            "min_cash_usd": float((r["cash"] * r["price_usd"]).min()) if len(r) else float("nan"),
            "max_utilization": float(r["utilization"].max()) if len(r) else float("nan"),
        }

    def positions(self) -> Positions:
        """Every account's balances at the oracle prices now; liquidatable: HF < 1 with debt
        (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt); each reserve's venue from ``params.collateral_venues``."""
        coll, debt = self.balances()
        liquidatable = np.zeros(coll.shape[0], dtype=bool)
        liquidatable[self.liquidatable()] = True  # HF < 1, from the health index
        return Positions(tuple(self.symbols), coll, debt, self.prices_usd(), liquidatable,
                         tuple(self.params.collateral_venues.get(s) for s in self.symbols))
