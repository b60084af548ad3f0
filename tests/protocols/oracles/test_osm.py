"""Maker's OSM (Maker `osm.sol`, `OSM.poke`: the price released one `hop` (an hour) late): the source's price is released one hop late, by pokes."""
import pytest

from defisim.base.eventlog import EventLog
from defisim.chain.execution import Executor
from defisim.base.protocol import BlockInfo
from defisim.scenario.loading import validate_scenario
from defisim.run.simulation import Simulation
from defisim.base.tx import Call, Tx, TxStatus
from protocols.oracles import FixedOracle, Osm
from protocols.oracles.params import FixedOracleParams, OsmParams

HOUR = 3_600_000


class Host:
    def __init__(self, protocols):
        self.log = EventLog()
        self.protocols = protocols


def poke(osm, time_ms, sender="keeper/0"):
    ex = Executor({"osm": osm})
    ex.begin_block(BlockInfo(time_ms // 12_000, time_ms // 12_000, time_ms, 20.0, 36_000_000))
    return ex.execute(Tx(sender, 0, Call("osm", "poke", {}), 100_000, 100.0, 1.0, False, -1, 0, time_ms, time_ms))


def test_poke_releases_the_queued_price_and_queues_the_source():
    protocols = {}
    protocols["median"] = FixedOracle("median", FixedOracleParams(price=2000.0), Host(protocols))
    osm = Osm("osm", OsmParams(source="median"), Host(protocols))
    assert (osm.price(), osm.state.nxt) == (2000.0, 2000.0)
    protocols["median"].state = 1500.0  # the medianizer moves
    status, reason, _gas, _ = poke(osm, HOUR - 12_000)  # before the hop
    assert status == TxStatus.REVERTED and reason == "OSM/not-passed" and osm.price() == 2000.0
    status, _r, _g, released = poke(osm, HOUR + 7_000)
    assert status == TxStatus.INCLUDED and released == 2000.0
    assert (osm.price(), osm.state.nxt, osm.state.zzz) == (2000.0, 1500.0, HOUR)  # zzz floored to the hour
    protocols["median"].state = 1200.0
    assert poke(osm, 2 * HOUR - 1)[0] == TxStatus.REVERTED  # one hop after zzz, not after the poke
    assert poke(osm, 2 * HOUR)[3] == 1500.0
    assert (osm.price(), osm.state.nxt) == (1500.0, 1200.0)


def test_an_osm_needs_its_source_listed_first():
    with pytest.raises(ValueError, match="must be an oracle listed before"):
        Osm("osm", OsmParams(source="median"), Host({}))


def test_on_chain_the_osm_trails_the_push_feed_by_one_to_two_hops():
    hop = 600_000  # ten minutes, to keep the run short
    raw = {
        "name": "osm", "seed": 2, "blocks": 200,
        "markets": {
            "feeds": {"ETH": {"kind": "scripted", "base_price_usd": 2000.0,
                              "moves": [{"kind": "ramp", "start": "5m", "duration": "20m", "change": -0.3}]}},
            "venues": {"cex": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 1e9}}},
        },
        "protocols": {
            "eth_usd": {"kind": "oracles.push", "initial_answer": 2000.0, "deviation": 0.005},
            "osm": {"kind": "oracles.osm", "source": "eth_usd", "hop": hop},
        },
        "agents": [
            {"kind": "oracles.push_updater", "name": "oracle", "params": {"oracle": "eth_usd", "sources": ["cex"]}},
            {"kind": "oracles.poker", "name": "poker", "params": {"oracle": "osm"}},
        ],
    }
    res = Simulation(validate_scenario(raw)).run()
    pokes = res.tables["osm_pokes"]
    assert len(pokes) >= 3 and pokes["time_ms"].diff().dropna().ge(hop).all()
    p = res.prices.pivot_table(index="block", columns="name", values="price_usd")
    blocks = res.blocks.set_index("block")["time_ms"]
    for _, row in pokes.iterrows():
        # what a poke queues is the push feed's answer of that block; it is released one poke later
        assert row["queued_usd"] == pytest.approx(p.loc[row["block"], "eth_usd.answer"])
    released = pokes["released_usd"].tolist()
    assert released == [2000.0] + pokes["queued_usd"].tolist()[:-1]
    # while the feed falls the OSM answer stays above the push answer
    falling = blocks[(blocks > 10 * 60_000) & (blocks < 25 * 60_000)].index
    assert (p.loc[falling, "osm.answer"] > p.loc[falling, "eth_usd.answer"]).all()
