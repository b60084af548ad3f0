"""Compound's anchored view (compound-finance/open-oracle `UniswapAnchoredView`): a reporter's
price is stored only within ±20% of the anchor; a guarded post leaves the old price. With the
anchor drifting toward a one-sided reporter, the move gets through once within the bound (DAI on
Compound, 26 November 2020)."""
import pytest

from defisim.base.eventlog import EventLog
from defisim.base.protocol import BlockInfo
from protocols.oracles import AnchoredOracle, FixedOracle
from protocols.oracles.params import AnchoredOracleParams, FixedOracleParams


class Host:
    def __init__(self, protocols):
        self.log = EventLog()
        self.protocols = protocols


def block(n):
    return BlockInfo(n, n, 12_000 * n, 20.0, 36_000_000)


@pytest.fixture
def feeds():
    protocols = {}
    protocols["reporter"] = FixedOracle("reporter", FixedOracleParams(price=1.00), Host(protocols))
    protocols["twap"] = FixedOracle("twap", FixedOracleParams(price=1.00), Host(protocols))
    view = AnchoredOracle("view", AnchoredOracleParams(reporter="reporter", anchor="twap"), Host(protocols))
    return protocols, view


def test_a_post_beyond_the_anchor_is_guarded_and_one_within_is_stored(feeds):
    protocols, view = feeds
    protocols["reporter"].state = 1.30  # anchor / reporter = 1.00 / 1.30 = 0.769 < 0.8
    view.on_block(block(1))
    assert view.price() == 1.00
    protocols["reporter"].state = 1.25  # 0.8 exactly: inclusive
    view.on_block(block(2))
    assert view.price() == 1.25
    rows = view._log.to_frame()
    assert rows["accepted"].tolist() == [False, True]
    assert rows["ratio"].tolist() == pytest.approx([1.00 / 1.30, 0.8])


def test_an_anchor_drifting_up_lets_the_spike_through(feeds):
    """The reporter prints 1.30; the TWAP creeps up: refused until 1.30 × 0.8 = 1.04 is reached."""
    protocols, view = feeds
    stored = []
    for n, anchor in enumerate([1.00, 1.02, 1.03, 1.039, 1.041, 1.05], start=1):
        protocols["twap"].state = anchor
        protocols["reporter"].state = 1.30 + n * 1e-9  # a new signed price each block
        view.on_block(block(n))
        stored.append(view.price())
    assert stored[:4] == [1.00] * 4 and stored[4] == pytest.approx(1.30 + 5e-9) and stored[5] == pytest.approx(1.30 + 6e-9)
    assert view.summary({"anchored_posts": view._log.to_frame()}) == {"posts": 6, "guarded_posts": 4}


def test_an_unchanged_reporter_posts_nothing(feeds):
    protocols, view = feeds
    for n in range(1, 4):
        view.on_block(block(n))
    assert len(view._log.rows) == 0
