"""The Compound III deployment in a run: eth-crash with its Aave pool replaced by a cUSDCv3-like
deployment (WETH BCF 0.825, LCF 0.895, LF 0.95) and its keepers by an absorber and a collateral
buyer. Accounts below the LCF limit are absorbed whole, credited at LF; the reserves take the
shortfall; the buyer pays the store-front price and sells on the venue; tokens are conserved."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from defisim import Simulation, load_scenario
from defisim.base.protocol import BlockInfo
from defisim.scenario.loading import ScenarioError, validate_scenario

WETH = {"symbol": "WETH", "borrow_collateral_factor": 0.825, "liquidate_collateral_factor": 0.895,
        "liquidation_factor": 0.95}


def comet_scenario(borrowers: int = 2_000) -> dict:
    data = copy.deepcopy(load_scenario("eth-crash").to_dict())
    aave = data["protocols"].pop("aave")
    data["protocols"]["comet"] = {"kind": "lending.compound_v3", "tokens": aave["tokens"], "oracles": aave["oracles"],
                                  "assets": [dict(WETH)], "seed_supply": 20_000_000, "borrowers": {"count": borrowers}}
    data["protocols"]["usdc"]["initial_balances"] = {"buyer/0": 5_000_000}
    data["agents"] = [a for a in data["agents"] if a["kind"] != "lending.keeper"] + [
        {"kind": "compound_v3.absorber", "name": "absorber", "params": {"comet": "comet"}},
        {"kind": "compound_v3.collateral_buyer", "name": "buyer", "params": {"comet": "comet", "venues": {"WETH": "cex"}}}]
    return data


@pytest.fixture(scope="module")
def run():
    sim = Simulation(validate_scenario(comet_scenario()))
    return sim, sim.run()


def test_liquidatable_accounts_are_absorbed_whole_and_credited_at_the_liquidation_factor(run):
    sim, res = run
    absorbs, comet = res.tables["comet_absorbs"], sim.protocols["comet"]
    assert res.summary()["liquidations"] == len(absorbs) > 100
    np.testing.assert_allclose(absorbs["credited_usd"], 0.95 * absorbs["collateral_usd"], rtol=1e-12)
    np.testing.assert_allclose(absorbs["shortfall_usd"], np.maximum(absorbs["debt_usd"] - absorbs["credited_usd"], 0),
                               rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(absorbs["supplied_usd"], np.maximum(absorbs["credited_usd"] - absorbs["debt_usd"], 0),
                               rtol=1e-9, atol=1e-6)
    rows = [comet.state.accounts[a] for a in absorbs["account"]]
    assert (comet.state.positions["collateral"][rows] == 0).all() and (comet.state.positions["principal"][rows] >= 0).all()
    assert res.summary()["comet.reserves_usd"] < 0  # the crash's shortfall and the unsold stock sit in the reserves


def test_the_buyer_pays_the_store_front_price(run):
    _sim, res = run
    buys, prices = res.tables["comet_buys"], res.tables["prices"]
    assert len(buys) >= 1
    answer = prices[prices["name"] == "eth_usd.answer"].set_index("block")["price_usd"]
    # the oracle's answer when the call ran: the last block's, or this block's if its update came first
    paid = buys["price_usd"].to_numpy() / (1 - 0.5 * (1 - 0.95))
    seen = np.column_stack([answer[buys["block"] - 1].to_numpy(), answer[buys["block"]].to_numpy()])
    assert np.isclose(paid[:, None], seen, rtol=1e-12).any(axis=1).all()
    np.testing.assert_allclose(buys["collateral_bought"], buys["base_paid"] / buys["price_usd"], rtol=1e-12)
    trades = res.tables["venue_trades"]
    sold = trades[trades["trader"] == "buyer/0"]
    assert len(sold) == len(buys) and np.allclose(sorted(sold["amount"]), sorted(buys["collateral_bought"]))


def test_tokens_are_conserved(run):
    sim, _res = run
    comet, usdc, weth = sim.protocols["comet"], sim.protocols["usdc"], sim.protocols["weth"]
    s = comet.state
    assert usdc.balance_of("comet") == pytest.approx(s.base_held, rel=1e-12)
    assert weth.balance_of("comet") == pytest.approx(float(s.collateral_held[0]), rel=1e-12)
    owned = s.collateral_held - s.positions["collateral"].sum(axis=0)  # what the accounts do not hold
    assert comet.collateral_reserves() == pytest.approx(owned, rel=1e-9, abs=1e-9) and owned[0] >= 0
    assert s.total_supply_base == pytest.approx(float(s.positions["principal"][s.positions["principal"] > 0].sum()), rel=1e-9)
    assert s.total_borrow_base == pytest.approx(float(-s.positions["principal"][s.positions["principal"] < 0].sum()),
                                                rel=1e-9)


def test_factors_out_of_order_are_refused():
    data = comet_scenario()
    data["protocols"]["comet"]["assets"][0]["borrow_collateral_factor"] = 0.9
    with pytest.raises(ScenarioError, match=r"protocols\.comet\.assets\.0.*borrow_collateral_factor \(0\.9\) must be below"):
        validate_scenario(data)


@pytest.mark.parametrize("largest", [1, 7, 50, 5_000])
def test_the_absorbers_shortlist_is_the_head_of_the_full_order(largest):
    """Asked for its ``largest``, the view gives the head of the full order (largest debt first,
    ties by row) without sorting everything."""
    sim = Simulation(validate_scenario(comet_scenario(borrowers=3_000)))
    sim.protocols["eth_usd"].state.answer = 1_400.0  # −30%: most of the book is liquidatable
    view = sim.protocols["comet"].view()
    rows, debt = view.liquidatable_accounts()
    assert rows.size > 1_000 and (np.diff(debt) <= 0).all()
    head_rows, head_debt = view.liquidatable_accounts(largest=largest)
    assert head_rows.tolist() == rows[:largest].tolist() and head_debt.tolist() == debt[:largest].tolist()


def test_the_bound_that_skips_the_book_misses_no_liquidatable_account():
    """Block after block, prices up and down, interest accruing and accounts absorbed: the rows
    found with the bound are those of the full test every time."""
    sim = Simulation(validate_scenario(comet_scenario(borrowers=3_000)))
    comet, oracle = sim.protocols["comet"], sim.protocols["eth_usd"]
    found = []
    for n, price in enumerate([2_000, 1_990, 2_010, 1_800, 1_700, 1_750, 1_700, 1_400, 2_500, 2_400], start=1):
        oracle.state.answer = float(price)
        comet.on_block(BlockInfo(n, n, 12_000 * n * 1_000, 20.0, 36_000_000))  # 1,000 slots apart: interest
        comet.block = BlockInfo(n, n, 12_000 * n * 1_000, 20.0, 36_000_000)
        rows = comet.liquidatable_rows()
        assert rows.tolist() == np.flatnonzero(comet.liquidatable()).tolist()
        found.append(rows.size)
        for row in rows[:5].tolist():
            comet.absorb("absorber", comet.state.accounts.name(row))
    assert found[0] == 0 and max(found) > 100


def test_collateral_beyond_the_supply_cap_is_refused():
    from defisim.base import Revert

    data = comet_scenario(borrowers=100)
    held = float(Simulation(validate_scenario(data)).protocols["comet"].state.positions["collateral"].sum())
    data["protocols"]["comet"]["assets"][0]["supply_cap"] = held + 10.0
    sim = Simulation(validate_scenario(data))
    comet, weth = sim.protocols["comet"], sim.protocols["weth"]
    weth.issue("new", 20.0)
    comet.supply("new", "WETH", 10.0)  # up to the cap
    with pytest.raises(Revert, match="SupplyCapExceeded"):
        comet.supply("new", "WETH", 1.0)
