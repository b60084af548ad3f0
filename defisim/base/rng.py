"""Randomness: one root seed, named independent streams.

Every component asks for its own stream by a stable name (``"keeper/3"``, ``"feed/ETH"``).
The stream's seed is derived from the root seed and a hash of the name, never from the
order in which streams were requested, so adding an agent shifts nobody else's numbers.
"""
from __future__ import annotations

import hashlib
import itertools
from typing import Callable, Iterator

import numpy as np

__all__ = ["RngTree", "stream_key", "ChunkedDraws"]


def stream_key(name: str) -> tuple[int, ...]:
    """Stable spawn key for a stream name: four 32-bit words of its SHA-256.

    >>> stream_key("keeper/3") == stream_key("keeper/3")
    True
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RngTree:
    """Hands out named, independent ``numpy.random.Generator`` streams from one root seed.

    Parameters
    ----------
    seed : int
        The root seed (a non-negative integer).

    Examples
    --------
    >>> a = RngTree(7).stream("feed/ETH").random()
    >>> b = RngTree(7).stream("feed/ETH").random()
    >>> a == b, a != RngTree(7).stream("feed/BTC").random()
    (True, True)
    """

    def __init__(self, seed: int):
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self._issued: set[str] = set()

    def stream(self, name: str) -> np.random.Generator:
        """A fresh generator for ``name``; asking twice for one name is an error.

        Two components sharing one stream would shift each other's numbers, so each name
        is issued once per tree.
        """
        if name in self._issued:
            raise ValueError(f"random stream {name!r} was already issued; give each component its own name")
        self._issued.add(name)
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=stream_key(name))
        return np.random.Generator(np.random.PCG64(ss))


class ChunkedDraws:
    """Draws from a generator in chunks and hands out one value at a time, or slices.

    A numpy call costs about a microsecond whatever its size, so per-event draws
    (a latency per transaction, a Poisson count per block) are drawn ``chunk`` at a time.
    Use one object either value by value (:attr:`next`) or in slices (:meth:`take`), not
    both: each keeps its own buffer. The sequence of values is a pure function of the
    generator's state, so results stay deterministic.

    Parameters
    ----------
    draw : callable
        ``draw(rng, size) -> ndarray``.
    rng : numpy.random.Generator
    chunk : int
        Values drawn per refill.

    Examples
    --------
    >>> d = ChunkedDraws(lambda rng, n: rng.integers(0, 1000, n), np.random.default_rng(1), chunk=4)
    >>> [d.next() for _ in range(6)] == np.random.default_rng(1).integers(0, 1000, 8)[:6].tolist()
    True
    >>> d = ChunkedDraws(lambda rng, n: rng.integers(0, 1000, n), np.random.default_rng(1), chunk=4)
    >>> np.concatenate([d.take(3), d.take(3)]).tolist() == np.random.default_rng(1).integers(0, 1000, 8)[:6].tolist()
    True
    """

    __slots__ = ("_draw", "_rng", "_chunk", "_arr", "_i", "next")

    def __init__(self, draw: Callable[[np.random.Generator, int], np.ndarray], rng: np.random.Generator, chunk: int = 4096):
        self._draw, self._rng, self._chunk = draw, rng, chunk
        self._arr = np.empty(0)
        self._i = 0
        #: ``next()`` -> the next value as a Python scalar (a C-level iterator over chunk lists)
        self.next = itertools.chain.from_iterable(self._lists()).__next__

    def _lists(self) -> Iterator[list]:
        while True:
            yield self._draw(self._rng, self._chunk).tolist()

    def _refill(self, need: int) -> None:
        rest = self._arr[self._i :]
        fresh = [self._draw(self._rng, self._chunk) for _ in range(max(1, -(-(need - rest.shape[0]) // self._chunk)))]
        self._arr = np.concatenate([rest, *fresh]) if rest.shape[0] else (fresh[0] if len(fresh) == 1 else np.concatenate(fresh))
        self._i = 0

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` values as an array."""
        if self._i + n > self._arr.shape[0]:
            self._refill(n)
        out = self._arr[self._i : self._i + n]
        self._i += n
        return out
