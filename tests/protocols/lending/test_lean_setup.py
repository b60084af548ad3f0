"""A population is held as arrays: the pool keeps no entry or string per borrower (its owners are
one range of the address book), and the debt ledger's balances of the borrowers are a slice of
its balance column. Names, rows and balances read as they would from one entry per account."""
import gc

import numpy as np
import pytest

from defisim.base import AddressBook
from defisim.run.simulation import Simulation
from defisim.scenario.loading import load_scenario
from protocols.lending.aave_v3.model import AaveV3Pool

N = 5_000  # borrowers
LENDERS = 40


def largest_container(root) -> int:
    """The most entries of any dict, list, set or tuple reachable from ``root`` (numpy arrays,
    classes and modules not entered)."""
    seen, todo, most = set(), [root], 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (np.ndarray, type)) or type(obj).__name__ == "module":
            continue
        seen.add(id(obj))
        if isinstance(obj, (dict, list, set, tuple)):
            most = max(most, len(obj))
        todo.extend(gc.get_referents(obj))
    return most


class Market:
    """The ``eth-crash`` pool and its ledgers, set up (not run) with ``N`` borrowers and a crowd of lenders."""

    def __init__(self):
        sim = Simulation(load_scenario("eth-crash", [f"protocols.aave.population.count={N}",
                                                     f'protocols.aave.lenders={{"count": {LENDERS}}}']))
        self.protocols = sim.protocols
        self.pool = sim.protocols["aave"]


@pytest.fixture(scope="module")
def market():
    m = Market()
    assert m.pool.state.positions.size == N + 1 + LENDERS  # the borrowers, 'lenders', the crowd
    return m


def test_the_pool_holds_no_entry_per_account(market):
    state = market.pool.state
    assert isinstance(state.accounts, AddressBook)
    assert largest_container(state) < 20


def test_the_ledger_holds_the_borrowers_balances_as_an_array(market):
    usdc = market.protocols["usdc"]
    assert largest_container(usdc.state) < 20
    view = usdc.view()
    rows = [view.accounts[f"borrower/{i}"] for i in range(N)]
    assert rows == list(range(rows[0], rows[0] + N))  # one slice of the column
    _coll, debt = market.pool.balances()
    owed = debt[[market.pool.view().row_of(f"borrower/{i}") for i in range(N)], market.pool.index["USDC"]]
    np.testing.assert_array_equal(view.balance[rows[0]:rows[0] + N], owed)
    assert usdc.balance_of("borrower/17") == view.balance[rows[17]] > 0
    assert usdc.balance_of(f"borrower/{N}") == 0.0 and usdc.balance_of("borrower/017") == 0.0


def test_names_and_rows_as_one_entry_per_account_would_give(market):
    pool = market.pool.view()
    n = pool.n_accounts()
    owners = [pool.owner(r) for r in range(n)]
    assert owners == list(market.pool.state.accounts)
    assert owners[:2] == ["lenders", "borrower/0"] and owners[N] == f"borrower/{N - 1}"
    assert owners[N + 1:] == [f"lender/{i}" for i in range(LENDERS)]
    assert [pool.row_of(o) for o in owners] == list(range(n))
    assert pool.row_of(f"borrower/{N}") is None and pool.row_of(f"lender/{LENDERS}") is None


def test_a_new_account_takes_the_next_row():
    m = Market()
    m.protocols["weth"].issue_quietly("alice", 1.0)
    assert AaveV3Pool.handlers["supply"].fn(m.pool, "alice", asset="WETH", amount=1.0) == 1.0
    pool = m.pool.view()
    assert pool.row_of("alice") == pool.n_accounts() - 1 == m.pool.state.positions.size - 1 == N + 1 + LENDERS
    assert pool.owner(pool.row_of("alice")) == "alice" and pool.position(pool.row_of("alice"))[0][0] == 1.0
