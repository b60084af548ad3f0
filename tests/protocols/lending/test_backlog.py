"""Why accounts below HF 1 are left at the end: each gets one cause (no collateral, dust, not worth
the gas, no depth to sell into, profitable), judged by hand-computed Aave liquidations and
constant-product sales taken one after another."""
import numpy as np
import pytest

from defisim.base.eventlog import EventLog
from defisim.base.protocol import BlockInfo
from defisim.base.tx import Call, Tx, TxStatus
from defisim.chain.execution import Executor
from defisim.run.backlog import CAUSES, backlog_causes
from defisim.scenario.loading import load_scenario
from defisim.run.simulation import Simulation
from protocols.amm.model import CpmmPool
from protocols.amm.params import CpmmParams
from protocols.lending.aave_v3.model import AaveV3Pool
from protocols.lending.aave_v3.params import PoolParams
from protocols.oracles import FixedOracle
from protocols.oracles.params import FixedOracleParams
from protocols.token import LedgerParams, TokenLedger

WETH = dict(symbol="WETH", ltv=0.805, liquidation_threshold=0.83, liquidation_bonus=0.05, reserve_factor=0.15,
            protocol_liquidation_fee=0.10, rate_strategy=dict(optimal_utilization=0.9, slope1=0.027, slope2=0.80))
USDC = dict(symbol="USDC", ltv=0.75, liquidation_threshold=0.78, liquidation_bonus=0.045, reserve_factor=0.10,
            rate_strategy=dict(optimal_utilization=0.9, slope1=0.04, slope2=0.60))
LEDGERS = {"WETH": "weth", "USDC": "usdc"}
#: owner -> (WETH supplied, USDC borrowed) at $2,000
BOOK = {"p1": (10.0, 15_000.0), "p2": (10.0, 15_000.0), "small": (0.2, 300.0), "dust": (0.0004, 0.5),
        "gone": (1.0, 1_500.0), "healthy": (10.0, 1_000.0)}


class Host:
    def __init__(self):
        self.log = EventLog()
        self.protocols = {}


@pytest.fixture
def market():
    h = Host()
    h.protocols["weth"] = TokenLedger("weth", LedgerParams(symbol="WETH", initial_balances={o: c for o, (c, _d) in BOOK.items()}), h)
    h.protocols["usdc"] = TokenLedger("usdc", LedgerParams(symbol="USDC"), h)
    h.protocols["eth_usd"] = FixedOracle("eth_usd", FixedOracleParams(price=2_000.0), h)
    h.protocols["usdc_usd"] = FixedOracle("usdc_usd", FixedOracleParams(price=1.0), h)
    h.protocols["aave"] = pool = AaveV3Pool("aave", PoolParams(
        reserves=(WETH, USDC), tokens=LEDGERS, oracles={"WETH": "eth_usd", "USDC": "usdc_usd"},
        seed_supply={"USDC": 100_000.0}), h)
    h.protocols["pair"] = CpmmPool("pair", CpmmParams(token0="WETH", token1="USDC", reserve0=500.0, reserve1=650_000.0,
                                                      ledgers=LEDGERS), h)
    ex = Executor(h.protocols)
    ex.begin_block(BlockInfo(1, 1, 0, 20.0, 36_000_000))
    for seq, (owner, (coll, debt)) in enumerate(BOOK.items()):
        for method, args in (("supply", {"asset": "WETH", "amount": coll}), ("borrow", {"asset": "USDC", "amount": debt})):
            tx = Tx(owner, seq, Call("aave", method, args), 1_000_000, 100.0, 1.0, False, -1, seq, 0, 0)
            assert ex.execute(tx)[0] == TxStatus.INCLUDED
    h.protocols["eth_usd"].state = 1_300.0  # every account but "healthy" below HF 1
    row = pool.state.accounts["gone"]
    pool.state.positions["collateral_scaled"][row] = 0.0  # its collateral gone: nothing to seize
    pool.state.version += 1
    pool._health.invalidate()
    return h, pool


def test_each_account_left_below_hf_1_gets_its_cause(market):
    h, pool = market
    gas_usd = 20.0
    prices = np.array([1_300.0, 1.0])  # the pair's mid is the oracle's
    causes = backlog_causes(pool.view(), prices, [h.protocols["pair"].market("WETH"), None], gas_usd, 0)
    # by hand, at $1,300 (HF of p1, p2 = 10·1,300·0.83 / 15,000 = 0.72: 100% close factor, capped by the
    # collateral): each repays 10·1,300/1.05 = 12,380.95 USDC for 10 WETH, 9.9524 WETH to the liquidator
    got = 10.0 - (10.0 - 10.0 / 1.05) * 0.10
    repaid = 10.0 * 1_300.0 / 1.05
    first = got * 0.997 * 650_000.0 / (500.0 + got * 0.997)  # 12,648 USDC: +267 after the debt, pays the gas
    r0, r1 = 500.0 + got, 650_000.0 - first
    second = got * 0.997 * r1 / (r0 + got * 0.997)  # 12,164 USDC after the first sale: short of the debt
    assert first - repaid > gas_usd and second - repaid < 0
    # "small": 300 USDC, its bonus ≈ 300·0.045 = $13.5 < $20 of gas; "dust": $0.50 of debt
    expected = {"no_collateral": (1, 1_500.0), "refused": (0, 0.0), "dust": (1, 0.5), "gas": (1, 300.0),
                "depth": (1, 15_000.0), "profitable": (1, 15_000.0)}
    assert {c: (n, pytest.approx(usd, rel=1e-9)) for c, (n, usd) in expected.items()} == causes
    assert list(causes) == list(CAUSES)


def test_without_a_market_to_walk_both_big_accounts_pay_at_the_mid(market):
    h, pool = market
    causes = backlog_causes(pool.view(), np.array([1_300.0, 1.0]), [None, None], 20.0, 0)
    assert causes["profitable"] == (2, pytest.approx(30_000.0)) and causes["depth"] == (0, 0.0)


def _lending_built_ins() -> list[str]:
    from defisim.scenario.loading import builtin_scenarios
    names = []
    for name in sorted(builtin_scenarios()):
        scenario = load_scenario(name)
        if any(kind == "lending.aave_v3" for kind, _p in scenario.protocols.values()):
            names.append(name)
    return names


@pytest.mark.parametrize("name", _lending_built_ins())
def test_a_lending_built_in_explains_its_whole_backlog(name):
    """Every account still liquidatable at the end has its cause, and the causes add up to the backlog."""
    sim = Simulation(load_scenario(name, ["blocks=90"]))
    summary = sim.run().summary()
    assert sum(summary[f"backlog_{c}"] for c in CAUSES) == summary["liquidation_backlog_at_end"]
    assert sum(summary[f"backlog_{c}_usd"] for c in CAUSES) == pytest.approx(summary["liquidation_backlog_usd_at_end"], rel=1e-9)
