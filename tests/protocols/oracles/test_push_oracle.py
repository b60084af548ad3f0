"""Push oracle (Chainlink Data Feeds docs: a new round on a deviation threshold or a heartbeat): only transmissions move the answer; clamping; stale reports."""
import pytest

from defisim.base.eventlog import EventLog
from defisim.chain.execution import Executor
from defisim.base.protocol import BlockInfo
from defisim.base.tx import Call, Tx, TxStatus
from protocols.oracles import PushOracle
from protocols.oracles.params import PushOracleParams


class Host:
    def __init__(self):
        self.log = EventLog()


def run(oracle, calls, block=BlockInfo(3, 3, 36_000, 20.0, 36_000_000)):
    ex = Executor({"eth": oracle})
    ex.begin_block(block)
    out = []
    for i, (sender, args) in enumerate(calls):
        out.append(ex.execute(Tx(sender, i, Call("eth", "transmit", args), 300_000, 100.0, 1.0, False, -1, i, 0, 0)))
    return out


def test_transmission_updates_answer_time_and_round():
    o = PushOracle("eth", PushOracleParams(initial_answer=2000.0), Host())
    (status, reason, gas, _), = run(o, [("oracle/0", {"answer": 1900.0, "observed_ms": 30_000})])
    assert status == TxStatus.INCLUDED and o.price() == 1900.0
    assert (o.state.updated_ms, o.state.observed_ms, o.state.round_id) == (36_000, 30_000, 1)
    row = o._log.rows[0]
    assert row[-2] == 6_000  # lag = block time − observation time


def test_only_the_transmitter_and_no_stale_reports():
    o = PushOracle("eth", PushOracleParams(initial_answer=2000.0), Host())
    res = run(o, [("mallory/0", {"answer": 1.0, "observed_ms": 1}),
                  ("oracle/0", {"answer": 1950.0, "observed_ms": 20_000}),
                  ("oracle/0", {"answer": 1000.0, "observed_ms": 19_000}),
                  ("oracle/0", {"answer": -5.0, "observed_ms": 25_000})])
    assert [r[1] for r in res] == ["caller is not the transmitter", "", "stale report", "answer must be a positive number"]
    assert o.price() == 1950.0 and o.state.round_id == 1


@pytest.mark.parametrize("reported, expected", [(0.01, 0.1), (5.0, 5.0), (1e6, 100.0)])
def test_answer_is_clamped_like_old_aggregators(reported, expected):
    o = PushOracle("luna", PushOracleParams(initial_answer=5.0, min_answer=0.1, max_answer=100.0), Host())
    run(o, [("oracle/0", {"answer": reported, "observed_ms": 1_000})])
    assert o.price() == expected


def test_bounds_are_validated():
    with pytest.raises(ValueError, match="min_answer"):
        PushOracleParams(initial_answer=1.0, min_answer=5.0, max_answer=2.0)
