"""Same scenario + same seed ⇒ byte-identical saved results; other seeds differ."""
import filecmp

from defisim.base.rng import RngTree
from defisim.scenario.loading import load_scenario
from defisim.run.simulation import Simulation


def run_and_save(tmp_path, name, seed):
    scenario = load_scenario("payers", ["blocks=60"])
    out = tmp_path / name
    Simulation(scenario, seed=seed).run().save(out)
    return out


def files(d):
    return sorted(p.name for p in d.iterdir())


def test_same_seed_gives_byte_identical_results(tmp_path):
    a, b = run_and_save(tmp_path, "a", 5), run_and_save(tmp_path, "b", 5)
    assert files(a) == files(b) and "txs.parquet" in files(a)
    match, mismatch, errors = filecmp.cmpfiles(a, b, files(a), shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(files(a))


def test_different_seeds_differ(tmp_path):
    a, c = run_and_save(tmp_path, "a", 5), run_and_save(tmp_path, "c", 6)
    _, mismatch, _ = filecmp.cmpfiles(a, c, ["txs.parquet", "blocks.parquet", "meta.json"], shallow=False)
    assert set(mismatch) == {"txs.parquet", "blocks.parquet", "meta.json"}


def test_streams_do_not_depend_on_other_streams():
    alone = RngTree(9).stream("agent/payer/0").random(5)
    tree = RngTree(9)
    tree.stream("agent/newcomer/0").random(100)
    assert (tree.stream("agent/payer/0").random(5) == alone).all()


def test_adding_an_agent_group_shifts_nobody_elses_numbers():
    """Another agent group changes what gets into blocks, but neither the chain's exogenous
    draws (missed slots) nor the existing agents' own draws (how many transfers they send when)."""
    payers = "{kind: token.payer, name: payer, count: 10, params: {token: usdc, txs_per_block: 2.0}}"
    extra = "{kind: token.payer, name: extra, count: 3, params: {token: usdc, txs_per_block: 4.0, tip_markup: 3.0}}"
    common = ["blocks=40", "chain.missed_slot_probability=0.2"]
    r1 = Simulation(load_scenario("payers", common + [f"agents=[{payers}]"])).run()
    r2 = Simulation(load_scenario("payers", common + [f"agents=[{payers}, {extra}]"])).run()
    assert len(r1.missed_slots) > 0 and r1.missed_slots.equals(r2.missed_slots)
    assert (r2.txs["sender"].str.startswith("extra/")).sum() > 0
    assert not r1.blocks["base_fee_gwei"].equals(r2.blocks["base_fee_gwei"])  # the newcomers did change the chain

    def sends(res):
        mine = res.txs[res.txs["sender"].str.startswith("payer/")]
        return mine.groupby(["sender", "submitted_ms"]).size().sort_index()

    assert sends(r1).equals(sends(r2))
