"""Flash loans and the liquidator contract that uses them.

A liquidator on mainnet needs no capital: its contract borrows the debt asset by a flash loan,
liquidates, sells the seized collateral on an on-chain pool and repays, all in one transaction
that reverts whole if the sale does not repay the loan (Aave v3 `Pool.flashLoanSimple` and
`IFlashLoanSimpleReceiver.executeOperation`; Uniswap v2 `UniswapV2Pair.swap` with a callback,
the flash swap).

- ``lending.flash_vault`` (:class:`FlashVault`): a lender of flash loans only, holding cash on
  the token ledgers, with a premium that may be zero (Balancer v2 `Vault.flashLoan`, whose fee
  governance set to 0; Morpho Blue `Morpho.flashLoan`, free).
- ``lending.flash_liquidator`` (:class:`FlashLiquidator`): the searcher's contract. Its one call,
  ``liquidate``, takes the loan from an Aave v3 pool (``flashLoanSimple``, premium
  ``flash_loan_premium``), from a flash vault, or as a Uniswap v2 flash swap from the pool it
  sells on (the pair sends the debt asset and is repaid in collateral).

Atomicity: the engine's handlers check, then apply effects. The contract checks every step
first with the pure quotes of the protocols it calls (:meth:`AaveV3Pool.quote_liquidation_call`,
the pools' ``check_swap`` / ``check_swap_out``, the lender's ``check_flash_loan``), then applies
them in the contracts' order; a step that would fail is a revert of the whole call before any
effect, and it pays the gas burned up to that step.
"""
from __future__ import annotations

import math
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import LIQUIDATION_CALL, Column, Protocol, Revert, handler, protocol_of, unit

__all__ = ["FlashVaultParams", "FlashVault", "FlashLiquidatorParams", "FlashLiquidator", "FLASH_COLUMNS",
           "FLASH_LIQUIDATION_GAS", "EARLY_REVERT_GAS", "LATE_REVERT_GAS"]

#: Gas of a flash liquidation that succeeds: a flash loan, ``liquidationCall`` and one DEX swap
#: take 500k–1.0M gas on mainnet (Aave v3 `liquidationCall` alone 250k–450k); the middle of the
#: lower half, for an account with one collateral and one debt reserve.
FLASH_LIQUIDATION_GAS = 600_000
#: Gas burned by one that reverts at the liquidation or the loan (the flash loan's entry and the
#: liquidation's validation, before any transfer).
EARLY_REVERT_GAS = 120_000
#: Gas burned by one that reverts at the repayment check, after the liquidation and the swap ran.
LATE_REVERT_GAS = 560_000

FLASH_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("contract", "string", "liquidator contract (the liquidator of record in the pool's liquidations)"),
    Column("keeper", "string", "the transaction's sender, who keeps the profit"),
    Column("pool", "string", "lending pool liquidated"),
    Column("user", "string", "liquidated account"),
    Column("collateral_asset", "string", "collateral reserve"),
    Column("debt_asset", "string", "debt reserve"),
    Column("lender", "string", "where the loan came from: an Aave pool, a flash vault, or the swap pool (flash swap)"),
    Column("swap_pool", "string", "on-chain pool the collateral was sold on"),
    Column("loan", "float64", "debt tokens borrowed (= debt repaid by the liquidation)"),
    Column("premium", "float64", "debt tokens paid on top of the loan (0 for a flash swap: its fee is in the swap)"),
    Column("collateral_received", "float64", "collateral tokens the liquidation paid the contract"),
    Column("collateral_sold", "float64", "collateral tokens sold into the swap pool"),
    Column("debt_bought", "float64", "debt tokens the swap gave (for a flash swap: the loan)"),
    Column("profit", "float64", "tokens left to the keeper: debt tokens, or collateral tokens for a flash swap"),
    Column("profit_asset", "string", "reserve the profit is in"),
    Column("profit_usd", "float64", "the profit at the pool's oracle price (USD)"),
]

#: The ``settled_on_chain`` result role (:mod:`defisim.base.roles`) filled by ``flash_liquidations``.
SETTLED_ROLE = {"protocol": "contract", "liquidator": "contract"}


def _symbol_on(protocol, ledger: str) -> str:
    """The symbol under which ``protocol`` (a lending pool, a vault: ``params.tokens``; an AMM
    pool: ``params.ledgers``) holds the token of ``ledger``, or Revert if it has none."""
    names = getattr(protocol.params, "tokens", None) or getattr(protocol.params, "ledgers", None) or {}
    for sym, name in names.items():
        if name == ledger:
            return sym
    raise Revert(f"{protocol.name} holds no {ledger}")


class FlashVaultParams(BaseModel):
    """A flash-loan lender holding ``cash`` on the token ledgers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: dict[str, protocol_of("token.ledger", role="token ledger")] = Field(
        description="symbol -> token ledger protocol holding that token")
    cash: dict[str, float] = Field(default_factory=dict,
        description="symbol -> tokens the vault holds at the start (issued to it)", json_schema_extra=unit("tokens"))
    premium: float = Field(0.0, ge=0, le=0.01, description="premium of a loan, a share of the amount (0: "
        "Balancer v2 `Vault.flashLoan` at its governance-set fee, Morpho Blue `flashLoan`)", json_schema_extra=unit("fraction"))

    @model_validator(mode="after")
    def _known(self):
        unknown = sorted(set(self.cash) - set(self.tokens))
        if unknown:
            raise ValueError(f"cash: {unknown} have no ledger in tokens ({sorted(self.tokens)})")
        negative = sorted(s for s, v in self.cash.items() if not v >= 0)
        if negative:
            raise ValueError(f"cash.{negative[0]}: must be non-negative")
        return self


class FlashVault(Protocol):
    """A lender of flash loans only (``lending.flash_vault``): it lends what it holds, for
    ``premium`` of the amount, which it keeps. No calls of its own; a contract borrows inside
    its call through :meth:`check_flash_loan`, :meth:`lend_flash`, :meth:`repay_flash`."""

    kind: ClassVar[str] = "lending.flash_vault"
    Params = FlashVaultParams

    def __init__(self, name: str, params: FlashVaultParams, host):
        super().__init__(name, params, host)
        missing = [p for p in params.tokens.values() if p not in host.protocols]
        if missing:
            raise ValueError(f"protocols.{name}.tokens: {missing} must be listed before the vault in the scenario")
        for sym, amount in params.cash.items():
            if amount > 0:
                host.protocols[params.tokens[sym]].issue_quietly(name, amount)

    def _ledger(self, asset: str):
        ledger = self.params.tokens.get(asset)
        if ledger is None:
            raise Revert(f"unknown asset {asset!r}")
        return self.host.protocols[ledger]

    def check_flash_loan(self, asset: str, amount: float) -> float:
        """The premium (tokens) of a loan of ``amount`` tokens of ``asset``, or Revert when the vault
        does not hold that much."""
        if not (isinstance(amount, (int, float)) and math.isfinite(amount) and amount > 0):
            raise Revert("amount must be a positive number")
        if self._ledger(asset).balance_of(self.name) < amount:
            raise Revert("flash loan exceeds the vault's cash")
        return amount * self.params.premium

    def lend_flash(self, receiver: str, asset: str, amount: float) -> None:
        """Hand a checked loan to ``receiver``."""
        self._ledger(asset).move(self.name, receiver, amount)

    def repay_flash(self, receiver: str, asset: str, amount: float, premium: float) -> None:
        """Take back ``amount + premium`` from ``receiver`` (the vault keeps the premium)."""
        self._ledger(asset).move(receiver, self.name, amount + premium)


class FlashLiquidatorParams(BaseModel):
    """The liquidator contract has no settings: what it borrows, liquidates and sells is in each call."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FlashLiquidator(Protocol):
    """A searcher's liquidation contract (``lending.flash_liquidator``). Call:
    ``liquidate(pool, collateral_asset, debt_asset, user, swap_pool, lender="", debt_to_cover=inf, min_profit=0)``.

    In one call: borrow the debt the liquidation will repay (from ``lender``: an Aave v3 pool's
    ``flashLoanSimple`` or a flash vault; with ``lender=""``, a Uniswap v2 flash swap from
    ``swap_pool``), liquidate ``user`` on ``pool``, sell the seized collateral on ``swap_pool``
    (constant product or StableSwap; with a flash swap the pair takes the collateral it needs as
    repayment), repay loan and premium, and send what is left to the sender. It reverts whole
    when what the sale brings does not cover the loan, its premium and ``min_profit`` (tokens of
    the profit's asset), or when any step would revert. Every row goes to ``flash_liquidations``.
    """

    kind: ClassVar[str] = "lending.flash_liquidator"
    Params = FlashLiquidatorParams

    def __init__(self, name: str, params: FlashLiquidatorParams, host):
        super().__init__(name, params, host)
        self._log = host.log.declare("flash_liquidations", "flash-loan liquidations: loan, sale, repayment, profit",
                                     FLASH_COLUMNS, role="settled_on_chain", role_columns=SETTLED_ROLE)
        self._symbols: dict[tuple, str] = {}  # (protocol, ledger) -> symbol, see _symbol

    def _symbol(self, protocol, ledger: str) -> str:
        """:func:`_symbol_on`, remembered per (protocol, ledger): the params it reads are frozen."""
        key = (protocol, ledger)
        sym = self._symbols.get(key)
        if sym is None:
            sym = self._symbols[key] = _symbol_on(protocol, ledger)
        return sym

    def _protocol(self, name: str, needs: str, what: str):
        p = self.host.protocols.get(name)
        if p is None or not hasattr(p, needs):
            raise Revert(f"{name!r} is not {what}")
        return p

    @handler(gas=FLASH_LIQUIDATION_GAS, revert_gas=EARLY_REVERT_GAS, role=LIQUIDATION_CALL)
    def liquidate(self, sender: str, pool: str, collateral_asset: str, debt_asset: str, user: str, swap_pool: str,
                  lender: str = "", debt_to_cover: float = math.inf, min_profit: float = 0.0):
        """Flash-borrow, liquidate, sell, repay (see the class); returns the profit (tokens)."""
        if not (isinstance(min_profit, (int, float)) and min_profit >= 0 and math.isfinite(min_profit)):
            raise Revert("min_profit must be a non-negative number")
        lending = self._protocol(pool, "quote_liquidation_call", "a lending pool")
        amm = self._protocol(swap_pool, "check_swap", "a swap pool")
        # checks: every step quoted on the state as it is, before any effect
        q = lending.quote_liquidation_call(self.name, collateral_asset, debt_asset, user, debt_to_cover)
        loan, got = q.out.debt_repaid, q.out.liquidator_collateral
        tokens = lending.params.tokens
        debt_ledger, coll_ledger = tokens[debt_asset], tokens[collateral_asset]
        amm_debt, amm_coll = self._symbol(amm, debt_ledger), self._symbol(amm, coll_ledger)
        if lender:
            source = self._protocol(lender, "check_flash_loan", "a flash lender")
            loan_asset = self._symbol(source, debt_ledger)
            premium = source.check_flash_loan(loan_asset, loan)
            if not got > 0:
                raise Revert("nothing to sell")
            swap = amm.check_swap(amm_coll, got)
            profit, profit_asset = swap.amount_out - (loan + premium), debt_asset
            sold, bought = got, swap.amount_out
            if not profit >= min_profit:
                raise Revert("flash loan not repaid" if profit < 0 else "profit below min_profit", LATE_REVERT_GAS)
        else:  # the pair lends the debt asset and takes collateral back (Uniswap v2 flash swap)
            if not hasattr(amm, "check_swap_out"):
                raise Revert(f"{swap_pool!r} does not flash-swap (a constant-product pool does)")
            premium, source = 0.0, amm
            swap = amm.check_swap_out(amm_debt, loan)
            profit, profit_asset = got - swap.amount_in, collateral_asset
            sold, bought = swap.amount_in, loan
            if not profit >= min_profit:
                raise Revert("flash swap not repaid" if profit < 0 else "profit below min_profit", LATE_REVERT_GAS)
        # effects, in the contracts' order
        if lender:
            source.lend_flash(self.name, loan_asset, loan)
        else:
            amm.flash_send(self.name, swap)
        lending.apply_liquidation(self.name, user, q)
        if lender:
            amm.apply_swap(self.name, swap)
            source.repay_flash(self.name, loan_asset, loan, premium)
        else:
            amm.flash_settle(self.name, swap)
        ledger = self.host.protocols[tokens[profit_asset]]
        profit = ledger.balance_of(self.name)  # the contract keeps nothing: all it holds goes to the sender
        if profit > 0:
            ledger.move(self.name, sender, profit)
        price = q.prices[q.debt if profit_asset == debt_asset else q.collateral]
        self._log.append((self.block.number if self.block else -1, self.name, sender, pool, user, collateral_asset,
                          debt_asset, lender or swap_pool, swap_pool, loan, premium, got, sold, bought, profit,
                          profit_asset, profit * price))
        return profit
