"""The Vow's surplus auctions in a run: ``maker-crash`` made milder (ETH −30 %, every auction
covered, so the liquidation penalty accrues as surplus) with a short ``wait`` and ``flap`` set,
and two bidders holding 1,000 MKR each that value it at $1,500 less 5 %. Each surplus auction
sells 50,000 DAI for 50,000 / 1,425 = 35.09 MKR, which the Flapper burns; when the bidders'
tokens run out, auctions end with no bid and restart (tick). (While the crash's debt is still
free and no surplus is left, the Vow runs debt auctions too, which the same bidders bid on.)"""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

import defisim.scenario.builtins as builtins
from defisim.run.simulation import Simulation
from defisim.scenario.loading import load_scenario

BUMP, MKR_USD, DISCOUNT, HELD = 50_000.0, 1_500.0, 0.05, 1_000.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    raw = tomllib.loads((Path(builtins.__file__).parent / "maker-crash.toml").read_text())
    raw["markets"]["feeds"]["ETH"]["moves"][0]["change"] = -0.3
    raw["markets"]["feeds"]["MKR"] = {"kind": "scripted", "base_price_usd": MKR_USD}
    raw["markets"]["venues"]["mkr_cex"] = {"asset": "MKR", "depth": {"kind": "linear", "depth_usd_per_pct": 1e6}}
    raw["protocols"]["maker"]["vaults"]["count"] = 1_000
    raw["protocols"]["maker"]["vow"] = {"wait": "10min", "flap": {"bump_dai": BUMP, "ttl": "10min", "tau": "1h"}}
    raw["protocols"]["mkr"]["initial_balances"] = {"mkr_bidder/0": HELD, "mkr_bidder/1": HELD}
    raw["agents"].append({"kind": "maker.vow_bidder", "name": "mkr_bidder", "count": 2,
                          "params": {"system": "maker", "venue": "mkr_cex", "discount": DISCOUNT}})
    path = tmp_path_factory.mktemp("flap") / "flap.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    sim = Simulation(load_scenario(path))
    return sim, sim.run()


def test_surplus_auctions_sell_the_lot_at_the_bidders_price_and_burn_the_tokens(run):
    sim, res = run
    s, flaps = res.summary(), res.tables["maker_flaps"]
    deals = flaps[flaps["action"] == "deal"]
    assert len(deals) > 10 and s["maker.auction_shortfall_dai"] == 0
    assert (deals["dai"] == BUMP).all()
    assert deals["gov_tokens"].to_numpy() == pytest.approx(BUMP / (MKR_USD * (1 - DISCOUNT)), rel=1e-12)
    assert s["maker.gov_burnt"] == pytest.approx(deals["gov_tokens"].sum())
    assert s["maker.surplus_auctioned_dai"] == BUMP * len(deals)
    mkr = sim.protocols["mkr"]
    assert mkr.state.total_supply == pytest.approx(2 * HELD - s["maker.gov_burnt"] + s["maker.gov_minted"], rel=1e-12)
    t = res.tables["transfers"]
    won = t[(t["token"] == "dai") & (t["sender"] == "maker/flapper")]
    assert won["recipient"].tolist() == deals["bidder"].tolist() and (won["amount"] == BUMP).all()


def test_the_flapper_holds_what_is_still_under_auction_and_the_books_balance(run):
    sim, res = run
    m, dai = sim.protocols["maker"], sim.protocols["dai"]
    st, flaps = m.state, res.tables["maker_flaps"]
    alive = st.flaps["alive"]
    assert dai.balance_of("maker/flapper") == pytest.approx(BUMP * alive.sum())
    assert sim.protocols["mkr"].balance_of("maker/flapper") == pytest.approx(float(st.flaps["bid"][alive].sum()))
    assert dai.state.total_supply == pytest.approx(st.debt + 140_000_000, rel=1e-12)  # + the wallets and the pair opened with
    assert st.debt == pytest.approx(st.vice + float(st.Art @ st.rate), rel=1e-12)
    # the bidders ran out of MKR: the later auctions got no bid and were restarted
    assert (flaps["action"] == "tick").any()
    assert min(sim.protocols["mkr"].balance_of(f"mkr_bidder/{i}") for i in range(2)) < BUMP / (MKR_USD * 0.95)
