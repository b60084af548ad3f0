"""The real Aave v3.0 and v3.6 markets in pyrevm (``aave_market`` fixture) against hand-computed vectors.

The base setup is worked example in raw units: a WETH-like collateral (18 decimals, LTV 80.5%,
LT 83%, bonus 5%, protocol fee 10%) and a USDC-like debt reserve (6 decimals, not collateral);
the lender supplies 100,000 USDC, the borrower 10 WETH at $2,000 and borrows 15,000 USDC, no time
passes, then WETH falls. Every expectation is computed here from the contracts' formulas
(Aave v3 `GenericLogic.calculateUserAccountData`: HF = Σ collateral × LT / debt; Aave v3 `LiquidationLogic.executeLiquidationCall`; percent and wad maths round half up, base amounts floor), not read from
the harness. Where the versions differ the test says how: v3.6 computes the health factor as
``wadDiv(Σ collateral·LT, debt) / 1e4``, rounds the debt needed for a collateral-limited
liquidation up (``percentDivCeil``), writes residual bad debt off into the reserve deficit and
refuses partial liquidations that leave less than $1,000 (``MUST_NOT_LEAVE_DUST``).
"""
import pytest

from defisim.base.tx import Revert
from protocols.lending.aave_v3.replay import MAX_UINT256, VERSIONS, LiquidationResult, ReserveConfig

WETH = ReserveConfig("WETH", 18, ltv=8050, liquidation_threshold=8300, liquidation_bonus=10500, protocol_fee=1000,
                     reserve_factor=1500, optimal_usage=9000, base_rate=0, slope1=270, slope2=8000)
USDC = ReserveConfig("USDC", 6, ltv=0, liquidation_threshold=0, liquidation_bonus=0, protocol_fee=1000,
                     reserve_factor=1000, optimal_usage=9000, base_rate=0, slope1=550, slope2=6000)
WBTC = ReserveConfig("WBTC", 8, ltv=7300, liquidation_threshold=7800, liquidation_bonus=10500, protocol_fee=1000,
                     reserve_factor=2000, optimal_usage=4500, base_rate=0, slope1=400, slope2=30000)
DAI = ReserveConfig("DAI", 18, ltv=0, liquidation_threshold=0, liquidation_bonus=0, protocol_fee=1000,
                    reserve_factor=1000, optimal_usage=9000, base_rate=0, slope1=550, slope2=6000)
USD = 10**8  # base currency unit (USD·1e8)
ETH, USDC_UNIT = 10**18, 10**6
COLLATERAL, DEBT = 10 * ETH, 15_000 * USDC_UNIT


def percent_mul(x: int, p: int) -> int:
    return (x * p + 5_000) // 10_000


def percent_div(x: int, p: int) -> int:
    return (x * 10_000 + p // 2) // p


def wad_div(a: int, b: int) -> int:
    return (a * 10**18 + b // 2) // b


def health_factor(version: str, collateral_base: int, lt: int, debt_base: int) -> int:
    """The single-collateral health factor of each version (wad)."""
    if version == "v3.0":
        return wad_div(percent_mul(collateral_base, lt), debt_base)
    return wad_div(collateral_base * lt, debt_base) // 10_000


def seized(debt_repaid: int, weth_price: int) -> tuple[int, int]:
    """(collateral to the liquidator, protocol fee) in wei for ``debt_repaid`` USDC units (Aave v3 `LiquidationLogic.executeLiquidationCall`)."""
    base_collateral = USD * debt_repaid * ETH // (weth_price * USDC_UNIT)
    total = percent_mul(base_collateral, WETH.liquidation_bonus)
    fee = percent_mul(total - percent_div(total, WETH.liquidation_bonus), WETH.protocol_fee)
    return total - fee, fee


def base_case(aave_market, version: str, weth_price: int):
    """worked example's position, WETH then moved to ``weth_price`` (USD·1e8)."""
    market = aave_market(version, (WETH, USDC), {"WETH": 2_000 * USD, "USDC": USD})
    market.supply("lender", "USDC", 100_000 * USDC_UNIT)
    market.supply("borrower", "WETH", COLLATERAL)
    market.borrow("borrower", "USDC", DEBT)
    market.advance(0)
    market.set_price("WETH", weth_price)
    return market


@pytest.mark.parametrize("version", VERSIONS)
def test_health_factor_after_the_price_drop(aave_market, version):
    market = base_case(aave_market, version, 1_800 * USD)
    account = market.account_data("borrower")
    collateral_base = COLLATERAL * 1_800 * USD // ETH  # $18,000
    debt_base = DEBT * USD // USDC_UNIT  # $15,000
    assert (account.total_collateral_base, account.total_debt_base) == (collateral_base, debt_base)
    assert account.health_factor == health_factor(version, collateral_base, WETH.liquidation_threshold, debt_base)
    assert account.health_factor == 996 * 10**15
    assert account.collateral == {"WETH": COLLATERAL, "USDC": 0}
    assert account.debt == {"WETH": 0, "USDC": DEBT}
    reserve = market.reserve_data("USDC")
    assert (reserve.total_debt, reserve.available_liquidity, reserve.deficit) == (DEBT, 85_000 * USDC_UNIT, 0)


@pytest.mark.parametrize("version", VERSIONS)
def test_case_a_half_the_debt_is_liquidated(aave_market, version):
    """worked example A: HF 0.996 > 0.95, both reserves worth ≥ $2,000, so the close factor is 50%
    (v3.0: of the reserve debt; v3.6: of the total debt, the same here)."""
    market = base_case(aave_market, version, 1_800 * USD)
    result = market.liquidation_call("liquidator", "WETH", "USDC", "borrower", MAX_UINT256)
    repaid = percent_mul(DEBT, 5_000)
    to_liquidator, fee = seized(repaid, 1_800 * USD)
    assert repaid == 7_500 * USDC_UNIT
    assert result == LiquidationResult(repaid, to_liquidator, fee, 0)
    account = market.account_data("borrower")
    left = COLLATERAL - to_liquidator - fee  # ≈ 5.625 WETH
    assert account.collateral["WETH"] == left and account.debt["USDC"] == DEBT - repaid
    assert account.health_factor == health_factor(version, left * 1_800 * USD // ETH, WETH.liquidation_threshold,
                                                  (DEBT - repaid) * USD // USDC_UNIT)  # ≈ 1.1205


@pytest.mark.parametrize("version", VERSIONS)
def test_a_healthy_account_cannot_be_liquidated_and_nothing_changes(aave_market, version):
    market = base_case(aave_market, version, 2_000 * USD)  # HF ≈ 1.1067
    before = market.account_data("borrower"), market.reserve_data("USDC"), market.reserve_data("WETH")
    with pytest.raises(Revert) as raised:
        market.liquidation_call("liquidator", "WETH", "USDC", "borrower", MAX_UINT256)
    assert raised.value.reason == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
    assert (market.account_data("borrower"), market.reserve_data("USDC"), market.reserve_data("WETH")) == before


@pytest.mark.parametrize("version", VERSIONS)
def test_case_c_bad_debt_is_left_on_v30_and_written_off_on_v36(aave_market, version):
    """worked example C at $1,400: HF < 0.95, the whole collateral is seized and covers 13,333.33
    USDC; the 1,666.67 USDC left stays on the account (v3.0) or becomes deficit (v3.6)."""
    market = base_case(aave_market, version, 1_400 * USD)
    result = market.liquidation_call("liquidator", "WETH", "USDC", "borrower", MAX_UINT256)
    collateral_value = 1_400 * USD * COLLATERAL * USDC_UNIT // (USD * ETH)  # in USDC units
    needed = percent_div(collateral_value, WETH.liquidation_bonus)
    if version == "v3.6":  # percentDivCeil
        needed = -(-collateral_value * 10_000 // WETH.liquidation_bonus)
    fee = percent_mul(COLLATERAL - percent_div(COLLATERAL, WETH.liquidation_bonus), WETH.protocol_fee)
    assert (result.debt_repaid, result.collateral_to_liquidator, result.protocol_fee) == (needed, COLLATERAL - fee, fee)
    account = market.account_data("borrower")
    assert account.collateral["WETH"] == 0 and account.total_collateral_base == 0
    reserve = market.reserve_data("USDC")
    assert reserve.available_liquidity == 85_000 * USDC_UNIT + needed
    if version == "v3.0":
        assert (needed, result.deficit_created) == (13_333_333_333, 0)
        assert account.debt["USDC"] == reserve.total_debt == DEBT - needed == 1_666_666_667
        assert reserve.deficit == 0
    else:
        assert (needed, result.deficit_created) == (13_333_333_334, DEBT - needed)
        assert account.debt["USDC"] == reserve.total_debt == account.total_debt_base == 0
        assert reserve.deficit == DEBT - needed == 1_666_666_666


@pytest.mark.parametrize("version", VERSIONS)
def test_a_partial_liquidation_leaving_dust(aave_market, version):
    """At $1,700 (HF ≈ 0.94, close factor 100%) repaying 14,500 of 15,000 USDC leaves $500 of
    debt: v3.0 allows it, v3.6 reverts ``MUST_NOT_LEAVE_DUST``."""
    market = base_case(aave_market, version, 1_700 * USD)
    repaid = 14_500 * USDC_UNIT
    if version == "v3.6":
        with pytest.raises(Revert) as raised:
            market.liquidation_call("liquidator", "WETH", "USDC", "borrower", repaid)
        assert raised.value.reason == "MUST_NOT_LEAVE_DUST"
    else:
        result = market.liquidation_call("liquidator", "WETH", "USDC", "borrower", repaid)
        assert result == LiquidationResult(repaid, *seized(repaid, 1_700 * USD), 0)


@pytest.mark.parametrize("version", VERSIONS)
def test_collateral_rounding_to_zero_reverts_invalid_burn_amount(aave_market, version):
    """1 wei of an 18-decimal debt is worth 0 satoshi of $50,000 collateral: burning 0 aTokens reverts."""
    market = aave_market(version, (WBTC, DAI), {"WBTC": 60_000 * USD, "DAI": USD})
    market.supply("lender", "DAI", 100_000 * 10**18)
    market.supply("borrower", "WBTC", 10**8)
    market.borrow("borrower", "DAI", 43_000 * 10**18)
    market.set_price("WBTC", 50_000 * USD)
    assert market.account_data("borrower").health_factor < 10**18
    with pytest.raises(Revert) as raised:
        market.liquidation_call("liquidator", "WBTC", "DAI", "borrower", 1)
    assert raised.value.reason == "INVALID_BURN_AMOUNT"


@pytest.mark.parametrize("version", VERSIONS)
def test_each_market_starts_afresh_and_retires_the_previous_one(aave_market, version):
    old = base_case(aave_market, version, 1_800 * USD)
    old.liquidation_call("liquidator", "WETH", "USDC", "borrower", MAX_UINT256)
    new = aave_market(version, (WETH, USDC), {"WETH": 2_000 * USD, "USDC": USD})
    account = new.account_data("borrower")
    assert (account.total_collateral_base, account.total_debt_base, account.health_factor) == (0, 0, MAX_UINT256)
    reserve = new.reserve_data("USDC")
    assert (reserve.liquidity_index, reserve.variable_borrow_index, reserve.variable_borrow_rate) == (10**27, 10**27, 0)
    with pytest.raises(RuntimeError, match="retired"):
        old.account_data("borrower")
