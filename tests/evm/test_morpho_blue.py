"""Morpho Blue's exact twin (``protocols/lending/morpho_blue/exact.py``) against the real contract.

Random cases: an LLTV among the governance-enabled ones, token decimals, a price, a supply (by
assets or by shares), collateral, a borrow near or beyond the LLTV, a fee, time (up to three
years of ``IrmMock`` interest), a price fall, one or two liquidations (by collateral seized or by
shares repaid: a fraction, all, one unit), a repayment and a withdrawal. After every call both
sides must agree on whether it reverts (and why) and on what it returns; at the end on the
market's totals, every position and Morpho's token balances: exact integer equality. Mutations
of the twin's rounding must be caught.
"""
from __future__ import annotations

import numpy as np
import pytest

from defisim.base.tx import Revert
from protocols.lending.morpho_blue import exact
from protocols.lending.morpho_blue.exact import MAX_FEE, WAD, ExactMarket

from .morpho_market import FEE_RECIPIENT

#: LLTVs enabled on mainnet (Morpho docs, "LLTV"), WAD.
LLTVS = [385 * 10**15, 625 * 10**15, 770 * 10**15, 860 * 10**15, 915 * 10**15, 945 * 10**15, 965 * 10**15,
         980 * 10**15]
_PANIC_REASONS = {"arithmetic underflow": "PANIC_0x11", "arithmetic overflow": "PANIC_0x11"}


def _both(twin_call, evm_call, what: str, out: list, tally: dict):
    """Call both sides; record a mismatch in ``out``; count reverts by reason in ``tally``."""
    try:
        expected, expected_reason = twin_call(), None
    except Revert as r:
        expected, expected_reason = None, _PANIC_REASONS.get(r.reason, r.reason)
    try:
        got, got_reason = evm_call(), None
    except Revert as r:
        got, got_reason = None, r.reason
    if (expected_reason, expected) != (got_reason, got):
        out.append(f"{what}: twin {expected_reason or expected!r}, EVM {got_reason or got!r}")
    for key in [expected_reason or "ok"] + (["bad debt"] if getattr(expected, "bad_debt_assets", 0) else []):
        tally[key] = tally.get(key, 0) + 1
    return expected


def run_case(core, rng: np.random.Generator, tally: dict) -> list[str]:
    """One random case on a fresh market; the mismatches found (empty when the twin is exact)."""
    lltv = LLTVS[rng.integers(len(LLTVS))]
    loan_dec, coll_dec = int(rng.choice([6, 18])), int(rng.choice([6, 8, 18]))
    loan_per_coll = 10 ** rng.uniform(-2, 4)  # loan tokens per collateral token
    price = int(loan_per_coll * 10 ** (36 + loan_dec - coll_dec))
    evm = core.market(lltv, price)
    twin = ExactMarket(lltv, price, now=evm.START_TIMESTAMP)
    bad: list[str] = []

    def both(method: str, *args):
        return _both(lambda: getattr(twin, method)(*args), lambda: getattr(evm, method)(*args),
                     f"{method}{args}", bad, tally)

    supplied = int(10 ** rng.uniform(2, 8) * 10**loan_dec)
    both("supply", "s", *((supplied, 0) if rng.random() < 0.7 else (0, supplied * 10**6)))
    collateral = max(int(10 ** rng.uniform(1, 7) / loan_per_coll * 10**coll_dec), 1)
    both("supply_collateral", "b", collateral)
    most = exact.max_borrow(collateral, price, lltv)
    want = int(most * rng.uniform(0.3, 1.02))
    if want > 0:
        both("borrow", "b", *((want, 0) if rng.random() < 0.8 else (0, want * 10**6)))
    if rng.random() < 0.3:
        both("set_fee", int(rng.integers(1, MAX_FEE + 1)))
    if rng.random() < 0.8:
        seconds = int(rng.integers(1, 3 * 365 * 86400))
        evm.advance(seconds)
        twin.now = evm.now
    if rng.random() < 0.3:
        both("repay", "b", max(int(want * rng.uniform(0, 0.3)), 1), 0)
    fall = rng.uniform(0.3, 1.05)
    twin.price = int(price * fall)
    evm.set_price(twin.price)
    for _ in range(1 + int(rng.random() < 0.3)):
        p = twin.position("b")
        mode, part = rng.integers(2), rng.integers(4)
        whole = p.collateral if mode == 0 else p.borrow_shares
        amount = [max(int(whole * rng.uniform(0, 1)), 1), whole, 1, whole + 1][part]
        amount = max(amount, 1)
        both("liquidate", "l", "b", *((amount, 0) if mode == 0 else (0, amount)))
    if rng.random() < 0.5:
        both("withdraw", "s", 0, twin.position("s").supply_shares)
    if rng.random() < 0.3:
        both("withdraw_collateral", "b", max(twin.position("b").collateral // 2, 1))
    both("accrue_interest", )
    if twin.market != evm.market_state():
        bad.append(f"market: twin {twin.market}, EVM {evm.market_state()}")
    for who in ("s", "b", "l", FEE_RECIPIENT):
        if twin.positions.get(who, exact.PositionState()) != evm.position(who):
            bad.append(f"position {who}: twin {twin.positions.get(who)}, EVM {evm.position(who)}")
    if (twin.loan_held, twin.collateral_held) != evm.held():
        bad.append(f"held: twin {(twin.loan_held, twin.collateral_held)}, EVM {evm.held()}")
    return bad


def run_cases(core, n: int, seed: int) -> tuple[list[str], dict]:
    rng = np.random.default_rng(seed)
    tally: dict = {}
    mismatches = []
    for i in range(n):
        mismatches += [f"case {i}: {m}" for m in run_case(core, rng, tally)]
    return mismatches, tally


def _accrue_returns_none(monkeypatch):
    """The EVM's ``accrueInterest`` returns nothing; the twin's returns the interest: compare no value."""
    original = ExactMarket.accrue_interest
    monkeypatch.setattr(ExactMarket, "accrue_interest", lambda self: (original(self), None)[1])


def test_twin_equals_the_contract_on_random_cases(morpho_core, monkeypatch):
    _accrue_returns_none(monkeypatch)
    mismatches, tally = run_cases(morpho_core, 300, seed=1)
    assert mismatches == [], mismatches[:5]
    # the cases reach the paths that matter: liquidations, healthy refusals, bad debt, reverts of each kind
    assert tally["ok"] > 1_000 and tally.get("position is healthy", 0) > 10
    assert tally.get("insufficient collateral", 0) > 5 and tally.get("insufficient liquidity", 0) > 5
    assert tally.get("PANIC_0x11", 0) > 5 and tally.get("bad debt", 0) > 5


@pytest.mark.slow
def test_twin_equals_the_contract_on_10000_cases(morpho_core, monkeypatch):
    _accrue_returns_none(monkeypatch)
    mismatches, tally = run_cases(morpho_core, 10_000, seed=2)
    assert mismatches == [], mismatches[:5]


MUTATIONS = {
    # the shares repaid for a given seizure rounded down instead of up
    "liquidate rounds shares down": ("to_shares_up", lambda a, ta, ts: exact.to_shares_down(a, ta, ts)),
    # debt valued with toAssetsDown in the health check
    "health with assets down": ("to_assets_up", lambda s, ta, ts: exact.to_assets_down(s, ta, ts)),
    # compounding by the first Taylor term only
    "linear interest": ("w_taylor_compounded", lambda x, n: x * n),
    # the incentive factor uncapped
    "LIF without cap": ("liquidation_incentive_factor",
                        lambda lltv: exact.w_div_down(WAD, WAD - exact.w_mul_down(exact.LIQUIDATION_CURSOR, WAD - lltv))),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutations_of_the_twin_are_caught(morpho_core, monkeypatch, name):
    _accrue_returns_none(monkeypatch)
    attribute, mutant = MUTATIONS[name]
    monkeypatch.setattr(exact, attribute, mutant)
    mismatches, _tally = run_cases(morpho_core, 150, seed=3)
    assert mismatches, f"the mutation {name!r} went unnoticed"
