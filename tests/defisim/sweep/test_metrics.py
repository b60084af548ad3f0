"""VaR and CVaR against their definitions; risk metrics per point, ranking and the Pareto front."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from defisim.sweep.metrics import cvar, risk_metrics, var
from defisim.sweep.report import pareto_front, rank_points


def var_by_definition(sample, alpha):
    """min { x : P(L <= x) >= alpha } over the empirical distribution."""
    xs = sorted(sample)
    n = len(xs)
    return next(x for x in xs if sum(v <= x for v in xs) / n >= alpha - 1e-12)


def cvar_by_definition(sample, alpha):
    """Rockafellar–Uryasev: min over t of t + E[(L - t)+] / (1 - alpha); the minimum of this
    piecewise-linear convex function is reached at a sample point."""
    xs = np.asarray(sample, dtype=float)
    return min(t + np.mean(np.maximum(xs - t, 0.0)) / (1 - alpha) for t in xs)


HAND = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1_000.0, 2_000.0, 5_000.0, 40_000.0,
        100_000.0]  # bad debt of 20 runs, USD


def test_var_cvar_on_a_hand_made_sample():
    # 20 runs: the 95% VaR is the 19th smallest (40,000); the 5% tail is the one worst run
    assert var(HAND, 0.95) == 40_000.0
    assert cvar(HAND, 0.95) == 100_000.0
    # the 99% tail (0.2 of a run) lies inside the worst run
    assert var(HAND, 0.99) == 100_000.0 and cvar(HAND, 0.99) == 100_000.0
    # 80%: VaR is the 16th smallest (1,000), the tail the 4 worst runs
    assert var(HAND, 0.80) == 1_000.0
    assert cvar(HAND, 0.80) == pytest.approx((2_000 + 5_000 + 40_000 + 100_000) / 4)
    # 90%: the two worst runs
    assert cvar(HAND, 0.90) == pytest.approx((40_000 + 100_000) / 2)
    # 86.25%: the tail holds 2.75 runs: the two worst and 0.75 of the 18th smallest (the VaR, 5,000)
    assert var(HAND, 0.8625) == 5_000.0
    assert cvar(HAND, 0.8625) == pytest.approx((0.75 * 5_000 + 40_000 + 100_000) / 2.75)
    assert math.isnan(var([], 0.95)) and math.isnan(cvar([float("nan")], 0.95))
    with pytest.raises(ValueError):
        var(HAND, 1.0)


@given(st.lists(st.floats(0, 1e9, allow_nan=False), min_size=1, max_size=60),
       st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.975, 0.99]))
def test_var_cvar_match_their_definitions(sample, alpha):
    assert var(sample, alpha) == var_by_definition(sample, alpha)
    result, expected = cvar(sample, alpha), cvar_by_definition(sample, alpha)
    assert result == pytest.approx(expected, rel=1e-9, abs=1e-6)
    assert var(sample, alpha) <= result + 1e-6 * max(1.0, result) and result <= max(sample) * (1 + 1e-12) + 1e-9


def test_risk_metrics_per_point():
    runs = pd.DataFrame({
        "point": [0] * 20 + [1] * 20 + [1],
        "point_key": ["a"] * 20 + ["b"] * 21,
        "param.x": [0.8] * 20 + [0.9] * 21,
        "status": ["ok"] * 40 + ["error"],
        "total_loss_usd": HAND + [0.0] * 20 + [np.nan],
        "liquidated_usd": [float(i) for i in range(40)] + [np.nan],
        "oracle_lag_max_s": [12.0] * 39 + [60.0, np.nan],
        "aave.ltv_used": [0.5] * 20 + [0.6] * 20 + [np.nan],
        "aave.borrowable_usd": [1e6] * 40 + [np.nan],
    })
    m = risk_metrics(runs, insolvency_usd=1_500.0)
    result = m.set_index("point")
    assert result.loc[0, "runs"] == 20 and result.loc[1, "runs"] == 20 and result.loc[1, "failed"] == 1
    assert result.loc[0, "total_loss_mean_usd"] == pytest.approx(sum(HAND) / 20)
    assert result.loc[0, "total_loss_var95_usd"] == 40_000.0 and result.loc[0, "total_loss_cvar95_usd"] == 100_000.0
    assert result.loc[0, "total_loss_p50_usd"] == 0.0
    assert result.loc[0, "p_insolvency"] == 4 / 20  # above 1,500 USD
    assert result.loc[1, "total_loss_cvar99_usd"] == 0.0 and result.loc[1, "p_insolvency"] == 0.0
    assert result.loc[1, "liquidated_var95_usd"] == 38.0 and result.loc[1, "liquidated_cvar95_usd"] == 39.0
    assert result.loc[1, "oracle_lag_max_s"] == 60.0
    assert result.loc[1, "ltv_used_mean"] == pytest.approx(0.6) and result.loc[0, "borrowable_mean_usd"] == 1e6
    assert math.isnan(result.loc[0, "keeper_profit_mean_usd"])  # no run has the key
    assert result.loc[0, "param.x"] == 0.8


def test_ranking_and_pareto_front():
    m = pd.DataFrame({"point": [0, 1, 2, 3], "total_loss_cvar95_usd": [10.0, 0.0, np.nan, 10.0],
                      "ltv_used_mean": [0.7, 0.5, 0.9, 0.6]})
    ranking = rank_points(m)
    assert ranking["point"].tolist() == [1, 0, 3, 2]  # NaN last; a tie broken by efficiency
    assert ranking["rank"].tolist() == [1, 2, 3, 4]
    assert ranking.set_index("point")["pareto"].to_dict() == {0: True, 1: True, 2: False, 3: False}
    assert pareto_front([1.0, 1.0], [0.5, 0.5]).tolist() == [True, True]  # equal points beat nobody
    with pytest.raises(ValueError, match="no metric 'nope'"):
        rank_points(m, "nope")


def test_insolvency_counts_the_total_loss_over_successful_runs_only():
    nan = float("nan")
    runs = pd.DataFrame({"point": [0] * 4, "point_key": ["a"] * 4, "status": ["ok", "ok", "ok", "error"],
                         "written_off_usd": [0.0, 0.0, 10.0, nan], "uncovered_usd": [0.0, 9.0, 0.0, nan],
                         "total_loss_usd": [0.0, 9.0, 10.0, nan], "liquidation_cut_off": [0, 1, 0, nan],
                         "time_to_liquidate_s": [60.0, nan, 120.0, nan]})
    m = risk_metrics(runs).iloc[0]
    # run 2: nothing written off, but 9 USD of debt no collateral covers; the failed run is in no denominator
    assert m["runs"] == 3 and m["failed"] == 1
    assert m["p_insolvency"] == pytest.approx(2 / 3) and m["uncovered_mean_usd"] == pytest.approx(3.0)
    assert m["written_off_mean_usd"] == pytest.approx(10 / 3) and m["total_loss_mean_usd"] == pytest.approx(19 / 3)
    assert m["liquidation_cut_off_share"] == pytest.approx(1 / 3)
    assert m["time_to_liquidate_mean_s"] == pytest.approx(90.0)  # the cut-off run has no time
    assert risk_metrics(runs, insolvency_usd=9.5).iloc[0]["p_insolvency"] == pytest.approx(1 / 3)
