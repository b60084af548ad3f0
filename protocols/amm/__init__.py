"""AMM pools (mechanics.md §6): a constant-product pool and a StableSwap pool, with their math in
:mod:`protocols.amm.math`.

Swaps move the pools' reserves exactly; traders' token balances are not moved yet (see
:mod:`protocols.amm.model`).
"""
from .model import CpmmPool, PoolState, StableSwapPool
from .params import CpmmParams, StableSwapParams

__all__ = ["CpmmPool", "StableSwapPool", "PoolState", "CpmmParams", "StableSwapParams", "register"]


def register(registry) -> None:
    """Register the AMM kinds ``amm.cpmm`` and ``amm.stableswap``."""
    registry.protocol("amm.cpmm", CpmmParams, CpmmPool, "Uniswap-v2-like constant-product pool: swap")
    registry.protocol("amm.stableswap", StableSwapParams, StableSwapPool, "two-coin Curve StableSwap pool: swap")
