"""The [sweep] section, its validation against the scenario and its schema, the plan and seeds."""
from __future__ import annotations

import pytest

from defisim.scenario.loading import ScenarioError, load_scenario
from defisim.sweep.api import sweep_spec
from defisim.sweep.plan import plan_sweep, run_seed, sample_points
from defisim.scenario.sweep_spec import SampleSpec, SweepSpec, parse_range, parse_values

SWEEP_TOML = """\
extends = "payers"
name = "payers-sweep"
blocks = 3

[sweep]
seed = 4
seeds = 3

[sweep.grid]
"chain.slot" = ["6s", "12s"]

[sweep.zip]
"background.rate_tx_per_block" = [10, 20, 30]
"background.gas_per_tx" = [100000, 120000, 150000]
"""


@pytest.fixture
def base():
    return load_scenario("payers").to_dict()


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_section_in_a_scenario_file_gives_grid_times_zip_times_seeds(tmp_path):
    scenario = load_scenario(write(tmp_path, SWEEP_TOML))
    spec = scenario.spec.sweep
    assert spec.seeds == 3 and spec.seed == 4 and spec.paths() == ["chain.slot", "background.rate_tx_per_block", "background.gas_per_tx"]
    plan = plan_sweep(scenario.to_dict(), spec, scenario.source)
    assert len(plan.points) == 6 and len(plan.tasks()) == 18
    assert plan.points[4] == {"chain.slot": "12s", "background.rate_tx_per_block": 20, "background.gas_per_tx": 120000}
    # the section is no part of any run: same hash as the scenario without it
    assert scenario.hash == load_scenario(write(tmp_path, SWEEP_TOML.split("[sweep]")[0], "plain.toml")).hash


@pytest.mark.parametrize("section, fragment", [
    ('[sweep]\nseeds = 0', "sweep.seeds: Input should be greater than 0"),
    ('[sweep]\nsead = 1', "sweep.sead: unknown key"),
    ('[sweep.zip]\n"a.b" = [1, 2]\n"a.c" = [1]', "sweep.zip: a.c: 1 values, but a.b has 2"),
    ('[sweep.grid]\n"a.b" = []', "sweep.grid: a.b: no values"),
    ('[sweep.grid]\n"a..b" = [1]', "sweep.grid: 'a..b': expected a dotted path"),
    ('[sweep]\ngrid = { "a.b" = [1] }\nzip = { "a.b" = [2] }', "sweep: a.b: swept twice (in grid and in zip)"),
    ('[sweep.sample]\nn = 4\nranges = { "a.b" = [2, 1] }', "sweep.sample.ranges: a.b: low (2) must be below high (1)"),
    ('[sweep.grid]\n"a.b" = [1]\n[sweep.report]\naxes = ["a.c"]', "sweep: report.axes: 'a.c' is not a swept path"),
])
def test_bad_sections_give_one_line_naming_the_field(tmp_path, section, fragment):
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, 'extends = "payers"\n' + section + "\n"))
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg


@pytest.mark.parametrize("path, fragment", [
    ("chain.slott", 'sweep.grid["chain.slott"]: chain.slott: unknown key'),  # not in the schema
    ("agents.7.count", 'sweep.grid["agents.7.count"]: agents.7: no such list item'),  # not in the scenario
    ("protocols.usdc.decimalz", 'sweep.grid["protocols.usdc.decimalz"]: protocols.usdc.decimalz: unknown key'),  # a protocol's schema
    ("agents.0.params.peerz", 'sweep.grid["agents.0.params.peerz"]: agents.0.params.peerz: unknown key'),  # an agent's schema
    ("protocols.nope.x", 'sweep.grid["protocols.nope.x"]: protocols.nope.kind: missing'),
    ("blocks.x", 'sweep.grid["blocks.x"]: blocks.x: cannot set a key inside a int'),
])
def test_a_path_missing_from_scenario_or_schema_is_named(base, path, fragment):
    with pytest.raises(ScenarioError) as info:
        plan_sweep(base, SweepSpec(grid={path: [1, 2]}))
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_path_of_the_schema_not_written_in_the_file_is_fine(tmp_path):
    scenario = load_scenario(write(tmp_path, 'name = "tiny"\nblocks = 2\n'))
    plan = plan_sweep(scenario.to_dict(), SweepSpec(grid={"chain.missed_slot_probability": [0.0, 0.1]}))
    assert len(plan.points) == 2


def test_a_bad_combination_names_the_point(base):
    with pytest.raises(ScenarioError, match=r"sweep point 1 \(chain.slot='2s', chain.build_cutoff='3s'\): chain: build_cutoff"):
        plan_sweep(base, SweepSpec(grid={"chain.slot": ["12s", "2s"], "chain.build_cutoff": ["3s"]}))
    with pytest.raises(ScenarioError, match="nothing to sweep"):
        plan_sweep(base, SweepSpec(seeds=3))


def test_seeds_depend_on_sweep_seed_point_and_replicate_only(base):
    small = plan_sweep(base, SweepSpec(grid={"blocks": [2, 3]}, seeds=2, seed=9))
    large = plan_sweep(base, SweepSpec(grid={"blocks": [1, 2, 3, 4]}, seeds=5, seed=9))
    seeds = {t.run_id: t.seed for t in large.tasks()}
    assert all(seeds[t.run_id] == t.seed for t in small.tasks())  # extending a sweep changes no run
    assert len(set(seeds.values())) == len(seeds)
    other = plan_sweep(base, SweepSpec(grid={"blocks": [2, 3]}, seeds=2, seed=10))
    assert {t.seed for t in other.tasks()}.isdisjoint(seeds.values())
    paired = plan_sweep(base, SweepSpec(grid={"blocks": [2, 3]}, seeds=2, paired=True)).tasks()
    assert [t.seed for t in paired] == [run_seed(0, "", 0, True)] * 2 + [run_seed(0, "", 1, True)] * 2
    # replicate-major order: every point's replicate 0 first
    assert [(t.replicate, t.point) for t in small.tasks()] == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_latin_hypercube_has_one_draw_per_stratum_and_integers():
    spec = SampleSpec(method="lhs", n=10, ranges={"x": [0.5, 1.0], "k": [0, 9]})
    pts = sample_points(spec, seed := 3)
    assert sorted(int((p["x"] - 0.5) / 0.05) for p in pts) == list(range(10))
    assert sorted(p["k"] for p in pts) == list(range(10)) and all(isinstance(p["k"], int) for p in pts)
    assert pts == sample_points(spec, seed) and pts != sample_points(spec, seed + 1)
    rnd = sample_points(SampleSpec(method="random", n=50, ranges={"x": [0.0, 1.0]}), 0)
    assert all(0.0 <= p["x"] < 1.0 for p in rnd)


def test_sample_axis_is_validated_and_crossed_with_the_grid(base):
    plan = plan_sweep(base, SweepSpec(grid={"chain.slot": ["6s", "12s"]},
                                      sample=SampleSpec(n=3, ranges={"background.rate_tx_per_block": [0.0, 50.0]})))
    assert len(plan.points) == 6 and plan.points_frame().columns.tolist() == [
        "point", "point_key", "param.chain.slot", "param.background.rate_tx_per_block"]
    with pytest.raises(ScenarioError, match=r'sweep.sample\["background.rate_tx_per_block"\]: background.rate_tx_per_block: '):
        plan_sweep(base, SweepSpec(sample=SampleSpec(n=3, ranges={"background.rate_tx_per_block": [-5.0, 0.0]})))


def test_command_line_forms():
    assert parse_values("protocols.aave.reserves.0.ltv=0.7,0.8") == ("protocols.aave.reserves.0.ltv", [0.7, 0.8])
    assert parse_range("x=1:4") == ("x", (1, 4))
    for bad in ("x", "=1,2", "x="):
        with pytest.raises(ValueError, match="expected PATH="):
            parse_values(bad)
    with pytest.raises(ValueError, match="LOW:HIGH with numbers"):
        parse_range("x=a:b")
    spec = sweep_spec(SweepSpec(grid={"a.b": [1]}, seeds=4, report={"rank_by": "p_insolvency"}),
                      grid={"a.c": [2, 3]}, seed=5, report={"insolvency_usd": 10.0})
    assert spec.grid == {"a.b": [1], "a.c": [2, 3]} and spec.seeds == 4 and spec.seed == 5
    assert spec.report.rank_by == "p_insolvency" and spec.report.insolvency_usd == 10.0
    with pytest.raises(ScenarioError, match="^sweep.seeds: "):
        sweep_spec(None, grid={"a.b": [1]}, seeds=-1)


@pytest.mark.parametrize("spec, fragment", [
    (SweepSpec(grid={"seed": [1, 2]}), 'sweep.grid["seed"]: cannot be swept: a run\'s seed derives from sweep.seed'),
    (SweepSpec(zip={"sweep.seeds": [1, 2]}), 'sweep.zip["sweep.seeds"]: cannot be swept: the [sweep] section is no part of a run'),
    (SweepSpec(sample=SampleSpec(n=2, ranges={"sweep.report.insolvency_usd": [0.0, 5.0]})), 'sweep.sample["sweep.report.insolvency_usd"]'),
])
def test_seed_and_sweep_paths_are_refused(base, spec, fragment):
    with pytest.raises(ScenarioError) as info:
        plan_sweep(base, spec)
    assert str(info.value).startswith(fragment) and "\n" not in str(info.value)


def test_integer_bounds_drawing_one_value_twice_say_why(base):
    with pytest.raises(ScenarioError, match="integer bounds draw integers, write 0.0:1.0 for floats"):
        plan_sweep(base, SweepSpec(sample=SampleSpec(n=3, ranges={"background.rate_tx_per_block": [0, 1]})))
