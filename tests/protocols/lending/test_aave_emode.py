"""E-mode (Aave v3 `EModeLogic.sol` and `GenericLogic.sol`: e-mode): a category's LTV, LT and bonus replace the reserves' own for its
members, on its collateral reserves; members may borrow only the category's reserves."""
import pytest
from pydantic import ValidationError

from defisim.base.tx import TxStatus
from protocols.lending.aave_v3.model import AaveV3Pool
from protocols.lending.aave_v3.params import PoolParams

from .test_aave_pool import USDC, WETH, Market

# a test category on WETH collateral: more LTV and LT, a smaller bonus; only USDC may be borrowed
CATEGORY = dict(label="test", ltv=0.88, liquidation_threshold=0.9, liquidation_bonus=0.02,
                collateral_symbols=["WETH"], borrowable_symbols=["USDC"])


class EModeMarket(Market):
    def __init__(self):
        super().__init__()
        h = self.host
        params = PoolParams(reserves=(WETH, USDC), tokens={"WETH": "weth", "USDC": "usdc"},
                            oracles={"WETH": "eth_usd", "USDC": "usdc_usd"}, seed_supply={"USDC": 100_000.0},
                            emode_categories=(CATEGORY, dict(CATEGORY, label="weth only", borrowable_symbols=["WETH"])))
        h.protocols["aave"] = self.pool = AaveV3Pool("aave", params, h)
        self.ex.protocols = h.protocols
        self.block(0)


@pytest.fixture
def market():
    m = EModeMarket()
    assert m.call("alice", "supply", asset="WETH", amount=10.0)[0] == TxStatus.INCLUDED
    return m


def ok(result):
    return result[0] == TxStatus.INCLUDED


def test_category_ltv_allows_more_borrowing(market):
    assert market.call("alice", "borrow", asset="USDC", amount=17_000.0)[1] == "COLLATERAL_CANNOT_COVER_NEW_BORROW"
    assert ok(market.call("alice", "set_user_emode", category=1))
    assert ok(market.call("alice", "borrow", asset="USDC", amount=17_000.0))  # 20,000 × 0.88 = 17,600
    assert market.call("alice", "borrow", asset="USDC", amount=700.0)[1] == "COLLATERAL_CANNOT_COVER_NEW_BORROW"


def test_members_borrow_only_the_categorys_reserves(market):
    assert ok(market.call("alice", "set_user_emode", category=2))
    assert market.call("alice", "borrow", asset="USDC", amount=100.0)[1] == "NOT_BORROWABLE_IN_EMODE"
    assert ok(market.call("alice", "set_user_emode", category=1))
    assert ok(market.call("alice", "borrow", asset="USDC", amount=100.0))
    # owing USDC, the account cannot enter a category where USDC is not borrowable
    assert market.call("alice", "set_user_emode", category=2)[1] == "NOT_BORROWABLE_IN_EMODE"
    assert market.call("alice", "set_user_emode", category=3)[1] == "INCONSISTENT_EMODE_CATEGORY"


def test_leaving_emode_must_keep_the_account_healthy(market):
    assert ok(market.call("alice", "set_user_emode", category=1))
    assert ok(market.call("alice", "borrow", asset="USDC", amount=17_000.0))
    # base LT: 20,000 × 0.83 / 17,000 = 0.976 < 1
    assert market.call("alice", "set_user_emode", category=0)[1] == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert market.pool.category(market.pool.state.accounts["alice"]) == 1


def test_health_factor_candidates_and_bonus_follow_the_category(market):
    assert ok(market.call("alice", "set_user_emode", category=1))
    assert ok(market.call("alice", "borrow", asset="USDC", amount=17_000.0))
    row = market.pool.state.accounts["alice"]
    market.set_price(1_950.0)  # base LT would say 0.952; the category's: 19,500 × 0.9 / 17,000 = 1.032
    assert market.pool.health_factors()[row] == pytest.approx(19_500 * 0.9 / 17_000, rel=1e-12)
    assert row not in market.pool.liquidatable()
    assert market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC",
                       user="alice")[1] == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"
    market.set_price(1_800.0)  # 18,000 × 0.9 / 17,000 = 0.953
    market.block(12_000)
    assert row in market.pool.liquidatable()
    status, _reason, _gas, out = market.call("bob", "liquidation_call", collateral_asset="WETH", debt_asset="USDC",
                                             user="alice", debt_to_cover=10_000.0)
    assert status == TxStatus.INCLUDED
    # collateral seized = repaid × (1 + 2% category bonus) / price (Aave v3 `LiquidationLogic.executeLiquidationCall`)
    assert out.collateral_seized == pytest.approx(out.debt_repaid * 1.02 / 1_800.0, rel=1e-12)


def test_categories_must_name_the_pools_reserves():
    with pytest.raises(ValidationError, match="emode_categories.0.collateral_symbols"):
        PoolParams(reserves=(WETH, USDC), tokens={"WETH": "weth", "USDC": "usdc"},
                   oracles={"WETH": "eth_usd", "USDC": "usdc_usd"},
                   emode_categories=(dict(CATEGORY, collateral_symbols=["wstETH"]),))
    with pytest.raises(ValidationError, match="population.emode_category"):
        PoolParams(reserves=(WETH, USDC), tokens={"WETH": "weth", "USDC": "usdc"},
                   oracles={"WETH": "eth_usd", "USDC": "usdc_usd"}, population={"count": 10, "emode_category": 1})
