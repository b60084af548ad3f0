"""Headline metrics of a crisis, from a run's tables alone (DESIGN §8).

:func:`crisis_summary` reads only the DataFrames of a run, so it works the same on
``Simulation(...).run().tables`` and on ``Results.load(directory).tables``. Each group of metrics
is computed when the tables it needs are present and left out otherwise: a run without lending,
oracles or markets gives an empty dict, never an error.
"""
from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

__all__ = ["crisis_summary", "keeper_profit_usd", "time_to_liquidate_s", "below_1_by_block"]

#: ``txs.method`` of a liquidation attempt (Aave v3 ``liquidationCall``, mechanics §1.3).
LIQUIDATION_METHOD = "liquidation_call"


def _f(x) -> float:
    x = float(x)
    return x if math.isfinite(x) else float("nan")


def keeper_profit_usd(liquidations: pd.DataFrame, venue_trades: pd.DataFrame) -> float:
    """Realised profit of the liquidators, in USD, before gas.

    Σ over every liquidator (each distinct ``liquidations.liquidator``) of what its trades on the
    off-chain venues brought in (``usd`` of its ``sell`` fills minus ``usd`` of its ``buy`` fills)
    minus the debt it repaid (``debt_repaid_usd``, at the oracle price of the call). This is
    mechanics §12.3's ``proceeds − repay`` with the proceeds actually realised, price impact and
    the protocol fee included; the gas is not subtracted (see ``keeper_gas_eth``).

    Collateral a liquidator has not sold by the end of the run counts as zero, so a run that ends
    mid-crisis understates the profit; every venue trade of a liquidator counts, whatever the
    reason for it.

    Parameters
    ----------
    liquidations : DataFrame
        The ``liquidations`` table (``liquidator``, ``debt_repaid_usd``).
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
    keepers = set(liquidations["liquidator"].tolist())
    mine = venue_trades[venue_trades["trader"].isin(keepers)]
    proceeds = float(mine.loc[mine["side"] == "sell", "usd"].sum()) - float(mine.loc[mine["side"] == "buy", "usd"].sum())
    return _f(proceeds - float(liquidations["debt_repaid_usd"].sum()))


def _lending(tables: Mapping[str, pd.DataFrame]) -> dict:
    liq = tables.get("liquidations")
    if liq is None:
        return {}
    out = {
        "liquidations": int(len(liq)),
        "liquidated_usd": _f(liq["debt_repaid_usd"].sum()),
        "bad_debt_usd": _f(liq["deficit_usd"].sum()),
    }
    txs = tables.get("txs")
    if txs is not None:
        calls = txs[txs["method"] == LIQUIDATION_METHOD]
        out["reverted_liquidations"] = int((calls["status"] == "reverted").sum())
        out["keeper_gas_eth"] = _f(calls["fee_paid_gwei"].sum() / 1e9)
    trades = tables.get("venue_trades")
    if trades is not None:
        out["keeper_profit_usd"] = keeper_profit_usd(liq, trades)
    health, blocks = tables.get("health_factors"), tables.get("blocks")
    if health is not None and blocks is not None:
        out["time_to_liquidate_s"] = time_to_liquidate_s(health, blocks)
        below = below_1_by_block(health)
        out["liquidation_backlog_at_end"] = int(below.iloc[-1]) if len(below) else 0
        debt = below_1_by_block(health, "debt_below_1_usd") if "debt_below_1_usd" in health else below.iloc[:0]
        out["liquidation_backlog_usd_at_end"] = _f(debt.iloc[-1]) if len(debt) else 0.0
    return out


def below_1_by_block(health_factors: pd.DataFrame, column: str = "below_1") -> pd.Series:
    """``column`` of the ``health_factors`` table (default ``below_1``) summed over the pools at
    every block where one of them wrote a row, each pool counting its last row at or before that
    block (pools write rows at different blocks; a pool's value holds until its next row).

    A table without a ``pool`` column is one pool. Before a pool's first row it counts 0.

    Examples
    --------
    >>> hf = pd.DataFrame({"block": [10, 15, 20], "pool": ["a", "b", "a"], "below_1": [5, 0, 3]})
    >>> below_1_by_block(hf).to_dict()
    {10: 5, 15: 5, 20: 3}
    """
    pools = health_factors["pool"].astype(str) if "pool" in health_factors else pd.Series("", index=health_factors.index)
    last = health_factors.assign(_pool=pools).groupby(["block", "_pool"], sort=True)[column].last()
    wide = last.unstack("_pool").sort_index().ffill().fillna(0)
    total = wide.sum(axis=1)
    return total.astype(health_factors[column].dtype) if len(total) else total


def time_to_liquidate_s(health_factors: pd.DataFrame, blocks: pd.DataFrame) -> float:
    """Seconds from the first ``health_factors`` sample with an account below HF 1 to the first
    later sample with none, all pools together (:func:`below_1_by_block`: each pool's last row
    holds until its next).

    The resolution is the table's sampling (``health_every_blocks``). A backlog never cleared
    counts until the last block of the run (a lower bound: the summary's
    ``liquidation_backlog_at_end`` is then above 0); a run in which no account went below HF 1
    gives NaN.

    Parameters
    ----------
    health_factors : DataFrame
        The ``health_factors`` table (``block``, ``pool``, ``below_1``).
    blocks : DataFrame
        The ``blocks`` table (``block``, ``time_ms``).

    Examples
    --------
    >>> hf = pd.DataFrame({"block": [1, 10, 20, 30], "below_1": [0, 4, 1, 0]})
    >>> time_to_liquidate_s(hf, pd.DataFrame({"block": range(1, 41), "time_ms": range(12_000, 492_000, 12_000)}))
    240.0
    """
    below = below_1_by_block(health_factors)
    if not (below > 0).any():
        return float("nan")
    times = dict(zip(blocks["block"].tolist(), blocks["time_ms"].tolist()))
    first = int(below.index[(below > 0).to_numpy()][0])
    cleared = below[(below.index > first) & (below == 0).to_numpy()]
    end = int(cleared.index[0]) if len(cleared) else int(blocks["block"].iloc[-1])
    return _f((times[end] - times[first]) / 1000.0)


def _oracles(tables: Mapping[str, pd.DataFrame]) -> dict:
    upd = tables.get("oracle_updates")
    if upd is None:
        return {}
    lag_s = upd["lag_ms"] / 1000.0
    return {
        "oracle_updates": int(len(upd)),
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


def crisis_summary(tables: Mapping[str, pd.DataFrame]) -> dict:
    """Headline metrics of a crisis from a run's tables: a flat dict of Python ints and floats.

    Keys carry their unit; a group is present only when its tables are (``liquidations``,
    ``txs`` and ``venue_trades`` for lending, ``oracle_updates`` for oracles, ``prices`` for
    prices). A mean or maximum over nothing is NaN.

    ========================================  =====  ==========================================
    key                                       unit   meaning
    ========================================  =====  ==========================================
    ``liquidations``                          count  rows of ``liquidations`` (successful calls)
    ``liquidated_usd``                        USD    Σ ``debt_repaid_usd``
    ``bad_debt_usd``                          USD    Σ ``deficit_usd``: debt written off as deficit
    ``reverted_liquidations``                 count  ``txs`` rows, method ``liquidation_call``, status ``reverted``
    ``keeper_gas_eth``                        ETH    Σ ``fee_paid_gwei`` / 1e9 of every ``liquidation_call`` (won or reverted)
    ``keeper_profit_usd``                     USD    realised, before gas: see :func:`keeper_profit_usd`
    ``time_to_liquidate_s``                   s      first sample with HF < 1 to the first with none: see :func:`time_to_liquidate_s`
    ``liquidation_backlog_at_end``            count  accounts below HF 1 in the pools' last ``health_factors`` rows (0: cleared)
    ``liquidation_backlog_usd_at_end``        USD    their debt (``debt_below_1_usd``)
    ``oracle_updates``                        count  rows of ``oracle_updates``, all oracles
    ``oracle_lag_max_s``                      s      max ``lag_ms`` / 1000 (observation to answer on chain)
    ``oracle_lag_mean_s``                     s      mean of the same
    ``min_price_usd.venue.<venue>``           USD    lowest venue mid of ``prices``
    ``min_price_usd.feed.<asset>``            USD    lowest true (feed) price
    ``min_price_usd.protocol.<name>``         USD    lowest on-chain price (e.g. ``eth_usd.answer``)
    ========================================  =====  ==========================================

    Parameters
    ----------
    tables : mapping of str to DataFrame
        A run's tables (``Results.tables``), loaded or fresh.

    Returns
    -------
    dict
        Metrics in the order of the table above; empty when none of the tables is present.

    Examples
    --------
    >>> crisis_summary({"blocks": pd.DataFrame({"block": [1]})})
    {}
    >>> liq = pd.DataFrame({"liquidator": ["k/0"], "debt_repaid_usd": [1000.0], "deficit_usd": [0.0]})
    >>> crisis_summary({"liquidations": liq})
    {'liquidations': 1, 'liquidated_usd': 1000.0, 'bad_debt_usd': 0.0}
    """
    return {**_lending(tables), **_oracles(tables), **_min_prices(tables)}
