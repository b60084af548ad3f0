"""The Vow's calls of a Maker system (dss `vow.sol`, `flop.sol`, `flap.sol`): its surplus (the
DAI it holds) and free debt, ``heal`` and ``flog`` of the ``sin`` queue, debt auctions (``flop``:
governance tokens minted for DAI) and surplus auctions (``flap``: DAI sold for governance tokens
that are burnt).

:class:`VowCalls` is the base of :class:`~protocols.maker.model.MakerSystem`, which holds the
state (``flops``, ``flaps``, ``vice``, ``Sin``, ``Ash``, ``sin_queue``) and the plumbing these
calls use (``_ledger``, ``_now_s``, ``_block_number``, ``_burn_dai``, the result tables).
Amounts are whole DAI and governance tokens on floats; time is the block's timestamp in whole
seconds; the bid rules are the integer checks of :mod:`.exact`.
"""
from __future__ import annotations

from defisim.base import Protocol, Revert, handler

from . import exact as x

__all__ = ["VowCalls", "VOW_GAS", "REVERT_GAS"]

#: Gas of each Vow call on success (estimates of their storage writes; ``flop``/``flap`` kick an auction).
VOW_GAS = {"heal": 50_000, "flog": 40_000, "flop": 150_000, "flop_dent": 100_000, "flop_deal": 80_000,
           "flop_tick": 50_000, "flap": 150_000, "flap_tend": 100_000, "flap_deal": 80_000, "flap_tick": 50_000}
#: Gas a reverted Maker call burns.
REVERT_GAS = 40_000


class VowCalls(Protocol):
    """The Vow's views and calls; the system's state and plumbing come from the subclass."""

    def surplus(self) -> float:
        """DAI the Vow holds (``vat.dai(vow)``)."""
        return self._ledger(self.params.dai).balance_of(self.name)

    def bad_debt(self) -> float:
        """System debt free to heal or auction: ``vice − Sin − Ash`` (DAI)."""
        s = self.state
        return max(0.0, s.vice - s.Sin - s.Ash)

    @handler(gas=VOW_GAS["heal"], revert_gas=REVERT_GAS)
    def heal(self, sender: str, dai: float):
        """``Vow.heal`` (dss `vow.sol`): cancel ``dai`` of the Vow's surplus against its free debt (both burnt)."""
        if not (isinstance(dai, (int, float)) and dai > 0):
            raise Revert("dai must be positive")
        if dai > self.surplus() * (1 + 1e-12):
            raise Revert("Vow/insufficient-surplus")
        if dai > self.bad_debt() * (1 + 1e-12):
            raise Revert("Vow/insufficient-debt")
        dai = min(dai, self.surplus(), self.bad_debt())
        self._burn_dai(self.name, dai)
        self.state.vice -= dai
        return dai

    @handler(gas=VOW_GAS["flog"], revert_gas=REVERT_GAS)
    def flog(self, sender: str, era_s: int):
        """``Vow.flog`` (dss `vow.sol`): release the debt queued at ``era_s`` once ``wait`` has passed."""
        s = self.state
        if era_s not in s.sin_queue:
            raise Revert("Vow/no-queued-debt")
        if era_s + self.params.vow.wait // 1000 > self._now_s():
            raise Revert("Vow/wait-not-finished")
        s.Sin -= s.sin_queue.pop(era_s)
        return era_s

    @handler(gas=VOW_GAS["flop"], revert_gas=REVERT_GAS)
    def flop(self, sender: str):
        """``Vow.flop`` + ``Flopper.kick`` (dss `vow.sol`, `flop.sol`): with at least ``sump`` of free
        debt and no surplus, auction ``sump`` DAI for governance tokens, ``dump`` of them at first."""
        v, s = self.params.vow, self.state
        if self.params.gov is None:
            raise Revert("no governance token: no debt auctions")
        if not v.sump_dai <= self.bad_debt() * (1 + 1e-12):
            raise Revert("Vow/insufficient-debt")
        if self.surplus() > 0:
            raise Revert("Vow/surplus-not-zero")
        s.Ash += v.sump_dai
        k = int(s.flops.append(lot=v.dump, bid=v.sump_dai, tic_s=0, end_s=self._now_s() + v.tau // 1000)[0])
        s.flop_guys.append(self.name)
        self._flop_log.append((self._block_number(), self.name, "kick", k, sender, v.sump_dai, v.dump))
        return k

    def _running_flop(self, k) -> int:
        s = self.state
        if not (isinstance(k, int) and 0 <= k < s.flops.size and s.flops["alive"][k]):
            raise Revert("Flopper/guy-not-set")
        return k

    @handler(gas=VOW_GAS["flop_dent"], revert_gas=REVERT_GAS)
    def flop_dent(self, sender: str, auction_id: int, lot: float):
        """``Flopper.dent`` (dss `flop.sol`): pay the fixed bid in DAI for ``lot`` governance tokens,
        fewer than the last bid by ``beg``; the first bid's DAI heals the Vow's debt (``kiss``)."""
        k = self._running_flop(auction_id)
        s, v = self.state, self.params.vow
        now, tic, end = self._now_s(), int(s.flops["tic_s"][k]), int(s.flops["end_s"][k])
        if not (tic > now or tic == 0):
            raise Revert("Flopper/already-finished-tic")
        if not end > now:
            raise Revert("Flopper/already-finished-end")
        cur_lot, bid = float(s.flops["lot"][k]), float(s.flops["bid"][k])
        x.check_flop_dent(lot, bid, cur_lot, bid, v.beg * x.WAD)
        dai = self._ledger(self.params.dai)
        if sender != s.flop_guys[k]:
            if dai.balance_of(sender) < bid:
                raise Revert("Vat/insufficient-dai")
            dai.move(sender, s.flop_guys[k], bid)
            if tic == 0:  # the first bid: its DAI reached the Vow, which heals as much Ash
                kiss = min(bid, s.Ash)
                s.Ash -= kiss
                self._burn_dai(self.name, kiss)
                s.vice -= kiss
            s.flop_guys[k] = sender
        s.flops["lot"][k] = lot
        s.flops["tic_s"][k] = now + v.ttl // 1000
        self._flop_log.append((self._block_number(), self.name, "dent", k, sender, bid, lot))
        return lot

    @handler(gas=VOW_GAS["flop_deal"], revert_gas=REVERT_GAS)
    def flop_deal(self, sender: str, auction_id: int):
        """``Flopper.deal`` (dss `flop.sol`): mint the winning lot of governance tokens to the winner."""
        k = self._running_flop(auction_id)
        s = self.state
        now, tic, end = self._now_s(), int(s.flops["tic_s"][k]), int(s.flops["end_s"][k])
        if not (tic != 0 and (tic < now or end < now)):
            raise Revert("Flopper/not-finished")
        lot = float(s.flops["lot"][k])
        self._ledger(self.params.gov).issue(s.flop_guys[k], lot)
        s.flops.kill([k])
        self._flop_log.append((self._block_number(), self.name, "deal", k, s.flop_guys[k], float(s.flops["bid"][k]), lot))
        return lot

    @handler(gas=VOW_GAS["flop_tick"], revert_gas=REVERT_GAS)
    def flop_tick(self, sender: str, auction_id: int):
        """``Flopper.tick`` (dss `flop.sol`): restart an auction that ended with no bid, ``pad`` more tokens."""
        k = self._running_flop(auction_id)
        s, v = self.state, self.params.vow
        if not int(s.flops["end_s"][k]) < self._now_s():
            raise Revert("Flopper/not-finished")
        if int(s.flops["tic_s"][k]) != 0:
            raise Revert("Flopper/bid-already-placed")
        s.flops["lot"][k] *= v.pad
        s.flops["end_s"][k] = self._now_s() + v.tau // 1000
        self._flop_log.append((self._block_number(), self.name, "tick", k, sender, float(s.flops["bid"][k]),
                               float(s.flops["lot"][k])))
        return float(s.flops["lot"][k])

    @handler(gas=VOW_GAS["flap"], revert_gas=REVERT_GAS)
    def flap(self, sender: str):
        """``Vow.flap`` + ``Flapper.kick`` (dss `vow.sol`, `flap.sol`): with the Vow's DAI above its
        debt by ``bump + hump`` and no free debt, auction ``bump`` DAI for governance tokens."""
        f, s = self.params.vow.flap, self.state
        if f is None or self.params.gov is None:
            raise Revert("no surplus auctions")
        eps = 1e-12 * max(1.0, s.vice)
        if self.surplus() + eps < s.vice + f.bump_dai + f.hump_dai:
            raise Revert("Vow/insufficient-surplus")
        if self.bad_debt() > eps:
            raise Revert("Vow/debt-not-zero")
        self._ledger(self.params.dai).move(self.name, self.flapper, f.bump_dai)
        k = int(s.flaps.append(lot=f.bump_dai, bid=0.0, tic_s=0, end_s=self._now_s() + f.tau // 1000)[0])
        s.flap_guys.append(self.name)
        self._flap_log.append((self._block_number(), self.name, "kick", k, sender, f.bump_dai, 0.0))
        return k

    def _running_flap(self, k) -> int:
        s = self.state
        if not (isinstance(k, int) and 0 <= k < s.flaps.size and s.flaps["alive"][k]):
            raise Revert("Flapper/guy-not-set")
        return k

    @handler(gas=VOW_GAS["flap_tend"], revert_gas=REVERT_GAS)
    def flap_tend(self, sender: str, auction_id: int, lot: float, bid: float):
        """``Flapper.tend`` (dss `flap.sol`): bid ``bid`` governance tokens, at least ``beg`` times
        the last bid, for the fixed DAI ``lot``; the last bidder gets its tokens back."""
        k = self._running_flap(auction_id)
        s, f = self.state, self.params.vow.flap
        now, tic, end = self._now_s(), int(s.flaps["tic_s"][k]), int(s.flaps["end_s"][k])
        if not (tic > now or tic == 0):
            raise Revert("Flapper/already-finished-tic")
        if not end > now:
            raise Revert("Flapper/already-finished-end")
        cur = float(s.flaps["bid"][k])
        x.check_flap_tend(lot, bid, float(s.flaps["lot"][k]), cur, f.beg * x.WAD)
        gov = self._ledger(self.params.gov)
        if gov.balance_of(sender) < (bid if sender != s.flap_guys[k] else bid - cur):
            raise Revert("Flapper/insufficient-gov")
        if sender != s.flap_guys[k]:
            if cur > 0:
                gov.move(sender, s.flap_guys[k], cur)
            s.flap_guys[k] = sender
        gov.move(sender, self.flapper, bid - cur)
        s.flaps["bid"][k] = bid
        s.flaps["tic_s"][k] = now + f.ttl // 1000
        self._flap_log.append((self._block_number(), self.name, "tend", k, sender, lot, bid))
        return bid

    @handler(gas=VOW_GAS["flap_deal"], revert_gas=REVERT_GAS)
    def flap_deal(self, sender: str, auction_id: int):
        """``Flapper.deal`` (dss `flap.sol`): the DAI lot to the winner, its governance tokens burnt."""
        k = self._running_flap(auction_id)
        s = self.state
        now, tic, end = self._now_s(), int(s.flaps["tic_s"][k]), int(s.flaps["end_s"][k])
        if not x.flip_done(now, tic, end):
            raise Revert("Flapper/not-finished")
        lot, bid = float(s.flaps["lot"][k]), float(s.flaps["bid"][k])
        self._ledger(self.params.dai).move(self.flapper, s.flap_guys[k], lot)
        self._ledger(self.params.gov).destroy(self.flapper, bid)
        s.flaps.kill([k])
        self._flap_log.append((self._block_number(), self.name, "deal", k, s.flap_guys[k], lot, bid))
        return bid

    @handler(gas=VOW_GAS["flap_tick"], revert_gas=REVERT_GAS)
    def flap_tick(self, sender: str, auction_id: int):
        """``Flapper.tick`` (dss `flap.sol`): restart a surplus auction that ended with no bid."""
        k = self._running_flap(auction_id)
        s = self.state
        if not int(s.flaps["end_s"][k]) < self._now_s():
            raise Revert("Flapper/not-finished")
        if int(s.flaps["tic_s"][k]) != 0:
            raise Revert("Flapper/bid-already-placed")
        s.flaps["end_s"][k] = self._now_s() + self.params.vow.flap.tau // 1000
        self._flap_log.append((self._block_number(), self.name, "tick", k, sender, float(s.flaps["lot"][k]), 0.0))
        return k
