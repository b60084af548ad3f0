"""AMM math against Uniswap v2 `UniswapV2Library.sol`; Curve StableSwap whitepaper and the worked example, plus invariants (Hypothesis)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.amm.math import (
    amount_to_move_price,
    cpmm_spot_price,
    exchange_amounts,
    get_amount_in,
    get_amount_in_vec,
    get_amount_out,
    get_amount_out_vec,
    get_D,
    get_D_vec,
    get_dy,
    get_dy_vec,
    get_y,
    get_y_vec,
    price_impact,
    stableswap_spot_price,
    v3_amount_in_to_price,
    v3_position_amounts,
    v3_swap_step,
)

REL = 1e-6  # worked example: "tolerances: 1e-6 relative unless stated"
ETH, USDC = 1_000.0, 2_000_000.0  # the worked example's constant-product pool


# -- Uniswap v2 ------------------------------------------------------------------------------
def test_vector_17_v2_amount_out():
    result = get_amount_out(100.0, ETH, USDC, 0.003)
    assert result == pytest.approx(181_322.1788, rel=REL)
    # the contract's integer form, 997/1000, without the floor
    assert result == pytest.approx(100 * 997 * USDC / (ETH * 1000 + 100 * 997), rel=1e-15)


def test_v2_example_spot_impact_and_amount_in():
    out = get_amount_out(100.0, ETH, USDC)
    assert out / 100.0 == pytest.approx(1_813.22, abs=0.005)  # average price
    assert price_impact(100.0, ETH, USDC) == pytest.approx(0.0934, abs=5e-5)  # 9.34% incl. fee
    assert price_impact(100.0, ETH, USDC) == pytest.approx(1 - (out / 100.0) / cpmm_spot_price(ETH, USDC), rel=1e-12)
    assert cpmm_spot_price(ETH + 100.0, USDC - out) == pytest.approx(1_653.34, abs=0.005)
    # Buying 100,000 USDC: Rin·out / ((Rout − out)·0.997) = 52.79 ETH. A hand calculation giving 53.79 has the
    # contract's "+ 1" (one wei) applied as one whole token.
    result = get_amount_in(100_000.0, ETH, USDC)
    assert result == pytest.approx(1e8 / (1_900_000 * 0.997), rel=1e-12)
    assert result == pytest.approx(52.79, abs=0.005)
    assert get_amount_out(result, ETH, USDC) >= 100_000.0


def test_vector_18_sandwich():
    eth, usdc = ETH, USDC
    victim_alone = get_amount_out(100_000.0, usdc, eth)
    front = get_amount_out(50_000.0, usdc, eth)
    usdc, eth = usdc + 50_000.0, eth - front
    victim = get_amount_out(100_000.0, usdc, eth)
    usdc, eth = usdc + 100_000.0, eth - victim
    back = get_amount_out(front, eth, usdc)
    assert victim_alone == pytest.approx(47.483, abs=5e-4)
    assert front == pytest.approx(24.319, abs=5e-4)
    assert victim == pytest.approx(45.251, abs=5e-4)
    assert back == pytest.approx(54_603.51, rel=REL)
    assert back - 50_000.0 == pytest.approx(4_603.51, rel=REL)  # attacker profit before gas and builder
    # amountOutMin 46.5 ETH: met without the attack, missed with it (the victim's swap would revert)
    assert victim_alone >= 46.5 > victim


# -- Uniswap v3, one range ------------------------------------------------------------------
def test_vector_19_v3_in_range_swap():
    result = v3_swap_step(1e5, 2_000.0, 10.0, 0.0005, zero_for_one=True)
    assert result.amount_out == pytest.approx(19_901.044, rel=REL)
    assert result.price_after == pytest.approx(1_982.2396, rel=REL)
    assert result.amount_in == 10.0 and result.fee_amount == pytest.approx(0.005, rel=1e-12)
    assert result.amount_out / 10.0 == pytest.approx(1_990.10, abs=0.005)


def test_v3_range_equals_v2_on_virtual_reserves():
    L, P, fee = 1e5, 2_000.0, 0.0005
    x_v, y_v = L / math.sqrt(P), L * math.sqrt(P)
    assert (x_v, y_v) == (pytest.approx(2_236.07, abs=0.005), pytest.approx(4_472_136, abs=0.5))
    sell0 = v3_swap_step(L, P, 10.0, fee, zero_for_one=True)
    assert sell0.amount_out == pytest.approx(get_amount_out(10.0, x_v, y_v, fee), rel=1e-12)
    sell1 = v3_swap_step(L, P, 20_000.0, fee, zero_for_one=False)
    assert sell1.amount_out == pytest.approx(get_amount_out(20_000.0, y_v, x_v, fee), rel=1e-12)
    assert sell1.price_after == pytest.approx((y_v + 20_000.0 * (1 - fee)) / (x_v - sell1.amount_out), rel=1e-12)


def test_v3_position_and_range_bottom():
    L, P, lo, hi, fee = 1e5, 2_000.0, 1_800.0, 2_200.0, 0.0005
    x, y = v3_position_amounts(L, P, lo, hi)
    assert x == pytest.approx(104.06, abs=0.005) and y == pytest.approx(229_495, abs=0.5)
    assert v3_position_amounts(L, 1_000.0, lo, hi)[1] == 0.0 and v3_position_amounts(L, 3_000.0, lo, hi)[0] == 0.0
    to_bottom = float(v3_amount_in_to_price(L, P, lo, fee))
    assert to_bottom == pytest.approx(121.02, abs=0.005)
    # a bigger sale stops at the range bottom, uses only what reaches it, and takes out all the token1
    step = v3_swap_step(L, P, 500.0, fee, zero_for_one=True, price_limit=lo)
    assert step.price_after == lo
    assert step.amount_in == pytest.approx(to_bottom, rel=1e-12)
    assert step.amount_out == pytest.approx(y, rel=1e-12)
    with pytest.raises(ValueError):
        v3_swap_step(L, P, 1.0, fee, zero_for_one=True, price_limit=2_100.0)


# -- Curve StableSwap ---------------------------------------------------------------------------
def test_vector_20_curve_exchange():
    result = get_dy(0, 1, 10e6, [50e6, 50e6], 100, 0.0001)
    assert result == pytest.approx(9_978_436.37, rel=REL)
    out, fee = exchange_amounts(0, 1, 10e6, [50e6, 50e6], 100, 0.0001)
    assert out == result and fee == pytest.approx((out + fee) * 0.0001, rel=1e-12)


@pytest.mark.parametrize(
    "A, expected",
    [(100, [0.99970, 0.99784, 0.99341, 0.98021]), (1000, [0.99988, 0.99969, 0.99924, 0.99771])],
)
def test_curve_average_price_table(A, expected):
    sizes = [1e6, 10e6, 25e6, 40e6]
    result = [get_dy(0, 1, dx, [50e6, 50e6], A, 0.0001) / dx for dx in sizes]
    assert result == pytest.approx(expected, abs=5e-6)  # printed with 5 decimals


@pytest.mark.parametrize("A, expected", [(1000, 0.99708), (100, 0.97203)])
def test_curve_marginal_price_imbalanced(A, expected):
    balances = [80e6, 20e6]
    result = stableswap_spot_price(0, 1, balances, A)
    assert result == pytest.approx(expected, abs=5e-6)
    h = 10.0  # a small trade without fee agrees with the analytic marginal price
    assert get_dy(0, 1, h, balances, A, 0.0) / h == pytest.approx(result, rel=1e-7)
    assert stableswap_spot_price(1, 0, balances, A) == pytest.approx(1 / result, rel=1e-12)


def invariant_residual(balances, A, D):
    """Relative residual of Ann·S + D = Ann·D + D^(n+1)/(n^n·Πx), Ann = A·n (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`)."""
    n = len(balances)
    ann = A * n
    lhs = ann * sum(balances) + D
    rhs = ann * D + D ** (n + 1) / (n**n * math.prod(balances))
    return abs(lhs - rhs) / lhs


def test_get_D_balanced_and_solves_the_invariant():
    assert get_D([50e6, 50e6], 100) == 100e6
    assert get_D([0.0, 0.0], 100) == 0.0
    for balances, A in [([80e6, 20e6], 100), ([1.0, 1e6], 2_000), ([3e6, 1e6, 2e6], 50)]:
        assert invariant_residual(balances, A, get_D(balances, A)) < 1e-12
    with pytest.raises(ValueError):
        get_y(0, 0, 1.0, [1.0, 1.0], 100)


# -- helpers ------------------------------------------------------------------------------------
def test_amount_to_move_price_example():
    assert float(amount_to_move_price(1.0, 0.9)) == pytest.approx(math.sqrt(1 / 0.9) - 1, rel=1e-12)
    assert float(amount_to_move_price(1.0, 0.9)) == pytest.approx(0.0541, abs=5e-5)  # 5.41% of the reserve
    assert price_impact(250.0, ETH, USDC, fee=0.0) == pytest.approx(250.0 / (ETH + 250.0), rel=1e-12)


# -- invariants ----------------------------------------------------------------------------------------
reserves = st.floats(min_value=1e-3, max_value=1e12)
fees = st.sampled_from([0.0, 0.0001, 0.0005, 0.003, 0.01, 0.3])
ratios = st.floats(min_value=1e-9, max_value=1e6)


@settings(max_examples=300, deadline=None)
@given(reserves, reserves, ratios, st.sampled_from([0.0005, 0.003, 0.01, 0.3]))
def test_v2_k_never_decreases_and_output_below_reserve(r_in, r_out, ratio, fee):
    a = ratio * r_in
    out = get_amount_out(a, r_in, r_out, fee)
    assert 0 < out < r_out
    k_before, k_after = r_in * r_out, (r_in + a) * (r_out - out)
    assert k_after >= k_before * (1 - 1e-14)  # float rounding only
    if ratio * fee >= 1e-10:  # the fee's growth of k is resolvable in float64
        assert k_after > k_before


@settings(max_examples=300, deadline=None)
@given(reserves, reserves, st.floats(min_value=1e-9, max_value=1 - 1e-9), fees)
def test_v2_amount_in_rounds_up(r_in, r_out, share, fee):
    want = share * r_out
    a = get_amount_in(want, r_in, r_out, fee)
    assert math.isfinite(a)
    assert get_amount_out(a, r_in, r_out, fee) >= want  # exactly, like the contract's "+ 1"
    exact = r_in * want / ((r_out - want) * (1 - fee))
    # rounding up costs a few ulps of the output; in the input that is amplified by R_out/(R_out − want)
    assert a == pytest.approx(exact, rel=1e-12 + 1e-14 / (1 - share))
    assert get_amount_in(r_out, r_in, r_out, fee) == math.inf


@settings(max_examples=300, deadline=None)
@given(reserves, reserves, st.floats(min_value=1e-6, max_value=1e3), fees)
def test_v2_round_trip(r_in, r_out, ratio, fee):
    # getAmountIn(getAmountOut(x)) = x in exact arithmetic; ">= x" holds neither for the contract's
    # integers (floor on the output) nor for floats, so the honest check is equality within rounding.
    x = ratio * r_in
    assert get_amount_in(get_amount_out(x, r_in, r_out, fee), r_in, r_out, fee) == pytest.approx(x, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(reserves, st.floats(min_value=0.05, max_value=1.0), fees)
def test_amount_to_move_price_hits_the_target(r_in, factor, fee):
    r_out = 3.0 * r_in
    q = float(amount_to_move_price(r_in, factor, fee))
    out = get_amount_out(q, r_in, r_out, fee)
    result = cpmm_spot_price(r_in + q, r_out - out) / cpmm_spot_price(r_in, r_out)
    assert result == pytest.approx(factor, rel=1e-9, abs=1e-12)


balances = st.floats(min_value=1e4, max_value=1e9)
amps = st.sampled_from([1, 10, 100, 1_000, 5_000])


@settings(max_examples=200, deadline=None)
@given(balances, balances, st.floats(min_value=1e-6, max_value=2.0), amps)
def test_stableswap_D_conserved_without_fee_and_grows_with_fee(x0, x1, share, A):
    xs = [x0, x1]
    dx = share * x0
    D = get_D(xs, A)
    assert invariant_residual(xs, A, D) < 1e-12
    out = get_dy(0, 1, dx, xs, A, 0.0)
    assert 0 < out < x1
    assert get_D([x0 + dx, x1 - out], A) == pytest.approx(D, rel=1e-10)
    out_fee, fee = exchange_amounts(0, 1, dx, xs, A, 0.0004)
    assert out_fee < out and fee > 0
    D_fee = get_D([x0 + dx, x1 - out_fee], A)
    assert D_fee >= D * (1 - 1e-12)
    if dx >= 1e-3 * (x0 + x1):
        assert D_fee > D


# -- vectorised twins == scalar functions ---------------------------------------------------
cpmm_rows = st.lists(st.tuples(st.floats(0, 1e7), reserves, reserves, fees), min_size=1, max_size=20)
swap_rows = st.lists(st.tuples(balances, balances, st.floats(1e-6, 2.0), amps, fees), min_size=1, max_size=10)


def _cpmm_out(rows):
    a, ri, ro, f = map(np.array, zip(*rows))
    return get_amount_out_vec(a, ri, ro, f), [get_amount_out(*r) for r in rows]


def _cpmm_in(rows):
    rows = [(min(a, 0.999 * ro), ri, ro, f) for a, ri, ro, f in rows]
    a, ri, ro, f = map(np.array, zip(*rows))
    return get_amount_in_vec(a, ri, ro, f), [get_amount_in(*r) for r in rows]


def _curve_D(rows):
    xs = np.array([[x0, x1] for x0, x1, *_ in rows])
    A = np.array([r[3] for r in rows])
    return get_D_vec(xs, A), [get_D([x0, x1], A) for x0, x1, _, A, _ in rows]


def _curve_y(rows):
    xs = np.array([[x0, x1] for x0, x1, *_ in rows])
    x_new = np.array([x0 * (1 + s) for x0, _, s, *_ in rows])
    A = np.array([r[3] for r in rows])
    return get_y_vec(0, 1, x_new, xs, A), [get_y(0, 1, x0 * (1 + s), [x0, x1], A) for x0, x1, s, A, _ in rows]


def _curve_dy(rows):
    xs = np.array([[x0, x1] for x0, x1, *_ in rows])
    dx = np.array([x0 * s for x0, _, s, *_ in rows])
    A, f = np.array([r[3] for r in rows]), np.array([r[4] for r in rows])
    return get_dy_vec(1, 0, dx, xs, A, f), [get_dy(1, 0, x0 * s, [x0, x1], A, fee) for x0, x1, s, A, fee in rows]


@pytest.mark.parametrize(
    "twin, rows",
    [(_cpmm_out, cpmm_rows), (_cpmm_in, cpmm_rows), (_curve_D, swap_rows), (_curve_y, swap_rows), (_curve_dy, swap_rows)],
    ids=["get_amount_out", "get_amount_in", "get_D", "get_y", "get_dy"],
)
def test_vectorised_equals_scalar(twin, rows):
    @settings(max_examples=50, deadline=None)
    @given(rows)
    def check(rows):
        result, expected = twin(rows)
        np.testing.assert_array_equal(result, np.array(expected, dtype=np.float64))

    check()


def test_vectorised_twins_broadcast():
    result = get_dy_vec(0, 1, [1e6, 10e6, 25e6, 40e6], [50e6, 50e6], 100)
    assert result.shape == (4,)
    assert result[1] == get_dy(0, 1, 10e6, [50e6, 50e6], 100)
    assert get_amount_in_vec(2e6, ETH, USDC).item() == math.inf
