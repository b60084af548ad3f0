"""What an agent sees and may do: the :class:`AgentContext`.

Agents are plain generator functions ``agent(ctx, params, index)``. They read protocol
state through read-only views, wait on blocks or timeouts, and act only by submitting
transactions: they never mutate protocol state directly.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import simpy

from defisim.chain.blockchain import Chain, TxEvent
from defisim.chain.execution import argument_error
from defisim.chain.mempool import MempoolWatch
from defisim.chain.network import LatencySampler
from defisim.base.tx import Call, Revert, Tx

__all__ = ["AgentContext"]


class AgentContext:
    """An agent's window on the simulation.

    Parameters
    ----------
    name : str
        The agent's address (sender of its transactions), e.g. ``"trader/3"``.
    env : simpy.Environment
    chain : Chain
    protocols : mapping of name to Protocol
    rng : numpy.random.Generator
        The agent's own stream (``"agent/<name>"``).
    public_latency, private_latency : LatencySampler
        The agent's own latency draws (``"latency/<name>/public"``, ``.../private``).
    markets : mapping of name to venue, optional
        Off-chain venues of the run.
    trades : EventTable, optional
        Where off-chain venue trades are logged.
    spawn : callable, optional
        ``spawn(address) -> AgentContext``: the context of another address an agent acts for (the
        run's one context of that address, so agents acting for the same address share its nonces).
    feeds : mapping of asset to feed, optional
        The exogenous price paths of the run; the chain's native asset's prices gas
        (:meth:`native_price_usd`).
    notes : dict, optional
        Where :meth:`warn` leaves the agent's warning for the run's summary.
    shared : dict, optional
        The run's components that several agents use together (:meth:`shared`).
    """

    def __init__(self, name: str, env: simpy.Environment, chain: Chain, protocols, rng: np.random.Generator,
                 public_latency: LatencySampler, private_latency: LatencySampler, markets=None, trades=None,
                 spawn=None, feeds=None, notes=None, shared=None):
        self.name = name
        self.env = env
        self.chain = chain
        self._protocols = protocols
        self.rng = rng
        self._public = public_latency
        self._private = private_latency
        self._next_nonce = 0
        self._chain_nonces, self._chain_submit = chain.nonces, chain.submit  # bound once: the submit hot path
        self._markets = {} if markets is None else markets
        self._trades = trades
        self._spawn = spawn
        self._accounts: dict[str, "AgentContext"] = {}
        self._feeds = {} if feeds is None else feeds
        self._notes = {} if notes is None else notes
        self._shared = {} if shared is None else shared

    def warn(self, text: str) -> bool:
        """Leave a warning for the run's summary (``Results.meta["warnings"]``), once per agent: the
        first one stands, with the block it was given at. Returns whether this one was kept."""
        if self.name in self._notes:
            return False
        self._notes[self.name] = f"{text} (first at block {self.chain.number})"
        return True

    @property
    def now(self) -> int:
        """Simulation time (ms)."""
        return self.env.now

    @property
    def new_block(self) -> simpy.Event:
        """Event fired when the next block is sealed; its value is the block's ``BlockInfo``."""
        return self.chain.new_block

    def delay(self, ms: int) -> simpy.Event:
        """Wait ``ms`` milliseconds (compute or reaction delay)."""
        return self.env.timeout(ms)

    def view(self, protocol: str) -> Any:
        """Read-only view of a protocol's state."""
        return self._protocols[protocol].view()

    def account(self, address: str) -> "AgentContext":
        """The context of another address this agent signs for (e.g. a crowd of borrowers acting
        through one process): its own nonces, random and latency streams; created on first use.
        A run has one context per address, whoever asks for it, so that two agents signing for
        the same address draw its nonces from one counter."""
        ctx = self._accounts.get(address)
        if ctx is None:
            if self._spawn is None:
                raise RuntimeError("this context cannot act for other addresses")
            ctx = self._accounts[address] = self._spawn(address)
        return ctx

    def shared(self, key: str, make):
        """The run's one object under ``key``: ``make()`` builds it the first time any agent asks,
        later calls from any agent return that object. For a component several agents use
        together, such as one process that signs for an address on behalf of many and the queue
        they feed it through (a venue's withdrawals)."""
        obj = self._shared.get(key)
        if obj is None:
            obj = self._shared[key] = make()
        return obj

    def params_of(self, protocol: str):
        """The (frozen) parameters of a protocol."""
        return self._protocols[protocol].params

    def market(self, name: str):
        """An off-chain venue by name (read its prices; trade on it through its own methods)."""
        try:
            return self._markets[name]
        except KeyError:
            raise KeyError(f"no market named {name!r}") from None

    def market_asset(self, name: str) -> str | None:
        """The asset an off-chain venue quotes: the ``markets.feeds`` key of its feed (None if its
        feed is no feed of the scenario)."""
        feed = self.market(name).feed
        return next((asset for asset, f in self._feeds.items() if f is feed), None)

    def native_price_usd(self, t_ms: int | None = None) -> float:
        """USD price of the chain's native asset (``chain.native_asset``, the asset gas is paid
        in) at ``t_ms`` (default: now), from its feed: a gas cost in gwei times this times 1e-9
        is USD."""
        asset = self.chain.spec.native_asset
        feed = self._feeds.get(asset)
        if feed is None:
            raise KeyError(f"no {asset} feed in markets.feeds to price gas (chain.native_asset = {asset!r})")
        return feed.price_at(self.env.now if t_ms is None else t_ms)

    def gas_pricer(self, venue: str | None):
        """``price(t_ms) -> USD per native token`` for gas costs: the mid of ``venue`` (a venue
        quoting the native asset) or, without one, :meth:`native_price_usd`."""
        return self.native_price_usd if venue is None else self.market(venue).mid

    def sell_on(self, venue: str, amount_tokens: float) -> simpy.Process:
        """Sell on an off-chain venue: the order arrives after the agent's private latency and
        fills against the book then (no block involved). The event's value is
        ``(usd_proceeds, avg_price_usd)``; the trade is logged in ``venue_trades``."""
        return self.env.process(self._trade(venue, "sell", amount_tokens))

    def buy_on(self, venue: str, amount_tokens: float) -> simpy.Process:
        """Buy ``amount_tokens`` on an off-chain venue (see :meth:`sell_on`); value ``(usd_cost, avg_price_usd)``."""
        return self.env.process(self._trade(venue, "buy", amount_tokens))

    def _trade(self, venue: str, side: str, amount_tokens: float):
        book = self.market(venue)
        yield self.env.timeout(self._private.next_ms())
        now = self.env.now
        usd, avg = book.sell(amount_tokens, now) if side == "sell" else book.buy_tokens(amount_tokens, now)
        if self._trades is not None:
            self._trades.append((now, venue, self.name, side, float(amount_tokens), float(usd), float(avg), book.mid(now)))
        return usd, avg

    def call_offchain(self, target: str, method: str, **args) -> simpy.Process:
        """Call an off-chain protocol (an exchange, an issuer's RFQ desk): the request arrives
        after the agent's private latency and runs then, no block involved. The event's value is
        ``(ok, result_or_reason)``; a :class:`~defisim.base.tx.Revert` changes nothing."""
        return self.env.process(self._call_offchain(target, method, args))

    def _call_offchain(self, target: str, method: str, args: dict):
        protocol = self._protocols[target]
        spec = protocol.handlers.get(method)
        if spec is None:
            raise KeyError(f"{target} has no call {method!r}")
        if not protocol.offchain:
            raise ValueError(f"{target} is on chain: call it in a transaction (submit)")
        wrong = argument_error(spec, args)
        yield self.env.timeout(self._private.next_ms())
        if wrong is not None:
            return False, wrong
        try:
            return True, spec.fn(protocol, self.name, **args)
        except Revert as e:
            protocol.on_revert(self.name, method, args, e.reason)
            return False, e.reason

    @property
    def base_fee_gwei(self) -> float:
        """Base fee of the next block (gwei)."""
        return self.chain.base_fee_gwei

    def next_nonce(self) -> int:
        """The nonce the next plain transaction will get."""
        return max(self._next_nonce, self.chain.nonces.get(self.name, 0))

    def submit(self, call: Call, gas_limit: int, max_fee_gwei: float, priority_fee_gwei: float,
               private: bool = False, nonce: int | None = None) -> TxEvent:
        """Sign and send a transaction; returns its receipt event (``.tx`` is the stamped Tx).

        Without ``nonce`` the next nonce is used; give the nonce of a pending transaction
        to replace it (replace-by-fee needs both fees bumped, see :meth:`replace`).
        """
        if nonce is None:
            nonce = self._next_nonce
            on_chain = self._chain_nonces.get(self.name, 0)
            if on_chain > nonce:  # own bundles were included meanwhile
                nonce = on_chain
            self._next_nonce = nonce + 1
        latency = self._private.next_ms() if private else self._public.next_ms()
        return self._chain_submit(self.name, nonce, call, gas_limit, max_fee_gwei, priority_fee_gwei, private, latency)

    def replace(self, tx: Tx, max_fee_gwei: float, priority_fee_gwei: float) -> TxEvent:
        """Replace-by-fee: the same call and nonce with higher fees."""
        return self.submit(tx.call, tx.gas_limit, max_fee_gwei, priority_fee_gwei, tx.private, nonce=tx.nonce)

    def submit_bundle(self, items: Sequence[Tx | Call], gas_limit: int, max_fee_gwei: float,
                      priority_fee_gwei: float) -> list[TxEvent]:
        """Send the builder an atomic bundle for its next block (Flashbots MEV-Boost and bundle docs).

        ``items`` are other senders' public transactions (seen through :meth:`watch_mempool`),
        kept as they are, and this agent's own calls, which get consecutive nonces and the
        given gas limit and fees (their tips are the payment to the builder). Returns the
        receipt events of the own transactions; a bundle that is not included drops them.
        """
        nonce = self.next_nonce()
        own = []
        for item in items:
            if isinstance(item, Tx):
                own.append(item)
            else:
                own.append((nonce, item, gas_limit, max_fee_gwei, priority_fee_gwei))
                nonce += 1
        return self.chain.submit_bundle(self.name, own, self._private.next_ms())

    def watch_mempool(self) -> MempoolWatch:
        """Watch public pending transactions as they arrive (searchers)."""
        return self.chain.mempool.watch()

    def pending(self) -> list[Tx]:
        """Public transactions pending now, in order of arrival."""
        return self.chain.mempool.pending(self.env.now)
