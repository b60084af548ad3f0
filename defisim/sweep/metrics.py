"""Risk metrics across the runs of each point of a sweep: the distribution of the total loss
(debt written off plus debt left uncovered at the end), value at risk and expected shortfall of
the total loss and of liquidated volume, probability of insolvency, time to liquidate, oracle
lag, keepers' profit and gas, capital efficiency.

Everything is computed from the runs' summaries (the ``runs`` table of a sweep): no run is
re-read. Losses are positive numbers; the tail is the upper tail.

References
----------
.. [1] R. T. Rockafellar and S. Uryasev, "Conditional value-at-risk for general loss
   distributions", Journal of Banking & Finance 26 (2002) 1443–1471.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from defisim.sweep.plan import PARAM_PREFIX
from defisim.sweep.store import STATUS_OK

__all__ = ["var", "cvar", "risk_metrics", "metric_names", "efficiency_key", "LEVELS", "QUANTILES"]

#: Confidence levels of VaR and CVaR.
LEVELS = (0.95, 0.99)
#: Quantiles of the total loss reported per point (linear interpolation, as ``numpy.quantile``).
QUANTILES = (0.5, 0.9, 0.99)


def _losses(x: Iterable[float]) -> np.ndarray:
    a = np.asarray(list(x) if not isinstance(x, (np.ndarray, pd.Series)) else x, dtype=float)
    return a[~np.isnan(a)]


def var(losses: Iterable[float], alpha: float) -> float:
    """Value at risk at level ``alpha``: the smallest loss ``v`` with ``P(L ≤ v) ≥ alpha``.

    On a sample of ``n`` losses that is the ``⌈alpha · n⌉``-th smallest (the empirical
    distribution's lower ``alpha``-quantile, no interpolation). NaNs are ignored; an empty
    sample gives NaN.

    Parameters
    ----------
    losses : array_like
        Losses (positive = loss), e.g. the total loss in USD.
    alpha : float
        Confidence level in (0, 1), e.g. 0.95.

    Examples
    --------
    >>> var(range(1, 101), 0.95), var(range(1, 101), 0.99), var([5.0, 1.0, 3.0], 0.5)
    (95.0, 99.0, 3.0)
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    a = _losses(losses)
    if not a.size:
        return float("nan")
    return float(np.quantile(a, alpha, method="inverted_cdf"))  # the empirical lower quantile


def cvar(losses: Iterable[float], alpha: float) -> float:
    """Conditional value at risk (expected shortfall) at level ``alpha``.

    ``CVaR = VaR + E[(L − VaR)⁺] / (1 − alpha)`` (Rockafellar–Uryasev [1]_), on the empirical
    distribution of the sample: the mean of the worst ``(1 − alpha)`` share of outcomes,
    counting the VaR outcome for the fraction of it that falls in the tail. When
    ``alpha · n`` is an integer it is the plain mean of the ``n − alpha · n`` largest losses.
    Always ``VaR ≤ CVaR ≤ max``.

    Examples
    --------
    >>> cvar(range(1, 101), 0.95)   # mean of 96 … 100
    98.0
    >>> cvar([0.0] * 19 + [100.0], 0.95), cvar([0.0] * 19 + [100.0], 0.99)
    (100.0, 100.0)
    >>> round(cvar([1.0, 2.0, 3.0, 4.0], 0.6), 6)   # VaR 3; tail: 0.4 of mass, 0.15 at 3, 0.25 at 4
    3.625
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    a = np.sort(_losses(losses))
    if not a.size:
        return float("nan")
    # in sample terms: the VaR outcome plus the losses' excess over it, spread over the tail's
    # mass n − alpha·n (exact when nothing lies beyond the VaR outcome)
    an = alpha * a.size
    k = max(math.ceil(an - 1e-12), 1)
    v = a[k - 1]
    return float(v + (a[k:] - v).sum() / (a.size - an))


def efficiency_key(columns: Iterable[str], wanted: str | None = None) -> str | None:
    """The summary key that measures capital efficiency: ``wanted`` if given, else the first
    ``<pool>.ltv_used`` among ``columns`` (None if there is none).

    >>> efficiency_key(["total_loss_usd", "aave.ltv_used", "spark.ltv_used"])
    'aave.ltv_used'
    """
    if wanted:
        return wanted
    return next((c for c in columns if c.endswith(".ltv_used") and not c.startswith(PARAM_PREFIX)), None)


def _col(runs: pd.DataFrame, key: str | None) -> pd.Series:
    if key is None or key not in runs:
        return pd.Series(np.nan, index=runs.index, dtype=float)
    return pd.to_numeric(runs[key], errors="coerce").astype(float)


def _mean(x: pd.Series) -> float:
    x = x.dropna()
    return float(x.mean()) if len(x) else float("nan")


def _point_metrics(g: pd.DataFrame, insolvency_usd: float, eff: str | None) -> dict:
    loss, liq = _col(g, "total_loss_usd"), _col(g, "liquidated_usd")
    row: dict = {"total_loss_mean_usd": _mean(loss)}
    for q in QUANTILES:
        row[f"total_loss_p{round(q * 100):02d}_usd"] = float(np.quantile(loss.dropna(), q)) if loss.notna().any() else float("nan")
    for name, x in (("total_loss", loss), ("liquidated", liq)):
        for level in LEVELS:
            row[f"{name}_var{round(level * 100)}_usd"] = var(x, level)
            row[f"{name}_cvar{round(level * 100)}_usd"] = cvar(x, level)
    row["written_off_mean_usd"] = _mean(_col(g, "written_off_usd"))
    row["uncovered_mean_usd"] = _mean(_col(g, "uncovered_usd"))
    row["total_loss_venue_mean_usd"] = _mean(_col(g, "total_loss_venue_usd"))
    row["liquidated_mean_usd"] = _mean(liq)
    known = loss.dropna()
    row["p_insolvency"] = float((known > insolvency_usd).mean()) if len(known) else float("nan")
    ttl = _col(g, "time_to_liquidate_s")
    row["time_to_liquidate_mean_s"] = _mean(ttl)
    row["time_to_liquidate_max_s"] = float(ttl.max()) if ttl.notna().any() else float("nan")
    cut_off = _col(g, "liquidation_cut_off").dropna()
    row["liquidation_cut_off_share"] = float((cut_off > 0).mean()) if len(cut_off) else float("nan")
    row["liquidation_backlog_mean_usd"] = _mean(_col(g, "liquidation_backlog_usd_at_end"))
    lag = _col(g, "oracle_lag_max_s")
    row["oracle_lag_max_mean_s"] = _mean(lag)
    row["oracle_lag_max_s"] = float(lag.max()) if lag.notna().any() else float("nan")
    row["keeper_profit_mean_usd"] = _mean(_col(g, "keeper_profit_usd"))
    row["keeper_gas_mean_eth"] = _mean(_col(g, "keeper_gas_eth"))
    row["ltv_used_mean"] = _mean(_col(g, eff))
    pool = eff.rsplit(".", 1)[0] if eff and eff.endswith(".ltv_used") else None
    row["borrowable_mean_usd"] = _mean(_col(g, f"{pool}.borrowable_usd" if pool else None))
    return row


def risk_metrics(runs: pd.DataFrame, insolvency_usd: float = 0.0, efficiency: str | None = None) -> pd.DataFrame:
    """Risk metrics per point from a sweep's ``runs`` table (one row per run).

    Only successful runs (``status == "ok"``) enter the statistics, shares such as
    ``p_insolvency`` included (a failed run is in no denominator); ``runs`` and ``failed`` count
    them per point, so read every share next to ``failed``. Points are told apart by their key
    (``point_key``); ``point`` is the number the ``runs`` table gives them. Source keys of the run
    summary (docs/results.md): ``total_loss_usd``, ``written_off_usd``, ``uncovered_usd``,
    ``total_loss_venue_usd``, ``liquidated_usd``, ``time_to_liquidate_s``,
    ``liquidation_cut_off``, ``liquidation_backlog_usd_at_end``, ``oracle_lag_max_s``,
    ``keeper_profit_usd``, ``keeper_gas_eth``, and capital efficiency from ``<pool>.ltv_used``
    and ``<pool>.borrowable_usd`` (the pool of ``efficiency``). A metric whose key no run has is
    NaN.

    ==============================  =====  ======================================================
    column                          unit   meaning
    ==============================  =====  ======================================================
    ``point``, ``point_key``        —      the point (plan order, stable key)
    ``param.<path>``                —      its swept values
    ``runs``, ``failed``            count  successful and failed runs
    ``total_loss_mean_usd``         USD    mean total loss (written off + uncovered at the end)
    ``total_loss_p50_usd`` …        USD    quantiles 50, 90, 99 % (linear interpolation)
    ``total_loss_var95_usd`` …      USD    VaR at 95 and 99 % (:func:`var`)
    ``total_loss_cvar95_usd`` …     USD    CVaR at 95 and 99 % (:func:`cvar`); the default rank
    ``liquidated_var95_usd`` …      USD    liquidations-at-risk: VaR / CVaR of liquidated debt
    ``written_off_mean_usd``        USD    mean debt written off
    ``uncovered_mean_usd``          USD    mean debt left uncovered at the end (oracle prices)
    ``total_loss_venue_mean_usd``   USD    mean total loss with collateral at its venue's price
    ``liquidated_mean_usd``         USD    mean liquidated debt
    ``p_insolvency``                —      share of successful runs whose total loss exceeds
                                           ``insolvency_usd`` (0: any loss)
    ``time_to_liquidate_mean_s``    s      mean over runs that cleared their HF < 1 backlog; and ``_max_s``
    ``liquidation_cut_off_share``   —      share of runs ending with accounts below HF 1 (their
                                           time to liquidate is cut off by the end: not a time)
    ``liquidation_backlog_mean_usd`` USD   mean debt still liquidatable at the end
    ``oracle_lag_max_mean_s``       s      mean over runs of the largest oracle lag; and the max
    ``keeper_profit_mean_usd``      USD    mean keepers' realised profit before gas
    ``keeper_gas_mean_eth``         ETH    mean gas paid on liquidation calls
    ``ltv_used_mean``               —      mean LTV in use at the start (capital efficiency)
    ``borrowable_mean_usd``         USD    mean borrowing power of the starting collateral
    ==============================  =====  ======================================================

    Examples
    --------
    >>> runs = pd.DataFrame({"point": [0] * 4 + [1] * 4, "point_key": ["a"] * 4 + ["b"] * 4,
    ...                      "status": ["ok"] * 8, "total_loss_usd": [0, 0, 0, 100.0, 0, 0, 0, 0]})
    >>> m = risk_metrics(runs)
    >>> m[["point", "runs", "total_loss_mean_usd", "total_loss_cvar95_usd", "p_insolvency"]].to_dict("records")[0]
    {'point': 0, 'runs': 4, 'total_loss_mean_usd': 25.0, 'total_loss_cvar95_usd': 100.0, 'p_insolvency': 0.25}
    """
    params = [c for c in runs.columns if c.startswith(PARAM_PREFIX)]
    eff = efficiency_key(runs.columns, efficiency)
    rows = []
    for key, g in runs.groupby("point_key", sort=True):
        ok = g[g["status"] == STATUS_OK]
        row = {"point": int(g["point"].iloc[0]), "point_key": key, **{p: g[p].iloc[0] for p in params},
               "runs": int(len(ok)), "failed": int(len(g) - len(ok))}
        row.update(_point_metrics(ok, insolvency_usd, eff))
        rows.append(row)
    if not rows:
        return pd.DataFrame(rows)
    return pd.DataFrame(rows).sort_values(["point", "point_key"], kind="stable").reset_index(drop=True)


def metric_names() -> tuple[str, ...]:
    """Every column of :func:`risk_metrics` other than the ``param.<path>`` ones, known before
    any run (a ``rank_by`` is checked against them).

    >>> "total_loss_cvar95_usd" in metric_names() and "p_insolvency" in metric_names()
    True
    """
    return ("point", "point_key", "runs", "failed", *_point_metrics(pd.DataFrame(), 0.0, None))
