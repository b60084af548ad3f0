"""Two runs, or two sweeps, side by side (``defisim compare A B``).

A directory with ``meta.json`` is a run (:meth:`defisim.results.results.Results.save`); one with
``sweep.json`` is a sweep (:func:`defisim.sweep.run_sweep`). Two runs compare their summaries
key by key; two sweeps compare their risk metrics point by point where they have points with
the same swept values, else over all their runs pooled.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from defisim.sweep.plan import PARAM_PREFIX
from defisim.sweep.report import RANKING_COLUMNS

__all__ = ["compare", "compare_summaries", "compare_metrics", "kind_of"]

#: Metrics compared between sweeps.
COMPARED = tuple(c for c in RANKING_COLUMNS if c not in ("runs", "failed", "pareto")) + ("total_loss_var95_usd", "liquidated_var95_usd")


def kind_of(directory: str | Path) -> str:
    """``"run"`` or ``"sweep"`` (raises ``FileNotFoundError`` for neither)."""
    d = Path(directory)
    if (d / "sweep.json").is_file():
        return "sweep"
    if (d / "meta.json").is_file():
        return "run"
    raise FileNotFoundError(f"{d}: neither a run (meta.json) nor a sweep (sweep.json)")


def _rel(a: float, b: float) -> float:
    return (b - a) / abs(a) if a and math.isfinite(a) and math.isfinite(b) else float("nan")


def compare_summaries(a: dict, b: dict) -> pd.DataFrame:
    """Two run summaries key by key: ``metric, a, b, diff`` (b − a), ``rel_change`` ((b − a) / |a|);
    keys of ``a`` first, then those only in ``b``; a key one side lacks is NaN there.

    >>> compare_summaries({"x": 2.0, "n": 1}, {"x": 3.0, "m": 5}).to_dict("records")[0]
    {'metric': 'x', 'a': 2.0, 'b': 3.0, 'diff': 1.0, 'rel_change': 0.5}
    """
    rows = []
    for key in dict.fromkeys([*a, *b]):
        va, vb = a.get(key, float("nan")), b.get(key, float("nan"))
        if not all(isinstance(v, (int, float)) for v in (va, vb)):
            continue
        va, vb = float(va), float(vb)
        rows.append({"metric": key, "a": va, "b": vb, "diff": vb - va, "rel_change": _rel(va, vb)})
    return pd.DataFrame(rows, columns=["metric", "a", "b", "diff", "rel_change"])


def compare_metrics(a: pd.DataFrame, b: pd.DataFrame, metrics: tuple[str, ...] = COMPARED) -> pd.DataFrame:
    """Two sweeps' per-point metrics: one row per (common point, metric) with the swept values,
    ``metric, a, b, diff, rel_change``. Points are matched on their ``param.<path>`` values;
    with no common point, each sweep's runs must be pooled first (see :func:`compare`).

    >>> a = pd.DataFrame({"param.x": [1, 2], "total_loss_mean_usd": [10.0, 20.0]})
    >>> b = pd.DataFrame({"param.x": [2, 3], "total_loss_mean_usd": [30.0, 0.0]})
    >>> compare_metrics(a, b, ("total_loss_mean_usd",)).to_dict("records")
    [{'param.x': 2, 'metric': 'total_loss_mean_usd', 'a': 20.0, 'b': 30.0, 'diff': 10.0, 'rel_change': 0.5}]
    """
    params = [c for c in a if c.startswith(PARAM_PREFIX)]
    joined = a.merge(b, on=params, suffixes=("\0a", "\0b")) if params else a.join(b, lsuffix="\0a", rsuffix="\0b")
    rows = []
    for r in joined.to_dict("records"):
        for m in metrics:
            if f"{m}\0a" not in joined:
                continue
            va, vb = float(r[f"{m}\0a"]), float(r[f"{m}\0b"])
            rows.append({**{p: r[p] for p in params}, "metric": m, "a": va, "b": vb, "diff": vb - va, "rel_change": _rel(va, vb)})
    return pd.DataFrame(rows, columns=[*params, "metric", "a", "b", "diff", "rel_change"])


def _pooled(runs: pd.DataFrame) -> pd.DataFrame:
    from defisim.sweep.metrics import risk_metrics

    runs = runs.drop(columns=[c for c in runs if c.startswith(PARAM_PREFIX)]).assign(point=0, point_key="all")
    return risk_metrics(runs)


def compare(a: str | Path, b: str | Path) -> pd.DataFrame:
    """Compare two runs or two sweeps stored on disk (see the module doc); returns a tidy table
    with ``metric, a, b, diff, rel_change`` (and, for sweeps, the swept values)."""
    ka, kb = kind_of(a), kind_of(b)
    if ka != kb:
        raise ValueError(f"cannot compare a {ka} ({a}) with a {kb} ({b})")
    if ka == "run":
        sa, sb = ({k: float("nan") if v is None else v for k, v in json.loads((Path(d) / "meta.json").read_text())["summary"].items()}
                  for d in (a, b))
        return compare_summaries(sa, sb)
    from defisim.sweep.api import load_sweep

    ra, rb = load_sweep(a), load_sweep(b)
    pa = sorted(c for c in ra.metrics if c.startswith(PARAM_PREFIX))
    pb = sorted(c for c in rb.metrics if c.startswith(PARAM_PREFIX))
    if pa and pa == pb and len(ra.metrics.merge(rb.metrics[pb], on=pb)):
        return compare_metrics(ra.metrics, rb.metrics)
    return compare_metrics(_pooled(ra.runs).drop(columns=["point", "point_key"]),
                           _pooled(rb.runs).drop(columns=["point", "point_key"]))
