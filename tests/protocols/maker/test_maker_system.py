"""The Maker system on the engine (``maker.dss``) through real calls: the worked Liquidations 2.0
example (ETH-A-like: mat 1.45, chop 1.13, buf 1.2, cut 0.99 per 90 s, tip 300 DAI, chip 0.1 %),
the Vat's checks, the stability fee, a take that sells on chain, a Flipper auction closing on a
near-zero bid, the Vow's debt auction; and after every step the accounting identities: DAI
supply = the Vat's debt = system debt + Σ Art·rate, and the collateral held = Σ ink + the lots
under auction."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from defisim.base.eventlog import EventLog
from defisim.base.protocol import BlockInfo
from defisim.base.tx import Call, Tx, TxStatus
from defisim.chain.execution import Executor
from protocols.amm.model import CpmmPool
from protocols.amm.params import CpmmParams
from protocols.maker import MakerParams, MakerSystem
from protocols.oracles import FixedOracle
from protocols.oracles.params import FixedOracleParams
from protocols.token import LedgerParams, TokenLedger

ETH_A = dict(gem="weth", osm="eth_usd", mat=1.45, chop=1.13,
             clip=dict(buf=1.2, tail="8400s", cusp=0.4, chip=0.001, tip_dai=300.0,
                       calc=dict(kind="stairstep", step="90s", cut=0.99)))
INCLUDED, REVERTED = TxStatus.INCLUDED, TxStatus.REVERTED


class Host:
    def __init__(self):
        self.log = EventLog()
        self.protocols = {}


class System:
    """WETH, DAI and MKR ledgers, a fixed ETH price a test can set, a Maker system, an optional pair."""

    def __init__(self, ilk=ETH_A, pair=None, **maker_args):
        self.host = h = Host()
        h.protocols["weth"] = TokenLedger("weth", LedgerParams(symbol="WETH", initial_balances={
            "alice": 100.0, "bob": 1_000.0, "carol": 10.0}), h)
        h.protocols["dai"] = TokenLedger("dai", LedgerParams(symbol="DAI", minter="maker"), h)
        h.protocols["mkr"] = TokenLedger("mkr", LedgerParams(symbol="MKR", minter="maker"), h)
        h.protocols["eth_usd"] = FixedOracle("eth_usd", FixedOracleParams(price=2_000.0), h)
        if pair is not None:
            weth, dai = pair
            h.protocols["weth"].issue_quietly("pair", weth)
            h.protocols["pair"] = CpmmPool("pair", CpmmParams(
                token0="WETH", token1="DAI", reserve0=weth, reserve1=dai, ledgers={"WETH": "weth", "DAI": "dai"}), h)
        params = MakerParams(dai="dai", gov="mkr", ilks={"ETH-A": ilk}, **maker_args)
        h.protocols["maker"] = self.maker = MakerSystem("maker", params, h)
        self.ex = Executor(h.protocols)
        self.seq = 0
        self.at(0)
        self.pair_dai = 0.0 if pair is None else pair[1]  # DAI the pair was opened with (not minted by the Vat)

    def at(self, seconds):
        """Begin the block at ``seconds`` (block time)."""
        self.ex.begin_block(BlockInfo(seconds // 12 + 1, seconds // 12 + 1, seconds * 1000, 20.0, 30_000_000))

    def call(self, sender, method, **args):
        self.seq += 1
        tx = Tx(sender, self.seq, Call("maker", method, args), 1_000_000, 100.0, 1.0, False, -1, self.seq, 0, 0)
        status, reason, _gas, result = self.ex.execute(tx)
        return status, reason, result

    def ok(self, sender, method, **args):
        status, reason, result = self.call(sender, method, **args)
        assert status == INCLUDED, reason
        self.check_books()
        return result

    def set_price(self, usd):
        self.host.protocols["eth_usd"].state = usd

    def balance(self, token, who):
        return self.host.protocols[token].balance_of(who)

    def check_books(self):
        """The Vat's identities (dss `vat.sol`: debt = vice + Σ Art·rate; DAI exists only as Vat debt)."""
        m, s = self.maker, self.maker.state
        dai = self.host.protocols["dai"].state.total_supply - self.pair_dai
        assert dai == pytest.approx(s.debt, rel=1e-12, abs=1e-6)
        assert s.debt == pytest.approx(s.vice + float(s.Art @ s.rate), rel=1e-12, abs=1e-6)
        assert float(s.urns["art"].sum()) == pytest.approx(float(s.Art.sum()), rel=1e-12, abs=1e-9)
        lots = float(s.sales["lot"][s.sales["alive"]].sum() + s.flips["lot"][s.flips["alive"]].sum())
        assert self.balance("weth", "maker") == pytest.approx(float(s.urns["ink"].sum()) + lots, rel=1e-12, abs=1e-9)
        assert (s.urns["ink"] >= 0).all() and (s.urns["art"] >= 0).all()
        assert s.Sin >= -1e-6 and s.Ash >= -1e-6 and s.vice >= -1e-6


def _open(m: System, who="alice", ink=100.0, dai=120_000.0):
    m.ok(who, "frob", ilk="ETH-A", dink=ink, dart=dai / float(m.maker.state.rate[0]))


def test_the_worked_auction_through_calls():
    m = System()
    _open(m)
    _open(m, "bob", 1_000.0, 500_000.0)
    m.set_price(1_700.0)
    assert m.maker.unsafe().size == 0  # the Spotter has not read the new price yet
    m.ok("keeper", "poke", ilk="ETH-A")
    assert m.maker.unsafe().tolist() == [0]
    auction = m.ok("keeper", "bark", ilk="ETH-A", vault="alice")
    sale = m.maker.state.sales
    assert (sale["tab"][auction], sale["lot"][auction], sale["top"][auction]) == pytest.approx((135_600.0, 100.0, 2_040.0))
    assert m.balance("dai", "keeper") == pytest.approx(435.6)  # tip 300 + 0.1 % of the tab
    assert m.maker.vault("alice")[1:] == (0.0, 0.0)
    m.at(1_800)
    price, done = m.maker.auction_price(auction)
    assert price == pytest.approx(1_668.530, abs=5e-4) and not done
    bought = m.ok("bob", "take", auction_id=auction, amt=100.0, max_price=1_700.0)
    assert bought == pytest.approx(81.26913, abs=5e-6)
    assert m.maker.vault("alice")[1] == pytest.approx(18.73087, abs=5e-6)  # the rest returned to the vault
    assert m.balance("dai", "bob") == pytest.approx(500_000.0 - 135_600.0)
    assert not sale["alive"][auction] and m.maker.state.Dirt == pytest.approx(0.0, abs=1e-6)
    row = m.host.log.tables["maker_auctions"].rows[-1]
    assert row[8] == pytest.approx(135_600.0) and row[-1] == 0.0 and not row[-2]  # proceeds; no loss; not zero-bid


def test_take_needs_the_price_and_a_running_unreset_auction():
    m = System()
    _open(m)
    _open(m, "bob", 1_000.0, 500_000.0)
    m.set_price(1_700.0)
    m.ok("keeper", "poke", ilk="ETH-A")
    k = m.ok("keeper", "bark", ilk="ETH-A", vault="alice")
    assert m.call("bob", "take", auction_id=k, amt=100.0, max_price=2_000.0)[1] == "Clipper/too-expensive"
    assert m.call("keeper", "redo", auction_id=k)[1] == "Clipper/cannot-reset"
    m.at(92 * 90)  # 0.99^92 < cusp 0.4
    assert m.call("bob", "take", auction_id=k, amt=1.0, max_price=1e9)[1] == "Clipper/needs-reset"
    m.ok("keeper2", "redo", auction_id=k)
    assert m.maker.state.sales["top"][k] == pytest.approx(2_040.0)
    assert m.balance("dai", "keeper2") == pytest.approx(435.6)  # tab and lot are above chost (0): paid again
    assert m.call("bob", "take", auction_id=7, amt=1.0, max_price=1e9)[1] == "Clipper/not-running-auction"


def test_frob_reverts_like_the_vat_and_changes_nothing():
    m = System(ilk={**ETH_A, "dust_dai": 5_000.0, "line_dai": 200_000.0})
    before = copy.deepcopy(m.maker.state)
    assert m.call("alice", "frob", ilk="ETH-A", dink=100.0, dart=140_000.0)[1] == "Vat/not-safe"  # 100 × 2,000 / 1.45 = 137,931
    assert m.call("alice", "frob", ilk="ETH-A", dink=100.0, dart=1_000.0)[1] == "Vat/dust"
    assert m.call("bob", "frob", ilk="ETH-A", dink=1_000.0, dart=250_000.0)[1] == "Vat/ceiling-exceeded"
    assert m.call("carol", "frob", ilk="ETH-A", dink=11.0, dart=0.0)[1] == "insufficient collateral balance"
    assert m.call("alice", "frob", ilk="BTC-A", dink=1.0, dart=0.0)[1].startswith("Vat/ilk-not-init")
    assert m.maker.state.urns.size == before.urns.size and m.maker.state.debt == before.debt
    _open(m, "alice", 100.0, 100_000.0)
    m.ok("alice", "frob", ilk="ETH-A", dink=0.0, dart=-50_000.0)  # repay half: DAI burnt
    assert m.balance("dai", "alice") == pytest.approx(50_000.0) and m.maker.vault("alice")[2] == pytest.approx(50_000.0)
    m.ok("alice", "frob", ilk="ETH-A", dink=-50.0, dart=0.0)
    assert m.balance("weth", "alice") == pytest.approx(50.0)


def test_a_five_percent_fee_for_a_year():
    m = System(ilk={**ETH_A, "stability_fee": 0.05})
    _open(m)
    m.at(31_536_000)
    rate = m.ok("anyone", "drip", ilk="ETH-A")
    assert rate == pytest.approx(1.05, rel=1e-12)
    assert m.maker.vault("alice")[2] == pytest.approx(126_000.0, rel=1e-12)
    assert m.maker.surplus() == pytest.approx(6_000.0, rel=1e-9)  # the interest, minted to the Vow


def _barked(m: System, price=1_700.0):
    _open(m)
    m.set_price(price)
    m.ok("keeper", "poke", ilk="ETH-A")
    return m.ok("keeper", "bark", ilk="ETH-A", vault="alice")


def test_take_and_sell_pays_from_an_on_chain_sale_or_reverts_whole():
    m = System(pair=(10_000.0, 17_000_000.0))  # WETH/DAI at 1,700, 17M DAI deep
    k = _barked(m)
    m.at(1_800)
    kept = m.ok("searcher", "take_and_sell", auction_id=k, amt=100.0, max_price=1_700.0, swap_pool="pair")
    slice_ = 135_600.0 / m.maker.auction_price(k)[0]
    out = 17_000_000.0 * slice_ * 0.997 / (10_000.0 + slice_ * 0.997)  # Uniswap v2 getAmountOut
    assert kept == pytest.approx(out - 135_600.0, rel=1e-9) and m.balance("dai", "searcher") == pytest.approx(kept, rel=1e-9)
    assert m.balance("weth", "searcher") == 0.0
    # a pair too thin for the slice: the sale does not cover the tab; nothing moves
    thin = System(pair=(50.0, 85_000.0))
    k = _barked(thin)
    thin.at(1_800)
    before = (copy.deepcopy(thin.maker.state.sales), thin.balance("weth", "maker"), thin.balance("dai", "maker"))
    status, reason, _ = thin.call("searcher", "take_and_sell", auction_id=k, amt=100.0, max_price=1_700.0, swap_pool="pair")
    assert status == REVERTED and reason == "clipperCall: the sale does not cover the DAI owed"
    assert thin.maker.state.sales.equals(before[0]) and thin.balance("weth", "maker") == before[1]


FLIP_A = {**ETH_A, "auction": "flip", "flip": dict(beg=1.03, ttl="10min", tau="6h", dunk_dai=50_000.0)}


def test_a_flip_auction_closes_on_a_near_zero_bid_and_books_the_loss():
    m = System(ilk=FLIP_A)
    _open(m)
    _open(m, "bob", 1_000.0, 500_000.0)
    m.set_price(1_700.0)
    m.ok("keeper", "poke", ilk="ETH-A")
    assert m.call("keeper", "bark", ilk="ETH-A", vault="alice")[1] == "ETH-A liquidates by bite (Liquidations 1.2)"
    k = m.ok("keeper", "bite", ilk="ETH-A", vault="alice")
    flips = m.maker.state.flips
    due = 50_000.0 / 1.13
    assert flips["tab"][k] == pytest.approx(50_000.0) and flips["due"][k] == pytest.approx(due)
    assert flips["lot"][k] == pytest.approx(100.0 * due / 120_000.0)
    assert m.maker.vault("alice")[2] == pytest.approx(120_000.0 - due)  # dunk-capped: a partial liquidation
    assert m.call("bob", "deal", auction_id=k)[1] == "Flipper/not-finished"
    m.ok("bob", "tend", auction_id=k, lot=float(flips["lot"][k]), bid=1e-18)  # "0 DAI"
    assert m.call("bob", "deal", auction_id=k)[1] == "Flipper/not-finished"
    m.at(601)  # the bid's ttl (10 minutes) is over, nobody else bid
    lot = float(flips["lot"][k])
    m.ok("anyone", "deal", auction_id=k)
    assert m.balance("weth", "bob") == pytest.approx(lot) and m.maker.state.litter == pytest.approx(0.0, abs=1e-6)
    row = m.host.log.tables["maker_auctions"].rows[-1]
    assert row[-2] and row[-1] == pytest.approx(due)  # zero bid; the whole debt taken is lost
    assert m.host.log.tables["maker_losses"].rows[-1][-1] == pytest.approx(due)


def test_flip_bids_move_dai_to_the_last_bidder_and_the_vow():
    m = System(ilk=FLIP_A)
    _open(m)
    _open(m, "bob", 1_000.0, 500_000.0)
    m.ok("bob", "frob", ilk="ETH-A", dink=0.0, dart=0.0)
    m.set_price(1_700.0)
    m.ok("keeper", "poke", ilk="ETH-A")
    k = m.ok("keeper", "bite", ilk="ETH-A", vault="alice")
    lot = float(m.maker.state.flips["lot"][k])
    m.ok("bob", "tend", auction_id=k, lot=lot, bid=10_000.0)
    assert m.call("alice", "tend", auction_id=k, lot=lot, bid=10_200.0)[1] == "Flipper/insufficient-increase"
    m.ok("alice", "tend", auction_id=k, lot=lot, bid=50_000.0 - 1e-9 * 0)  # alice holds 120,000 DAI
    assert m.balance("dai", "bob") == pytest.approx(500_000.0)  # bob's bid came back
    assert m.maker.surplus() == pytest.approx(50_000.0)
    m.ok("bob", "dent", auction_id=k, lot=lot / 1.05, bid=50_000.0)
    assert m.balance("dai", "alice") == pytest.approx(120_000.0)  # alice's bid came back from bob
    assert m.maker.vault("alice")[1] == pytest.approx(100.0 - lot + (lot - lot / 1.05))  # the lot given up returns


def test_the_vow_releases_heals_and_auctions_its_debt():
    m = System(ilk=FLIP_A, vow=dict(wait="1h", sump_dai=10_000.0, dump=100.0, beg=1.05, ttl="1h", tau="1d"))
    _open(m)
    _open(m, "bob", 1_000.0, 500_000.0)
    m.set_price(1_700.0)
    m.ok("keeper", "poke", ilk="ETH-A")
    k = m.ok("keeper", "bite", ilk="ETH-A", vault="alice")
    m.ok("bob", "tend", auction_id=k, lot=float(m.maker.state.flips["lot"][k]), bid=1.0)
    m.at(601)
    m.ok("anyone", "deal", auction_id=k)
    due = 50_000.0 / 1.13
    assert m.maker.bad_debt() == 0.0 and m.call("vow", "flop")[1] == "Vow/insufficient-debt"
    assert m.call("vow", "flog", era_s=0)[1] == "Vow/wait-not-finished"
    m.at(3_600)
    m.ok("vow", "flog", era_s=0)
    assert m.maker.bad_debt() == pytest.approx(due)
    assert m.call("vow", "flop")[1] == "Vow/surplus-not-zero"  # the 1 DAI bid is surplus
    m.ok("vow", "heal", dai=1.0)
    f = m.ok("vow", "flop")
    assert m.maker.state.Ash == pytest.approx(10_000.0)
    m.ok("bob", "flop_dent", auction_id=f, lot=90.0)  # 100 / 1.05 = 95.2: 90 is enough of a decrease
    assert m.maker.state.Ash == pytest.approx(0.0) and m.maker.bad_debt() == pytest.approx(due - 1.0 - 10_000.0)
    assert m.call("bob", "flop_deal", auction_id=f)[1] == "Flopper/not-finished"
    m.at(3_600 + 3_601)
    m.ok("anyone", "flop_deal", auction_id=f)
    assert m.balance("mkr", "bob") == 90.0 and m.host.protocols["mkr"].state.total_supply == 90.0


def test_a_surplus_auction_sells_the_vows_dai_for_tokens_it_burns():
    flap = dict(bump_dai=5_000.0, hump_dai=500.0, beg=1.05, ttl="1h", tau="1d")
    m = System(ilk={**ETH_A, "stability_fee": 0.05}, vow=dict(flap=flap))
    mkr = m.host.protocols["mkr"]
    mkr.issue_quietly("bob", 100.0)
    mkr.issue_quietly("carol", 100.0)
    _open(m)
    m.at(15_768_000)  # half a year: 120,000 × (√1.05 − 1) = 2,964.6 DAI of fees, short of bump + hump
    m.ok("anyone", "drip", ilk="ETH-A")
    assert m.call("vow", "flap")[1] == "Vow/insufficient-surplus"
    m.at(31_536_000)  # a year: 6,000 DAI of surplus
    m.ok("anyone", "drip", ilk="ETH-A")
    k = m.ok("vow", "flap")
    assert m.balance("dai", "maker/flapper") == 5_000.0 and m.maker.surplus() == pytest.approx(1_000.0)
    t0 = 31_536_000
    m.ok("bob", "flap_tend", auction_id=k, lot=5_000.0, bid=10.0)
    assert m.call("carol", "flap_tend", auction_id=k, lot=5_000.0, bid=10.4)[1] == "Flapper/insufficient-increase"
    assert m.call("carol", "flap_tend", auction_id=k, lot=4_000.0, bid=20.0)[1] == "Flapper/lot-not-matching"
    m.ok("carol", "flap_tend", auction_id=k, lot=5_000.0, bid=10.5)
    assert m.balance("mkr", "bob") == 100.0 and m.balance("mkr", "carol") == 89.5  # bob's bid came back
    assert m.balance("mkr", "maker/flapper") == 10.5
    m.at(t0 + 3_600)
    assert m.call("anyone", "flap_deal", auction_id=k)[1] == "Flapper/not-finished"  # tic = now: not yet
    m.at(t0 + 3_601)
    m.ok("anyone", "flap_deal", auction_id=k)
    assert m.balance("dai", "carol") == 5_000.0 and mkr.state.total_supply == pytest.approx(189.5)
    assert m.balance("mkr", "maker/flapper") == 0.0
    tables = m.host.log.frames()
    assert m.maker.summary(tables)["gov_burnt"] == 10.5 and m.maker.summary(tables)["surplus_auctioned_dai"] == 5_000.0
    # no bid: the auction restarts once it ended, and can't be dealt
    m.at(63_072_000)
    m.ok("anyone", "drip", ilk="ETH-A")
    k2 = m.ok("vow", "flap")
    m.at(63_072_000 + 86_401)
    assert m.call("anyone", "flap_deal", auction_id=k2)[1] == "Flapper/not-finished"
    m.ok("anyone", "flap_tick", auction_id=k2)
    assert m.maker.state.flaps["end_s"][k2] == 63_072_000 + 86_401 + 86_400


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["price", "frob", "bark", "take", "drip", "redo"]), st.floats(0.0, 1.0)),
                max_size=25))
def test_the_books_balance_after_any_sequence(steps):
    """Random sequences of vault changes, price moves, liquidations, takes and fee accrual."""
    m = System(ilk={**ETH_A, "stability_fee": 0.2, "dust_dai": 100.0})
    _open(m, "bob", 1_000.0, 400_000.0)
    _open(m, "alice", 100.0, 110_000.0)
    t = 0
    for kind, u in steps:
        t += 60
        m.at(t)
        if kind == "price":
            m.set_price(1_000.0 + 1_500.0 * u)
            m.call("keeper", "poke", ilk="ETH-A")
        elif kind == "frob":
            m.call("alice", "frob", ilk="ETH-A", dink=(u - 0.5) * 20.0, dart=(u - 0.3) * 20_000.0)
        elif kind == "bark":
            m.call("keeper", "bark", ilk="ETH-A", vault="alice")
        elif kind == "take":
            alive = np.flatnonzero(m.maker.state.sales["alive"])
            if alive.size:
                m.call("bob", "take", auction_id=int(alive[0]), amt=100.0 * u + 1e-3, max_price=1e9)
        elif kind == "drip":
            m.call("anyone", "drip", ilk="ETH-A")
        else:
            alive = np.flatnonzero(m.maker.state.sales["alive"])
            if alive.size:
                m.call("keeper", "redo", auction_id=int(alive[0]))
        m.check_books()


class PsmSystem(System):
    """ETH-A and a USDC PSM ilk (tin 0.1 %, tout 0.2 %, a 1,000 USDC ceiling)."""

    def __init__(self, line=1_000.0, holding=0.0):
        self.host = h = Host()
        h.protocols["weth"] = TokenLedger("weth", LedgerParams(symbol="WETH"), h)
        h.protocols["usdc"] = TokenLedger("usdc", LedgerParams(symbol="USDC", initial_balances={"arb": 5_000.0}), h)
        h.protocols["dai"] = TokenLedger("dai", LedgerParams(symbol="DAI", minter="maker"), h)
        h.protocols["eth_usd"] = FixedOracle("eth_usd", FixedOracleParams(price=2_000.0), h)
        h.protocols["usd"] = FixedOracle("usd", FixedOracleParams(price=1.0), h)
        psm = dict(gem="usdc", osm="usd", mat=1.0, line_dai=line, psm=dict(tin=0.001, tout=0.002, holding=holding, holder="carol"))
        params = MakerParams(dai="dai", ilks={"ETH-A": ETH_A, "PSM-USDC-A": psm})
        h.protocols["maker"] = self.maker = MakerSystem("maker", params, h)
        self.ex = Executor(h.protocols)
        self.seq = 0
        self.pair_dai = 0.0
        self.at(0)

    def check_books(self):
        m, s = self.maker, self.maker.state
        assert self.host.protocols["dai"].state.total_supply == pytest.approx(s.debt, rel=1e-12, abs=1e-9)
        assert s.debt == pytest.approx(s.vice + float(s.Art @ s.rate), rel=1e-12, abs=1e-9)
        assert self.balance("usdc", "maker") == pytest.approx(float(s.urns["ink"][s.urns["ilk"] == 1].sum()), abs=1e-9)


def test_the_psm_swaps_one_for_one_less_its_fees_under_its_ceiling():
    m = PsmSystem()
    assert m.ok("arb", "sell_gem", ilk="PSM-USDC-A", amount=600.0) == pytest.approx(599.4)  # tin 0.1 %
    assert m.balance("dai", "arb") == pytest.approx(599.4) and m.maker.surplus() == pytest.approx(0.6)
    assert m.maker.vault("psm:PSM-USDC-A") == ("PSM-USDC-A", 600.0, 600.0)
    status, reason, _ = m.call("arb", "sell_gem", ilk="PSM-USDC-A", amount=500.0)  # 1,100 > the 1,000 ceiling
    assert status == REVERTED and reason == "Vat/ceiling-exceeded"
    assert m.ok("arb", "buy_gem", ilk="PSM-USDC-A", amount=200.0) == pytest.approx(200.4)  # tout 0.2 %
    assert m.balance("usdc", "arb") == pytest.approx(5_000.0 - 600.0 + 200.0)
    assert m.balance("dai", "arb") == pytest.approx(599.4 - 200.4) and m.maker.surplus() == pytest.approx(1.0)
    assert m.call("arb", "buy_gem", ilk="PSM-USDC-A", amount=500.0)[1].startswith("Vat/sub-underflow")
    assert m.call("arb", "sell_gem", ilk="ETH-A", amount=1.0)[1] == "ETH-A has no PSM"


def test_a_psm_with_a_zero_ceiling_swaps_nothing():
    m = PsmSystem(line=0.0)
    assert m.call("arb", "sell_gem", ilk="PSM-USDC-A", amount=1.0)[1] == "Vat/ceiling-exceeded"
    assert m.balance("usdc", "arb") == 5_000.0 and m.maker.state.debt == 0.0


def test_a_psm_opened_with_a_holding_pays_it_out_and_counts_it_against_the_ceiling():
    m = PsmSystem(line=1_000.0, holding=800.0)  # 800 USDC held, 800 DAI drawn against it in carol's wallet
    m.check_books()
    assert m.maker.vault("psm:PSM-USDC-A") == ("PSM-USDC-A", 800.0, 800.0) and m.balance("dai", "carol") == 800.0
    assert m.maker.view().psm_room("PSM-USDC-A") == pytest.approx(200.0)
    assert m.call("arb", "sell_gem", ilk="PSM-USDC-A", amount=300.0)[1] == "Vat/ceiling-exceeded"  # 1,100 > 1,000
    assert m.ok("carol", "buy_gem", ilk="PSM-USDC-A", amount=500.0) == pytest.approx(501.0)  # tout 0.2 %
    assert m.balance("usdc", "carol") == 500.0 and m.maker.view().psm_holding("PSM-USDC-A") == 300.0
    # a holding above a lowered ceiling stands; only new debt is refused
    high = PsmSystem(line=0.0, holding=800.0)
    assert high.call("arb", "sell_gem", ilk="PSM-USDC-A", amount=1.0)[1] == "Vat/ceiling-exceeded"
    assert high.ok("carol", "buy_gem", ilk="PSM-USDC-A", amount=100.0) == pytest.approx(100.2)
