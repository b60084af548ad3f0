"""Oracles that read an on-chain pool: its spot price, or a time-weighted average of it.

A **spot** oracle returns the pool's marginal price as it is at the moment it is read, so a
trade earlier in the same transaction or block moves it: the price that flash-loan
manipulations of lending markets exploit.

A **TWAP** oracle is Uniswap v2's (whitepaper, "Price oracle"; `UniswapV2Pair._update`,
`UniswapV2OracleLibrary.currentCumulativePrices`, the `ExampleSlidingWindowOracle`): the pair
accumulates ``price × seconds`` with the price as the *previous* block left it, updated before
the first trade of a block, and a consumer divides the growth of the accumulator over a window
by its length. A price pushed for one block and pushed back weighs ``slot / window`` in the
average, and a price moved and restored within one block not at all (the accumulator reads
the reserves before the block's first trade), so moving a TWAP means holding the pool off its
price, against arbitrageurs, for a good part of the window.

Both quote the pool's token ``asset`` in the pool's other token, priced by ``quote_oracle`` (an
oracle protocol, USD) or taken as worth $1 (a dollar stablecoin). Times are ms; prices USD.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from defisim.graph import Exposure

from .model import _Oracle
from .params import SpotOracleParams, TwapOracleParams

__all__ = ["SpotOracle", "TwapOracle", "TwapState"]


class _PoolOracle(_Oracle):
    """The pool, the priced token and the quote token's price, shared by the two pool oracles."""

    def __init__(self, name: str, params, host):
        super().__init__(name, params, host)
        pool = host.protocols.get(params.pool)
        if pool is None or not hasattr(pool, "price") or not hasattr(pool, "tokens"):
            raise ValueError(f"protocols.{name}.pool: {params.pool!r} must be a swap pool listed before the oracle")
        if params.asset not in pool.tokens:
            raise ValueError(f"protocols.{name}.asset: {params.asset!r} is not a "
                             f"token of {params.pool!r} (it trades {pool.tokens[0]} and {pool.tokens[1]})")
        self._pool = pool
        self._quote = None
        if params.quote_oracle is not None:
            quote = host.protocols.get(params.quote_oracle)
            if not isinstance(quote, _Oracle):
                raise ValueError(f"protocols.{name}.quote_oracle: {params.quote_oracle!r} must be an oracle listed "
                                 "before it")
            self._quote = quote

    def _quote_usd(self) -> float:
        return 1.0 if self._quote is None else float(self._quote.price())

    def spot(self) -> float:
        """The pool's marginal price of ``asset`` now, in USD."""
        return self._pool.price(self.params.asset) * self._quote_usd()

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """Its price is the pool's (``oracle``); it holds nothing."""
        out = [Exposure(self.name, self.params.pool, "oracle", 0.0)]
        if self.params.quote_oracle is not None:
            out.append(Exposure(self.name, self.params.quote_oracle, "oracle", 0.0))
        return out

    def prices(self) -> dict[str, float]:
        return {"answer": self.price(), "spot": self.spot()}

    def view(self) -> float:
        return self.price()


class SpotOracle(_PoolOracle):
    """``oracles.spot``: the pool's marginal price of ``asset`` at the moment it is read (USD)."""

    kind = "oracles.spot"
    Params = SpotOracleParams

    def __init__(self, name: str, params: SpotOracleParams, host):
        super().__init__(name, params, host)
        self.first_price = self.price()

    def price(self) -> float:
        return self.spot()


@dataclass
class TwapState:
    """The accumulator (USD·ms: each block-start price times the time it had stood), the time it
    was last updated (ms) and its observations (``times_ms``, ``cumulatives``), one per block,
    kept back to the window's start."""

    cumulative: float = 0.0
    last_ms: int = 0
    times_ms: list = field(default_factory=list)
    cumulatives: list = field(default_factory=list)


class TwapOracle(_PoolOracle):
    """``oracles.twap``: the average of the pool's price of ``asset`` over the last ``window``
    (USD), as a Uniswap v2 sliding-window oracle computes it from the pair's cumulative price.

    At each block's start (before its transactions) the accumulator grows by the price the last
    block left times the time since the previous block; :meth:`price` is ``(C(now) − C(now − window))
    / window``, ``C`` read between the two observations around ``now − window`` (the price stood
    still between them, so ``C`` is linear there: the average is exact). Before the run
    the pool is taken to have stood at its opening price for a window (its history is not an
    input), so a young run's average is not a short one."""

    kind = "oracles.twap"
    Params = TwapOracleParams

    def __init__(self, name: str, params: TwapOracleParams, host):
        super().__init__(name, params, host)
        start, window = self.spot(), self.params.window
        # the pool opens the run at the price it has held for a window (the pair existed before)
        self.state = TwapState(start * window, 0, [-window, 0], [0.0, start * window])
        self.first_price = start

    def on_block(self, block) -> None:
        """`UniswapV2Pair._update` at the block's first touch: the price the previous block left
        (the reserves before this block's transactions) has stood since the last update."""
        s, now = self.state, block.time_ms
        if now > s.last_ms:
            s.cumulative += self.spot() * (now - s.last_ms)
            s.last_ms = now
            s.times_ms.append(now)
            s.cumulatives.append(s.cumulative)
            # drop what lies wholly before the window (keep its latest start)
            cut = bisect.bisect_right(s.times_ms, now - self.params.window) - 1
            if cut > 0:
                del s.times_ms[:cut], s.cumulatives[:cut]

    def price(self) -> float:
        s = self.state
        now = s.last_ms
        start = now - self.params.window
        i = bisect.bisect_right(s.times_ms, start) - 1
        t0, c0 = s.times_ms[i], s.cumulatives[i]
        if i + 1 < len(s.times_ms):  # the price stood still between observations: C is linear there
            t1, c1 = s.times_ms[i + 1], s.cumulatives[i + 1]
            c0 += (c1 - c0) * (start - t0) / (t1 - t0)
        return (s.cumulative - c0) / self.params.window
