"""Headline metrics of a crisis, from a run's tables alone.

:func:`crisis_summary` reads only the DataFrames of a run, so it works the same on
``Simulation(...).run().tables`` and on ``Results.load(directory).tables``. Each group of metrics
is computed when the tables it needs are present and left out otherwise: a run without lending,
oracles or markets gives an empty dict, never an error.
"""
from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

from defisim.base.roles import LIQUIDATION_CALL
from defisim.results.roles import role_frame, role_txs

__all__ = ["crisis_summary", "run_warnings", "keeper_profit_usd", "time_to_liquidate_s", "below_1_by_block", "END_TABLE",
           "BACKLOG_TABLE", "BACKLOG_CAUSES"]

def _f(x) -> float:
    x = float(x)
    return x if math.isfinite(x) else float("nan")


def keeper_profit_usd(liquidations: pd.DataFrame, venue_trades: pd.DataFrame,
                      settled: pd.DataFrame | None = None) -> float:
    """Realised profit of the liquidators, in USD, before gas.

    Liquidations settled on chain (``settled``, the ``settled_on_chain`` role: a flash
    liquidation's contract repaid its loan from the sale in the same call) count with their
    ``profit_usd``; their liquidator of record is left out of the venue reckoning below.

    Σ over every liquidator (each distinct ``liquidations.liquidator``) of what its trades on the
    off-chain venues brought in (``usd`` of its ``sell`` fills minus ``usd`` of its ``buy`` fills)
    minus the debt it repaid (``debt_repaid_usd``, at the oracle price of the call). This is
    the keeper's ``proceeds − repay`` with the proceeds actually realised, price impact and
    the protocol fee included; the gas is not subtracted (see ``keeper_gas_eth``).

    Collateral a liquidator has not sold by the end of the run counts as zero, so a run that ends
    mid-crisis understates the profit; every venue trade of a liquidator counts, whatever the
    reason for it.

    Parameters
    ----------
    liquidations : DataFrame
        The ``liquidations`` role frame (``liquidator``, ``debt_repaid_usd``).
    venue_trades : DataFrame
        The ``venue_trades`` table (``trader``, ``side``, ``usd``).

    Returns
    -------
    float
        Profit in USD (negative when the sales did not cover the debt repaid).

    Examples
    --------
    >>> liq = pd.DataFrame({"liquidator": ["k/0", "k/0"], "debt_repaid_usd": [1000.0, 500.0]})
    >>> trades = pd.DataFrame({"trader": ["k/0", "mm/0"], "side": ["sell", "sell"], "usd": [1600.0, 99.0]})
    >>> keeper_profit_usd(liq, trades)
    100.0
    """
    on_chain = 0.0
    if settled is not None and len(settled):
        liquidations = liquidations[~liquidations["liquidator"].isin(set(settled["liquidator"].tolist()))]
        on_chain = float(settled["profit_usd"].sum())
    keepers = set(liquidations["liquidator"].tolist())
    mine = venue_trades[venue_trades["trader"].isin(keepers)]
    proceeds = float(mine.loc[mine["side"] == "sell", "usd"].sum()) - float(mine.loc[mine["side"] == "buy", "usd"].sum())
    return _f(on_chain + proceeds - float(liquidations["debt_repaid_usd"].sum()))


#: The engine's table of the protocols' books at the end of the run (written by the run from each
#: protocol's ``positions()``): one row per lending protocol.
END_TABLE = "loss_at_end"
#: The engine's table of why the accounts still liquidatable at the end were left (one row per
#: lending protocol and cause, written by the run: :mod:`defisim.run.backlog`).
BACKLOG_TABLE = "backlog_at_end"
#: Its causes, in the order they are tried.
BACKLOG_CAUSES = ("no_collateral", "refused", "dust", "gas", "depth", "profitable")


def _lending(tables: Mapping[str, pd.DataFrame], schema: Mapping) -> dict:
    liq = role_frame(tables, schema, "liquidations")
    losses = role_frame(tables, schema, "losses")
    end = tables.get(END_TABLE)
    if liq is None and losses is None and (end is None or not len(end)):
        return {}
    written_off = (_f(liq["written_off_usd"].sum()) if liq is not None else 0.0) + (
        _f(losses["written_off_usd"].sum()) if losses is not None else 0.0)
    out = {}
    if liq is not None:
        out["liquidations"] = int(len(liq))
        out["liquidated_usd"] = _f(liq["debt_repaid_usd"].sum())
    out["written_off_usd"] = written_off
    if end is not None and len(end):
        out["uncovered_usd"] = _f(end["uncovered_usd"].sum())
        out["uncovered_venue_usd"] = _f(end["uncovered_venue_usd"].sum())
        out["total_loss_usd"] = written_off + out["uncovered_usd"]
        out["total_loss_venue_usd"] = written_off + out["uncovered_venue_usd"]
        out["liquidation_backlog_at_end"] = int(end["liquidatable_accounts"].sum())
        out["liquidation_backlog_usd_at_end"] = _f(end["liquidatable_debt_usd"].sum())
        causes = tables.get(BACKLOG_TABLE)
        if causes is not None:
            for cause in BACKLOG_CAUSES:
                mine = causes[causes["cause"] == cause]
                out[f"backlog_{cause}"] = int(mine["accounts"].sum())
                out[f"backlog_{cause}_usd"] = _f(mine["debt_usd"].sum())
    else:
        out["total_loss_usd"] = written_off
    attempts = role_txs(tables, schema, LIQUIDATION_CALL)
    if attempts is not None:
        out["reverted_liquidations"] = int((attempts["status"] == "reverted").sum())
        out["keeper_gas_eth"] = _f(attempts["fee_paid_gwei"].sum() / 1e9)
    trades = tables.get("venue_trades")
    if liq is not None and trades is not None:
        out["keeper_profit_usd"] = keeper_profit_usd(liq, trades, role_frame(tables, schema, "settled_on_chain"))
    auctions = role_frame(tables, schema, "auctions")
    if auctions is not None:
        out["auctions"] = int(len(auctions))
        out["auction_debt_usd"] = _f(auctions["debt_usd"].sum())
        out["auction_proceeds_usd"] = _f(auctions["proceeds_usd"].sum())
    positions, blocks = role_frame(tables, schema, "positions"), tables.get("blocks")
    if positions is not None and blocks is not None:
        ttl = time_to_liquidate_s(positions, blocks)
        cut_off = out.get("liquidation_backlog_at_end", 0) > 0
        out["time_to_liquidate_s"] = float("nan") if cut_off else ttl
        out["liquidation_cut_off"] = int(cut_off)
    return out


def below_1_by_block(positions: pd.DataFrame, column: str = "below_1") -> pd.Series:
    """``column`` of a ``positions`` role frame (default ``below_1``; also ``debt_below_1_usd``,
    ``uncovered_usd``) summed over the protocols at every block where one of them wrote a row,
    each counting its last row at or before that block (protocols sample at different blocks; a
    protocol's value holds until its next row).

    A frame without a ``protocol`` column is one protocol. Before a protocol's first row it counts 0.

    Examples
    --------
    >>> hf = pd.DataFrame({"block": [10, 15, 20], "protocol": ["a", "b", "a"], "below_1": [5, 0, 3]})
    >>> below_1_by_block(hf).to_dict()
    {10: 5, 15: 5, 20: 3}
    """
    owners = positions["protocol"].astype(str) if "protocol" in positions else pd.Series("", index=positions.index)
    last = positions.assign(_protocol=owners).groupby(["block", "_protocol"], sort=True)[column].last()
    wide = last.unstack("_protocol").sort_index().ffill().fillna(0)
    total = wide.sum(axis=1)
    return total.astype(positions[column].dtype) if len(total) else total


def time_to_liquidate_s(positions: pd.DataFrame, blocks: pd.DataFrame) -> float:
    """Seconds from the first ``positions`` sample with an account below HF 1 to the first
    later sample with none, all protocols together (:func:`below_1_by_block`: each protocol's
    last row holds until its next).

    The resolution is the protocols' sampling. A backlog never cleared counts until the last
    block of the run (a lower bound; the summary reports such a run's time as NaN with
    ``liquidation_cut_off`` = 1); a run in which no account went below HF 1 gives NaN.

    Parameters
    ----------
    positions : DataFrame
        A ``positions`` role frame (``block``, ``protocol``, ``below_1``).
    blocks : DataFrame
        The ``blocks`` table (``block``, ``time_ms``).

    Examples
    --------
    >>> hf = pd.DataFrame({"block": [1, 10, 20, 30], "below_1": [0, 4, 1, 0]})
    >>> time_to_liquidate_s(hf, pd.DataFrame({"block": range(1, 41), "time_ms": range(12_000, 492_000, 12_000)}))
    240.0
    """
    below = below_1_by_block(positions)
    if not (below > 0).any():
        return float("nan")
    times = dict(zip(blocks["block"].tolist(), blocks["time_ms"].tolist()))
    first = int(below.index[(below > 0).to_numpy()][0])
    cleared = below[(below.index > first) & (below == 0).to_numpy()]
    end = int(cleared.index[0]) if len(cleared) else int(blocks["block"].iloc[-1])
    return _f((times[end] - times[first]) / 1000.0)


def _oracles(tables: Mapping[str, pd.DataFrame], schema: Mapping) -> dict:
    upd = role_frame(tables, schema, "oracle_rounds")
    if upd is None:
        return {}
    lag_s = upd["lag_ms"] / 1000.0
    return {
        "oracle_rounds": int(len(upd)),
        "oracle_lag_max_s": _f(lag_s.max()) if len(lag_s) else float("nan"),
        "oracle_lag_mean_s": _f(lag_s.mean()) if len(lag_s) else float("nan"),
    }


def _min_prices(tables: Mapping[str, pd.DataFrame]) -> dict:
    prices = tables.get("prices")
    if prices is None or not len(prices):
        return {}
    out = {}
    for source in ("venue", "feed", "protocol"):
        rows = prices[prices["source"] == source]
        lows = rows.groupby(rows["name"].astype(str), sort=True)["price_usd"].min()
        out.update({f"min_price_usd.{source}.{name}": _f(v) for name, v in lows.items()})
    return out


def crisis_summary(tables: Mapping[str, pd.DataFrame], schema: Mapping) -> dict:
    """Headline metrics of a crisis from a run's tables, read by result role (``schema``: which
    table fills which role, :mod:`defisim.results.roles`): a flat dict of Python ints and floats.

    Keys carry their unit; a group is present only when a table of its role is. A mean or
    maximum over nothing is NaN. Debt in USD follows one convention (:mod:`defisim.base.roles`):
    tokens times the protocol's oracle price when the figure is recorded.

    ==================================  =====  ===============================================
    key                                 unit   meaning
    ==================================  =====  ===============================================
    ``liquidations``                    count  rows of the ``liquidations`` role (successful calls)
    ``liquidated_usd``                  USD    Σ ``debt_repaid_usd``
    ``written_off_usd``                 USD    debt written off: Σ ``written_off_usd`` of the
                                               liquidations and of the ``losses`` role
    ``uncovered_usd``                   USD    debt still owed at the end that collateral does not
                                               cover: Σ over accounts of max(0, debt − collateral),
                                               collateral at the oracle price
    ``uncovered_venue_usd``             USD    the same with collateral at its venue's mid price
    ``total_loss_usd``                  USD    ``written_off_usd + uncovered_usd``: the headline loss
    ``total_loss_venue_usd``            USD    ``written_off_usd + uncovered_venue_usd``
    ``liquidation_backlog_at_end``      count  accounts still liquidatable (HF < 1) at the end
    ``liquidation_backlog_usd_at_end``  USD    their debt
    ``backlog_<cause>``, ``…_usd``       count, USD  the backlog by why it was left (``backlog_at_end``):
                                               ``no_collateral``, ``refused``, ``dust``, ``gas``
                                               (unprofitable at the gas price), ``depth`` (no
                                               depth to sell into), ``profitable`` (capital or time)
    ``reverted_liquidations``           count  reverted calls of the ``liquidation`` call role
    ``keeper_gas_eth``                  ETH    Σ ``fee_paid_gwei`` / 1e9 of those calls (won or reverted)
    ``keeper_profit_usd``               USD    realised, before gas, venue sales and profits settled
                                               on chain: see :func:`keeper_profit_usd`
    ``auctions``                        count  rows of the ``auctions`` role; and their
                                               ``auction_debt_usd``, ``auction_proceeds_usd``
    ``time_to_liquidate_s``             s      first sample with HF < 1 to the first with none
                                               (:func:`time_to_liquidate_s`); NaN when cut off
    ``liquidation_cut_off``             0/1    1 when the run ends with a backlog: liquidating was
                                               cut off by the end, so it has no time
    ``oracle_rounds``                   count  rows of the ``oracle_rounds`` role, all oracles
    ``oracle_lag_max_s``                s      max ``lag_ms`` / 1000 (observation to answer on chain)
    ``oracle_lag_mean_s``               s      mean of the same
    ``min_price_usd.venue.<venue>``     USD    lowest venue mid of ``prices``
    ``min_price_usd.feed.<asset>``      USD    lowest true (feed) price
    ``min_price_usd.protocol.<name>``   USD    lowest on-chain price (e.g. an oracle's answer)
    ==================================  =====  ===============================================

    The end-of-run figures come from the engine's ``loss_at_end`` table (one row per protocol
    reporting positions); without it ``total_loss_usd`` is the debt written off.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        A run's tables (``Results.tables``), loaded or fresh.
    schema : mapping
        The run's table schema with roles (``Results.schema``).

    Returns
    -------
    dict
        Metrics in the order of the table above; empty when none of the tables is present.

    Examples
    --------
    >>> crisis_summary({"blocks": pd.DataFrame({"block": [1]})}, {})
    {}
    >>> liq = pd.DataFrame({"block": [3], "pool": ["p"], "user": ["u"], "liquidator": ["k/0"],
    ...                     "debt_repaid_usd": [1000.0], "collateral_seized_usd": [1050.0], "deficit_usd": [20.0]})
    >>> schema = {"liq": {"role": "liquidations", "role_columns": {"block": "block", "protocol": "pool",
    ...     "account": "user", "liquidator": "liquidator", "debt_repaid_usd": "debt_repaid_usd",
    ...     "collateral_seized_usd": "collateral_seized_usd", "written_off_usd": "deficit_usd"}}}
    >>> crisis_summary({"liq": liq}, schema)
    {'liquidations': 1, 'liquidated_usd': 1000.0, 'written_off_usd': 20.0, 'total_loss_usd': 20.0}
    """
    return {**_lending(tables, schema), **_oracles(tables, schema), **_min_prices(tables)}


#: A warning when the total loss at the collateral's venue prices exceeds the one at the oracle's
#: prices by more than this share of it (a stale or manipulated oracle hides the loss).
VALUATION_GAP = 0.10


#: How a warning names each cause of the backlog.
BACKLOG_WORDS = {"no_collateral": "with no collateral left", "refused": "the protocol refuses to liquidate",
                 "dust": "dust", "gas": "not worth the gas", "depth": "no depth to sell into",
                 "profitable": "profitable, left for lack of capital or time"}


def run_warnings(summary: Mapping, notes: Mapping[str, str] = {}) -> list[str]:
    """What a reader of a run's summary must not miss, one sentence each: a total loss much larger
    at the venue's prices than at the oracle's (:data:`VALUATION_GAP`), a liquidatable backlog at
    the end, and the agents' own notes (``notes``: e.g. a keeper that ran out of capital while
    profitable liquidations existed).

    >>> run_warnings({"liquidation_backlog_at_end": 3, "liquidation_backlog_usd_at_end": 1.5e6})
    ['the run ends with 3 accounts ($1,500,000 of debt) still liquidatable (HF < 1): liquidating was cut off, so time_to_liquidate_s has no value']
    """
    out = []
    at_oracle, at_venue = summary.get("total_loss_usd", 0.0), summary.get("total_loss_venue_usd", 0.0)
    if at_venue > (1 + VALUATION_GAP) * at_oracle:
        out.append(f"with collateral valued at its venue's price the total loss is ${at_venue:,.0f}, against "
                   f"${at_oracle:,.0f} at the oracle's: the oracle is behind or off the market "
                   "(total_loss_venue_usd; loss_at_end.valued_at)")
    backlog = summary.get("liquidation_backlog_at_end", 0)
    if backlog:
        debt = summary.get("liquidation_backlog_usd_at_end", float("nan"))
        why = [f"{summary[f'backlog_{c}']:,} {BACKLOG_WORDS[c]}" for c in BACKLOG_CAUSES if summary.get(f"backlog_{c}")]
        out.append(f"the run ends with {backlog:,} accounts (${debt:,.0f} of debt) still liquidatable (HF < 1)"
                   + (f" ({'; '.join(why)})" if why else "")
                   + ": liquidating was cut off, so time_to_liquidate_s has no value")
    out += [f"{who}: {text}" for who, text in sorted(notes.items())]
    return out
