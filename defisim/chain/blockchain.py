"""The chain: slot loop, block building and sealing, EIP-1559, receipts (EIP-1559 and MEV-Boost).

Every ``slot`` the chain builds a block (unless the slot is missed): the builder takes the
transactions that *arrived* strictly before the build cutoff (decided by their timestamps, never
by the order in which SimPy processed events), orders them with the ordering policy
against the block's background demand, packs them greedily into the gas limit, executes
them, seals the block, updates the base fee and fires the shared ``new_block`` event.
"""
from __future__ import annotations

import bisect
import itertools
from collections import deque
from heapq import heappop, heappush
from operator import itemgetter
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import simpy
from simpy.events import PENDING

from defisim.chain.background import BackgroundDemand
from defisim.base.eventlog import Column, EventLog
from defisim.chain.execution import Executor
from defisim.chain.fees import next_base_fee_wei
from defisim.chain.mempool import Mempool
from defisim.chain.ordering import OrderingPolicy
from defisim.base.protocol import BlockInfo
from defisim.chain.spec import ChainSpec, MempoolSpec
from defisim.base.tx import Call, Receipt, Tx, TxStatus
from defisim.base.units import GWEI

__all__ = ["Chain", "Bundle", "TX_COLUMNS", "BLOCK_COLUMNS"]

_new_tuple = tuple.__new__
_INCLUDED, _REVERTED = TxStatus.INCLUDED, TxStatus.REVERTED  # enum attribute lookups are slow on 3.11

_STATUS_NAMES = {
    TxStatus.INCLUDED: "included",
    TxStatus.REVERTED: "reverted",
    TxStatus.DROPPED: "dropped",
    TxStatus.PENDING: "pending",
}

TX_COLUMNS = [
    Column("seq", "int64", "engine sequence number of the transaction (global submission order)"),
    Column("sender", "string", "sending agent"),
    Column("nonce", "int64", "sender nonce"),
    Column("target", "string", "protocol instance called"),
    Column("method", "string", "call name"),
    Column("gas_limit", "int64", "gas limit (gas units)"),
    Column("max_fee_gwei", "float64", "fee cap per gas (gwei)"),
    Column("priority_fee_gwei", "float64", "priority fee (tip) per gas offered (gwei)"),
    Column("private", "bool", "sent to the builder privately, invisible in the public mempool"),
    Column("bundle_id", "int64", "bundle the transaction belonged to when included or dropped (-1: none)"),
    Column("submitted_ms", "int64", "simulation time the agent submitted it (ms)"),
    Column("arrival_ms", "int64", "time it reached the mempool or builder (ms)"),
    Column("status", "string", "included | reverted | dropped | pending (still pending at the end)"),
    Column("reason", "string", "revert or drop reason ('' when included)"),
    Column("block", "int64", "block number (-1 if not in a block)"),
    Column("index", "int64", "position in the block counting background transactions (-1 if not in a block)"),
    Column("gas_used", "int64", "gas used (gas units; 0 if not in a block)"),
    Column("effective_gas_price_gwei", "float64", "min(max fee, base fee + tip) paid per gas (gwei)"),
    Column("fee_paid_gwei", "float64", "gas_used × effective gas price (gwei; /1e9 for ETH)"),
    Column("time_ms", "int64", "time of the outcome: block time, or time dropped (ms)"),
]

BLOCK_COLUMNS = [
    Column("block", "int64", "block number (1, 2, …)"),
    Column("slot", "int64", "slot number; gaps are missed slots"),
    Column("time_ms", "int64", "block timestamp (ms since start)"),
    Column("base_fee_gwei", "float64", "base fee of this block (gwei)"),
    Column("gas_used", "int64", "gas used, background demand included (gas units)"),
    Column("gas_limit", "int64", "block gas limit (gas units)"),
    Column("agent_txs", "int64", "simulated actors' transactions in the block (included or reverted)"),
    Column("reverted_txs", "int64", "of which reverted"),
    Column("background_txs", "int64", "background transactions included"),
    Column("background_demand", "int64", "background transactions that could pay the base fee"),
    Column("bundles", "int64", "bundles included"),
    Column("min_tip_gwei", "float64", "lowest effective tip included (gwei; NaN for an empty block)"),
    Column("pending_txs", "int64", "simulated actors' transactions pending after the block"),
]


def _receipt_columns(receipts: list[Receipt]) -> list:
    """The ``txs`` columns (TX_COLUMNS order) from receipts: the log keeps receipts during the
    run and builds its columns once at the end (numbers straight into numpy arrays)."""
    n = len(receipts)
    txs = list(map(itemgetter(0), receipts))
    calls = list(map(itemgetter(2), txs))

    def num(items, i, dtype):
        return np.fromiter(map(itemgetter(i), items), dtype=dtype, count=n)

    names = _STATUS_NAMES
    return [
        num(txs, 8, np.int64), list(map(itemgetter(0), txs)), num(txs, 1, np.int64),
        list(map(itemgetter(0), calls)), list(map(itemgetter(1), calls)), num(txs, 3, np.int64),
        num(txs, 4, np.float64), num(txs, 5, np.float64), num(txs, 6, np.bool_), num(txs, 7, np.int64),
        num(txs, 9, np.int64), num(txs, 10, np.int64), [names[s] for s in map(itemgetter(1), receipts)],
        list(map(itemgetter(2), receipts)), num(receipts, 3, np.int64), num(receipts, 4, np.int64),
        num(receipts, 5, np.int64), num(receipts, 6, np.float64), num(receipts, 7, np.float64),
        num(receipts, 8, np.int64),
    ]


class Bundle(NamedTuple):
    """An atomic, ordered list of transactions for one block (Flashbots MEV-Boost and bundle docs).

    ``txs`` may contain other senders' public transactions (e.g. an oracle update seen in
    the mempool) followed by the searcher's own. ``own`` flags the searcher's transactions,
    ``events`` holds their receipt events (None for the others). ``payment_gwei`` is what the
    builder receives from the searcher's transactions: Σ tip × gas limit.
    """

    bundle_id: int
    sender: str
    txs: tuple[Tx, ...]
    own: tuple[bool, ...]
    events: tuple[Any, ...]
    arrival_ms: int
    payment_gwei: float
    seq: int


class TxEvent(simpy.Event):
    """The receipt event of a submitted transaction; ``tx`` is the stamped transaction."""

    __slots__ = ("tx",)

    def __init__(self, env: simpy.Environment, tx: Tx):
        # simpy.Event.__init__ inlined (one per transaction: a hot path)
        self.env = env
        self.callbacks: list = []
        self._value = PENDING
        self.tx = tx


def _settle_all(events: Sequence[simpy.Event], values: Sequence[Any]) -> None:
    """Give receipt (or block) events their values.

    An event no process waits on yet is marked processed directly instead of going through
    SimPy's queue; a process that yields it later resumes at once with the value, exactly as
    with a processed event. The others are triggered as usual.
    """
    for event, value in zip(events, values):
        if event.callbacks:
            event.succeed(value)
        else:
            event._ok = True
            event._value = value
            event.callbacks = None


def _settle(event: simpy.Event, value: Any) -> None:
    """:func:`_settle_all` for one event."""
    _settle_all((event,), (value,))


_PRICE = itemgetter(6)  # Receipt.effective_gas_price_gwei
_STATUS = itemgetter(1)  # Receipt.status


class Chain:
    """Slots, blocks and the fee market.

    Parameters
    ----------
    env : simpy.Environment
    spec : ChainSpec
    mempool_spec : MempoolSpec
    background : BackgroundDemand
    policy : OrderingPolicy
    executor : Executor
    log : EventLog
    missed_rng : numpy.random.Generator
        Stream deciding missed slots.
    """

    def __init__(
        self,
        env: simpy.Environment,
        spec: ChainSpec,
        mempool_spec: MempoolSpec,
        background: BackgroundDemand,
        policy: OrderingPolicy,
        executor: Executor,
        log: EventLog,
        missed_rng: np.random.Generator,
    ):
        self.env = env
        self.spec = spec
        self.background = background
        self.policy = policy
        self.executor = executor
        self.log = log
        # before EIP-1559 there is no base fee: a transaction pays its gas price (the tip here)
        self._eip1559 = spec.fee_market == "eip1559"
        self.base_fee_wei = int(round(spec.initial_base_fee_gwei * GWEI)) if self._eip1559 else 0
        self.number = 0
        self.slot = 0
        self.nonces: dict[str, int] = {}
        self.mempool = Mempool(
            env, mempool_spec.capacity, mempool_spec.replace_bump, self.nonces, self._drop, policy.mempool_visible
        )
        self._admit = self.mempool.add
        self._gas_limit = spec.gas_limit
        self.bundles: list[Bundle] = []
        self.recent_min_tips: deque[float] = deque(maxlen=256)
        self._tip_quantiles: dict[tuple[float, int], float] = {}
        self.last_block: BlockInfo | None = None
        self._seq = itertools.count()
        self._bundle_ids = itertools.count()
        self._missed_rng = missed_rng
        self._new_block = env.event()
        self._tx_log = log.declare("txs", "every simulated actor's transaction and its outcome", TX_COLUMNS, _receipt_columns)
        self._block_log = log.declare("blocks", "one row per sealed block", BLOCK_COLUMNS)
        self._missed_log = log.declare(
            "missed_slots", "slots without a block", [Column("slot", "int64", "slot number"), Column("time_ms", "int64", "slot time (ms)")]
        )
        self._bundle_log = log.declare(
            "bundles",
            "bundles offered to the builder and what became of them",
            [
                Column("bundle_id", "int64", "bundle id"),
                Column("sender", "string", "searcher"),
                Column("block", "int64", "block it was included in (-1: not included)"),
                Column("n_txs", "int64", "transactions in the bundle, others' included"),
                Column("payment_gwei", "float64", "builder payment offered: Σ tip × gas limit of own txs (gwei)"),
                Column("status", "string", "included | dropped | pending (still waiting at the end)"),
                Column("reason", "string", "why it was dropped"),
            ],
        )

    # -- views -------------------------------------------------------------------------------
    @property
    def new_block(self) -> simpy.Event:
        """The shared event fired when the next block is sealed (value: its :class:`BlockInfo`)."""
        return self._new_block

    @property
    def base_fee_gwei(self) -> float:
        """Base fee of the next block (gwei)."""
        return self.base_fee_wei / GWEI

    def inclusion_tip_gwei(self, quantile: float = 0.5, blocks: int = 20) -> float:
        """A quantile (linear interpolation) of the lowest included tips of the last ``blocks``
        blocks, in gwei; 0 if none. Cached until the next block."""
        key = (quantile, blocks)
        cached = self._tip_quantiles.get(key)
        if cached is None:
            recent = sorted(t for t in itertools.islice(reversed(self.recent_min_tips), blocks) if t == t)
            if not recent:
                cached = 0.0
            else:
                pos = quantile * (len(recent) - 1)
                lo = int(pos)
                hi = min(lo + 1, len(recent) - 1)
                cached = recent[lo] + (recent[hi] - recent[lo]) * (pos - lo)
            self._tip_quantiles[key] = cached
        return cached

    # -- submission ------------------------------------------------------------------------
    def submit(
        self,
        sender: str,
        nonce: int,
        call: Call,
        gas_limit: int,
        max_fee_gwei: float,
        priority_fee_gwei: float,
        private: bool,
        latency_ms: int,
    ) -> TxEvent:
        """Stamp and admit a transaction; returns its receipt event (value: :class:`Receipt`)."""
        now = self.env._now
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (same object, hot path)
        tx = _new_tuple(Tx, (sender, nonce, call, gas_limit, max_fee_gwei, priority_fee_gwei, private, -1, next(self._seq),
                             now, now + latency_ms))
        ev = TxEvent(self.env, tx)
        if gas_limit > self._gas_limit:
            self._drop(tx, ev, "gas limit above block gas limit")
        elif priority_fee_gwei > max_fee_gwei:
            self._drop(tx, ev, "priority fee above fee cap")
        else:
            self._admit(tx, ev)
        return ev

    def submit_bundle(self, sender: str, items: Sequence[Tx | tuple], latency_ms: int) -> list[TxEvent]:
        """Stamp a bundle. ``items`` are others' :class:`Tx` (copied as they are) or the
        sender's own ``(nonce, call, gas_limit, max_fee_gwei, priority_fee_gwei)``; returns the
        receipt events of the sender's own transactions."""
        now = self.env.now
        bid = next(self._bundle_ids)
        txs, own, events = [], [], []
        payment = 0.0
        for item in items:
            if isinstance(item, Tx):
                txs.append(item)
                own.append(False)
                events.append(None)
                continue
            nonce, call, gas_limit, max_fee, tip = item
            tx = Tx(sender, nonce, call, gas_limit, max_fee, tip, True, bid, next(self._seq), now, now + latency_ms)
            ev = TxEvent(self.env, tx)
            txs.append(tx)
            own.append(True)
            events.append(ev)
            payment += tip * gas_limit
        bundle = Bundle(bid, sender, tuple(txs), tuple(own), tuple(events), now + latency_ms, payment, next(self._seq))
        if not self.policy.uses_bundles:
            self._drop_bundle(bundle, f"the {self.policy.name} builder takes no bundles")
        else:
            self.bundles.append(bundle)
        return [e for e in events if e is not None]

    # -- outcomes --------------------------------------------------------------------------
    def _drop(self, tx: Tx, event: simpy.Event, reason: str) -> None:
        receipt = Receipt(tx, TxStatus.DROPPED, reason, -1, -1, 0, 0.0, 0.0, self.env.now)
        self._tx_log.append(receipt)
        _settle(event, receipt)

    def _drop_bundle(self, bundle: Bundle, reason: str) -> None:
        self._bundle_log.append((bundle.bundle_id, bundle.sender, -1, len(bundle.txs), bundle.payment_gwei, "dropped", reason))
        for tx, ev in zip(bundle.txs, bundle.events):
            if ev is not None:
                self._drop(tx, ev, f"bundle dropped: {reason}")

    def finish(self) -> None:
        """Log the transactions and bundles still pending when the run ends."""
        now = self.env.now
        pending = [ev.tx for queue in self.mempool.by_sender.values() for ev in queue.values()]
        for b in self.bundles:
            self._bundle_log.append((b.bundle_id, b.sender, -1, len(b.txs), b.payment_gwei, "pending", ""))
            pending.extend(tx for tx, own in zip(b.txs, b.own) if own)
        for tx in pending:
            self._tx_log.append(Receipt(tx, TxStatus.PENDING, "", -1, -1, 0, 0.0, 0.0, now))

    # -- the slot loop ---------------------------------------------------------------------
    def run(self, n_blocks: int, on_block: Callable[[BlockInfo], None] | None = None):
        """SimPy process: produce ``n_blocks`` blocks, one per non-missed slot."""
        slot_ms = self.spec.slot
        p_missed = self.spec.missed_slot_probability
        while self.number < n_blocks:
            yield self.env.timeout(slot_ms)
            self.slot += 1
            if p_missed > 0.0 and self._missed_rng.random() < p_missed:
                self._missed_log.append((self.slot, self.env.now))
                continue
            block = self._produce_block()
            if on_block is not None:
                on_block(block)

    def _produce_block(self) -> BlockInfo:
        env, spec, policy = self.env, self.spec, self.policy
        now = env.now
        number = self.number + 1
        base = self.base_fee_wei / GWEI
        limit = spec.gas_limit
        block = BlockInfo(number, self.slot, now, base, limit)
        self.executor.begin_block(block)
        cutoff = now - spec.build_cutoff
        receipts: list[Receipt] = []
        events: list[simpy.Event] = []
        used = 0
        n_bundles = 0
        if self.bundles:
            used, n_bundles = self._include_bundles(block, cutoff, receipts, events)

        # candidate heads: each sender's next nonce, if it arrived in time and can pay the base fee
        nonces = self.nonces
        mempool = self.mempool
        key = policy.key
        heads: list = []
        for sender, queue in mempool.by_sender.items() if mempool.size else ():
            ev = queue.get(nonces.get(sender, 0))
            if ev is not None:
                tx = ev.tx
                if tx.arrival_ms < cutoff and tx.max_fee_gwei >= base:
                    heads.append((key(tx, base), tx.seq, ev))
        heads.sort()

        background = self.background
        demand = background.demand(now, base)
        n_bg = demand.n
        g = background.gas_per_tx
        bg_in = 0
        min_bg_tip = float("nan")
        in_order = bool(heads) and n_bg > 0  # background sorted into the policy's order
        if in_order:
            bg_keys, eff_tips = policy.background_order(background.effective_tips(demand), (now - spec.slot, cutoff))
            bg_keys_list = bg_keys.tolist()
        bg_blocked = not in_order
        index = len(receipts)
        execute = self.executor.execute
        take_next = mempool.take_next
        while heads:
            k, _seq, ev = heappop(heads)
            tx = ev.tx
            if not bg_blocked:
                ahead = bisect.bisect_right(bg_keys_list, k)
                if ahead > bg_in:
                    want = ahead - bg_in
                    add = min(want, (limit - used) // g)
                    bg_in += add
                    used += add * g
                    index += add
                    bg_blocked = add < want or bg_in == n_bg
            if used + tx.gas_limit > limit:
                continue  # does not fit; stays pending, and so do the sender's later nonces
            status, reason, gas_used, result = execute(tx)
            used += gas_used
            price = base + tx.priority_fee_gwei
            if tx.max_fee_gwei < price:
                price = tx.max_fee_gwei
            receipts.append(_new_tuple(Receipt, (tx, status, reason, number, index, gas_used, price, gas_used * price, now, result)))
            events.append(ev)
            index += 1
            nonces[tx.sender] = tx.nonce + 1
            ev2 = take_next(tx)
            if ev2 is not None:
                t2 = ev2.tx
                if t2.arrival_ms < cutoff and t2.max_fee_gwei >= base:
                    heappush(heads, (key(t2, base), t2.seq, ev2))
        if in_order:
            if not bg_blocked:
                add = min(n_bg - bg_in, (limit - used) // g)
                bg_in += add
                used += add * g
        elif n_bg:
            room = (limit - used) // g
            if n_bg <= room:  # all of it fits: only its lowest tip is observable
                bg_in = n_bg
                min_bg_tip = background.lowest_tip(demand)
            else:  # not all fit: the policy's order decides which do
                bg_in = room
                _keys, eff_tips = policy.background_order(background.effective_tips(demand), (now - spec.slot, cutoff))
                in_order = True
            used += bg_in * g
        if in_order and bg_in:
            min_bg_tip = float(eff_tips[bg_in - 1]) if policy.orders_by_tip else float(eff_tips[:bg_in].min())
        return self._seal(block, receipts, events, used, bg_in, n_bg, min_bg_tip, n_bundles)

    def _include_bundles(self, block: BlockInfo, cutoff: int, receipts: list, events: list) -> tuple[int, int]:
        """Top of block: bundles by payment, each executed atomically or not at all."""
        ready = [b for b in self.bundles if b.arrival_ms < cutoff]
        self.bundles = [b for b in self.bundles if b.arrival_ms >= cutoff]
        ready.sort(key=lambda b: (-b.payment_gwei, b.seq))
        used, n = 0, 0
        base, limit = block.base_fee_gwei, block.gas_limit
        protocols = self.executor.protocols
        for b in ready:
            why = self._bundle_problem(b, cutoff, base, limit - used)
            if why:
                self._drop_bundle(b, why)
                continue
            # every protocol: a handler may move state of others (e.g. a pool moving tokens)
            snapshots = {name: p.checkpoint() for name, p in protocols.items()}
            log_mark = self.log.mark()
            results = []
            for tx in b.txs:
                status, reason, gas_used, result = self.executor.execute(tx)
                if status != _INCLUDED:
                    break
                results.append((gas_used, result))
            else:
                n += 1
                self._bundle_log.append((b.bundle_id, b.sender, block.number, len(b.txs), b.payment_gwei, "included", ""))
                for tx, own_ev, (gas_used, result) in zip(b.txs, b.events, results):
                    ev = own_ev
                    if ev is None:  # someone else's public tx carried by the bundle
                        ev = self.mempool.get(tx.sender, tx.nonce)
                        self.mempool.remove(tx)
                    self.nonces[tx.sender] = tx.nonce + 1
                    used += gas_used
                    price = min(tx.max_fee_gwei, base + tx.priority_fee_gwei)
                    receipts.append(Receipt(tx, TxStatus.INCLUDED, "", block.number, len(receipts), gas_used, price,
                                            gas_used * price, block.time_ms, result))
                    events.append(ev)
                continue
            for t, snap in snapshots.items():
                protocols[t].rollback(snap)
            self.log.truncate(log_mark)
            self._drop_bundle(b, f"reverted: {reason}")
        return used, n

    def _bundle_problem(self, b: Bundle, cutoff: int, base: float, gas_left: int) -> str:
        """Why bundle ``b`` cannot go into this block ('' if it can)."""
        nonces: dict[str, int] = {}
        gas = 0
        for tx, own in zip(b.txs, b.own):
            if not own:
                entry = self.mempool.get(tx.sender, tx.nonce)
                if entry is None or entry.tx is not tx:
                    return f"target tx {tx.seq} is no longer pending"
                if tx.arrival_ms >= cutoff:
                    return f"target tx {tx.seq} arrived after the cutoff"
            expected = nonces.get(tx.sender, self.nonces.get(tx.sender, 0))
            if tx.nonce != expected:
                return f"nonce of {tx.sender} is {expected}, bundle has {tx.nonce}"
            if tx.max_fee_gwei < base:
                return "fee cap below base fee"
            nonces[tx.sender] = tx.nonce + 1
            gas += tx.gas_limit
        if gas > gas_left:
            return "does not fit in the block"
        return ""

    def _seal(self, block: BlockInfo, receipts: list, events: list, used: int, bg_in: int, n_bg: int,
              min_tip: float, n_bundles: int) -> BlockInfo:
        base = block.base_fee_gwei
        reverted = 0
        if receipts:
            self._tx_log.rows.extend(receipts)
            lowest = min(map(_PRICE, receipts)) - base  # the lowest effective tip of the agents' txs
            if not lowest >= min_tip:  # (min_tip is NaN when no background tx got in)
                min_tip = lowest
            reverted = list(map(_STATUS, receipts)).count(_REVERTED)
            _settle_all(events, receipts)
        self._block_log.append(
            (block.number, block.slot, block.time_ms, base, used, block.gas_limit, len(receipts), reverted, bg_in, n_bg,
             n_bundles, min_tip, self.mempool.size)
        )
        self.recent_min_tips.append(min_tip)
        self._tip_quantiles.clear()
        if self._eip1559:
            self.base_fee_wei = next_base_fee_wei(
                self.base_fee_wei, used, block.gas_limit, self.spec.elasticity, self.spec.base_fee_max_change_denominator
            )
        self.number = block.number
        self.last_block = block
        ev, self._new_block = self._new_block, self.env.event()
        _settle(ev, block)
        return block
