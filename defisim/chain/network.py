"""Network latency: sender → public mempool, sender → builder (go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest).

A :class:`LatencySampler` belongs to one sender and draws from that sender's own random
stream, so one agent's traffic never shifts another's latencies.
"""
from __future__ import annotations

import numpy as np

from defisim.base.rng import ChunkedDraws

__all__ = ["LatencySampler"]


class LatencySampler:
    """Whole-millisecond latencies drawn from a distribution (values in ms).

    Examples
    --------
    >>> from defisim.base.distributions import Uniform
    >>> s = LatencySampler(Uniform(low=100, high=200), np.random.default_rng(0))
    >>> all(100 <= s.next_ms() <= 200 for _ in range(100))
    True
    """

    __slots__ = ("_draws", "next_ms")

    def __init__(self, dist, rng: np.random.Generator, chunk: int = 1024):
        if dist.kind == "fixed":
            value = int(round(dist.value))
            self.next_ms = lambda: value
        else:
            self._draws = ChunkedDraws(lambda g, n: np.rint(dist.sample(g, n)).astype(np.int64), rng, chunk)
            self.next_ms = self._draws.next
        # next_ms() -> int: the next latency in milliseconds
