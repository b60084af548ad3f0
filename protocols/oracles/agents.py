"""The off-chain node network of a push feed (Chainlink Data Feeds docs: a new round on a deviation threshold or a heartbeat; Chainlink OCR docs)."""
from __future__ import annotations

import statistics

from defisim.chain import bid, rebid
from defisim.base import Call

from .params import PokerParams, PushUpdaterParams

__all__ = ["PushUpdater", "Poker"]


def PushUpdater(ctx, params: PushUpdaterParams, index: int):
    """Observe the venues every ``poll``; start a round on deviation or heartbeat; transmit after
    the round latency; re-bid a transmission that waits too long (congestion delays updates)."""
    oracle = ctx.params_of(params.oracle)
    markets = [ctx.market(name) for name in params.sources]
    rng = ctx.rng
    pending = None
    pending_since_block = 0
    timeout, poll = ctx.env.timeout, params.poll  # polled every second: keep the loop lean
    heartbeat, deviation = oracle.heartbeat, oracle.deviation
    while True:
        yield timeout(poll)
        if pending is not None:
            if not pending.triggered:
                if ctx.chain.number - pending_since_block >= params.rebid_after_blocks:
                    tx = pending.tx
                    cap, tip = rebid(params.gas, ctx.chain, tx.max_fee_gwei, tx.priority_fee_gwei)
                    replacement = ctx.replace(tx, cap, tip)
                    if not replacement.triggered:  # accepted; one refused (underpriced) is dropped at once
                        pending = replacement
                    pending_since_block = ctx.chain.number
                continue
            pending = None  # included, reverted or dropped: the next poll decides afresh
        now = ctx.now
        observed = markets[0].mid(now) if len(markets) == 1 else statistics.median(m.mid(now) for m in markets)
        state = ctx.view(params.oracle)
        stale = now - state.updated_ms >= heartbeat
        moved = abs(observed - state.answer) >= deviation * state.answer
        if not (stale or moved):
            continue
        yield ctx.delay(int(round(float(params.round_latency.sample(rng, 1)[0]))))
        cap, tip = bid(params.gas, ctx.chain)
        pending = ctx.submit(Call(params.oracle, "transmit", {"answer": observed, "observed_ms": now}), params.gas_limit, cap, tip)
        pending_since_block = ctx.chain.number


def Poker(ctx, params: PokerParams, index: int):
    """Poke an OSM after each block once its hop has passed (one poke in flight at a time)."""
    hop = ctx.params_of(params.oracle).hop
    pending = None
    while True:
        yield ctx.new_block
        if pending is not None and not pending.triggered:
            continue
        if ctx.now < ctx.view(params.oracle).zzz + hop:
            continue
        cap, tip = bid(params.gas, ctx.chain)
        pending = ctx.submit(Call(params.oracle, "poke", {}), params.gas_limit, cap, tip)
