"""The delta-neutral dollar (Ethena docs): backing that does not follow the asset, funding
as income and as cost, the reserve fund, mint/redeem limits, the staked vault's vesting and
cooldown."""
import math

import pytest

from defisim.markets.feeds import ConstantFeed, CsvFeed
from defisim.markets.venues import LinearDepth, Venue
from protocols.perps.clearinghouse import Clearinghouse, PerpMarket
from protocols.stablecoins.delta_neutral import COOLDOWN_MS, VESTING_MS, DeltaNeutralIssuer, StakedVault

HOUR = 3_600_000


def _issuer(index, book_feed=None, reserve=0.0, **kw):
    book = Venue(book_feed or index, LinearDepth(1e12), half_life_ms=None)
    venue = Clearinghouse([PerpMarket("ETH", index, book, max_leverage=20.0, impact_notional_usd=1_000.0)])
    return DeltaNeutralIssuer(venue, "ETH", index, reserve_fund_usd=reserve, **kw)


def test_the_backing_does_not_follow_the_asset():
    """ETH from 4,000 to 2,800 and back to 4,400 within a day: with hourly rebalancing the
    backing stays at the supply (up to the funding earned), while the spot alone moves ±30%."""
    path = CsvFeed([0, 8 * HOUR, 16 * HOUR, 24 * HOUR], [4_000.0, 2_800.0, 4_400.0, 4_400.0], "linear")
    issuer = _issuer(path, mint_limit_usd=1e9)
    issuer.mint(1e7, 0)
    unhedged = issuer.spot_units  # what the same spot would be worth without the short: 0.7× at 8 h
    for h in range(0, 25):
        t = h * HOUR
        issuer.venue.tick(t)
        issuer.rebalance(t)
        assert issuer.collateral_ratio(t) == pytest.approx(1.0, abs=2e-3)
    assert unhedged * 2_800.0 + 0.2 * 1e7 == pytest.approx(0.76 * 1e7)  # spot + margin alone would have lost 24%
    r, m = issuer._hedge()
    assert -issuer.venue.size[r, m] == pytest.approx(issuer.spot_units, rel=1e-9)  # delta back to zero


@pytest.mark.parametrize("book_premium", [0.0, 0.002])
def test_funding_received_by_the_short_is_income_for_the_vault(book_premium):
    """Shorts receive funding (the 0.01%/8 h interest leg, more with a premium): a day's income is
    minted as rewards; they vest over 8 hours and raise the sUSDe price."""
    index = ConstantFeed(4_000.0)
    issuer = _issuer(index, ConstantFeed(4_000.0 * (1 + book_premium)))
    issuer.mint(1e6, 0)
    issuer.vault.deposit("staker", 1e6, 0)
    for t in range(0, 24 * HOUR + 1, 60_000):
        issuer.venue.tick(t)
    income = issuer.settle(24 * HOUR)
    units = issuer.spot_units
    rate = issuer.venue.funding[0][3]
    assert rate == pytest.approx(max(book_premium - 0.0005, 0.0001) / 8, rel=1e-5)  # less a hair of impact
    assert income == pytest.approx(units * 4_000.0 * rate * 24, rel=1e-3)
    assert issuer.vault.share_price(24 * HOUR) == pytest.approx(1.0)  # nothing vested yet
    assert issuer.vault.share_price(24 * HOUR + VESTING_MS) == pytest.approx(1.0 + income / 1e6, rel=1e-9)


def test_negative_funding_is_paid_by_the_reserve_fund_until_it_runs_out():
    index = ConstantFeed(4_000.0)
    issuer = _issuer(index, ConstantFeed(4_000.0 * 0.99), reserve=500.0)  # the book 1% below the index
    issuer.mint(1e6, 0)
    for t in range(0, 6 * HOUR + 1, 60_000):
        issuer.venue.tick(t)
    cost = -issuer.settle(6 * HOUR)
    assert cost > 500.0  # 6 hours at (−1% + 0.05%)/8 per hour on $0.8 M
    assert issuer.reserve_fund_usd == 0.0
    assert issuer.collateral_ratio(6 * HOUR) == pytest.approx(1.0 - (cost - 500.0) / 1e6, rel=1e-9)


def test_mint_and_redeem_limits_per_window_and_redemptions_at_one_dollar():
    issuer = _issuer(ConstantFeed(4_000.0), mint_limit_usd=1e6, redeem_limit_usd=3e5)
    issuer.mint(6e5, 0)
    with pytest.raises(ValueError, match="mint limit"):
        issuer.mint(5e5, 1_000)
    issuer.mint(5e5, 12_000)  # the next block
    assert issuer.redeem(3e5, 12_000) == 3e5
    with pytest.raises(ValueError, match="redeem limit"):
        issuer.redeem(1.0, 13_000)
    assert issuer.supply == pytest.approx(8e5)
    assert issuer.collateral_ratio(12_000) == pytest.approx(1.0, abs=1e-6)


def test_the_vault_cooldown_holds_withdrawals_for_seven_days():
    vault = StakedVault()
    vault.deposit("a", 100.0, 0)
    assert vault.cooldown_shares("a", 40.0, 0) == pytest.approx(40.0)
    with pytest.raises(ValueError, match="cooldown"):
        vault.unstake("a", COOLDOWN_MS - 1)
    assert vault.unstake("a", COOLDOWN_MS) == pytest.approx(40.0)
    assert math.isclose(vault.total_assets(COOLDOWN_MS), 60.0)


@pytest.fixture(scope="module")
def engine_runs():
    """The built-in ``usde-redemptions``, with and without its arbitrageurs (same seed)."""
    from defisim import Simulation, load_scenario

    out = {}
    for name, overrides in (("without", ["agents=[]"]), ("with", [])):
        sim = Simulation(load_scenario("usde-redemptions", overrides))
        out[name] = (sim, sim.run())
    return out


def test_redemptions_hold_the_venue_near_the_peg_within_the_issuers_limits(engine_runs):
    low = {k: r.summary()["min_price_usd.venue.usde_book"] for k, (_s, r) in engine_runs.items()}
    assert low["without"] < 0.93 and low["with"] > low["without"] + 0.02  # the arbitrage lifted the book
    sim, results = engine_runs["with"]
    red = results.tables["redemptions"]
    assert len(red) > 0
    per_window = red.groupby(red["t_ms"] // 12_000)["amount"].sum()
    assert per_window.max() <= 2_000_000 + 1e-6  # the issuer's redeem limit per block
    issuer = sim.protocols["usde"].state
    assert issuer.supply == pytest.approx(50e6 - red["amount"].sum() + _minted_rewards(results), rel=1e-9)


def _minted_rewards(results) -> float:
    s = results.tables["stablecoin_settlements"]
    return float(s["result_usd"].clip(lower=0).sum())


def test_the_hedged_backing_holds_through_the_eth_fall(engine_runs):
    sim, results = engine_runs["without"]
    settlements = results.tables["stablecoin_settlements"]
    assert len(settlements) >= 3
    assert settlements["collateral_ratio"].between(0.99, 1.01).all()  # ETH −10%, the backing did not follow


def test_a_refused_mint_changes_nothing():
    """The hedge of a large mint needs more initial margin than its share of margin (a 20%
    maintenance bracket above $1M: 40% initial): the venue refuses it and the issuer's backing,
    the venue's value and the window's limit are as before."""
    feed = ConstantFeed(2_000.0)
    book = Venue(feed, LinearDepth(1e12), half_life_ms=None)
    ch = Clearinghouse([PerpMarket("ETH", feed, book, 20.0, mm_tiers=((0.0, 0.025), (1e6, 0.2)))])
    issuer = DeltaNeutralIssuer(ch, "ETH", feed, margin_share=0.2, mint_limit_usd=1e9)
    issuer.mint(1e6, 0)
    before = (issuer.backing_usd(0), ch.total_value(0), ch.net_deposits_usd, issuer.supply, list(issuer._window))
    with pytest.raises(ValueError, match="initial margin"):
        issuer.mint(4e6, 0)
    assert (issuer.backing_usd(0), ch.total_value(0), ch.net_deposits_usd, issuer.supply, list(issuer._window)) == before
