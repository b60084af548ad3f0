"""The address book against a plain dict (the reference): same rows, same order, same names,
whatever mix of ranges and single addresses it is given."""
import copy

import numpy as np
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from defisim.base import AddressBook, AddressRange

PREFIXES = ["b/", "b/1", "b/x", "l/", ""]  # "b/1" and "" may share addresses with others
NAMES = st.builds(lambda p, i: f"{p}{i}", st.sampled_from(PREFIXES), st.integers(0, 30)) | st.sampled_from(
    ["pool", "b/01", "b/-1", "b/+1", "b/\u0661", "b/", "l/3x"])
RANGES = st.builds(AddressRange, st.sampled_from(PREFIXES), st.integers(0, 25))


class BookAgainstDict(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.book = AddressBook()
        self.expected: dict[str, int] = {}

    def _take(self, names) -> list[int]:
        for a in dict.fromkeys(names):
            self.expected.setdefault(a, len(self.expected))
        return [self.expected[a] for a in names]

    @rule(name=NAMES)
    def add(self, name):
        if name in self.expected:
            with pytest.raises(ValueError):
                self.book.add(name)
        else:
            assert self.book.add(name) == self._take([name])[0]

    @rule(names=RANGES | st.lists(NAMES, max_size=6))
    def add_all(self, names):
        if len(set(names)) != len(names) or any(a in self.expected for a in names):
            with pytest.raises(ValueError):
                self.book.add_all(names)
        else:
            assert self.book.add_all(names).tolist() == self._take(list(names))

    @rule(names=RANGES | st.lists(NAMES, max_size=6))
    def rows_for(self, names):
        assert self.book.rows_for(names).tolist() == self._take(list(names))

    @rule(name=NAMES)
    def look_up(self, name):
        assert self.book.get(name) == self.expected.get(name)
        assert (name in self.book) == (name in self.expected)

    @invariant()
    def same_rows_in_the_same_order(self):
        assert len(self.book) == len(self.expected)
        assert list(self.book.items()) == list(self.expected.items())
        assert [self.book.name(r) for r in range(len(self.book))] == list(self.expected)


TestBookAgainstDict = BookAgainstDict.TestCase
TestBookAgainstDict.settings = settings(max_examples=200, stateful_step_count=20, deadline=None)


def test_a_range_is_held_as_one_and_its_names_parsed_back():
    book = AddressBook()
    book.add("pool")
    rows = book.add_all(AddressRange("borrower/", 1_000_000))
    assert rows[0] == 1 and rows[-1] == 1_000_000
    assert book["borrower/999999"] == 1_000_000 and book.name(1_000_000) == "borrower/999999"
    for missing in ("borrower/1000000", "borrower/007", "borrower/", "borrower/1e3", "borrower/ 1"):
        assert missing not in book
    with pytest.raises(IndexError):
        book.name(1_000_001)
    with pytest.raises(KeyError):
        book["nobody"]


def test_a_copy_is_independent_and_equal():
    book = AddressBook()
    book.add_all(AddressRange("b/", 3))
    saved = copy.deepcopy(book)
    book.add("keeper")
    assert "keeper" not in saved and saved == {"b/0": 0, "b/1": 1, "b/2": 2}
    assert book == {**saved, "keeper": 3}


def test_rows_are_numpy_integers_either_way():
    book = AddressBook()
    for names in (AddressRange("b/", 2), ["x", "y"]):
        rows = book.rows_for(names)
        assert isinstance(rows, np.ndarray) and rows.dtype == np.int64
