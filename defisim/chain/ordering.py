"""Block ordering policies (go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest; Flashbots MEV-Boost and bundle docs).

A policy gives every candidate transaction a sort key (smaller goes first; ties are
broken by the transaction's ``seq``) and does the same, vectorised, for background
demand, so that simulated actors and the rest of the chain compete in one order.
Eligibility (arrival before the build cutoff) is decided by the builder from timestamps.
"""
from __future__ import annotations

import numpy as np

from defisim.base.tx import Tx

__all__ = [
    "OrderingPolicy",
    "PriorityFee",
    "Fifo",
    "RandomOrder",
    "BundleAuction",
    "SequencerFcfs",
    "make_policy",
]


class OrderingPolicy:
    """Base policy: order by effective priority fee per gas, highest first (geth, go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest).

    Attributes
    ----------
    uses_bundles : bool
        Whether private bundles are auctioned at the top of the block.
    orders_by_tip : bool
        Whether :meth:`background_order` returns the tips highest first.
    mempool_visible : bool
        Whether searchers can watch public pending transactions.
    """

    name = "priority_fee"
    uses_bundles = False
    mempool_visible = True
    orders_by_tip = True  #: background_order returns tips in descending order

    def __init__(self, rng: np.random.Generator | None = None):
        self.rng = rng

    def key(self, tx: Tx, base_fee_gwei: float) -> float:
        """Sort key of a transaction: minus its effective tip ``min(tip, max fee − base fee)``."""
        tip, room = tx.priority_fee_gwei, tx.max_fee_gwei - base_fee_gwei
        return -(tip if tip < room else room)

    def background_order(self, eff_tips: np.ndarray, window_ms: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Background keys sorted ascending and the tips in that order."""
        tips = np.sort(eff_tips)[::-1]
        return -tips, tips


class PriorityFee(OrderingPolicy):
    """Highest effective priority fee first (the default)."""


class Fifo(OrderingPolicy):
    """First arrived, first included; background arrivals are uniform over the slot."""

    name = "fifo"
    orders_by_tip = False

    def key(self, tx, base_fee_gwei):
        return float(tx.arrival_ms)

    def background_order(self, eff_tips, window_ms):
        t = self.rng.uniform(window_ms[0], window_ms[1], eff_tips.shape[0])
        order = np.argsort(t, kind="stable")
        return t[order], eff_tips[order]


class RandomOrder(OrderingPolicy):
    """Uniformly random order, from the policy's own random stream."""

    name = "random"
    orders_by_tip = False

    def key(self, tx, base_fee_gwei):
        return self.rng.random()

    def background_order(self, eff_tips, window_ms):
        u = self.rng.random(eff_tips.shape[0])
        order = np.argsort(u, kind="stable")
        return u[order], eff_tips[order]


class BundleAuction(OrderingPolicy):
    """MEV-Boost-like builder: atomic bundles at the top of the block, highest payment first,
    then public transactions by priority fee (Flashbots MEV-Boost and bundle docs)."""

    name = "bundle_auction"
    uses_bundles = True


class SequencerFcfs(Fifo):
    """L2 sequencer: first come, first served by arrival at the sequencer; no public mempool."""

    name = "sequencer"
    mempool_visible = False


_POLICIES = {p.name: p for p in (PriorityFee, Fifo, RandomOrder, BundleAuction, SequencerFcfs)}


def make_policy(name: str, rng: np.random.Generator) -> OrderingPolicy:
    """The policy called ``name`` with its random stream."""
    return _POLICIES[name](rng)
