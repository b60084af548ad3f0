"""Off-chain venues: depth curves, resilience, market-maker withdrawal. No SimPy needed
except for the process test."""
from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from pydantic import ValidationError
from scipy.integrate import quad

from defisim.markets.feeds import ConstantFeed, CsvFeed, GbmFeed, realized_volatility
from defisim.markets.spec import MarketMakerSpec, MarketSpec, VenueSpec
from defisim.base.rng import RngTree
from defisim.markets.venues import (
    LinearDepth,
    RollingRealizedVolatility,
    SqrtDepth,
    Venue,
    VenueEvent,
    build_markets,
    market_maker_process,
    market_maker_step,
)

F = 2000.0  # feed price, USD
D = 1e6  # USD per 1%
Y, V = 0.1, 5e7  # sqrt law: selling V moves the log price by Y

CURVES = {"linear": lambda: LinearDepth(D), "sqrt": lambda: SqrtDepth(Y, V)}


def venue(kind="linear", price=F, **kw):
    return Venue(ConstantFeed(price), CURVES[kind](), **kw)


# ---- the depth curves against their definitions --------------------------------------------


def walk_flat_book(mid: float, feed: float, depth_usd_per_pct: float, tokens: float, tick_frac: float = 1e-6):
    """Sell ``tokens`` into a discrete flat ladder: a level every ``tick_frac·feed`` below ``mid``,
    each holding ``depth_usd_per_pct · tick_frac / 1%`` USD. Returns (proceeds, last price)."""
    tick = tick_frac * feed
    usd_per_level = depth_usd_per_pct * tick_frac / 0.01
    n = int(mid / tick) - 1
    prices = mid - tick * (np.arange(n) + 0.5)  # each level's notional sits at its midpoint
    tokens_per_level = usd_per_level / prices
    cum = np.cumsum(tokens_per_level)
    full = int(np.searchsorted(cum, tokens))
    done = cum[full - 1] if full else 0.0
    proceeds = full * usd_per_level + (tokens - done) * prices[full]
    return proceeds, mid - tick * (full + (tokens - done) / tokens_per_level[full])


def test_linear_sell_proceeds_match_walking_a_flat_book():
    v = venue("linear")
    tokens = 40.0  # ≈ 80k USD into 1M per 1%: about −4%
    usd, avg = v.sell(tokens, t_ms=0)
    expected_usd, expected_mid = walk_flat_book(F, F, D, tokens)
    assert usd == pytest.approx(expected_usd, rel=1e-6)
    assert avg == pytest.approx(expected_usd / tokens, rel=1e-6)
    assert v.mid(0) == pytest.approx(expected_mid, rel=1e-6)
    # a second sell keeps walking the same ladder from where the first stopped
    usd2, _ = v.sell(25.0, t_ms=0)
    expected2, _ = walk_flat_book(expected_mid, F, D, 25.0)
    assert usd2 == pytest.approx(expected2, rel=1e-6)


def test_linear_depth_is_constant_usd_per_percent():
    v = venue("linear")
    for pct in (0.1, 1.0, 5.0, 50.0):
        assert v.depth_usd(pct, 0) == pytest.approx(D * pct, rel=1e-12)
        assert v.depth_usd(pct, 0, side="ask") == pytest.approx(D * pct, rel=1e-12)


def test_sqrt_sell_proceeds_match_the_integral_of_the_square_root_law():
    v = venue("sqrt")
    tokens = 5_000.0  # 10 M USD of notional: log move −Y·sqrt(0.2)
    usd, avg = v.sell(tokens, t_ms=0)

    def price_after(q):  # the square-root law: notional q·F from rest moves ln(price) by −Y sqrt(qF/V)
        return F * math.exp(-Y * math.sqrt(q * F / V))

    expected, _ = quad(price_after, 0.0, tokens, epsabs=0.0, epsrel=1e-12, limit=200)
    assert usd == pytest.approx(expected, rel=1e-9)
    assert avg == pytest.approx(expected / tokens, rel=1e-9)
    assert v.mid(0) == pytest.approx(price_after(tokens), rel=1e-12)


@pytest.mark.parametrize("kind", CURVES)
def test_depth_usd_is_what_a_sell_to_that_level_receives(kind):
    v = venue(kind)
    v.sell(100.0, 0)  # start displaced
    depth = v.depth_usd(3.0, 0)
    mid0 = v.mid(0)
    # bisect the token amount that moves the mid down 3%
    lo, hi = 0.0, 1e7
    for _ in range(200):
        q = 0.5 * (lo + hi)
        if v.quote_sell(q, 0)[0] < depth:
            lo = q
        else:
            hi = q
    probe = venue(kind)
    probe.sell(100.0, 0)
    probe.sell(q, 0)
    assert probe.mid(0) == pytest.approx(mid0 * 0.97, rel=1e-9)


# ---- path independence, buys -----------------------------------------------------------------


@pytest.mark.parametrize("kind", CURVES)
def test_two_half_sells_equal_one_sell(kind):
    one, two = venue(kind), venue(kind)
    usd_one, _ = one.sell(300.0, t_ms=5_000)
    usd_a, _ = two.sell(150.0, t_ms=5_000)
    usd_b, _ = two.sell(150.0, t_ms=5_000)
    assert usd_a + usd_b == pytest.approx(usd_one, rel=1e-12)
    assert two.mid(5_000) == pytest.approx(one.mid(5_000), rel=1e-12)
    assert usd_b < usd_a  # the second half sells lower


@pytest.mark.parametrize("kind", CURVES)
def test_buys_mirror_sells(kind):
    a, b = venue(kind), venue(kind)
    tokens, avg = a.buy_usd(250_000.0, 0)
    cost, avg_b = b.buy_tokens(tokens, 0)
    assert cost == pytest.approx(250_000.0, rel=1e-9)
    assert a.mid(0) == pytest.approx(b.mid(0), rel=1e-9) and a.mid(0) > F
    assert avg > F
    # with no spread, selling the tokens straight back returns the USD and the mid
    usd, _ = a.sell(tokens, 0)
    assert usd == pytest.approx(250_000.0, rel=1e-9)
    assert a.mid(0) == pytest.approx(F, rel=1e-9)


def test_buy_usd_across_the_feed_price_on_a_sqrt_book():
    v = venue("sqrt")
    v.sell(2_000.0, 0)
    tokens, _ = v.buy_usd(9e6, 0)  # buys back through x = 0 and beyond
    check = venue("sqrt")
    check.sell(2_000.0, 0)
    cost, _ = check.buy_tokens(tokens, 0)
    assert cost == pytest.approx(9e6, rel=1e-9)
    assert v.mid(0) > F


# ---- resilience ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CURVES)
def test_impact_halves_after_one_half_life(kind):
    v = venue(kind, half_life_ms=30_000)
    v.sell(500.0, t_ms=10_000)
    x0 = math.log(v.impact(10_000))
    assert x0 < 0
    assert math.log(v.impact(40_000)) == pytest.approx(0.5 * x0, rel=1e-12)
    assert math.log(v.impact(70_000)) == pytest.approx(0.25 * x0, rel=1e-12)
    assert v.mid(40_000) == pytest.approx(F * math.exp(0.5 * x0), rel=1e-12)
    # reading does not move the state: the next trade starts from the decayed impact
    v.sell(0.0, 40_000)
    assert math.log(v.impact(70_000)) == pytest.approx(0.25 * x0, rel=1e-12)


def test_no_half_life_keeps_impact():
    v = venue("linear", half_life_ms=None)
    v.sell(500.0, 0)
    assert v.impact(10**9) == v.impact(0) < 1


def test_impact_rides_on_the_feed():
    feed = GbmFeed(F, 0.0, 0.8, RngTree(0).stream("feed/ETH"))
    v = Venue(feed, LinearDepth(D), half_life_ms=60_000)
    v.sell(100.0, 1_000)
    assert v.mid(61_000) == pytest.approx(feed.price_at(61_000) * v.impact(61_000), rel=1e-15)


def test_time_must_not_go_back():
    v = venue("linear")
    v.sell(1.0, 5_000)
    with pytest.raises(ValueError, match="before its last trade"):
        v.sell(1.0, 4_999)
    with pytest.raises(ValueError, match="before its last trade"):
        v.mid(4_999)
    with pytest.raises(ValueError, match="non-negative"):
        v.sell(-1.0, 6_000)


@pytest.mark.parametrize("kind", CURVES)
def test_thinner_depth_means_a_lower_price_after_the_same_sell(kind):
    thick = venue(kind)
    thin = Venue(ConstantFeed(F), LinearDepth(D / 2) if kind == "linear" else SqrtDepth(Y, V / 2))
    usd_thick, _ = thick.sell(400.0, 0)
    usd_thin, _ = thin.sell(400.0, 0)
    assert thin.mid(0) < thick.mid(0) < F
    assert usd_thin < usd_thick


# ---- market makers -------------------------------------------------------------------------

MM = MarketMakerSpec(vol_window="5m", vol_threshold_annual=1.5, withdraw_share=0.7, cooldown="2m", sample_every="1s")


def run_steps(v: Venue, until_ms: int, every_ms: int = 1_000):
    for t in range(0, until_ms + 1, every_ms):
        market_maker_step(v, t)
    return v.events


def test_mm_withdraw_on_a_volatile_path_not_on_a_calm_one():
    volatile = Venue(GbmFeed(F, 0.0, 3.0, RngTree(1).stream("feed/ETH")), LinearDepth(D), market_maker=MM, name="hot")
    calm = Venue(GbmFeed(F, 0.0, 0.3, RngTree(1).stream("feed/BTC")), LinearDepth(D), market_maker=MM, name="cool")
    hot_events = run_steps(volatile, 1_800_000)
    assert run_steps(calm, 1_800_000) == []
    assert calm.depth_usd(1.0, 1_800_000) == pytest.approx(D)
    first = hot_events[0]
    assert first.kind == "withdraw" and first.venue == "hot" and first.realized_vol_annual >= 1.5
    assert first.depth_share == pytest.approx(0.3)
    assert volatile.depth_usd(1.0, 1_800_000) == pytest.approx(0.3 * D)
    assert all(e.kind == "withdraw" for e in hot_events)  # never calm long enough to come back


def zigzag_then_flat():
    """±1% every second for 10 minutes (last move into t = 600 s), then flat."""
    times = list(range(0, 601_000, 1_000))
    prices = [101.0 if (t // 1_000) % 2 else 100.0 for t in times[:-1]] + [100.0]
    return CsvFeed(times, prices, "step")


def test_mm_depth_returns_after_the_cooldown():
    v = Venue(zigzag_then_flat(), LinearDepth(D), market_maker=MM, name="cex")
    events = run_steps(v, 1_200_000)
    # first reading with a return in it: t = 1 s. The window [t − 5 m, t] still holds the move
    # 599 s → 600 s until t = 899 s; first calm reading at 900 s; back 2 minutes later.
    assert [(e.t_ms, e.kind) for e in events] == [(1_000, "withdraw"), (1_020_000, "return")]
    assert events[1] == VenueEvent(1_020_000, "cex", "return", 0.0, 1.0)
    assert v.depth_usd(1.0, 1_200_000) == pytest.approx(D * 1.0)


def test_mm_a_volatile_reading_restarts_the_cooldown():
    times = [0, 1_000, 2_000, 400_000, 401_000, 402_000]
    v = Venue(CsvFeed(times, [100, 101, 100, 100, 101, 100], "step"), LinearDepth(D), market_maker=MM)
    events = run_steps(v, 1_500_000)
    # calm from 302 s; the 401 s move comes before the 2-minute cooldown is over; calm again from 702 s
    assert [(e.t_ms, e.kind) for e in events] == [(1_000, "withdraw"), (822_000, "return")]


def test_mm_withdrawal_thins_the_book_for_the_next_sell():
    v = Venue(zigzag_then_flat(), LinearDepth(D), market_maker=MM, half_life_ms=None)
    run_steps(v, 10_000)
    usd, _ = v.sell(50.0, 10_000)
    full = Venue(zigzag_then_flat(), LinearDepth(D), half_life_ms=None)
    usd_full, _ = full.sell(50.0, 10_000)
    assert v.mid(10_000) < full.mid(10_000) and usd < usd_full


def test_own_selling_can_drive_the_market_makers_out():
    # a constant feed, but 0.5% of depth sold every second: the venue's own mid is volatile
    v = Venue(ConstantFeed(F), LinearDepth(D), market_maker=MM, half_life_ms=2_000)
    for t in range(0, 60_000, 1_000):
        if t % 2_000 == 0:
            v.sell(0.5 * D / F, t)
        market_maker_step(v, t)
    assert [e.kind for e in v.events][:1] == ["withdraw"]


def test_mm_process_in_simpy_matches_the_steps():
    v = Venue(zigzag_then_flat(), LinearDepth(D), market_maker=MM, name="cex")
    env = simpy.Environment()
    env.process(market_maker_process(env, v))  # every sample_every = 1 s
    env.run(until=1_200_001)
    expected = Venue(zigzag_then_flat(), LinearDepth(D), market_maker=MM, name="cex")
    assert v.events == run_steps(expected, 1_200_000)


def test_mm_process_needs_market_makers():
    env = simpy.Environment()
    env.process(market_maker_process(env, venue("linear")))
    with pytest.raises(ValueError, match="no market makers"):
        env.run(until=10)


@pytest.mark.parametrize("seed", range(3))
def test_rolling_volatility_matches_the_scalar_estimator(seed):
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.integers(1, 3_000, 400))
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    roll = RollingRealizedVolatility(60_000)
    for i, (t, p) in enumerate(zip(times.tolist(), prices.tolist())):
        result = roll.add(t, p)
        keep = times[: i + 1] >= t - 60_000
        expected = realized_volatility(prices[: i + 1][keep], times[: i + 1][keep])
        if math.isnan(expected):
            assert math.isnan(result)
        else:
            assert result == pytest.approx(expected, rel=1e-9)


# ---- specs and building ----------------------------------------------------------------------


def test_build_markets_uses_named_feed_streams():
    raw = {
        "feeds": {"ETH": {"kind": "gbm", "initial_price_usd": 2000, "volatility_annual": 0.8}},
        "venues": {
            "binance": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 5e6},
                        "market_maker": {"vol_threshold_annual": 2.0, "withdraw_share": 0.7}},
            "okx": {"asset": "ETH", "depth": {"kind": "sqrt", "coefficient": 0.1, "volume_usd": 1e8}, "half_life": None},
        },
    }
    feeds, venues = build_markets(MarketSpec.model_validate(raw), RngTree(4))
    reference = GbmFeed(2000.0, 0.0, 0.8, RngTree(4).stream("feed/ETH"))
    assert feeds["ETH"].price_at(3_600_000) == reference.price_at(3_600_000)
    assert venues["binance"].feed is venues["okx"].feed is feeds["ETH"]
    assert venues["okx"].half_life_ms is None and venues["binance"].market_maker.spec.withdraw_share == 0.7


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"feeds": {}, "venues": {"cex": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 1}}}},
         r"venues\.cex\.asset: no feed for asset 'ETH'"),
        ({"venues": {"cex": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 0}}}},
         r"venues\.cex\.depth\.linear\.depth_usd_per_pct"),
        ({"venues": {"cex": {"asset": "ETH", "depth": {"kind": "cubic"}}}}, r"venues\.cex\.depth"),
    ],
)
def test_market_spec_errors_name_the_path(raw, message):
    with pytest.raises(ValidationError, match=message):
        MarketSpec.model_validate(raw)


def test_market_maker_spec_checks():
    with pytest.raises(ValidationError, match="withdraw_share"):
        MarketMakerSpec(vol_threshold_annual=1.0, withdraw_share=1.0)
    with pytest.raises(ValidationError, match="at least two returns"):
        MarketMakerSpec(vol_threshold_annual=1.0, withdraw_share=0.5, vol_window="1s", sample_every="1s")
    assert VenueSpec(asset="ETH", depth={"kind": "linear", "depth_usd_per_pct": 1}).half_life == 60_000
