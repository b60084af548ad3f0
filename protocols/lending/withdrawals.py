"""Withdrawals from an off-chain venue: what a keeper's sales there brought comes back on chain.

A keeper that sells seized collateral on an off-chain venue deposits it at the venue's address
on chain, ``venue:<name>``, and sells it there for USD. To liquidate again it needs that money
back on chain: it withdraws it. The venue pays withdrawals from its hot wallet, the same address
``venue:<name>`` on the token ledger of the asset withdrawn (funded by the scenario's
``initial_balances``), by an ordinary transfer transaction that the venue signs, after its
processing delay and net of its fee. A venue's USD balance is taken as the stablecoin withdrawn,
one for one (a venue whose dollar balances are USDC or USDT).

Exchanges charge a flat fee per withdrawal, set per asset and network (Binance, "Deposit &
Withdrawal Fees", https://www.binance.com/en/fee/cryptoFee), some a share of the amount (a
``withdrawFeeType`` of ``ratio`` in Huobi's currency API, https://huobiapi.github.io/docs/spot/v1/en/
``GET /v2/reference/currencies``); processing takes minutes (the exchange's risk checks, its
batching, then the chain's inclusion).

One process per hot wallet (:class:`HotWallet`, shared by every keeper through
:meth:`defisim.run.context.AgentContext.shared`) signs all of its withdrawals, so their nonces
come from one counter and its balance is checked against every withdrawal already sent. The
requests are paid in the order their delays end. When the hot wallet cannot cover the next one,
it waits, block after block, and every later request waits behind it (nothing refills a hot
wallet in a run); the run's warnings say when it first ran dry. A withdrawal waiting in the
mempool (its fee cap below the base fee) holds up the later ones, which come after it in nonce
order. The withdrawals are the rows of the ``transfers`` table sent by ``venue:<name>``.
"""
from __future__ import annotations

from typing import NamedTuple

import simpy
from pydantic import BaseModel, ConfigDict, Field

from defisim.base import Call, DurationMs, unit
from defisim.chain import GasStrategy, PercentileTip, bid

__all__ = ["WithdrawalParams", "HotWallet", "hot_wallet", "withdrawal_amount", "venue_address", "WITHDRAWAL_GAS"]

#: Gas limit of a withdrawal: one ERC-20 ``transfer`` (about 51,000 gas used, the token ledger's).
WITHDRAWAL_GAS = 60_000


def venue_address(venue: str) -> str:
    """The on-chain address of an off-chain venue: where traders deposit, and its hot wallet."""
    return f"venue:{venue}"


class WithdrawalParams(BaseModel):
    """How a keeper gets the proceeds of its venue sales back on chain: each sale's USD is
    withdrawn, less the fee, as tokens of ``asset`` from the venue's hot wallet, ``delay`` after
    the sale filled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    asset: str = Field("USDC", description="reserve of the keeper's pool whose token the venue pays out (the "
                       "venue's USD taken as this stablecoin, one for one); its hot wallet is the address "
                       "venue:<name> on that reserve's token ledger")
    delay: DurationMs = Field(300_000, ge=0, description="processing time of a withdrawal at the venue: from the "
                              "sale's fill to the venue sending the transfer")
    fee_usd: float = Field(0.0, ge=0, allow_inf_nan=False,
                           description="flat fee per withdrawal (tokens of `asset`, taken as USD)")
    fee_share: float = Field(0.0, ge=0, lt=1, description="share of each withdrawal kept by the venue, before the "
                             "flat fee", json_schema_extra=unit("fraction"))
    gas: GasStrategy = Field(PercentileTip(quantile=0.5, markup=1.5),
                             description="gas bidding of the venue's withdrawal transfers")


def withdrawal_amount(usd: float, params: WithdrawalParams) -> float:
    """Tokens a withdrawal of ``usd`` pays out: ``usd × (1 − fee_share) − fee_usd``, at least 0.

    >>> withdrawal_amount(10_000.0, WithdrawalParams(fee_usd=5.0, fee_share=0.001))
    9985.0
    >>> withdrawal_amount(3.0, WithdrawalParams(fee_usd=5.0))
    0.0
    """
    return max(0.0, usd * (1.0 - params.fee_share) - params.fee_usd)


class _Request(NamedTuple):
    to: str
    amount: float  # tokens
    gas: object  # GasStrategy
    done: simpy.Event  # succeeds with the transfer's receipt


class HotWallet:
    """The process that pays one venue's withdrawals of one token from its hot wallet.

    Parameters
    ----------
    ctx : AgentContext
        The context of the venue's address (it signs the transfers).
    ledger : str
        The token ledger protocol the withdrawals are paid on.

    Attributes
    ----------
    paid : float
        Tokens paid out so far (transfers included in a block).
    in_flight : float
        Tokens of transfers sent and not yet included.
    waiting : int
        Requests whose delay has passed, not yet sent.
    """

    def __init__(self, ctx, ledger: str):
        self.ctx = ctx
        self.ledger = ledger
        self.paid = 0.0
        self.in_flight = 0.0
        self._ready = simpy.Store(ctx.env)
        ctx.env.process(self._pay())

    @property
    def address(self) -> str:
        return self.ctx.name

    @property
    def waiting(self) -> int:
        return len(self._ready.items)

    def request(self, to: str, amount: float, delay_ms: int, gas) -> simpy.Event:
        """Ask for ``amount`` tokens to be sent to ``to`` once ``delay_ms`` has passed; the event
        succeeds with the transfer's receipt when it is included."""
        done = self.ctx.env.event()
        self.ctx.env.process(self._after(delay_ms, _Request(to, float(amount), gas, done)))
        return done

    def _after(self, delay_ms: int, req: _Request):
        if delay_ms:
            yield self.ctx.env.timeout(delay_ms)
        yield self._ready.put(req)

    def _pay(self):
        ctx = self.ctx
        ledger = ctx.view(self.ledger)
        while True:
            req = yield self._ready.get()
            while ledger.balance_of(self.address) - self.in_flight < req.amount:
                short = req.amount - (ledger.balance_of(self.address) - self.in_flight)
                ctx.warn(f"hot wallet on {self.ledger} ran dry: a withdrawal of {req.amount:,.2f} to {req.to} "
                         f"is {short:,.2f} short and waits, and every later one behind it")
                yield ctx.new_block
            self.in_flight += req.amount
            ctx.env.process(self._send(req))

    def _send(self, req: _Request, nonce: int | None = None):
        """Send one transfer and settle it; a dropped one (evicted from the mempool) is sent again
        at the same nonce, which the venue's later withdrawals wait behind."""
        ctx = self.ctx
        while True:
            cap, tip = bid(req.gas, ctx.chain)
            receipt = yield ctx.submit(Call(self.ledger, "transfer", {"to": req.to, "amount": req.amount}),
                                       WITHDRAWAL_GAS, cap, tip, nonce=nonce)
            if receipt.block >= 0:  # included: paid, or reverted (it cannot be: the balance was checked)
                break
            nonce = receipt.tx.nonce
            yield ctx.new_block
        self.in_flight -= req.amount
        if receipt.ok:
            self.paid += req.amount
        req.done.succeed(receipt)


def hot_wallet(ctx, venue: str, ledger: str) -> HotWallet:
    """The run's one :class:`HotWallet` paying ``venue``'s withdrawals on ``ledger``, made on
    first use and signed by the venue's address (:func:`venue_address`)."""
    address = venue_address(venue)
    return ctx.shared(f"hot wallet {address} {ledger}", lambda: HotWallet(ctx.account(address), ledger))
