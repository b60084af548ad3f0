"""The engine's float rules (``protocols.maker.math``) against the contracts' integer arithmetic
(``protocols.maker.exact``) on generated inputs: the same decisions (revert or not, whole or
partial), amounts equal to float precision."""
from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from defisim.base.tx import Revert
from protocols.maker import exact as x
from protocols.maker import math as mm
from protocols.maker.exact import RAD, RAY, WAD
from protocols.maker.params import ExponentialCurve, LinearCurve, StairstepCurve

REL = 1e-9
tokens = st.integers(1, 10**6)  # whole units, scaled below
ratios = st.integers(1_000, 2_000)  # per mille


def _outcome(fn):
    try:
        return fn()
    except Revert as e:
        return e.reason


@settings(max_examples=300, deadline=None)
@given(tokens, tokens, ratios, ratios, st.integers(0, 10**5), st.integers(1, 10**7))
def test_bark_amounts_match_the_dog(ink, art, rate_pm, chop_pm, dust, room):
    rate, chop = rate_pm * RAY // 1_000, chop_pm * WAD // 1_000
    exact = _outcome(lambda: x.bark(ink * WAD, art * WAD, rate, 1, dust * RAD, chop, room * RAD, 0,
                                    room * RAD, 0))
    floats = _outcome(lambda: mm.bark_amounts(float(ink), float(art), rate_pm / 1_000, float(dust), chop_pm / 1_000,
                                              float(room)))
    if isinstance(exact, str):
        assume(not _near_a_boundary(art, rate_pm, chop_pm, dust, room))
        assert floats == exact
        return
    assume(not isinstance(floats, str) or not _near_a_boundary(art, rate_pm, chop_pm, dust, room))
    assert not isinstance(floats, str)
    assert floats.dart == pytest.approx(exact.dart / WAD, rel=REL)
    assert floats.dink == pytest.approx(exact.dink / WAD, rel=REL)
    assert floats.tab == pytest.approx(exact.tab / RAD, rel=REL)


def _near_a_boundary(art, rate_pm, chop_pm, dust, room) -> bool:
    """Inputs where the integer floor and the float differ on a dust comparison (within 1e-9)."""
    dart = min(art, room / (rate_pm / 1_000) / (chop_pm / 1_000))
    for a, b in (((art - dart) * rate_pm / 1_000, dust), (dart * rate_pm / 1_000, dust), (dart, art)):
        if abs(a - b) <= 1e-6 * max(1.0, abs(b)):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(tokens, st.integers(1, 10**8), st.integers(1, 10**6), st.integers(1, 10**5), st.integers(0, 10**6))
def test_take_amounts_match_the_clipper(lot, tab, amt, price, chost):
    exact = _outcome(lambda: x.take(lot * WAD, tab * RAD, amt * WAD, price * RAY, price * RAY, chost * RAD))
    floats = _outcome(lambda: mm.take_amounts(float(lot), float(tab), float(amt), float(price), float(price), float(chost)))
    assume(abs(min(lot, amt) * price - tab) > 1e-6 * tab and abs(tab - min(lot, amt) * price - chost) > 1e-6 * max(chost, 1))
    if isinstance(exact, str):
        assert floats == exact
        return
    assert floats.owe == pytest.approx(exact.owe / RAD, rel=REL)
    assert floats.slice == pytest.approx(exact.slice / WAD, rel=REL, abs=1e-15)
    assert floats.tab == pytest.approx(exact.tab / RAD, rel=REL, abs=1e-6 * tab)


@given(st.integers(1, 10**5), st.integers(0, 20_000), st.integers(1, 600), st.integers(900, 999))
def test_price_curves_match_the_abaci(top, dur, step, cut_pm):
    top_ray, cut_ray = top * RAY, cut_pm * RAY // 1_000
    stair = StairstepCurve(step=step * 1_000, cut=cut_pm / 1_000)
    assert mm.auction_price(stair, float(top), dur) == pytest.approx(
        x.stairstep_exponential_decrease(top_ray, dur, step, cut_ray) / RAY, rel=1e-9, abs=1e-12)
    linear = LinearCurve(tau=step * 1_000)
    assert mm.auction_price(linear, float(top), dur) == pytest.approx(
        x.linear_decrease(top_ray, dur, step) / RAY, rel=1e-12, abs=1e-12)
    per_second = ExponentialCurve(cut=cut_pm / 1_000)
    assert mm.auction_price(per_second, float(top), min(dur, 500)) == pytest.approx(
        x.exponential_decrease(top_ray, min(dur, 500), cut_ray) / RAY, rel=1e-9, abs=1e-12)


def test_the_fee_compounds_like_the_jug():
    duty = 1000000001547125957863212448  # 5 %/yr
    for seconds in (1, 3_600, 86_400, 31_536_000):
        assert mm.grow_rate(1.0, mm.log_duty_of(0.05), seconds) == pytest.approx(x.drip(RAY, duty, 0, seconds) / RAY, rel=1e-15)


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 1e4), st.floats(1e-3, 1e6), st.floats(1.0, 2.0), st.floats(0.0, 1e4), st.floats(1.0, 1.5),
       st.floats(-10.0, 1e6))
def test_bark_feasible_is_bark_amounts_on_arrays(ink, art, rate, dust, chop, room):
    import numpy as np

    feasible = mm.bark_feasible(*(np.array([v]) for v in (ink, art, rate, dust, chop, room)))[0]
    scalar = room > 0 and not isinstance(_outcome(lambda: mm.bark_amounts(ink, art, rate, dust, chop, room)), str)
    assert feasible == scalar
