"""Flash-loan liquidations through the liquidator contract: a hand-computed atomic liquidation
(loan, premium, bonus, constant-product swap, repayment, profit), reverts that leave every
balance as it was and pay only gas, loans limited by the lender's cash, flash swaps."""
import math

import pytest

from defisim.base.eventlog import EventLog
from defisim.base.protocol import BlockInfo
from defisim.base.tx import Call, Tx, TxStatus
from defisim.chain.execution import Executor
from protocols.amm.model import CpmmPool
from protocols.amm.params import CpmmParams
from protocols.lending.aave_v3.model import AaveV3Pool
from protocols.lending.aave_v3.params import PoolParams
from protocols.lending.flash import (EARLY_REVERT_GAS, FLASH_LIQUIDATION_GAS, LATE_REVERT_GAS, FlashLiquidator,
                                     FlashLiquidatorParams, FlashVault, FlashVaultParams)
from protocols.oracles import FixedOracle
from protocols.oracles.params import FixedOracleParams
from protocols.token import LedgerParams, TokenLedger

WETH = dict(symbol="WETH", ltv=0.805, liquidation_threshold=0.83, liquidation_bonus=0.05, reserve_factor=0.15,
            protocol_liquidation_fee=0.10, rate_strategy=dict(optimal_utilization=0.9, slope1=0.027, slope2=0.80))
USDC = dict(symbol="USDC", ltv=0.75, liquidation_threshold=0.78, liquidation_bonus=0.045, reserve_factor=0.10,
            rate_strategy=dict(optimal_utilization=0.9, slope1=0.04, slope2=0.60))
LEDGERS = {"WETH": "weth", "USDC": "usdc"}


class Host:
    def __init__(self):
        self.log = EventLog()
        self.protocols = {}


class Market:
    """Alice supplies 10 WETH and borrows 15,000 USDC at $2,000; a WETH/USDC pair (with ledgers),
    a flash vault holding ``vault_usdc``, the liquidator contract ``flash``."""

    def __init__(self, pair=(1_000.0, 1_600_000.0), seed_usdc=100_000.0, vault_usdc=50_000.0):
        self.host = h = Host()
        h.protocols["weth"] = TokenLedger("weth", LedgerParams(symbol="WETH", initial_balances={"alice": 10.0}), h)
        h.protocols["usdc"] = TokenLedger("usdc", LedgerParams(symbol="USDC"), h)
        h.protocols["eth_usd"] = FixedOracle("eth_usd", FixedOracleParams(price=2_000.0), h)
        h.protocols["usdc_usd"] = FixedOracle("usdc_usd", FixedOracleParams(price=1.0), h)
        h.protocols["aave"] = self.pool = AaveV3Pool("aave", PoolParams(
            reserves=(WETH, USDC), tokens=LEDGERS, oracles={"WETH": "eth_usd", "USDC": "usdc_usd"},
            seed_supply={"USDC": seed_usdc}), h)
        h.protocols["pair"] = CpmmPool("pair", CpmmParams(
            token0="WETH", token1="USDC", reserve0=pair[0], reserve1=pair[1], ledgers=LEDGERS), h)
        h.protocols["vault"] = FlashVault("vault", FlashVaultParams(tokens=LEDGERS, cash={"USDC": vault_usdc}), h)
        h.protocols["flash"] = FlashLiquidator("flash", FlashLiquidatorParams(), h)
        self.ex = Executor(h.protocols)
        self.seq = 0
        self.ex.begin_block(BlockInfo(1, 1, 0, 20.0, 36_000_000))
        assert self.call("aave", "alice", "supply", asset="WETH", amount=10.0)[0] == TxStatus.INCLUDED
        assert self.call("aave", "alice", "borrow", asset="USDC", amount=15_000.0)[0] == TxStatus.INCLUDED

    def call(self, target, sender, method, **args):
        self.seq += 1
        tx = Tx(sender, self.seq, Call(target, method, args), 1_000_000, 100.0, 1.0, False, -1, self.seq, 0, 0)
        return self.ex.execute(tx)

    def liquidate(self, **args):
        args = {"pool": "aave", "collateral_asset": "WETH", "debt_asset": "USDC", "user": "alice",
                "swap_pool": "pair", "lender": "aave", **args}
        return self.call("flash", "kim", "liquidate", **args)

    def balances(self):
        """Every balance on both ledgers, and their totals."""
        out = {}
        for name in ("weth", "usdc"):
            ledger = self.host.protocols[name]
            out[name] = {a: float(ledger.state.balances["balance"][r]) for a, r in ledger.state.accounts.items()}
        return out

    def positions(self):
        return self.pool.state.positions["collateral_scaled"].copy(), self.pool.state.positions["debt_scaled"].copy()


def test_a_hand_computed_flash_liquidation_matches_to_the_last_unit():
    m = Market()
    m.host.protocols["eth_usd"].state = 1_600.0  # HF = 10·1,600·0.83 / 15,000 = 0.8853 < 0.95: 100% close factor
    total_before = {k: sum(v.values()) for k, v in m.balances().items()}
    status, reason, gas, profit = m.liquidate()
    assert (status, reason, gas) == (TxStatus.INCLUDED, "", FLASH_LIQUIDATION_GAS)

    # by hand: Aave v3 LiquidationLogic (bonus 5%, protocol fee 10% of the bonus part)
    loan = 15_000.0  # the whole debt
    seized = loan * 1.0 / 1_600.0 * 1.05  # 9.84375 WETH
    fee = (seized - seized / 1.05) * 0.10  # 0.046875 WETH to the treasury
    got = seized - fee  # 9.796875 WETH to the contract
    premium = loan * 0.0005  # 7.5 USDC, flashLoanSimple
    out = got * 0.997 * 1_600_000.0 / (1_000.0 + got * 0.997)  # Uniswap v2 getAmountOut: 15,476.8055 USDC
    expected_profit = out - (loan + premium)
    assert seized == pytest.approx(9.84375, abs=1e-15) and got == pytest.approx(9.796875, abs=1e-15)
    assert profit == expected_profit and expected_profit == pytest.approx(469.3055, abs=1e-4)

    b = m.balances()
    assert b["usdc"]["kim"] == expected_profit
    assert b["usdc"]["flash"] == 0.0 and b["weth"]["flash"] == 0.0  # the contract keeps nothing
    assert b["weth"]["pair"] == 1_000.0 + got and b["usdc"]["pair"] == 1_600_000.0 - out
    assert m.host.protocols["pair"].state.reserves == [1_000.0 + got, 1_600_000.0 - out]
    coll, debt = m.pool.account("alice")
    assert debt[1] == pytest.approx(0.0, abs=1e-9) and coll[0] == pytest.approx(10.0 - seized, abs=1e-12)
    treasury = m.pool.account("treasury")[0]
    assert treasury[0] == pytest.approx(fee, rel=1e-12) and treasury[1] == pytest.approx(premium, rel=1e-12)
    # conservation: no token created or lost, only moved
    assert {k: sum(v.values()) for k, v in b.items()} == pytest.approx(total_before, rel=1e-15)
    liq = m.host.log.frames()["liquidations"]
    assert liq["liquidator"].tolist() == ["flash"] and liq["debt_repaid"].tolist() == [loan]
    flash = m.host.log.frames()["flash_liquidations"]
    assert flash[["keeper", "loan", "premium", "collateral_sold", "debt_bought", "profit"]].values.tolist() == [
        ["kim", loan, premium, got, out, expected_profit]]


def test_a_swap_that_no_longer_repays_reverts_and_pays_only_gas():
    m = Market(pair=(10.0, 16_000.0))  # a thin pair: 9.8 WETH fetch ~7,900 USDC, short of 15,007.5
    m.host.protocols["eth_usd"].state = 1_600.0
    before, positions = m.balances(), m.positions()
    status, reason, gas, result = m.liquidate()
    assert (status, reason, gas, result) == (TxStatus.REVERTED, "flash loan not repaid", LATE_REVERT_GAS, None)
    assert m.balances() == before  # every token where it was
    after = m.positions()
    assert (after[0] == positions[0]).all() and (after[1] == positions[1]).all()
    assert m.host.protocols["pair"].state.reserves == [10.0, 16_000.0]
    assert len(m.host.log.frames()["liquidations"]) == 0 and len(m.host.log.frames()["flash_liquidations"]) == 0


def test_a_healthy_account_reverts_early():
    m = Market()  # HF at $2,000 is 1.107
    status, reason, gas, _ = m.liquidate()
    assert status == TxStatus.REVERTED and gas == EARLY_REVERT_GAS
    assert reason == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"


def test_a_loan_larger_than_the_lenders_cash_reverts():
    m = Market(seed_usdc=15_000.0, vault_usdc=14_999.0)  # after Alice's borrow the pool holds no USDC
    m.host.protocols["eth_usd"].state = 1_600.0
    before = m.balances()
    assert m.liquidate()[:2] == (TxStatus.REVERTED, "flash loan exceeds available liquidity")
    assert m.liquidate(lender="vault")[:2] == (TxStatus.REVERTED, "flash loan exceeds the vault's cash")
    assert m.balances() == before
    m.host.protocols["usdc"].issue_quietly("vault", 1.0)  # now it holds exactly 15,000
    status, reason, _, profit = m.liquidate(lender="vault")
    assert (status, reason) == (TxStatus.INCLUDED, "")
    got = 15_000.0 / 1_600.0 * 1.05 * (1 - 0.05 / 1.05 * 0.10)
    out = got * 0.997 * 1_600_000.0 / (1_000.0 + got * 0.997)
    assert profit == pytest.approx(out - 15_000.0, rel=1e-12)  # a zero-premium vault keeps nothing
    assert m.balances()["usdc"]["vault"] == 15_000.0


def test_a_uniswap_v2_flash_swap_repays_in_collateral():
    m = Market()
    m.host.protocols["eth_usd"].state = 1_600.0
    total_before = {k: sum(v.values()) for k, v in m.balances().items()}
    status, reason, _, profit = m.liquidate(lender="")
    assert (status, reason) == (TxStatus.INCLUDED, "")
    got = 15_000.0 / 1_600.0 * 1.05 - (15_000.0 / 1_600.0 * 0.05) * 0.10
    need = 1_000.0 * 15_000.0 / ((1_600_000.0 - 15_000.0) * 0.997)  # getAmountIn, WETH for 15,000 USDC
    assert profit == pytest.approx(got - need, rel=1e-12)
    b = m.balances()
    assert b["weth"]["kim"] == profit and "kim" not in b["usdc"]
    assert b["usdc"]["pair"] == 1_600_000.0 - 15_000.0
    assert {k: sum(v.values()) for k, v in b.items()} == pytest.approx(total_before, rel=1e-15)
    k_before, (r0, r1) = 1_000.0 * 1_600_000.0, m.host.protocols["pair"].state.reserves
    assert r0 * r1 >= k_before  # the pair's K check holds


def test_a_partial_repayment_borrows_only_what_it_repays():
    m = Market()
    m.host.protocols["eth_usd"].state = 1_600.0
    status, reason, _, profit = m.liquidate(debt_to_cover=6_000.0)
    assert (status, reason) == (TxStatus.INCLUDED, "")
    flash = m.host.log.frames()["flash_liquidations"]
    assert flash["loan"].tolist() == [6_000.0] and flash["premium"].tolist() == [3.0]
    got = 6_000.0 / 1_600.0 * 1.05 - (6_000.0 / 1_600.0 * 0.05) * 0.10
    assert profit == pytest.approx(got * 0.997 * 1.6e6 / (1_000.0 + got * 0.997) - 6_003.0, rel=1e-12)
    assert m.pool.account("alice")[1][1] == pytest.approx(9_000.0, rel=1e-12)


def test_bad_arguments_revert_without_effects():
    m = Market()
    m.host.protocols["eth_usd"].state = 1_600.0
    before = m.balances()
    assert m.liquidate(swap_pool="nowhere")[:2] == (TxStatus.REVERTED, "'nowhere' is not a swap pool")
    assert m.liquidate(lender="pair")[:2] == (TxStatus.REVERTED, "'pair' is not a flash lender")
    assert m.liquidate(min_profit=math.nan)[0] == TxStatus.REVERTED
    assert m.liquidate(min_profit=1e9)[:2] == (TxStatus.REVERTED, "profit below min_profit")
    assert m.balances() == before


def test_the_best_repayment_is_where_the_pools_marginal_price_meets_the_loans_cost():
    """Selling k·x collateral into a constant-product pool (fee γ) for a loan of x at premium p:
    d/dx [out(kx) − (1+p)x] = 0 at R_in + γkx = sqrt(γk·R_in·R_out / (1+p)) (closed form); a
    flash swap's k·x − in(x) peaks at R_out − x = sqrt(R_in·R_out / (γk))."""
    from protocols.lending.aave_v3.flash_keeper import best_repay
    from protocols.amm.math import get_amount_in, get_amount_out
    r_in, r_out, gamma, p, k = 100.0, 160_000.0, 0.997, 0.0005, 1.05 / 1_600.0
    x_star = (math.sqrt(gamma * k * r_in * r_out / (1 + p)) - r_in) / (gamma * k)
    x, profit = best_repay(lambda x: get_amount_out(k * x, r_in, r_out) - (1 + p) * x, 1e6)
    assert x == pytest.approx(x_star, rel=1e-6) and x < 1e6
    assert profit == pytest.approx(get_amount_out(k * x_star, r_in, r_out) - (1 + p) * x_star, rel=1e-9)
    # the close factor binds before the depth does: the maximum
    assert best_repay(lambda x: get_amount_out(k * x, r_in, r_out) - (1 + p) * x, x_star / 2)[0] == x_star / 2
    # flash swap, profit in collateral: k·x − getAmountIn(x); R_in is the collateral reserve
    x_swap = r_out - math.sqrt(r_in * r_out / (gamma * k))
    x, _ = best_repay(lambda x: k * x - get_amount_in(x, r_in, r_out), 150_000.0)
    assert x == pytest.approx(x_swap, rel=1e-6)


class _Ctx:
    def __init__(self, host):
        self.host = host

    def view(self, name):
        return self.host.protocols[name].view()


@pytest.mark.parametrize("pair, partial", [((1_000.0, 1_600_000.0), False), ((200.0, 320_000.0), True)])
def test_a_keeper_repays_less_than_the_close_factor_allows_when_the_pool_is_thin(pair, partial):
    """Deep pair: the whole 15,000 USDC pays most. A pair of 200 WETH: selling all 9.8 WETH would
    sink the price, so the keeper repays where the pair's marginal price meets the loan's cost
    (closed form) and the contract, sent that plan, lands it."""
    from protocols.lending.aave_v3.flash_keeper import Route, plan_flash_liquidations
    m = Market(pair=pair)
    m.host.protocols["eth_usd"].state = 1_600.0
    view = m.pool.view()
    routes = {(0, 1): Route(_Ctx(m.host), "pair", "WETH", "USDC", 0.0005, False)}
    rows, hf, debt_usd = view.liquidation_candidates()
    plans = plan_flash_liquidations(view, routes, rows, hf, view.prices_usd(), debt_usd, 20.0, 10.0, 5)
    assert len(plans) == 1
    plan = plans[0]
    k = 1.05 / 1_600.0 * (1 - 0.05 / 1.05 * 0.10)  # WETH to the liquidator per USDC repaid
    if partial:
        r_in, r_out = pair
        x_star = (math.sqrt(0.997 * k * r_in * r_out / 1.0005) - r_in) / (0.997 * k)
        assert plan.debt_to_cover == pytest.approx(x_star, rel=1e-12) and x_star < 15_000.0
    else:
        assert plan.debt_to_cover == math.inf
    status, reason, _, profit = m.liquidate(debt_to_cover=plan.debt_to_cover)
    assert (status, reason) == (TxStatus.INCLUDED, "")
    assert profit == pytest.approx(plan.profit_usd + 20.0, rel=1e-9)  # as planned, gas aside
