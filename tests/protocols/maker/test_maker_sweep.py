"""A sweep over a Maker scenario: the Maker metrics reach the sweep's run table through the
system's summary, and its losses, liquidations and auctions through the result roles, with no
engine change. Swept: the auction keepers' gas-price ceiling on ``black-thursday-2020`` (small):
at 1,000 gwei they get into blocks that need about 200 and bid the lots' value; at 100 they
never land a bid, and auctions close on the near-zero bids."""
from __future__ import annotations

import pytest

from defisim.sweep import run_sweep

CEILING = "agents.4.params.gas.max_fee_ceiling_gwei"  # the three DAI-holding flip bidders


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return run_sweep("black-thursday-2020", grid={CEILING: [100.0, 1000.0]}, seeds=2, workers=1,
                     overrides=["protocols.maker.vaults.count=400", "blocks=3000"],
                     out=tmp_path_factory.mktemp("maker-sweep"), figures=False)


def test_the_maker_metrics_are_in_every_run(sweep):
    runs = sweep.runs
    assert len(runs) == 4 and (runs["status"] == "ok").all()
    for column in ("maker.zero_bid_share", "maker.auction_shortfall_dai", "maker.deficit_dai", "maker.gov_minted"):
        assert column in runs.columns
    # the roles: an auction per bite, and the loss is what the auctions left uncovered
    assert (runs["auctions"] == runs["maker.auctions_ended"]).all()
    assert (runs["liquidations"] == runs["maker.vault_liquidations"]).all()
    assert runs["total_loss_usd"].to_numpy() == pytest.approx(runs["maker.auction_shortfall_dai"].to_numpy())


def test_a_ceiling_above_the_market_avoids_the_zero_bids(sweep):
    runs = sweep.runs.set_index(f"param.{CEILING}")
    capped, free = runs.loc[100.0], runs.loc[1000.0]
    assert (capped["maker.zero_bid_share"] > 0.5).all() and (free["maker.zero_bid_share"] < 0.05).all()
    assert (capped["total_loss_usd"] > 0).all()
    assert (free["total_loss_usd"] < 0.01 * capped["total_loss_usd"].min()).all()
    # the ranking (total-loss CVaR) puts the higher ceiling first
    assert sweep.ranking[f"param.{CEILING}"].tolist() == [1000.0, 100.0]
