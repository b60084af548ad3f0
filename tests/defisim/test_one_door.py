"""One door for every protocol: a lending protocol defined only here, with its own table, column and
method names, fills the engine's result roles and so appears in the summary, the timeline, the
exposure graph and a sweep's ranking, and the Aave keeper (written against the lending role)
liquidates it. Nothing in ``defisim/`` is changed or told about it."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from defisim.base import (LIQUIDATION_CALL, Column, LendingView, LiquidationQuotes, Positions, Protocol, Revert,
                          default_registry, handler, largest_debts_of)
from defisim.base.registry import KindEntry
from defisim.graph import Exposure, Node
from defisim.results.plots import timeline_panels
from defisim.run.simulation import Simulation
from defisim.scenario.loading import load_scenario, validate_scenario
from defisim.sweep import run_sweep

KIND = "test.minilend"


class MiniLendParams(BaseModel):
    """One collateral and one debt asset, a fixed threshold and bonus, borrowers opened at the start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collateral: str = "WETH"
    debt: str = "USDC"
    tokens: dict[str, str]
    oracles: dict[str, str]
    threshold: float = Field(0.8, gt=0, lt=1)
    bonus: float = Field(0.05, ge=0, lt=1)
    borrowers: int = Field(200, ge=1)
    collateral_each: float = Field(10.0, gt=0, description="tokens")
    hf_low: float = 1.02
    hf_high: float = 1.6


class MiniView:
    """The lending role (``LendingView``) of a :class:`MiniLend`."""

    liquidation_method = "seize"

    def __init__(self, market: "MiniLend"):
        self._m = market
        p = market.params
        self.symbols = [p.collateral, p.debt]
        self.tokens = dict(p.tokens)
        self.max_bonus = np.array([p.bonus, 0.0])

    def prices_usd(self) -> np.ndarray:
        return self._m.prices_usd()

    def borrowed(self) -> np.ndarray:
        return np.array([False, bool((self._m.debt > 0).any())])

    def liquidation_candidates(self, prices_usd=None, largest=None):
        prices = self._m.prices_usd() if prices_usd is None else prices_usd
        hf = self._m.health(prices)
        rows = np.flatnonzero(hf < 1.0)
        return largest_debts_of(rows, hf[rows], self._m.debt[rows] * prices[1], largest)

    def positions(self, rows):
        n = len(rows)
        return (np.column_stack([self._m.coll[rows], np.zeros(n)]), np.column_stack([np.zeros(n), self._m.debt[rows]]))

    def owner(self, row: int) -> str:
        return self._m.owners[row]

    def quote_liquidations(self, rows, hf, prices_usd, capital=None, value_usd=None) -> LiquidationQuotes:
        repaid, seized = self._m.sizing(rows, prices_usd, np.inf if capital is None else capital[1])
        n = len(rows)
        return LiquidationQuotes(np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64), hf < 1.0, repaid, seized)


class MiniLend(Protocol):
    """The smallest lending protocol: close factor 1, collateral seized at ``bonus``, any debt left
    once the collateral is gone written off. Its tables are named nothing like Aave's."""

    kind = KIND
    Params = MiniLendParams
    view_roles = ("lending",)

    def __init__(self, name, params: MiniLendParams, host):
        super().__init__(name, params, host)
        n = params.borrowers
        self.owners = [f"{name}/borrower/{i}" for i in range(n)]
        self.coll = np.full(n, params.collateral_each) * (1 + np.arange(n) % 5)
        hf = np.linspace(params.hf_low, params.hf_high, n)
        self.debt = self.coll * self.prices_usd()[0] * params.threshold / hf / self.prices_usd()[1]
        self.written_off = 0.0
        self._ledger(params.collateral).issue_quietly(name, float(self.coll.sum()))
        self._ledger(params.debt).issue_many(self.owners, self.debt)
        self.state = (self.coll, self.debt)
        self._closed = host.log.declare("seizures", "loans closed by a keeper", [
            Column("blk", "int64", "block"), Column("market", "string", "this market"),
            Column("borrower", "string", "account"), Column("keeper", "string", "caller"),
            Column("paid_usd", "float64", "debt repaid (USD)"), Column("taken_usd", "float64", "collateral seized (USD)"),
            Column("lost_usd", "float64", "debt written off (USD)")],
            role="liquidations", role_columns={"block": "blk", "protocol": "market", "account": "borrower",
                                               "liquidator": "keeper", "debt_repaid_usd": "paid_usd",
                                               "collateral_seized_usd": "taken_usd", "written_off_usd": "lost_usd"})
        self._book = host.log.declare("book", "the loans every block", [
            Column("blk", "int64", "block"), Column("market", "string", "this market"),
            Column("open", "int64", "loans with debt"), Column("under", "int64", "of which below HF 1"),
            Column("under_usd", "float64", "their debt (USD)"), Column("gap_usd", "float64", "debt over collateral (USD)")],
            role="positions", role_columns={"block": "blk", "protocol": "market", "accounts": "open", "below_1": "under",
                                            "debt_below_1_usd": "under_usd", "uncovered_usd": "gap_usd"})

    def _ledger(self, symbol):
        return self.host.protocols[self.params.tokens[symbol]]

    def prices_usd(self) -> np.ndarray:
        p = self.params
        return np.array([self.host.protocols[p.oracles[s]].price() for s in (p.collateral, p.debt)])

    def health(self, prices) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.debt > 0, self.coll * prices[0] * self.params.threshold / (self.debt * prices[1]), np.inf)

    def sizing(self, rows, prices, cover):
        """Debt repaid and collateral seized (tokens) when liquidating ``rows`` with at most ``cover``."""
        rate = (1 + self.params.bonus) * prices[1] / prices[0]  # collateral per debt token
        repaid = np.minimum(np.minimum(self.debt[rows], cover), self.coll[rows] / rate)
        return repaid, repaid * rate

    def on_block(self, block) -> None:
        prices = self.prices_usd()
        hf, owed = self.health(prices), self.debt * prices[1]
        gap = owed - self.coll * prices[0]
        under = hf < 1.0
        self._book.append((block.number, self.name, int((self.debt > 0).sum()), int(under.sum()),
                           float(owed[under].sum()), float(gap[gap > 0].sum())))

    @handler(gas=200_000, revert_gas=40_000, role=LIQUIDATION_CALL)
    def seize(self, sender, collateral_asset: str, debt_asset: str, user: str, debt_to_cover: float = math.inf):
        p = self.params
        row = self.owners.index(user) if user in self.owners else None
        if row is None or (collateral_asset, debt_asset) != (p.collateral, p.debt):
            raise Revert("no such loan")
        prices = self.prices_usd()
        if self.health(prices)[row] >= 1.0:
            raise Revert("healthy")
        repaid, seized = (float(x[0]) for x in self.sizing(np.array([row]), prices, debt_to_cover))
        if self._ledger(p.debt).balance_of(sender) < repaid:
            raise Revert("not enough to repay")
        self._ledger(p.debt).move(sender, self.name, repaid)
        self._ledger(p.collateral).move(self.name, sender, seized)
        self.debt[row] -= repaid
        self.coll[row] -= seized
        lost = 0.0
        if self.coll[row] <= 1e-12 and self.debt[row] > 0:
            lost, self.debt[row] = float(self.debt[row] * prices[1]), 0.0
            self.written_off += lost
        self._closed.append((self.block.number, self.name, user, sender, repaid * prices[1], seized * prices[0], lost))

        class Out:  # what the Aave keeper reads of a won call's result
            liquidator_collateral = seized
        return Out()

    def view(self) -> MiniView:
        return MiniView(self)

    def positions(self) -> Positions:
        n = len(self.owners)
        prices = self.prices_usd()
        return Positions((self.params.collateral, self.params.debt), np.column_stack([self.coll, np.zeros(n)]),
                         np.column_stack([np.zeros(n), self.debt]), prices, (self.debt > 0) & (self.health(prices) < 1),
                         ("cex", None))

    def exposures(self, large_account_usd: float = 1e6) -> list:
        prices = self.prices_usd()
        token = self.params.tokens[self.params.collateral]
        return [Node(self.name, "protocol", equity_usd=0.0),
                Exposure(self.name, token, "collateral", float(self.coll.sum() * prices[0])),
                Exposure(self.name, self.params.oracles[self.params.collateral], "oracle", 0.0, asset=token)]

    def distress(self) -> float:
        supplied = float(self.debt.sum() * self.prices_usd()[1]) + self.written_off
        return min(1.0, self.written_off / supplied) if supplied > 0 else 0.0

    def checkpoint(self):
        return (self.coll.copy(), self.debt.copy(), self.written_off)

    def rollback(self, snapshot):
        coll, debt, self.written_off = snapshot
        self.coll[:], self.debt[:] = coll, debt


@pytest.fixture
def registered(monkeypatch):
    """The test kind in the default registry, as a plugin's entry point would put it there."""
    registry = default_registry()
    monkeypatch.setitem(registry.protocols, KIND, KindEntry(MiniLendParams, MiniLend, "test-only lending"))
    return registry


def mini_scenario(drop: float = -0.4, borrowers: int = 200) -> dict:
    """sweep-small with the Aave pool replaced by the test market; the same keepers point at it."""
    data = copy.deepcopy(load_scenario("sweep-small").to_dict())
    data.pop("sweep", None)
    aave = data["protocols"].pop("aave")
    data["protocols"]["mini"] = {"kind": KIND, "tokens": aave["tokens"], "oracles": aave["oracles"],
                                 "borrowers": borrowers}
    data["markets"]["feeds"]["ETH"]["moves"][0]["change"] = drop
    data["exposures"]["on_events"] = True  # a snapshot at every block with a liquidation
    for agent in data["agents"]:
        if agent["params"].get("pool") == "aave":
            agent["params"]["pool"] = "mini"
    return data


def test_the_view_fills_the_lending_role(registered):
    sim = Simulation(validate_scenario(mini_scenario()))
    assert isinstance(sim.protocols["mini"].view(), LendingView)


def test_the_test_market_shows_in_the_summary_timeline_and_exposure_graph(registered):
    sim = Simulation(validate_scenario(mini_scenario()))
    results = sim.run()
    s, market = results.summary(), sim.protocols["mini"]
    closed = results.tables["seizures"]
    # the Aave keeper liquidated the test market through its own method name
    assert s["liquidations"] == len(closed) > 0 and set(closed["keeper"].str.split("/").str[0]) == {"keeper"}
    assert s["liquidated_usd"] == pytest.approx(float(closed["paid_usd"].sum()))
    calls = results.txs[(results.txs["target"] == "mini") & (results.txs["method"] == "seize")]
    assert s["reverted_liquidations"] == int((calls["status"] == "reverted").sum())
    # the loss at the end, computed by hand from the market's own arrays
    prices = market.prices_usd()
    gap = market.debt * prices[1] - market.coll * prices[0]
    assert s["written_off_usd"] == pytest.approx(market.written_off)
    assert s["uncovered_usd"] == pytest.approx(float(gap[gap > 0].sum()))
    assert s["total_loss_usd"] == pytest.approx(s["written_off_usd"] + s["uncovered_usd"])
    venue = sim.venues["cex"].mid(sim.env.now)
    at_venue = market.debt * prices[1] - market.coll * venue
    assert s["uncovered_venue_usd"] == pytest.approx(float(at_venue[at_venue > 0].sum()))
    liquidatable = (market.debt > 0) & (market.health(prices) < 1)
    assert s["liquidation_backlog_at_end"] == int(liquidatable.sum())
    # the timeline draws its liquidations, losses and positions
    assert timeline_panels(results.tables, results.schema)[1:3] == ["liquidations", "losses"]
    # the exposure graph holds it, and a snapshot is taken at every block it liquidated in
    nodes, edges = results.exposure_nodes, results.exposures
    assert "mini" in set(nodes["name"]) and ((edges["source"] == "mini") & (edges["kind"] == "collateral")).any()
    event_blocks = set(edges.loc[edges["trigger"] == "event", "block"])
    assert set(closed["blk"]) <= event_blocks


def test_a_sweep_over_the_drop_ranks_the_test_market_by_total_loss(registered, tmp_path):
    import yaml

    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(mini_scenario(borrowers=120), sort_keys=False))  # protocols in order
    res = run_sweep(path, grid={"markets.feeds.ETH.moves.0.change": [-0.5, -0.1, -0.3]}, seeds=2, workers=1,
                    out=tmp_path / "sweep", figures=False)
    ranking = res.ranking
    assert ranking["param.markets.feeds.ETH.moves.0.change"].tolist() == [-0.1, -0.3, -0.5]
    assert ranking["total_loss_cvar95_usd"].is_monotonic_increasing
    assert ranking["total_loss_cvar95_usd"].iloc[-1] > 0
