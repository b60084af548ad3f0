"""The comparison at the end of a sweep: the points ranked, a Markdown table for a governance
post, and figures (a heatmap over two swept parameters, the frontier of total-loss CVaR against
capital efficiency, the distribution of total loss and liquidated debt per point).

Figures use matplotlib's object API on the Agg canvas (no ``pyplot`` state, nothing on import),
like :mod:`defisim.results.plots`.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from defisim.sweep.plan import PARAM_PREFIX

__all__ = ["rank_points", "pareto_front", "ranking_markdown", "short_names", "heatmap_figure", "frontier_figure",
           "distributions_figure", "RANKING_COLUMNS"]

#: Metric columns shown in the ranking, after the rank, the point and its parameters.
RANKING_COLUMNS = ("runs", "failed", "total_loss_mean_usd", "total_loss_cvar95_usd", "total_loss_cvar99_usd",
                   "written_off_mean_usd", "uncovered_mean_usd",
                   "p_insolvency", "liquidated_cvar95_usd", "time_to_liquidate_mean_s", "liquidation_cut_off_share",
                   "oracle_lag_max_mean_s",
                   "keeper_profit_mean_usd", "ltv_used_mean", "borrowable_mean_usd", "pareto")


def pareto_front(risk: Sequence[float], efficiency: Sequence[float]) -> np.ndarray:
    """Points no other point beats: none has lower-or-equal risk and higher-or-equal efficiency
    with one of the two strictly better. NaN in either is never on the front.

    >>> pareto_front([1.0, 2.0, 2.0, 0.5], [0.5, 0.7, 0.6, 0.4]).tolist()
    [True, True, False, True]
    """
    r, e = np.asarray(risk, dtype=float), np.asarray(efficiency, dtype=float)
    ok = ~(np.isnan(r) | np.isnan(e))
    front = np.zeros(r.size, dtype=bool)
    for i in np.flatnonzero(ok):
        beaten = ok & (r <= r[i]) & (e >= e[i]) & ((r < r[i]) | (e > e[i]))
        front[i] = not beaten.any()
    return front


def rank_points(metrics: pd.DataFrame, rank_by: str = "total_loss_cvar95_usd") -> pd.DataFrame:
    """The points ranked: lowest ``rank_by`` first, ties broken by higher capital efficiency
    (``ltv_used_mean``), then by point; NaN ranks last. Adds ``rank`` (1 = best) and ``pareto``
    (on the frontier of total-loss CVaR 95 % against ``ltv_used_mean``).

    Examples
    --------
    >>> m = pd.DataFrame({"point": [0, 1, 2], "total_loss_cvar95_usd": [5.0, 0.0, 0.0], "ltv_used_mean": [0.7, 0.5, 0.6]})
    >>> rank_points(m)[["rank", "point", "pareto"]].to_dict("list")
    {'rank': [1, 2, 3], 'point': [2, 1, 0], 'pareto': [True, False, True]}
    """
    if rank_by not in metrics:
        raise ValueError(f"rank_by: no metric {rank_by!r} (metrics: {', '.join(c for c in metrics if not c.startswith(PARAM_PREFIX))})")
    m = metrics.copy()
    eff = m["ltv_used_mean"] if "ltv_used_mean" in m else pd.Series(np.nan, index=m.index)
    m["pareto"] = pareto_front(m.get("total_loss_cvar95_usd", pd.Series(np.nan, index=m.index)), eff)
    key = pd.DataFrame({"r": m[rank_by].astype(float), "e": -eff.astype(float), "p": m["point"]})
    order = key.sort_values(["r", "e", "p"], na_position="last", kind="stable").index
    m = m.loc[order].reset_index(drop=True)
    m.insert(0, "rank", np.arange(1, len(m) + 1))
    return m


def short_names(columns: Sequence[str]) -> dict[str, str]:
    """Names for printing: each ``param.<path>`` column as the shortest dotted suffix of its path
    that no other swept path ends with; other columns unchanged.

    >>> short_names(["rank", "param.protocols.aave.reserves.0.ltv", "param.protocols.spark.reserves.0.ltv", "param.blocks"])
    {'rank': 'rank', 'param.protocols.aave.reserves.0.ltv': 'aave.reserves.0.ltv', 'param.protocols.spark.reserves.0.ltv': 'spark.reserves.0.ltv', 'param.blocks': 'blocks'}
    """
    paths = [c.removeprefix(PARAM_PREFIX).split(".") for c in columns if c.startswith(PARAM_PREFIX)]
    out = {}
    for c in columns:
        if not c.startswith(PARAM_PREFIX):
            out[c] = c
            continue
        parts = c.removeprefix(PARAM_PREFIX).split(".")
        for k in range(1, len(parts) + 1):
            if sum(p[-k:] == parts[-k:] for p in paths) == 1:
                break
        out[c] = ".".join(parts[-k:])
    return out


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else ""
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "—"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return str(v)


def ranking_markdown(ranking: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """The ranking as a Markdown table (numbers rounded for reading; ``—`` for NaN).

    >>> print(ranking_markdown(pd.DataFrame({"rank": [1], "param.a": [0.8], "total_loss_mean_usd": [12345.6]})))
    | rank | a | total_loss_mean_usd |
    |---:|---:|---:|
    | 1 | 0.8 | 12,346 |
    """
    cols = list(columns) if columns is not None else list(ranking.columns)
    names = short_names(cols)
    head = [names[c] for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in cols) + "|"]
    for _, row in ranking[cols].iterrows():
        lines.append("| " + " | ".join(_fmt(row[c]) for c in cols) + " |")
    return "\n".join(lines)


def _figure(width_px: int, height_px: int, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def _label(v) -> str:
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)


def heatmap_figure(metrics: pd.DataFrame, axes: Sequence[str], path: str | Path, value: str = "total_loss_cvar95_usd",
                   title: str = "") -> Path:
    """A heatmap of ``value`` over one or two swept paths (``axes``, without the ``param.``
    prefix); points that share a cell (other swept paths) are averaged."""
    cols = [PARAM_PREFIX + a for a in axes]
    missing = [a for a, c in zip(axes, cols) if c not in metrics]
    if missing or not 1 <= len(axes) <= 2:
        raise ValueError(f"heatmap axes must be one or two swept paths, got {list(axes)}")
    rows_col = cols[1] if len(cols) == 2 else None
    table = metrics.groupby([cols[0]] + ([rows_col] if rows_col else []))[value].mean()
    grid = table.unstack(cols[0]) if rows_col else table.to_frame().T
    fig = _figure(160 + 90 * grid.shape[1], 160 + 60 * grid.shape[0])
    ax = fig.add_subplot()
    data = grid.to_numpy(dtype=float)
    im = ax.imshow(data, cmap="Reds", aspect="auto", origin="lower")
    ax.set_xticks(range(grid.shape[1]), [_label(v) for v in grid.columns], fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [_label(v) for v in grid.index] if rows_col else [""], fontsize=8)
    ax.set_xlabel(axes[0], fontsize=8)
    if rows_col:
        ax.set_ylabel(axes[1], fontsize=8)
    finite = data[np.isfinite(data)]
    hi = finite.max() if finite.size else 0.0
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, _fmt(float(v)), ha="center", va="center", fontsize=7, color="white" if hi and v > hi / 2 else "black")
    fig.colorbar(im, ax=ax, label=value)
    ax.set_title(title or value, fontsize=9)
    return _save(fig, path)


def frontier_figure(ranking: pd.DataFrame, path: str | Path, x: str = "ltv_used_mean", y: str = "total_loss_cvar95_usd",
                    title: str = "") -> Path:
    """Capital efficiency (``x``) against tail risk (``y``), one dot per point labelled with its
    number; the Pareto front (``pareto`` column of :func:`rank_points`) joined by a line."""
    fig = _figure(720, 480)
    ax = fig.add_subplot()
    ax.scatter(ranking[x], ranking[y], s=24, color="tab:blue", zorder=2)
    for _, row in ranking.iterrows():
        ax.annotate(str(int(row["point"])), (row[x], row[y]), xytext=(3, 3), textcoords="offset points", fontsize=7)
    if "pareto" in ranking:
        front = ranking[ranking["pareto"]].sort_values(x)
        ax.plot(front[x], front[y], color="tab:red", lw=1, zorder=1, label="Pareto front")
        ax.legend(fontsize=8)
    ax.set_xlabel(f"{x} (capital efficiency, higher is better)", fontsize=8)
    ax.set_ylabel(f"{y} (lower is better)", fontsize=8)
    ax.set_title(title or "risk against capital efficiency per point", fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def distributions_figure(runs: pd.DataFrame, path: str | Path, columns: Sequence[str] = ("total_loss_usd", "liquidated_usd"),
                         title: str = "") -> Path:
    """Per point, the distribution over its runs of each summary key in ``columns``: box plots
    (median, quartiles, 1.5 IQR whiskers) with every run as a dot."""
    cols = [c for c in columns if c in runs]
    ok = runs[runs["status"] == "ok"]
    points = sorted(ok["point"].unique().tolist())
    fig = _figure(max(480, 60 + 36 * len(points)), 60 + 220 * max(len(cols), 1))
    for k, col in enumerate(cols or [None]):
        ax = fig.add_subplot(max(len(cols), 1), 1, k + 1)
        if col is None:
            ax.text(0.5, 0.5, "no runs with these metrics", ha="center", transform=ax.transAxes)
            continue
        data = [ok.loc[ok["point"] == p, col].astype(float).dropna().to_numpy() for p in points]
        ax.boxplot(data, positions=range(len(points)), widths=0.6, showfliers=False)
        for i, d in enumerate(data):
            jitter = (np.arange(d.size) % 7 - 3) * 0.04
            ax.scatter(i + jitter, d, s=6, alpha=0.5, color="tab:blue")
        ax.set_xticks(range(len(points)), [str(p) for p in points], fontsize=7)
        ax.set_ylabel(col, fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.axes[-1].set_xlabel("point", fontsize=8)
    fig.suptitle(title or "distribution over runs, per point", fontsize=9)
    return _save(fig, path)
