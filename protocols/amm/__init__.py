"""AMM pools (Uniswap v2 `UniswapV2Library.sol`; Curve StableSwap whitepaper): a constant-product pool and a StableSwap pool, with their math in
:mod:`protocols.amm.math`.

Swaps move the pools' reserves exactly and, with ``ledgers``, the traders' tokens;
:func:`~protocols.amm.agents.Arbitrageur` trades constant-product pools toward a venue's price.
"""
from .agents import Arbitrageur, ArbitrageurParams
from .manipulator import Manipulator, ManipulatorParams, check_manipulator
from .model import CpmmPool, PoolState, StableSwapPool
from .params import CpmmParams, StableSwapParams

__all__ = ["CpmmPool", "StableSwapPool", "PoolState", "CpmmParams", "StableSwapParams", "Arbitrageur",
           "ArbitrageurParams", "Manipulator", "ManipulatorParams", "register"]


def register(registry) -> None:
    """Register the AMM kinds ``amm.cpmm`` and ``amm.stableswap``."""
    registry.protocol("amm.cpmm", CpmmParams, CpmmPool, "Uniswap-v2-like constant-product pool: swap")
    registry.protocol("amm.stableswap", StableSwapParams, StableSwapPool, "two-coin Curve StableSwap pool: swap")
    registry.agent("amm.arbitrageur", ArbitrageurParams, Arbitrageur, "trades a constant-product pool toward a venue's price")
    registry.agent("amm.manipulator", ManipulatorParams, Manipulator,
                   "pushes a pool off its price with one large swap and swaps back (to move a spot or TWAP oracle)",
                   check_manipulator)
