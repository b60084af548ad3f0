"""AMM pools as protocols: state and the ``swap`` handler (Uniswap v2 `UniswapV2Library.sol`; Curve StableSwap whitepaper).

Two kinds share one shape and one event table, ``swaps``:

- ``amm.cpmm`` (class:`CpmmPool`): Uniswap-v2-like constant product, fee taken from the input (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input);
- ``amm.stableswap`` (class:`StableSwapPool`): two-coin Curve StableSwap, fee taken from the output (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`).

Token custody: with ``ledgers`` (symbol → token ledger) the pool holds its reserves at its own address on
the ledgers (the opening reserves are issued to it when the scenario starts, like any opening balance) and
a swap moves the trader's tokens: ``amount_in`` from the trader to the pool, the output back. Without
``ledgers`` a swap changes only the reserves (a pool studied on its own). Liquidity provision (mint/burn of
LP shares) is not modelled: reserves change only by swaps.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from defisim.base import Column
from defisim.graph import Exposure
from defisim.base import Protocol, handler, is_number
from defisim.base import Revert

from .math import cpmm_spot_price, exchange_amounts, get_amount_in, get_amount_out, get_D, stableswap_spot_price
from .params import CpmmParams, StableSwapParams

__all__ = ["PoolState", "SwapQuote", "CpmmPool", "StableSwapPool", "SWAP_COLUMNS", "INVARIANT_RTOL"]

SWAP_COLUMNS = [
    Column("block", "int64", "block number (-1 outside a block)"),
    Column("pool", "string", "pool protocol instance"),
    Column("sender", "string", "trader address"),
    Column("token_in", "string", "symbol of the token sold into the pool"),
    Column("amount_in", "float64", "token_in units sold, fee included"),
    Column("token_out", "string", "symbol of the token bought from the pool"),
    Column("amount_out", "float64", "token_out units received, after fee"),
    Column("price_after", "float64", "marginal price of token0 in token1 units after the swap (no fee)"),
]
#: A swap reverts if it would lower the pool's invariant (k or D) by more than this fraction: the fee makes
#: it grow in exact arithmetic, so only float cancellation at extreme trade sizes (inputs ~1e14 × the
#: reserve) can trip it; it plays the part of Uniswap v2's ``K`` check.
INVARIANT_RTOL = 1e-12
SWAPS_DOC = "swaps executed on AMM pools (amm.cpmm, amm.stableswap), one row per successful swap"


class SwapQuote(NamedTuple):
    """A checked swap: index ``i`` of the token sold, ``amount_in`` and ``amount_out`` (token
    units, after fee), the ``fee`` and the index of the token holding it, the reserves after."""

    i: int
    amount_in: float
    amount_out: float
    fee: float
    fee_token: int
    reserves_after: list


class PoolMarket:
    """A two-token pool seen as a market for one of its tokens, in units of the other (taken as
    USD): ``mid`` is the marginal price (no fee), ``quote_sell`` the pool's own quote (fee and
    impact) of selling into it now."""

    def __init__(self, pool: "_TwoTokenPool", asset: str):
        self._pool, self._asset = pool, asset

    def mid(self, t_ms: int) -> float:
        return self._pool.price(self._asset)

    def quote_sell(self, amount_tokens: float, t_ms: int) -> tuple[float, float]:
        if not amount_tokens > 0:
            return 0.0, self.mid(t_ms)
        try:
            out = self._pool.quote(self._asset, amount_tokens)
        except (ArithmeticError, ValueError):
            out = 0.0
        return out, out / amount_tokens


@dataclass
class PoolState:
    """Mutable state of a two-token pool (token units).

    ``reserves[k]`` is the pool's balance of token k; ``fees[k]`` the part of it collected as fees
    (already inside ``reserves``; kept to report fee income).
    """

    reserves: list[float]
    fees: list[float]


class _TwoTokenPool(Protocol, ABC):
    """Shared checks, effects, view and summary of the two-token pools.

    A subclass gives the pure :meth:`_quote` (output and fee of a swap), :meth:`_spot` (price at given
    reserves) and :meth:`_invariant` (k or D at given reserves), and declares ``swap`` with its own gas through :func:`~defisim.base.protocol.handler`.
    """

    def __init__(self, name: str, params, host):
        super().__init__(name, params, host)
        self.tokens: tuple[str, str] = (params.token0, params.token1)
        self.state = PoolState([float(params.reserve0), float(params.reserve1)], [0.0, 0.0])
        self._log = host.log.declare("swaps", SWAPS_DOC, SWAP_COLUMNS)
        self._ledgers = None
        if params.ledgers is not None:
            missing = [p for p in params.ledgers.values() if p not in host.protocols]
            if missing:
                raise ValueError(f"protocols.{name}.ledgers: {missing} must be listed before the pool in the scenario")
            self._ledgers = tuple(host.protocols[params.ledgers[t]] for t in self.tokens)
            for ledger, amount in zip(self._ledgers, self.state.reserves):
                ledger.issue_quietly(name, amount)

    # -- pure helpers (read the state, never change it) ----------------------------------------
    @abstractmethod
    def _quote(self, i: int, amount_in: float) -> tuple[float, float, int]:
        """(amount out after fee, fee, index of the token holding the fee) of selling ``amount_in`` of token i."""

    @abstractmethod
    def _spot(self, reserves: list[float]) -> float:
        """Marginal price of token0 in token1 units (no fee) at ``reserves``."""

    def spot_price(self) -> float:
        """Marginal price of token0 in token1 units now (no fee)."""
        return self._spot(self.state.reserves)

    @abstractmethod
    def _invariant(self, reserves: list[float]) -> float:
        """The quantity a swap must not decrease (k, or D), at ``reserves``."""

    def price(self, token: str) -> float:
        """Marginal price of ``token`` in units of the other token of the pool (no fee).

        Raises
        ------
        KeyError
            If ``token`` is not one of the pool's two tokens.
        """
        if token == self.tokens[0]:
            return self.spot_price()
        if token == self.tokens[1]:
            return 1.0 / self.spot_price()
        raise KeyError(f"{self.name} trades {self.tokens[0]} and {self.tokens[1]}, not {token!r}")

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """The pool holds both reserves (``lp``), valued in units of token 1 (USD in the built-in
        scenarios, where token 1 is a dollar stablecoin): reserve 0 at the spot price."""
        r0, r1 = self.state.reserves
        names = self.params.ledgers or {}
        return [Exposure(self.name, names.get(self.tokens[0], self.tokens[0]), "lp", r0 * self.spot_price()),
                Exposure(self.name, names.get(self.tokens[1], self.tokens[1]), "lp", r1)]

    def market(self, asset: str) -> "PoolMarket | None":
        """The pool as a place to sell ``asset`` (one of its tokens), the other token taken as
        worth $1 (a dollar stablecoin, as in the built-in scenarios)."""
        return PoolMarket(self, asset) if asset in self.tokens else None

    def quote(self, token_in: str, amount_in: float) -> float:
        """Output of selling ``amount_in`` of ``token_in`` now (token units, after fee); no state change."""
        return self._quote(self.tokens.index(token_in), float(amount_in))[0]

    def _block_number(self) -> int:
        return -1 if self.block is None else self.block.number

    # -- the call ----------------------------------------------------------------------------
    def check_swap(self, token_in: str, amount_in: float, min_amount_out: float = 0.0) -> SwapQuote:
        """The checks of ``swap``, no state change: what selling ``amount_in`` of ``token_in`` now
        gives, or :class:`~defisim.base.Revert` with the reason ``swap`` would revert with (the
        trader's balance aside). A contract that swaps inside a larger call (a flash liquidation)
        checks with it before any of its effects."""
        if token_in not in self.tokens:
            raise Revert(f"unknown token {token_in!r}")
        if not (is_number(amount_in) and math.isfinite(amount_in) and amount_in > 0):
            raise Revert("amount_in must be a positive finite number")
        if not (is_number(min_amount_out) and min_amount_out >= 0 and not math.isnan(min_amount_out)):
            raise Revert("min_amount_out must be a non-negative number")
        i = self.tokens.index(token_in)
        j = 1 - i
        reserves = self.state.reserves
        try:
            amount_out, fee, fee_token = self._quote(i, float(amount_in))
        except (ArithmeticError, ValueError):
            raise Revert("pool math failed") from None
        if not (math.isfinite(amount_out) and amount_out > 0):
            raise Revert("insufficient output amount")
        if not amount_out < reserves[j]:
            raise Revert("insufficient liquidity")
        if amount_out < min_amount_out:
            raise Revert("slippage")
        new = list(reserves)
        new[i] += float(amount_in)
        new[j] -= amount_out
        self._check_invariant(new)
        return SwapQuote(i, float(amount_in), amount_out, fee, fee_token, new)

    def _check_invariant(self, new: list[float]) -> None:
        try:
            shrinks = self._invariant(new) < self._invariant(self.state.reserves) * (1.0 - INVARIANT_RTOL)
            self._spot(new)  # the price after must be computable: checked here, before any effect
        except (ArithmeticError, ValueError):
            raise Revert("pool math failed") from None
        if shrinks:  # float cancellation at extreme sizes
            raise Revert("invariant would decrease")

    def _swap(self, sender: str, token_in: str, amount_in: float, min_amount_out: float) -> float:
        """Checks, then effects, of ``swap``; returns the output (token units)."""
        q = self.check_swap(token_in, amount_in, min_amount_out)
        if self._ledgers is not None and self._ledgers[q.i].balance_of(sender) < amount_in:
            raise Revert("insufficient balance")
        return self._apply(sender, q)

    def _apply(self, sender: str, q: SwapQuote) -> float:
        """Effects of a checked swap: the tokens move, the reserves and fees change, one ``swaps`` row."""
        self.flash_send(sender, q)
        return self.flash_settle(sender, q)

    def flash_send(self, receiver: str, q: SwapQuote) -> None:
        """First half of a checked flash swap (Uniswap v2 `UniswapV2Pair.swap`: the output is sent
        before the input arrives): ``q.amount_out`` leaves the pool for ``receiver``."""
        if self._ledgers is not None:
            self._ledgers[1 - q.i].move(self.name, receiver, q.amount_out)

    def flash_settle(self, sender: str, q: SwapQuote) -> float:
        """Second half: ``q.amount_in`` arrives from ``sender``; the reserves and fees change and the
        swap is recorded. Returns the output (token units)."""
        i, j = q.i, 1 - q.i
        price_after = self._spot(q.reserves_after)
        if self._ledgers is not None:
            self._ledgers[i].move(sender, self.name, q.amount_in)
        self.state.reserves[i], self.state.reserves[j] = q.reserves_after[i], q.reserves_after[j]
        self.state.fees[q.fee_token] += q.fee
        self._log.append(
            (self._block_number(), self.name, sender, self.tokens[i], q.amount_in, self.tokens[j], q.amount_out, price_after)
        )
        return q.amount_out

    def apply_swap(self, sender: str, q: SwapQuote) -> float:
        """The effects of a swap checked by :meth:`check_swap` (or :meth:`check_swap_out`), for a
        contract that swaps inside its own call after checking everything; the sender must hold
        ``q.amount_in`` of the input token. Returns the output (token units)."""
        if self._ledgers is not None and self._ledgers[q.i].balance_of(sender) < q.amount_in:
            raise Revert("insufficient balance")
        return self._apply(sender, q)

    # -- hooks ---------------------------------------------------------------------------------
    def prices(self) -> dict[str, float]:
        """``price``: token 0 in token 1 units, marginal (recorded per block in ``prices``; USD when
        token 1 is a dollar)."""
        return {"price": self.spot_price()}

    def view(self) -> dict:
        """Read-only snapshot: ``tokens``, ``reserves`` (token units), ``fees`` collected, ``fee``, ``price``
        (token0 in token1, marginal, no fee); plain immutable values, safe to hand to agents."""
        return {
            "kind": self.kind,
            "tokens": self.tokens,
            "reserves": tuple(self.state.reserves),
            "fees": tuple(self.state.fees),
            "fee": self.params.fee,
            "price": self.spot_price(),
        }

    def summary(self, tables: dict) -> dict:
        """``swaps`` (count), ``volume0``/``volume1`` (token units of each token's leg, both directions),
        ``price`` (final, token0 in token1), ``reserve0``/``reserve1`` (final, token units)."""
        t = tables["swaps"]
        mine = t[t["pool"] == self.name]
        sold0 = mine["token_in"] == self.tokens[0]
        return {
            "swaps": int(len(mine)),
            "volume0": float(mine.loc[sold0, "amount_in"].sum() + mine.loc[~sold0, "amount_out"].sum()),
            "volume1": float(mine.loc[~sold0, "amount_in"].sum() + mine.loc[sold0, "amount_out"].sum()),
            "price": float(self.spot_price()),
            "reserve0": float(self.state.reserves[0]),
            "reserve1": float(self.state.reserves[1]),
        }


class CpmmPool(_TwoTokenPool):
    """Uniswap-v2-like constant-product pool (Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input). Call: ``swap(token_in, amount_in, min_amount_out)``.

    The fee (``params.fee`` of the input) stays in the pool: ``(R_in + a)·(R_out − out) >= R_in·R_out``.
    Gas: 110,000 on success, 35,000 when it reverts (the router checks ``amountOutMin`` before any transfer);
    placeholder estimates [U], not measured.

    Examples
    --------
    >>> from defisim.base import EventLog
    >>> class Host: log = EventLog()
    >>> pool = CpmmPool("eth_usdc", CpmmParams(token0="ETH", token1="USDC", reserve0=1_000, reserve1=2_000_000), Host())
    >>> out = CpmmPool.handlers["swap"].fn(pool, "alice", token_in="ETH", amount_in=100.0, min_amount_out=180_000.0)
    >>> round(out, 2), round(pool.price("ETH"), 2)  # Uniswap v2 `UniswapV2Library.getAmountOut`: 0.3% fee on the input: new spot $1,653.34
    (181322.18, 1653.34)
    """

    kind: ClassVar[str] = "amm.cpmm"
    Params = CpmmParams

    def _quote(self, i: int, amount_in: float) -> tuple[float, float, int]:
        r = self.state.reserves
        return get_amount_out(amount_in, r[i], r[1 - i], self.params.fee), amount_in * self.params.fee, i

    def _spot(self, reserves: list[float]) -> float:
        return cpmm_spot_price(reserves[0], reserves[1])

    def _invariant(self, reserves: list[float]) -> float:
        return reserves[0] * reserves[1]

    @handler(gas=110_000, revert_gas=35_000)
    def swap(self, sender: str, token_in: str, amount_in: float, min_amount_out: float = 0.0) -> float:
        """Sell ``amount_in`` of ``token_in`` for the other token; reverts with ``"slippage"`` if the output
        would be below ``min_amount_out``. Returns the output (token units)."""
        return self._swap(sender, token_in, amount_in, min_amount_out)

    def check_swap_out(self, token_out: str, amount_out: float) -> SwapQuote:
        """A flash swap's repayment (Uniswap v2 `UniswapV2Pair.swap` with ``data``: the pair sends
        ``amount_out`` first, then requires ``(R_in + a)·(R_out − out) >= R_in·R_out`` with the
        fee on the input ``a``): the least input of the other token that repays ``amount_out``
        of ``token_out``, ``UniswapV2Library.getAmountIn``; no state change. Reverts
        ``"insufficient liquidity"`` unless ``amount_out`` is below the reserve."""
        if token_out not in self.tokens:
            raise Revert(f"unknown token {token_out!r}")
        if not (is_number(amount_out) and math.isfinite(amount_out) and amount_out > 0):
            raise Revert("amount_out must be a positive finite number")
        j = self.tokens.index(token_out)
        i = 1 - j
        reserves = self.state.reserves
        if not amount_out < reserves[j]:
            raise Revert("insufficient liquidity")
        amount_in = get_amount_in(float(amount_out), reserves[i], reserves[j], self.params.fee)
        if not math.isfinite(amount_in):
            raise Revert("insufficient liquidity")
        new = list(reserves)
        new[i] += amount_in
        new[j] -= float(amount_out)
        self._check_invariant(new)
        return SwapQuote(i, amount_in, float(amount_out), amount_in * self.params.fee, i, new)


class StableSwapPool(_TwoTokenPool):
    """Two-coin Curve StableSwap pool (Curve StableSwap whitepaper, Egorov 2019, and its `get_D` / `get_y`). Call: ``swap(token_in, amount_in, min_amount_out)``.

    Output ``dy·(1 − fee)`` with ``dy = x_j − get_y(i, j, x_i + dx)``; the fee ``dy·fee`` stays in the pool
    (no admin share), so D grows. Gas: 150,000 on success, 80,000 when it reverts (the ``min_dy`` check comes
    after the Newton iterations, before the transfers); placeholder estimates [U], not measured.

    Examples
    --------
    >>> from defisim.base import EventLog
    >>> class Host: log = EventLog()
    >>> params = StableSwapParams(token0="USDe", token1="USDC", reserve0=50e6, reserve1=50e6, A=100)
    >>> pool = StableSwapPool("curve", params, Host())
    >>> round(StableSwapPool.handlers["swap"].fn(pool, "bob", token_in="USDe", amount_in=10e6), 2)  # worked example
    9978436.37
    """

    kind: ClassVar[str] = "amm.stableswap"
    Params = StableSwapParams

    def _quote(self, i: int, amount_in: float) -> tuple[float, float, int]:
        out, fee = exchange_amounts(i, 1 - i, amount_in, self.state.reserves, self.params.A, self.params.fee)
        return out, fee, 1 - i

    def _spot(self, reserves: list[float]) -> float:
        return stableswap_spot_price(0, 1, reserves, self.params.A)

    def _invariant(self, reserves: list[float]) -> float:
        return get_D(reserves, self.params.A)

    def view(self) -> dict:
        """As for every pool, plus ``A`` (as returned by ``pool.A()``)."""
        return {**super().view(), "A": self.params.A}

    @handler(gas=150_000, revert_gas=80_000)
    def swap(self, sender: str, token_in: str, amount_in: float, min_amount_out: float = 0.0) -> float:
        """Sell ``amount_in`` of ``token_in`` for the other coin; reverts with ``"slippage"`` if the output
        would be below ``min_amount_out``. Returns the output (token units)."""
        return self._swap(sender, token_in, amount_in, min_amount_out)
