"""Compound III (Comet) in exact integers, rounded as the contract rounds (compound-finance/comet
`Comet.sol`, `CometCore.sol`).

One deployment lends one **base** asset against up to 15 collateral assets that are not lent and
earn nothing. An account holds a signed base *principal* (positive: supply, negative: borrow) and
collateral balances. Units are the contract's: raw token amounts (``10**decimals`` per token),
indices with ``1e15`` for 1 (`BASE_INDEX_SCALE`), factors and per-second rates in ``1e18``
(`FACTOR_SCALE`), prices of 8 decimals (`PRICE_SCALE`), times in seconds.

- Present value: ``principal × index / 1e15`` rounded down, for supply and borrow alike; a
  present value becomes a principal rounded down for supply and **up** for borrow
  (`principalValueBorrow`): debt is never under-counted.
- Rates: two independent kinked curves of the utilisation ``borrowed × 1e18 / supplied``, their
  per-year parameters divided by 31,536,000 once, rounded down (the constructor). Accrual adds
  ``index × rate × Δt / 1e18`` to each index (simple within the interval).
- Borrow collateralisation and liquidation: ``−debt + Σ collateral value × BCF`` (resp. LCF) in
  8-decimal USD, the debt's value truncated toward zero (Solidity's signed division), the loop
  leaving early once the sum is non-negative. ``is_liquidatable`` reads the stored indices: an
  account is not liquidatable by the view until someone accrues (`isLiquidatable`), while
  ``absorb`` accrues first.
- ``absorb``: the protocol takes **all** the account's collateral, credits it at ``LF`` of its
  value, and the account is left with no debt and a supply of any excess; what the collateral did
  not cover falls on the reserves (``balance − supplied + borrowed``, which can go negative).
- ``buy_collateral``: while the reserves are below ``target_reserves``, anyone buys absorbed
  collateral for base at the oracle price less ``storeFrontPriceFactor × (1 − LF)``.

References: compound-finance/comet `contracts/Comet.sol` (`accruedInterestIndices`,
`getSupplyRate`, `getBorrowRate`, `getUtilization`, `getReserves`, `isBorrowCollateralized`,
`isLiquidatable`, `supplyBase`, `withdrawBase`, `absorbInternal`, `buyCollateral`,
`quoteCollateral`), `contracts/CometCore.sol` (`presentValue`, `principalValue`); Compound III docs,
"Liquidation" and "Interest Rates".
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import NamedTuple

from defisim.base import Revert

from ..evm_int import sdiv

__all__ = ["BASE_INDEX_SCALE", "FACTOR_SCALE", "PRICE_SCALE", "SECONDS_PER_YEAR", "present_value", "principal_value",
           "per_second", "kinked_rate", "CometConfig", "AssetConfig", "AbsorbResult", "ExactComet"]

BASE_INDEX_SCALE = 10**15
FACTOR_SCALE = 10**18
PRICE_SCALE = 10**8
SECONDS_PER_YEAR = 31_536_000


def present_value(principal: int, supply_index: int, borrow_index: int) -> int:
    """`CometCore.presentValue`: a signed principal at the indices, rounded down in magnitude.

    >>> present_value(-16_000 * 10**6, 10**15, 1_050 * 10**12)  # 5% of interest on a 16,000 USDC debt
    -16800000000
    """
    if principal >= 0:
        return principal * supply_index // BASE_INDEX_SCALE
    return -(-principal * borrow_index // BASE_INDEX_SCALE)


def principal_value(present: int, supply_index: int, borrow_index: int) -> int:
    """`CometCore.principalValue`: supply rounds down, borrow rounds up (in magnitude)."""
    if present >= 0:
        return present * BASE_INDEX_SCALE // supply_index
    return -((-present * BASE_INDEX_SCALE + borrow_index - 1) // borrow_index)


def per_second(per_year: int) -> int:
    """A per-year rate (1e18) as the constructor stores it: divided by 31,536,000, rounded down."""
    return per_year // SECONDS_PER_YEAR


def _mul_factor(n: int, factor: int) -> int:
    return n * factor // FACTOR_SCALE


def kinked_rate(utilization: int, base: int, slope_low: int, kink: int, slope_high: int) -> int:
    """`getBorrowRate` / `getSupplyRate` (per-second parameters, 1e18)."""
    if utilization <= kink:
        return base + _mul_factor(slope_low, utilization)
    return base + _mul_factor(slope_low, kink) + _mul_factor(slope_high, utilization - kink)


@dataclass(frozen=True)
class AssetConfig:
    """One collateral asset: its scale (``10**decimals``), factors (1e18) and supply cap (raw units)."""

    symbol: str
    scale: int
    borrow_collateral_factor: int
    liquidate_collateral_factor: int
    liquidation_factor: int
    supply_cap: int = 2**128 - 1


@dataclass(frozen=True)
class CometConfig:
    """A deployment's configuration (`CometConfiguration.Configuration`), per-year rates in 1e18."""

    base_scale: int
    assets: tuple[AssetConfig, ...]
    supply_kink: int
    supply_per_year_base: int
    supply_per_year_slope_low: int
    supply_per_year_slope_high: int
    borrow_kink: int
    borrow_per_year_base: int
    borrow_per_year_slope_low: int
    borrow_per_year_slope_high: int
    store_front_price_factor: int
    base_borrow_min: int
    target_reserves: int

    @classmethod
    def cusdc_v3_launch(cls, assets: tuple[AssetConfig, ...]) -> "CometConfig":
        """cUSDCv3 on Ethereum at launch (compound-finance/comet `deployments/mainnet/usdc/configuration.json`)."""
        e = FACTOR_SCALE
        return cls(base_scale=10**6, assets=assets,
                   supply_kink=80 * e // 100, supply_per_year_base=0, supply_per_year_slope_low=325 * e // 10_000,
                   supply_per_year_slope_high=40 * e // 100,
                   borrow_kink=80 * e // 100, borrow_per_year_base=15 * e // 1000,
                   borrow_per_year_slope_low=35 * e // 1000, borrow_per_year_slope_high=25 * e // 100,
                   store_front_price_factor=e // 2, base_borrow_min=100 * 10**6, target_reserves=5_000_000 * 10**6)


class AbsorbResult(NamedTuple):
    """What `absorbInternal` did to one account: collateral taken per asset (raw), the base paid
    out by the protocol for it (its debt cleared plus any supply credited, raw base), the account's
    new principal."""

    seized: dict
    base_paid_out: int
    new_principal: int


@dataclass
class ExactComet:
    """One Comet deployment's books: indices, totals, principals, collateral, and its token
    balances (``base_held``, ``collateral_held``: what the contract holds, reserves included).

    Prices (8 decimals) are set directly (``base_price``, ``prices``), the clock by ``now`` (s).
    Every call checks before it writes, as the EVM's revert does."""

    config: CometConfig
    base_price: int = PRICE_SCALE
    prices: dict = field(default_factory=dict)
    now: int = 0
    supply_index: int = BASE_INDEX_SCALE
    borrow_index: int = BASE_INDEX_SCALE
    total_supply_base: int = 0
    total_borrow_base: int = 0
    last_accrual: int = 0
    principals: dict = field(default_factory=dict)
    collateral: dict = field(default_factory=dict)  # (account, symbol) -> raw
    totals_collateral: dict = field(default_factory=dict)
    base_held: int = 0
    collateral_held: dict = field(default_factory=dict)

    def __post_init__(self):
        c = self.config
        self._supply_curve = (per_second(c.supply_per_year_base), per_second(c.supply_per_year_slope_low), c.supply_kink,
                              per_second(c.supply_per_year_slope_high))
        self._borrow_curve = (per_second(c.borrow_per_year_base), per_second(c.borrow_per_year_slope_low), c.borrow_kink,
                              per_second(c.borrow_per_year_slope_high))
        self._assets = {a.symbol: a for a in c.assets}
        self.last_accrual = self.last_accrual or self.now

    # -- views ----------------------------------------------------------------------------
    def utilization(self) -> int:
        """`getUtilization` at the stored indices (1e18)."""
        supplied = self.total_supply_base * self.supply_index // BASE_INDEX_SCALE
        borrowed = self.total_borrow_base * self.borrow_index // BASE_INDEX_SCALE
        return 0 if supplied == 0 else borrowed * FACTOR_SCALE // supplied

    def supply_rate(self) -> int:
        return kinked_rate(self.utilization(), *self._supply_curve)

    def borrow_rate(self) -> int:
        return kinked_rate(self.utilization(), *self._borrow_curve)

    def accrued_indices(self) -> tuple[int, int]:
        """`accruedInterestIndices` to ``now``."""
        elapsed = self.now - self.last_accrual
        if elapsed <= 0:
            return self.supply_index, self.borrow_index
        return (self.supply_index + _mul_factor(self.supply_index, self.supply_rate() * elapsed),
                self.borrow_index + _mul_factor(self.borrow_index, self.borrow_rate() * elapsed))

    def reserves(self) -> int:
        """`getReserves`: base held − supplied + borrowed, at the indices accrued to now (signed, raw base)."""
        si, bi = self.accrued_indices()
        return self.base_held - self.total_supply_base * si // BASE_INDEX_SCALE + self.total_borrow_base * bi // BASE_INDEX_SCALE

    def collateral_reserves(self, symbol: str) -> int:
        """`getCollateralReserves`: collateral the protocol owns (absorbed, not yet bought)."""
        return self.collateral_held.get(symbol, 0) - self.totals_collateral.get(symbol, 0)

    def balance_of(self, account: str) -> int:
        """Present value of a supply (raw base; 0 for a borrower), at the stored indices."""
        return max(present_value(self.principals.get(account, 0), self.supply_index, self.borrow_index), 0)

    def borrow_balance_of(self, account: str) -> int:
        return max(-present_value(self.principals.get(account, 0), self.supply_index, self.borrow_index), 0)

    def _liquidity(self, account: str, factor: str) -> int:
        """``−debt + Σ collateral × factor`` in 8-decimal USD, the loop leaving early once ≥ 0."""
        principal = self.principals.get(account, 0)
        value = present_value(principal, self.supply_index, self.borrow_index)
        liquidity = sdiv(value * self.base_price, self.config.base_scale)
        for a in self.config.assets:  # in asset order, as assetsIn's bits
            held = self.collateral.get((account, a.symbol), 0)
            if held == 0:
                continue
            if liquidity >= 0:
                return liquidity
            liquidity += _mul_factor(held * self.prices[a.symbol] // a.scale, getattr(a, factor))
        return liquidity

    def is_borrow_collateralized(self, account: str) -> bool:
        return self.principals.get(account, 0) >= 0 or self._liquidity(account, "borrow_collateral_factor") >= 0

    def is_liquidatable(self, account: str) -> bool:
        """`isLiquidatable`, at the **stored** indices (no accrual: the view can lag)."""
        return self.principals.get(account, 0) < 0 and self._liquidity(account, "liquidate_collateral_factor") < 0

    def quote_collateral(self, symbol: str, base_amount: int) -> int:
        """`quoteCollateral`: collateral (raw) ``base_amount`` buys at the store-front discount."""
        a = self._assets[symbol]
        discount = _mul_factor(self.config.store_front_price_factor, FACTOR_SCALE - a.liquidation_factor)
        discounted = _mul_factor(self.prices[symbol], FACTOR_SCALE - discount)
        return self.base_price * base_amount * a.scale // discounted // self.config.base_scale

    # -- calls ----------------------------------------------------------------------------
    def accrue(self) -> None:
        """`accrueInternal`."""
        if self.now > self.last_accrual:
            self.supply_index, self.borrow_index = self.accrued_indices()
            self.last_accrual = self.now

    def _set_principal(self, account: str, new: int) -> None:
        old = self.principals.get(account, 0)
        if new >= old:  # repayAndSupplyAmount
            repay = new - old if new <= 0 else (0 if old >= 0 else -old)
            supply = 0 if new <= 0 else (new - old if old >= 0 else new)
            self.total_supply_base += supply
            self.total_borrow_base -= repay
        else:  # withdrawAndBorrowAmount
            withdraw = old - new if new >= 0 else (0 if old <= 0 else old)
            borrow = 0 if new >= 0 else (old - new if old <= 0 else -new)
            self.total_supply_base -= withdraw
            self.total_borrow_base += borrow
        self.principals[account] = new

    def supply_base(self, account: str, amount: int) -> None:
        """`supplyBase`: repays a borrow first, then supplies."""
        def run():
            self.base_held += amount
            self.accrue()
            balance = present_value(self.principals.get(account, 0), self.supply_index, self.borrow_index) + amount
            self._set_principal(account, principal_value(balance, self.supply_index, self.borrow_index))
        self._atomic(run)

    def withdraw_base(self, account: str, amount: int) -> None:
        """`withdrawBase`: withdraws a supply first, then borrows; a borrow must reach ``base_borrow_min``
        and stay collateralised (BCF)."""
        def run():
            self.accrue()
            balance = present_value(self.principals.get(account, 0), self.supply_index, self.borrow_index) - amount
            self._set_principal(account, principal_value(balance, self.supply_index, self.borrow_index))
            if balance < 0:
                if -balance < self.config.base_borrow_min:
                    raise Revert("BorrowTooSmall")
                if not self.is_borrow_collateralized(account):
                    raise Revert("NotCollateralized")
            if amount > self.base_held:
                raise Revert("transfer failed")
            self.base_held -= amount
        self._atomic(run)

    def supply_collateral(self, account: str, symbol: str, amount: int) -> None:
        def run():
            a = self._assets[symbol]
            total = self.totals_collateral.get(symbol, 0) + amount
            if total > a.supply_cap:
                raise Revert("SupplyCapExceeded")
            self.totals_collateral[symbol] = total
            self.collateral[(account, symbol)] = self.collateral.get((account, symbol), 0) + amount
            self.collateral_held[symbol] = self.collateral_held.get(symbol, 0) + amount
        self._atomic(run)

    def withdraw_collateral(self, account: str, symbol: str, amount: int) -> None:
        def run():
            held = self.collateral.get((account, symbol), 0)
            if amount > held:
                raise Revert("arithmetic underflow")
            self.collateral[(account, symbol)] = held - amount
            self.totals_collateral[symbol] -= amount
            if not self.is_borrow_collateralized(account):
                raise Revert("NotCollateralized")
            self.collateral_held[symbol] -= amount
        self._atomic(run)

    def absorb(self, absorber: str, accounts: list[str]) -> list[AbsorbResult]:
        """`absorb`: accrue, then take over each liquidatable account (all or nothing)."""
        def run():
            self.accrue()
            return [self._absorb_one(account) for account in accounts]
        return self._atomic(run)

    def _absorb_one(self, account: str) -> AbsorbResult:
        if not self.is_liquidatable(account):
            raise Revert("NotLiquidatable")
        old_principal = self.principals.get(account, 0)
        old_balance = present_value(old_principal, self.supply_index, self.borrow_index)
        delta_value, seized = 0, {}
        for a in self.config.assets:
            amount = self.collateral.get((account, a.symbol), 0)
            if amount == 0:
                continue
            self.collateral[(account, a.symbol)] = 0
            self.totals_collateral[a.symbol] -= amount
            seized[a.symbol] = amount
            delta_value += _mul_factor(amount * self.prices[a.symbol] // a.scale, a.liquidation_factor)
        new_balance = max(old_balance + delta_value * self.config.base_scale // self.base_price, 0)
        new_principal = principal_value(new_balance, self.supply_index, self.borrow_index)
        self._set_principal(account, new_principal)
        return AbsorbResult(seized, new_balance - old_balance, new_principal)

    def buy_collateral(self, buyer: str, symbol: str, min_amount: int, base_amount: int) -> int:
        """`buyCollateral`: only while reserves are below target; returns the collateral bought (raw)."""
        def run():
            reserves = self.reserves()
            if reserves >= 0 and reserves >= self.config.target_reserves:
                raise Revert("NotForSale")
            self.base_held += base_amount
            out = self.quote_collateral(symbol, base_amount)
            if out < min_amount:
                raise Revert("TooMuchSlippage")
            if out > self.collateral_reserves(symbol):
                raise Revert("InsufficientReserves")
            self.collateral_held[symbol] -= out
            return out
        return self._atomic(run)

    def _atomic(self, run):
        saved = copy.deepcopy({k: v for k, v in vars(self).items() if not k.startswith("_")})
        try:
            return run()
        except Revert:
            vars(self).update(saved)
            raise
