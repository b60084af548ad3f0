"""Registry of protocol and agent kinds.

A kind is a string (``"lending.aave_v3"``, ``"token.ledger"``) mapped to a params model
and a factory. Built-ins and third parties register through the entry-point group
``defisim.protocols``: each entry point is a function ``register(registry)``. The engine
never imports the protocol packages itself.
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Callable, NamedTuple

from pydantic import BaseModel

__all__ = ["Registry", "KindEntry", "default_registry"]

ENTRY_POINT_GROUP = "defisim.protocols"


class KindEntry(NamedTuple):
    """A registered kind: its parameter model and the factory that builds it."""

    params: type[BaseModel]
    factory: Callable[..., Any]
    doc: str
    #: ``check(name_or_index, params, scenario)``: raises ``ValueError("<dotted path>: <reason>")``
    #: when the params do not fit the rest of the validated scenario (None: nothing to check)
    check: Callable[..., None] | None = None


class Registry:
    """Protocol kinds and agent kinds by name."""

    def __init__(self):
        self.protocols: dict[str, KindEntry] = {}
        self.agents: dict[str, KindEntry] = {}

    def protocol(self, kind: str, params: type[BaseModel], factory: Callable, doc: str = "",
                 check: Callable | None = None) -> None:
        """Register a protocol kind; ``factory(name, params, host)`` returns a Protocol;
        ``check(name, params, scenario)`` checks it against the whole scenario (see :class:`KindEntry`)."""
        self.protocols[kind] = KindEntry(params, factory, doc, check)

    def agent(self, kind: str, params: type[BaseModel], factory: Callable, doc: str = "",
              check: Callable | None = None) -> None:
        """Register an agent kind; ``factory(ctx, params, index)`` returns a generator;
        ``check(index, params, scenario)`` checks it against the whole scenario."""
        self.agents[kind] = KindEntry(params, factory, doc, check)


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """The registry filled from the ``defisim.protocols`` entry points (loaded once, on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        reg = Registry()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            ep.load()(reg)
        _DEFAULT = reg
    return _DEFAULT
