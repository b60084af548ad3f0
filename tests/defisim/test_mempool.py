"""Mempool rules (go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest): capacity eviction of the lowest tip, nonce checks, watchers."""
import pytest
import simpy

from defisim.chain.mempool import Mempool
from defisim.base.tx import Call, Tx

CALL = Call("usd", "transfer", {"to": "x", "amount": 1.0})


def make_tx(sender, nonce, tip, seq, arrival=0, private=False, max_fee=100.0):
    return Tx(sender, nonce, CALL, 60_000, max_fee, tip, private, -1, seq, 0, arrival)


def admit(env, mp, tx):
    """Add ``tx`` with a receipt event, as the chain does."""
    ev = env.event()
    ev.tx = tx
    mp.add(tx, ev)


@pytest.fixture
def pool():
    env = simpy.Environment()
    dropped = []
    nonces = {"a": 0, "b": 0, "c": 0, "d": 0}
    mp = Mempool(env, capacity=3, replace_bump=0.10, account_nonce=nonces, drop=lambda tx, ev, why: dropped.append((tx.seq, why)))
    return env, mp, dropped, nonces


def test_capacity_evicts_the_lowest_tip(pool):
    env, mp, dropped, _ = pool
    for seq, (s, tip) in enumerate([("a", 5.0), ("b", 1.0), ("c", 3.0), ("d", 4.0)]):
        admit(env, mp, make_tx(s, 0, tip, seq))
    assert dropped == [(1, "evicted: mempool full")]
    assert mp.size == 3 and mp.get("b", 0) is None


def test_eviction_tie_goes_to_the_newest(pool):
    env, mp, dropped, _ = pool
    for seq, s in enumerate("abcd"):
        admit(env, mp, make_tx(s, 0, 2.0, seq))
    assert dropped == [(3, "evicted: mempool full")]


def test_nonce_too_low_is_dropped(pool):
    env, mp, dropped, nonces = pool
    nonces["a"] = 4
    admit(env, mp, make_tx("a", 3, 9.0, 0))
    assert dropped == [(0, "nonce too low")] and mp.size == 0


def test_replacement_needs_both_fees_bumped(pool):
    env, mp, dropped, _ = pool
    admit(env, mp, make_tx("a", 0, 10.0, 0, max_fee=100.0))
    admit(env, mp, make_tx("a", 0, 20.0, 1, max_fee=105.0))  # cap +5% only
    admit(env, mp, make_tx("a", 0, 11.0, 2, max_fee=110.0))  # exactly +10% on both
    assert dropped == [(1, "replacement underpriced"), (0, "replaced")]
    assert mp.get("a", 0).tx.seq == 2 and mp.size == 1


def test_watchers_see_public_txs_at_arrival_only(pool):
    env, mp, _, _ = pool
    watch = mp.watch()
    seen = []

    def searcher():
        while True:
            tx = yield watch.get()
            seen.append((env.now, tx.seq))

    env.process(searcher())
    admit(env, mp, make_tx("a", 0, 1.0, 0, arrival=250))
    admit(env, mp, make_tx("b", 0, 1.0, 1, arrival=100, private=True))
    admit(env, mp, make_tx("c", 0, 1.0, 2, arrival=40))
    env.run(until=1_000)
    assert seen == [(40, 2), (250, 0)]
    assert [t.seq for t in mp.pending(100)] == [2]
