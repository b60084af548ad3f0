"""Lenders who run (``lending.lender_run``) and what makes a run visible: the pool's cash per
reserve (``reserves``), every withdrawal paid or refused with the cash it met (``withdrawals``).
A withdrawal larger than the reserve's cash reverts whole (Aave v3 ``SupplyLogic.executeWithdraw``)."""
import numpy as np
import pytest

from defisim.base.tx import TxStatus

from .test_aave_pool import Market


def withdrawals(market):
    return market.host.log.tables["withdrawals"].to_frame()


def test_first_withdrawal_within_cash_is_paid_the_second_beyond_it_reverts():
    """Cash C = 40,000 USDC; bob withdraws w1 = 30,000, then carol w2 = 20,000: w1 ≤ C < w1 + w2."""
    m = Market()  # 'lenders' supplied 100,000 USDC; bob holds 50,000
    usdc = m.host.protocols["usdc"]
    usdc.move("bob", "carol", 20_000.0)
    assert m.call("bob", "supply", asset="USDC", amount=30_000.0)[0] == TxStatus.INCLUDED
    assert m.call("carol", "supply", asset="USDC", amount=20_000.0)[0] == TxStatus.INCLUDED
    assert m.call("alice", "supply", asset="WETH", amount=10.0)[0] == TxStatus.INCLUDED
    assert m.call("alice", "borrow", asset="USDC", amount=16_000.0)[0] == TxStatus.INCLUDED
    assert m.call("lenders", "withdraw", asset="USDC", amount=94_000.0)[0] == TxStatus.INCLUDED
    cash = usdc.balance_of("aave")  # 150,000 supplied − 16,000 borrowed − 94,000 withdrawn
    assert cash == pytest.approx(40_000.0)
    totals = m.totals()
    w1, w2 = 30_000.0, 20_000.0
    assert w1 <= cash < w1 + w2
    first = m.call("bob", "withdraw", asset="USDC", amount=w1)
    assert first[0] == TxStatus.INCLUDED and first[3] == pytest.approx(w1)
    second = m.call("carol", "withdraw", asset="USDC", amount=w2)
    assert (second[0], second[1]) == (TxStatus.REVERTED, "not enough liquidity")  # whole, never a part
    assert usdc.balance_of("carol") == 0.0 and m.pool.account("carol")[0][1] == pytest.approx(w2)
    assert usdc.balance_of("bob") == pytest.approx(w1)
    assert m.totals() == pytest.approx(totals, rel=1e-12)  # tokens moved, none created or lost
    rows = withdrawals(m).iloc[-2:][["user", "amount", "cash_before", "status", "reason"]].values.tolist()
    assert rows == [["bob", pytest.approx(w1), pytest.approx(40_000.0), "included", ""],
                    ["carol", pytest.approx(w2), pytest.approx(10_000.0), "reverted", "not enough liquidity"]]
    # what is left goes to whoever asks for no more than it; then the reserve is dry
    assert m.call("carol", "withdraw", asset="USDC", amount=10_000.0)[0] == TxStatus.INCLUDED
    assert usdc.balance_of("aave") == pytest.approx(0.0, abs=1e-6)
    assert m.pool.utilization()[1] == pytest.approx(1.0)
    assert m.call("carol", "withdraw", asset="USDC", amount=1.0)[1] == "not enough liquidity"
    assert m.totals() == pytest.approx(totals, rel=1e-12)


def test_reserves_rows_and_the_liquidity_summary():
    m = Market()
    m.call("alice", "supply", asset="WETH", amount=10.0)
    m.call("alice", "borrow", asset="USDC", amount=15_000.0)
    m.block(12_000)
    reserves = m.host.log.tables["reserves"].to_frame()
    row = reserves[(reserves["block"] == 2) & (reserves["asset"] == "USDC")].iloc[0]
    assert row["cash"] == pytest.approx(85_000.0)
    assert row["borrowed"] == pytest.approx(15_000.0, rel=1e-6)
    assert row["utilization"] == pytest.approx(row["borrowed"] / (row["borrowed"] + 85_000.0), rel=1e-12)
    assert row["borrow_rate"] == pytest.approx(0.04 * 0.15 / 0.9, rel=1e-6)
    m.call("lenders", "withdraw", asset="USDC", amount=90_000.0)  # more than the cash
    m.call("lenders", "withdraw", asset="USDC", amount=85_000.0)
    m.block(24_000)
    tables = m.host.log.frames()
    out = m.pool.summary(tables)
    assert (out["withdrawals"], out["failed_withdrawals"]) == (1, 1)
    assert out["min_cash_usd"] == pytest.approx(0.0, abs=1e-6)
    assert out["max_utilization"] == pytest.approx(1.0)
