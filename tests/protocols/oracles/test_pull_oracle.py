"""The pull oracle (Pyth docs, "Pull updates"): an update is a transaction someone pays for; the
consumer's read rejects a stale price and a wide confidence interval."""
import pytest

from defisim.base import Revert
from defisim.base.eventlog import EventLog
from defisim.base.protocol import BlockInfo
from defisim.base.tx import Call, Tx, TxStatus
from defisim.chain.execution import Executor
from protocols.oracles import PullOracle
from protocols.oracles.params import PullOracleParams


class Host:
    def __init__(self):
        self.log = EventLog()
        self.protocols = {}


def at(oracle, time_ms):
    """A block at ``time_ms``, with the oracle in it; the executor to send calls in it."""
    ex = Executor({"pyth": oracle})
    ex.begin_block(BlockInfo(time_ms // 12_000, time_ms // 12_000, time_ms, 20.0, 36_000_000))
    return ex


def update(ex, time_ms, price, conf, publish_ms, sender="keeper/0"):
    call = Call("pyth", "update_price_feeds", {"price": price, "conf": conf, "publish_ms": publish_ms})
    return ex.execute(Tx(sender, 0, call, 200_000, 100.0, 1.0, False, -1, 0, time_ms, time_ms))


def test_a_stale_price_is_rejected_until_someone_posts_a_fresh_one():
    oracle = PullOracle("pyth", PullOracleParams(initial_price=2000.0, initial_conf=1.0, max_age="60s"), Host())
    at(oracle, 60_000)
    assert oracle.price_no_older_than() == 2000.0  # published at 0, read at 60 s: exactly max_age
    ex = at(oracle, 72_000)
    with pytest.raises(Revert, match="StalePrice"):
        oracle.price_no_older_than()
    assert oracle.price() == 2000.0  # the unsafe read still returns it
    status, _r, gas, stored = update(ex, 72_000, 1900.0, 1.5, 71_600)
    assert status == TxStatus.INCLUDED and stored and gas == 160_000
    assert oracle.price_no_older_than() == 1900.0 and oracle.price_no_older_than(max_age_ms=400) == 1900.0
    with pytest.raises(Revert, match="StalePrice"):
        oracle.price_no_older_than(max_age_ms=300)  # a consumer stricter than the params


def test_an_older_update_changes_nothing_and_a_future_one_reverts():
    oracle = PullOracle("pyth", PullOracleParams(initial_price=2000.0), Host())
    ex = at(oracle, 120_000)
    assert update(ex, 120_000, 1900.0, 1.0, 119_000)[3] is True
    status, _r, _g, stored = update(ex, 120_000, 2100.0, 1.0, 110_000)  # older than the stored one
    assert status == TxStatus.INCLUDED and stored is False and oracle.price() == 1900.0
    status, reason, _g, _ = update(ex, 120_000, 2100.0, 1.0, 121_000)
    assert status == TxStatus.REVERTED and "future" in reason and oracle.price() == 1900.0
    rows = oracle._log.to_frame()
    assert rows["stored"].tolist() == [True, False] and rows["age_ms"].tolist() == [1_000, 10_000]
    assert oracle.state.fees_native == pytest.approx(2e-18)  # each accepted call paid its fee


def test_a_wide_confidence_interval_is_rejected():
    oracle = PullOracle("pyth", PullOracleParams(initial_price=2000.0, max_conf_ratio=0.01), Host())
    ex = at(oracle, 12_000)
    update(ex, 12_000, 2000.0, 20.0, 12_000)  # 1.0%: the bound itself
    assert oracle.price_no_older_than() == 2000.0
    update(ex, 12_000, 2000.0, 20.01, 12_000)  # same publish time: not newer, not stored
    assert oracle.price_no_older_than() == 2000.0
    ex = at(oracle, 24_000)
    update(ex, 24_000, 2000.0, 20.01, 24_000)
    with pytest.raises(Revert, match="ConfidenceTooWide"):
        oracle.price_no_older_than()
