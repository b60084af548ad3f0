"""Struct-of-arrays state tables.

A :class:`Table` keeps one numpy array per field, rows addressed by stable integer ids
(``0, 1, 2, …`` in order of creation) and an ``alive`` mask. Capacity doubles on demand,
so appending is amortised O(1). Agents get read-only views.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["Table"]


class Table:
    """Columns of equal length, one numpy array per field.

    Parameters
    ----------
    dtypes : mapping of field name to numpy dtype
    capacity : int
        Initial number of rows allocated.

    Examples
    --------
    >>> t = Table({"collateral": np.float64, "debt": np.float64})
    >>> ids = t.append(collateral=[10.0, 5.0], debt=[1.0, 2.0])
    >>> ids.tolist(), t.size, t["debt"].tolist()
    ([0, 1], 2, [1.0, 2.0])
    >>> t.view()["debt"].flags.writeable
    False
    >>> m = Table({"collateral": (np.float64, 3)})
    >>> _ = m.append(collateral=[[1.0, 0.0, 2.0]] * 40)
    >>> m["collateral"].shape
    (40, 3)
    """

    def __init__(self, dtypes: Mapping[str, np.dtype | type | tuple], capacity: int = 16):
        # a field is a dtype, or (dtype, width) for a 2-D column (one value per row and reserve)
        self.widths = {k: (v[1] if isinstance(v, tuple) else None) for k, v in dtypes.items()}
        self.dtypes = {k: np.dtype(v[0] if isinstance(v, tuple) else v) for k, v in dtypes.items()}
        if "alive" in self.dtypes:
            raise ValueError("'alive' is a reserved column name")
        self._cols = {k: np.zeros(self._shape(k, max(capacity, 1)), dtype=d) for k, d in self.dtypes.items()}
        self._alive = np.zeros(max(capacity, 1), dtype=bool)
        self.size = 0

    def _shape(self, field: str, rows: int) -> tuple[int, ...]:
        width = self.widths[field]
        return (rows,) if width is None else (rows, width)

    @property
    def capacity(self) -> int:
        return self._alive.shape[0]

    def _grow(self, need: int) -> None:
        cap = self.capacity
        while cap < need:
            cap *= 2
        for k, a in self._cols.items():
            b = np.zeros(self._shape(k, cap), dtype=a.dtype)
            b[: self.size] = a[: self.size]
            self._cols[k] = b
        alive = np.zeros(cap, dtype=bool)
        alive[: self.size] = self._alive[: self.size]
        self._alive = alive

    def append(self, **columns) -> np.ndarray:
        """Append rows (every field given, scalars or equal-length arrays); returns their ids."""
        missing = set(self.dtypes) - set(columns)
        extra = set(columns) - set(self.dtypes)
        if missing or extra:
            raise KeyError(f"append needs exactly the fields {sorted(self.dtypes)}; missing {sorted(missing)}, unknown {sorted(extra)}")
        arrays = {}
        for k, v in columns.items():
            a = np.asarray(v, dtype=self.dtypes[k])
            arrays[k] = np.atleast_1d(a) if self.widths[k] is None else np.atleast_2d(a)
        n = max(a.shape[0] for a in arrays.values())
        start = self.size
        if start + n > self.capacity:
            self._grow(start + n)
        for k, a in arrays.items():
            self._cols[k][start : start + n] = a
        self._alive[start : start + n] = True
        self.size = start + n
        return np.arange(start, start + n)

    def __getitem__(self, field: str) -> np.ndarray:
        """The live (writable) column ``field`` for rows ``0 … size-1``; for the owning protocol only."""
        if field == "alive":
            return self._alive[: self.size]
        return self._cols[field][: self.size]

    def kill(self, ids) -> None:
        """Mark rows as closed; their ids are never reused."""
        self._alive[np.asarray(ids)] = False

    def view(self) -> dict[str, np.ndarray]:
        """Read-only views of every column, ``alive`` included (what agents see)."""
        out = {}
        for k in (*self._cols, "alive"):
            v = self[k].view()
            v.flags.writeable = False
            out[k] = v
        return out

    def copy(self) -> "Table":
        """A deep copy (used for checkpoints of atomic bundles)."""
        t = Table.__new__(Table)
        t.dtypes = dict(self.dtypes)
        t.widths = dict(self.widths)
        t._cols = {k: a.copy() for k, a in self._cols.items()}
        t._alive = self._alive.copy()
        t.size = self.size
        return t

    def __deepcopy__(self, memo) -> "Table":
        return self.copy()

    def equals(self, other: "Table") -> bool:
        """Bit-for-bit equality of every live column and the alive mask."""
        if self.size != other.size or self.dtypes != other.dtypes:
            return False
        return all(
            np.array_equal(self[k].view(np.uint8), other[k].view(np.uint8)) for k in (*self._cols, "alive")
        )
