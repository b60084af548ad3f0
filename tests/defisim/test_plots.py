"""The crisis timeline PNG: readable back, sized as documented, no pyplot or rcParams side effects."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from defisim.base.eventlog import EventLog
from defisim.results.plots import HEADER_PX, build_timeline, timeline_figure, timeline_panels
from protocols.lending.aave_v3.model import HEALTH_COLUMNS, HEALTH_ROLE
from protocols.perps.model import LIQUIDATION_COLUMNS as PERP_COLUMNS
from defisim.scenario.loading import load_scenario
from defisim.run.simulation import Simulation

SMALL = {"width_px": 640, "panel_height_px": 160}


@pytest.fixture(scope="module")
def crash():
    scenario = load_scenario("eth-crash", ["protocols.aave.population.count=500", "blocks=60"])
    results = Simulation(scenario).run()
    return results.tables, results.schema


@pytest.fixture(scope="module")
def quiet():
    return Simulation(load_scenario("payers", ["blocks=5"])).run().tables


def _read(path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.load()  # decodes every pixel: a truncated or corrupt file raises
        assert im.format == "PNG"
        return im.size


def test_crash_timeline_is_a_png_of_the_documented_size(crash, tmp_path):
    tables, schema = crash
    panels = timeline_panels(tables, schema)
    assert panels == ["prices", "liquidations", "losses", "chain", "health factors"]
    assert timeline_panels(tables) == ["prices", "chain"]  # without the roles the protocols' tables are not read
    out = timeline_figure(tables, tmp_path / "t.png", schema=schema, scenario="eth-crash", **SMALL)
    assert out == tmp_path / "t.png" and out.stat().st_size > 0
    assert _read(out) == (640, HEADER_PX + 160 * len(panels))
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (HEADER_PX + 160 * len(panels), 640)
    assert image[..., :3].std() > 0.05  # something was drawn


def test_axes_carry_units_and_the_title_names_the_scenario(crash):
    tables, schema = crash
    fig = build_timeline(tables, schema=schema, scenario="eth-crash", x="minutes", **SMALL)
    assert fig.get_suptitle() == "eth-crash: crisis timeline"
    labels = [ax.get_ylabel() for ax in fig.axes]
    for unit in ("price (USD)", "(USD per block)", "count per block", "losses\n(USD)", "(gwei per gas)", "pending txs"):
        assert any(unit in label for label in labels), unit
    legend = [t.get_text() for ax in fig.axes for t in (ax.get_legend().get_texts() if ax.get_legend() else [])]
    for series in ("debt written off, cumulative", "debt uncovered by collateral", "debt below HF 1", "reverted liquidation calls"):
        assert any(series in text for text in legend), series
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[-1])
    bottom = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in bottom] == ["time since start (min)"]


def test_a_run_without_lending_draws_only_what_it_has(quiet, tmp_path):
    assert "liquidations" not in quiet and len(quiet["prices"]) == 0
    assert timeline_panels(quiet) == ["chain"]
    out = timeline_figure(quiet, tmp_path / "quiet.png", **SMALL)
    assert _read(out) == (640, HEADER_PX + 160)


def test_no_tables_still_write_a_figure(tmp_path):
    assert timeline_panels({}) == []
    assert _read(timeline_figure({}, tmp_path / "empty.png", **SMALL)) == (640, HEADER_PX + 160)


def test_no_pyplot_figures_and_no_rcparams_changes(crash, tmp_path):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    assert plt.get_fignums() == []
    timeline_figure(crash[0], tmp_path / "a.png", schema=crash[1], **SMALL)
    build_timeline(crash[0], schema=crash[1])
    assert plt.get_fignums() == []
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend() == backend


def test_health_factor_panel_only_when_a_positions_table_has_quantiles(quiet, tmp_path):
    assert "health factors" not in timeline_panels(quiet)
    log = EventLog()
    log.declare("book", "", HEALTH_COLUMNS, role="positions", role_columns=HEALTH_ROLE)
    hf = pd.DataFrame({"block": [1, 2, 3], "pool": "p", "hf_p01": [1.0, 0.9, 0.8], "hf_p05": [1.1, 1.0, 0.9],
                       "hf_p25": [1.3, 1.2, 1.1], "hf_p50": [1.5, 1.4, np.inf], "borrowers": 5, "below_1": [0, 1, 2],
                       "debt_below_1_usd": [0.0, 10.0, 20.0], "uncovered_usd": [0.0, 0.0, 5.0]})
    tables = {**quiet, "book": hf}
    assert timeline_panels(tables, log.schema()) == ["losses", "chain", "health factors"]
    assert _read(timeline_figure(tables, tmp_path / "hf.png", schema=log.schema(), **SMALL)) == (640, HEADER_PX + 3 * 160)
    no_quantiles = {"book": {**log.schema()["book"], "role_columns": {k: v for k, v in HEALTH_ROLE.items() if k != "hf_quantiles"} | {
        f: f for f in ("block", "below_1", "debt_below_1_usd", "uncovered_usd")}}}
    assert timeline_panels(tables, no_quantiles) == ["losses", "chain"]


def test_prices_of_different_magnitudes_get_their_own_panels_and_constants_a_note():
    blocks = [1, 2, 3]
    prices = pd.DataFrame({
        "block": blocks * 4,
        "time_ms": [12_000, 24_000, 36_000] * 4,
        "source": ["feed"] * 3 + ["feed"] * 3 + ["venue"] * 3 + ["protocol"] * 3,
        "name": ["BTC"] * 3 + ["ETH"] * 3 + ["cex"] * 3 + ["usdc_usd.answer"] * 3,
        "price_usd": [60_000.0, 55_000.0, 50_000.0, 2000.0, 1900.0, 1800.0, 2000.0, 1880.0, 1790.0, 1.0, 1.0, 1.0],
    })
    assert timeline_panels({"prices": prices}) == ["prices ~$100k", "prices ~$1k"]
    fig = build_timeline({"prices": prices}, **SMALL)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "constant: usdc_usd.answer = $1" in texts
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["feed ETH (true price)", "venue cex (mid)"]


def test_bad_x_axis_is_refused(quiet):
    with pytest.raises(ValueError, match="x must be"):
        build_timeline(quiet, x="seconds")


def test_off_chain_venues_get_a_panel_with_their_liquidations_and_fund():
    blocks = pd.DataFrame({"block": [1, 2, 3], "time_ms": [0, 12_000, 24_000], "base_fee_gwei": [20.0, 21.0, 22.0]})
    perp = pd.DataFrame({"t_ms": [5_000, 13_000, 14_000], "venue": "hl", "account": ["a", "b", "c"],
                         "kind": ["book", "backstop", "adl"], "notional_usd": [1e5, 2e5, 3e5],
                         "equity_usd": [10.0, -5.0, -50.0], "fund_delta_usd": [1_000.0, -5.0, -2_000.0]})
    adl = pd.DataFrame({"t_ms": [14_000], "venue": "hl", "market": "X", "bankrupt": "c", "counterparty": "d",
                        "size": [2.0], "price_usd": [90.0]})
    tables = {"blocks": blocks, "perp_liquidations": perp, "perp_adl": adl}
    log = EventLog()
    log.declare("perp_liquidations", "", PERP_COLUMNS, role="closeouts", role_columns={"protocol": "venue"})
    assert "off-chain venues" in timeline_panels(tables, log.schema())
    assert "off-chain venues" not in timeline_panels({"blocks": blocks}, log.schema())
    fig = build_timeline(tables, schema=log.schema())
    labels = [t.get_text() for ax in fig.axes for t in (ax.get_legend().get_texts() if ax.get_legend() else [])]
    assert [label for label in labels if "notional" in label] == [
        f"perp_liquidations: {kind} (notional) (USD, left)" for kind in ("book", "backstop", "adl")]
    assert any("insurance fund P&L, cumulative (USD, right; end $-1k)" in label for label in labels)
