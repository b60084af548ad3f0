"""Maker's integer arithmetic (``protocols.maker.exact``) against independent expectations: the
worked example of a Liquidations 2.0 auction (ETH-A-like: mat 1.45, chop 1.13, buf 1.2, cut
0.99 per 90 s, cusp 0.4, tail 8,400 s, chip 0.1 %, tip 300 DAI), rational closed forms, and
hand-computed cases of each rule (bark limits and dust, take's chost, tend/dent, flop)."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base.tx import Revert
from protocols.maker import exact as x
from protocols.maker.exact import RAD, RAY, WAD

MAT, CHOP, BUF = 145 * RAY // 100, 113 * WAD // 100, 12 * RAY // 10
CUT, STEP, CUSP, TAIL = 99 * RAY // 100, 90, 4 * RAY // 10, 8_400
CHIP, TIP = WAD // 1_000, 300 * RAD
BIG = 10**9 * RAD  # Hole and hole with room to spare


def _vault(price: int):
    """100 ETH, 120,000 DAI of debt (rate 1), OSM price ``price`` USD."""
    return 100 * WAD, 120_000 * WAD, RAY, x.spot_of(price * WAD, RAY, MAT)


# -- fixed point ------------------------------------------------------------------------------
@given(st.integers(0, 2 * RAY), st.integers(0, 64))
def test_rpow_is_the_power_within_one_unit_per_rounding(base, n):
    exact = Fraction(base, RAY) ** n * RAY
    result = x.rpow(base, n)
    assert abs(result - exact) <= max(1, 2 * n) * (1 + Fraction(base, RAY) ** n)


def test_rpow_rounds_each_square_half_up():
    # 1.5 ray to the 2nd: one product, 2.25 exactly; (RAY + 1)^2 rounds 1 + 2e-27 + 1e-54 to 1 + 2e-27
    assert x.rpow(3 * RAY // 2, 2) == 9 * RAY // 4
    assert x.rpow(RAY + 1, 2) == RAY + 2
    # (RAY/2 + 1)^2 / RAY = RAY/4 + 1 + 1/RAY: rounds to RAY/4 + 1; and a remainder of exactly one half rounds up
    assert x.rpow(RAY // 2 + 1, 2) == RAY // 4 + 1
    assert x.rpow(3, 2, 2) == 5 and x.rpow(3, 2, 4) == 2  # 9/2 = 4.5 → 5; 9/4 = 2.25 → 2


def test_a_five_percent_duty_compounds_to_five_percent_a_year():
    duty = 1000000001547125957863212448  # Maker's 5 %/yr per-second factor
    rate = x.drip(RAY, duty, 0, 31_536_000)
    assert abs(Fraction(rate, RAY) - Fraction(105, 100)) < Fraction(1, 10**18)
    # per second 1.05^(1/31,536,000) = 1.000000001547126 (mechanics of the Jug)
    assert duty / RAY == pytest.approx(1.05 ** (1 / 31_536_000), rel=1e-15)


# -- the unsafe condition and bark --------------------------------------------------------------
def test_the_worked_vault_is_unsafe_below_1740():
    # 100 × P / 1.45 < 120,000 ⇔ P < 1,740
    assert not x.unsafe(*_vault(1_741))
    assert x.unsafe(*_vault(1_739))
    ink, art, rate, _ = _vault(1_740)
    spot = x.spot_of(1_740 * WAD, RAY, MAT)  # 1,200 ray exactly: 1,740 / 1.45
    assert spot == 1_200 * RAY and not x.unsafe(ink, art, rate, spot)


def test_bark_of_the_worked_vault():
    b = x.bark(*_vault(1_700), 0, CHOP, BIG, 0, BIG, 0)
    assert b == (120_000 * WAD, 100 * WAD, 120_000 * RAD, 135_600 * RAD)
    assert x.keeper_coin(b.tab, TIP, CHIP) == 4356 * RAD // 10  # 300 + 0.001 × 135,600 = 435.6 DAI
    assert x.kick_top(1_700 * WAD, BUF) == 2_040 * RAY


def test_bark_with_little_room_liquidates_room_over_chop():
    room = 100_000 * RAD
    b = x.bark(*_vault(1_700), 0, CHOP, BIG, BIG - room, BIG, 0)
    # dart = 100,000 / 1.13 = 88,495.575221238938053097… DAI (rate 1), floored to the wad
    assert b.dart == 100_000 * 10**18 * 100 // 113
    assert b.dink == 100 * WAD * b.dart // (120_000 * WAD)
    assert b.tab <= room and room - b.tab < RAD  # the tab fills the room to within a DAI's rounding


def test_bark_takes_a_dusty_remainder_whole_and_refuses_a_dusty_auction():
    ink, art, rate, spot = _vault(1_700)
    # room for 119,000 DAI of debt: the 1,000 DAI left would be below a 5,000 DAI dust: all of it goes
    room = 119_000 * 113 * RAD // 100
    taken = x.bark(ink, art, rate, spot, 5_000 * RAD, CHOP, BIG, BIG - room, BIG, 0)
    assert taken.dart == art
    # room for 4,000 DAI only: the auction itself would be below the dust
    with pytest.raises(Revert, match="Dog/dusty-auction-from-partial-liquidation"):
        x.bark(ink, art, rate, spot, 5_000 * RAD, CHOP, BIG, BIG - 4_000 * 113 * RAD // 100, BIG, 0)
    with pytest.raises(Revert, match="Dog/liquidation-limit-hit"):
        x.bark(ink, art, rate, spot, 0, CHOP, BIG, BIG, BIG, 0)
    with pytest.raises(Revert, match="Dog/not-unsafe"):
        x.bark(*_vault(1_800), 0, CHOP, BIG, 0, BIG, 0)


def test_bite_is_capped_by_dunk_and_box():
    ink, art, rate, spot = _vault(1_700)
    dunk = 50_000 * RAD
    b = x.bite(ink, art, rate, spot, 0, CHOP, dunk, BIG, 0)
    assert b.dart == 50_000 * WAD * 100 // 113 and b.tab <= dunk
    with pytest.raises(Revert, match="Cat/liquidation-limit-hit"):
        x.bite(ink, art, rate, spot, 100 * RAD, CHOP, dunk, 1_000 * RAD, 1_000 * RAD - 50 * RAD)


# -- the Dutch auction -------------------------------------------------------------------------
def test_stairstep_price_after_1800_seconds():
    price = x.stairstep_exponential_decrease(2_040 * RAY, 1_800, STEP, CUT)
    assert abs(Fraction(price, RAY) - 2_040 * Fraction(99, 100) ** 20) < Fraction(1, 10**20)
    assert round(price / RAY, 3) == 1_668.530
    # the price holds within a step and falls at its end
    assert x.stairstep_exponential_decrease(2_040 * RAY, 1_889, STEP, CUT) == price
    assert x.stairstep_exponential_decrease(2_040 * RAY, 1_890, STEP, CUT) < price


def test_a_keeper_taking_everything_pays_the_tab_and_returns_the_rest():
    price = x.stairstep_exponential_decrease(2_040 * RAY, 1_800, STEP, CUT)
    t = x.take(100 * WAD, 135_600 * RAD, 100 * WAD, price, price, 0)
    assert t.owe == 135_600 * RAD and t.tab == 0
    assert t.slice == 135_600 * RAD // price  # 81.26913 ETH
    assert round(t.slice / WAD, 5) == 81.26913 and round(t.lot / WAD, 5) == 18.73087


def test_cusp_resets_the_worked_auction_at_92_steps():
    top = 2_040 * RAY

    def done(dur):
        return x.clip_status(top, x.stairstep_exponential_decrease(top, dur, STEP, CUT), dur, TAIL, CUSP)

    assert not done(91 * 90 + 89)  # 0.99^91 = 0.4007 ≥ 0.4
    assert done(92 * 90)  # 0.99^92 = 0.3967: 8,280 s, before the tail of 8,400 s
    assert x.clip_status(top, top, TAIL + 1, TAIL, CUSP) and not x.clip_status(top, top, TAIL, TAIL, CUSP)


def test_linear_and_exponential_curves():
    assert x.linear_decrease(2_040 * RAY, 900, 3_600) == 1_530 * RAY
    assert x.linear_decrease(2_040 * RAY, 3_600, 3_600) == 0
    per_second = RAY - RAY // 1_000  # 0.999 a second
    price = x.exponential_decrease(2_040 * RAY, 600, per_second)
    assert abs(Fraction(price, RAY) - 2_040 * Fraction(999, 1_000) ** 600) < Fraction(1, 10**20)


def test_take_never_leaves_a_tab_below_chost():
    price = 10 * RAY  # 10 DAI per ETH
    chost = 100 * RAD
    # buying 95 ETH of 100 would leave 50 DAI of a 1,000 DAI tab: it buys 900 DAI's worth instead
    t = x.take(100 * WAD, 1_000 * RAD, 95 * WAD, price, price, chost)
    assert (t.owe, t.slice, t.tab, t.lot) == (900 * RAD, 90 * WAD, 100 * RAD, 10 * WAD)
    with pytest.raises(Revert, match="Clipper/no-partial-purchase"):
        x.take(100 * WAD, 100 * RAD, 5 * WAD, price, price, chost)
    with pytest.raises(Revert, match="Clipper/too-expensive"):
        x.take(100 * WAD, 1_000 * RAD, 5 * WAD, price, price - 1, chost)
    # the whole lot may always be bought, dust or not
    t = x.take(100 * WAD, 100 * RAD, 100 * WAD, price, price, chost)
    assert (t.owe, t.slice, t.tab, t.lot) == (100 * RAD, 10 * WAD, 0, 90 * WAD)


def test_redo_pays_the_incentive_only_for_a_non_dusty_auction():
    chost = x.chost_of(5_000 * RAD, CHOP)
    assert chost == 5_650 * RAD
    feed = x.feed_price(1_000 * WAD)
    assert x.redo_coin(10_000 * RAD, 10 * WAD, feed, TIP, CHIP, chost) == TIP + 10 * RAD
    assert x.redo_coin(5_000 * RAD, 10 * WAD, feed, TIP, CHIP, chost) == 0  # tab below chost
    assert x.redo_coin(10_000 * RAD, 5 * WAD, feed, TIP, CHIP, chost) == 0  # the lot is worth 5,000 < chost


# -- Liquidations 1.2 and the debt auction ------------------------------------------------------
BEG = 103 * WAD // 100  # 3 %


def test_a_one_wei_bid_opens_a_flip_auction():
    x.check_tend(50 * WAD, 1, 50 * WAD, 0, 10_000 * RAD, BEG)  # the "zero bid" of 12 March 2020
    with pytest.raises(Revert, match="Flipper/bid-not-higher"):
        x.check_tend(50 * WAD, 0, 50 * WAD, 0, 10_000 * RAD, BEG)


def test_tend_needs_beg_over_the_last_bid_unless_it_is_the_tab():
    cur = 1_000 * RAD
    x.check_tend(50 * WAD, 1_030 * RAD, 50 * WAD, cur, 10_000 * RAD, BEG)
    with pytest.raises(Revert, match="Flipper/insufficient-increase"):
        x.check_tend(50 * WAD, 1_029 * RAD, 50 * WAD, cur, 10_000 * RAD, BEG)
    x.check_tend(50 * WAD, 1_010 * RAD, 50 * WAD, cur, 1_010 * RAD, BEG)  # the tab itself: any increase
    with pytest.raises(Revert, match="Flipper/higher-than-tab"):
        x.check_tend(50 * WAD, 1_011 * RAD, 50 * WAD, cur, 1_010 * RAD, BEG)
    with pytest.raises(Revert, match="Flipper/lot-not-matching"):
        x.check_tend(49 * WAD, 1_030 * RAD, 50 * WAD, cur, 10_000 * RAD, BEG)


def test_dent_asks_for_beg_less_collateral_at_the_tab():
    tab = 10_000 * RAD
    x.check_dent(48 * WAD, tab, 50 * WAD, tab, tab, BEG)  # 48 × 1.03 = 49.44 ≤ 50
    with pytest.raises(Revert, match="Flipper/insufficient-decrease"):
        x.check_dent(49 * WAD, tab, 50 * WAD, tab, tab, BEG)  # 49 × 1.03 = 50.47 > 50
    with pytest.raises(Revert, match="Flipper/tend-not-finished"):
        x.check_dent(40 * WAD, tab - RAD, 50 * WAD, tab - RAD, tab, BEG)
    assert x.flip_done(now=1_000, tic=999, end=5_000) and not x.flip_done(1_000, 0, 900)
    assert x.flip_done(1_000, 2_000, 999) and not x.flip_done(1_000, 1_000, 1_000)


def test_flop_lots_fall_by_beg_and_grow_by_pad_on_a_restart():
    lot, bid = 250 * WAD, 50_000 * RAD
    x.check_flop_dent(lot * 100 // 105, bid, lot, bid, 105 * WAD // 100)
    with pytest.raises(Revert, match="Flopper/insufficient-decrease"):
        x.check_flop_dent(lot - WAD, bid, lot, bid, 105 * WAD // 100)
    assert x.flop_tick_lot(lot, 15 * WAD // 10) == 375 * WAD  # pad 1.5


def test_flap_bids_rise_by_beg_and_the_vow_flaps_only_a_clean_surplus():
    lot, beg = 10_000 * RAD, 105 * WAD // 100
    x.check_flap_tend(lot, 105 * WAD, lot, 100 * WAD, beg)  # exactly 5 % more
    with pytest.raises(Revert, match="Flapper/insufficient-increase"):
        x.check_flap_tend(lot, 105 * WAD - 1, lot, 100 * WAD, beg)
    with pytest.raises(Revert, match="Flapper/bid-not-higher"):
        x.check_flap_tend(lot, 0, lot, 0, beg)
    with pytest.raises(Revert, match="Flapper/lot-not-matching"):
        x.check_flap_tend(lot - 1, 105 * WAD, lot, 100 * WAD, beg)
    x.check_flap_tend(lot, 1, lot, 0, beg)  # the first bid: anything above 0
    # Vow.flap: 60k DAI against 40k of sin (all queued) with bump 10k and hump 10k
    x.check_flap(60_000 * RAD, 40_000 * RAD, 40_000 * RAD, 0, 10_000 * RAD, 10_000 * RAD)
    with pytest.raises(Revert, match="Vow/insufficient-surplus"):
        x.check_flap(60_000 * RAD - 1, 40_000 * RAD, 40_000 * RAD, 0, 10_000 * RAD, 10_000 * RAD)
    with pytest.raises(Revert, match="Vow/debt-not-zero"):  # 1 rad of it free: heal it first
        x.check_flap(60_000 * RAD, 40_000 * RAD, 40_000 * RAD - 1, 0, 10_000 * RAD, 10_000 * RAD)


def test_flip_rules_reject_what_they_should_in_order():
    # the reason is the first failed require, as in the contract
    with pytest.raises(Revert, match="Flipper/not-matching-bid"):
        x.check_dent(40 * WAD, 1, 50 * WAD, 2, 2, BEG)
    assert math.isclose(BEG / WAD, 1.03)


# -- the Vat's books in integers ----------------------------------------------------------------
USERS = ("alice", "bob", "carol")
_op = st.tuples(st.sampled_from(["frob", "price", "bark", "take", "fold", "suck", "heal"]), st.sampled_from(USERS),
                st.integers(-50, 100), st.integers(-50_000, 150_000), st.integers(0, 10**6))


def _check_books(v: x.ExactVat, joined: int) -> None:
    assert v.debt == v.vice + v.Art * v.rate  # the fundamental equation of DAI
    assert sum(v.dai.values()) == v.debt and sum(v.sin.values()) == v.vice
    assert sum(v.gem.values()) + sum(ink for ink, _ in v.urns.values()) == joined  # collateral only by joins
    assert sum(art for _, art in v.urns.values()) == v.Art


@settings(max_examples=200, deadline=None)
@given(st.lists(_op, max_size=40))
def test_the_vats_books_hold_exactly_after_any_sequence(ops):
    v = x.ExactVat(spot=x.spot_of(2_000 * WAD, RAY, MAT), dust=100 * RAD)
    joined = 0
    for u in USERS:
        v.slip(u, 100 * WAD)
        joined += 100 * WAD
    for kind, u, dink, dart, k in ops:
        try:
            if kind == "frob":
                v.frob(u, dink * WAD, dart * WAD // 2)
            elif kind == "price":
                v.spot = x.spot_of((100 + k % 2_000) * WAD, RAY, MAT)
            elif kind == "bark" and u in v.urns:
                ink, art = v.urns[u]
                b = x.bark(ink, art, v.rate, v.spot, v.dust, CHOP, BIG, 0, BIG, 0)
                v.grab(u, "clip", "vow", -b.dink, -b.dart)
            elif kind == "take" and v.gem.get("clip", 0) > 0:
                wad = min(v.gem["clip"], k * 10**14 + 1)
                owe = wad * (k % 3_000 + 1) * RAY // 1  # any price: the books do not depend on it
                v.move(u, "vow", min(owe, v.dai.get(u, 0)))
                v.flux("clip", u, wad)
            elif kind == "fold":
                v.fold("vow", k * 10**15)
            elif kind == "suck":
                v.suck("vow", u, k * RAD)
            elif kind == "heal":
                v.heal("vow", min(v.sin.get("vow", 0), v.dai.get("vow", 0), k * RAD))
        except Revert:
            pass
        _check_books(v, joined)


def test_exact_vat_frob_refuses_like_the_vat():
    v = x.ExactVat(spot=x.spot_of(1_740 * WAD, RAY, MAT), dust=5_000 * RAD, line=130_000 * RAD)
    v.slip("alice", 100 * WAD)
    with pytest.raises(Revert, match="Vat/not-safe"):
        v.frob("alice", 100 * WAD, 120_001 * WAD)  # 100 × 1,740 / 1.45 = 120,000
    with pytest.raises(Revert, match="Vat/dust"):
        v.frob("alice", 100 * WAD, 4_999 * WAD)
    v.frob("alice", 100 * WAD, 120_000 * WAD)
    assert v.dai["alice"] == 120_000 * RAD and v.debt == 120_000 * RAD
    v.slip("bob", 100 * WAD)
    with pytest.raises(Revert, match="Vat/ceiling-exceeded"):
        v.frob("bob", 100 * WAD, 10_001 * WAD)
