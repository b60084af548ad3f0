"""Unified cross-margin accounts marked on the venue's own books (Binance unified-account uniMMR FAQ; Bybit UTA trading rules): tiers, the
blended index, the reflexive liquidation cascade, and the October-2025 contrast with an on-chain
pool whose oracle is pegged or marked on the same book."""
import numpy as np
import pytest

from defisim.markets.feeds import ConstantFeed
from defisim.base.tx import Revert
from defisim.markets.venues import LinearDepth, Venue
from protocols.cex.unified import LIQUIDATION_LINE, CollateralAsset, UnifiedAccounts, tiered_value
from protocols.lending.aave_v3.driver import EnginePool
from protocols.lending.aave_v3.replay import MAX_UINT256, ReserveConfig


def test_tiers_count_each_slice_at_its_ratio():
    tiers = ((100.0, 1.0), (1_000.0, 0.5), (np.inf, 0.0))
    assert tiered_value(np.array([50.0, 100.0, 600.0, 5_000.0]), tiers).tolist() == [50.0, 100.0, 350.0, 550.0]


def test_blended_index_follows_the_conversion_rate_by_its_weight():
    """wBETH-like: 20% of the book, 80% of the ETH conversion price (Binance's notices on the 10–11 October 2025 depeg)."""
    book = Venue(ConstantFeed(430.0), LinearDepth(1e6), half_life_ms=None)
    asset = CollateralAsset("wBETH", book, book_weight=0.2, conversion=ConstantFeed(3_800.0))
    assert asset.price(0) == pytest.approx(0.2 * 430.0 + 0.8 * 3_800.0)


def _usde_venue(depth_usd_per_pct: float, accounts: int) -> UnifiedAccounts:
    """``accounts`` traders each holding 100,000 USDe against 80,000 USDT of losses and
    $5,000 of maintenance (worked example), USDe marked on the venue's own book."""
    book = Venue(ConstantFeed(1.0), LinearDepth(depth_usd_per_pct), half_life_ms=None)
    ua = UnifiedAccounts([CollateralAsset("USDT"), CollateralAsset("USDe", book, ((np.inf, 0.9),))])
    ua.open_many([f"t{i}" for i in range(accounts)], np.tile([-80_000.0, 100_000.0], (accounts, 1)), [5_000.0] * accounts)
    return ua


def test_a_thin_book_turns_one_sale_into_a_cascade():
    results = {}
    for depth in (20_000.0, 2_000_000.0):
        ua = _usde_venue(depth, 20)
        book = ua.assets[1].book
        book.sell(150_000.0, 0)  # one large seller on the venue
        rows = ua.check(0)
        results[depth] = (len({r[1] for r in rows}), book.mid(0))
        # the engine sold each liquidated account's USDe into the book and credited the proceeds
        for _, owner, _, units, usd, ratio in rows:
            r = ua.owners.index(owner)
            assert ua.balances[r, 1] == 0.0 and ratio <= LIQUIDATION_LINE
            assert ua.balances[r, 0] == pytest.approx(-80_000.0 + usd)
        assert np.all(ua.ratios(0)[ua.balances[:, 1] > 0] > LIQUIDATION_LINE)
    thin, deep = results[20_000.0], results[2_000_000.0]
    assert thin[0] == 20 and deep[0] == 0  # everyone in the thin venue, nobody in the deep one
    assert thin[1] < deep[1]


USDE = ReserveConfig("USDe", 18, ltv=7_200, liquidation_threshold=7_500, liquidation_bonus=10_850, protocol_fee=1_000,
                     reserve_factor=1_000, optimal_usage=9_000, base_rate=0, slope1=400, slope2=6_000)
USDT = ReserveConfig("USDT", 6, ltv=7_500, liquidation_threshold=7_800, liquidation_bonus=10_450, protocol_fee=1_000,
                     reserve_factor=1_000, optimal_usage=9_000, base_rate=0, slope1=400, slope2=6_000)


def _aave_position() -> EnginePool:
    """An on-chain loan against USDe: 100,000 USDe, 71,000 USDT borrowed (HF 1.056 at $1)."""
    pool = EnginePool("v3.6", [USDE, USDT], {"USDe": 10**8, "USDT": 10**8})
    pool.supply("lender", "USDT", 1_000_000 * 10**6)
    pool.supply("borrower", "USDe", 100_000 * 10**18)
    pool.borrow("borrower", "USDT", 71_000 * 10**6)
    return pool


def test_the_same_depeg_liquidates_the_venue_account_but_not_a_pegged_oracle_loan():
    """Binance's notices on the 10–11 October 2025 depeg; loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ: USDe trades at 0.93 on one venue's thin book. The unified account marked
    there is liquidated; an Aave loan priced by a pegged oracle is not; priced by an oracle that
    marks the same book, it is."""
    ua = _usde_venue(20_000.0, 1)
    book = ua.assets[1].book
    while book.mid(0) > 0.93:  # a seller walks the book down to 0.93
        book.sell(1_000.0, 0)
    mark = book.mid(0)
    assert 0.92 < mark <= 0.93
    assert ua.ratios(0)[0] < LIQUIDATION_LINE and [r[1] for r in ua.check(0)] == ["t0"]

    pegged = _aave_position()  # the oracle stays at $1 (Aave prices USDe at USDT/USD)
    assert pegged.account_data("borrower").health_factor > 10**18
    with pytest.raises(Revert, match="HEALTH_FACTOR_NOT_BELOW_THRESHOLD"):
        pegged.liquidation_call("liquidator", "USDe", "USDT", "borrower", MAX_UINT256)

    marked = _aave_position()
    marked.set_price("USDe", round(mark * 10**8))  # an oracle reading the venue's book
    assert marked.account_data("borrower").health_factor < 10**18
    assert marked.liquidation_call("liquidator", "USDe", "USDT", "borrower", MAX_UINT256).debt_repaid > 0


def test_market_makers_pulling_depth_deepen_the_alts_minimum():
    """A thin alt falls 15% in a minute; unified accounts holding it are liquidated into its book.
    When the venue's market makers pull 70% of the depth on the volatility, the same path and
    the same accounts take the alt measurably lower (the "liquidity vacuum")."""
    from defisim.markets.feeds import CsvFeed
    from defisim.markets.spec import MarketMakerSpec
    from defisim.markets.venues import market_maker_step

    def lowest(market_maker):
        feed = CsvFeed([0, 60_000, 600_000], [10.0, 8.5, 8.5], "linear")
        book = Venue(feed, LinearDepth(50_000.0), half_life_ms=120_000, market_maker=market_maker, name="alt")
        ua = UnifiedAccounts([CollateralAsset("USDT"), CollateralAsset("ALT", book, ((np.inf, 0.8),))])
        n = 40
        ua.open_many([f"t{i}" for i in range(n)], np.column_stack([np.full(n, -6_000.0), np.full(n, 1_000.0)]),
                     np.linspace(1_000.0, 1_500.0, n))
        low = book.mid(0)
        for t in range(0, 300_000, 1_000):
            market_maker_step(book, t)
            ua.check(t)
            low = min(low, book.mid(t))
        return low, len({row[1] for row in ua.liquidations})

    mm = MarketMakerSpec(vol_window="30s", vol_threshold_annual=3.0, withdraw_share=0.7, cooldown="10min")
    calm_low, calm_liquidated = lowest(None)
    vacuum_low, vacuum_liquidated = lowest(mm)
    assert vacuum_low < calm_low * 0.97  # at least 3% lower
    assert vacuum_liquidated >= calm_liquidated
