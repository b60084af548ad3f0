"""Maker (Sky) arithmetic exactly as the contracts compute it: Python integers in the contracts'
fixed-point units, floor division, the contracts' revert reasons.

Units (``makerdao/dss``, `DEVELOPING.md`): ``wad`` 1e18 (collateral amounts ``ink``/``lot``,
normalised debt ``art``, ``chop``, ``chip``, ``beg``), ``ray`` 1e27 (``rate``, ``spot``, ``mat``,
``par``, auction prices ``top``/``price``, ``buf``, ``cut``, ``cusp``, ``duty``), ``rad`` 1e45
(DAI inside the Vat: ``tab``, ``dust``, ``line``, ``Hole``, ``hole``, ``chost``, ``tip``).

These functions are the reference the float engine (:mod:`protocols.maker.math`,
:mod:`protocols.maker.model`) is tested against. Each names its contract function.

References
----------
makerdao/dss: `src/vat.sol` (frob, grab, fold, suck, heal), `src/jug.sol` (drip, _rpow),
`src/spot.sol` (poke), `src/dog.sol` (bark, digs), `src/clip.sol` (kick, take, redo, status,
getFeedPrice, upchost), `src/abaci.sol` (LinearDecrease, StairstepExponentialDecrease,
ExponentialDecrease), `src/vow.sol` (fess, flog, heal, flop, flap), `src/flop.sol` (kick, dent, tick,
deal), `src/flap.sol` (kick, tend, tick, deal); Liquidations 1.2 `src/cat.sol` (bite, claw) and `src/flip.sol` (kick, tend, dent, tick, deal)
before dss commit "Liq 2.0 (#228)".
"""
from __future__ import annotations

from typing import NamedTuple

from defisim.base import Revert

__all__ = ["WAD", "RAY", "RAD", "BLN", "wmul", "rmul", "rdiv", "rpow", "drip", "spot_of", "unsafe",
           "Bark", "bark", "Bite", "bite", "feed_price", "kick_top", "keeper_coin", "redo_coin",
           "linear_decrease", "stairstep_exponential_decrease", "exponential_decrease", "clip_status",
           "Take", "take", "chost_of", "check_tend", "check_dent", "flip_done", "check_flop_dent", "flop_tick_lot", "check_flap_tend", "check_flap", "ExactVat"]

WAD, RAY, RAD, BLN = 10**18, 10**27, 10**45, 10**9


def wmul(x: int, y: int) -> int:
    """``x·y / WAD``, rounded down (dss `clip.sol` ``wmul``)."""
    return x * y // WAD


def rmul(x: int, y: int) -> int:
    """``x·y / RAY``, rounded down (dss `clip.sol`, `abaci.sol`, `jug.sol` ``rmul``)."""
    return x * y // RAY


def rdiv(x: int, y: int) -> int:
    """``x·RAY / y``, rounded down (dss `spot.sol`, `clip.sol` ``rdiv``)."""
    return x * RAY // y


def rpow(x: int, n: int, b: int = RAY) -> int:
    """``x^n`` in fixed point of base ``b`` by squaring, each product rounded half up
    (dss `jug.sol` ``_rpow``, `abaci.sol` ``rpow``: the same assembly).

    >>> rpow(2 * RAY, 10) == 1024 * RAY
    True
    >>> rpow(0, 0), rpow(0, 5)
    (1000000000000000000000000000, 0)
    """
    if x == 0:
        return b if n == 0 else 0
    z = x if n % 2 else b
    half = b // 2
    n //= 2
    while n:
        x = (x * x + half) // b
        if n % 2:
            z = (z * x + half) // b
        n //= 2
    return z


def drip(rate: int, duty: int, base: int, seconds: int) -> int:
    """The ilk's new ``rate`` (ray) after ``seconds`` of stability fee ``base + duty`` per second
    (dss `jug.sol` ``drip``: ``rmul(rpow(base + duty, now − rho, ONE), rate)``); the Vat's ``fold``
    mints ``Art·(rate′ − rate)`` rad of DAI to the Vow.

    >>> drip(RAY, 1000000001547125957863212448, 0, 31_536_000)  # 5 %/yr for a year: 1.05 less 4e-20
    1049999999999999999961070145
    """
    return rmul(rpow(base + duty, seconds, RAY), rate)


def spot_of(price_wad: int, par: int, mat: int) -> int:
    """``spot`` (ray, DAI per collateral unit with the safety margin) from the OSM's price
    (wad): ``rdiv(rdiv(price·1e9, par), mat)`` (dss `spot.sol` ``poke``)."""
    return rdiv(rdiv(price_wad * BLN, par), mat)


def unsafe(ink: int, art: int, rate: int, spot: int) -> bool:
    """Whether a vault can be liquidated: ``ink·spot < art·rate`` with ``spot > 0`` (dss
    `dog.sol` ``bark``, `cat.sol` ``bite``: "not-unsafe" otherwise)."""
    return spot > 0 and ink * spot < art * rate


class Bark(NamedTuple):
    """What ``Dog.bark`` takes from a vault: normalised debt ``dart`` (wad), collateral ``dink``
    (wad), the debt ``due = dart·rate`` (rad) sent to the Vow's queue, and the auction's
    ``tab = due·chop / WAD`` (rad)."""

    dart: int
    dink: int
    due: int
    tab: int


def bark(ink: int, art: int, rate: int, spot: int, dust: int, chop: int, Hole: int, Dirt: int,
         hole: int, dirt: int) -> Bark:
    """``Dog.bark``: the amounts of a liquidation under the global and per-ilk limits (dss
    `dog.sol` ``bark``), or :class:`Revert` with the Dog's reason.

    A partial liquidation (room smaller than the vault's tab) takes ``room / rate / chop``; a
    remainder below ``dust`` is taken whole; an auction below ``dust`` reverts.

    >>> b = bark(100 * WAD, 120_000 * WAD, RAY, spot_of(1_700 * WAD, RAY, 145 * RAY // 100), 0,
    ...          113 * WAD // 100, 10**9 * RAD, 0, 10**9 * RAD, 0)
    >>> b.dart == 120_000 * WAD, b.tab == 135_600 * RAD
    (True, True)
    """
    if not unsafe(ink, art, rate, spot):
        raise Revert("Dog/not-unsafe")
    if not (Hole > Dirt and hole > dirt):
        raise Revert("Dog/liquidation-limit-hit")
    room = min(Hole - Dirt, hole - dirt)
    dart = min(art, room * WAD // rate // chop)
    if art > dart:
        if (art - dart) * rate < dust:
            dart = art
        elif dart * rate < dust:
            raise Revert("Dog/dusty-auction-from-partial-liquidation")
    dink = ink * dart // art
    if dink <= 0:
        raise Revert("Dog/null-auction")
    due = dart * rate
    return Bark(dart, dink, due, due * chop // WAD)


class Bite(NamedTuple):
    """What ``Cat.bite`` (Liquidations 1.2) takes: ``dart``, ``dink`` (wad), ``due`` and ``tab`` (rad)."""

    dart: int
    dink: int
    due: int
    tab: int


def bite(ink: int, art: int, rate: int, spot: int, dust: int, chop: int, dunk: int, box: int, litter: int) -> Bite:
    """``Cat.bite`` (Liquidations 1.2): at most ``dunk`` (rad) of tab per auction and ``box``
    (rad) in all auctions (``litter`` now); it may leave the vault dusty (dss `cat.sol` ``bite``
    before "Liq 2.0 (#228)")."""
    if not unsafe(ink, art, rate, spot):
        raise Revert("Cat/not-unsafe")
    room = box - litter
    if not (litter < box and room >= dust):
        raise Revert("Cat/liquidation-limit-hit")
    dart = min(art, min(dunk, room) * WAD // rate // chop)
    dink = min(ink, ink * dart // art)
    if not (dart > 0 and dink > 0):
        raise Revert("Cat/null-auction")
    due = dart * rate
    return Bite(dart, dink, due, due * chop // WAD)


def feed_price(price_wad: int, par: int = RAY) -> int:
    """The Clipper's feed price (ray) from the OSM's current price (wad): ``rdiv(price·1e9, par)``
    (dss `clip.sol` ``getFeedPrice``: the OSM's *current*, delayed price)."""
    return rdiv(price_wad * BLN, par)


def kick_top(price_wad: int, buf: int, par: int = RAY) -> int:
    """The auction's starting price (ray): ``rmul(feedPrice, buf)`` (dss `clip.sol` ``kick``)."""
    top = rmul(feed_price(price_wad, par), buf)
    if top <= 0:
        raise Revert("Clipper/zero-top-price")
    return top


def keeper_coin(tab: int, tip: int, chip: int) -> int:
    """The keeper's incentive at ``kick`` (rad): ``tip + wmul(tab, chip)``, drawn by ``vat.suck``
    as system debt (dss `clip.sol` ``kick``)."""
    return tip + wmul(tab, chip) if (tip > 0 or chip > 0) else 0


def redo_coin(tab: int, lot: int, feed: int, tip: int, chip: int, chost: int) -> int:
    """The incentive at ``redo`` (rad): paid again only when the auction is not dusty,
    ``tab ≥ chost`` and ``lot·feedPrice ≥ chost`` (dss `clip.sol` ``redo``)."""
    if (tip > 0 or chip > 0) and tab >= chost and lot * feed >= chost:
        return tip + wmul(tab, chip)
    return 0


def chost_of(dust: int, chop: int) -> int:
    """``chost = wmul(dust, chop)`` (rad): the least tab a partial ``take`` may leave (dss `clip.sol` ``upchost``)."""
    return wmul(dust, chop)


def linear_decrease(top: int, dur: int, tau: int) -> int:
    """``LinearDecrease`` (ray): ``top·(tau − dur)/tau``, 0 from ``tau`` seconds on (dss `abaci.sol`).

    >>> linear_decrease(2_040 * RAY, 900, 3_600) == 1_530 * RAY
    True
    """
    if dur >= tau:
        return 0
    return rmul(top, (tau - dur) * RAY // tau)


def stairstep_exponential_decrease(top: int, dur: int, step: int, cut: int) -> int:
    """``StairstepExponentialDecrease`` (ray): ``top·cut^⌊dur/step⌋`` (dss `abaci.sol`)."""
    return rmul(top, rpow(cut, dur // step, RAY))


def exponential_decrease(top: int, dur: int, cut: int) -> int:
    """``ExponentialDecrease`` (ray): ``top·cut^dur``, ``cut`` per second (dss `abaci.sol`)."""
    return rmul(top, rpow(cut, dur, RAY))


def clip_status(top: int, price: int, dur: int, tail: int, cusp: int) -> bool:
    """Whether a Dutch auction needs a reset (``done``): older than ``tail`` seconds or its price
    fallen below ``cusp·top`` (dss `clip.sol` ``status``)."""
    return dur > tail or rdiv(price, top) < cusp


class Take(NamedTuple):
    """One ``take``: collateral bought ``slice`` (wad), DAI paid ``owe`` (rad), and the auction's
    ``tab`` and ``lot`` after it."""

    slice: int
    owe: int
    tab: int
    lot: int


def take(lot: int, tab: int, amt: int, price: int, max_price: int, chost: int) -> Take:
    """``Clipper.take`` amounts (dss `clip.sol` ``take``): buy up to ``amt`` collateral (wad) at
    ``price`` (ray) if ``max_price ≥ price``; never more than ``tab``; a partial purchase may not
    leave a tab below ``chost`` (then it buys ``tab − chost``).

    >>> t = take(100 * WAD, 135_600 * RAD, 100 * WAD, stairstep_exponential_decrease(2_040 * RAY, 1_800, 90, 99 * RAY // 100),
    ...          3_000 * RAY, 0)
    >>> round(t.slice / WAD, 5), round(t.lot / WAD, 5), t.tab
    (81.26913, 18.73087, 0)
    """
    if not max_price >= price:
        raise Revert("Clipper/too-expensive")
    slice_ = min(lot, amt)
    owe = slice_ * price
    if owe > tab:
        owe = tab
        slice_ = owe // price
    elif owe < tab and slice_ < lot and tab - owe < chost:
        if not tab > chost:
            raise Revert("Clipper/no-partial-purchase")
        owe = tab - chost
        slice_ = owe // price
    return Take(slice_, owe, tab - owe, lot - slice_)


# -- Liquidations 1.2: the Flipper's English auction (flip.sol before "Liq 2.0 (#228)") ----------
def check_tend(lot: int, bid: int, cur_lot: int, cur_bid: int, tab: int, beg: int) -> None:
    """``Flipper.tend`` rules (comparisons only: the engine applies them to floats, ``beg`` as
    ``factor × WAD``) (tend phase: more DAI for the same lot): the lot must match, the bid
    at most ``tab``, higher than the last, by the factor ``beg`` (wad) unless it equals ``tab``.
    A first bid of one unit over 0 is valid: the zero-bid auctions of 12 March 2020."""
    if lot != cur_lot:
        raise Revert("Flipper/lot-not-matching")
    if bid > tab:
        raise Revert("Flipper/higher-than-tab")
    if not bid > cur_bid:
        raise Revert("Flipper/bid-not-higher")
    if not (bid * WAD >= beg * cur_bid or bid == tab):
        raise Revert("Flipper/insufficient-increase")


def check_dent(lot: int, bid: int, cur_lot: int, cur_bid: int, tab: int, beg: int) -> None:
    """``Flipper.dent`` rules (dent phase, once the bid is the tab: less collateral for it): the
    bid must be the tab, the lot lower by the factor ``beg``; the rest returns to the vault."""
    if bid != cur_bid:
        raise Revert("Flipper/not-matching-bid")
    if bid != tab:
        raise Revert("Flipper/tend-not-finished")
    if not lot < cur_lot:
        raise Revert("Flipper/lot-not-lower")
    if not beg * lot <= cur_lot * WAD:
        raise Revert("Flipper/insufficient-decrease")


def flip_done(now: int, tic: int, end: int) -> bool:
    """Whether a flip (or flop) auction can be ``deal``t: it has a bid (``tic ≠ 0``) and its bid
    expired (``tic < now``) or it ended (``end < now``) (dss `flip.sol` ``deal``)."""
    return tic != 0 and (tic < now or end < now)


def check_flop_dent(lot: int, bid: int, cur_lot: int, cur_bid: int, beg: int) -> None:
    """``Flopper.dent`` rules (debt auction: fewer governance tokens minted for the fixed DAI
    ``bid``): the bid must match, the lot lower by the factor ``beg`` (dss `flop.sol` ``dent``)."""
    if bid != cur_bid:
        raise Revert("Flopper/not-matching-bid")
    if not lot < cur_lot:
        raise Revert("Flopper/lot-not-lower")
    if not beg * lot <= cur_lot * WAD:
        raise Revert("Flopper/insufficient-decrease")


def check_flap_tend(lot: int, bid: int, cur_lot: int, cur_bid: int, beg: int) -> None:
    """``Flapper.tend`` rules (surplus auction: more governance tokens, to be burnt, for the fixed
    DAI ``lot``): the lot must match, the bid rise by the factor ``beg`` (dss `flap.sol` ``tend``)."""
    if lot != cur_lot:
        raise Revert("Flapper/lot-not-matching")
    if not bid > cur_bid:
        raise Revert("Flapper/bid-not-higher")
    if not bid * WAD >= beg * cur_bid:
        raise Revert("Flapper/insufficient-increase")


def check_flap(dai: int, sin: int, Sin: int, Ash: int, bump: int, hump: int) -> None:
    """``Vow.flap`` preconditions (dss `vow.sol`): the Vow's DAI covers its debt plus ``bump``
    and the buffer ``hump``, and none of its debt is free (``sin − Sin − Ash = 0``)."""
    if not dai >= sin + bump + hump:
        raise Revert("Vow/insufficient-surplus")
    if sin - Sin - Ash != 0:
        raise Revert("Vow/debt-not-zero")


def flop_tick_lot(lot: int, pad: int) -> int:
    """A debt auction restarted with no bid offers ``pad·lot / WAD`` tokens (dss `flop.sol` ``tick``)."""
    return pad * lot // WAD


# -- the Vat's books, in integers (dss `vat.sol`) -------------------------------------------------
class ExactVat:
    """The Vat's accounting exactly as `vat.sol` keeps it, for one ilk: ``Art``, ``rate``,
    ``spot``, ``line``, ``dust``; per urn ``ink``, ``art``; per address ``gem`` (wad), ``dai``
    and ``sin`` (rad); ``debt`` and ``vice`` (rad). Its invariants: ``debt = vice + Art·rate``
    (the fundamental equation of DAI), ``Σ dai = debt``, ``Σ sin = vice``, and ``gem`` + ``ink``
    changes only through ``slip`` (a join). A reference for the engine's float books."""

    def __init__(self, rate: int = RAY, spot: int = RAY, line: int = 10**30 * RAD, dust: int = 0):
        self.Art, self.rate, self.spot, self.line, self.dust = 0, rate, spot, line, dust
        self.Line = line
        self.urns: dict[str, list[int]] = {}
        self.gem: dict[str, int] = {}
        self.dai: dict[str, int] = {}
        self.sin: dict[str, int] = {}
        self.debt = self.vice = 0

    def slip(self, usr: str, wad: int) -> None:
        """A gem join: collateral enters (or leaves) the Vat."""
        if self.gem.get(usr, 0) + wad < 0:
            raise Revert("Vat/gem-underflow")
        self.gem[usr] = self.gem.get(usr, 0) + wad

    def frob(self, u: str, dink: int, dart: int) -> None:
        """``vat.frob(ilk, u, u, u, dink, dart)``: the owner's own vault, collateral and DAI."""
        ink, art = self.urns.get(u, [0, 0])
        ink, art = ink + dink, art + dart
        if ink < 0 or art < 0 or self.gem.get(u, 0) - dink < 0 or self.dai.get(u, 0) + self.rate * dart < 0:
            raise Revert("Vat/sub-underflow")
        Art, dtab, tab = self.Art + dart, self.rate * dart, self.rate * art
        if not (dart <= 0 or (Art * self.rate <= self.line and self.debt + dtab <= self.Line)):
            raise Revert("Vat/ceiling-exceeded")
        if not ((dart <= 0 and dink >= 0) or tab <= ink * self.spot):
            raise Revert("Vat/not-safe")
        if not (art == 0 or tab >= self.dust):
            raise Revert("Vat/dust")
        self.urns[u], self.Art, self.debt = [ink, art], Art, self.debt + dtab
        self.gem[u] = self.gem.get(u, 0) - dink
        self.dai[u] = self.dai.get(u, 0) + dtab

    def grab(self, u: str, v: str, w: str, dink: int, dart: int) -> None:
        """``vat.grab``: a liquidation moves collateral to ``v`` and the debt to ``w``'s sin."""
        ink, art = self.urns[u]
        self.urns[u] = [ink + dink, art + dart]
        self.Art += dart
        dtab = self.rate * dart
        self.gem[v] = self.gem.get(v, 0) - dink
        self.sin[w] = self.sin.get(w, 0) - dtab
        self.vice -= dtab

    def fold(self, u: str, delta_rate: int) -> None:
        """``vat.fold``: the stability fee accrued (``Jug.drip``) as DAI to ``u`` (the Vow)."""
        self.rate += delta_rate
        rad = self.Art * delta_rate
        self.dai[u] = self.dai.get(u, 0) + rad
        self.debt += rad

    def suck(self, u: str, v: str, rad: int) -> None:
        """``vat.suck``: DAI for ``v`` against ``u``'s sin (keeper incentives)."""
        self.sin[u] = self.sin.get(u, 0) + rad
        self.dai[v] = self.dai.get(v, 0) + rad
        self.vice += rad
        self.debt += rad

    def heal(self, u: str, rad: int) -> None:
        """``vat.heal``: ``u`` cancels its DAI against its sin."""
        if self.sin.get(u, 0) < rad or self.dai.get(u, 0) < rad:
            raise Revert("Vat/sub-underflow")
        self.sin[u] = self.sin.get(u, 0) - rad
        self.dai[u] = self.dai.get(u, 0) - rad
        self.vice -= rad
        self.debt -= rad

    def move(self, src: str, dst: str, rad: int) -> None:
        """``vat.move``: DAI between addresses."""
        if self.dai.get(src, 0) < rad:
            raise Revert("Vat/sub-underflow")
        self.dai[src] = self.dai.get(src, 0) - rad
        self.dai[dst] = self.dai.get(dst, 0) + rad

    def flux(self, src: str, dst: str, wad: int) -> None:
        """``vat.flux``: collateral between addresses (an auction's lot to its buyer)."""
        if self.gem.get(src, 0) < wad:
            raise Revert("Vat/sub-underflow")
        self.gem[src] = self.gem.get(src, 0) - wad
        self.gem[dst] = self.gem.get(dst, 0) + wad
