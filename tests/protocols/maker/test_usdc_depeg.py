"""``usdc-depeg-2023``: DAI follows USDC through the PSM. Arbitrageurs sell the cheap USDC to the
PSM for DAI one for one and sell that DAI on its book, so DAI's price falls with USDC's; with the
PSM's ceiling at 0 nothing can be swapped and DAI's book stays at its $1 anchor."""
from __future__ import annotations

import pytest

from defisim.run.simulation import Simulation
from defisim.scenario.loading import load_scenario


def _run(extra=()):
    sim = Simulation(load_scenario("usdc-depeg-2023", list(extra)))
    return sim, sim.run()


@pytest.fixture(scope="module")
def with_psm():
    return _run()


@pytest.fixture(scope="module")
def no_psm():
    return _run(["protocols.maker.ilks.PSM-USDC-A.line_dai=0"])


def _lows(res):
    s = res.summary()
    return s["min_price_usd.venue.dai_book"], s["min_price_usd.venue.usdc_book"]


def test_dai_follows_usdc_through_the_psm(with_psm, no_psm):
    (_, res), (_, held) = with_psm, no_psm
    dai, usdc = _lows(res)
    assert usdc < 0.9
    assert 1 - dai > 0.2 * (1 - usdc)  # DAI fell by a fifth of USDC's fall or more
    dai_held, usdc_held = _lows(held)
    assert usdc_held == pytest.approx(usdc, abs=0.01) and dai_held > 0.999
    txs = held.tables["txs"]
    assert not ((txs["method"] == "sell_gem") & (txs["status"] == "included")).any()
    assert not (txs["method"] == "sell_gem").any()  # the arbitrageurs read the ceiling and do not try


def test_the_psm_books_balance(with_psm):
    sim, res = with_psm
    st = sim.protocols["maker"].state
    dai, usdc = sim.protocols["dai"], sim.protocols["usdc"]
    assert dai.state.total_supply == pytest.approx(st.debt, rel=1e-12)
    assert st.debt == pytest.approx(float(st.Art @ st.rate), rel=1e-12)  # no fees, no system debt
    assert usdc.balance_of("maker") == pytest.approx(float(st.urns["ink"].sum()), rel=1e-12)
    assert usdc.balance_of("maker") > 0
    landed = res.tables["txs"]
    landed = landed[landed["status"] == "included"]
    assert (landed["method"] == "sell_gem").sum() > 0 and (landed["method"] == "buy_gem").sum() > 0
