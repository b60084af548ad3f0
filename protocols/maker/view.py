"""What agents read of a Maker system (``maker.dss``): :class:`MakerView`."""
from __future__ import annotations

import numpy as np

from defisim.base import Revert

from . import math as mm

__all__ = ["MakerView"]


class MakerView:
    """What agents read of a Maker system: vaults that can be liquidated, running auctions and
    their prices, the Vow's surplus and free debt. Tables are read-only views; nothing here
    changes state."""

    def __init__(self, system):
        self._s = system
        self.name, self.params, self.ilk_names = system.name, system.params, system.ilk_names

    def unsafe(self) -> np.ndarray:
        """Rows of the vaults that can be liquidated now."""
        return self._s.unsafe()

    def bark_candidates(self, room: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``count`` unsafe vaults that ``bark`` would take with ``room`` DAI of tab left in
        their ilk (per ilk; a Liquidations 1.2 ilk: any room), largest debt first (equal debts:
        the lower row), and each one's ilk index (:func:`~.math.bark_feasible` on all at once)."""
        m, st = self._s, self._s.state
        key = (st.version, st.spot.tobytes(), st.rate.tobytes(), room.tobytes(), count)
        if m._bark_cache[0] == key:
            return m._bark_cache[1]
        rows = m.unsafe()
        ilks = st.urns["ilk"][rows]
        if not (room > 0).all():  # an ilk whose Dog room is full takes no bark
            open_ = room[ilks] > 0
            rows, ilks = rows[open_], ilks[open_]
        art, rate = st.urns["art"][rows], st.rate[ilks]
        ok = mm.bark_feasible(st.urns["ink"][rows], art, rate, m.dust[ilks], m.chop[ilks], room[ilks])
        rows, ilks, debt = rows[ok], ilks[ok], (art * rate)[ok]
        if rows.size > count:  # the count largest (ties at the cut: the lower rows), then in order
            cut = np.partition(debt, rows.size - count)[rows.size - count]
            keep = np.flatnonzero(debt > cut)
            ties = np.flatnonzero(debt == cut)[: count - keep.size]
            pick = np.concatenate([keep, ties])
            rows, ilks, debt = rows[pick], ilks[pick], debt[pick]
        order = np.lexsort((rows, -debt))
        m._bark_cache = (key, (rows[order], ilks[order]))
        return m._bark_cache[1]

    def bark_room(self, ilk: str) -> float:
        """Tab (DAI) the Dog may still start auctions for in ``ilk``: ``min(Hole − Dirt, hole − dirt)``."""
        m, st = self._s, self._s.state
        i = m.ilk_index[ilk]
        return min(m.Hole - st.Dirt, float(m.hole[i] - st.dirt[i]))

    def would_bark(self, row: int, room: float | None = None):
        """What ``bark`` of vault ``row`` would take now with ``room`` DAI of tab left (default:
        :meth:`bark_room`) (:class:`~.math.Seizure`), or None when it would revert (safe, no room,
        a dusty partial auction)."""
        m, st = self._s, self._s.state
        i = int(st.urns["ilk"][row])
        ink, art, rate = float(st.urns["ink"][row]), float(st.urns["art"][row]), float(st.rate[i])
        if room is None:
            room = self.bark_room(self.ilk_names[i])
        if not (room > 0 and mm.unsafe_rows(ink, art, rate, float(st.spot[i]))):
            return None
        try:
            return mm.bark_amounts(ink, art, rate, float(m.dust[i]), float(m.chop[i]), room)
        except Revert:
            return None

    def vault_rows(self) -> np.ndarray:
        """Rows of the vaults owned by accounts (not a PSM's)."""
        st = self._s.state
        rows = np.arange(st.urns.size)
        psm = [st.owners.get(f"psm:{n}") for n in self.ilk_names]
        return np.setdiff1d(rows, [r for r in psm if r is not None])

    def vaults(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ilk index, collateral (tokens) and debt (DAI) of vaults ``rows``."""
        st = self._s.state
        ilk = st.urns["ilk"][rows]
        return ilk, st.urns["ink"][rows], st.urns["art"][rows] * st.rate[ilk]

    def next_spot(self) -> np.ndarray:
        """Each ilk's spot at its oracle's next price: an OSM's queued ``nxt`` (public, ``peep``),
        else the price now; what vault owners watching the OSM act on an hour ahead."""
        m = self._s
        out = np.zeros(len(self.ilk_names))
        for i, n in enumerate(self.ilk_names):
            osm = m.host.protocols[m.params.ilks[n].osm]
            price = getattr(osm.state, "nxt", None) if hasattr(osm, "poke") else None
            out[i] = mm.spot_of(float(osm.price() if price is None else price), float(m.mat[i]))
        return out

    def psm_room(self, ilk: str) -> float:
        """DAI the ilk's PSM may still mint under its ceilings (``line`` and ``Line``)."""
        m, st = self._s, self._s.state
        i = m.ilk_index[ilk]
        return max(0.0, min(float(m.line[i] - st.Art[i] * st.rate[i]), m.Line - st.debt))

    def psm_holding(self, ilk: str) -> float:
        """Gem tokens the ilk's PSM holds (what ``buy_gem`` can pay out)."""
        st = self._s.state
        row = st.owners.get(f"psm:{ilk}")
        return 0.0 if row is None else float(st.urns["ink"][row])

    def rate(self, i: int) -> float:
        """The ilk's rate now (DAI of debt per normalised unit)."""
        return float(self._s.state.rate[i])

    def spot_is_stale(self, ilk: str) -> bool:
        """Whether the ilk's spot differs from its oracle's price now (a Spotter poke would change it)."""
        i = self._s.ilk_index[ilk]
        return mm.spot_of(self._s._osm_price(i), float(self._s.mat[i])) != float(self._s.state.spot[i])

    def owner(self, row: int) -> str:
        return self._s.owner(row)

    def ilk_of(self, row: int) -> str:
        """The ilk of vault ``row``."""
        return self.ilk_names[int(self._s.state.urns["ilk"][row])]

    def vault(self, owner: str) -> tuple[str, float, float]:
        """``(ilk, collateral tokens, debt DAI)``."""
        return self._s.vault(owner)

    def sales(self) -> dict[str, np.ndarray]:
        """The Dutch auctions (columns; ``alive``: running), read-only."""
        return self._s.state.sales.view()

    def flips(self) -> dict[str, np.ndarray]:
        """The English auctions (columns; ``alive``: running), read-only."""
        return self._s.state.flips.view()

    def flip_guy(self, auction_id: int) -> str:
        """The last bidder of an English auction (the system itself before any bid)."""
        return self._s.state.flip_guys[auction_id]

    def auction_price(self, auction_id: int, at_s: int | None = None) -> tuple[float, bool]:
        """A Dutch auction's price (DAI per token) at ``at_s`` and whether it needs a reset."""
        return self._s.auction_price(auction_id, at_s)

    def running_sales(self, at_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The running Dutch auctions: ids, their prices (DAI per token) at ``at_s`` and whether each
        needs a reset then (:meth:`auction_price` of each, computed together)."""
        m, sales = self._s, self._s.state.sales
        ids = np.flatnonzero(sales["alive"])
        prices, done = np.zeros(ids.size), np.zeros(ids.size, dtype=bool)
        ilks = sales["ilk"][ids]
        for i, name in enumerate(self.ilk_names):
            on = ilks == i
            if not on.any():
                continue
            clip = m.params.ilks[name].clip
            top, dur = sales["top"][ids[on]], at_s - sales["tic_s"][ids[on]]
            prices[on] = mm.auction_prices(clip.calc, top, dur)
            done[on] = (dur > clip.tail // 1000) | (prices[on] / top < clip.cusp)
        return ids, prices, done

    def surplus(self) -> float:
        return self._s.surplus()

    def bad_debt(self) -> float:
        return self._s.bad_debt()

    def eras_due(self, at_s: int) -> list[int]:
        """Eras (s) of the Vow's debt queue that ``flog`` may release at ``at_s``, oldest first."""
        wait = self.params.vow.wait // 1000
        return sorted(e for e in self._s.state.sin_queue if e + wait <= at_s)

    def drips_due(self, at_s: int, every_s: int) -> list[str]:
        """Ilks with a stability fee whose rate was last accrued (``rho``) ``every_s`` seconds or
        more before ``at_s``: a ``drip`` would fold their interest into the Vow's surplus."""
        s = self._s
        due = (s.log_duty > 0) & (at_s - s.state.rho_s >= every_s)
        return [s.ilk_names[i] for i in np.flatnonzero(due).tolist()]

    def flops(self) -> dict[str, np.ndarray]:
        """The debt auctions (columns; ``alive``: running), read-only."""
        return self._s.state.flops.view()

    def flaps(self) -> dict[str, np.ndarray]:
        """The surplus auctions (columns; ``alive``: running), read-only."""
        return self._s.state.flaps.view()

    def flop_guy(self, auction_id: int) -> str:
        """The last bidder of a debt auction (the system itself before any bid)."""
        return self._s.state.flop_guys[auction_id]

    def flap_guy(self, auction_id: int) -> str:
        """The last bidder of a surplus auction (the system itself before any bid)."""
        return self._s.state.flap_guys[auction_id]

    def can_flap(self) -> bool:
        """Whether ``flap`` would start a surplus auction now: surplus auctions are set, the Vow's
        DAI covers its debt plus ``bump + hump`` and none of its debt is free (dss `vow.sol`)."""
        f = self.params.vow.flap
        if f is None or self.params.gov is None:
            return False
        s = self._s.state
        return self.surplus() >= s.vice + f.bump_dai + f.hump_dai and self.bad_debt() == 0
