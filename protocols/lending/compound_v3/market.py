"""A Compound III deployment in the engine (``lending.compound_v3``): one base asset lent against
collateral assets, positions as arrays, liquidation by the protocol (``absorb``) and its sale of
what it absorbed (``buy_collateral``).

Mechanics (compound-finance/comet `Comet.sol`; the exact twin is :mod:`.exact`, without its
integer rounding here):

- an account's base *principal* is signed (supply > 0, borrow < 0) and worth ``principal ×
  index`` (the supply or the borrow index); the indices grow each block by ``rate × Δt`` on the
  two kinked curves of the utilisation;
- a borrow must stay within ``Σ collateral × price × BCF``; below ``Σ collateral × price × LCF`` the
  account is liquidatable;
- ``absorb(account)``: the protocol takes **all** its collateral, credits ``LF`` of its value
  against the debt, clears the debt and leaves any excess as the account's supply; the caller
  gets nothing but gas (liquidator points). The part of the debt the credit does not cover is
  the reserves' loss (reserves = base held − supplied + borrowed);
- ``buy_collateral(asset, min_amount, base_amount)``: while the reserves are below
  ``target_reserves``, anyone buys absorbed collateral at ``price × (1 − storeFront × (1 − LF))``.

The contract's ``absorb`` takes a list of accounts; here a call absorbs one, so gas is paid per
account. Units: tokens, USD, ms (block time), per-year rates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from defisim.base import AddressBook, AddressRange, Column, Positions, Protocol, Revert, Table, handler
from defisim.graph import Exposure, Node

from .params import CometParams

__all__ = ["CometState", "CometMarket", "CometView", "ABSORB_COLUMNS", "BUY_COLUMNS", "kinked_rate"]

SECONDS_PER_YEAR = 31_536_000
ABSORB_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("comet", "string", "Compound III deployment"),
    Column("absorber", "string", "caller (paid nothing but gas)"),
    Column("account", "string", "absorbed account"),
    Column("debt_usd", "float64", "its debt cleared (USD)"),
    Column("collateral_usd", "float64", "its collateral taken, at the oracle (USD)"),
    Column("credited_usd", "float64", "that collateral at the liquidation factor (USD)"),
    Column("shortfall_usd", "float64", "debt the credit did not cover: the reserves' loss (USD)"),
    Column("supplied_usd", "float64", "credit beyond the debt, left to the account as supply (USD)"),
]
BUY_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("comet", "string", "Compound III deployment"),
    Column("buyer", "string", "caller"),
    Column("asset", "string", "collateral bought"),
    Column("base_paid", "float64", "base tokens paid"),
    Column("collateral_bought", "float64", "collateral tokens received"),
    Column("price_usd", "float64", "the store-front price paid per collateral token (USD)"),
]


def kinked_rate(utilization: float, base: float, slope_low: float, kink: float, slope_high: float) -> float:
    """`getBorrowRate` / `getSupplyRate` (annual fractions): ``base + slope_low·U`` up to the kink, steeper after.

    >>> round(kinked_rate(0.9, 0.015, 0.035, 0.8, 0.25), 10)  # cUSDCv3's borrow curve at launch, 90% used
    0.068
    """
    if utilization <= kink:
        return base + slope_low * utilization
    return base + slope_low * kink + slope_high * (utilization - kink)


@dataclass
class CometState:
    """Indices (1 at the start), principal totals, the clock (ms), the collateral held per asset
    (accounts' and the protocol's), the base held, and per account: principal and collateral."""

    accounts: AddressBook
    positions: Table
    supply_index: float = 1.0
    borrow_index: float = 1.0
    total_supply_base: float = 0.0
    total_borrow_base: float = 0.0
    last_ms: int = 0
    base_held: float = 0.0
    collateral_held: np.ndarray | None = None
    owned: np.ndarray | None = None  # of which the protocol's: absorbed, not yet sold


class CometMarket(Protocol):
    """See the module docstring. Calls: ``supply(asset, amount)``, ``withdraw(asset, amount)``,
    ``absorb(account)``, ``buy_collateral(asset, min_amount, base_amount)``."""

    kind = "lending.compound_v3"
    Params = CometParams

    def __init__(self, name: str, params: CometParams, host):
        super().__init__(name, params, host)
        missing = [o for o in params.oracles.values() if o not in host.protocols]
        if missing:
            raise ValueError(f"protocols.{name}.oracles: {missing} must be listed before the deployment in the scenario")
        self.symbols = [a.symbol for a in params.assets]
        k = len(self.symbols)
        table = Table({"principal": np.float64, "collateral": (np.float64, k)}, capacity=max(16, params.borrowers.count + 4))
        self.state = CometState(AddressBook(), table, collateral_held=np.zeros(k), owned=np.zeros(k))
        self.bcf = np.array([a.borrow_collateral_factor for a in params.assets])
        self.lcf = np.array([a.liquidate_collateral_factor for a in params.assets])
        self.lf = np.array([a.liquidation_factor for a in params.assets])
        self._absorbs = host.log.declare(
            "comet_absorbs", "Compound III absorptions", ABSORB_COLUMNS, role="liquidations",
            role_columns={"protocol": "comet", "liquidator": "absorber", "debt_repaid_usd": "debt_usd",
                          "collateral_seized_usd": "collateral_usd", "written_off_usd": "shortfall_usd"})
        self._buys = host.log.declare("comet_buys", "collateral the protocol sold (buyCollateral)", BUY_COLUMNS)
        self._open_book(host)
        self._version = 0  # bumped by every change of a principal or of collateral
        self._margin: tuple | None = None  # (version, least LCF limit / debt, prices, base price, borrow index)

    def _open_book(self, host) -> None:
        p, b, s = self.params, self.params.borrowers, self.state
        if b.count:
            rng = host.stream(f"{self.name}/borrowers")
            i = self.symbols.index(b.collateral_asset)
            usd = b.size_usd.sample(rng, b.count)
            debt = usd * self.bcf[i] * np.clip(b.borrow_use.sample(rng, b.count), 0.0, 1.0) / self._base_price()
            coll = np.zeros((b.count, len(self.symbols)))
            coll[:, i] = usd / self.prices_usd()[i]
            s.accounts.rows_for(AddressRange(f"{self.name}/borrower/", b.count))  # rows 0 … count − 1
            s.positions.append(principal=-debt, collateral=coll)
            s.total_borrow_base = float(debt.sum())
            s.collateral_held += coll.sum(axis=0)
            self._ledger(b.collateral_asset).issue_quietly(self.name, float(coll[:, i].sum()))
            self._ledger(p.base).issue_many(AddressRange(f"{self.name}/borrower/", b.count), debt)
        lent = s.total_borrow_base + p.seed_supply
        if lent > 0:
            row = self._row("lenders")  # first: a new row may grow the table
            s.positions["principal"][row] = lent
            s.total_supply_base = lent
            s.base_held = p.seed_supply
            self._ledger(p.base).issue_quietly(self.name, p.seed_supply)

    # -- reads ----------------------------------------------------------------------------
    def _ledger(self, symbol: str):
        return self.host.protocols[self.params.tokens[symbol]]

    def prices_usd(self) -> np.ndarray:
        """Oracle prices (USD) of the collateral assets, in their order."""
        oracles = self.params.oracles
        return np.array([self.host.protocols[oracles[s]].price() for s in self.symbols])

    def _base_price(self) -> float:
        return float(self.host.protocols[self.params.oracles[self.params.base]].price())

    def _row(self, who: str) -> int:
        row = self.state.accounts.get(who)
        if row is None:
            row = self.state.accounts.add(who)
            self.state.positions.append(principal=0.0, collateral=[np.zeros(len(self.symbols))])
        return row

    def present_values(self, rows=slice(None)) -> np.ndarray:
        """Signed base balances (tokens) of ``rows``."""
        s = self.state
        p = s.positions["principal"][rows]
        return np.where(p >= 0, p * s.supply_index, p * s.borrow_index)

    def _pv(self, principal: float) -> float:
        s = self.state
        return principal * (s.supply_index if principal >= 0 else s.borrow_index)

    def _principal(self, present: float) -> float:
        s = self.state
        return present / (s.supply_index if present >= 0 else s.borrow_index)

    def liquidity_usd(self, factors: np.ndarray, rows=slice(None)) -> np.ndarray:
        """``−debt + Σ collateral × price × factor`` (USD) of ``rows``; positive for suppliers."""
        coll = self.state.positions["collateral"][rows]
        return self.present_values(rows) * self._base_price() + coll @ (self.prices_usd() * factors)

    def _limit_and_debt(self, prices: np.ndarray, base_price: float) -> tuple[np.ndarray, np.ndarray]:
        """Per account, ``Σ collateral × price × LCF`` and ``−principal × borrow index × base price``
        (USD; the second is positive only for borrowers)."""
        s = self.state
        weights = prices * self.lcf
        coll = s.positions["collateral"]
        limit = coll[:, 0] * weights[0] if weights.size == 1 else coll @ weights  # one asset: no matrix product
        return limit, -s.positions["principal"] * (s.borrow_index * base_price)

    def liquidatable(self) -> np.ndarray:
        """Whether each account can be absorbed now (`isLiquidatable`, at the indices of this block):
        its LCF limit below its debt, which only a borrower can meet."""
        limit, debt = self._limit_and_debt(self.prices_usd(), self._base_price())
        return limit < debt

    def liquidatable_rows(self) -> np.ndarray:
        """Rows :meth:`liquidatable` would mark, without looking at every account when none can be:
        each borrower's ``limit / debt`` moves by at least the smallest fall of a collateral price,
        times the base price's and the borrow index's rise, since the pass that found the least of
        them; while that bound keeps every account above 1 (with a 1e-9 margin for rounding) and
        no position changed, nobody is liquidatable. Otherwise one full pass, which renews the bound."""
        s = self.state
        prices, base_price, index = self.prices_usd(), self._base_price(), s.borrow_index
        if self._margin is not None and self._margin[0] == self._version:
            _v, least, p0, bp0, bi0 = self._margin
            fall = float((prices / p0).min()) if (p0 > 0).all() else 0.0
            if least * fall * (bp0 / base_price) * (bi0 / index) > 1.0 + 1e-9:
                return np.zeros(0, dtype=np.int64)
        limit, debt = self._limit_and_debt(prices, base_price)
        rows = np.flatnonzero(limit < debt)
        self._margin = None
        if rows.size == 0:  # a bound is worth keeping only while nobody is liquidatable
            owing = debt > 0
            least = float((limit[owing] / debt[owing]).min()) if owing.any() else math.inf
            self._margin = (self._version, least, prices.copy(), base_price, index)
        return rows

    def utilization(self) -> float:
        s = self.state
        supplied = s.total_supply_base * s.supply_index
        return s.total_borrow_base * s.borrow_index / supplied if supplied > 0 else 0.0

    def reserves(self) -> float:
        """`getReserves`: base held − supplied + borrowed (tokens, signed)."""
        s = self.state
        return s.base_held - s.total_supply_base * s.supply_index + s.total_borrow_base * s.borrow_index

    def collateral_reserves(self) -> np.ndarray:
        """Collateral the protocol owns (absorbed, not yet sold), per asset (tokens): `getCollateralReserves`,
        the collateral held less the accounts', kept as it changes."""
        return self.state.owned

    def store_front_prices(self) -> np.ndarray:
        """USD per collateral token at ``buy_collateral`` (`quoteCollateral`)."""
        return self.prices_usd() * (1.0 - self.params.store_front_price_factor * (1.0 - self.lf))

    # -- interest -------------------------------------------------------------------------
    def on_block(self, block) -> None:
        """`accrueInternal` to the block's time: each index grows by its rate × Δt."""
        s, r = self.state, self.params.rates
        dt = (block.time_ms - s.last_ms) / 1000.0
        if dt > 0:
            u = self.utilization()
            supply = kinked_rate(u, r.supply_base, r.supply_slope_low, r.supply_kink, r.supply_slope_high)
            borrow = kinked_rate(u, r.borrow_base, r.borrow_slope_low, r.borrow_kink, r.borrow_slope_high)
            s.supply_index += s.supply_index * supply * dt / SECONDS_PER_YEAR
            s.borrow_index += s.borrow_index * borrow * dt / SECONDS_PER_YEAR
            s.last_ms = block.time_ms

    # -- calls ----------------------------------------------------------------------------
    @staticmethod
    def _amount(amount) -> float:
        if not (isinstance(amount, (int, float)) and math.isfinite(amount) and amount > 0):
            raise Revert("amount must be a positive number")
        return float(amount)

    def _set_principal(self, row: int, new: float) -> None:
        """`updateBasePrincipal` with the totals (`repayAndSupplyAmount`, `withdrawAndBorrowAmount`)."""
        s = self.state
        old = float(s.positions["principal"][row])
        s.total_supply_base += max(new, 0.0) - max(old, 0.0)
        s.total_borrow_base += max(-new, 0.0) - max(-old, 0.0)
        s.positions["principal"][row] = new
        self._version += 1

    def _asset(self, asset: str) -> int:
        if asset not in self.symbols:
            raise Revert("BadAsset")
        return self.symbols.index(asset)

    @handler(gas=120_000, revert_gas=40_000)
    def supply(self, sender: str, asset: str, amount: float) -> None:
        """Supply base (repaying a borrow first) or collateral (within its cap)."""
        amount, s = self._amount(amount), self.state
        if asset == self.params.base:
            ledger = self._ledger(asset)
            if ledger.balance_of(sender) < amount:
                raise Revert("TransferInFailed")
            row = self._row(sender)
            self._set_principal(row, self._principal(self._pv(float(s.positions["principal"][row])) + amount))
            ledger.move(sender, self.name, amount)
            s.base_held += amount
            return
        i = self._asset(asset)
        cap = self.params.assets[i].supply_cap
        if cap is not None and s.collateral_held[i] - s.owned[i] + amount > cap:  # the accounts' total, kept
            raise Revert("SupplyCapExceeded")
        ledger = self._ledger(asset)
        if ledger.balance_of(sender) < amount:
            raise Revert("TransferInFailed")
        row = self._row(sender)  # first: a new row may grow the table
        s.positions["collateral"][row, i] += amount
        self._version += 1
        s.collateral_held[i] += amount
        ledger.move(sender, self.name, amount)

    @handler(gas=150_000, revert_gas=50_000)
    def withdraw(self, sender: str, asset: str, amount: float) -> None:
        """Withdraw base (a supply first, then a borrow: at least ``base_borrow_min`` and within the
        BCF limit) or collateral (the borrow must stay within the limit)."""
        amount, s = self._amount(amount), self.state
        row = s.accounts.get(sender)
        if row is None:
            raise Revert("NotCollateralized")
        if asset == self.params.base:
            old = float(s.positions["principal"][row])
            balance = self._pv(old) - amount
            if amount > s.base_held:
                raise Revert("TransferOutFailed")
            if balance < 0:
                if -balance < self.params.base_borrow_min:
                    raise Revert("BorrowTooSmall")
                coll = s.positions["collateral"][row]
                if balance * self._base_price() + float(coll @ (self.prices_usd() * self.bcf)) < 0:
                    raise Revert("NotCollateralized")
            self._set_principal(row, self._principal(balance))
            s.base_held -= amount
            self._ledger(asset).move(self.name, sender, amount)
            return
        i = self._asset(asset)
        held = float(s.positions["collateral"][row, i])
        if amount > held:
            raise Revert("arithmetic underflow")
        coll = s.positions["collateral"][row].copy()
        coll[i] -= amount
        owed = self._pv(float(s.positions["principal"][row]))
        if owed < 0 and owed * self._base_price() + float(coll @ (self.prices_usd() * self.bcf)) < 0:
            raise Revert("NotCollateralized")
        s.positions["collateral"][row, i] = held - amount
        self._version += 1
        s.collateral_held[i] -= amount
        self._ledger(asset).move(self.name, sender, amount)

    @handler(gas=250_000, revert_gas=40_000)
    def absorb(self, sender: str, account: str) -> float:
        """Absorb one liquidatable account (`absorbInternal`); returns the shortfall (USD) it leaves the reserves."""
        s = self.state
        row = s.accounts.get(account)
        if row is None or not (s.positions["principal"][row] < 0 and self.liquidity_usd(self.lcf, [row])[0] < 0):
            raise Revert("NotLiquidatable")
        base_price, prices = self._base_price(), self.prices_usd()
        coll = s.positions["collateral"][row].copy()
        value = coll * prices
        credited_usd = float(value @ self.lf)
        old = self._pv(float(s.positions["principal"][row]))
        new = max(old + credited_usd / base_price, 0.0)
        s.positions["collateral"][row] = 0.0  # the protocol's now: collateral_held is unchanged
        s.owned += coll
        self._version += 1
        self._set_principal(row, self._principal(new))
        debt_usd = -old * base_price
        shortfall = max(debt_usd - credited_usd, 0.0)
        self._absorbs.append((self.block.number if self.block else -1, self.name, sender, account, debt_usd,
                              float(value.sum()), credited_usd, shortfall, new * base_price))
        return shortfall

    @handler(gas=130_000, revert_gas=40_000)
    def buy_collateral(self, sender: str, asset: str, min_amount: float, base_amount: float) -> float:
        """Buy absorbed collateral for ``base_amount`` base while reserves are below target; returns the tokens bought."""
        base_amount, s = self._amount(base_amount), self.state
        i = self._asset(asset)
        if self.reserves() >= self.params.target_reserves:
            raise Revert("NotForSale")
        price = float(self.store_front_prices()[i])
        out = base_amount * self._base_price() / price
        if out < min_amount:
            raise Revert("TooMuchSlippage")
        if out > self.collateral_reserves()[i]:
            raise Revert("InsufficientReserves")
        base = self._ledger(self.params.base)
        if base.balance_of(sender) < base_amount:
            raise Revert("TransferInFailed")
        base.move(sender, self.name, base_amount)
        s.base_held += base_amount
        s.collateral_held[i] -= out
        s.owned[i] -= out
        self._ledger(asset).move(self.name, sender, out)
        self._buys.append((self.block.number if self.block else -1, self.name, sender, asset, base_amount, out, price))
        return out

    # -- hooks ----------------------------------------------------------------------------
    def rollback(self, snapshot) -> None:
        """Restore a checkpoint (a bundle that reverted); the bound of the last pass is stale."""
        super().rollback(snapshot)
        self._version += 1

    def view(self) -> "CometView":
        return CometView(self)

    def positions(self) -> Positions:
        pv = self.present_values()
        n = len(pv)
        coll = np.column_stack([np.zeros(n), self.state.positions["collateral"][:n]])
        debt = np.column_stack([np.maximum(-pv, 0.0), np.zeros((n, len(self.symbols)))])
        prices = np.concatenate([[self._base_price()], self.prices_usd()])
        return Positions((self.params.base, *self.symbols), coll, debt, prices, self.liquidatable(),
                         (None,) * (1 + len(self.symbols)))

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """It holds its collateral (``collateral``) priced by its oracles; its equity is the reserves (USD)."""
        prices, p = self.prices_usd(), self.params
        out: list = [Node(self.name, "protocol", equity_usd=max(self.reserves() * self._base_price(), 0.0))]
        for i, sym in enumerate(self.symbols):
            token = p.tokens[sym]
            out.append(Exposure(self.name, token, "collateral", float(self.state.collateral_held[i] * prices[i])))
            out.append(Exposure(self.name, p.oracles[sym], "oracle", 0.0, asset=token))
        return out

    def distress(self) -> float:
        """How far the reserves are below zero, as a share of what was supplied."""
        s = self.state
        supplied = s.total_supply_base * s.supply_index
        return min(1.0, max(-self.reserves(), 0.0) / supplied) if supplied > 0 else 0.0

    def summary(self, tables: dict) -> dict:
        return {"reserves_usd": self.reserves() * self._base_price(),
                "collateral_reserves_usd": float(self.collateral_reserves() @ self.prices_usd()),
                "utilization": self.utilization()}


class CometView:
    """What the absorber and the collateral buyer read (nothing here changes the deployment)."""

    def __init__(self, market: CometMarket):
        self._m = market
        self.symbols = list(market.symbols)
        self.base = market.params.base

    def liquidatable_accounts(self, largest: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, debt USD) of the accounts ``absorb`` would take now, largest debt first (ties:
        lower row); with ``largest``, only that many (found by a partition, not a full sort)."""
        rows = self._m.liquidatable_rows()
        debt = -self._m.present_values(rows) * self._m._base_price()
        if largest is not None and rows.size > largest:
            keep = np.argpartition(-debt, largest - 1)[:largest]
            cut = debt[keep].min()  # ties at the cut: all of them, so the row order decides below
            keep = np.flatnonzero(debt >= cut)
            rows, debt = rows[keep], debt[keep]
        order = np.lexsort((rows, -debt))[:largest]
        return rows[order], debt[order]

    def owner(self, row: int) -> str:
        return self._m.state.accounts.name(int(row))

    def reserves(self) -> float:
        return self._m.reserves()

    def target_reserves(self) -> float:
        return self._m.params.target_reserves

    def collateral_reserves(self) -> np.ndarray:
        return self._m.collateral_reserves().copy()

    def store_front_prices(self) -> np.ndarray:
        return self._m.store_front_prices()

    def base_price(self) -> float:
        return self._m._base_price()
