"""Parameters of the AMM pools (Uniswap v2 `UniswapV2Library.sol`; Curve StableSwap whitepaper)."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from defisim.base import unit

from defisim.base import protocol_of

__all__ = ["CpmmParams", "StableSwapParams"]


class _PoolParams(BaseModel):
    """Two tokens and their opening reserves (whole-token units)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token0: str = Field(min_length=1, description="symbol of token 0 (prices are quoted as token1 per token0)")
    token1: str = Field(min_length=1, description="symbol of token 1")
    reserve0: float = Field(gt=0, allow_inf_nan=False, description="opening reserve of token 0 (token units)")
    reserve1: float = Field(gt=0, allow_inf_nan=False, description="opening reserve of token 1 (token units)")
    ledgers: dict[str, protocol_of("token.ledger", role="token ledger")] | None = Field(
        None, description="symbol -> token ledger protocol holding that token; with it swaps move the traders' "
        "tokens and the pool holds its reserves on the ledgers (listed before the pool); without it only the "
        "reserves change")

    @model_validator(mode="after")
    def _distinct_tokens(self):
        if self.token0 == self.token1:
            raise ValueError(f"token0 and token1 must differ, both are {self.token0!r}")
        if self.ledgers is not None and set(self.ledgers) != {self.token0, self.token1}:
            raise ValueError(f"ledgers: expected one entry for each of {self.token0!r} and {self.token1!r}, "
                             f"got {sorted(self.ledgers)}")
        return self


class CpmmParams(_PoolParams):
    """A Uniswap-v2-like constant-product pool (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input).

    ``fee`` is the fraction of the input kept by the pool (0.003 = the v2 0.3%, i.e. 997/1000).

    Examples
    --------
    >>> CpmmParams(token0="ETH", token1="USDC", reserve0=1_000, reserve1=2_000_000).fee
    0.003
    """

    fee: float = Field(0.003, ge=0, lt=1,
        description="fraction of the input kept by the pool (0.003 = 0.3%)", json_schema_extra=unit("fraction"))


class StableSwapParams(_PoolParams):
    """A two-coin Curve StableSwap pool (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`).

    Both coins are valued 1:1 by the invariant (no rate multipliers): reserves are in whole-token units of
    coins meant to trade near par. ``A`` is the amplification as returned by ``pool.A()`` (the contract
    value, equal to the whitepaper A × n^(n−1), i.e. 2 × whitepaper A for two coins; without the
    ``A_PRECISION`` factor of newer pools); the math uses ``Ann = A·n``. ``fee`` is the fraction of the
    output kept by the pool (0.0001 = 1 bp = ``1e6`` in the contract's 1e10 units); the admin share of the
    fee is not modelled (the whole fee stays in the pool), nor are StableSwap-NG's dynamic fee and ``ramp_A``.

    Examples
    --------
    >>> StableSwapParams(token0="USDe", token1="USDC", reserve0=5e7, reserve1=5e7, A=100).fee
    0.0001
    """

    A: float = Field(ge=1, allow_inf_nan=False,
        description="amplification as returned by pool.A(), at least 1 (Ann = A·n)")
    fee: float = Field(0.0001, ge=0, lt=1,
        description="fraction of the output kept by the pool (0.0001 = 1 bp)", json_schema_extra=unit("fraction"))
