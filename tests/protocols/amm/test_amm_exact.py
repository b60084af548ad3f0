"""Uniswap v2 integer math (the contracts' ``getAmountOut``/``getAmountIn``) and the float path's
agreement with it within the documented bound."""
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base.tx import Revert
from protocols.amm.exact import FLOAT_RTOL, get_amount_in_exact, get_amount_out_exact
from protocols.amm.math import get_amount_in, get_amount_out

UINT112 = 2**112 - 1
decimals = st.sampled_from([6, 8, 18])
reserves = st.integers(1_000, UINT112)


def test_reverts_name_the_reason():
    with pytest.raises(Revert, match="INSUFFICIENT_INPUT_AMOUNT"):
        get_amount_out_exact(0, 10, 10)
    with pytest.raises(Revert, match="INSUFFICIENT_LIQUIDITY"):
        get_amount_out_exact(1, 0, 10)
    with pytest.raises(Revert, match="INSUFFICIENT_OUTPUT_AMOUNT"):
        get_amount_in_exact(0, 10, 10)
    with pytest.raises(Revert, match="ds-math-sub-underflow"):
        get_amount_in_exact(11, 10, 10)
    with pytest.raises(Revert, match="division by zero"):
        get_amount_in_exact(10, 10, 10)


@settings(max_examples=500, deadline=None)
@given(r_in=reserves, r_out=reserves, share=st.floats(1e-9, 10.0))
def test_amount_out_is_the_floored_closed_form(r_in, r_out, share):
    a = max(1, int(r_in * share))
    out = get_amount_out_exact(a, r_in, r_out)
    exact = Fraction(a * 997 * r_out, r_in * 1000 + a * 997)  # Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input in rationals
    assert out == exact.numerator // exact.denominator
    assert out < r_out
    # k never decreases: (R_in + a)(R_out − out) ≥ R_in·R_out
    assert (r_in + a) * (r_out - out) >= r_in * r_out


@settings(max_examples=500, deadline=None)
@given(r_in=reserves, r_out=reserves, share=st.floats(1e-9, 0.99))
def test_amount_in_is_the_least_input_rounded_up(r_in, r_out, share):
    want = max(1, int(r_out * share))
    a = get_amount_in_exact(want, r_in, r_out)
    assert get_amount_out_exact(a, r_in, r_out) >= want
    # the least input that buys ``want`` is ceil(x), x = R_in·want·1000 / ((R_out − want)·997);
    # the contract returns floor(x) + 1: ceil(x), or one more when x is a whole number
    x = Fraction(r_in * want * 1000, (r_out - want) * 997)
    least = -(-x.numerator // x.denominator)
    assert a == least or (x.denominator == 1 and a == least + 1)
    if a - 1 >= 1 and a == least:
        assert get_amount_out_exact(a - 1, r_in, r_out) < want


@settings(max_examples=500, deadline=None)
@given(r_in=reserves, r_out=reserves, share=st.floats(1e-9, 10.0), d_in=decimals, d_out=decimals)
def test_float_path_agrees_within_the_documented_bound(r_in, r_out, share, d_in, d_out):
    """Whole-token floats vs raw integers: within one raw unit (the floor) plus FLOAT_RTOL."""
    a = max(1, int(r_in * share))
    exact = get_amount_out_exact(a, r_in, r_out)
    approx = get_amount_out(a / 10**d_in, r_in / 10**d_in, r_out / 10**d_out) * 10**d_out
    assert abs(approx - exact) <= 1.0 + FLOAT_RTOL * exact


@settings(max_examples=300, deadline=None)
@given(r_in=reserves, r_out=reserves, share=st.floats(1e-6, 0.9), d_in=decimals, d_out=decimals)
def test_float_amount_in_agrees_within_the_documented_bound(r_in, r_out, share, d_in, d_out):
    want = max(1, int(r_out * share))
    exact = get_amount_in_exact(want, r_in, r_out)
    approx = get_amount_in(want / 10**d_out, r_in / 10**d_in, r_out / 10**d_out) * 10**d_in
    assert abs(approx - exact) <= 1.0 + FLOAT_RTOL * exact
