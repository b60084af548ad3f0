"""The stability fee accrues in a run: ``maker-crash`` without its crash (ETH flat at $2,000, so
no vault is liquidated and nobody frobs) and with a 5 %/yr fee on ETH-A, whose Vow keeper calls
``drip`` once an hour has passed since the last one (dss `jug.sol`). After the last drip the rate
is the closed form ``1.05^(rho / 365 days)``, and the interest minted to the Vow is
``Art · (rate − 1)`` DAI; the Vat's identity holds."""
from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

import defisim.scenario.builtins as builtins
from defisim.run.simulation import Simulation
from defisim.scenario.loading import load_scenario

FEE, YEAR_S, HOUR_S, SLOT_S, BLOCKS = 0.05, 31_536_000, 3_600, 12, 1_200


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    raw = tomllib.loads((Path(builtins.__file__).parent / "maker-crash.toml").read_text())
    raw["blocks"] = BLOCKS
    raw["markets"]["feeds"]["ETH"].pop("moves")
    raw["protocols"]["maker"]["vaults"]["count"] = 300
    raw["protocols"]["maker"]["ilks"]["ETH-A"]["stability_fee"] = FEE
    path = tmp_path_factory.mktemp("fee") / "fee.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    sim = Simulation(load_scenario(path))
    return sim, sim.run()


def test_the_keeper_drips_hourly_and_the_rate_is_the_closed_form(run):
    sim, res = run
    tx = res.tables["txs"]
    drips = tx[(tx["method"] == "drip") & (tx["status"] == "included")]
    times_s = drips["time_ms"].to_numpy() // 1000
    assert len(drips) in (BLOCKS * SLOT_S // HOUR_S - 1, BLOCKS * SLOT_S // HOUR_S)
    gaps = np.diff(np.concatenate([[0], times_s]))
    assert (gaps >= HOUR_S).all() and (gaps <= HOUR_S + 5 * SLOT_S).all()
    st = sim.protocols["maker"].state
    assert int(st.rho_s[0]) == times_s[-1]
    assert float(st.rate[0]) == pytest.approx((1 + FEE) ** (times_s[-1] / YEAR_S), rel=1e-12)


def test_the_interest_is_minted_to_the_vow_and_the_books_balance(run):
    sim, res = run
    m = sim.protocols["maker"]
    st = m.state
    assert res.summary()["maker.vault_liquidations"] == 0
    assert m.surplus() == pytest.approx(float(st.Art[0]) * (float(st.rate[0]) - 1), rel=1e-9)
    assert m.surplus() > 0
    assert st.vice == 0 and st.debt == pytest.approx(float(st.Art @ st.rate), rel=1e-12)
