"""The engine's float64 Aave v3 pool driven step by step from Python, without SimPy.

:class:`EnginePool` builds an :class:`~.model.AaveV3Pool` with its token ledgers and fixed-price
oracles, runs calls through the engine's :class:`~defisim.chain.execution.Executor` exactly as a block
would (a new block per :meth:`~EnginePool.advance`, so accrual happens in ``on_block``), and
speaks the contracts' integer units of :class:`~.replay.Market` at its edges, so one scenario can
be replayed on it, on :class:`~.exact_pool.ExactPool` and on the real contracts.

Conversions: amounts ``raw / 10**decimals`` in, ``round(tokens · 10**decimals)`` out; prices
``/ 1e8``; rates and indices ``round(x · 1e27)``; health factor ``round(hf · 1e18)`` (``2**256 − 1``
without debt); bps ``/ 1e4``. The float values are what the simulator computes; rounding them to
integers adds at most half a unit.

The engine's ``rules="v3.3"`` are the liquidation rules of ``version="v3.6"`` (v3.3 … v3.7 share
them); rounding is not modelled (Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest` last paragraph).
"""
from __future__ import annotations

import math
from typing import Any

from defisim.base import EventLog
from defisim.chain import Executor
from defisim.base import BlockInfo
from defisim.base import Call, Revert, Tx, TxStatus

from protocols.oracles import FixedOracle
from protocols.oracles.params import FixedOracleParams
from protocols.token import LedgerParams, TokenLedger

from .model import AaveV3Pool
from .params import PoolParams
from .replay import MAX_UINT256, AccountData, LiquidationResult, ReserveConfig, ReserveData

__all__ = ["EnginePool", "RULES_FOR_VERSION", "CONTRACT_REASONS", "reserve_params"]

#: The engine's rule set for each contract version (docs/reference.md, "Aave rule versions").
RULES_FOR_VERSION = {"v3.0": "v3.0", "v3.6": "v3.3"}
#: The engine's revert reasons the contracts spell differently: handing out more than the
#: reserve's cash underflows the rate strategy's available liquidity (a panic).
CONTRACT_REASONS = {"not enough liquidity": "PANIC_0x11"}
_BPS = 1e4
_BLOCK_MS = 12_000


class _Host:
    """The engine services a protocol needs outside a simulation: an event log, the protocols."""

    def __init__(self):
        self.log = EventLog()
        self.protocols: dict[str, Any] = {}


def reserve_params(c: ReserveConfig) -> dict:
    """:class:`~.params.ReserveParams` fields of a :class:`~.replay.ReserveConfig` (bps → fractions).

    >>> from protocols.lending.aave_v3.replay import WETH_EXAMPLE
    >>> reserve_params(WETH_EXAMPLE)["liquidation_bonus"]
    0.05
    """
    return dict(
        symbol=c.symbol, decimals=c.decimals, ltv=c.ltv / _BPS, liquidation_threshold=c.liquidation_threshold / _BPS,
        liquidation_bonus=(c.liquidation_bonus - 10_000) / _BPS, protocol_liquidation_fee=c.protocol_fee / _BPS,
        reserve_factor=c.reserve_factor / _BPS,
        rate_strategy=dict(optimal_utilization=c.optimal_usage / _BPS, base_rate=c.base_rate / _BPS,
                           slope1=c.slope1 / _BPS, slope2=c.slope2 / _BPS),
    )


class EnginePool:
    """The engine's pool behind the :class:`~.replay.Market` interface.

    Parameters
    ----------
    version : {"v3.0", "v3.6"}
        Contract version whose liquidation rules to follow (:data:`RULES_FOR_VERSION`).
    reserves : sequence of ReserveConfig
    prices : dict of str to int
        Initial prices (USD·1e8).
    start_time : int
        Timestamp of the first block (s).

    Examples
    --------
    >>> from protocols.lending.aave_v3.replay import USDC_EXAMPLE as usdc, WETH_EXAMPLE as weth
    >>> pool = EnginePool("v3.6", [weth, usdc], {"WETH": 2_000 * 10**8, "USDC": 10**8})
    >>> pool.supply("lender", "USDC", 100_000 * 10**6)
    >>> pool.supply("borrower", "WETH", 10 * 10**18)
    >>> pool.borrow("borrower", "USDC", 15_000 * 10**6)
    >>> pool.set_price("WETH", 1_800 * 10**8)
    >>> pool.account_data("borrower").health_factor
    996000000000000000
    >>> pool.liquidation_call("liquidator", "WETH", "USDC", "borrower", 2**256 - 1).debt_repaid
    7500000000
    """

    def __init__(self, version: str, reserves, prices: dict[str, int], start_time: int = 1):
        if version not in RULES_FOR_VERSION:
            raise ValueError(f"version must be one of {tuple(RULES_FOR_VERSION)}, got {version!r}")
        self.configs = {c.symbol: c for c in reserves}
        h = self.host = _Host()
        for sym in self.configs:
            h.protocols[f"token.{sym}"] = TokenLedger(f"token.{sym}", LedgerParams(symbol=sym), h)
            h.protocols[f"oracle.{sym}"] = FixedOracle(f"oracle.{sym}", FixedOracleParams(price=prices[sym] / 1e8), h)
        params = PoolParams(
            reserves=tuple(reserve_params(c) for c in reserves),
            tokens={s: f"token.{s}" for s in self.configs}, oracles={s: f"oracle.{s}" for s in self.configs},
            rules=RULES_FOR_VERSION[version], health_every_blocks=0)
        self.pool = h.protocols["pool"] = AaveV3Pool("pool", params, h)
        self.executor = Executor(h.protocols)
        self.number = 1
        self.time_ms = start_time * 1000
        self._seq = 0
        self.executor.begin_block(BlockInfo(self.number, self.number, self.time_ms, 0.0, 36_000_000))

    # -- conversions -----------------------------------------------------------------------
    def _tokens(self, sym: str, raw: int) -> float:
        return math.inf if raw == MAX_UINT256 else raw / 10 ** self.configs[sym].decimals

    def _raw(self, sym: str, tokens: float) -> int:
        return round(tokens * 10 ** self.configs[sym].decimals)

    def _call(self, sender: str, method: str, **args):
        self._seq += 1
        tx = Tx(sender, self._seq, Call("pool", method, args), 10_000_000, 0.0, 0.0, False, -1, self._seq, 0, 0)
        status, reason, _gas, out = self.executor.execute(tx)
        if status != TxStatus.INCLUDED:
            raise Revert(CONTRACT_REASONS.get(reason, reason))
        return out

    def _fund(self, user: str, sym: str, tokens: float) -> None:
        """Mint what the call needs: a replay checks the protocol, not the wallets."""
        ledger = self.host.protocols[f"token.{sym}"]
        short = tokens - ledger.balance_of(user)
        if short > 0:
            ledger.issue_quietly(user, short)

    # -- Market interface -------------------------------------------------------------------
    def set_price(self, symbol: str, price: int) -> None:
        self.host.protocols[f"oracle.{symbol}"].state = price / 1e8

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        if seconds:
            self.number += 1
            self.time_ms += seconds * 1000
            self.executor.begin_block(BlockInfo(self.number, self.number, self.time_ms, 0.0, 36_000_000))

    def supply(self, user: str, symbol: str, amount: int) -> None:
        tokens = self._tokens(symbol, amount)
        self._fund(user, symbol, tokens)
        self._call(user, "supply", asset=symbol, amount=tokens)

    def borrow(self, user: str, symbol: str, amount: int) -> None:
        self._call(user, "borrow", asset=symbol, amount=self._tokens(symbol, amount))

    def liquidation_call(self, liquidator: str, collateral: str, debt: str, user: str,
                         debt_to_cover: int) -> LiquidationResult:
        cover = self._tokens(debt, debt_to_cover)
        self._fund(liquidator, debt, min(cover, self.pool.account(user)[1][self.pool.index[debt]]))
        deficit_before = float(self.pool.state.deficit[self.pool.index[debt]])
        out = self._call(liquidator, "liquidation_call", collateral_asset=collateral, debt_asset=debt, user=user,
                         debt_to_cover=cover)
        deficit = float(self.pool.state.deficit[self.pool.index[debt]]) - deficit_before
        return LiquidationResult(self._raw(debt, out.debt_repaid), self._raw(collateral, out.liquidator_collateral),
                                 self._raw(collateral, out.protocol_fee_collateral), self._raw(debt, deficit))

    def reserve_data(self, symbol: str) -> ReserveData:
        s, r = self.pool.state, self.pool.index[symbol]
        borrow_rate, supply_rate = self.pool.current_rates()
        return ReserveData(round(s.liquidity_index[r] * 1e27), round(s.borrow_index[r] * 1e27),
                           round(supply_rate[r] * 1e27), round(borrow_rate[r] * 1e27), self._raw(symbol, s.deficit[r]),
                           self._raw(symbol, s.total_debt_scaled[r] * s.borrow_index[r]),
                           self._raw(symbol, self.host.protocols[f"token.{symbol}"].balance_of("pool")))

    def account_data(self, user: str) -> AccountData:
        coll, debt = self.pool.account(user)
        prices = self.pool.prices_usd()
        row = self.pool.state.accounts.get(user)
        hf = math.inf if row is None else float(self.pool.health_factors()[row])
        return AccountData(
            round(float(coll @ prices) * 1e8), round(float(debt @ prices) * 1e8),
            MAX_UINT256 if math.isinf(hf) else round(hf * 1e18),
            {s: self._raw(s, coll[i]) for i, s in enumerate(self.pool.symbols)},
            {s: self._raw(s, debt[i]) for i, s in enumerate(self.pool.symbols)})
