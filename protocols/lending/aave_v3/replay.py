"""One interface for an Aave v3 market driven step by step from Python, without SimPy.

The same scenario (supply, borrow, let time pass, move prices, liquidate, read account data) can
be replayed on three markets that implement :class:`Market`:

- :class:`~.exact_pool.ExactPool`: defisim's exact-integer model (contract rounding, v3.0 or v3.6);
- :class:`~.driver.EnginePool`: the engine's float64 pool (:class:`~.model.AaveV3Pool`) through its
  executor, with no SimPy environment;
- the real contracts in an EVM (``tests/evm``).

Everything here is in the contracts' units, so that the three can be compared without
conversions in the comparison: token amounts are raw integers (``10**decimals`` per token), prices
are in the base currency with 8 decimals (USD·1e8), rates and indices are rays (1e27), the health
factor is a wad (1e18), risk parameters are bps (``10_000`` = 100%; the liquidation bonus is stored
as ``10_000 + bonus``, e.g. 10500), times are seconds. Reverts raise :class:`defisim.base.tx.Revert`
whose ``reason`` is the contract's error name in upper snake case (v3.0's numeric codes and
v3.6's custom errors both map to it, e.g. ``HEALTH_FACTOR_NOT_BELOW_THRESHOLD``).

References: Aave `WadRayMath.sol` and `PercentageMath.sol`: wad 1e18, ray 1e27, bps 1e4 = 100% (units), Aave v3 `DataTypes.ReserveData` and `ReserveConfiguration.sol`; Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`; Aave `ReserveLogic.updateState` and `MathUtils.calculateCompoundedInterest`; ``IPool.getUserAccountData``,
``IPool.getReserveNormalizedIncome`` / ``getReserveNormalizedVariableDebt``, ``liquidationCall``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "VERSIONS",
    "MAX_UINT256",
    "ReserveConfig",
    "ReserveData",
    "AccountData",
    "LiquidationResult",
    "Market",
    "WETH_EXAMPLE",
    "USDC_EXAMPLE",
]

#: Rule sets a replay can follow: ``"v3.0"`` (aave-v3-core 1.19, the 2022–2024 mainnet logic) and
#: ``"v3.6"`` (aave-v3-origin 3.6: v3.3 liquidation rules and deficit, v3.5 rounding); docs/reference.md,
#: "Aave rule versions".
VERSIONS = ("v3.0", "v3.6")
#: ``type(uint256).max``: ``debtToCover`` meaning "as much as the close factor allows".
MAX_UINT256 = 2**256 - 1


@dataclass(frozen=True)
class ReserveConfig:
    """One reserve in contract units (Aave v3 `DataTypes.ReserveData` and `ReserveConfiguration.sol`; Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates`).

    ``liquidation_bonus`` is stored like the contract, 100% plus the bonus (10500 = 5% bonus).
    The rate curve is in bps of annual rate (``slope2=8000`` is 80%); v3.0 takes it in rays
    (``bps × 10**23``), v3.6 in bps. The field names are the contract's; their conversion to the
    engine's :class:`~.params.ReserveParams` (fractions) is :func:`~.driver.reserve_params`, tabulated
    in docs/reference.md, "Contract units".
    """

    symbol: str
    decimals: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    protocol_fee: int
    reserve_factor: int
    optimal_usage: int
    base_rate: int
    slope1: int
    slope2: int


@dataclass(frozen=True)
class ReserveData:
    """A reserve now: indices normalised to the current time (``getReserveNormalizedIncome`` and
    ``getReserveNormalizedVariableDebt``, rays), the rates set by the last action (rays per year),
    the deficit (v3.6; raw token units, 0 under v3.0), the total variable debt (the debt token's
    ``totalSupply``, raw units) and the available liquidity (v3.0: the aToken's underlying
    balance; v3.6: ``getVirtualUnderlyingBalance``; raw units)."""

    liquidity_index: int
    variable_borrow_index: int
    liquidity_rate: int
    variable_borrow_rate: int
    deficit: int
    total_debt: int
    available_liquidity: int


@dataclass(frozen=True)
class AccountData:
    """``getUserAccountData``: collateral and debt in base currency (USD·1e8), the health factor
    (wad; ``MAX_UINT256`` without debt), and the account's aToken and variable-debt balances
    (``balanceOf``, raw token units) in every reserve, keyed by symbol."""

    total_collateral_base: int
    total_debt_base: int
    health_factor: int
    collateral: dict[str, int]
    debt: dict[str, int]


@dataclass(frozen=True)
class LiquidationResult:
    """What a successful ``liquidationCall`` did (``receiveAToken = false``), raw token units.

    ``debt_repaid``: pulled from the liquidator (the event's ``debtToCover``);
    ``collateral_to_liquidator``: underlying the liquidator received (the event's
    ``liquidatedCollateralAmount``); ``protocol_fee``: rise of the treasury's collateral aToken
    balance; ``deficit_created``: rise of the debt reserve's deficit (v3.6, else 0).
    """

    debt_repaid: int
    collateral_to_liquidator: int
    protocol_fee: int
    deficit_created: int


#: WETH as in Aave v3 `ReserveConfiguration.sol` and Aave governance listings; Aave `DefaultReserveInterestRateStrategyV2.calculateInterestRates` (LTV 80.5%, LT 83%, bonus 5%, fee 10%, RF 15%, U* 90%, 2.7% / 80%).
WETH_EXAMPLE = ReserveConfig("WETH", 18, 8_050, 8_300, 10_500, 1_000, 1_500, 9_000, 0, 270, 8_000)
#: A USDC-like reserve (6 decimals; LTV 75%, LT 78%, bonus 4.5%, RF 10%, U* 90%, 4% / 60%).
USDC_EXAMPLE = ReserveConfig("USDC", 6, 7_500, 7_800, 10_450, 1_000, 1_000, 9_000, 0, 400, 6_000)


class Market(Protocol):
    """A market of the reserves it was built with, driven one step at a time.

    Accounts are names (``"lender"``, ``"borrower"``, ``"liquidator"``); each has as many tokens as
    its calls need (a replay checks the protocol, not the wallets). Calls that revert raise
    :class:`defisim.base.tx.Revert` and change nothing.
    """

    def set_price(self, symbol: str, price: int) -> None:
        """Set the oracle price of ``symbol`` (USD·1e8)."""

    def supply(self, user: str, symbol: str, amount: int) -> None:
        """``supply(asset, amount, onBehalfOf=user)``; the reserve becomes the user's collateral."""

    def borrow(self, user: str, symbol: str, amount: int) -> None:
        """``borrow(asset, amount, variable, onBehalfOf=user)``."""

    def advance(self, seconds: int) -> None:
        """Move the clock forward (``block.timestamp``); nothing accrues until touched."""

    def reserve_data(self, symbol: str) -> ReserveData:
        """The reserve now (see :class:`ReserveData`)."""

    def account_data(self, user: str) -> AccountData:
        """The account now (see :class:`AccountData`)."""

    def liquidation_call(self, liquidator: str, collateral: str, debt: str, user: str,
                         debt_to_cover: int) -> LiquidationResult:
        """``liquidationCall(collateral, debt, user, debtToCover, receiveAToken=false)``."""
