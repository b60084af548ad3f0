"""A Morpho Blue market in the engine (``lending.morpho_blue``): one isolated market, its positions
as arrays, its calls as handlers, and a view that fills the lending role, so the keepers
written against that role liquidate it unchanged.

Mechanics (morpho-org/morpho-blue `Morpho.sol`; the exact twin is :mod:`.exact`):

- one collateral, one loan token; collateral is not lent and earns nothing;
- a position is healthy while ``collateral × price × LLTV ≥ borrowed``; the LLTV is also the
  largest loan-to-value a borrow may reach;
- ``liquidate(borrower, seized_assets, repaid_shares)``: no close factor, no protocol fee; the
  liquidator repays debt and takes collateral worth ``LIF`` times it (``LIF = min(1.15, 1/(1 −
  0.3·(1 − LLTV)))``); a position left without collateral has the rest of its debt written off
  against the suppliers in the same call (the supply's assets fall: a loss to every lender);
- interest accrues every block by ``x + x²/2 + x³/6`` on the borrowed assets, the fee's share
  minted to the fee recipient as supply shares; the rate is the AdaptiveCurveIrm's or fixed.

``liquidation_call(collateral_asset, debt_asset, user, debt_to_cover)`` is the lending role's
call: what a liquidator contract does with ``liquidate`` — repay ``debt_to_cover`` (or all the
debt) by shares, or, when the collateral does not cover that times the incentive, seize all of
it. Units: tokens, USD, ms (block time), per-year rates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from defisim.base import (LIQUIDATION_CALL, AddressBook, AddressRange, Column, LiquidationQuotes, Positions, Protocol,
                          Revert, Table, handler, largest_debts_of)
from defisim.graph import Exposure, Node

from ..records import BOOK_QUIET_BLOCKS, book_due, book_every_blocks
from . import math as mm
from .params import MorphoMarketParams

__all__ = ["MorphoMarketState", "MorphoBlueMarket", "MorphoView", "LIQUIDATION_COLUMNS", "BOOK_COLUMNS"]

LIQUIDATION_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("market", "string", "Morpho market instance"),
    Column("liquidator", "string", "caller"),
    Column("borrower", "string", "liquidated account"),
    Column("repaid_assets", "float64", "loan tokens repaid by the liquidator"),
    Column("repaid_shares", "float64", "borrow shares burnt"),
    Column("seized_assets", "float64", "collateral tokens to the liquidator"),
    Column("bad_debt_assets", "float64", "loan tokens written off against the suppliers (no collateral left)"),
    Column("repaid_usd", "float64", "repaid_assets at the oracle (USD)"),
    Column("seized_usd", "float64", "seized_assets at the oracle (USD)"),
    Column("bad_debt_usd", "float64", "bad_debt_assets at the oracle (USD)"),
    Column("health_factor", "float64", "the borrower's health factor before the call"),
]
BOOK_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("market", "string", "Morpho market instance"),
    Column("accounts", "int64", "positions with debt"),
    Column("below_1", "int64", "of which unhealthy (health factor below 1)"),
    Column("debt_below_1_usd", "float64", "their debt (USD)"),
    Column("uncovered_usd", "float64", "Σ max(0, debt − collateral) over positions (USD)"),
    Column("utilization", "float64", "borrowed / supplied assets"),
    Column("borrow_rate", "float64", "annual borrow rate charged over the block (fraction)"),
]


@dataclass
class MorphoMarketState:
    """The market's totals (tokens and shares), its clock (ms), the IRM's rate at target (per
    year; None before the first accrual), and per position: supply and borrow shares, collateral."""

    accounts: AddressBook
    positions: Table
    total_supply_assets: float = 0.0
    total_supply_shares: float = 0.0
    total_borrow_assets: float = 0.0
    total_borrow_shares: float = 0.0
    last_ms: int = 0
    rate_at_target: float | None = None
    borrow_rate: float = 0.0
    bad_debt: float = 0.0  # loan tokens written off so far


class MorphoBlueMarket(Protocol):
    """See the module docstring. Calls: ``supply``, ``withdraw``, ``borrow``, ``repay``,
    ``supply_collateral``, ``withdraw_collateral`` (``assets`` in tokens), ``liquidate``,
    ``liquidation_call``."""

    kind = "lending.morpho_blue"
    Params = MorphoMarketParams
    view_roles = ("lending",)

    def __init__(self, name: str, params: MorphoMarketParams, host):
        super().__init__(name, params, host)
        missing = [o for o in params.oracles.values() if o not in host.protocols]
        if missing:
            raise ValueError(f"protocols.{name}.oracles: {missing} must be listed before the market in the scenario")
        table = Table({"supply_shares": np.float64, "borrow_shares": np.float64, "collateral": np.float64},
                      capacity=max(16, params.borrowers.count + 4))
        self.state = MorphoMarketState(AddressBook(), table)
        self.lif = mm.liquidation_incentive_factor(params.lltv)
        self._liquidations = host.log.declare(
            "morpho_liquidations", "Morpho Blue liquidations", LIQUIDATION_COLUMNS, role="liquidations",
            role_columns={"protocol": "market", "account": "borrower", "debt_repaid_usd": "repaid_usd",
                          "collateral_seized_usd": "seized_usd", "written_off_usd": "bad_debt_usd"})
        self._book = host.log.declare("morpho_book", "Morpho Blue positions: every 10 blocks (past 100,000 "
                                      "positions every positions/10,000) while prices or positions change, "
                                      "at least every 300", BOOK_COLUMNS,
                                      role="positions", role_columns={"protocol": "market"})
        self._open_book(host)
        self._book_every = book_every_blocks(len(self.state.accounts))
        self._book_last: tuple | None = None  # (block, (version, price)) of the last book row
        self._version = 0  # bumped by every change of a position or of the totals
        self._health: tuple | None = None  # (key, rows, health factors, owed) of the last look
        self._bound: tuple | None = None  # (version, least health factor, price, share price) of a look that found nobody

    # -- the opening book -------------------------------------------------------------------
    def _open_book(self, host) -> None:
        p, b = self.params, self.params.borrowers
        prices = self.prices_usd()
        if b.count:
            rng = host.stream(f"{self.name}/borrowers")
            coll = b.size_usd.sample(rng, b.count) / prices[0]
            hf = np.maximum(b.health_factor.sample(rng, b.count), 1.0)
            debt = coll * self.price() * p.lltv / hf
            self.state.accounts.rows_for(AddressRange(f"{self.name}/borrower/", b.count))  # rows 0 … count − 1
            self.state.positions.append(supply_shares=np.zeros(b.count), borrow_shares=debt, collateral=coll)
            self._ledger(p.collateral).issue_quietly(self.name, float(coll.sum()))
            self._ledger(p.loan).issue_many(AddressRange(f"{self.name}/borrower/", b.count), debt)
            s = self.state
            s.total_borrow_assets = s.total_borrow_shares = float(debt.sum())  # one share per token at the start
        lent = self.state.total_borrow_assets + p.seed_supply
        if lent > 0:
            row = self._row("lenders")
            self.state.positions["supply_shares"][row] = lent
            self.state.total_supply_assets = self.state.total_supply_shares = lent
            self._ledger(p.loan).issue_quietly(self.name, p.seed_supply)

    # -- reads ------------------------------------------------------------------------------
    def _ledger(self, symbol: str):
        return self.host.protocols[self.params.tokens[symbol]]

    def prices_usd(self) -> np.ndarray:
        """Oracle prices (USD) of [collateral, loan]."""
        p = self.params
        return np.array([self.host.protocols[p.oracles[s]].price() for s in (p.collateral, p.loan)])

    def price(self) -> float:
        """The market's oracle price: loan tokens per collateral token."""
        usd = self.prices_usd()
        return float(usd[0] / usd[1])

    def _row(self, who: str) -> int:
        row = self.state.accounts.get(who)
        if row is None:
            row = self.state.accounts.add(who)
            self.state.positions.append(supply_shares=0.0, borrow_shares=0.0, collateral=0.0)
        return row

    def borrowed(self, rows=slice(None)) -> np.ndarray:
        """Loan tokens owed by the positions ``rows``."""
        s = self.state
        per_share = s.total_borrow_assets / s.total_borrow_shares if s.total_borrow_shares > 0 else 1.0
        return s.positions["borrow_shares"][rows] * per_share

    def supplied(self, who: str) -> float:
        """Loan tokens ``who``'s supply shares are worth."""
        s, row = self.state, self.state.accounts.get(who)
        if row is None or s.total_supply_shares == 0:
            return 0.0
        return float(s.positions["supply_shares"][row] * s.total_supply_assets / s.total_supply_shares)

    def health_factors(self, price: float | None = None, borrowed: np.ndarray | None = None) -> np.ndarray:
        """Every position's ``collateral × price × LLTV / borrowed`` (inf without debt); ``borrowed``
        when the caller has it already (:meth:`borrowed`)."""
        return mm.health_factors(self.state.positions["collateral"], self.borrowed() if borrowed is None else borrowed,
                                 self.price() if price is None else price, self.params.lltv)

    def utilization(self) -> float:
        s = self.state
        return s.total_borrow_assets / s.total_supply_assets if s.total_supply_assets > 0 else 0.0

    # -- interest ---------------------------------------------------------------------------
    def on_block(self, block) -> None:
        """Accrue interest to the block's time (`Morpho._accrueInterest`), then a book row every 10 blocks."""
        s, p = self.state, self.params
        seconds = (block.time_ms - s.last_ms) / 1000.0
        if seconds > 0:
            if p.irm == "fixed":
                rate = p.fixed_rate
            else:
                rate, s.rate_at_target = mm.adaptive_curve_rates(self.utilization(), s.rate_at_target, seconds)
            s.borrow_rate = rate
            interest = s.total_borrow_assets * mm.taylor_compounded(rate / mm.SECONDS_PER_YEAR, seconds)
            s.total_borrow_assets += interest
            s.total_supply_assets += interest
            if p.fee > 0 and interest > 0:
                fee = interest * p.fee
                shares = fee * s.total_supply_shares / (s.total_supply_assets - fee)
                row = self._row(p.fee_recipient)  # first: a new row may grow the table
                s.positions["supply_shares"][row] += shares
                s.total_supply_shares += shares
            s.last_ms = block.time_ms  # health moves with the share price, which the look's key holds
        if book_due(self._book_last, block.number, self._book_every, BOOK_QUIET_BLOCKS, (self._version, self.price())):
            self._write_book(block.number)

    def unhealthy_now(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, health factors, loan tokens owed) of the unhealthy positions at the oracle now,
        once per block and state (the keepers of a block share it).

        While no position has changed since a look that found nobody unhealthy, the least health
        factor it found, moved by the price's fall and the share price's rise since, bounds every
        position's: above 1 (with a 1e-9 margin for rounding), nobody is, and the book is not read.
        Otherwise a first pass compares ``collateral × price × LLTV / share price`` with the borrow
        shares, with the same margin; the health factor of what passes is computed as the calls
        compute it."""
        s = self.state
        price = self.price()
        per_share = s.total_borrow_assets / s.total_borrow_shares if s.total_borrow_shares > 0 else 1.0
        key = (self.block.number if self.block else -1, self._version, price, per_share)
        if self._health is not None and self._health[0] == key:
            return self._health[1:]
        nobody = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
        bound = self._bound
        if bound is not None and bound[0] == self._version and bound[1] * (price / bound[2]) * (bound[3] / per_share) > 1.0 + 1e-9:
            self._health = (key, *nobody)
            return nobody
        shares, coll = s.positions["borrow_shares"], s.positions["collateral"]
        maybe = np.flatnonzero(coll * (price * self.params.lltv / per_share * (1.0 - 1e-9)) < shares)
        owed = shares[maybe] * per_share
        hf = mm.health_factors(coll[maybe], owed, price, self.params.lltv)
        under = hf < 1.0
        self._health = (key, maybe[under], hf[under], owed[under])
        self._bound = None
        if not under.any():  # keep a bound only from a look that found nobody
            least = float(self.health_factors(price, shares * per_share).min()) if shares.size else math.inf
            self._bound = (self._version, least, price, per_share)
        return self._health[1:]

    def _write_book(self, number: int) -> None:
        s, prices = self.state, self.prices_usd()
        rows, _hf, owed_under = self.unhealthy_now()
        shares = s.positions["borrow_shares"]
        per_share = s.total_borrow_assets / s.total_borrow_shares if s.total_borrow_shares > 0 else 1.0
        gap = shares * (per_share * prices[1]) - s.positions["collateral"] * prices[0]  # debt over collateral (USD)
        self._book.append((number, self.name, int(np.count_nonzero(shares)), int(rows.size),
                           float(owed_under.sum() * prices[1]), float(np.maximum(gap, 0.0).sum()), self.utilization(),
                           s.borrow_rate))
        self._book_last = (number, (self._version, self.price()))

    # -- calls ------------------------------------------------------------------------------
    @staticmethod
    def _positive(assets) -> float:
        if not (isinstance(assets, (int, float)) and math.isfinite(assets) and assets > 0):
            raise Revert("zero assets" if assets == 0 else "assets must be a positive number")
        return float(assets)

    def _pull(self, symbol: str, sender: str, amount: float) -> None:
        ledger = self._ledger(symbol)
        if ledger.balance_of(sender) < amount:
            raise Revert("transferFrom reverted")
        ledger.move(sender, self.name, amount)

    @handler(gas=100_000, revert_gas=30_000)
    def supply(self, sender: str, assets: float) -> float:
        """Supply ``assets`` loan tokens; returns the supply shares minted (rounded down in the contract)."""
        assets, s = self._positive(assets), self.state
        self._pull(self.params.loan, sender, assets)
        shares = assets * s.total_supply_shares / s.total_supply_assets if s.total_supply_shares > 0 else assets
        row = self._row(sender)  # first: a new row may grow the table
        s.positions["supply_shares"][row] += shares
        s.total_supply_shares += shares
        s.total_supply_assets += assets
        self._version += 1
        return shares

    @handler(gas=110_000, revert_gas=40_000)
    def withdraw(self, sender: str, assets: float) -> float:
        """Withdraw ``assets`` loan tokens of one's supply; reverts with "insufficient liquidity" when
        they are lent out (borrowed would exceed supplied)."""
        assets, s = self._positive(assets), self.state
        if assets > self.supplied(sender) * (1 + 1e-12):
            raise Revert("arithmetic underflow")
        if s.total_borrow_assets > s.total_supply_assets - assets:
            raise Revert("insufficient liquidity")
        row = s.accounts[sender]
        shares = min(assets * s.total_supply_shares / s.total_supply_assets, float(s.positions["supply_shares"][row]))
        s.positions["supply_shares"][row] -= shares
        s.total_supply_shares -= shares
        s.total_supply_assets -= assets
        self._ledger(self.params.loan).move(self.name, sender, assets)
        self._version += 1
        return shares

    @handler(gas=160_000, revert_gas=50_000)
    def supply_collateral(self, sender: str, assets: float) -> None:
        """Post ``assets`` collateral tokens."""
        assets = self._positive(assets)
        self._pull(self.params.collateral, sender, assets)
        row = self._row(sender)  # first: a new row may grow the table
        self.state.positions["collateral"][row] += assets
        self._version += 1

    @handler(gas=120_000, revert_gas=50_000)
    def withdraw_collateral(self, sender: str, assets: float) -> None:
        """Take back ``assets`` collateral tokens; the position must stay healthy."""
        assets, s = self._positive(assets), self.state
        row = s.accounts.get(sender)
        held = 0.0 if row is None else float(s.positions["collateral"][row])
        if assets > held:
            raise Revert("arithmetic underflow")
        owed = float(self.borrowed(row)) if row is not None else 0.0
        if owed > 0 and (held - assets) * self.price() * self.params.lltv < owed:
            raise Revert("insufficient collateral")
        s.positions["collateral"][row] = held - assets
        self._ledger(self.params.collateral).move(self.name, sender, assets)
        self._version += 1

    @handler(gas=180_000, revert_gas=60_000)
    def borrow(self, sender: str, assets: float) -> float:
        """Borrow ``assets`` loan tokens against one's collateral, up to the LLTV; returns the shares."""
        assets, s = self._positive(assets), self.state
        row = s.accounts.get(sender)
        held = 0.0 if row is None else float(s.positions["collateral"][row])
        owed = 0.0 if row is None else float(self.borrowed(row))
        if held * self.price() * self.params.lltv < owed + assets:
            raise Revert("insufficient collateral")
        if s.total_borrow_assets + assets > s.total_supply_assets:
            raise Revert("insufficient liquidity")
        shares = assets * s.total_borrow_shares / s.total_borrow_assets if s.total_borrow_shares > 0 else assets
        s.positions["borrow_shares"][row] += shares
        s.total_borrow_shares += shares
        s.total_borrow_assets += assets
        self._ledger(self.params.loan).move(self.name, sender, assets)
        self._version += 1
        return shares

    @handler(gas=110_000, revert_gas=40_000)
    def repay(self, sender: str, assets: float, on_behalf: str = "") -> float:
        """Repay up to ``assets`` loan tokens of ``on_behalf``'s debt (one's own by default); returns the tokens repaid."""
        assets, s = self._positive(assets), self.state
        row = s.accounts.get(on_behalf or sender)
        owed = 0.0 if row is None else float(self.borrowed(row))
        if owed <= 0:
            raise Revert("arithmetic underflow")
        paid = min(assets, owed)
        self._pull(self.params.loan, sender, paid)
        shares = float(s.positions["borrow_shares"][row]) if paid == owed else paid * s.total_borrow_shares / s.total_borrow_assets
        s.positions["borrow_shares"][row] -= shares
        s.total_borrow_shares -= shares
        s.total_borrow_assets = max(s.total_borrow_assets - paid, 0.0)
        self._version += 1
        return paid

    @handler(gas=250_000, revert_gas=60_000)
    def liquidate(self, sender: str, borrower: str, seized_assets: float = 0.0, repaid_shares: float = 0.0):
        """`Morpho.liquidate`: exactly one of ``seized_assets`` (collateral tokens) and
        ``repaid_shares`` is non-zero; returns (seized collateral, repaid loan tokens)."""
        if (seized_assets == 0) == (repaid_shares == 0) or min(seized_assets, repaid_shares) < 0:
            raise Revert("inconsistent input")
        return self._liquidate(sender, borrower, float(seized_assets), float(repaid_shares))

    @handler(gas=250_000, revert_gas=60_000, role=LIQUIDATION_CALL)
    def liquidation_call(self, sender: str, collateral_asset: str, debt_asset: str, user: str,
                         debt_to_cover: float = math.inf):
        """The lending role's call: repay ``debt_to_cover`` loan tokens (all the debt with inf) of
        ``user`` by shares, or seize all its collateral when that does not cover the repayment
        times the incentive. Returns the outcome (``liquidator_collateral``, ``debt_repaid``)."""
        if (collateral_asset, debt_asset) != (self.params.collateral, self.params.loan):
            raise Revert(f"the market lends {self.params.loan} against {self.params.collateral}")
        if not (isinstance(debt_to_cover, (int, float)) and debt_to_cover > 0):
            raise Revert("debt_to_cover must be positive")
        s = self.state
        row = s.accounts.get(user)
        if row is None or s.positions["borrow_shares"][row] <= 0:
            raise Revert("position is healthy")
        owed, coll = float(self.borrowed(row)), float(s.positions["collateral"][row])
        repay = min(float(debt_to_cover), owed)
        if repay * self.lif / self.price() >= coll:
            return self._liquidate(sender, user, coll, 0.0)
        shares = float(s.positions["borrow_shares"][row]) if repay == owed else repay * s.total_borrow_shares / s.total_borrow_assets
        return self._liquidate(sender, user, 0.0, shares)

    def _liquidate(self, sender: str, borrower: str, seized: float, shares: float) -> "LiquidationOutcome":
        s, p = self.state, self.params
        row = s.accounts.get(borrower)
        if row is None:
            raise Revert("position is healthy")
        price, coll = self.price(), float(s.positions["collateral"][row])
        owed = float(self.borrowed(row))
        hf = coll * price * p.lltv / owed if owed > 0 else math.inf
        if hf >= 1.0:
            raise Revert("position is healthy")
        per_share = s.total_borrow_assets / s.total_borrow_shares
        if seized > 0:
            repaid = seized * price / self.lif
            shares = repaid / per_share
        else:
            repaid = shares * per_share
            seized = repaid * self.lif / price
        if shares > s.positions["borrow_shares"][row] * (1 + 1e-12) or seized > coll * (1 + 1e-12):
            raise Revert("arithmetic underflow")
        shares, seized = min(shares, float(s.positions["borrow_shares"][row])), min(seized, coll)
        self._pull(p.loan, sender, repaid)
        s.positions["borrow_shares"][row] -= shares
        s.total_borrow_shares -= shares
        s.total_borrow_assets = max(s.total_borrow_assets - repaid, 0.0)
        left = coll - seized
        s.positions["collateral"][row] = left
        bad = 0.0
        if left == 0.0 and s.positions["borrow_shares"][row] > 0:  # bad debt, realised at once
            bad_shares = float(s.positions["borrow_shares"][row])
            bad = min(s.total_borrow_assets, bad_shares * s.total_borrow_assets / s.total_borrow_shares)
            s.total_borrow_assets -= bad
            s.total_supply_assets -= bad
            s.total_borrow_shares -= bad_shares
            s.positions["borrow_shares"][row] = 0.0
            s.bad_debt += bad
        self._ledger(p.collateral).move(self.name, sender, seized)
        self._version += 1
        usd = self.prices_usd()
        self._liquidations.append((self.block.number if self.block else -1, self.name, sender, borrower, repaid, shares,
                                   seized, bad, repaid * usd[1], seized * usd[0], bad * usd[1], hf))
        return LiquidationOutcome(seized, repaid, bad)

    # -- hooks ------------------------------------------------------------------------------
    def rollback(self, snapshot) -> None:
        """Restore a checkpoint (a bundle that reverted); what was computed since is stale."""
        super().rollback(snapshot)
        self._version += 1

    def view(self) -> "MorphoView":
        return MorphoView(self)

    def positions(self) -> Positions:
        coll, owed = self.state.positions["collateral"], self.borrowed()
        zeros = np.zeros_like(coll)
        prices = self.prices_usd()
        return Positions((self.params.collateral, self.params.loan), np.column_stack([coll, zeros]),
                         np.column_stack([zeros, owed]), prices, self.health_factors(prices[0] / prices[1], owed) < 1.0,
                         (None, None))

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """The market holds its collateral (``collateral``) and prices it by its oracle; it has
        no reserve of its own (equity 0): a bad debt falls on the suppliers."""
        p, prices = self.params, self.prices_usd()
        coll_token = p.tokens[p.collateral]
        return [Node(self.name, "protocol", equity_usd=0.0),
                Exposure(self.name, coll_token, "collateral", float(self.state.positions["collateral"].sum() * prices[0])),
                Exposure(self.name, p.oracles[p.collateral], "oracle", 0.0, asset=coll_token)]

    def distress(self) -> float:
        """Bad debt over what was supplied (the suppliers' loss so far)."""
        s = self.state
        supplied = s.total_supply_assets + s.bad_debt
        return min(1.0, s.bad_debt / supplied) if supplied > 0 else 0.0

    def summary(self, tables: dict) -> dict:
        s, usd = self.state, self.prices_usd()
        return {"bad_debt_usd": s.bad_debt * float(usd[1]), "utilization": self.utilization(),
                "supply_assets": s.total_supply_assets, "borrow_assets": s.total_borrow_assets}


@dataclass(frozen=True)
class LiquidationOutcome:
    """What a liquidation gave: collateral to the liquidator, loan tokens repaid, bad debt written off (tokens)."""

    liquidator_collateral: float
    debt_repaid: float
    bad_debt: float


class MorphoView:
    """The lending role (:class:`defisim.base.LendingView`) of a :class:`MorphoBlueMarket`:
    assets ``[collateral, loan]``, the health factor ``collateral × price × LLTV / borrowed``."""

    liquidation_method = "liquidation_call"

    def __init__(self, market: MorphoBlueMarket):
        self._m = market
        p = market.params
        self.symbols = [p.collateral, p.loan]
        self.tokens = dict(p.tokens)
        self.max_bonus = np.array([market.lif - 1.0, 0.0])

    def prices_usd(self) -> np.ndarray:
        return self._m.prices_usd()

    def borrowed(self) -> np.ndarray:
        return np.array([False, self._m.state.total_borrow_assets > 0])

    def liquidation_candidates(self, prices_usd: np.ndarray | None = None, largest: int | None = None):
        if prices_usd is None:
            prices = self._m.prices_usd()
            rows, hf, owed = self._m.unhealthy_now()
        else:
            prices = np.asarray(prices_usd, dtype=float)
            every = self._m.borrowed()
            all_hf = self._m.health_factors(prices[0] / prices[1], every)
            rows = np.flatnonzero(all_hf < 1.0)
            hf, owed = all_hf[rows], every[rows]
        return largest_debts_of(rows, hf, owed * prices[1], largest)

    def positions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        coll, owed = self._m.state.positions["collateral"][rows], self._m.borrowed(rows)
        zeros = np.zeros(len(coll))
        return np.column_stack([coll, zeros]), np.column_stack([zeros, owed])

    def owner(self, row: int) -> str:
        return self._m.state.accounts.name(int(row))

    def quote_liquidations(self, rows: np.ndarray, hf: np.ndarray, prices_usd: np.ndarray,
                           capital: np.ndarray | None = None, value_usd: np.ndarray | None = None) -> LiquidationQuotes:
        """What ``liquidation_call`` would repay and give for each account: all its debt (or
        ``capital[loan]``), or all its collateral when that is worth less than the repayment times
        the incentive."""
        coll, owed = self._m.state.positions["collateral"][rows], self._m.borrowed(rows)
        price = prices_usd[0] / prices_usd[1]
        repay = owed if capital is None else np.minimum(owed, capital[1])
        seized = np.minimum(repay * self._m.lif / price, coll)
        repaid = np.where(seized < coll, repay, coll * price / self._m.lif)
        n = len(rows)
        return LiquidationQuotes(np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64), (hf < 1.0) & (repaid > 0),
                                 repaid, seized)

    def distress(self) -> float:
        return self._m.distress()
