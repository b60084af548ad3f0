"""Losses along exposure edges in a run: a price fall reaches a declared
counterparty after its edge's delay, with the amount the linear rule gives, and travels on to
that counterparty's own creditor; snapshots at the cadence."""
from __future__ import annotations

import pytest

from defisim.base.tx import Call

ORACLE = {"kind": "oracles.push", "initial_answer": 100.0, "transmitter": "oracle/0"}
ECOSYSTEM = {
    "nodes": [{"name": "fund", "equity_usd": 20.0}, {"name": "treasury", "kind": "account", "equity_usd": 100.0}],
    "edges": [
        # the fund holds 50 USD of what the oracle prices, recovers 20% of a fall, 2 blocks late
        {"source": "fund", "target": "px", "kind": "collateral", "amount_usd": 50.0, "recovery": 0.2, "delay_blocks": 2},
        {"source": "treasury", "target": "fund", "kind": "backing", "amount_usd": 10.0},
    ],
}


def _run(sandbox, **changes):
    def oracle(ctx):
        yield ctx.delay(1_000)
        yield ctx.submit(Call("px", "transmit", {"answer": 60.0, "observed_ms": 1_000}), 300_000, 100.0, 2.0)

    protocols = {"usd": {"kind": "token.ledger", "minter": "minter"}, "px": ORACLE}
    changes.setdefault("ecosystem", ECOSYSTEM)
    return sandbox.simulation({"oracle": oracle}, blocks=8, protocols=protocols, **changes).run()


def test_a_fall_reaches_the_counterparty_after_its_delay_and_travels_on(sandbox):
    res = _run(sandbox)
    fell = int(res.oracle_updates["block"].iloc[0])
    rows = res.contagion_losses[["block", "source", "target", "loss_usd", "target_distress"]].values.tolist()
    # the oracle's distress rises 0.4 in its block; the fund takes 50 × (1 − 0.2) × 0.4 = 16 two
    # blocks later, so its own distress is 16 / 20 = 0.8, which the treasury takes in the same
    # block (its edge has no delay): 10 × 0.8
    assert rows == [[fell + 2, "fund", "px", pytest.approx(16.0), pytest.approx(0.4)],
                    [fell + 2, "treasury", "fund", pytest.approx(8.0), pytest.approx(0.8)]]
    summary = res.summary()
    assert summary["contagion_loss_usd"] == pytest.approx(24.0)
    assert (summary["contagion_counterparties_hit"], summary["contagion_first_block"]) == (2, fell + 2)
    end = res.exposure_nodes[res.exposure_nodes["block"] == res.exposure_nodes["block"].max()]
    assert end.set_index("name")["distress"].to_dict() == {
        "fund": pytest.approx(0.8), "treasury": pytest.approx(0.08), "px": pytest.approx(0.4), "usd": 0.0}
    assert summary["distressed_nodes"] == 3


def test_snapshots_follow_the_cadence_and_a_cut_edge_carries_nothing(sandbox):
    res = _run(sandbox, exposures={"every_blocks": 3, "cut": [{"source": "fund", "target": "px"}]})
    snaps = res.exposures.groupby("block")["trigger"].first().to_dict()
    assert snaps == {0: "start", 3: "cadence", 6: "cadence", 8: "end"}
    assert not ((res.exposures["source"] == "fund") & (res.exposures["target"] == "px")).any()
    assert len(res.contagion_losses) == 0
    nodes = res.exposure_nodes[res.exposure_nodes["block"] == 0].set_index("name")["kind"].to_dict()
    assert nodes == {"fund": "protocol", "treasury": "account", "px": "protocol", "usd": "token"}


def test_a_declared_token_takes_its_oracles_fall_and_no_equity_means_no_buffer(sandbox):
    """A declared token is priced by the oracle an edge names for it; a counterparty without
    equity passes on everything it takes, through zero-delay hops at once."""
    ecosystem = {
        "nodes": [{"name": "tok", "kind": "token"}, {"name": "fund"}, {"name": "holder", "equity_usd": 100.0}],
        "edges": [{"source": "fund", "target": "tok", "kind": "collateral", "amount_usd": 50.0},
                  {"source": "fund", "target": "px", "kind": "oracle", "amount_usd": 0.0, "asset": "tok"},
                  {"source": "holder", "target": "fund", "kind": "backing", "amount_usd": 30.0}],
    }
    res = _run(sandbox, ecosystem=ecosystem)
    fell = int(res.oracle_updates["block"].iloc[0])
    rows = res.contagion_losses[["block", "source", "target", "loss_usd"]].values.tolist()
    assert rows == [[fell, "fund", "tok", pytest.approx(20.0)], [fell, "holder", "fund", pytest.approx(30.0)]]


def test_a_cut_must_name_an_edge(sandbox):
    with pytest.raises(ValueError, match=r"exposures\.cut\.0: the exposure graph has no edge treasury → px"):
        _run(sandbox, exposures={"cut": [{"source": "treasury", "target": "px"}]})
