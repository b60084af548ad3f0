"""defisim's Uniswap v2 math against the real Router02 (``UniswapV2Library``) in an EVM.

Seeded random cases over raw-unit reserves up to 2^112, amounts from dust to beyond the
reserves, zero amounts and empty reserves: the exact functions equal the contract output for
output, and revert exactly when it reverts; the float path stays within its documented bound.
"""
import numpy as np
import pytest

from defisim.base.tx import Revert
from protocols.amm.exact import FLOAT_RTOL, get_amount_in_exact, get_amount_out_exact
from protocols.amm.math import get_amount_in, get_amount_out

CASES = 600


def cases(seed: int, n: int):
    """(amount, reserve_in, reserve_out, decimals_in, decimals_out) drawn to hit the edges."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        d_in, d_out = (int(x) for x in rng.choice([6, 8, 18], 2))
        r_in = int(10 ** rng.uniform(0, 33.7))  # up to ~2^112
        r_out = int(10 ** rng.uniform(0, 33.7))
        kind = rng.integers(0, 10)
        if kind == 0:
            amount = 0
        elif kind == 1:
            amount = int(rng.integers(1, 1_000))  # dust
        elif kind == 2:
            r_in, r_out = (0, r_out) if rng.random() < 0.5 else (r_in, 0)
            amount = int(rng.integers(1, 10**9))
        else:
            amount = int(r_out * 10 ** rng.uniform(-12, 0.3)) if kind == 3 else int(r_in * 10 ** rng.uniform(-12, 1))
        yield amount, r_in, r_out, d_in, d_out


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Revert as r:
        return ("revert", r.reason)


@pytest.mark.parametrize("which", ["getAmountOut", "getAmountIn"])
def test_exact_math_equals_the_contract(uniswap_router, which):
    exact_fn = get_amount_out_exact if which == "getAmountOut" else get_amount_in_exact
    mismatches = []
    for amount, r_in, r_out, _d_in, _d_out in cases(1 if which == "getAmountOut" else 2, CASES):
        ours = outcome(exact_fn, amount, r_in, r_out)
        theirs = outcome(uniswap_router.call_uint, f"{which}(uint256,uint256,uint256)", amount, r_in, r_out)
        same = ours[0] == theirs[0] and (ours[0] == "revert" or ours[1] == theirs[1])
        if ours[0] == theirs[0] == "revert" and theirs[1].startswith(("UniswapV2", "ds-math")):
            same = ours[1] == theirs[1]  # a reason string from the contract must match ours
        if not same:
            mismatches.append((amount, r_in, r_out, ours, theirs))
    assert not mismatches, f"{len(mismatches)} of {CASES} differ, e.g. {mismatches[:3]}"


def test_float_path_within_its_bound_of_the_contract(uniswap_router):
    checked = 0
    for amount, r_in, r_out, d_in, d_out in cases(3, CASES):
        if amount <= 0 or r_in <= 0 or r_out <= 0:
            continue
        out = uniswap_router.call_uint("getAmountOut(uint256,uint256,uint256)", amount, r_in, r_out)
        approx = get_amount_out(amount / 10**d_in, r_in / 10**d_in, r_out / 10**d_out) * 10**d_out
        assert abs(approx - out) <= 1.0 + FLOAT_RTOL * out, (amount, r_in, r_out, d_in, d_out)
        if amount < r_out:
            need = uniswap_router.call_uint("getAmountIn(uint256,uint256,uint256)", amount, r_in, r_out)
            approx_in = get_amount_in(amount / 10**d_out, r_in / 10**d_in, r_out / 10**d_out) * 10**d_in
            assert abs(approx_in - need) <= 1.0 + FLOAT_RTOL * need, (amount, r_in, r_out, d_in, d_out)
        checked += 1
    assert checked > CASES // 2
