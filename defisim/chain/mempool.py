"""The public mempool of the simulated actors' transactions (go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest).

Pending transactions are kept per sender and nonce. The builder may take a sender's
transaction only when all its lower nonces are included, so one stuck low-fee
transaction blocks the sender's later ones (Black Thursday). A transaction with the same
sender and nonce replaces a pending one only if both of its fees are higher by at least
``replace_bump``; past ``capacity`` the lowest tip is evicted. Searchers watch public
transactions as they arrive.
"""
from __future__ import annotations

import heapq

from typing import Callable

import simpy

from defisim.base.tx import Tx

__all__ = ["Mempool", "MempoolWatch"]


class MempoolWatch:
    """A searcher's view of public pending transactions, in order of arrival.

    ``tx = yield watch.get()`` waits for the next public transaction to reach the mempool.
    """

    def __init__(self, env: simpy.Environment):
        self._store = simpy.Store(env)

    def get(self) -> simpy.Event:
        """Event whose value is the next arriving public :class:`~defisim.base.tx.Tx`."""
        return self._store.get()

    def _put(self, tx: Tx) -> None:
        self._store.put(tx)


class Mempool:
    """Pending transactions by sender and nonce.

    Parameters
    ----------
    env : simpy.Environment
    capacity : int
        Most pending transactions kept.
    replace_bump : float
        Minimum relative increase of both fee fields for a replacement (0.10 = 10%).
    account_nonce : dict
        The chain's next nonce per sender (read only here).
    drop : callable
        ``drop(tx, event, reason)``: called for every transaction that leaves without inclusion.
    visible : bool
        Whether watchers see public transactions (False on an L2 sequencer).
    """

    def __init__(
        self,
        env: simpy.Environment,
        capacity: int,
        replace_bump: float,
        account_nonce: dict[str, int],
        drop: Callable,
        visible: bool = True,
    ):
        self.env = env
        self.capacity = capacity
        self.replace_bump = replace_bump
        self.account_nonce = account_nonce
        self.drop = drop
        self.visible = visible
        self.by_sender: dict[str, dict[int, simpy.Event]] = {}  # receipt events; ``event.tx`` is the Tx
        self.size = 0
        self._watchers: list[MempoolWatch] = []
        # eviction order, lazily: (priority fee, −seq, event) of every admitted tx; entries of txs that
        # left (included, replaced, dropped) are skipped when they come up, and pruned when they pile up
        self._by_tip: list[tuple[float, int, simpy.Event]] = []

    def add(self, tx: Tx, event: simpy.Event) -> None:
        """Admit ``tx`` (or drop it, or the one it replaces, through ``drop``)."""
        sender = tx.sender
        if tx.nonce < self.account_nonce.get(sender, 0):
            self.drop(tx, event, "nonce too low")
            return
        queue = self.by_sender.get(sender)
        if queue is None:
            queue = self.by_sender[sender] = {}
        old = queue.get(tx.nonce)
        if old is None:
            queue[tx.nonce] = event
            self.size += 1
            self._push(tx, event)
            if self.size > self.capacity:
                self._evict_lowest_tip()
        else:
            old_tx = old.tx
            bump = (1.0 + self.replace_bump) * (1.0 - 1e-12)  # an exact 10% bump passes despite float rounding
            if tx.priority_fee_gwei < old_tx.priority_fee_gwei * bump or tx.max_fee_gwei < old_tx.max_fee_gwei * bump:
                self.drop(tx, event, "replacement underpriced")
                return
            queue[tx.nonce] = event
            self._push(tx, event)
            self.drop(old_tx, old, "replaced")
        if self._watchers and not tx.private and self.visible:
            self.env.timeout(max(0, tx.arrival_ms - self.env.now)).callbacks.append(lambda _e, tx=tx: self._notify(tx))

    def get(self, sender: str, nonce: int) -> simpy.Event | None:
        """The receipt event of ``sender``'s pending transaction at ``nonce``, if any."""
        queue = self.by_sender.get(sender)
        return None if queue is None else queue.get(nonce)

    def remove(self, tx: Tx) -> None:
        """Take an included transaction out."""
        self.take_next(tx)

    def take_next(self, tx: Tx) -> simpy.Event | None:
        """Take the included ``tx`` out; return the receipt event of the sender's next pending
        transaction (nonce + 1), if any."""
        sender = tx.sender
        queue = self.by_sender[sender]
        del queue[tx.nonce]
        self.size -= 1
        if queue:
            return queue.get(tx.nonce + 1)
        del self.by_sender[sender]
        return None

    def _push(self, tx: Tx, event: simpy.Event) -> None:
        heapq.heappush(self._by_tip, (tx.priority_fee_gwei, -tx.seq, event))
        if len(self._by_tip) > 4 * self.size + 1024:  # mostly stale: keep the pending ones only
            self._by_tip = [(e.tx.priority_fee_gwei, -e.tx.seq, e) for q in self.by_sender.values() for e in q.values()]
            heapq.heapify(self._by_tip)

    def _is_pending(self, event: simpy.Event) -> bool:
        queue = self.by_sender.get(event.tx.sender)
        return queue is not None and queue.get(event.tx.nonce) is event

    def _evict_lowest_tip(self) -> None:
        # lowest priority fee; among equals the newest (largest seq) goes first (geth evicts the cheapest)
        heap = self._by_tip
        while True:
            _tip, _seq, ev = heapq.heappop(heap)
            if self._is_pending(ev):
                break
        self.remove(ev.tx)
        self.drop(ev.tx, ev, "evicted: mempool full")

    def pending(self, now_ms: int) -> list[Tx]:
        """Public transactions that have arrived by ``now_ms``, in order of arrival then seq."""
        if not self.visible:
            return []
        txs = [e.tx for q in self.by_sender.values() for e in q.values() if not e.tx.private and e.tx.arrival_ms <= now_ms]
        txs.sort(key=lambda t: (t.arrival_ms, t.seq))
        return txs

    def watch(self) -> MempoolWatch:
        """A new watch on public transactions arriving from now on."""
        w = MempoolWatch(self.env)
        self._watchers.append(w)
        return w

    def _notify(self, tx: Tx) -> None:
        entry = self.get(tx.sender, tx.nonce)
        if entry is not None and entry.tx is tx:
            for w in self._watchers:
                w._put(tx)
