"""defisim's Aave v3 against the real contracts (v3.0 and v3.6) in pyrevm, on seeded random cases.

2,000 random cases of :func:`~protocols.lending.aave_v3.cases.generate_cases` and 150 of each
family aimed at the contracts' thresholds are replayed on the real market (``aave_market``), on
the exact-integer model (:class:`ExactPool`) and on the engine's float pool (:class:`EnginePool`):
the exact model must equal the contracts in every observation (rates, indices, balances, account
data, liquidation amounts, revert reasons); the engine must be within the tolerance of
:mod:`protocols.lending.aave_v3.fidelity`, deciding liquidations the same way except on its named
boundary cases. A last test shows that the comparison catches the mutations a careless model
would make (rounding direction, close-factor threshold, compounding terms, and the thresholds
the aimed families exist for).
"""
from __future__ import annotations

import collections

import pytest

from protocols.lending.aave_v3 import exact
from protocols.lending.aave_v3.cases import FAMILIES, Reverted, generate_cases, run_case
from protocols.lending.aave_v3.driver import EnginePool
from protocols.lending.aave_v3.exact_pool import ExactPool
from protocols.lending.aave_v3.fidelity import compare
from protocols.lending.aave_v3.replay import VERSIONS

SEED = 20_261_123
#: Cases per family: the random draws, and those aimed at the contracts' thresholds.
PER_FAMILY = {family: 2_000 if family == "random" else 150 for family in FAMILIES}
N_CASES = sum(PER_FAMILY.values())


def _prices(case):
    return {case.collateral.symbol: case.collateral_price, case.debt.symbol: case.debt_price}


def _exact(version, case):
    return run_case(ExactPool(version, (case.collateral, case.debt), _prices(case)), case)


@pytest.fixture(scope="module")
def replays(aave_market):
    """``{version: [(case, observations on the real contracts)]}`` for the seeded cases."""
    cases = [case for family, n in PER_FAMILY.items() for case in generate_cases(SEED, n, family)]
    return {v: [(c, run_case(aave_market(v, (c.collateral, c.debt), _prices(c)), c)) for c in cases]
            for v in VERSIONS}


def _outcome(obs) -> str:
    out = obs["liquidation"]
    return out.reason if isinstance(out, Reverted) else ("deficit" if out.deficit_created else "liquidated")


@pytest.mark.parametrize("version", VERSIONS)
def test_exact_model_equals_the_contracts(replays, version):
    mismatches = []
    for case, on_chain in replays[version]:
        ours = _exact(version, case)
        if ours != on_chain:
            steps = [k for k in on_chain if on_chain[k] != ours[k]]
            mismatches.append(f"{case.label}: {steps} contract {[on_chain[k] for k in steps]} model {[ours[k] for k in steps]}")
    assert not mismatches, f"{len(mismatches)} of {N_CASES} cases differ, e.g. {mismatches[:3]}"
    # the cases reach every outcome the comparison is meant to cover
    outcomes = collections.Counter(_outcome(obs) for _, obs in replays[version])
    expected = {"liquidated", "HEALTH_FACTOR_NOT_BELOW_THRESHOLD", "INVALID_BURN_AMOUNT", "PANIC_0x11",
                "COLLATERAL_CANNOT_BE_LIQUIDATED", "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER"}
    if version == "v3.6":
        expected |= {"deficit", "MUST_NOT_LEAVE_DUST", "SELF_LIQUIDATION"}
    assert expected <= set(outcomes), outcomes
    assert outcomes["liquidated"] + outcomes["deficit"] >= N_CASES // 4, outcomes


@pytest.mark.parametrize("version", VERSIONS)
def test_engine_float_path_is_within_tolerance(replays, version):
    problems, boundaries = [], collections.Counter()
    for case, _ in replays[version]:
        result = compare(case, version, _exact(version, case), run_case(EnginePool(version, (case.collateral, case.debt), _prices(case)), case))
        problems += [f"{case.label}: {p}" for p in result.problems]
        boundaries[result.boundary] += 1
    assert not problems, f"{len(problems)} problems, e.g. {problems[:3]}"
    agreed = boundaries.pop(None)
    assert agreed >= 0.85 * N_CASES, boundaries  # different decisions stay the exception
    assert set(boundaries) <= {"dust", "health factor at 1", "close factor at 0.95", "$2,000 / $1,000 thresholds",
                               "collateral cap", "no collateral left"}


def _floor_percent_mul(value: int, bps: int) -> int:
    return value * bps // exact.PERCENTAGE_FACTOR


def _debt_rounded_down(version: str, scaled: int, borrow_index: int) -> int:
    return exact.ray_mul_floor(scaled, borrow_index)


def _two_term_compounding(version: str, rate: int, dt_s: int) -> int:
    """The version's own series without its cubic term."""
    if dt_s == 0:
        return exact.RAY
    if version == "v3.6":
        x = rate * dt_s // exact.SECONDS_PER_YEAR
        return exact.RAY + x + exact.ray_mul(x, x // 2)
    base_power_two = exact.ray_mul(rate, rate) // exact.SECONDS_PER_YEAR**2
    return exact.RAY + rate * dt_s // exact.SECONDS_PER_YEAR + dt_s * (dt_s - 1) * base_power_two // 2


_liquidation_call_exact = exact.liquidation_call_exact


def _cap_on_the_reserve_debt(version: str, **kw):
    """v3.6's 50% cap taken of the debt reserve's value instead of the total debt."""
    kw["total_debt_base"] = exact.mul_div_ceil(kw["debt_balance"], kw["debt_price"], 10 ** kw["debt_decimals"])
    return _liquidation_call_exact(version, **kw)


MUTATIONS = {
    "percentMul rounds down instead of half up": ("percent_mul", _floor_percent_mul),
    "debt balances round down (v3.0 rounds half up, v3.6 up)": ("debt_token_balance", _debt_rounded_down),
    "close factor threshold at HF 1.0 instead of 0.95": ("CLOSE_FACTOR_HF_THRESHOLD", exact.WAD),
    "compounding without its cubic term": ("compounded_interest_exact", _two_term_compounding),
    # the edges the aimed case families exist for
    "liquidatable at HF <= 1 instead of < 1": ("HEALTH_FACTOR_LIQUIDATION_THRESHOLD", exact.WAD + 1),
    "100% close factor at HF < 0.95 instead of <= 0.95": ("CLOSE_FACTOR_HF_THRESHOLD", exact.CLOSE_FACTOR_HF_THRESHOLD - 1),
}
#: v3.6-only rules (v3.0 has no such thresholds: the mutation changes nothing there).
MUTATIONS_V36 = {
    "$2,000 close-factor threshold at $2,100": ("MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD", 2_100 * 10**8),
    "$1,000 leftover threshold at $999": ("MIN_LEFTOVER_BASE", 999 * 10**8),
    "50% cap of the reserve's debt instead of the total debt": ("liquidation_call_exact", _cap_on_the_reserve_debt),
}


@pytest.mark.parametrize(("version", "mutation"), [(v, m) for v in VERSIONS for m in MUTATIONS]
                         + [("v3.6", m) for m in MUTATIONS_V36])
def test_the_comparison_catches_a_mutated_model(replays, version, mutation, monkeypatch):
    name, replacement = (MUTATIONS | MUTATIONS_V36)[mutation]
    monkeypatch.setattr(exact, name, replacement)
    caught = sum(_exact(version, case) != on_chain for case, on_chain in replays[version])
    assert caught > 0, f"{mutation} went unnoticed in {N_CASES} cases"
