"""The order-book perp clearinghouse: funding against its closed form and conserved between
longs and shorts, the clamp, liquidation through the book with the insurance fund, ADL only
when the fund cannot absorb the loss, ranked by score, no account left below zero, and the
value invariant through all of it (dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs; dYdX v4 `margin.mdx`; Hyperliquid margining docs; dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs; Hyperliquid auto-deleveraging docs; Binance Futures ADL)."""
import numpy as np
import pytest

from defisim.markets.feeds import ConstantFeed, CsvFeed
from defisim.markets.venues import LinearDepth, Venue
from protocols.perps.clearinghouse import BOOK, Clearinghouse, PerpMarket
from protocols.perps.math import adl_score, funding_rate

HOUR_MS = 3_600_000


class StepFeed:
    """``before`` until ``at_ms``, then ``after`` (USD)."""

    def __init__(self, before: float, after: float, at_ms: int):
        self.before, self.after, self.at_ms = before, after, at_ms

    def price_at(self, t_ms: int) -> float:
        return self.before if t_ms < self.at_ms else self.after


def _run_hours(ch: Clearinghouse, hours: int, step_ms: int = 3_000) -> None:
    for t in range(0, hours * HOUR_MS + 1, step_ms):
        ch.tick(t)


@pytest.mark.parametrize("book_price, clamp_binds", [(101.0, True), (100.02, False)])
def test_funding_matches_the_closed_form_and_longs_pay_what_shorts_receive(book_price, clamp_binds):
    index, book = ConstantFeed(100.0), Venue(ConstantFeed(book_price), LinearDepth(1e15), half_life_ms=None)
    ch = Clearinghouse([PerpMarket("X", index, book, max_leverage=20.0, impact_notional_usd=1_000.0)])
    ch.open_positions(["long"], "X", [10.0], 100.0, 1_000.0)
    value = ch.total_value(0)
    _run_hours(ch, 5)
    premium = book_price / 100.0 - 1.0
    rate = funding_rate(premium, interval_h=1.0, cap=0.04)
    assert [round(f[2], 9) for f in ch.funding] == [round(premium, 9)] * 5
    assert rate == pytest.approx((premium - 0.0005) / 8 if clamp_binds else 0.0001 / 8, rel=1e-6)
    for r in (ch.rows["long"], ch.rows[BOOK]):
        ch._settle_funding(r)
    paid = 1_000.0 - ch.collateral[ch.rows["long"]]
    assert paid == pytest.approx(10 * 100.0 * rate * 5, rel=1e-6)  # size × index × rate × intervals
    assert ch.collateral[ch.rows[BOOK]] == pytest.approx(paid, rel=1e-12)  # the short side received it
    assert ch.total_value(5 * HOUR_MS) == pytest.approx(value, rel=1e-12)


def _crash_market(fund_usd: float) -> Clearinghouse:
    """A 10× long of 100 units at 100; three shorts; the index and the book fall to 80 at 10 s
    into a thin book, so the long's book liquidation would leave it below zero."""
    feed = StepFeed(100.0, 80.0, 10_000)
    book = Venue(feed, LinearDepth(2_000.0), half_life_ms=None)
    ch = Clearinghouse([PerpMarket("X", feed, book, max_leverage=20.0)], insurance_fund_usd=fund_usd)
    ch.open_positions(["whale"], "X", [100.0], 100.0, 1_000.0)
    ch.open_positions(["a", "b"], "X", [-50.0, -30.0], 100.0, np.array([1_000.0, 200.0]))
    ch.open_positions(["c"], "X", [-20.0], 90.0, 5_000.0)
    return ch


def test_a_solvent_fund_absorbs_the_loss_and_there_is_no_adl():
    ch = _crash_market(fund_usd=1e6)
    value = ch.total_value(0)
    ch.tick(0)
    ch.tick(12_000)
    (t, who, kind, _notional, equity_before, fund_delta), = ch.liquidations
    assert (who, kind) == ("whale", "book") and equity_before == pytest.approx(-1_000.0)
    assert fund_delta < -1_000.0  # the thin book filled below the bankruptcy price; the fund paid the rest
    assert ch.adl == [] and ch.size[ch.rows["whale"]].tolist() == [0.0]
    assert ch.collateral[ch.rows["whale"]] == pytest.approx(0.0, abs=1e-9)
    assert ch.total_value(12_000) == pytest.approx(value, rel=1e-12)


def test_adl_comes_after_the_fund_is_exhausted_ranks_by_score_and_closes_at_the_bankruptcy_price():
    ch = _crash_market(fund_usd=100.0)
    value = ch.total_value(0)
    ch.tick(0)
    # expected ranking at mark 80: PnL% × leverage (equity = collateral + PnL)
    scores = {}
    for name, size, entry, collateral in (("a", -50, 100, 1_000), ("b", -30, 100, 200), ("c", -20, 90, 5_000)):
        pnl = size * (80 - entry)
        scores[name] = adl_score((80 - entry) * np.sign(size) / entry, abs(size) * 80 / (collateral + pnl))
    ch.tick(12_000)
    assert [row[2] for row in ch.liquidations] == ["adl"]
    order = [fill[3] for fill in ch.adl]
    assert order == sorted(scores, key=scores.get, reverse=True) == ["b", "a", "c"]
    bankruptcy = 80.0 + (1_000.0 - 100.0) / 100.0  # equity −1,000, less the fund's 100, over 100 units
    assert all(fill[5] == pytest.approx(bankruptcy) for fill in ch.adl)
    assert sum(fill[4] for fill in ch.adl) == pytest.approx(100.0)
    assert ch.insurance_fund_usd == 0.0 and ch.liquidations[0][5] == -100.0  # exhausted first
    equity = ch.equity(12_000)
    assert equity[ch.rows["whale"]] == pytest.approx(0.0, abs=1e-9)
    assert np.all(equity >= -1e-9)
    assert ch.total_value(12_000) == pytest.approx(value, rel=1e-12)


def test_a_counterparty_is_never_taken_below_zero_and_the_rest_is_socialised():
    """Only one thin short (equity $50 at 80) opposite a bankrupt long: it gives what its equity
    allows (5 of 100 units at the bankruptcy price 90); the rest goes to the backstop at mark and
    the loss beyond the long's collateral is charged to the one trader with unrealised profit (in
    another market), never to an account without positions."""
    feed = StepFeed(100.0, 80.0, 10_000)
    other = StepFeed(10.0, 12.0, 10_000)
    ch = Clearinghouse([PerpMarket("X", feed, Venue(feed, LinearDepth(2_000.0), half_life_ms=None), 100.0),
                        PerpMarket("Y", other, Venue(other, LinearDepth(1e9), half_life_ms=None), 100.0)])
    ch.open_positions(["whale"], "X", [100.0], 100.0, 1_000.0)
    ch.open_positions(["thin"], "X", [-100.0], 80.5, 0.0)  # the book is flat again
    ch.open_positions(["winner"], "Y", [1_000.0], 10.0, 1_000.0)  # +2,000 at 12
    ch.deposit("saver", 10_000.0)
    value = ch.total_value(12_000)
    ch.tick(12_000)
    assert [fill[3:5] for fill in ch.adl] == [("thin", pytest.approx(5.0))]
    equity = ch.equity(12_000)
    assert equity[ch.rows["whale"]] == pytest.approx(0.0, abs=1e-9)
    assert equity[ch.rows["thin"]] == pytest.approx(0.0, abs=1e-9)
    assert ch.socialized_usd == pytest.approx(950.0, rel=1e-12)  # −(1,000 − 5·10 − 95·20)
    assert equity[ch.rows["winner"]] == pytest.approx(3_000.0 - 950.0)
    assert ch.collateral[ch.rows["saver"]] == 10_000.0
    assert ch.total_value(12_000) == pytest.approx(value, rel=1e-12)


def test_a_thin_book_with_a_solvent_account_goes_to_the_backstop_at_mark_not_to_adl():
    """The long is solvent at mark but a book close would cost more than the fund: the backstop
    takes it at mark; nobody is deleveraged and the fund keeps its balance (no fee here)."""
    feed = StepFeed(100.0, 92.0, 10_000)
    ch = Clearinghouse([PerpMarket("X", feed, Venue(feed, LinearDepth(500.0), half_life_ms=None), 20.0)],
                       insurance_fund_usd=10.0, liquidation_fee=0.0)
    ch.open_positions(["long"], "X", [100.0], 100.0, 1_000.0)  # equity 200 at 92, maintenance 230
    ch.open_positions(["short"], "X", [-100.0], 100.0, 1_000.0)
    ch.tick(12_000)
    assert [row[2] for row in ch.liquidations] == ["backstop"] and ch.adl == []
    assert ch.insurance_fund_usd == 10.0 and ch.collateral[ch.rows["long"]] == pytest.approx(200.0)


def test_reduce_only_orders_need_no_initial_margin_and_a_refused_order_changes_nothing():
    feed = StepFeed(100.0, 97.0, 5_000)
    ch = Clearinghouse([PerpMarket("X", feed, Venue(feed, LinearDepth(1e9), half_life_ms=None), 10.0)])
    ch.open_positions(["u"], "X", [1.0], 100.0, 8.0)  # equity 5 at 97: above maintenance 4.85, below initial 9.7
    ch.tick(0)
    before = (ch.collateral.copy(), ch.size.copy(), ch.entry.copy())
    with pytest.raises(ValueError, match="initial margin"):
        ch.trade("u", "X", 0.5, 6_000)
    assert all(np.array_equal(a, b) for a, b in zip(before, (ch.collateral, ch.size, ch.entry)))
    ch.trade("u", "X", -0.4, 6_000)  # reducing is always allowed
    assert ch.size[ch.rows["u"]].tolist() == [pytest.approx(0.6)]
    assert ch.liquidatable(6_000).tolist() == ch.liquidatable_brute_force(6_000).tolist()


def test_orders_need_initial_margin():
    ch = Clearinghouse([PerpMarket("X", ConstantFeed(100.0), Venue(ConstantFeed(100.0), LinearDepth(1e9)), 10.0)])
    ch.deposit("u", 100.0)
    ch.trade("u", "X", 9.0, 0)  # $900 at 10× needs $90
    with pytest.raises(ValueError, match="initial margin"):
        ch.trade("u", "X", 2.0, 0)
    assert ch.size[ch.rows["u"]].tolist() == [9.0]


@pytest.mark.parametrize("seed", range(8))
def test_the_liquidation_index_finds_exactly_the_accounts_below_maintenance(seed):
    """Random populations in two markets (some accounts in both), random funding and prices: the
    index agrees with checking every account, in the same order."""
    rng = np.random.default_rng(seed)
    feeds = [StepFeed(100.0, 100.0 * rng.uniform(0.7, 1.3), 5_000), StepFeed(50.0, 50.0 * rng.uniform(0.7, 1.3), 5_000)]
    markets = [PerpMarket(s, f, Venue(f, LinearDepth(1e12), half_life_ms=None), lev)
               for s, f, lev in (("X", feeds[0], 20.0), ("Y", feeds[1], 50.0))]
    ch = Clearinghouse(markets)
    n = 300
    for m, (symbol, price) in enumerate((("X", 100.0), ("Y", 50.0))):
        sizes = rng.choice([-1.0, 1.0], n) * rng.uniform(0.1, 10.0, n)
        ch.open_positions([f"{symbol}{i}" for i in range(n)], symbol, sizes, price, np.abs(sizes) * price * rng.uniform(0.03, 0.5, n))
    for i in range(40):  # accounts in both markets
        ch.deposit(f"X{i}", 100.0)
        ch.trade(f"X{i}", "Y", float(rng.uniform(-1, 1)), 0)
    ch.cum_funding += rng.uniform(-2.0, 2.0, 2)
    assert ch.liquidatable(0).tolist() == ch.liquidatable_brute_force(0).tolist()
    for i in rng.choice(n, 30, replace=False):  # changes after the index was built
        ch.deposit(f"Y{i}", float(rng.uniform(0, 200)))
        try:
            ch.trade(f"Y{i}", "Y", float(rng.uniform(-3, 3)), 0)
        except ValueError:
            pass  # below initial margin: refused
    for t in (0, 6_000):
        assert ch.liquidatable(t).tolist() == ch.liquidatable_brute_force(t).tolist()
    ch.liquidate_unhealthy(6_000)
    assert ch.liquidatable(6_000).tolist() == ch.liquidatable_brute_force(6_000).tolist() == []


class Wiggle:
    """A deterministic, jumpy price path (a new level every 3 s)."""

    def __init__(self, p0: float, amplitude: float):
        self.p0, self.amplitude = p0, amplitude

    def price_at(self, t_ms: int) -> float:
        k = t_ms // 3_000
        return self.p0 * float(np.exp(self.amplitude * np.sin(0.37 * k + self.p0) + 0.002 * k * np.cos(k)))


@pytest.mark.parametrize("seed", range(6))
def test_index_and_value_hold_through_random_trading_funding_liquidations_and_adl(seed):
    """Random orders (a third of them closing a whole position), deposits, funding every 30 s,
    liquidations through thin books, ADL and socialised losses: at every tick the index finds
    exactly the accounts the full check finds, value is conserved, and no trader stays below 0."""
    rng = np.random.default_rng(seed)
    feeds = (Wiggle(100.0, 0.15), Wiggle(50.0, 0.25))
    depth = 1e6 if seed % 2 == 0 else 3e4  # odd seeds: thin books (backstop, ADL)
    ch = Clearinghouse([PerpMarket(sym, f, Venue(f, LinearDepth(depth), half_life_ms=30_000), lev)
                        for sym, f, lev in (("X", feeds[0], 20.0), ("Y", feeds[1], 50.0))],
                       insurance_fund_usd=float(rng.uniform(0, 5e3)), funding_interval_ms=30_000)
    n = 150
    for sym, price in (("X", 100.0), ("Y", 50.0)):
        sizes = rng.choice([-1.0, 1.0], n) * rng.uniform(0.1, 10.0, n)
        ch.open_positions([f"{sym}{i}" for i in range(n)], sym, sizes, price, np.abs(sizes) * price * rng.uniform(0.03, 0.3, n))
    value = ch.total_value(0)
    for t in range(0, 240_000, 3_000):
        for _ in range(5):
            who, market = f"{'XY'[rng.integers(2)]}{rng.integers(n)}", "XY"[rng.integers(2)]
            held = ch.size[ch.rows[who], ch.index[market]]
            size = -held if (held != 0 and rng.random() < 0.3) else float(rng.uniform(-2, 2))
            if rng.random() < 0.3:
                usd = float(rng.uniform(0, 50))
                ch.deposit(who, usd)
                value += usd
            try:
                ch.trade(who, market, size, t)
            except ValueError as e:
                assert "initial margin" in str(e) or "in liquidation" in str(e)
        assert ch.liquidatable(t).tolist() == ch.liquidatable_brute_force(t).tolist()
        ch.tick(t)
        equity = ch.equity(t)
        equity[ch.rows[BOOK]] = 0.0
        assert equity.min() >= -1e-6
        assert ch.total_value(t) == pytest.approx(value, rel=1e-9)
    kinds = {row[2] for row in ch.liquidations}
    assert "book" in kinds


def test_an_isolated_position_is_liquidated_alone():
    """The same trader holds a cross account and an isolated long; the fall liquidates the
    isolated position (its own margin) and leaves the cross account untouched (dYdX v4 `margin.mdx`; Hyperliquid margining docs)."""
    feed = StepFeed(100.0, 92.0, 10_000)
    ch = Clearinghouse([PerpMarket("X", feed, Venue(feed, LinearDepth(1e9), half_life_ms=None), 20.0)])
    ch.deposit("t", 10_000.0)
    ch.trade("t", "X", -5.0, 0)  # a small cross short
    ch.open_isolated("t", "X", 10.0, 100.0, 0)  # 10× isolated long
    ch.tick(12_000)
    assert [row[1] for row in ch.liquidations] == [Clearinghouse.isolated_account("t", "X")]
    assert ch.size[ch.rows["t"]].tolist() == [-5.0] and ch.equity(12_000, ch.rows["t"]) > 10_000.0


def test_large_positions_go_a_fifth_at_a_time_until_the_backstop_line():
    """Hyperliquid (dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs): above $100k notional, 20% per step with a 30 s cooldown while equity
    stays above 2/3 of maintenance; below that line, all at once."""
    feed = CsvFeed([0, 10_000, 200_000, 210_000], [100.0, 97.0, 97.0, 96.0], "step")
    ch = Clearinghouse([PerpMarket("X", feed, Venue(feed, LinearDepth(1e12), half_life_ms=None), 20.0)],
                       insurance_fund_usd=1e6, partial_above_usd=100_000.0)
    ch.open_positions(["big"], "X", [10_000.0], 100.0, 50_000.0)  # $1 M at 20×: maintenance 2.5%
    ch.open_positions(["small"], "X", [10.0], 100.0, 50.0)  # $1,000: below the threshold
    for t in range(0, 240_000, 3_000):
        ch.tick(t)
    kinds = [(row[1], row[2]) for row in ch.liquidations]
    assert ("small", "book") in kinds
    partial_times = [row[0] for row in ch.liquidations if row[1] == "big" and row[2] == "partial"]
    assert len(partial_times) == 2 and np.diff(partial_times)[0] == 30_000  # the second after the cooldown
    assert kinds[-1] == ("big", "book")  # the second drop took it below 2/3 of maintenance: all at once
    assert ch.size[ch.rows["big"]].tolist() == [0.0]


def test_maintenance_tiers_count_each_slice_and_the_index_still_finds_everyone():
    """Brackets 1% to $50k, 2.5% to $200k, 5% above (dYdX v4 `margin.mdx`; Hyperliquid margining docs): a $300k position needs
    500 + 3,750 + 5,000; with tiers, random accounts are found by the index exactly as by the
    full check."""
    tiers = ((0.0, 0.01), (50_000.0, 0.025), (200_000.0, 0.05))
    market = PerpMarket("X", ConstantFeed(100.0), Venue(ConstantFeed(100.0), LinearDepth(1e12)), 50.0, mm_tiers=tiers)
    assert market.maintenance_usd(np.array([30_000.0, 300_000.0])).tolist() == [300.0, 9_250.0]
    assert market.initial_usd(np.array([300_000.0])).tolist() == [30_000.0]  # all of it at twice its bracket's 5%
    rng = np.random.default_rng(9)
    feed = StepFeed(100.0, 100.0 * rng.uniform(0.8, 1.2), 5_000)
    ch = Clearinghouse([PerpMarket("X", feed, Venue(feed, LinearDepth(1e12), half_life_ms=None), 50.0, mm_tiers=tiers)])
    n = 500
    sizes = rng.choice([-1.0, 1.0], n) * np.exp(rng.uniform(np.log(10.0), np.log(5_000.0), n))  # $1k … $500k
    ch.open_positions([f"a{i}" for i in range(n)], "X", sizes, 100.0, np.abs(sizes) * 100.0 * rng.uniform(0.012, 0.2, n))
    for t in (0, 6_000):
        assert ch.liquidatable(t).tolist() == ch.liquidatable_brute_force(t).tolist()
    assert ch.liquidatable(6_000).size > 0


def test_initial_margin_tiers_lower_the_leverage_of_large_orders():
    """Brackets 2% to $100k and 10% above (50× falling to 10×, dYdX v4 `margin.mdx`; Hyperliquid margining docs), the bracket's fraction on
    the whole notional: $10,000 of equity opens $399,000 flat at 50×, but under the tiers only
    up to $100,000 (at $101,000 the whole position needs 10%); an order the margin refuses
    changes nothing; closing needs no margin; withdrawals stop at the initial margin."""
    def market(**tiers):
        feed = ConstantFeed(100.0)
        return PerpMarket("X", feed, Venue(feed, LinearDepth(1e15), half_life_ms=None), 50.0, **tiers)

    flat, tiered = Clearinghouse([market()]), Clearinghouse([market(im_tiers=((0.0, 0.02), (100_000.0, 0.1)))])
    for ch in (flat, tiered):
        ch.deposit("a", 10_000.0)
    flat.trade("a", "X", 3_990.0, 0)  # $399,000 at 2%: $7,980 of margin
    row = tiered.rows["a"]
    tiered.trade("a", "X", 990.0, 0)  # $99,000 at 2%: $1,980
    assert float(tiered.initial(0, row)) == pytest.approx(1_980.0)
    state = (tiered.collateral[row], tiered.size[row].copy(), tiered.entry[row].copy(), tiered.snapshot[row].copy())
    with pytest.raises(ValueError, match="initial margin"):
        tiered.trade("a", "X", 20.0, 0)  # to $101,000: 10% of it all, $10,100 > $10,000
    after = (tiered.collateral[row], tiered.size[row], tiered.entry[row], tiered.snapshot[row])
    assert after[0] == state[0] and all((a == b).all() for a, b in zip(after[1:], state[1:]))
    assert float(tiered.maintenance(0, row)) == pytest.approx(990.0)  # half the fractions by default: 1% of 99k
    with pytest.raises(ValueError, match="cannot withdraw"):
        tiered.withdraw("a", 8_100.0, 0)
    tiered.withdraw("a", 8_000.0, 0)
    tiered.trade("a", "X", -990.0, 0)  # closing is always allowed
    with pytest.raises(ValueError, match="initial margin not above maintenance"):
        market(im_tiers=((0.0, 0.02), (100_000.0, 0.015)), mm_tiers=((0.0, 0.01), (100_000.0, 0.02)))
    with pytest.raises(ValueError, match="initial margin not above maintenance"):
        market(im_tiers=((0.0, 0.01),), mm_tiers=((0.0, 0.01),))  # on the liquidation line at once


def test_the_binance_mark_uses_the_last_rate_and_ignores_a_wick():
    """Hyperliquid oracle and mark-price docs; Binance Futures mark price: after an hour of a book 1% above the index, Binance's mark is the median of the
    funding-adjusted index, index + basis and the book's mid; a wick in the book (mid 90) moves
    Hyperliquid's median to the index but leaves Binance's at its two other legs."""
    from protocols.perps.math import binance_mark_price

    index = ConstantFeed(100.0)
    book_feed = CsvFeed([0, HOUR_MS + 30_000, HOUR_MS + 30_001], [101.0, 101.0, 90.0], "step")
    def venue(rule):
        return Clearinghouse([PerpMarket("X", index, Venue(book_feed, LinearDepth(1e15), half_life_ms=None), 20.0,
                                         impact_notional_usd=1_000.0, mark_rule=rule)])
    binance, hyperliquid = venue("binance"), venue("hyperliquid")
    for ch in (binance, hyperliquid):
        _run_hours(ch, 1)
        for t in range(HOUR_MS + 3_000, HOUR_MS + 30_001, 3_000):
            ch.tick(t)
    t = HOUR_MS + 30_001
    rate = binance.funding[-1][3]
    assert rate > 0 and binance.last_rate[0] == rate
    # the basis averaged over the ticks of the last 30 s: 1.0 at each tick up to HOUR+30,000 ms
    ticks = [u for u in range(HOUR_MS + 3_000, t, 3_000) if u > t - 30_000]
    basis = sum(book_feed.price_at(u) - 100.0 for u in ticks) / len(ticks)
    assert basis == pytest.approx(1.0)
    expected = binance_mark_price(100.0, rate, (2 * HOUR_MS - t) / 1000.0, 3_600.0, basis, 90.0)
    assert binance.mark(0, t) == pytest.approx(expected, rel=1e-12)
    assert binance.mark(0, t) > 100.0  # the wick is ignored: both other legs are above the index
    assert hyperliquid.mark(0, t) == pytest.approx(100.0)  # median(index 100, mid 90, index + basis > 100)
    with pytest.raises(ValueError, match="mark_rule"):
        venue("bybit")


def test_below_maintenance_an_account_may_still_reduce_but_not_add():
    """An account below maintenance (waiting between partial liquidation steps) can cut its
    position; it cannot add to it."""
    feed = StepFeed(100.0, 91.0, 10_000)
    ch = Clearinghouse([PerpMarket("X", feed, Venue(feed, LinearDepth(1e15), half_life_ms=None), 20.0)])
    ch.open_positions(["a"], "X", [100.0], 100.0, 1_000.0)  # 10×; the fall to 91 leaves 100 of equity
    r = ch.rows["a"]
    assert float(ch.equity(10_000, r)) < float(ch.maintenance(10_000, r))
    with pytest.raises(ValueError, match="only orders that reduce"):
        ch.trade("a", "X", 1.0, 10_000)
    ch.trade("a", "X", -60.0, 10_000)
    assert ch.size[r].tolist() == [40.0]
