"""Addresses as rows of a state table.

An :class:`AddressBook` maps each address to the row of its state, rows ``0, 1, 2, …`` in
order of creation (as a :class:`~defisim.base.tables.Table` numbers them). A population's
addresses ``<prefix>0 … <prefix><n-1>`` (an :class:`AddressRange`) are taken in one step and
held as a prefix and two numbers: a name is made when asked for and parsed back into its row.
Only the few addresses named one by one (pools, keepers, arbitrageurs, the accounts of a
borrower book read from a file) hold one dict entry each.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

__all__ = ["AddressRange", "AddressBook"]


def _is_decimal(text: str) -> bool:
    """Whether ``text`` is how ``str`` writes a non-negative int: ASCII digits, no leading zero."""
    return text.isascii() and text.isdigit() and (text[0] != "0" or text == "0")


class AddressRange(Sequence):
    """The addresses ``f"{prefix}{i}"`` for ``i`` in ``0 … size-1``, each made when asked for.

    Parameters
    ----------
    prefix : str
        What every address starts with (``"borrower/"``).
    size : int
        How many addresses (≥ 0).

    Examples
    --------
    >>> r = AddressRange("borrower/", 3)
    >>> list(r), r[2], r.position("borrower/1"), "borrower/3" in r, "borrower/01" in r
    (['borrower/0', 'borrower/1', 'borrower/2'], 'borrower/2', 1, False, False)
    """

    __slots__ = ("prefix", "size")

    def __init__(self, prefix: str, size: int):
        if size < 0:
            raise ValueError(f"an address range holds a non-negative number of addresses, not {size}")
        self.prefix = prefix
        self.size = int(size)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> str:
        i = int(i)
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(f"address {i} of a range of {self.size}")
        return f"{self.prefix}{i}"

    def __iter__(self) -> Iterator[str]:
        prefix = self.prefix
        return (f"{prefix}{i}" for i in range(self.size))

    def position(self, name) -> int | None:
        """The ``i`` of ``name`` in the range, or None if it is not one of its addresses."""
        if not (isinstance(name, str) and name.startswith(self.prefix)):
            return None
        tail = name[len(self.prefix):]
        if not _is_decimal(tail):
            return None
        i = int(tail)
        return i if i < self.size else None

    def __contains__(self, name) -> bool:
        return self.position(name) is not None

    def index(self, name, start: int = 0, stop: int | None = None) -> int:
        i = self.position(name)
        if i is None or i < start or (stop is not None and i >= stop):
            raise ValueError(f"{name!r} is not in the range")
        return i

    def may_share(self, other: "AddressRange") -> bool:
        """Whether the two ranges may hold a same address (an over-estimate: a prefix that is
        the other's followed by digits may)."""
        short, long = sorted((self.prefix, other.prefix), key=len)
        rest = long[len(short):]
        return long.startswith(short) and (rest == "" or (rest.isascii() and rest.isdigit()))

    def __repr__(self) -> str:
        return f"AddressRange({self.prefix!r}, {self.size})"

    def __reduce__(self):
        return AddressRange, (self.prefix, self.size)

    def __deepcopy__(self, memo) -> "AddressRange":
        return self  # immutable


class AddressBook(Mapping):
    """Address → row, rows ``0, 1, 2, …`` in order of creation: a read-only mapping to its users,
    grown by :meth:`add`, :meth:`add_all` and :meth:`rows_for`.

    An :class:`AddressRange` that shares no address with the book is held as one range (its
    first row and the range); any other addresses one dict entry each. Iteration goes in row
    order; :meth:`name` is the inverse.

    Examples
    --------
    >>> book = AddressBook()
    >>> book.add("pool")
    0
    >>> book.add_all(AddressRange("borrower/", 1000))[[0, -1]].tolist()
    [1, 1000]
    >>> book.add("keeper/0")
    1001
    >>> book["borrower/999"], book.name(1000), book.get("borrower/1000"), len(book)
    (1000, 'borrower/999', None, 1002)
    >>> list(book)[:3], list(book)[-1]
    (['pool', 'borrower/0', 'borrower/1'], 'keeper/0')
    >>> book.rows_for(["keeper/0", "new", "borrower/5"]).tolist(), book.name(1002)
    ([1001, 1002, 6], 'new')
    """

    def __init__(self):
        self._named: dict[str, int] = {}  # the addresses taken one by one
        self._names: dict[int, str] = {}  # their rows → them
        self._firsts: list[int] = []  # the first row of each range, increasing
        self._ranges: list[AddressRange] = []
        self._size = 0

    # -- the mapping ------------------------------------------------------------------------
    def get(self, name, default=None):
        """The row of ``name``, or ``default`` if the book does not hold it."""
        row = self._named.get(name)
        if row is not None:
            return row
        for first, r in zip(self._firsts, self._ranges):
            i = r.position(name)
            if i is not None:
                return first + i
        return default

    def __getitem__(self, name) -> int:
        row = self.get(name)
        if row is None:
            raise KeyError(name)
        return row

    def __contains__(self, name) -> bool:
        return self.get(name) is not None

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[str]:
        named = iter(self._named.items())  # in row order: rows are given in order of creation
        pending = next(named, None)
        for first, r in zip(self._firsts, self._ranges):
            while pending is not None and pending[1] < first:
                yield pending[0]
                pending = next(named, None)
            yield from r
        while pending is not None:
            yield pending[0]
            pending = next(named, None)

    def name(self, row: int) -> str:
        """The address of ``row`` (IndexError if the book has no such row)."""
        name = self._names.get(row)
        if name is not None:
            return name
        k = bisect_right(self._firsts, row) - 1
        if k >= 0 and row - self._firsts[k] < self._ranges[k].size:
            return self._ranges[k][row - self._firsts[k]]
        raise IndexError(f"row {row} of an address book of {self._size}")

    # -- growing ----------------------------------------------------------------------------
    def add(self, name: str) -> int:
        """Take the new address ``name``; returns its row (ValueError if the book holds it)."""
        if name in self:
            raise ValueError(f"{name!r} is already in the address book")
        return self._add_named(name)

    def add_all(self, names: Sequence[str]) -> np.ndarray:
        """Take many new addresses at once; returns their rows, in order. ValueError, and nothing
        taken, if one is held already or given twice."""
        if isinstance(names, AddressRange) and self._apart(names):
            return self._add_range(names)
        if len(set(names)) != len(names):
            raise ValueError("an address is given twice")
        held = next((a for a in names if a in self), None)
        if held is not None:
            raise ValueError(f"{held!r} is already in the address book")
        return np.fromiter((self._add_named(a) for a in names), dtype=np.int64, count=len(names))

    def rows_for(self, names: Iterable[str]) -> np.ndarray:
        """The rows of many addresses, those the book does not hold taken first (in order of
        first appearance)."""
        if isinstance(names, AddressRange) and self._apart(names):
            return self._add_range(names)
        names = list(names)
        for a in dict.fromkeys(names):
            if a not in self:
                self._add_named(a)
        return np.fromiter((self[a] for a in names), dtype=np.int64, count=len(names))

    def _apart(self, r: AddressRange) -> bool:
        """Whether the range surely shares no address with the book (then it is held as one)."""
        return (not any(r.may_share(other) for other in self._ranges)
                and not any(r.position(a) is not None for a in self._named))

    def _add_named(self, name: str) -> int:
        row = self._size
        self._named[name] = row
        self._names[row] = name
        self._size += 1
        return row

    def _add_range(self, r: AddressRange) -> np.ndarray:
        first = self._size
        if r.size:
            self._firsts.append(first)
            self._ranges.append(r)
            self._size += r.size
        return np.arange(first, first + r.size, dtype=np.int64)
