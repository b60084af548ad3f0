"""The built-in ``oct-2025-cascade`` on the engine (a copy with a tenth of the perp accounts and
books, and half the blocks): the exchange's thin USDe
book depegs and its unified accounts are liquidated into it while the on-chain pool, pricing USDe
at $1, liquidates nobody; the perp venue drains its insurance fund before any ADL, and value is
conserved on it (dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs; Hyperliquid auto-deleveraging docs; Binance Futures ADL; Binance's notices on the 10–11 October 2025 depeg; loop leverage: collateral X / (1 − λ) after unlimited loops at LTV used λ)."""
import numpy as np
import pytest

from defisim import Simulation, load_scenario

OVERRIDES = [
    "blocks=150",
    "protocols.perp_venue.populations.0.count=2000",
    "protocols.perp_venue.populations.1.count=1500",
    "protocols.perp_venue.populations.2.count=1000",
    "protocols.perp_venue.insurance_fund_usd=20000",
    "protocols.aave.population.count=300",
    "protocols.lst_pool.population.count=200",
    "protocols.eth_pool_perps.count=300",
    # the perp books scaled with the population (a tenth)
    "markets.venues.hl_btc.depth.depth_usd_per_pct=4000000",
    "markets.venues.hl_eth.depth.depth_usd_per_pct=2000000",
    "markets.venues.hl_alt.depth.depth_usd_per_pct=100000",
]


@pytest.fixture(scope="module")
def run():
    scenario = load_scenario("oct-2025-cascade", OVERRIDES)
    sim = Simulation(scenario)
    venue = sim.protocols["perp_venue"].state
    value_at_start = venue.total_value(0) - venue.net_deposits_usd  # less what has been deposited so far
    return sim, sim.run(), value_at_start


def test_the_exchange_book_depegs_and_liquidates_while_the_pegged_pool_does_not(run):
    _sim, results, _ = run
    s = results.summary()
    assert s["min_price_usd.venue.ex_usde"] < 0.93  # the exchange's own book
    assert s["min_price_usd.feed.USDe"] == 1.0 and s["min_price_usd.protocol.usde_usd.answer"] == 1.0
    assert s["exchange.liquidated_accounts"] > 0
    assert s["aave.liquidations"] == 0
    liquidated = results.tables["unified_liquidations"]
    assert set(liquidated["asset"]) >= {"USDe"}


def test_on_chain_wbeth_follows_its_exchange_rate_not_the_exchange_book(run):
    """Aave `AaveOracle.getAssetPrice` with Chainlink-compatible exchange-rate adapters; Binance's notices on the 10–11 October 2025 depeg: the exchange's thin wBETH book falls far below the conversion value; the
    on-chain pool prices wBETH at 1.07 × its ETH oracle, so it liquidates what ETH's own fall
    reaches and no more."""
    _sim, results, _ = run
    s = results.summary()
    prices = results.prices.pivot_table(index="block", columns="name", values="price_usd")
    assert prices["wbeth_usd.answer"].to_numpy() == pytest.approx(1.07 * prices["eth_usd.answer"].to_numpy())
    assert s["min_price_usd.venue.ex_wbeth"] < 0.9 * s["min_price_usd.protocol.wbeth_usd.answer"]
    assert s["lst_pool.liquidations"] > 0


def test_the_synthetic_dollar_stays_backed_while_its_exchange_book_depegs(run):
    """Binance's notices on the 10–11 October 2025 depeg; Ethena docs: spot hedged by perp shorts: USDe's backing (ETH held, shorted on the perp venue) loses only the funding
    the shorts pay in the crash, which the reserve fund covers; the depeg is the exchange book's."""
    _sim, results, _ = run
    s = results.summary()
    assert s["usde_issuer.collateral_ratio"] > 0.99
    assert s["usde_issuer.reserve_fund_used_usd"] > 0  # negative funding while the perps trade below the index
    assert s["min_price_usd.venue.ex_usde"] < 0.93


def test_perp_adl_only_once_the_fund_is_exhausted_and_value_is_conserved(run):
    sim, results, value_at_start = run
    liq = results.tables["perp_liquidations"]
    venue = sim.protocols["perp_venue"].state
    adl = liq[liq["kind"] == "adl"]
    assert len(adl) > 0
    # the fund before the first ADL: start + every earlier delta; the first ADL drains exactly that
    first = adl.index[0]
    fund_before = 20_000 + liq.loc[: first - 1, "fund_delta_usd"].sum()
    assert liq.loc[first, "fund_delta_usd"] == pytest.approx(-fund_before)
    t_end = int(sim.env.now)
    # conserved up to what crossed the venue's boundary (the synthetic dollar's margin moves)
    assert venue.total_value(t_end) == pytest.approx(value_at_start + venue.net_deposits_usd, rel=1e-9)
    assert np.all(venue.equity(t_end) >= -1e-6 * np.abs(venue.collateral).max())


def test_the_pool_based_market_liquidates_longs_and_its_pool_takes_the_other_side(run):
    _sim, results, _ = run
    s = results.summary()
    events = results.tables["pool_perp_events"]
    liquidated = events[events["kind"] == "liquidation"]
    assert len(liquidated) > 0 and (liquidated["size_usd"] > 0).all()  # ETH fell: longs went
    assert s["eth_pool_perps.pool_pnl_usd"] > 0  # the counterparty of a long-heavy book gains when ETH falls
