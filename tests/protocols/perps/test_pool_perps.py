"""Pool-based perps (GMX v2 style, dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs; dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs; Hyperliquid auto-deleveraging docs; Binance Futures ADL): funding between the sides
(vector 26), borrowing to the pool, price impact (the README example), liquidation with the pool
as insurer, ADL by PnL-to-pool ratio, and value conservation through all of it."""
import numpy as np
import pytest

from protocols.perps.pool import PoolPerpParams, PoolPerps


def test_funding_larger_side_pays_the_smaller_and_it_sums_to_zero():
    """Vector 26: factor 1/50,000 per second, OI $150k long / $50k short: longs pay 0.001%/s,
    shorts receive 0.003%/s."""
    p = PoolPerps(PoolPerpParams(funding_factor=1 / 50_000, borrowing_factor=0.0), pool_usd=1e7)
    p.open("long", 150_000.0, 50_000.0, price=100.0, t_s=0)
    p.open("short", -50_000.0, 50_000.0, price=100.0, t_s=0)
    p.accrue(10)
    owed = p.fees_owed()
    assert owed[0] == pytest.approx(150_000.0 * 1e-5 * 10) and owed[1] == pytest.approx(-50_000.0 * 3e-5 * 10)
    assert owed.sum() == pytest.approx(0.0, abs=1e-9)


def test_borrowing_fees_go_to_the_pool():
    p = PoolPerps(PoolPerpParams(funding_factor=0.0, borrowing_factor=1e-6, borrowing_exponent=1.0), pool_usd=1e6)
    p.open("a", 100_000.0, 10_000.0, price=100.0, t_s=0)
    out = p.close(0, 100.0, t_s=1_000)
    fee = 100_000.0 * 1e-6 * (100_000.0 / 1e6) * 1_000
    assert out == pytest.approx(10_000.0 - fee) and p.pool_usd == pytest.approx(1e6 + fee)


def test_losses_beyond_collateral_fall_on_the_pool_and_cash_is_conserved():
    p = PoolPerps(PoolPerpParams(funding_factor=1e-7, borrowing_factor=1e-8, impact_factor=1e-9), pool_usd=1e6)
    rng = np.random.default_rng(3)
    paid_in = 1e6
    for i in range(50):
        size = float(rng.choice([-1, 1]) * rng.uniform(1e3, 5e4))
        collateral = abs(size) / rng.uniform(2, 40)
        p.open(f"t{i}", size, collateral, price=100.0, t_s=i)
        paid_in += collateral
    paid_out = 0.0
    for t, price in ((100, 96.0), (200, 90.0), (300, 104.0)):
        p.accrue(t)
        assert p.total_cash() + paid_out == pytest.approx(paid_in, rel=1e-12)
        for i in p.liquidatable(price):
            p.liquidate(int(i), price, t)
        assert p.total_cash() + paid_out == pytest.approx(paid_in, rel=1e-12)
        assert p.liquidatable(price).size == 0
    assert any(row[4] > 0 for row in p.liquidations)  # a hole the pool paid
    for i in np.flatnonzero(p.size_usd):
        paid_out += p.close(int(i), 104.0, 400)
    assert p.total_cash() + paid_out == pytest.approx(paid_in, rel=1e-12)
    assert np.all(p.size_usd == 0)


def test_adl_closes_the_most_profitable_until_the_pnl_to_pool_ratio_is_back():
    p = PoolPerps(PoolPerpParams(funding_factor=0.0, borrowing_factor=0.0, max_pnl_factor=0.5, adl_target_factor=0.3),
                  pool_usd=100_000.0)
    for i, size in enumerate((100_000.0, 60_000.0, 20_000.0)):
        p.open(f"l{i}", size, size / 5, price=100.0, t_s=0)
    price = 140.0  # longs gain 40%: 72,000 pending vs a 100,000 pool
    p.auto_deleverage(price, t_s=10)
    assert [row[1] for row in p.adl] == ["l0", "l1"]  # highest PnL first, until ≤ 30% of the pool
    pending = p.pnl(price)[p.size_usd > 0].sum()
    assert pending <= 0.3 * p.pool_usd
