"""Morpho Blue in exact integers, rounded as the contract rounds (morpho-org/morpho-blue v1.0, `Morpho.sol`).

The reference path: Python integers, no floats, one function per contract routine. Units are
the contract's: raw token amounts (``10**decimals`` per token), shares (``1e6`` virtual shares
per virtual asset, so a first deposit of ``a`` assets mints ``a·1e6`` shares), WAD (1e18) for
the LLTV, the fee and per-second rates, and the oracle price of one raw unit of collateral in raw
units of the loan token scaled by ``1e36`` (`IOracle.price`).

What each routine does, in the contract's order and rounding:

- ``supply`` / ``withdraw`` / ``borrow`` / ``repay``: exactly one of ``assets`` and ``shares``
  is non-zero; assets convert to shares rounding in the protocol's favour (supply down,
  withdraw up, borrow up, repay down) and shares to assets likewise (supply up, withdraw down,
  borrow down, repay up). A borrow must leave the position healthy and the market with
  ``totalBorrowAssets ≤ totalSupplyAssets``; so must a withdrawal.
- health (`_isHealthy`): ``floor(floor(collateral · price / 1e36) · lltv / 1e18) ≥
  toAssetsUp(borrowShares)``. The LLTV is the largest loan-to-value and the liquidation point.
- ``liquidate`` (`Morpho.liquidate`): no close factor and no protocol fee. The incentive
  factor is ``min(1.15, 1 / (1 − 0.3·(1 − lltv)))`` (``wDivDown`` of ``wMulDown``). Given the
  collateral to seize, the shares repaid are ``toSharesUp(wDivUp(mulDivUp(seized, price,
  1e36), LIF))``; given the shares, the collateral seized is ``mulDivDown(wMulDown(
  toAssetsDown(shares), LIF), 1e36, price)``. An account left with no collateral has the rest
  of its debt written off against the suppliers in the same call (``badDebtAssets``).
- ``accrue_interest`` (`_accrueInterest`): ``interest = wMulDown(totalBorrowAssets,
  wTaylorCompounded(rate, elapsed))`` added to both totals; the fee's share of it minted to
  the fee recipient as supply shares at the post-interest price less the fee.

The interest rate model is injected (`IIrm.borrowRate`): :func:`irm_mock` is the package's
`IrmMock` (utilisation per year), :class:`AdaptiveCurveIrm` Morpho's production model
(morpho-org/morpho-blue-irm `AdaptiveCurveIrm.sol`, its `ExpLib.wExp`), a callable
``irm(market, now) -> rate`` (WAD per second) for anything else.

References: morpho-org/morpho-blue `src/Morpho.sol`, `src/libraries/MathLib.sol`,
`src/libraries/SharesMathLib.sol`, `src/libraries/ConstantsLib.sol`, `src/libraries/UtilsLib.sol`;
morpho-org/morpho-blue-irm `src/adaptive-curve-irm/` (`AdaptiveCurveIrm.sol`, `ConstantsLib.sol`,
`ExpLib.sol`, `MathLib.sol`); Morpho Blue whitepaper (2023), "Liquidations".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from defisim.base import Revert

from ..evm_int import sdiv

__all__ = [
    "WAD", "ORACLE_PRICE_SCALE", "LIQUIDATION_CURSOR", "MAX_LIQUIDATION_INCENTIVE_FACTOR", "MAX_FEE",
    "VIRTUAL_SHARES", "VIRTUAL_ASSETS", "MAX_UINT128", "SECONDS_PER_YEAR",
    "mul_div_down", "mul_div_up", "w_mul_down", "w_div_down", "w_div_up", "w_taylor_compounded",
    "to_shares_down", "to_shares_up", "to_assets_down", "to_assets_up",
    "liquidation_incentive_factor", "max_borrow", "is_healthy",
    "irm_mock", "w_exp", "AdaptiveCurveIrm",
    "MarketState", "PositionState", "LiquidateResult", "ExactMarket",
]

WAD = 10**18
#: `ConstantsLib.ORACLE_PRICE_SCALE`: an oracle price of 1e36 is one raw loan unit per raw collateral unit.
ORACLE_PRICE_SCALE = 10**36
#: `ConstantsLib.LIQUIDATION_CURSOR` = 0.3 (WAD).
LIQUIDATION_CURSOR = 3 * 10**17
#: `ConstantsLib.MAX_LIQUIDATION_INCENTIVE_FACTOR` = 1.15 (WAD).
MAX_LIQUIDATION_INCENTIVE_FACTOR = 115 * 10**16
#: `ConstantsLib.MAX_FEE` = 25% of the interest (WAD).
MAX_FEE = 25 * 10**16
#: `SharesMathLib.VIRTUAL_SHARES` and `VIRTUAL_ASSETS`: the offsets that make the first shares cheap to mint and costly to inflate.
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1
MAX_UINT128 = 2**128 - 1
SECONDS_PER_YEAR = 365 * 24 * 3600


# -- MathLib / SharesMathLib -----------------------------------------------------------------
def mul_div_down(x: int, y: int, d: int) -> int:
    """``x·y/d`` rounded down (`MathLib.mulDivDown`); ``d = 0`` raises ``ZeroDivisionError`` (the EVM panics)."""
    return x * y // d


def mul_div_up(x: int, y: int, d: int) -> int:
    """``x·y/d`` rounded up (`MathLib.mulDivUp`: ``(x·y + d − 1) / d``)."""
    return (x * y + (d - 1)) // d


def w_mul_down(x: int, y: int) -> int:
    return mul_div_down(x, y, WAD)


def w_div_down(x: int, y: int) -> int:
    return mul_div_down(x, WAD, y)


def w_div_up(x: int, y: int) -> int:
    return mul_div_up(x, WAD, y)


def w_taylor_compounded(x: int, n: int) -> int:
    """``e^(x·n) − 1`` by its first three Taylor terms (`MathLib.wTaylorCompounded`; ``x`` WAD per second, ``n`` seconds).

    >>> w_taylor_compounded(10**18 // SECONDS_PER_YEAR, SECONDS_PER_YEAR)  # 100%/yr for a year: 1 + 1/2 + 1/6 (e − 1 = 1.718)
    1666666666606386666
    """
    first = x * n
    second = mul_div_down(first, first, 2 * WAD)
    third = mul_div_down(second, first, 3 * WAD)
    return first + second + third


def to_shares_down(assets: int, total_assets: int, total_shares: int) -> int:
    """`SharesMathLib.toSharesDown`: ``assets·(shares + 1e6)/(assets_total + 1)``, rounded down."""
    return mul_div_down(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    """`SharesMathLib.toAssetsDown`: ``shares·(assets_total + 1)/(shares_total + 1e6)``, rounded down."""
    return mul_div_down(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def to_assets_up(shares: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def liquidation_incentive_factor(lltv: int) -> int:
    """``min(1.15, 1/(1 − 0.3·(1 − lltv)))`` in WAD, as `Morpho.liquidate` rounds it.

    >>> liquidation_incentive_factor(86 * 10**16), liquidation_incentive_factor(385 * 10**15)
    (1043841336116910229, 1150000000000000000)
    """
    return min(MAX_LIQUIDATION_INCENTIVE_FACTOR, w_div_down(WAD, WAD - w_mul_down(LIQUIDATION_CURSOR, WAD - lltv)))


def max_borrow(collateral: int, price: int, lltv: int) -> int:
    """The most a position may owe (raw loan units): ``wMulDown(mulDivDown(collateral, price, 1e36), lltv)``."""
    return w_mul_down(mul_div_down(collateral, price, ORACLE_PRICE_SCALE), lltv)


def is_healthy(collateral: int, borrow_shares: int, total_borrow_assets: int, total_borrow_shares: int,
               price: int, lltv: int) -> bool:
    """`Morpho._isHealthy`: a position without borrow shares is healthy at any price."""
    if borrow_shares == 0:
        return True
    return max_borrow(collateral, price, lltv) >= to_assets_up(borrow_shares, total_borrow_assets, total_borrow_shares)


# -- state ------------------------------------------------------------------------------------
@dataclass
class MarketState:
    """`IMorpho.Market`: the market's totals (raw loan units and shares), its last accrual (s) and fee (WAD)."""

    total_supply_assets: int = 0
    total_supply_shares: int = 0
    total_borrow_assets: int = 0
    total_borrow_shares: int = 0
    last_update: int = 0
    fee: int = 0


@dataclass
class PositionState:
    """`IMorpho.Position`: supply and borrow shares, collateral (raw collateral units)."""

    supply_shares: int = 0
    borrow_shares: int = 0
    collateral: int = 0


class LiquidateResult(NamedTuple):
    """What `Morpho.liquidate` returns and emits (`EventsLib.Liquidate`), raw units and shares."""

    seized_assets: int
    repaid_assets: int
    repaid_shares: int
    bad_debt_assets: int
    bad_debt_shares: int


# -- interest rate models ---------------------------------------------------------------------
def irm_mock(market: MarketState, now: int) -> int:
    """`IrmMock.borrowRate` of the npm package: the utilisation (WAD, rounded down) per year, per second."""
    if market.total_supply_assets == 0:
        return 0
    return w_div_down(market.total_borrow_assets, market.total_supply_assets) // SECONDS_PER_YEAR


def _w_mul_to_zero(x: int, y: int) -> int:
    return sdiv(x * y, WAD)


def _w_div_to_zero(x: int, y: int) -> int:
    return sdiv(x * WAD, y)


_LN_2 = 693147180559945309
_LN_WEI = -41446531673892822312
_WEXP_UPPER_BOUND = 93859467695000404319
_WEXP_UPPER_VALUE = 57716089161558943949701069502944508345128422502756744429568


def w_exp(x: int) -> int:
    """``e^x`` in WAD as the IRM approximates it (`ExpLib.wExp`): ``x = q·ln 2 + r``, ``2^q·(1 + r + r²/2)``.

    >>> w_exp(0), w_exp(10**18)  # e = 2.71828: q = 1, r = 1 − ln 2, 2·(1 + r + r²/2) = 2.70786
    (1000000000000000000, 2707864291678420188)
    """
    if x < _LN_WEI:
        return 0
    if x >= _WEXP_UPPER_BOUND:
        return _WEXP_UPPER_VALUE
    q = sdiv(x + (-(_LN_2 // 2) if x < 0 else _LN_2 // 2), _LN_2)
    r = x - q * _LN_2
    exp_r = WAD + r + r * r // WAD // 2
    return exp_r << q if q >= 0 else exp_r >> -q


@dataclass
class AdaptiveCurveIrm:
    """Morpho's AdaptiveCurveIrm (morpho-org/morpho-blue-irm `AdaptiveCurveIrm.sol`) for one market.

    The borrow rate is ``curve(rate_at_target, err)`` with ``err`` the utilisation's distance to
    90% (normalised to [−1, 1]) and the curve 4× steeper above target than below; the rate at
    target itself drifts by ``exp(50/yr · err · elapsed)`` between interactions, within [0.1%,
    200%]/yr, and the rate charged over the interval is the curve at the trapezoid average of
    the start, the midpoint (twice) and the end. ``rate_at_target`` (WAD per second) is 0 before
    the first call, which sets it to 4%/yr.
    """

    rate_at_target: int = 0

    CURVE_STEEPNESS = 4 * WAD
    ADJUSTMENT_SPEED = 50 * WAD // SECONDS_PER_YEAR
    TARGET_UTILIZATION = 9 * 10**17
    INITIAL_RATE_AT_TARGET = 4 * 10**16 // SECONDS_PER_YEAR
    MIN_RATE_AT_TARGET = 10**15 // SECONDS_PER_YEAR
    MAX_RATE_AT_TARGET = 2 * WAD // SECONDS_PER_YEAR

    def rates(self, market: MarketState, now: int) -> tuple[int, int]:
        """(average rate to charge since ``market.last_update``, rate at target at ``now``): `_borrowRate`, no state change."""
        u = w_div_down(market.total_borrow_assets, market.total_supply_assets) if market.total_supply_assets > 0 else 0
        norm = WAD - self.TARGET_UTILIZATION if u > self.TARGET_UTILIZATION else self.TARGET_UTILIZATION
        err = _w_div_to_zero(u - self.TARGET_UTILIZATION, norm)
        start = self.rate_at_target
        if start == 0:
            avg = end = self.INITIAL_RATE_AT_TARGET
        else:
            linear = _w_mul_to_zero(self.ADJUSTMENT_SPEED, err) * (now - market.last_update)
            if linear == 0:
                avg = end = start
            else:
                end = self._new_rate_at_target(start, linear)
                mid = self._new_rate_at_target(start, sdiv(linear, 2))
                avg = sdiv(start + end + 2 * mid, 4)
        return self.curve(avg, err), end

    def __call__(self, market: MarketState, now: int) -> int:
        """`AdaptiveCurveIrm.borrowRate`: the rate to charge, and the rate at target moves to its end value."""
        avg, self.rate_at_target = self.rates(market, now)
        return avg

    def curve(self, rate_at_target: int, err: int) -> int:
        """`_curve`: ``((1 − 1/4)·err + 1)·r`` below target, ``((4 − 1)·err + 1)·r`` above (WAD)."""
        coeff = WAD - _w_div_to_zero(WAD, self.CURVE_STEEPNESS) if err < 0 else self.CURVE_STEEPNESS - WAD
        return _w_mul_to_zero(_w_mul_to_zero(coeff, err) + WAD, rate_at_target)

    def _new_rate_at_target(self, start: int, linear: int) -> int:
        r = _w_mul_to_zero(start, w_exp(linear))
        return max(min(r, self.MAX_RATE_AT_TARGET), self.MIN_RATE_AT_TARGET)


# -- one market -------------------------------------------------------------------------------
def _u128(x: int) -> int:
    """`UtilsLib.toUint128`."""
    if x > MAX_UINT128:
        raise Revert("max uint128 exceeded")
    return x


def _add128(a: int, b: int) -> int:
    """A checked uint128 addition (Solidity ≥ 0.8 panics on overflow)."""
    if a + b > MAX_UINT128:
        raise Revert("arithmetic overflow")
    return a + b


def _sub(a: int, b: int) -> int:
    """A checked subtraction (Solidity ≥ 0.8 panics on underflow)."""
    if b > a:
        raise Revert("arithmetic underflow")
    return a - b


def _one_zero(a: int, b: int) -> None:
    """`UtilsLib.exactlyOneZero`."""
    if (a == 0) == (b == 0):
        raise Revert("inconsistent input")


@dataclass
class ExactMarket:
    """One Morpho Blue market (`Morpho.sol` restricted to one ``Id``): its totals, positions, the
    oracle price (1e36-scaled), the contract's token balances and the clock (s).

    Every call checks before it writes (a :class:`~defisim.base.tx.Revert` leaves the market as
    it was), as the EVM's revert does. ``loan_held`` and ``collateral_held`` are the contract's
    token balances: tokens enter and leave only by the calls' transfers, so ``collateral_held``
    is always Σ collateral and ``loan_held − (supply − borrow)`` is the loan tokens repaid
    beyond the recorded debt (``repay``'s and ``liquidate``'s ``zeroFloorSub``), tracked in
    ``floored``. An account may act for another only as itself (no ``setAuthorization``).
    """

    lltv: int
    price: int
    irm: Callable[[MarketState, int], int] | None = irm_mock
    now: int = 1
    fee_recipient: str = "fee_recipient"
    market: MarketState = field(default_factory=MarketState)
    positions: dict[str, PositionState] = field(default_factory=dict)
    loan_held: int = 0
    collateral_held: int = 0
    floored: int = 0

    def __post_init__(self):
        if not 0 <= self.lltv < WAD:
            raise ValueError(f"lltv must be below 1e18 (max LLTV exceeded), got {self.lltv}")
        if self.market.last_update == 0:  # createMarket
            self.market.last_update = self.now
            if self.irm is not None:
                self.irm(self.market, self.now)

    def position(self, who: str) -> PositionState:
        return self.positions.setdefault(who, PositionState())

    # -- interest ---------------------------------------------------------------------------
    def accrue_interest(self) -> int:
        """`_accrueInterest` up to ``now``; returns the interest (raw loan units)."""
        m = self.market
        elapsed = self.now - m.last_update
        if elapsed == 0:
            return 0
        interest = 0
        if self.irm is not None:
            rate = self.irm(m, self.now)
            interest = w_mul_down(m.total_borrow_assets, w_taylor_compounded(rate, elapsed))
            m.total_borrow_assets = _add128(m.total_borrow_assets, _u128(interest))
            m.total_supply_assets = _add128(m.total_supply_assets, _u128(interest))
            if m.fee != 0:
                fee_amount = w_mul_down(interest, m.fee)
                fee_shares = to_shares_down(fee_amount, m.total_supply_assets - fee_amount, m.total_supply_shares)
                self.position(self.fee_recipient).supply_shares += fee_shares
                m.total_supply_shares = _add128(m.total_supply_shares, _u128(fee_shares))
        m.last_update = self.now
        return interest

    def set_fee(self, fee: int) -> None:
        """`setFee` (owner): accrue at the old fee, then switch (at most 25%)."""
        if fee == self.market.fee:
            raise Revert("already set")
        if fee > MAX_FEE:
            raise Revert("max fee exceeded")
        self._atomic(self.accrue_interest)
        self.market.fee = fee

    def healthy(self, who: str) -> bool:
        p = self.positions.get(who, PositionState())
        m = self.market
        return is_healthy(p.collateral, p.borrow_shares, m.total_borrow_assets, m.total_borrow_shares, self.price, self.lltv)

    # -- calls ------------------------------------------------------------------------------
    def supply(self, sender: str, assets: int, shares: int, on_behalf: str | None = None) -> tuple[int, int]:
        """`supply`: (assets, shares)."""
        def run():
            _one_zero(assets, shares)
            self.accrue_interest()
            m = self.market
            a, s = (assets, to_shares_down(assets, m.total_supply_assets, m.total_supply_shares)) if assets > 0 else \
                (to_assets_up(shares, m.total_supply_assets, m.total_supply_shares), shares)
            self.position(on_behalf or sender).supply_shares += s
            m.total_supply_shares = _add128(m.total_supply_shares, _u128(s))
            m.total_supply_assets = _add128(m.total_supply_assets, _u128(a))
            self.loan_held += a
            return a, s
        return self._atomic(run)

    def withdraw(self, sender: str, assets: int, shares: int, on_behalf: str | None = None) -> tuple[int, int]:
        """`withdraw`: (assets, shares); reverts with "insufficient liquidity" if it would take lent-out cash."""
        def run():
            _one_zero(assets, shares)
            self._authorized(sender, on_behalf)
            self.accrue_interest()
            m = self.market
            a, s = (assets, to_shares_up(assets, m.total_supply_assets, m.total_supply_shares)) if assets > 0 else \
                (to_assets_down(shares, m.total_supply_assets, m.total_supply_shares), shares)
            p = self.position(on_behalf or sender)
            p.supply_shares = _sub(p.supply_shares, s)
            m.total_supply_shares = _sub(m.total_supply_shares, _u128(s))
            m.total_supply_assets = _sub(m.total_supply_assets, _u128(a))
            if m.total_borrow_assets > m.total_supply_assets:
                raise Revert("insufficient liquidity")
            self.loan_held = _sub(self.loan_held, a)
            return a, s
        return self._atomic(run)

    def borrow(self, sender: str, assets: int, shares: int, on_behalf: str | None = None) -> tuple[int, int]:
        """`borrow`: (assets, shares); the position must stay healthy and the market liquid."""
        def run():
            _one_zero(assets, shares)
            self._authorized(sender, on_behalf)
            self.accrue_interest()
            m = self.market
            a, s = (assets, to_shares_up(assets, m.total_borrow_assets, m.total_borrow_shares)) if assets > 0 else \
                (to_assets_down(shares, m.total_borrow_assets, m.total_borrow_shares), shares)
            who = on_behalf or sender
            p = self.position(who)
            p.borrow_shares = _add128(p.borrow_shares, _u128(s))
            m.total_borrow_shares = _add128(m.total_borrow_shares, _u128(s))
            m.total_borrow_assets = _add128(m.total_borrow_assets, _u128(a))
            if not self.healthy(who):
                raise Revert("insufficient collateral")
            if m.total_borrow_assets > m.total_supply_assets:
                raise Revert("insufficient liquidity")
            self.loan_held = _sub(self.loan_held, a)
            return a, s
        return self._atomic(run)

    def repay(self, sender: str, assets: int, shares: int, on_behalf: str | None = None) -> tuple[int, int]:
        """`repay`: (assets, shares); anyone may repay for anyone."""
        def run():
            _one_zero(assets, shares)
            self.accrue_interest()
            m = self.market
            a, s = (assets, to_shares_down(assets, m.total_borrow_assets, m.total_borrow_shares)) if assets > 0 else \
                (to_assets_up(shares, m.total_borrow_assets, m.total_borrow_shares), shares)
            p = self.position(on_behalf or sender)
            p.borrow_shares = _sub(p.borrow_shares, _u128(s))
            m.total_borrow_shares = _sub(m.total_borrow_shares, _u128(s))
            self._floor_sub_borrow(a)
            self.loan_held += a
            return a, s
        return self._atomic(run)

    def supply_collateral(self, sender: str, assets: int, on_behalf: str | None = None) -> None:
        """`supplyCollateral` (no interest accrual: collateral earns nothing)."""
        def run():
            if assets == 0:
                raise Revert("zero assets")
            p = self.position(on_behalf or sender)
            p.collateral = _add128(p.collateral, _u128(assets))
            self.collateral_held += assets
        self._atomic(run)

    def withdraw_collateral(self, sender: str, assets: int, on_behalf: str | None = None) -> None:
        """`withdrawCollateral`: the position must stay healthy."""
        def run():
            if assets == 0:
                raise Revert("zero assets")
            self._authorized(sender, on_behalf)
            self.accrue_interest()
            who = on_behalf or sender
            p = self.position(who)
            p.collateral = _sub(p.collateral, _u128(assets))
            if not self.healthy(who):
                raise Revert("insufficient collateral")
            self.collateral_held -= assets
        self._atomic(run)

    def liquidate(self, sender: str, borrower: str, seized_assets: int, repaid_shares: int) -> LiquidateResult:
        """`liquidate`: repay part of an unhealthy borrower's debt for its collateral with the
        incentive; an account left without collateral has its remaining debt written off
        (supply assets fall by it: the suppliers bear it)."""
        def run():
            _one_zero(seized_assets, repaid_shares)
            self.accrue_interest()
            m, price = self.market, self.price
            if self.healthy(borrower):
                raise Revert("position is healthy")
            lif = liquidation_incentive_factor(self.lltv)
            seized, shares = seized_assets, repaid_shares
            if seized > 0:
                quoted = mul_div_up(seized, price, ORACLE_PRICE_SCALE)
                shares = to_shares_up(w_div_up(quoted, lif), m.total_borrow_assets, m.total_borrow_shares)
            else:
                seized = mul_div_down(w_mul_down(to_assets_down(shares, m.total_borrow_assets, m.total_borrow_shares), lif),
                                      ORACLE_PRICE_SCALE, price)
            repaid = to_assets_up(shares, m.total_borrow_assets, m.total_borrow_shares)
            p = self.position(borrower)
            p.borrow_shares = _sub(p.borrow_shares, _u128(shares))
            m.total_borrow_shares = _sub(m.total_borrow_shares, _u128(shares))
            self._floor_sub_borrow(repaid)
            p.collateral = _sub(p.collateral, _u128(seized))
            bad_shares = bad_assets = 0
            if p.collateral == 0:
                bad_shares = p.borrow_shares
                bad_assets = min(m.total_borrow_assets, to_assets_up(bad_shares, m.total_borrow_assets, m.total_borrow_shares))
                m.total_borrow_assets -= bad_assets
                m.total_supply_assets = _sub(m.total_supply_assets, bad_assets)
                m.total_borrow_shares = _sub(m.total_borrow_shares, bad_shares)
                p.borrow_shares = 0
            self.collateral_held -= seized
            self.loan_held += repaid
            return LiquidateResult(seized, repaid, shares, bad_assets, bad_shares)
        return self._atomic(run)

    # -- plumbing ---------------------------------------------------------------------------
    def _floor_sub_borrow(self, assets: int) -> None:
        """``totalBorrowAssets = zeroFloorSub(totalBorrowAssets, assets)``; what is cut off is recorded in ``floored``."""
        m = self.market
        self.floored += max(assets - m.total_borrow_assets, 0)
        m.total_borrow_assets = max(m.total_borrow_assets - assets, 0)

    @staticmethod
    def _authorized(sender: str, on_behalf: str | None) -> None:
        if on_behalf is not None and on_behalf != sender:
            raise Revert("unauthorized")

    def _atomic(self, run):
        """Run ``run`` as one transaction: on a revert every change is undone."""
        saved = (MarketState(**vars(self.market)), {k: PositionState(**vars(v)) for k, v in self.positions.items()},
                 self.loan_held, self.collateral_held, self.floored,
                 getattr(self.irm, "rate_at_target", None))
        try:
            return run()
        except Revert:
            self.market, self.positions, self.loan_held, self.collateral_held, self.floored, rate = saved
            if rate is not None:
                self.irm.rate_at_target = rate
            raise
