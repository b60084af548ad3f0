"""Uniswap v2 swap math exactly as the contracts compute it: Python integers, raw token units
(wei), floor division, the contracts' revert reasons (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input;
Uniswap/v2-periphery ``UniswapV2Library.sol`` ``getAmountOut`` / ``getAmountIn``).

These are the reference the float path (:func:`protocols.amm.math.get_amount_out`, whole-token
float64) is checked against: for reserves and amounts in raw units ``R_in, R_out, a`` with
``d`` decimals on each side, ``get_amount_out(a/10^d_in, R_in/10^d_in, R_out/10^d_out) × 10^d_out``
is within one raw unit (the floor) plus a relative ``FLOAT_RTOL`` of the exact output.
"""
from __future__ import annotations

from defisim.base import Revert

__all__ = ["get_amount_out_exact", "get_amount_in_exact", "FEE_NUMERATOR", "FEE_DENOMINATOR", "FLOAT_RTOL"]

#: Uniswap v2 keeps 3/1000 of the input: ``amountIn × 997 / 1000`` goes into the curve.
FEE_NUMERATOR, FEE_DENOMINATOR = 997, 1_000
#: Relative agreement of the float path with these functions (beyond the one-unit floor):
#: a handful of float64 roundings of values below 2^112, each at most 2^-53 relative.
FLOAT_RTOL = 1e-12


def _check_reserves(reserve_in: int, reserve_out: int) -> None:
    if reserve_in <= 0 or reserve_out <= 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_LIQUIDITY")


def get_amount_out_exact(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """``getAmountOut``: output (raw units, floored) of selling ``amount_in`` raw units.

    >>> get_amount_out_exact(100 * 10**18, 1_000 * 10**18, 2_000_000 * 10**6)  # Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input: ≈ 181,322.18 USDC
    181322178776
    """
    if amount_in <= 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT")
    _check_reserves(reserve_in, reserve_out)
    with_fee = amount_in * FEE_NUMERATOR
    return with_fee * reserve_out // (reserve_in * FEE_DENOMINATOR + with_fee)


def get_amount_in_exact(amount_out: int, reserve_in: int, reserve_out: int) -> int:
    """``getAmountIn``: input (raw units, rounded up by one) needed to receive ``amount_out``.

    The contract's ``reserveOut − amountOut`` underflows (SafeMath) when ``amount_out ≥
    reserve_out``; at equality it divides by zero: both revert.

    >>> get_amount_in_exact(100_000 * 10**6, 1_000 * 10**18, 2_000_000 * 10**6)
    52789948793749670063
    """
    if amount_out <= 0:
        raise Revert("UniswapV2Library: INSUFFICIENT_OUTPUT_AMOUNT")
    _check_reserves(reserve_in, reserve_out)
    if amount_out > reserve_out:
        raise Revert("ds-math-sub-underflow")
    if amount_out == reserve_out:
        raise Revert("division by zero")
    numerator = reserve_in * amount_out * FEE_DENOMINATOR
    denominator = (reserve_out - amount_out) * FEE_NUMERATOR
    return numerator // denominator + 1
