"""EIP-1559 fee market arithmetic (EIP-1559).

Base fees are integers in wei, updated exactly as in the specification; fees offered by
transactions are floats in gwei.
"""
from __future__ import annotations

__all__ = ["next_base_fee_wei", "effective_gas_price_gwei"]


def next_base_fee_wei(
    base_fee_wei: int,
    gas_used: int,
    gas_limit: int,
    elasticity: int = 2,
    max_change_denominator: int = 8,
) -> int:
    """Base fee of the child block, in wei (EIP-1559, EIP-1559).

    ``target = gas_limit // elasticity``; a block above target raises the base fee by at
    most 1/8 (and by at least 1 wei), one below lowers it by at most 1/8.

    Examples
    --------
    >>> next_base_fee_wei(20 * 10**9, 36_000_000, 36_000_000)   # full block: +12.5%
    22500000000
    >>> next_base_fee_wei(20 * 10**9, 18_000_000, 36_000_000)   # at target: unchanged
    20000000000
    >>> next_base_fee_wei(20 * 10**9, 0, 36_000_000)            # empty block: -12.5%
    17500000000
    """
    target = gas_limit // elasticity
    if gas_used == target:
        return base_fee_wei
    if gas_used > target:
        delta = base_fee_wei * (gas_used - target) // target // max_change_denominator
        return base_fee_wei + max(1, delta)
    delta = base_fee_wei * (target - gas_used) // target // max_change_denominator
    return base_fee_wei - delta


def effective_gas_price_gwei(max_fee_gwei: float, priority_fee_gwei: float, base_fee_gwei: float) -> float:
    """Price per gas a transaction pays: ``min(maxFee, baseFee + tip)`` (EIP-1559).

    >>> effective_gas_price_gwei(100.0, 2.0, 30.0)
    32.0
    >>> effective_gas_price_gwei(31.0, 2.0, 30.0)
    31.0
    """
    return min(max_fee_gwei, base_fee_gwei + priority_fee_gwei)
