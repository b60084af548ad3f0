"""How often a lending book is sampled into its per-block table (the ``positions`` role)."""
from __future__ import annotations

__all__ = ["book_every_blocks"]


def book_every_blocks(accounts: int) -> int:
    """Blocks between two samples of a book of ``accounts`` positions: every 10 blocks, and once
    past 100,000 accounts every ``accounts / 10,000`` (a sample costs O(accounts)).

    >>> book_every_blocks(10_000), book_every_blocks(1_000_000)
    (10, 100)
    """
    return max(10, accounts // 10_000)
