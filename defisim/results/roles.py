"""Reading a run's tables by result role (:mod:`defisim.base.roles`).

A run's schema (``Results.schema``, also in ``meta.json``) says which table fills which role and
with which columns, and, under the ``txs`` table, which ``(target, method)`` calls fill a call
role. :func:`role_frame` gathers every table of a role into one DataFrame with the role's field
names, so the summary, the timeline and the sweep metrics never name a protocol's tables.
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from defisim.base.roles import ROLES

__all__ = ["role_tables", "role_frame", "role_calls", "role_txs", "CALLS_KEY"]

#: Key of the ``txs`` entry of a schema listing the calls of each call role: ``{role: [[target, method], ...]}``.
CALLS_KEY = "calls_by_role"


def role_tables(schema: Mapping, role: str) -> list[str]:
    """Names of the tables filling ``role``, in declaration order."""
    if role not in ROLES:
        raise ValueError(f"no result role {role!r}")
    return [name for name, entry in schema.items() if entry.get("role") == role]


def role_frame(tables: Mapping[str, pd.DataFrame], schema: Mapping, role: str) -> pd.DataFrame | None:
    """Every table filling ``role``, its columns renamed to the role's fields, stacked, with a
    ``table`` column naming the source; None when no table of the run fills it.

    Optional fields a table does not fill are NaN (or empty strings); a ``columns`` field (such
    as ``hf_quantiles``) keeps the table's own column names, listed in ``frame.attrs[field]``.

    Examples
    --------
    >>> schema = {"rounds": {"role": "oracle_rounds", "role_columns": {"block": "b", "oracle": "o", "lag_ms": "d"}}}
    >>> role_frame({"rounds": pd.DataFrame({"b": [3], "o": ["x"], "d": [500]})}, schema, "oracle_rounds").to_dict("records")
    [{'block': 3, 'oracle': 'x', 'lag_ms': 500, 'table': 'rounds'}]
    """
    names = [n for n in role_tables(schema, role) if n in tables]
    if not names:
        return None
    fields = ROLES[role].fields
    parts, lists = [], {}
    for name in names:
        cols, df = schema[name]["role_columns"], tables[name]
        part = {}
        for f in fields:
            if f.dtype == "columns":
                for c in cols.get(f.name, []):
                    part[c] = df[c]
                lists.setdefault(f.name, [])
                lists[f.name] += [c for c in cols.get(f.name, []) if c not in lists[f.name]]
            elif f.name in cols:
                part[f.name] = df[cols[f.name]]
            else:
                part[f.name] = pd.Series("" if f.dtype == "string" else float("nan"), index=df.index,
                                         dtype="string" if f.dtype == "string" else "float64")
        part["table"] = pd.Series(name, index=df.index, dtype="string")
        parts.append(pd.DataFrame(part))
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    frame.attrs.update(lists)
    return frame


def role_calls(schema: Mapping, role: str) -> list[tuple[str, str]]:
    """The ``(target, method)`` pairs of the ``txs`` table that fill call role ``role``."""
    return [tuple(c) for c in schema.get("txs", {}).get(CALLS_KEY, {}).get(role, [])]


def role_txs(tables: Mapping[str, pd.DataFrame], schema: Mapping, role: str) -> pd.DataFrame | None:
    """The rows of ``txs`` whose ``(target, method)`` fill call role ``role`` (every attempt: won,
    reverted, dropped); None when the run has no ``txs`` or no call fills the role."""
    calls, txs = role_calls(schema, role), tables.get("txs")
    if not calls or txs is None:
        return None
    return txs[pd.MultiIndex.from_arrays([txs["target"].astype(str), txs["method"].astype(str)]).isin(calls)]
