"""Background demand: the rest of the chain's users as a statistical process (DESIGN §3).

Not one object per background transaction: each block draws a Poisson count of competing
transactions with a priority fee and a fee cap each, as arrays. They fill blocks and set
the tip a simulated actor must beat to get in (mechanics §7.3).
"""
from __future__ import annotations

import numpy as np

from .rng import ChunkedDraws
from .spec import BackgroundSpec

__all__ = ["BackgroundDemand"]


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
    """

    def __init__(self, spec: BackgroundSpec, rng: np.random.Generator):
        self.spec = spec
        self.gas_per_tx = spec.gas_per_tx
        self._rng = rng
        self._tips = ChunkedDraws(spec.tip_gwei.sample, rng, 1 << 14)
        self._uniforms = ChunkedDraws(lambda g, n: g.random(n), rng, 1 << 14)
        self._fixed_caps = spec.max_fee_gwei.kind == "fixed"

    def multipliers(self, time_ms: int) -> tuple[float, float]:
        """(rate multiplier, tip multiplier) in force at ``time_ms`` (spikes multiply)."""
        rate, tip = 1.0, 1.0
        for s in self.spec.spikes:
            if s.start <= time_ms < s.start + s.duration:
                rate *= s.rate_multiplier
                tip *= s.tip_multiplier
        return rate, tip

    def draw(self, time_ms: int, base_fee_gwei: float) -> np.ndarray:
        """Effective tips (gwei per gas) of the includable background transactions of one block."""
        rate_mult, tip_mult = self.multipliers(time_ms) if self.spec.spikes else (1.0, 1.0)
        caps = self.spec.max_fee_gwei
        includable = caps.sf(base_fee_gwei)
        lam = self.spec.rate_tx_per_block * rate_mult * includable
        if lam <= 0:
            return np.empty(0)
        n = int(self._rng.poisson(lam))
        tips = self._tips.take(n)
        if tip_mult != 1.0:
            tips = tips * tip_mult
        if self._fixed_caps:
            return np.minimum(tips, caps.value - base_fee_gwei)
        # cap | cap >= b by inverse transform: u uniform on [F(b), 1)
        u = self._uniforms.take(n) * includable + (1.0 - includable)
        return np.minimum(tips, caps.ppf(u) - base_fee_gwei)
