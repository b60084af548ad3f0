"""When a lending book is sampled into its per-block table (the ``positions`` role)."""
from __future__ import annotations

from typing import Hashable

__all__ = ["BOOK_QUIET_BLOCKS", "book_every_blocks", "book_due"]

#: Blocks between two samples at least, when nothing but interest changed.
BOOK_QUIET_BLOCKS = 300


def book_every_blocks(accounts: int) -> int:
    """Blocks between two samples of a book of ``accounts`` positions: every 10 blocks, and once
    past 100,000 accounts every ``accounts / 10,000`` (a sample costs O(accounts)).

    >>> book_every_blocks(10_000), book_every_blocks(1_000_000)
    (10, 100)
    """
    return max(10, accounts // 10_000)


def book_due(last: tuple[int, Hashable] | None, number: int, every: int, quiet: int, state: Hashable) -> bool:
    """Whether to sample the book at block ``number``: the first time; then at most every
    ``every`` blocks while ``state`` (what moves health factors: prices, positions) differs from
    the last sample's, and at least every ``quiet`` blocks. ``last`` is ``(block, state)`` of the
    last sample.

    >>> book_due(None, 1, 10, 300, "p"), book_due((1, "p"), 5, 10, 300, "q"), book_due((1, "p"), 11, 10, 300, "q")
    (True, False, True)
    >>> book_due((1, "p"), 11, 10, 300, "p"), book_due((1, "p"), 301, 10, 300, "p")
    (False, True)
    """
    if last is None:
        return True
    since = number - last[0]
    if since >= quiet:
        return True
    return since >= every and last[1] != state
