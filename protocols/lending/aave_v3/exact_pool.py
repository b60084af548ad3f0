"""An Aave v3 pool in exact integers, driven step by step from Python (no SimPy).

:class:`ExactPool` implements :class:`~.replay.Market` with the contracts' state and rounding
(:mod:`.exact`): per reserve the liquidity and variable borrow indices, the rates set by the last
action, scaled aToken and debt totals, cash (v3.0: the aToken's underlying balance; v3.6: the
virtual balance), the treasury's accrual and the deficit; per account scaled balances and the
collateral / borrowing flags. Every call accrues the reserves it touches first (``updateState``),
then validates, then moves scaled balances and sets new rates, as ``SupplyLogic``,
``BorrowLogic`` and ``LiquidationLogic`` do. A call that reverts changes nothing.

Scope: variable-rate debt, no e-mode, isolation, caps, flash loans or ``receiveAToken``; every
reserve is borrowable; supplying enables collateral when the reserve's LTV is not 0.

References: Aave v3 `DataTypes.ReserveData` and `ReserveConfiguration.sol`; Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`; the contracts named in :mod:`.exact`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from defisim.base import Revert

from . import exact as x
from .replay import AccountData, LiquidationResult, ReserveConfig, ReserveData

__all__ = ["ExactPool"]


@dataclass
class _Reserve:
    config: ReserveConfig
    liquidity_index: int = x.RAY
    borrow_index: int = x.RAY
    liquidity_rate: int = 0
    borrow_rate: int = 0
    last_update: int = 0
    scaled_supply: int = 0
    scaled_debt: int = 0
    cash: int = 0
    accrued_to_treasury: int = 0
    deficit: int = 0


@dataclass
class _Account:
    supplied: dict[str, int] = field(default_factory=dict)  # scaled aTokens
    owed: dict[str, int] = field(default_factory=dict)  # scaled variable debt
    collateral: set[str] = field(default_factory=set)  # reserves used as collateral
    borrowing: set[str] = field(default_factory=set)  # reserves flagged as borrowed


@dataclass
class _State:
    now: int
    prices: dict[str, int]
    reserves: dict[str, _Reserve]
    accounts: dict[str, _Account]


class ExactPool:
    """A market of ``reserves`` under the ``version`` rules (``"v3.0"`` or ``"v3.6"``).

    Parameters
    ----------
    version : {"v3.0", "v3.6"}
    reserves : sequence of ReserveConfig
        In listing order (the order the contracts iterate accounts' reserves in).
    prices : dict of str to int
        Initial oracle prices (USD·1e8) per symbol.
    start_time : int
        ``block.timestamp`` at the start (s).

    Examples
    --------
    worked example A through the pool: 10 WETH at $2,000, 15,000 USDC borrowed, WETH falls to $1,800.

    >>> from protocols.lending.aave_v3.replay import USDC_EXAMPLE as usdc, WETH_EXAMPLE as weth
    >>> pool = ExactPool("v3.6", [weth, usdc], {"WETH": 2_000 * 10**8, "USDC": 10**8})
    >>> pool.supply("lender", "USDC", 100_000 * 10**6)
    >>> pool.supply("borrower", "WETH", 10 * 10**18)
    >>> pool.borrow("borrower", "USDC", 15_000 * 10**6)
    >>> pool.set_price("WETH", 1_800 * 10**8)
    >>> pool.account_data("borrower").health_factor
    996000000000000000
    >>> pool.liquidation_call("liquidator", "WETH", "USDC", "borrower", 2**256 - 1)
    LiquidationResult(debt_repaid=7500000000, collateral_to_liquidator=4354166666666666666, protocol_fee=20833333333333333, deficit_created=0)
    """

    def __init__(self, version: str, reserves, prices: dict[str, int], start_time: int = 1):
        x.check_version(version)
        self.version = version
        self.state = _State(start_time, dict(prices), {r.symbol: _Reserve(r) for r in reserves}, {})

    # -- Market interface -------------------------------------------------------------------
    def set_price(self, symbol: str, price: int) -> None:
        self.state.prices[symbol] = price

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        self.state.now += seconds

    def supply(self, user: str, symbol: str, amount: int) -> None:
        self._atomic(self._supply, user, symbol, amount)

    def borrow(self, user: str, symbol: str, amount: int) -> None:
        self._atomic(self._borrow, user, symbol, amount)

    def liquidation_call(self, liquidator: str, collateral: str, debt: str, user: str,
                         debt_to_cover: int) -> LiquidationResult:
        return self._atomic(self._liquidation_call, liquidator, collateral, debt, user, debt_to_cover)

    def reserve_data(self, symbol: str) -> ReserveData:
        r = self.state.reserves[symbol]
        debt_index = self._debt_index(r)
        return ReserveData(self._income(r), debt_index, r.liquidity_rate, r.borrow_rate,
                           r.deficit if self.version == "v3.6" else 0,
                           x.debt_token_balance(self.version, r.scaled_debt, debt_index), r.cash)

    def account_data(self, user: str) -> AccountData:
        account = self.state.accounts.get(user, _Account())
        totals = self._totals(account)
        coll = {s: x.a_token_balance(self.version, account.supplied.get(s, 0), self._income(r))
                for s, r in self.state.reserves.items()}
        debt = {s: x.debt_token_balance(self.version, account.owed.get(s, 0), self._debt_index(r))
                for s, r in self.state.reserves.items()}
        return AccountData(totals.total_collateral_base, totals.total_debt_base, totals.health_factor, coll, debt)

    # -- reserve bookkeeping (ReserveLogic) -------------------------------------------------
    def _atomic(self, fn, *args):
        saved = copy.deepcopy(self.state)
        try:
            return fn(*args)
        except Revert:
            self.state = saved
            raise

    def _income(self, r: _Reserve) -> int:
        """``getNormalizedIncome`` (ray)."""
        if r.last_update == self.state.now:
            return r.liquidity_index
        return x.ray_mul(x.linear_interest_exact(r.liquidity_rate, self.state.now - r.last_update), r.liquidity_index)

    def _debt_index(self, r: _Reserve) -> int:
        """``getNormalizedDebt`` (ray)."""
        if r.last_update == self.state.now:
            return r.borrow_index
        growth = x.compounded_interest_exact(self.version, r.borrow_rate, self.state.now - r.last_update)
        return x.ray_mul(growth, r.borrow_index)

    def _update_state(self, r: _Reserve) -> None:
        """``updateState``: grow the indices since the last update, book the treasury's share."""
        if r.last_update == self.state.now:
            return
        old_borrow_index = r.borrow_index
        if r.liquidity_rate:
            r.liquidity_index = self._income(r)
        if r.scaled_debt:
            r.borrow_index = self._debt_index(r)
        rf = r.config.reserve_factor
        if rf:
            if self.version == "v3.0":
                accrued = x.ray_mul(r.scaled_debt, r.borrow_index) - x.ray_mul(r.scaled_debt, old_borrow_index)
                to_mint = x.percent_mul(accrued, rf)
                if to_mint:
                    r.accrued_to_treasury += x.ray_div(to_mint, r.liquidity_index)
            else:
                accrued = x.ray_mul_floor(r.scaled_debt, r.borrow_index - old_borrow_index)
                to_mint = x.percent_mul(accrued, rf)
                if to_mint:
                    r.accrued_to_treasury += x.ray_div_floor(to_mint, r.liquidity_index)
        r.last_update = self.state.now

    def _update_rates(self, r: _Reserve, added: int, taken: int) -> None:
        """``updateInterestRates`` (v3.6: ``…AndVirtualBalance``): rates after the action."""
        c = r.config
        if r.cash + added - taken < 0:
            raise Revert("PANIC_0x11")  # the strategy's available liquidity underflows: not enough cash
        total_debt = x.debt_token_balance(self.version, r.scaled_debt, r.borrow_index)
        unbacked = r.deficit if self.version == "v3.6" else 0
        r.liquidity_rate, r.borrow_rate = x.interest_rates_exact(
            self.version, total_debt, r.cash + added - taken, unbacked, c.reserve_factor,
            c.optimal_usage, c.base_rate, c.slope1, c.slope2)
        r.cash += added - taken

    # -- accounts (GenericLogic) -------------------------------------------------------------
    def _totals(self, account: _Account) -> x.AccountTotals:
        prices = self.state.prices
        collateral, debt = [], []
        for sym, r in self.state.reserves.items():  # listing order, as the contracts iterate
            c = r.config
            if sym in account.collateral:
                balance = x.a_token_balance(self.version, account.supplied.get(sym, 0), self._income(r))
                collateral.append(x.CollateralPosition(balance, prices[sym], c.decimals, c.liquidation_threshold, c.ltv))
            if sym in account.borrowing:
                balance = x.debt_token_balance(self.version, account.owed.get(sym, 0), self._debt_index(r))
                debt.append(x.DebtPosition(balance, prices[sym], c.decimals))
        return x.account_data_exact(self.version, collateral, debt)

    def _account(self, user: str) -> _Account:
        return self.state.accounts.setdefault(user, _Account())

    @staticmethod
    def _take(balances: dict[str, int], sym: str, scaled: int) -> int:
        """Burn ``scaled`` units; Solidity's checked subtraction panics below zero."""
        left = balances.get(sym, 0) - scaled
        if left < 0:
            raise Revert("PANIC_0x11")
        balances[sym] = left
        return left

    # -- calls ------------------------------------------------------------------------------
    def _supply(self, user: str, sym: str, amount: int) -> None:
        """``SupplyLogic.executeSupply``."""
        r = self.state.reserves[sym]
        self._update_state(r)
        scaled = x.a_token_scaled_mint(self.version, amount, r.liquidity_index)
        if amount == 0 or scaled == 0:
            raise Revert("INVALID_AMOUNT" if self.version == "v3.6" or amount == 0 else "INVALID_MINT_AMOUNT")
        self._update_rates(r, amount, 0)
        account = self._account(user)
        first = account.supplied.get(sym, 0) == 0
        account.supplied[sym] = account.supplied.get(sym, 0) + scaled
        r.scaled_supply += scaled
        if first and r.config.ltv != 0:
            account.collateral.add(sym)

    def _borrow(self, user: str, sym: str, amount: int) -> None:
        """``BorrowLogic.executeBorrow``: v3.0 checks LTV and HF before minting the debt, v3.6 after."""
        r = self.state.reserves[sym]
        self._update_state(r)
        account = self._account(user)
        if amount == 0:
            raise Revert("INVALID_AMOUNT")
        if self.version == "v3.0":
            totals = self._totals(account)
            if totals.total_collateral_base == 0:
                raise Revert("COLLATERAL_BALANCE_IS_ZERO")
            if totals.ltv == 0:
                raise Revert("LTV_VALIDATION_FAILED")
            if totals.health_factor <= x.HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
                raise Revert("HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD")
            amount_base = self.state.prices[sym] * amount // 10**r.config.decimals
            if x.percent_div(totals.total_debt_base + amount_base, totals.ltv) > totals.total_collateral_base:
                raise Revert("COLLATERAL_CANNOT_COVER_NEW_BORROW")
            scaled = x.ray_div(amount, r.borrow_index)
            if scaled == 0:
                raise Revert("INVALID_MINT_AMOUNT")
        else:
            scaled = x.debt_token_scaled_mint(self.version, amount, r.borrow_index)
            # the supply must cover the debt the scaled amount is worth (rounded up: may be amount + 1)
            if x.a_token_balance(self.version, r.scaled_supply, r.liquidity_index) < x.debt_token_balance(
                    self.version, scaled, r.borrow_index):
                raise Revert("INVALID_AMOUNT")
        account.owed[sym] = account.owed.get(sym, 0) + scaled
        account.borrowing.add(sym)
        r.scaled_debt += scaled
        self._update_rates(r, 0, amount)
        if self.version == "v3.6":
            totals = self._totals(account)
            if totals.ltv == 0:
                raise Revert("LTV_VALIDATION_FAILED")
            if totals.health_factor < x.HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
                raise Revert("HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD")
            if totals.total_collateral_base < x.percent_div_ceil(totals.total_debt_base, totals.ltv):
                raise Revert("COLLATERAL_CANNOT_COVER_NEW_BORROW")

    def _liquidation_call(self, liquidator: str, coll_sym: str, debt_sym: str, user: str,
                          debt_to_cover: int) -> LiquidationResult:
        """``LiquidationLogic.executeLiquidationCall`` with ``receiveAToken = false``."""
        v = self.version
        coll_r, debt_r = self.state.reserves[coll_sym], self.state.reserves[debt_sym]
        self._update_state(debt_r)
        if v == "v3.6":
            self._update_state(coll_r)
            if user == liquidator:
                raise Revert("SELF_LIQUIDATION")
        account = self._account(user)
        totals = self._totals(account)
        collateral_balance = x.a_token_balance(v, account.supplied.get(coll_sym, 0), self._income(coll_r))
        debt_balance = x.debt_token_balance(v, account.owed.get(debt_sym, 0), debt_r.borrow_index)
        enabled = coll_sym in account.collateral and (v == "v3.6" or coll_r.config.liquidation_threshold != 0)
        out = x.liquidation_call_exact(
            v, health_factor=totals.health_factor, total_collateral_base=totals.total_collateral_base,
            total_debt_base=totals.total_debt_base, collateral_enabled=enabled,
            collateral_balance=collateral_balance, collateral_price=self.state.prices[coll_sym],
            collateral_decimals=coll_r.config.decimals, debt_balance=debt_balance,
            debt_price=self.state.prices[debt_sym], debt_decimals=debt_r.config.decimals,
            liquidation_bonus=coll_r.config.liquidation_bonus, protocol_fee=coll_r.config.protocol_fee,
            debt_to_cover=debt_to_cover, borrow_index=debt_r.borrow_index, liquidity_index=self._income(coll_r))
        if out.revert:
            raise Revert(out.revert)
        if out.collateral_seized == collateral_balance:
            account.collateral.discard(coll_sym)
        deficit_before = debt_r.deficit

        # debt side
        if v == "v3.0":
            if out.debt_repaid == debt_balance:
                account.borrowing.discard(debt_sym)
            burned = x.ray_div(out.debt_repaid, debt_r.borrow_index)
            self._take(account.owed, debt_sym, burned)
            debt_r.scaled_debt -= burned
            self._update_rates(debt_r, out.debt_repaid, 0)
        else:
            self._burn_debt(account, debt_r, debt_sym, debt_balance, out.debt_repaid, out.no_collateral_left)

        # collateral to the liquidator (underlying), then the protocol fee to the treasury (aTokens)
        self._update_state(coll_r)
        index = coll_r.liquidity_index
        self._update_rates(coll_r, 0, out.liquidator_collateral)
        burned = x.a_token_scaled_burn(v, out.liquidator_collateral, index)
        self._take(account.supplied, coll_sym, burned)
        coll_r.scaled_supply -= burned
        treasury = self._account("treasury")
        fee_balance_before = x.a_token_balance(v, treasury.supplied.get(coll_sym, 0), index)
        if out.protocol_fee:
            fee_scaled = x.a_token_scaled_burn(v, out.protocol_fee, index)
            user_scaled = account.supplied.get(coll_sym, 0)
            if fee_scaled > user_scaled:
                fee_scaled = user_scaled if v == "v3.6" else x.ray_div(x.ray_mul(user_scaled, index), index)
            self._take(account.supplied, coll_sym, fee_scaled)
            treasury.supplied[coll_sym] = treasury.supplied.get(coll_sym, 0) + fee_scaled
        fee = x.a_token_balance(v, treasury.supplied.get(coll_sym, 0), index) - fee_balance_before

        # v3.6: an account left without collateral has all its other debt written off too
        if v == "v3.6" and out.no_collateral_left:
            for sym, r in self.state.reserves.items():
                if sym in account.borrowing and sym != debt_sym:
                    self._update_state(r)
                    owed = x.debt_token_balance(v, account.owed.get(sym, 0), r.borrow_index)
                    self._burn_debt(account, r, sym, owed, 0, True)
        return LiquidationResult(out.debt_repaid, out.liquidator_collateral, fee, debt_r.deficit - deficit_before)

    def _burn_debt(self, account: _Account, r: _Reserve, sym: str, owed: int, repaid: int, write_off: bool) -> None:
        """v3.6 ``_burnDebtTokens``: burn what was repaid (all of it when ``write_off``), book the
        unpaid rest as deficit, clear the borrowing flag when no scaled debt is left, set rates."""
        if owed:
            scaled = x.ray_div_floor(owed if write_off else repaid, r.borrow_index)
            if scaled == 0:
                raise Revert("INVALID_BURN_AMOUNT")
            left = self._take(account.owed, sym, scaled)
            r.scaled_debt -= scaled
            no_more_debt = left == 0
        else:
            no_more_debt = True
        if write_off and owed - repaid:
            r.deficit += owed - repaid
        if no_more_debt:
            account.borrowing.discard(sym)
        self._update_rates(r, repaid, 0)
