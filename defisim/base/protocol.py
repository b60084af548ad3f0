"""Base class of protocol models and the ``@handler`` decorator.

A protocol keeps all of its mutable state in ``self.state`` (tables, arrays, scalars), so
the engine can checkpoint and roll it back for atomic bundles. Calls reach it through
handlers registered per method name. A handler checks first and raises
:class:`~defisim.base.tx.Revert` before it changes anything; only then does it apply effects.
"""
from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, ClassVar, NamedTuple

from pydantic import BaseModel

from defisim.base.roles import LIQUIDATION_CALL, Positions

__all__ = ["Protocol", "handler", "HandlerSpec", "BlockInfo", "is_number"]


class BlockInfo(NamedTuple):
    """The block being built or just sealed. ``time_ms`` is the block timestamp in ms."""

    number: int
    slot: int
    time_ms: int
    base_fee_gwei: float
    gas_limit: int


class HandlerSpec(NamedTuple):
    """A call handler: the function, its gas use on success and on revert (gas units), its call
    role (:data:`defisim.base.roles.LIQUIDATION_CALL` or None), and the names of its call
    arguments (all, and those without a default)."""

    fn: Callable
    gas: int
    revert_gas: int
    role: str | None = None
    arg_names: frozenset = frozenset()
    required: frozenset = frozenset()


def _arguments(fn: Callable) -> tuple[frozenset, frozenset]:
    params = list(inspect.signature(fn).parameters.values())[2:]  # after self, sender
    names = frozenset(p.name for p in params)
    required = frozenset(p.name for p in params if p.default is inspect.Parameter.empty)
    return names, required


def is_number(x) -> bool:
    """Whether a call argument is a real number (``int`` or ``float``, not ``bool``): handlers
    check amounts with it before any effect.

    >>> [is_number(x) for x in (1, 2.5, True, "3", None)]
    [True, True, False, False, False]
    """
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def handler(gas: int, revert_gas: int | None = None, role: str | None = None):
    """Register a method as the handler of the call of the same name.

    Parameters
    ----------
    gas : int
        Gas used when the call succeeds.
    revert_gas : int, optional
        Gas used when it reverts (default: ``gas``).
    role : str, optional
        The call's result role: :data:`defisim.base.roles.LIQUIDATION_CALL` for a liquidation
        attempt (the engine counts its reverts and gas).
    """
    if role is not None and role != LIQUIDATION_CALL:
        raise ValueError(f"no call role {role!r} (roles: {LIQUIDATION_CALL!r})")

    def deco(fn):
        fn._defisim_handler = (gas, gas if revert_gas is None else revert_gas, role)
        return fn

    return deco


class Protocol:
    """A protocol instance living on the simulated chain.

    Subclasses set ``kind`` and ``Params`` (a frozen pydantic model), build ``self.state``
    in ``__init__`` and decorate their call handlers with :func:`handler`. Hooks with
    do-nothing defaults: :meth:`on_block`, :meth:`on_revert`, :meth:`view`, :meth:`prices`,
    :meth:`exposures`, :meth:`summary`, :meth:`positions`.

    Parameters
    ----------
    name : str
        Instance name in the scenario (the ``target`` of calls).
    params : pydantic.BaseModel
        Validated parameters.
    host : defisim.run.simulation.ProtocolHost
        The engine services a protocol may use: event tables, random streams, block info.
    """

    kind: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]]
    handlers: ClassVar[dict[str, HandlerSpec]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        found = dict(getattr(cls, "handlers", {}))
        for attr, fn in vars(cls).items():
            spec = getattr(fn, "_defisim_handler", None)
            if spec is not None:
                found[attr] = HandlerSpec(fn, *spec, *_arguments(fn))
        cls.handlers = found

    #: View roles its :meth:`view` fills (``"lending"``: :class:`~defisim.base.roles.LendingView`);
    #: a parameter naming a protocol by role (``protocol_filling``) accepts it.
    view_roles: ClassVar[tuple[str, ...]] = ()

    #: Off-chain protocols (an exchange, an issuer's desk) take calls on arrival through
    #: :meth:`~defisim.run.context.AgentContext.call_offchain`; on-chain ones only in transactions.
    offchain: bool = False

    def __init__(self, name: str, params: BaseModel, host: Any):
        self.name = name
        self.params = params
        self.host = host
        self.block: BlockInfo | None = None
        self.state: Any = None

    # -- hooks ---------------------------------------------------------------------------
    def on_block(self, block: BlockInfo) -> None:
        """Called at the top of every block before its transactions (per-block accrual)."""

    def on_revert(self, sender: str, method: str, args: dict, reason: str) -> None:
        """Called after one of this protocol's handlers reverted (``reason``), its state untouched:
        where a protocol records a failed attempt with what it met (the state is as the call found
        it), since a reverted handler leaves nothing behind. Rows it appends for a call inside a
        bundle that is not included are dropped with the bundle's."""

    def view(self) -> Any:
        """A read-only view of the state for agents."""
        return None

    def prices(self) -> dict[str, float]:
        """Prices this protocol shows on chain, recorded every block in the ``prices`` table
        (an oracle's answer, a pool's spot price), in USD or quote units as named."""
        return {}

    #: What this protocol is in the exposure graph: "protocol", "venue" or "token".
    node_kind = "protocol"

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """Edges (:class:`~defisim.graph.exposure.Exposure`) and nodes
        (:class:`~defisim.graph.exposure.Node`) of the exposure graph this protocol contributes,
        from its state now, amounts in USD; accounts of at least
        ``large_account_usd`` are nodes of their own."""
        return []

    def distress(self) -> float:
        """The share of what this protocol owes its creditors that is lost now, in [0, 1] (a
        lending pool's deficit over its deposits): what travels along exposure edges."""
        return 0.0

    def issued_distress(self) -> dict[str, float]:
        """The same for the tokens this protocol issues (graph node → share lost, in [0, 1]):
        a lending pool's receipt tokens written down by their reserve's deficit."""
        return {}

    def summary(self, tables: dict) -> dict:
        """Headline metrics of this protocol from the run's result tables."""
        return {}

    def positions(self) -> Positions | None:
        """The accounts now (:class:`~defisim.base.roles.Positions`), for a lending protocol: the
        engine reads them at the end of the run for the debt left uncovered and still
        liquidatable. None (the default) for a protocol that lends nothing."""
        return None

    def market(self, asset: str) -> Any:
        """This protocol as a place to sell ``asset`` for the engine's valuations (collateral left at
        the end, the backlog's depth): an object with ``mid(t_ms)`` (USD per token) and
        ``quote_sell(tokens, t_ms) -> (usd, average price)``, as an off-chain venue has. None (the
        default) for a protocol that trades nothing."""
        return None

    def calls_by_role(self) -> dict[str, list[str]]:
        """This protocol's handler names per call role (``{"liquidation": ["liquidation_call"]}``)."""
        out: dict[str, list[str]] = {}
        for method, spec in self.handlers.items():
            if spec.role:
                out.setdefault(spec.role, []).append(method)
        return out

    # -- atomicity -----------------------------------------------------------------------
    def checkpoint(self) -> Any:
        """A copy of ``self.state`` to roll back to."""
        return copy.deepcopy(self.state)

    def rollback(self, snapshot: Any) -> None:
        """Restore a :meth:`checkpoint`."""
        self.state = snapshot
