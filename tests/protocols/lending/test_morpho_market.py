"""The Morpho Blue market in runs: eth-crash with its Aave pool replaced by a Morpho market (LLTV
86%), the same capital keepers pointed at it, unchanged. They liquidate through the lending role;
each liquidation gives collateral worth the incentive factor times the debt repaid; a crash too
fast for them leaves positions without collateral whose debt is written off against the
suppliers; tokens are conserved; the float engine agrees with the exact twin; a sweep over the
LLTV ranks it."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from defisim import Simulation, load_scenario
from defisim.scenario.loading import ScenarioError, validate_scenario
from defisim.sweep import run_sweep
from protocols.lending.morpho_blue import exact
from protocols.lending.morpho_blue import math as mm
from protocols.lending.morpho_blue.params import ENABLED_LLTVS


def morpho_scenario(change: float = -0.35, duration: str = "4m", lltv: float = 0.86, borrowers: int = 2_000) -> dict:
    data = copy.deepcopy(load_scenario("eth-crash").to_dict())
    aave = data["protocols"].pop("aave")
    data["protocols"]["morpho"] = {"kind": "lending.morpho_blue", "tokens": aave["tokens"], "oracles": aave["oracles"],
                                   "lltv": lltv, "any_lltv": lltv not in ENABLED_LLTVS, "seed_supply": 20_000_000,
                                   "borrowers": {"count": borrowers}}
    data["markets"]["feeds"]["ETH"]["moves"][0].update(change=change, duration=duration)
    for agent in data["agents"]:
        if agent["params"].get("pool") == "aave":
            agent["params"]["pool"] = "morpho"
    return data


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, kwargs in {"crash": {}, "fast": {"change": -0.5, "duration": "1m"}}.items():
        sim = Simulation(validate_scenario(morpho_scenario(**kwargs)))
        out[name] = (sim, sim.run())
    return out


def test_the_lending_keeper_liquidates_a_morpho_market_unchanged(runs):
    _sim, res = runs["crash"]
    liq = res.tables["morpho_liquidations"]
    assert res.summary()["liquidations"] == len(liq) > 50
    assert (liq["health_factor"] < 1.0).all() and liq["liquidator"].str.startswith("keeper/").all()
    whole = liq[liq["bad_debt_assets"] == 0]
    lif = mm.liquidation_incentive_factor(0.86)
    np.testing.assert_allclose(whole["seized_usd"] / whole["repaid_usd"], lif, rtol=1e-12)  # no close factor, no fee


def test_a_position_left_without_collateral_has_its_debt_written_off_against_suppliers(runs):
    sim, res = runs["fast"]
    liq, market = res.tables["morpho_liquidations"], sim.protocols["morpho"]
    bad = liq[liq["bad_debt_assets"] > 0]
    assert len(bad) > 10
    assert res.summary()["morpho.bad_debt_usd"] == pytest.approx(bad["bad_debt_usd"].sum(), rel=1e-12)
    rows = [market.state.accounts[b] for b in bad["borrower"]]
    assert (market.state.positions["collateral"][rows] == 0).all() and (market.state.positions["borrow_shares"][rows] == 0).all()
    # seized all it had: the repayment is the collateral's worth over the incentive, the rest written off
    np.testing.assert_allclose(bad["seized_usd"] / bad["repaid_usd"], market.lif, rtol=1e-12)
    assert market.distress() > 0


@pytest.mark.parametrize("run", ["crash", "fast"])
def test_tokens_are_conserved(runs, run):
    sim, _res = runs[run]
    market, usdc, weth = sim.protocols["morpho"], sim.protocols["usdc"], sim.protocols["weth"]
    s = market.state
    assert usdc.balance_of("morpho") == pytest.approx(s.total_supply_assets - s.total_borrow_assets, rel=1e-9)
    assert weth.balance_of("morpho") == pytest.approx(float(s.positions["collateral"].sum()), rel=1e-12)
    for ledger in (usdc, weth):
        assert float(ledger.state.balances["balance"][: len(ledger.state.accounts)].sum()) == pytest.approx(
            ledger.state.total_supply, rel=1e-12)
    assert s.total_borrow_assets <= s.total_supply_assets


def test_the_float_math_follows_the_exact_twin():
    for lltv in ENABLED_LLTVS[1:]:
        wad = round(lltv * 1000) * 10**15
        assert mm.liquidation_incentive_factor(lltv) == pytest.approx(exact.liquidation_incentive_factor(wad) / 1e18,
                                                                      rel=1e-15)
    rng = np.random.default_rng(5)
    for _ in range(200):
        u, seconds, start = rng.uniform(0, 1), int(rng.integers(1, 30 * 86_400)), rng.uniform(0.002, 1.5)
        irm = exact.AdaptiveCurveIrm(rate_at_target=int(start * 1e18 / exact.SECONDS_PER_YEAR))
        market = exact.MarketState(total_supply_assets=10**24, total_borrow_assets=int(u * 10**24), last_update=0)
        avg, end = irm.rates(market, seconds)
        got_avg, got_end = mm.adaptive_curve_rates(u, start, seconds)
        assert got_avg == pytest.approx(avg * exact.SECONDS_PER_YEAR / 1e18, rel=1e-6)
        assert got_end == pytest.approx(end * exact.SECONDS_PER_YEAR / 1e18, rel=1e-6)
        rate = int(start * 1e18 / exact.SECONDS_PER_YEAR)
        assert mm.taylor_compounded(rate / 1e18, seconds) == pytest.approx(
            exact.w_taylor_compounded(rate, seconds) / 1e18, rel=1e-9)


def test_an_lltv_governance_has_not_enabled_is_refused_unless_asked_for():
    data = morpho_scenario()
    data["protocols"]["morpho"].update(lltv=0.9, any_lltv=False)
    with pytest.raises(ScenarioError, match=r"protocols\.morpho.*lltv: 0\.9 is not an enabled LLTV"):
        validate_scenario(data)


def test_a_sweep_over_the_lltv(tmp_path):
    path = tmp_path / "morpho.yaml"
    data = morpho_scenario(borrowers=300)
    data["protocols"]["morpho"]["any_lltv"] = True
    data["blocks"] = 80
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    res = run_sweep(path, grid={"protocols.morpho.lltv": [0.77, 0.86, 0.945]}, seeds=2, workers=1,
                    out=tmp_path / "sweep", figures=False)
    loss = res.ranking.set_index("param.protocols.morpho.lltv")["total_loss_mean_usd"].sort_index()
    assert loss.index.tolist() == [0.77, 0.86, 0.945]
    # the same health factors at a higher LLTV: each position is only 1 − LLTV from owing more than
    # its collateral, and the incentive that pays keepers is smaller (1.074, 1.044, 1.017): more loss
    assert loss.is_monotonic_increasing and loss[0.945] > 10 * loss[0.77]


def test_new_accounts_supply_and_post_collateral_past_the_tables_capacity():
    """Twenty new accounts (past the rows allocated for the opening book) supply and post
    collateral; each holds what it put in, and the totals move by the sum."""
    sim = Simulation(validate_scenario(morpho_scenario(borrowers=100)))
    market, usdc, weth = sim.protocols["morpho"], sim.protocols["usdc"], sim.protocols["weth"]
    supplied = market.state.total_supply_assets
    for i in range(20):
        usdc.issue(f"new/{i}", 1_000.0)
        weth.issue(f"new/{i}", 2.0)
        market.supply(f"new/{i}", 1_000.0)
        market.supply_collateral(f"new/{i}", 2.0)
    assert [market.supplied(f"new/{i}") for i in range(20)] == pytest.approx([1_000.0] * 20, rel=1e-12)
    rows = [market.state.accounts[f"new/{i}"] for i in range(20)]
    assert market.state.positions["collateral"][rows].tolist() == [2.0] * 20
    assert market.state.total_supply_assets == pytest.approx(supplied + 20_000.0, rel=1e-12)
    assert usdc.balance_of("morpho") == pytest.approx(market.state.total_supply_assets - market.state.total_borrow_assets,
                                                      rel=1e-12)


@pytest.mark.parametrize("eth_usd", [2_000.0, 1_700.0, 1_400.0, 1_100.0, 400.0])
def test_the_shared_unhealthy_set_equals_the_full_computation(eth_usd):
    """The per-block first pass misses nothing: candidates, health factors and debts equal, bit for
    bit, those of the health factor of every position."""
    sim = Simulation(validate_scenario(morpho_scenario(borrowers=5_000)))
    sim.protocols["eth_usd"].state.answer = eth_usd
    view = sim.protocols["morpho"].view()
    fast = view.liquidation_candidates()
    full = view.liquidation_candidates(prices_usd=view.prices_usd())
    for a, b in zip(fast, full):
        assert a.tolist() == b.tolist()
    assert (fast[0].size > 0) == (eth_usd < 2_000.0)


def test_the_bound_that_skips_the_book_misses_no_unhealthy_position():
    """Block after block, the price up and down, interest accruing (the IRM at a fixed 300%/yr to
    move the share price) and positions liquidated: the unhealthy set read with the bound is the
    full computation's every time."""
    from defisim.base.protocol import BlockInfo

    data = morpho_scenario(borrowers=3_000)
    data["protocols"]["morpho"].update(irm="fixed", fixed_rate=3.0)
    sim = Simulation(validate_scenario(data))
    market, oracle, usdc = sim.protocols["morpho"], sim.protocols["eth_usd"], sim.protocols["usdc"]
    usdc.issue("liquidator", 1e12)
    found = []
    for n, price in enumerate([2_000, 1_995, 2_010, 2_000, 1_700, 1_750, 1_990, 1_600, 2_500, 2_400], start=1):
        block = BlockInfo(n, n, 12_000 * n * 500, 20.0, 36_000_000)  # 500 slots apart: interest moves the share price
        oracle.state.answer = float(price)
        market.on_block(block)
        market.block = block
        rows, hf, _owed = market.unhealthy_now()
        full = market.health_factors()
        assert rows.tolist() == np.flatnonzero(full < 1.0).tolist() and hf.tolist() == full[rows].tolist()
        found.append(rows.size)
        for row in rows[:5].tolist():
            market.liquidation_call("liquidator", "WETH", "USDC", market.state.accounts.name(row))
    assert found[:4] == [0, 0, 0, 0] and max(found) > 100
