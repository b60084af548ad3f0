"""Exogenous price feeds: laws of the random paths, determinism, scripts, CSV replay."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from defisim.markets.feeds import (
    MS_PER_YEAR,
    ConstantFeed,
    CsvFeed,
    GbmFeed,
    JumpDiffusionFeed,
    ScriptedFeed,
    build_feed,
    realized_volatility,
    trailing_realized_volatility,
)
from defisim.markets.price_csv import FeedFileError, read_price_csv
from defisim.markets.spec import CsvFeedSpec, FeedSpec, ScriptedFeedSpec
from defisim.base.rng import RngTree
from defisim.base.units import parse_duration_ms

FEED = TypeAdapter(FeedSpec)
DAY_MS = 86_400_000


def feed_from(raw: dict, seed: int = 0, name: str = "feed/ETH"):
    return build_feed(FEED.validate_python(raw), RngTree(seed).stream(name))


def assert_moments(sample: np.ndarray, mean: float, var: float, z: float = 4.5):
    """Sample mean and variance within ``z`` standard errors (estimated from the sample itself)."""
    n = sample.size
    centred = sample - sample.mean()
    s2 = centred.var(ddof=1)
    se_mean = math.sqrt(s2 / n)
    se_var = math.sqrt(max(np.mean(centred**4) - s2**2, 0.0) / n)
    assert abs(sample.mean() - mean) < z * se_mean, (sample.mean(), mean, se_mean)
    assert abs(s2 - var) < z * se_var, (s2, var, se_var)


# ---- GBM -----------------------------------------------------------------------------------


def test_gbm_log_return_moments_match_closed_form_over_seeds():
    mu, sigma = 0.5, 0.8
    raw = {"kind": "gbm", "initial_price_usd": 2000, "drift_annual": mu, "volatility_annual": sigma, "step": "1d"}
    years = 1.0
    r = np.array([math.log(feed_from(raw, s).price_at(365 * DAY_MS) / 2000.0) for s in range(2000)])
    assert_moments(r, (mu - sigma**2 / 2) * years, sigma**2 * years)
    # the σ²/2 correction is visible: E[S_T] = S_0 e^(μT), not e^((μ − σ²/2)T)
    gross = np.exp(r)
    se = gross.std(ddof=1) / math.sqrt(gross.size)
    assert abs(gross.mean() - math.exp(mu * years)) < 4.5 * se


def test_gbm_increments_along_one_path_are_iid_normal_with_the_right_moments():
    mu, sigma, step_ms = 0.0, 1.2, 1_000
    feed = GbmFeed(100.0, mu, sigma, RngTree(3).stream("feed/ETH"), step_ms=step_ms)
    logp = np.log([feed.price_at(k * step_ms) for k in range(40_001)])
    inc = np.diff(logp)
    dt = step_ms / MS_PER_YEAR
    assert_moments(inc, (mu - sigma**2 / 2) * dt, sigma**2 * dt)
    lag1 = np.corrcoef(inc[:-1], inc[1:])[0, 1]
    assert abs(lag1) < 4.5 / math.sqrt(inc.size)


def test_gbm_price_between_grid_points_is_geometric_interpolation():
    feed = GbmFeed(100.0, 0.0, 0.8, RngTree(0).stream("feed/ETH"), step_ms=1_000)
    lo, hi = feed.price_at(5_000), feed.price_at(6_000)
    assert feed.price_at(5_250) == pytest.approx(lo * (hi / lo) ** 0.25, rel=1e-12)


def test_same_stream_gives_the_same_path_whatever_the_query_order():
    raw = {"kind": "jump_diffusion", "initial_price_usd": 2000, "volatility_annual": 0.8, "jump_rate_per_year": 100.0,
           "jump_log_mean": -0.05, "jump_log_std": 0.02}
    times = [0, 999, 1_000, 4_095_000, 4_097_500, 3 * DAY_MS + 17]
    forward = feed_from(raw, seed=11)
    a = [forward.price_at(t) for t in times]
    backward = feed_from(raw, seed=11)
    b = [backward.price_at(t) for t in reversed(times)][::-1]
    assert a == b
    assert a != [feed_from(raw, seed=12).price_at(t) for t in times]


def test_different_stream_names_give_independent_paths():
    raw = {"kind": "gbm", "initial_price_usd": 100, "volatility_annual": 0.8}
    eth, btc = feed_from(raw, 5, "feed/ETH"), feed_from(raw, 5, "feed/BTC")
    inc_eth = np.diff(np.log([eth.price_at(k * 1_000) for k in range(20_001)]))
    inc_btc = np.diff(np.log([btc.price_at(k * 1_000) for k in range(20_001)]))
    assert not np.array_equal(inc_eth, inc_btc)
    assert abs(np.corrcoef(inc_eth, inc_btc)[0, 1]) < 4.5 / math.sqrt(inc_eth.size)


def test_feed_rejects_negative_time_and_missing_stream():
    with pytest.raises(ValueError, match="negative"):
        GbmFeed(1.0, 0.0, 0.1, np.random.default_rng(0)).price_at(-1)
    with pytest.raises(ValueError, match="rng"):
        build_feed(FEED.validate_python({"kind": "gbm", "initial_price_usd": 1, "volatility_annual": 0.1}))


# ---- jump diffusion ------------------------------------------------------------------------


def test_jump_diffusion_log_return_moments_match_merton():
    mu, sigma, lam, m, s = 0.1, 0.5, 50.0, -0.05, 0.03
    raw = {"kind": "jump_diffusion", "initial_price_usd": 2000, "drift_annual": mu, "volatility_annual": sigma,
           "jump_rate_per_year": lam, "jump_log_mean": m, "jump_log_std": s, "step": "1h"}
    t = 30 / 365
    r = np.array([math.log(feed_from(raw, k).price_at(30 * DAY_MS) / 2000.0) for k in range(1500)])
    kappa = math.exp(m + s * s / 2) - 1
    assert_moments(r, (mu - sigma**2 / 2 - lam * kappa + lam * m) * t, (sigma**2 + lam * (m * m + s * s)) * t)


def test_jump_diffusion_steps_are_compound_poisson():
    # two jumps per step on average: the per-step law of Σ_{i≤N} Y_i, not just its first jump, matters
    step_ms = 1_000
    dt = step_ms / MS_PER_YEAR
    lam, m, s = 2.0 / dt, -0.01, 0.02
    feed = JumpDiffusionFeed(100.0, 0.0, 0.0, lam, m, s, RngTree(6).stream("feed/ETH"), step_ms=step_ms)
    inc = np.diff(np.log([feed.price_at(k * step_ms) for k in range(30_001)]))
    kappa = math.exp(m + s * s / 2) - 1
    assert_moments(inc, (m - kappa) * lam * dt, lam * dt * (m * m + s * s))


def test_jump_counts_are_poisson():
    # no diffusion and fixed jump size: each step's log increment is (compensator drift) + N·m
    lam, m, step_ms, steps = 24 * 365.0, math.log(0.98), 300_000, 576  # one jump an hour, 2 days of 5 min
    raw = {"kind": "jump_diffusion", "initial_price_usd": 100, "volatility_annual": 0.0,
           "jump_rate_per_year": lam, "jump_log_mean": m, "jump_log_std": 0.0, "step": step_ms}
    dt = step_ms / MS_PER_YEAR
    drift = -lam * math.expm1(m) * dt
    per_step, per_path = [], []
    for seed in range(400):
        feed = feed_from(raw, seed)
        inc = np.diff(np.log([feed.price_at(k * step_ms) for k in range(steps + 1)]))
        n = (inc - drift) / m
        assert np.allclose(n, np.round(n), atol=1e-6)
        n = np.round(n).astype(int)
        per_step.append(n)
        per_path.append(n.sum())
    counts = np.array(per_path)
    mean = lam * dt * steps  # 48 jumps expected per path
    assert abs(counts.mean() - mean) < 4.5 * math.sqrt(mean / counts.size)
    assert abs(counts.var(ddof=1) - mean) < 4.5 * math.sqrt((2 * mean**2 + mean) / counts.size)  # Poisson: var = mean
    steps_n = np.concatenate(per_step)
    lam_dt = lam * dt
    for k in range(3):  # P[N = k] per step
        p = math.exp(-lam_dt) * lam_dt**k / math.factorial(k)
        assert abs(np.mean(steps_n == k) - p) < 4.5 * math.sqrt(p * (1 - p) / steps_n.size)


# ---- scripted ------------------------------------------------------------------------------


def scripted(moves, base=2000.0, **extra):
    return ScriptedFeed.from_spec(ScriptedFeedSpec(base_price_usd=base, moves=moves, **extra))


def test_scripted_ramp_reaches_exactly_minus_35_percent_at_its_end_and_holds():
    feed = scripted([{"kind": "ramp", "start": "30m", "duration": "4m", "change": -0.35},
                     {"kind": "hold", "start": "1h", "duration": "30m", "level": 0.65}])
    ms = parse_duration_ms
    assert feed.price_at(0) == 2000.0
    assert feed.price_at(ms("30m") - 1) == 2000.0
    assert feed.price_at(ms("30m")) == 2000.0
    assert feed.price_at(ms("31m")) == pytest.approx(2000.0 * (1 - 0.35 / 4), rel=1e-15)
    assert feed.price_at(ms("34m")) == pytest.approx(1300.0, rel=1e-15)
    for t in ("34m", "45m", "1h", "1h15m", "1h30m", "10h"):
        assert feed.price_at(ms(t)) == pytest.approx(1300.0, rel=1e-15), t


def test_scripted_hold_jump_and_revert():
    ms = parse_duration_ms
    feed = scripted([{"kind": "jump", "at": "10m", "change": -0.1},
                     {"kind": "hold", "start": "20m", "duration": "5m", "level": 0.5, "after": "revert"},
                     {"kind": "ramp", "start": "30m", "duration": "10m", "change": 0.2}], base=100.0)
    expected = {"0s": 100.0, "10m": 90.0, "20m": 50.0, "24m59s": 50.0, "25m": 90.0, "35m": 99.0, "40m": 108.0}
    for t, price in expected.items():
        assert feed.price_at(ms(t)) == pytest.approx(price, rel=1e-14), t
    stay = scripted([{"kind": "hold", "start": "20m", "duration": "5m", "level": 0.5}], base=100.0)
    assert stay.price_at(ms("2h")) == 50.0


def test_scripted_jump_at_a_ramp_start_comes_first():
    feed = scripted([{"kind": "ramp", "start": "10m", "duration": "10m", "change": -0.5},
                     {"kind": "jump", "at": "10m", "change": -0.2}], base=100.0)
    assert feed.price_at(parse_duration_ms("10m")) == pytest.approx(80.0)
    assert feed.price_at(parse_duration_ms("20m")) == pytest.approx(40.0)


def test_scripted_noise_multiplies_a_unit_gbm_from_the_feed_stream():
    moves = [{"kind": "ramp", "start": "1m", "duration": "1m", "change": -0.3}]
    feed = ScriptedFeed.from_spec(
        ScriptedFeedSpec(base_price_usd=100, moves=moves, noise={"volatility_annual": 0.5}), RngTree(2).stream("feed/X"))
    noise = GbmFeed(1.0, 0.0, 0.5, RngTree(2).stream("feed/X"))
    plain = scripted(moves, base=100.0)
    for t in (0, 30_000, 90_000, 600_000):
        assert feed.price_at(t) == pytest.approx(plain.price_at(t) * noise.price_at(t), rel=1e-15)


@pytest.mark.parametrize(
    "moves, message",
    [
        ([{"kind": "ramp", "start": "30m", "duration": "4m", "change": -0.3},
          {"kind": "hold", "start": "32m", "duration": "4m", "level": 0.5}], r"moves\[1\] \(hold 00:32:00.000–00:36:00.000\) overlaps moves\[0\]"),
        ([{"kind": "ramp", "start": "30m", "duration": "4m", "change": -0.3},
          {"kind": "jump", "at": "31m", "change": -0.1}], r"moves\[1\] \(jump at 00:31:00.000\) overlaps"),
        ([{"kind": "ramp", "start": "-5m", "duration": "4m", "change": -0.3}], "must not be negative"),
        ([{"kind": "ramp", "start": "5m", "duration": "-4m", "change": -0.3}], "must not be negative"),
        ([{"kind": "ramp", "start": "5m", "duration": "0s", "change": -0.3}], "greater than 0"),
        ([{"kind": "jump", "at": "5m", "change": -1.0}], "greater than -1"),
        ([{"kind": "hold", "start": "5m", "duration": "1m", "level": 0.5, "size": 2}], "Extra inputs"),
    ],
)
def test_scripted_validation_names_the_problem(moves, message):
    with pytest.raises(ValidationError, match=message):
        ScriptedFeedSpec(base_price_usd=100, moves=moves)


def test_scripted_windows_that_touch_are_fine():
    feed = scripted([{"kind": "ramp", "start": "0s", "duration": "1m", "change": -0.5},
                     {"kind": "ramp", "start": "1m", "duration": "1m", "change": 1.0}], base=100.0)
    assert feed.price_at(120_000) == pytest.approx(100.0)


def test_validation_errors_name_the_field():
    with pytest.raises(ValidationError) as err:
        FEED.validate_python({"kind": "gbm", "initial_price_usd": -1, "volatility_annual": 0.5})
    assert err.value.errors()[0]["loc"] == ("gbm", "initial_price_usd")


# ---- CSV replay ----------------------------------------------------------------------------


def write(tmp_path, text, name="path.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_replay_values(tmp_path):
    path = write(tmp_path, "# ETH, Oct 2025\nt,price,volume\n0,2000,1\n\n1m,1900,5\n90,1950.5,2\n")
    times_ms, prices_usd = read_price_csv(path)
    assert times_ms.tolist() == [0, 60_000, 90_000]
    assert prices_usd.tolist() == [2000.0, 1900.0, 1950.5]
    linear = build_feed(CsvFeedSpec(path=str(path)))
    step = build_feed(CsvFeedSpec(path=str(path), interpolation="step"))
    expected_linear = {0: 2000.0, 30_000: 1950.0, 60_000: 1900.0, 75_000: 1925.25, 90_000: 1950.5, 10**9: 1950.5}
    expected_step = {0: 2000.0, 30_000: 2000.0, 60_000: 1900.0, 75_000: 1900.0, 90_000: 1950.5, 10**9: 1950.5}
    assert {t: linear.price_at(t) for t in expected_linear} == expected_linear
    assert {t: step.price_at(t) for t in expected_step} == expected_step
    # jumping back in time still works (the cursor is only a hint)
    assert linear.price_at(30_000) == 1950.0


def test_csv_before_the_first_point_is_the_first_price(tmp_path):
    feed = CsvFeed.from_file(write(tmp_path, "t,price\n10,5\n20,6\n"))
    assert feed.price_at(0) == 5.0


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("time,value\n0,1\n", 1, "the header must name the columns 't' and 'price'"),
        ("", 1, "empty file"),
        ("t,price\n", None, "no price rows"),
        ("t,price\n0,100\n10,101\n10,102\n", 4, r"time 10 \(10000 ms\) is not after the previous time \(10000 ms, line 3\)"),
        ("t,price\n0,100\n20,101\n10,102\n", 4, "is not after the previous time"),
        ("t,price\n0,100\n10,-5\n", 3, "price -5 must be positive and finite"),
        ("t,price\n0,100\n10,nan\n", 3, "must be positive and finite"),
        ("t,price\n0,100\n10,abc\n", 3, "cannot read price 'abc'"),
        ("t,price\n0,100\nsoon,101\n", 3, "cannot read time 'soon'"),
        ("t,price\n-1,100\n", 2, "must not be negative"),
        ("t,price\n0.0001,100\n", 2, "not a whole number of milliseconds"),
        ("t,price\n0\n", 2, "expected 2 columns, got 1"),
    ],
)
def test_csv_validation_names_file_line_and_reason(tmp_path, text, line, reason):
    path = write(tmp_path, text, "bad.csv")
    where = f"{path}, line {line}: " if line is not None else f"{path}: "
    with pytest.raises(FeedFileError, match="^" + re.escape(where) + f".*{reason}"):
        read_price_csv(path)


def test_csv_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FeedFileError, match=re.escape(f"{missing}: file not found")):
        read_price_csv(missing)
    with pytest.raises(ValidationError, match=r"path\n.*nope.csv: file not found"):
        CsvFeedSpec(path=str(missing))


def test_csv_spec_resolves_relative_paths_against_the_scenario_directory(tmp_path):
    write(tmp_path, "t,price\n0,1\n", "eth.csv")
    spec = CsvFeedSpec.model_validate({"path": "eth.csv"}, context={"base_dir": tmp_path})
    assert spec.path == str(tmp_path / "eth.csv")
    assert build_feed(spec).price_at(5) == 1.0


# ---- realised volatility -------------------------------------------------------------------


def test_realized_volatility_of_a_gbm_path_estimates_sigma():
    sigma = 0.9
    feed = GbmFeed(100.0, 0.0, sigma, RngTree(8).stream("feed/ETH"))
    times = np.arange(0, 20_001) * 1_000
    result = realized_volatility([feed.price_at(int(t)) for t in times], times)
    assert abs(result - sigma) < 4.5 * sigma / math.sqrt(2 * 20_000)


def test_realized_volatility_closed_form_and_edge_cases():
    r = math.log(1.01)
    assert realized_volatility([100.0, 101.0, 100.0], [0, 1_000, 2_000]) == pytest.approx(
        math.sqrt(2 * r * r / (2_000 / MS_PER_YEAR)))
    assert math.isnan(realized_volatility([100.0], [0]))
    with pytest.raises(ValueError):
        realized_volatility([1.0, 2.0], [5, 5])


def test_trailing_realized_volatility_samples_the_window():
    feed = GbmFeed(100.0, 0.0, 0.9, RngTree(1).stream("feed/ETH"))
    times = list(range(100_000, 400_001, 10_000))
    expected = realized_volatility([feed.price_at(t) for t in times], times)
    assert trailing_realized_volatility(feed, 400_000, 300_000, 10_000) == expected
    assert trailing_realized_volatility(ConstantFeed(3.0), 10_000, 60_000, 1_000) == 0.0
