"""Result roles: what a protocol's tables (and its end-of-run positions) mean to the engine.

The engine reads a run through roles, never through a protocol's own table or column names. A
protocol fills a role by declaring one of its event tables with ``role=`` and, where its column
names differ from the role's fields, ``role_columns={field: column}``
(:meth:`defisim.base.eventlog.EventLog.declare`); it fills the ``liquidation`` call role by
declaring a handler with ``@handler(gas, role="liquidation")``; and it reports its accounts at the
end of the run through :meth:`defisim.base.protocol.Protocol.positions`. The headline metrics, the
timeline, the exposure snapshots and the sweep metrics are computed from these alone, so a new
protocol that fills them appears everywhere without an engine change.

Roles and their fields (units in the names; USD at the protocol's oracle price when the row was
written):

================  ==========================================================================
role              fields
================  ==========================================================================
``liquidations``  ``block``, ``protocol``, ``account``, ``liquidator``, ``debt_repaid_usd``,
                  ``collateral_seized_usd``, ``written_off_usd`` (debt written off by the call)
``positions``     a sample of the book: ``block``, ``protocol``, ``accounts`` (with debt),
                  ``below_1`` (of which liquidatable), ``debt_below_1_usd``, ``uncovered_usd``
                  (Σ max(0, debt − collateral)); optional ``hf_quantiles`` (columns of
                  health-factor quantiles)
``losses``        debt written off outside a liquidation call: ``block``, ``protocol``,
                  ``written_off_usd``
``auctions``      collateral auctions: ``block`` (settled), ``protocol``, ``account``,
                  ``debt_usd`` (the tab), ``proceeds_usd``, ``winner``
``closeouts``     positions closed by an off-chain venue: ``t_ms``, ``protocol``, ``account``,
                  ``kind``, ``notional_usd`` (size closed; its magnitude is used), optional
                  ``fund_delta_usd`` (into (+) or out of (−) the venue's insurance fund)
``oracle_rounds`` ``block``, ``oracle``, ``lag_ms`` (observation to answer on chain)
``settled_on_``   liquidations whose profit a contract settled on chain (a flash liquidation:
``chain``         loan, liquidation, sale and repayment in one call): ``block``, ``protocol``
                  (the contract), ``liquidator`` (the liquidator of record in ``liquidations``),
                  ``keeper`` (who kept the profit), ``profit_usd``
================  ==========================================================================

Valuation convention for debt: every USD figure of debt is the debt in tokens times the
protocol's oracle price of the debt asset *when the figure is recorded*: at the call for debt
repaid or written off, at the sample for a positions row, at the end of the run for the
end-of-run positions. Written-off debt is therefore counted at the price of the day it was
lost and never revalued.
"""
from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = ["RoleField", "Role", "ROLES", "LIQUIDATION_CALL", "fill_role", "Positions", "LiquidationQuotes",
           "LendingView", "largest_debts_of"]


class RoleField(NamedTuple):
    """A field of a role: name (unit in the name), dtype, description; ``required`` unless optional.
    A ``dtype`` of ``"columns"`` is a list of column names (e.g. health-factor quantiles)."""

    name: str
    dtype: str
    doc: str
    required: bool = True


class Role(NamedTuple):
    """A kind of result table the engine reads."""

    name: str
    doc: str
    fields: tuple[RoleField, ...]


def _role(name: str, doc: str, *fields: RoleField) -> Role:
    return Role(name, doc, tuple(fields))


_BLOCK = RoleField("block", "int64", "block number")
_PROTOCOL = RoleField("protocol", "string", "protocol instance")

ROLES: dict[str, Role] = {r.name: r for r in (
    _role("liquidations", "liquidations executed on chain", _BLOCK, _PROTOCOL,
          RoleField("account", "string", "liquidated account"),
          RoleField("liquidator", "string", "caller"),
          RoleField("debt_repaid_usd", "float64", "debt repaid by the liquidator (USD)"),
          RoleField("collateral_seized_usd", "float64", "collateral leaving the account (USD)"),
          RoleField("written_off_usd", "float64", "debt written off by the call (USD)")),
    _role("positions", "samples of a lending book", _BLOCK, _PROTOCOL,
          RoleField("accounts", "int64", "accounts with debt"),
          RoleField("below_1", "int64", "of which liquidatable (health factor below 1)"),
          RoleField("debt_below_1_usd", "float64", "their debt (USD)"),
          RoleField("uncovered_usd", "float64", "Σ over accounts of max(0, debt − collateral) (USD)"),
          RoleField("hf_quantiles", "columns", "columns of health-factor quantiles", required=False)),
    _role("losses", "debt written off outside a liquidation call", _BLOCK, _PROTOCOL,
          RoleField("written_off_usd", "float64", "debt written off (USD)")),
    _role("auctions", "collateral auctions settled", _BLOCK, _PROTOCOL,
          RoleField("account", "string", "account whose collateral was auctioned"),
          RoleField("debt_usd", "float64", "debt the auction had to raise (USD)"),
          RoleField("proceeds_usd", "float64", "what the bids raised (USD)"),
          RoleField("winner", "string", "winning bidder")),
    _role("closeouts", "positions closed by an off-chain venue",
          RoleField("t_ms", "int64", "venue time (ms)"), _PROTOCOL,
          RoleField("account", "string", "account closed out"),
          RoleField("kind", "string", "how (the venue's own words: into the book, backstop, ADL, collateral sold)"),
          RoleField("notional_usd", "float64", "size closed (USD; the magnitude is used)"),
          RoleField("fund_delta_usd", "float64", "into (+) or out of (−) the insurance fund (USD)", required=False)),
    _role("oracle_rounds", "on-chain oracle updates", _BLOCK,
          RoleField("oracle", "string", "oracle instance"),
          RoleField("lag_ms", "int64", "observation to answer on chain (ms)")),
    _role("settled_on_chain", "liquidations whose profit a contract settled on chain", _BLOCK, _PROTOCOL,
          RoleField("liquidator", "string", "the liquidator of record of the liquidation (the contract)"),
          RoleField("keeper", "string", "who kept the profit"),
          RoleField("profit_usd", "float64", "profit after the loan, its premium and the sale (USD), before gas")),
)}

#: The handler role of a liquidation attempt: ``@handler(gas, role=LIQUIDATION_CALL)``; the
#: engine counts its reverted calls and the gas they paid.
LIQUIDATION_CALL = "liquidation"


def fill_role(role: str, columns, mapping: dict | None = None) -> dict:
    """Check that a table with ``columns`` (:class:`~defisim.base.eventlog.Column`) fills ``role``
    and return ``{field: column name or list of names}`` for the fields it fills.

    A field is filled by the column ``mapping[field]`` (a list of names for a ``columns`` field),
    else by the column of the field's own name. A required field left unfilled, a column that
    does not exist or a dtype that differs is a ``ValueError``.

    Examples
    --------
    >>> from defisim.base.eventlog import Column
    >>> cols = [Column("block", "int64", ""), Column("oracle", "string", ""), Column("delay_ms", "int64", "")]
    >>> fill_role("oracle_rounds", cols, {"lag_ms": "delay_ms"})
    {'block': 'block', 'oracle': 'oracle', 'lag_ms': 'delay_ms'}
    >>> fill_role("oracle_rounds", cols)
    Traceback (most recent call last):
    ...
    ValueError: role 'oracle_rounds': field 'lag_ms' is filled by no column (have: block, oracle, delay_ms)
    """
    if role not in ROLES:
        raise ValueError(f"no result role {role!r} (roles: {', '.join(ROLES)})")
    mapping = dict(mapping or {})
    unknown = set(mapping) - {f.name for f in ROLES[role].fields}
    if unknown:
        raise ValueError(f"role {role!r} has no field {sorted(unknown)[0]!r}")
    dtypes = {c.name: c.dtype for c in columns}
    have = ", ".join(dtypes)
    out: dict = {}
    for f in ROLES[role].fields:
        col = mapping.get(f.name, f.name if f.dtype != "columns" else None)
        if f.dtype == "columns":
            if col is None:
                continue
            missing = [c for c in col if c not in dtypes]
            if missing:
                raise ValueError(f"role {role!r}: field {f.name!r} names no column {missing[0]!r} (have: {have})")
            out[f.name] = list(col)
            continue
        if col not in dtypes:
            if f.required or f.name in mapping:
                raise ValueError(f"role {role!r}: field {f.name!r} is filled by no column (have: {have})")
            continue
        if dtypes[col] != f.dtype:
            raise ValueError(f"role {role!r}: field {f.name!r} needs {f.dtype}, column {col!r} is {dtypes[col]}")
        out[f.name] = col
    return out


class Positions(NamedTuple):
    """A protocol's accounts now, for the end-of-run loss (:meth:`Protocol.positions`).

    Rows are accounts, columns assets. ``collateral`` and ``debt`` in tokens; ``prices_usd`` the
    protocol's oracle price of each asset (USD per token); ``liquidatable`` whether each account
    can be liquidated now under the protocol's rules (health factor below 1); ``venues`` the
    off-chain venue (``markets.venues``) each asset's collateral would sell on, or None.
    """

    assets: tuple[str, ...]
    collateral: np.ndarray
    debt: np.ndarray
    prices_usd: np.ndarray
    liquidatable: np.ndarray
    venues: tuple[str | None, ...]


class LiquidationQuotes(NamedTuple):
    """What liquidating each of many accounts would do now, under the protocol's own rules: the
    collateral and debt asset it would take and repay (indices into the view's ``symbols``),
    whether the call would succeed, the debt repaid and the collateral the liquidator receives
    (tokens)."""

    collateral: np.ndarray
    debt: np.ndarray
    ok: np.ndarray
    debt_repaid: np.ndarray
    liquidator_collateral: np.ndarray


@runtime_checkable
class LendingView(Protocol):
    """The lending role of a protocol's :meth:`~defisim.base.protocol.Protocol.view`: what a
    liquidation keeper reads. A keeper written against it liquidates any protocol whose view
    fills it, by calling ``liquidation_method`` with ``collateral_asset``, ``debt_asset``,
    ``user`` and ``debt_to_cover`` (tokens; ``inf`` for the most the rules allow).

    Attributes: ``symbols`` (the assets, in the order of every per-asset array), ``tokens`` (asset
    → token ledger protocol), ``liquidation_method`` (its handler of the ``liquidation`` call
    role), ``max_bonus`` (per asset, the highest liquidation bonus any account gives, a fraction).
    """

    symbols: list
    tokens: dict
    liquidation_method: str
    max_bonus: np.ndarray

    def prices_usd(self) -> np.ndarray:
        """Oracle price of each asset (USD per token), as the protocol reads them now."""

    def borrowed(self) -> np.ndarray:
        """Per asset, whether anyone owes it."""

    def liquidation_candidates(self, prices_usd: np.ndarray | None = None, largest: int | None = None) -> tuple:
        """``(rows, hf, debt_usd)`` of the accounts liquidatable now (or at ``prices_usd``), in
        increasing row order; with ``largest``, only that many with the largest debts (equal
        debts: the lower row)."""

    def positions(self, rows: np.ndarray) -> tuple:
        """``(collateral, debt)`` tokens of accounts ``rows``: matrices (len(rows), assets)."""

    def owner(self, row: int) -> str:
        """The address of account ``row``."""

    def quote_liquidations(self, rows: np.ndarray, hf: np.ndarray, prices_usd: np.ndarray,
                           capital: np.ndarray | None = None, value_usd: np.ndarray | None = None) -> LiquidationQuotes:
        """Size a liquidation of each account as the protocol would, repaying at most ``capital``
        (tokens per asset) when given; with ``value_usd`` (USD one collateral token fetches, NaN
        where the liquidator cannot sell it) on the (collateral, debt) pair that pays most."""


def largest_debts_of(rows: np.ndarray, hf: np.ndarray, debt_usd: np.ndarray, count: int | None) -> tuple:
    """Of liquidation candidates ``(rows, hf, debt_usd)`` (rows in any order), the ``count`` with
    the largest debts (USD; equal debts: the lower row; all if ``count`` is None), in increasing
    row order: what
    :meth:`LendingView.liquidation_candidates` answers when asked for its ``largest``.

    Examples
    --------
    >>> rows, hf, debt = largest_debts_of(np.array([2, 5, 7, 9]), np.array([0.9, 0.8, 0.95, 0.7]),
    ...                                   np.array([10.0, 30.0, 30.0, 5.0]), 2)
    >>> rows.tolist(), debt.tolist()
    ([5, 7], [30.0, 30.0])
    """
    rows, hf, debt_usd = np.asarray(rows), np.asarray(hf), np.asarray(debt_usd)
    if count is not None and rows.size > count:
        pick = np.lexsort((rows, -debt_usd))[:count]
        rows, hf, debt_usd = rows[pick], hf[pick], debt_usd[pick]
    if rows.size > 1 and (rows[1:] < rows[:-1]).any():
        order = np.argsort(rows, kind="stable")
        rows, hf, debt_usd = rows[order], hf[order], debt_usd[order]
    return rows, hf, debt_usd
