"""The ``maker-crash`` built-in run end to end: vaults barked as the OSM releases the lower price,
auctions taken with DAI and by selling on chain within the take, the Vow's books; identities at
the end; the same seed gives the same tables."""
from __future__ import annotations

import pandas as pd
import pytest

from defisim.run.simulation import Simulation
from defisim.scenario.loading import load_scenario

SMALL = ["protocols.maker.vaults.count=2000", "blocks=1200"]


@pytest.fixture(scope="module")
def run():
    sim = Simulation(load_scenario("maker-crash", SMALL))
    return sim, sim.run()


def test_liquidations_wait_for_the_osm(run):
    sim, res = run
    liq = res.tables["maker_liquidations"]
    pokes = res.tables["osm_pokes"]
    assert len(liq) > 100
    # the venue falls from minute 30; the OSM releases a lower price only at a poke, an hour after it queued it
    first = int(liq["block"].min())
    lower = pokes[pokes["released_usd"] < 2_000.0 * 0.99]
    assert first >= int(lower["block"].min())
    assert first * 12 >= 3_600  # not before the first hour's poke


def test_auctions_are_taken_both_ways_and_end_in_the_tables(run):
    sim, res = run
    txs = res.tables["txs"]
    landed = txs[txs["status"] == "included"]
    assert (landed["method"] == "take_and_sell").sum() > 0 and (landed["method"] == "take").sum() > 0
    auctions = res.tables["maker_auctions"]
    s = res.summary()
    assert s["maker.auctions_ended"] == len(auctions) > 0
    assert s["auctions"] == len(auctions)  # through the auctions role, no engine change
    assert s["maker.vault_liquidations"] == len(res.tables["maker_liquidations"]) == s["liquidations"]
    # an auction that raised its tab lost nothing; proceeds never exceed the tab
    assert (auctions["proceeds_usd"] <= auctions["tab_usd"] * (1 + 1e-9)).all()
    full = auctions["proceeds_usd"] >= auctions["tab_usd"] * (1 - 1e-9)
    assert (auctions.loc[full, "written_off_usd"] == 0).all()
    assert s["written_off_usd"] == pytest.approx(float(res.tables["maker_losses"]["written_off_usd"].sum()))


def test_the_books_balance_at_the_end(run):
    sim, res = run
    maker = sim.protocols["maker"]
    st = maker.state
    dai, weth = sim.protocols["dai"], sim.protocols["weth"]
    opening_dai = sum(dai.params.initial_balances.values()) + sim.protocols["pair"].params.reserve1  # issued at the start
    assert dai.state.total_supply - opening_dai == pytest.approx(st.debt, rel=1e-12)
    assert st.debt == pytest.approx(st.vice + float(st.Art @ st.rate), rel=1e-12)
    lots = float(st.sales["lot"][st.sales["alive"]].sum())
    assert weth.balance_of("maker") == pytest.approx(float(st.urns["ink"].sum()) + lots, rel=1e-12)
    # WETH is conserved: minted only at the start
    assert float(weth.state.balances["balance"].sum()) == pytest.approx(weth.state.total_supply, rel=1e-12)


def test_same_seed_same_tables():
    a = Simulation(load_scenario("maker-crash", ["protocols.maker.vaults.count=300", "blocks=700"])).run()
    b = Simulation(load_scenario("maker-crash", ["protocols.maker.vaults.count=300", "blocks=700"])).run()
    for name in ("maker_liquidations", "maker_auctions", "maker_bids", "txs"):
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])


def test_owners_who_read_the_next_osm_price_repay_before_the_bark():
    from defisim.scenario.loading import validate_scenario

    base = load_scenario("maker-crash", ["protocols.maker.vaults.count=600", "blocks=900"]).to_dict()
    guarded = {**base, "agents": [*base["agents"], {"kind": "maker.vault_guard", "name": "owners",
                                                      "params": {"system": "maker", "share": 1.0,
                                                                 "reaction": {"kind": "fixed", "value": "1m"}}}]}
    plain = Simulation(validate_scenario(base)).run()
    sim = Simulation(validate_scenario(guarded))
    res = sim.run()
    txs = res.tables["txs"]
    repaid = txs[(txs["method"] == "frob") & txs["sender"].str.startswith("vault/") & (txs["status"] == "included")]
    assert len(repaid) > 0
    # owners who repaid ahead of the released price kept their vaults out of the auctions
    assert res.summary()["maker.vault_liquidations"] < plain.summary()["maker.vault_liquidations"]
    st = sim.protocols["maker"].state
    assert st.debt == pytest.approx(st.vice + float(st.Art @ st.rate), rel=1e-12)


def test_a_vault_book_from_csv(tmp_path):
    from defisim.scenario.loading import ScenarioError, validate_scenario

    book = tmp_path / "vaults.csv"
    book.write_text("owner,collateral,debt\nalice,100,120000\nbob,10,5000\ncarol,1,0\n")
    data = load_scenario("maker-crash", ["blocks=5"]).to_dict()
    data["protocols"]["maker"]["vaults"] = {"ilk": "ETH-A", "csv": str(book)}
    sim = Simulation(validate_scenario(data))
    m = sim.protocols["maker"]
    assert m.vault("alice") == ("ETH-A", 100.0, 120_000.0) and m.vault("carol") == ("ETH-A", 1.0, 0.0)
    assert sim.protocols["dai"].balance_of("bob") == 5_000.0
    assert sim.protocols["weth"].balance_of("maker") == 111.0
    data["protocols"]["maker"]["vaults"] = {"ilk": "ETH-A", "csv": str(book), "count": 10}
    with pytest.raises(ScenarioError, match="count: the vault book .* gives every vault"):
        validate_scenario(data)
    book.write_text("owner,collateral,debt\nalice,100,-1\n")
    data["protocols"]["maker"]["vaults"] = {"ilk": "ETH-A", "csv": str(book)}
    with pytest.raises(ScenarioError, match="row 2: collateral and debt must be non-negative numbers"):
        validate_scenario(data)
