"""Background demand: the rest of the chain's users as a statistical process.

Not one object per background transaction: each block draws a Poisson count of competing
transactions with a priority fee and a fee cap each, as arrays. They fill blocks and set
the tip a simulated actor must beat to get in (go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from defisim.base.rng import ChunkedDraws
from defisim.chain.spec import BackgroundSpec

__all__ = ["BackgroundDemand", "BlockDemand"]


class BlockDemand(NamedTuple):
    """The background demand of one block: ``n`` transactions can pay the base fee."""

    n: int  #: includable background transactions (fee cap ≥ base fee)
    base_fee_gwei: float  #: base fee of the block (gwei)
    includable: float  #: P[fee cap ≥ base fee]
    tip_multiplier: float  #: product of the spikes' tip multipliers in force


class BackgroundDemand:
    """Per-block background transactions.

    Parameters
    ----------
    spec : BackgroundSpec
    rng : numpy.random.Generator
        The stream ``"background"``.

    Notes
    -----
    Of ``Poisson(λ)`` background transactions, those whose fee cap is below the base fee
    ``b`` cannot be included; the others bid ``min(tip, cap − b)`` per gas. By Poisson
    thinning the includable ones are ``Poisson(λ · P[cap ≥ b])`` in number, with caps drawn
    from the cap distribution conditioned on ``cap ≥ b`` (inverse transform), so only
    includable transactions are ever drawn. Demand left out of a block is not carried
    over: each block draws afresh, so the number of blocks a fixed bid waits is geometric
    with a closed-form mean.

    A block first draws its count (:meth:`demand`). When simulated actors compete with the
    background for the block, or not all of it fits, the builder needs every effective tip
    (:meth:`effective_tips`). Otherwise all ``n`` are included and only the lowest of their
    tips is observable; :meth:`lowest_tip` draws it directly from its exact law, the minimum
    of ``n`` independent effective tips, without drawing the ``n`` tips.
    """

    def __init__(self, spec: BackgroundSpec, rng: np.random.Generator):
        self.spec = spec
        self.gas_per_tx = spec.gas_per_tx
        self._rng = rng
        self._tips = ChunkedDraws(spec.tip_gwei.sample, rng, 1 << 14)
        self._uniforms = ChunkedDraws(lambda g, n: g.random(n), rng, 1 << 14)
        self._next_uniform = ChunkedDraws(lambda g, n: g.random(n), rng, 1 << 12).next  # for lowest_tip
        self._fixed_caps = spec.max_fee_gwei.kind == "fixed"
        self._rate = spec.rate_tx_per_block
        self._includable = spec.max_fee_gwei.sf
        self._tip_quantile = spec.tip_gwei.quantile
        self._cap_quantile = spec.max_fee_gwei.quantile

    def multipliers(self, time_ms: int) -> tuple[float, float]:
        """(rate multiplier, tip multiplier) in force at ``time_ms`` (spikes multiply)."""
        rate, tip = 1.0, 1.0
        for s in self.spec.spikes:
            if s.start <= time_ms < s.start + s.duration:
                rate *= s.rate_multiplier
                tip *= s.tip_multiplier
        return rate, tip

    def demand(self, time_ms: int, base_fee_gwei: float) -> BlockDemand:
        """Draw the number of background transactions of a block that can pay ``base_fee_gwei``."""
        rate_mult, tip_mult = self.multipliers(time_ms) if self.spec.spikes else (1.0, 1.0)
        includable = self._includable(base_fee_gwei)
        lam = self._rate * rate_mult * includable
        n = int(self._rng.poisson(lam)) if lam > 0 else 0
        return BlockDemand(n, base_fee_gwei, includable, tip_mult)

    def effective_tips(self, d: BlockDemand) -> np.ndarray:
        """The ``d.n`` effective tips ``min(tip, cap − b)`` (gwei per gas), in no particular order."""
        n, base = d.n, d.base_fee_gwei
        tips = self._tips.take(n)
        if d.tip_multiplier != 1.0:
            tips = tips * d.tip_multiplier
        caps = self.spec.max_fee_gwei
        if self._fixed_caps:
            return np.minimum(tips, caps.value - base)
        # cap | cap >= b by inverse transform: u uniform on [F(b), 1)
        u = self._uniforms.take(n) * d.includable + (1.0 - d.includable)
        return np.minimum(tips, caps.ppf(u) - base)

    def lowest_tip(self, d: BlockDemand) -> float:
        """The lowest of the ``d.n`` effective tips (gwei per gas; ``d.n`` ≥ 1), drawn exactly.

        ``min_i min(tip_i, cap_i − b) = min(min_i tip_i, min_i cap_i − b)`` and tips and caps
        are independent. The minimum of ``n`` independent draws with quantile function ``Q``
        is ``Q(1 − V^(1/n))``, ``V`` uniform on (0, 1]; for caps conditioned on ``cap ≥ b``
        (``s = P[cap ≥ b]``) it is ``Q(1 − s·W^(1/n))``.
        """
        n = d.n
        v = 1.0 - self._next_uniform()  # uniform on (0, 1]
        w = 1.0 - self._next_uniform()
        lowest = self._tip_quantile(-math.expm1(math.log(v) / n)) * d.tip_multiplier
        lowest_cap = self._cap_quantile(1.0 - d.includable * math.exp(math.log(w) / n))
        return min(lowest, lowest_cap - d.base_fee_gwei)
