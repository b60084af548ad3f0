"""The health index finds exactly the accounts the full computation finds (Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt).

Over random walks of prices and interest indices, with accounts changing and new accounts
appearing between queries, :meth:`HealthIndex.below` must return the same rows, the same
health factors (bit for bit) and the same debts as computing every account's health factor.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.lending.aave_v3 import math as am
from protocols.lending.aave_v3.health_index import HealthIndex

LT = np.array([0.83, 0.78, 0.7])


def full(coll_s, debt_s, li, bi, prices, threshold=1.0):
    coll, debt = coll_s * li, debt_s * bi
    hf = am.health_factors(coll, debt, prices, LT)
    rows = np.flatnonzero(hf < threshold)
    return rows, hf[rows], (debt[rows] * prices).sum(axis=1)


def random_book(rng, n):
    coll = rng.lognormal(0.0, 1.0, (n, 3)) * (rng.random((n, 3)) < 0.6)
    debt = rng.lognormal(0.0, 1.0, (n, 3)) * (rng.random((n, 3)) < 0.4)
    return coll * 1000.0, debt * 600.0


def random_step(rng, index, coll_s, debt_s, li, bi, prices):
    """One random move of the book: prices, a crash, accrual, changed accounts (marked), new ones."""
    move = rng.choice(["prices", "accrue", "change", "grow", "crash"])
    if move == "prices":
        prices = prices * rng.lognormal(0.0, 0.05, 3)
    elif move == "crash":
        prices = prices * np.array([rng.uniform(0.3, 1.0), 1.0, rng.uniform(0.5, 1.5)])
    elif move == "accrue":
        li, bi = li * (1 + rng.uniform(0, 1e-3, 3)), bi * (1 + rng.uniform(0, 2e-3, 3))
    elif move == "change":
        for row in rng.integers(0, coll_s.shape[0], int(rng.integers(1, 20))).tolist():
            coll_s[row] *= rng.uniform(0.0, 2.0, 3)
            debt_s[row] *= rng.uniform(0.0, 2.0, 3)
            index.mark(row)
    else:
        more_c, more_d = random_book(rng, int(rng.integers(1, 30)))
        coll_s, debt_s = np.vstack([coll_s, more_c]), np.vstack([debt_s, more_d])
    return coll_s, debt_s, li, bi, prices


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 25))
def test_below_matches_the_full_computation(seed, steps):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    coll_s, debt_s = random_book(rng, n)
    li, bi = np.ones(3), np.ones(3)
    prices = np.array([2000.0, 1.0, 30.0])
    index = HealthIndex(LT, min_rebuild=int(rng.integers(1, 64)))
    for _ in range(steps):
        coll_s, debt_s, li, bi, prices = random_step(rng, index, coll_s, debt_s, li, bi, prices)
        threshold = float(rng.choice([1.0, 1.0, 1.2]))
        got = index.below(threshold, coll_s, debt_s, li, bi, prices)
        rows, hf, debt_usd = full(coll_s, debt_s, li, bi, prices, threshold)
        assert np.array_equal(got.rows, rows)
        assert np.array_equal(got.hf, hf)  # bit for bit: same float operations per row
        assert np.array_equal(got.debt_usd, debt_usd)


def test_a_quiet_query_computes_only_the_accounts_near_the_threshold(monkeypatch):
    """After a small price move only the accounts that could have crossed are recomputed (those
    below the threshold and a thin band above it), and no rebuild happens: the point of the index."""
    rng = np.random.default_rng(3)
    coll_s, debt_s = random_book(rng, 20_000)
    li, bi, prices = np.ones(3), np.ones(3), np.array([2000.0, 1.0, 30.0])
    index = HealthIndex(LT)
    index.below(1.0, coll_s, debt_s, li, bi, prices)
    assert index.rebuilds == 1
    calls = []
    original = am.health_factors_and_debts

    def counting(coll, debt, p, lt):
        calls.append(coll.shape[0])
        return original(coll, debt, p, lt)

    monkeypatch.setattr(am, "health_factors_and_debts", counting)
    li2, bi2, prices2 = li * 1.0001, bi * 1.0002, prices * np.array([0.999, 1.0, 1.0])
    got = index.below(1.0, coll_s, debt_s, li2, bi2, prices2)
    monkeypatch.undo()
    below = full(coll_s, debt_s, li2, bi2, prices2)[0]
    assert np.array_equal(got.rows, below)
    assert index.rebuilds == 1
    assert calls == [calls[0]] and calls[0] < below.size + 200  # not the 20,000 accounts


def test_a_zero_price_makes_every_account_a_candidate():
    rng = np.random.default_rng(5)
    coll_s, debt_s = random_book(rng, 300)
    li, bi = np.ones(3), np.ones(3)
    index = HealthIndex(LT)
    index.below(1.0, coll_s, debt_s, li, bi, np.array([2000.0, 1.0, 30.0]))
    zero = np.array([0.0, 1.0, 30.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        got = index.below(1.0, coll_s, debt_s, li, bi, zero)
    assert np.array_equal(got.rows, full(coll_s, debt_s, li, bi, zero)[0])
    assert got.rows.size > 0


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_books(n):
    coll_s = np.array([[1.0, 0.0, 0.0]] * n)
    debt_s = np.array([[0.0, 1900.0, 0.0]] * n)
    index = HealthIndex(LT)
    got = index.below(1.0, coll_s, debt_s, np.ones(3), np.ones(3), np.array([2000.0, 1.0, 30.0]))
    assert got.rows.tolist() == list(range(n))  # 1 × 2000 × 0.83 < 1900


def top(rows, hf, debt_usd, count):
    """The ``count`` largest debts (equal debts: the lower row), in row order."""
    pick = np.lexsort((rows, -debt_usd))[:count]
    pick = pick[np.argsort(rows[pick])]
    return rows[pick], hf[pick], debt_usd[pick]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 25))
def test_largest_below_is_the_top_of_the_full_computation(seed, steps):
    """Bit for bit the ``count`` largest debts below the threshold, through price moves,
    accrual, changed and new accounts and merges of the changed ones (``merge_every`` small),
    and ties of debt broken by row."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 600))
    coll_s, debt_s = random_book(rng, n)
    debt_s[: n // 10] = debt_s[n // 10: 2 * (n // 10)]  # equal debts
    li, bi = np.ones(3), np.ones(3)
    prices = np.array([2000.0, 1.0, 30.0])
    index = HealthIndex(LT, min_rebuild=int(rng.integers(1, 64)), merge_every=int(rng.integers(1, 40)))
    for _ in range(steps):
        coll_s, debt_s, li, bi, prices = random_step(rng, index, coll_s, debt_s, li, bi, prices)
        count = int(rng.integers(1, 40))
        got = index.largest_below(count, 1.0, coll_s, debt_s, li, bi, prices)
        rows, hf, debt_usd = top(*full(coll_s, debt_s, li, bi, prices), count)
        assert np.array_equal(got.rows, rows)
        assert np.array_equal(got.hf, hf)
        assert np.array_equal(got.debt_usd, debt_usd)


def test_a_backlog_query_computes_about_the_shortlist(monkeypatch):
    """With most of a large book below HF 1 (a crash), the largest debts are found by computing
    not much more than the shortlist, not the backlog."""
    rng = np.random.default_rng(11)
    coll_s, debt_s = random_book(rng, 50_000)
    li, bi, prices = np.ones(3), np.ones(3), np.array([2000.0, 1.0, 30.0])
    index = HealthIndex(LT)
    index.largest_below(100, 1.0, coll_s, debt_s, li, bi, prices)
    crash = prices * np.array([0.45, 1.0, 1.0])
    backlog = full(coll_s, debt_s, li, bi, crash)[0]
    assert backlog.size > 15_000
    calls = []
    original = am.health_factors_and_debts

    def counting(coll, debt, p, lt):
        calls.append(coll.shape[0])
        return original(coll, debt, p, lt)

    monkeypatch.setattr(am, "health_factors_and_debts", counting)
    got = index.largest_below(100, 1.0, coll_s, debt_s, li, bi * 1.0001, crash)
    monkeypatch.undo()
    assert np.array_equal(got.rows, top(*full(coll_s, debt_s, li, bi * 1.0001, crash), 100)[0])
    assert sum(calls) < 1_500


def test_changed_rows_are_merged_into_the_reference():
    """Past ``merge_every`` changed rows the index re-keys them instead of computing them live
    at every query, and still answers exactly."""
    rng = np.random.default_rng(2)
    coll_s, debt_s = random_book(rng, 2_000)
    li, bi, prices = np.ones(3), np.ones(3), np.array([1500.0, 1.0, 30.0])
    index = HealthIndex(LT, merge_every=50)
    index.below(1.0, coll_s, debt_s, li, bi, prices)
    for row in range(0, 2_000, 20):  # 100 rows
        debt_s[row] *= 3.0
        index.mark(row)
    got = index.below(1.0, coll_s, debt_s, li, bi, prices)
    assert index.merges == 1 and index.rebuilds == 1
    assert np.array_equal(got.rows, full(coll_s, debt_s, li, bi, prices)[0])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 15))
def test_debts_at_least_are_the_large_debts_of_the_full_computation(seed, steps):
    rng = np.random.default_rng(seed)
    coll_s, debt_s = random_book(rng, int(rng.integers(50, 400)))
    li, bi, prices = np.ones(3), np.ones(3), np.array([2000.0, 1.0, 30.0])
    index = HealthIndex(LT, merge_every=int(rng.integers(1, 40)))
    for _ in range(steps):
        prices = prices * rng.lognormal(0.0, 0.1, 3)
        bi = bi * (1 + rng.uniform(0, 2e-3, 3))
        for row in rng.integers(0, coll_s.shape[0], int(rng.integers(0, 10))).tolist():
            debt_s[row] *= rng.uniform(0.0, 3.0, 3)
            index.mark(row)
        usd = float(rng.choice([1e3, 1e5, 1e6]))
        rows, debt_usd = index.debts_at_least(usd, coll_s, debt_s, li, bi, prices)
        every = (debt_s * bi * prices).sum(axis=1)
        assert rows.tolist() == np.flatnonzero(every >= usd).tolist()
        assert np.array_equal(debt_usd, every[rows])
