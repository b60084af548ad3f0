"""Token ledger state and call handlers (ERC-20-like; checks, then effects)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType
from dataclasses import dataclass

import numpy as np

from defisim.base import AddressBook, Column
from defisim.base import Protocol, handler, is_number
from defisim.base import Table
from defisim.base import Revert

from .params import LedgerParams

__all__ = ["TokenLedger", "LedgerState", "LedgerView"]

TRANSFER_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("token", "string", "token protocol instance"),
    Column("kind", "string", "transfer | mint | burn"),
    Column("sender", "string", "address debited ('' for a mint)"),
    Column("recipient", "string", "address credited ('' for a burn)"),
    Column("amount", "float64", "token units"),
]


@dataclass
class LedgerState:
    """Balances by account row (token units), the rows named by ``accounts`` (a population's
    addresses held as one range: its balances are a slice of the column, no entry per address);
    ``total_supply`` changes only by mint and burn (token units)."""

    accounts: AddressBook
    balances: Table
    total_supply: float


class TokenLedger(Protocol):
    """An ERC-20-like ledger. Calls: ``transfer(to, amount)``, ``mint(to, amount)``, ``burn(amount)``.

    Examples
    --------
    >>> from protocols.token.params import LedgerParams
    >>> from defisim.base import EventLog
    >>> class Host: log = EventLog()
    >>> t = TokenLedger("usd", LedgerParams(initial_balances={"alice": 10.0}), Host())
    >>> _ = TokenLedger.handlers["transfer"].fn(t, "alice", to="bob", amount=4.0)
    >>> t.balance_of("alice"), t.balance_of("bob"), t.state.total_supply
    (6.0, 4.0, 10.0)
    """

    kind = "token.ledger"
    node_kind = "token"
    Params = LedgerParams

    def __init__(self, name: str, params: LedgerParams, host):
        super().__init__(name, params, host)
        table = Table({"balance": np.float64}, capacity=max(16, len(params.initial_balances)))
        self.state = LedgerState(AddressBook(), table, 0.0)
        for addr, amount in params.initial_balances.items():
            self.issue_quietly(addr, amount)
        self._log = host.log.declare("transfers", "token movements of the token ledgers", TRANSFER_COLUMNS)

    # -- helpers --------------------------------------------------------------------------
    def _account(self, addr: str) -> int:
        row = self.state.accounts.get(addr)
        if row is None:
            row = self.state.accounts.add(addr)
            self.state.balances.append(balance=0.0)  # row `row`
        return row

    def balance_of(self, addr: str) -> float:
        """Balance of ``addr`` (token units)."""
        row = self.state.accounts.get(addr)
        return 0.0 if row is None else float(self.state.balances["balance"][row])

    def _block_number(self) -> int:
        return -1 if self.block is None else self.block.number

    @staticmethod
    def _check_amount(amount: float) -> None:
        if not (is_number(amount) and math.isfinite(amount) and amount > 0):
            raise Revert("amount must be a positive number")

    # -- effects, for this ledger's handlers and for other protocols after their own checks --
    def move(self, src: str, dst: str, amount: float) -> None:
        """Move ``amount`` from ``src`` to ``dst`` (the caller has checked the balance)."""
        accounts = self.state.accounts
        dst_row = accounts.get(dst)
        if dst_row is None:
            dst_row = self._account(dst)  # may grow the table: take the column after
        bal = self.state.balances["balance"]
        bal[accounts[src]] -= amount
        bal[dst_row] += amount
        self._log.append((self._block_number(), self.name, "transfer", src, dst, float(amount)))

    def issue_quietly(self, dst: str, amount: float) -> None:
        """Mint without an event row (opening balances)."""
        row = self._account(dst)  # may grow the table: take the column after
        self.state.balances["balance"][row] += amount
        self.state.total_supply += amount

    def issue_many(self, addresses: Sequence[str], amounts) -> None:
        """Mint to many addresses at once, without event rows (opening balances; vectorised).
        ``addresses`` may be an :class:`~defisim.base.AddressRange` (a population's wallets):
        then no entry per address."""
        known = len(self.state.accounts)
        idx = self.state.accounts.rows_for(addresses)
        if len(self.state.accounts) > known:  # the new addresses' rows, in order
            self.state.balances.append(balance=np.zeros(len(self.state.accounts) - known))
        amounts = np.asarray(amounts, dtype=np.float64)
        np.add.at(self.state.balances["balance"], idx, amounts)
        self.state.total_supply += float(amounts.sum())

    def issue(self, dst: str, amount: float) -> None:
        """Mint ``amount`` to ``dst``: the total supply grows."""
        self.issue_quietly(dst, amount)
        self._log.append((self._block_number(), self.name, "mint", "", dst, float(amount)))

    def destroy(self, src: str, amount: float) -> None:
        """Burn ``amount`` of ``src``'s tokens (the caller has checked the balance)."""
        self.state.balances["balance"][self.state.accounts[src]] -= amount
        self.state.total_supply -= amount
        self._log.append((self._block_number(), self.name, "burn", src, "", float(amount)))

    # -- calls ------------------------------------------------------------------------------
    @handler(gas=51_000, revert_gas=24_000)
    def transfer(self, sender: str, to: str, amount: float) -> float:
        """Move ``amount`` from the sender to ``to``; reverts if the balance is short."""
        self._check_amount(amount)
        if self.balance_of(sender) < amount:
            raise Revert("transfer amount exceeds balance")
        self.move(sender, to, amount)
        return amount

    @handler(gas=45_000, revert_gas=23_000)
    def mint(self, sender: str, to: str, amount: float) -> float:
        """Create ``amount`` for ``to``; only the minter may."""
        self._check_amount(amount)
        if self.params.minter is None or sender != self.params.minter:
            raise Revert("caller is not the minter")
        self.issue(to, amount)
        return amount

    @handler(gas=35_000, revert_gas=23_000)
    def burn(self, sender: str, amount: float) -> float:
        """Destroy ``amount`` of the sender's tokens."""
        self._check_amount(amount)
        if self.balance_of(sender) < amount:
            raise Revert("burn amount exceeds balance")
        self.destroy(sender, amount)
        return amount

    # -- hooks --------------------------------------------------------------------------------
    def view(self) -> "LedgerView":
        """A read-only window (no copy of the account map)."""
        return LedgerView(self)

    def summary(self, tables: dict) -> dict:
        t = tables["transfers"]
        mine = t[t["token"] == self.name]
        return {
            "transfers": int((mine["kind"] == "transfer").sum()),
            "volume": float(mine.loc[mine["kind"] == "transfer", "amount"].sum()),
            "total_supply": float(self.state.total_supply),
        }


class LedgerView:
    """What agents read of a ledger: balances by address and the total supply (read-only)."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: TokenLedger):
        self._ledger = ledger

    def balance_of(self, addr: str) -> float:
        """Balance of ``addr`` (token units)."""
        return self._ledger.balance_of(addr)

    @property
    def total_supply(self) -> float:
        return self._ledger.state.total_supply

    @property
    def accounts(self):
        """Address → row, read-only."""
        return MappingProxyType(self._ledger.state.accounts)

    @property
    def balance(self) -> np.ndarray:
        """Balances by row, read-only."""
        return self._ledger.state.balances.view()["balance"]
