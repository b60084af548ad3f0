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
    A background transaction whose fee cap is below the base fee cannot be included; the
    others bid ``min(tip, cap − base fee)`` per gas. Demand left out of a block is not
    carried over: the count of competitors in each block is a fresh Poisson draw, so the
    number of blocks a fixed bid waits is geometric with a closed-form mean.
    """

    def __init__(self, spec: BackgroundSpec, rng: np.random.Generator):
        self.spec = spec
        self.gas_per_tx = spec.gas_per_tx
        self._rng = rng
        self._counts: dict[float, ChunkedDraws] = {}
        self._tips = ChunkedDraws(spec.tip_gwei.sample, rng, 1 << 12)
        self._caps = ChunkedDraws(spec.max_fee_gwei.sample, rng, 1 << 12)

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
        lam = self.spec.rate_tx_per_block * rate_mult
        if lam <= 0:
            return np.empty(0)
        counts = self._counts.get(lam)
        if counts is None:
            counts = self._counts[lam] = ChunkedDraws(lambda g, n, lam=lam: g.poisson(lam, n), self._rng, 1024)
        n = counts.next()
        tips = self._tips.take(n)
        caps = self._caps.take(n)
        if tip_mult != 1.0:
            tips = tips * tip_mult
        headroom = caps - base_fee_gwei
        eff = np.minimum(tips, headroom)
        return eff[headroom >= 0.0]
