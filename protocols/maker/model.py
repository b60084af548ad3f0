"""A Maker (Sky) system on the engine (``maker.dss``): the Vat's vaults as a struct of arrays,
the Jug's stability fee, the Spotter's price, liquidations by the Dog and Clippers (Dutch
auctions, Liquidations 2.0) or the Cat and Flippers (English auctions, Liquidations 1.2), and
the Vow (its calls in :mod:`.vow`).

Amounts are whole tokens and DAI on floats; the contracts' integer arithmetic is in
:mod:`.exact`, their rules on floats in :mod:`.math`. Time is the block's timestamp in whole
seconds, as the contracts read it.

Accounting (dss `vat.sol`): the DAI ledger is the Vat's ``dai``; its supply is the Vat's
``debt`` (this protocol mints on ``frob``, ``fold``, ``suck`` and burns on repayment and
``heal``). The Vow is this protocol's own address: its DAI balance is the surplus, ``vice`` its
system debt (``sin``). Invariants, checked in the tests: ``debt = vice + Σ_i Art_i·rate_i``;
DAI supply = ``debt``; the collateral this protocol holds on each gem ledger = Σ ``ink`` + the
lots of its auctions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from defisim.base import LIQUIDATION_CALL, AddressBook, AddressRange, Positions, Revert, Table, handler

from . import exact as x
from . import math as mm
from .params import VAULT_PREFIX, MakerParams, no_limit, read_vault_csv
from .tables import (AUCTION_COLUMNS, AUCTION_ROLE, BID_COLUMNS, FLOP_COLUMNS, LIQUIDATION_COLUMNS, LIQUIDATION_ROLE,
                     LOSS_COLUMNS, LOSS_ROLE)
from .view import MakerView
from .vow import REVERT_GAS, VOW_GAS, VowCalls

__all__ = ["MakerSystem", "MakerState", "GAS"]

#: Gas of each call on success (mechanics of Maker liquidations on mainnet: ``bark`` 150k–300k,
#: ``take`` with a swap callback 250k–600k; the others are estimates of their storage writes).
GAS = {"frob": 200_000, "poke": 80_000, "drip": 60_000, "bark": 225_000, "take": 200_000, "take_and_sell": 450_000,
       "redo": 100_000, "bite": 200_000, "tend": 100_000, "dent": 100_000, "deal": 80_000, "tick": 50_000,
       "sell_gem": 130_000, "buy_gem": 130_000, **VOW_GAS}

@dataclass
class MakerState:
    """All mutable state. Per ilk (arrays over ilks): ``Art`` (normalised debt), ``rate``,
    ``spot`` (DAI per token), ``rho_s`` (last drip, s), ``dirt`` (tab in its Clipper auctions).
    Per vault (``urns``: ``ilk``, ``ink`` tokens, ``art`` normalised DAI; ``owners`` names the
    rows). ``sales`` (Dutch), ``flips`` (English) and ``flops`` (debt auctions) are tables whose
    ``alive`` rows are running, and ``flaps`` (surplus auctions); ``guys`` the last bidder of each."""

    owners: AddressBook
    urns: Table
    Art: np.ndarray
    rate: np.ndarray
    spot: np.ndarray
    rho_s: np.ndarray
    dirt: np.ndarray
    sales: Table
    flips: Table
    flops: Table
    flaps: Table
    debt: float = 0.0
    vice: float = 0.0
    Dirt: float = 0.0
    litter: float = 0.0
    Sin: float = 0.0
    Ash: float = 0.0
    sin_queue: dict = field(default_factory=dict)  # era (s) -> DAI
    flip_guys: list = field(default_factory=list)
    flop_guys: list = field(default_factory=list)
    flap_guys: list = field(default_factory=list)
    version: int = 0


class MakerSystem(VowCalls):
    """A Maker system (``maker.dss``). Calls (tokens and DAI; ``ilk`` by name, ``vault`` by owner):

    - vaults: ``frob(ilk, dink, dart)`` (the sender's vault: collateral in (+) or out (−),
      normalised debt drawn (+) or repaid (−)), ``drip(ilk)``, ``poke(ilk)``;
    - Liquidations 2.0: ``bark(ilk, vault)``, ``take(auction_id, amt, max_price)``,
      ``take_and_sell(auction_id, amt, max_price, swap_pool)`` (a ``clipperCall`` that sells the
      slice on an on-chain pool and pays from the proceeds), ``redo(auction_id)``;
    - Liquidations 1.2: ``bite(ilk, vault)``, ``tend(auction_id, lot, bid)``, ``dent(auction_id,
      lot, bid)``, ``deal(auction_id)``, ``tick(auction_id)``;
    - the PSM: ``sell_gem(ilk, amount)``, ``buy_gem(ilk, amount)``;
    - the Vow: ``heal(dai)``, ``flog(era_s)``, ``flop()``, ``flop_dent(auction_id, lot)``,
      ``flop_deal(auction_id)``, ``flop_tick(auction_id)``; ``flap()``, ``flap_tend(auction_id,
      lot, bid)``, ``flap_deal(auction_id)``, ``flap_tick(auction_id)``.
    """

    kind = "maker.dss"
    Params = MakerParams

    def __init__(self, name: str, params: MakerParams, host):
        super().__init__(name, params, host)
        self.ilk_names = list(params.ilks)
        self.ilk_index = {n: i for i, n in enumerate(self.ilk_names)}
        ilks = list(params.ilks.values())
        self.mat = np.array([p.mat for p in ilks])
        self.log_duty = np.array([mm.log_duty_of(p.stability_fee) for p in ilks])
        self.chop = np.array([p.chop for p in ilks])
        self.dust = np.array([p.dust_dai for p in ilks])
        self.line = np.array([no_limit(p.line_dai) for p in ilks])
        self.hole = np.array([no_limit(p.hole_dai) for p in ilks])
        self.Line, self.Hole, self.box = (no_limit(params.Line_dai), no_limit(params.Hole_dai), no_limit(params.box_dai))
        n = len(ilks)
        for p in ilks:
            for ledger in (p.gem, p.osm):
                if ledger not in host.protocols:
                    raise ValueError(f"protocols.{name}.ilks: {ledger!r} must be listed before the Maker system")
        for role, ledger in (("dai", params.dai), ("gov", params.gov)):
            if ledger is not None and ledger not in host.protocols:
                raise ValueError(f"protocols.{name}.{role}: {ledger!r} must be listed before the Maker system")
        self.state = MakerState(
            AddressBook(), Table({"ilk": np.int64, "ink": np.float64, "art": np.float64}, capacity=1024),
            np.zeros(n), np.ones(n), np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n),
            Table({"ilk": np.int64, "urn": np.int64, "tab": np.float64, "lot": np.float64, "top": np.float64,
                   "tic_s": np.int64, "due": np.float64, "raised": np.float64, "sold": np.float64}),
            Table({"ilk": np.int64, "urn": np.int64, "tab": np.float64, "lot": np.float64, "bid": np.float64,
                   "tic_s": np.int64, "end_s": np.int64, "due": np.float64, "returned": np.float64}),
            Table({"lot": np.float64, "bid": np.float64, "tic_s": np.int64, "end_s": np.int64}),
            Table({"lot": np.float64, "bid": np.float64, "tic_s": np.int64, "end_s": np.int64}),
        )
        self.flapper = f"{name}/flapper"  # holds the DAI lots and the governance-token bids of surplus auctions
        self._liq_log = host.log.declare("maker_liquidations", "Maker liquidations: bark (Dog) and bite (Cat)",
                                         LIQUIDATION_COLUMNS, role="liquidations", role_columns=LIQUIDATION_ROLE)
        self._auction_log = host.log.declare("maker_auctions", "Maker collateral auctions, as each ends",
                                             AUCTION_COLUMNS, role="auctions", role_columns=AUCTION_ROLE)
        self._bid_log = host.log.declare("maker_bids", "bids on Maker collateral auctions: takes, tends, dents",
                                         BID_COLUMNS)
        self._loss_log = host.log.declare("maker_losses", "debt Maker auctions left uncovered (the Vow's bad debt)",
                                          LOSS_COLUMNS, role="losses", role_columns=LOSS_ROLE)
        self._flop_log = host.log.declare("maker_flops", "the Vow's debt auctions: governance tokens minted for DAI",
                                          FLOP_COLUMNS)
        self._flap_log = host.log.declare("maker_flaps", "the Vow's surplus auctions: DAI sold for governance tokens burnt",
                                          FLOP_COLUMNS)
        self._candidates: tuple = (None, None)  # (state version, spot bytes, rate bytes) -> unsafe rows
        self._bark_cache: tuple = (None, None)  # the same and the room -> MakerView.bark_candidates
        for i, p in enumerate(ilks):
            self.state.spot[i] = mm.spot_of(self._osm_price(i), p.mat)
        if params.vaults is not None:
            self._open_vaults(host.stream(f"{name}/vaults"))
        for i, p in enumerate(ilks):
            if p.psm is not None and p.psm.holding > 0:
                self._open_psm(i, p.psm.holding, p.psm.holder)

    # -- plumbing ---------------------------------------------------------------------------
    def _ledger(self, name: str):
        return self.host.protocols[name]

    def _gem(self, i: int):
        return self.host.protocols[self.params.ilks[self.ilk_names[i]].gem]

    def _osm_price(self, i: int) -> float:
        return float(self.host.protocols[self.params.ilks[self.ilk_names[i]].osm].price())

    def _now_s(self) -> int:
        return 0 if self.block is None else self.block.time_ms // 1000

    def _block_number(self) -> int:
        return -1 if self.block is None else self.block.number

    def _ilk(self, ilk: str) -> int:
        i = self.ilk_index.get(ilk)
        if i is None:
            raise Revert(f"Vat/ilk-not-init: {ilk!r}")
        return i

    def _urn(self, owner: str) -> int:
        s = self.state
        row = s.owners.get(owner)
        if row is None:
            raise Revert(f"no vault of {owner!r}")
        return row

    def _open_vaults(self, rng: np.random.Generator) -> None:
        """The vaults of ``params.vaults``, opened at the start: collateral on the gem ledger under
        this protocol, the DAI drawn in each owner's wallet (a vault of debt ``size / ratio``)."""
        p = self.params.vaults
        i = self.ilk_index[p.ilk]
        if p.csv is not None:
            book = read_vault_csv(p.csv)
            owners = [str(o) for o in book["owner"]]
            ink, dai = book["collateral"].to_numpy(np.float64), book["debt"].to_numpy(np.float64)
        else:
            size = p.size_usd.sample(rng, p.count)
            ratio = p.collateral_ratio.sample(rng, p.count)
            ink, dai = size / self._osm_price(i), size / ratio
            owners = AddressRange(VAULT_PREFIX, p.count)
        try:
            self.state.owners.add_all(owners)
        except ValueError as e:
            raise ValueError(f"protocols.{self.name}.vaults: owners must be unique ({e})") from None
        n = len(owners)
        art = dai / self.state.rate[i]
        self.state.urns.append(ilk=np.full(n, i), ink=ink, art=art)
        self.state.Art[i] += float(art.sum())
        self._gem(i).issue_quietly(self.name, float(ink.sum()))
        self._ledger(self.params.dai).issue_many(owners, dai)
        self.state.debt += float(dai.sum())

    def _open_psm(self, i: int, holding: float, holder: str) -> None:
        """The PSM of ilk ``i`` opened holding ``holding`` gem tokens, the DAI drawn against them
        in ``holder``'s wallet (what past ``sellGem`` calls left). It may exceed the ceiling, as
        after governance lowers a ``line``: the Vat then refuses more debt, not the debt there is."""
        s = self.state
        s.owners.add(f"psm:{self.ilk_names[i]}")
        art = holding / float(s.rate[i])
        s.urns.append(ilk=i, ink=holding, art=art)
        s.Art[i] += art
        self._gem(i).issue_quietly(self.name, holding)
        self._ledger(self.params.dai).issue_many([holder], np.array([holding]))
        s.debt += holding

    def _mint_dai(self, to: str, amount: float) -> None:
        self._ledger(self.params.dai).issue(to, amount)
        self.state.debt += amount

    def _burn_dai(self, holder: str, amount: float) -> None:
        self._ledger(self.params.dai).destroy(holder, amount)
        self.state.debt -= amount

    def _suck(self, to: str, amount: float) -> None:
        """``vat.suck``: DAI for ``to`` against system debt of the Vow."""
        if amount > 0:
            self.state.vice += amount
            self._mint_dai(to, amount)

    def _fess(self, due: float) -> None:
        """``vow.fess`` + ``vat.grab``'s sin: the debt taken from a vault joins the Vow's queue at
        this block's time (``flog`` frees it after ``wait``)."""
        s = self.state
        s.vice += due
        era = self._now_s()
        s.sin_queue[era] = s.sin_queue.get(era, 0.0) + due
        s.Sin += due

    def _pay_in(self, payer: str, amount: float) -> None:
        """DAI from ``payer`` to the Vow (``vat.move``); reverts when the payer is short."""
        dai = self._ledger(self.params.dai)
        if dai.balance_of(payer) < amount * (1 - 1e-12):
            raise Revert("Vat/insufficient-dai")
        dai.move(payer, self.name, min(amount, dai.balance_of(payer)))

    # -- views ------------------------------------------------------------------------------
    def vault(self, owner: str) -> tuple[str, float, float]:
        """``(ilk, collateral tokens, debt DAI)`` of ``owner``'s vault."""
        s = self.state
        row = self._urn(owner)
        i = int(s.urns["ilk"][row])
        return self.ilk_names[i], float(s.urns["ink"][row]), float(s.urns["art"][row] * s.rate[i])

    def unsafe(self) -> np.ndarray:
        """Rows of the vaults that can be liquidated now (``ink·spot < art·rate``), in order;
        cached per state version, spot and rate."""
        s = self.state
        key = (s.version, s.spot.tobytes(), s.rate.tobytes())
        if self._candidates[0] != key:
            ilk = s.urns["ilk"]
            rows = np.flatnonzero(mm.unsafe_rows(s.urns["ink"], s.urns["art"], s.rate[ilk], s.spot[ilk]))
            self._candidates = (key, rows)
        return self._candidates[1]

    def owner(self, row: int) -> str:
        """The owner of vault ``row``."""
        return self.state.owners.name(row)

    def auction_price(self, auction_id: int, at_s: int | None = None) -> tuple[float, bool]:
        """A Dutch auction's price (DAI per token) at ``at_s`` (default: now) and whether it needs a reset."""
        s = self.state
        i = int(s.sales["ilk"][auction_id])
        clip = self.params.ilks[self.ilk_names[i]].clip
        top, tic = float(s.sales["top"][auction_id]), int(s.sales["tic_s"][auction_id])
        dur = (self._now_s() if at_s is None else at_s) - tic
        price = mm.auction_price(clip.calc, top, dur)
        return price, mm.needs_reset(top, price, dur, clip.tail // 1000, clip.cusp)

    def view(self) -> "MakerView":
        """A read-only window for agents (:class:`MakerView`)."""
        return MakerView(self)

    def prices(self) -> dict[str, float]:
        """Each ilk's spot (DAI of debt a collateral token may back) and rate."""
        out = {}
        for i, n in enumerate(self.ilk_names):
            out[f"{n}:spot"], out[f"{n}:rate"] = float(self.state.spot[i]), float(self.state.rate[i])
        return out

    # -- vaults -----------------------------------------------------------------------------
    @handler(gas=GAS["frob"], revert_gas=REVERT_GAS)
    def frob(self, sender: str, ilk: str, dink: float, dart: float):
        """Adjust the sender's vault of ``ilk`` (dss `vat.sol` ``frob``, with the gem and DAI joins):
        ``dink`` collateral tokens in (+) or out (−), ``dart`` normalised debt drawn (+, DAI minted
        to the sender: ``dart × rate``) or repaid (−, burnt from the sender). Reverts like the Vat:
        ceilings, an unsafe result of a riskier change, a dusty vault."""
        if not (isinstance(dink, (int, float)) and isinstance(dart, (int, float)) and math.isfinite(dink) and math.isfinite(dart)):
            raise Revert("dink and dart must be finite numbers")
        i, s = self._ilk(ilk), self.state
        row = s.owners.get(sender)
        ink0, art0 = (0.0, 0.0) if row is None else (float(s.urns["ink"][row]), float(s.urns["art"][row]))
        if row is not None and int(s.urns["ilk"][row]) != i:
            raise Revert("one vault per owner: the sender's vault is of another ilk")
        ink, art = ink0 + dink, art0 + dart
        if ink < 0 or art < 0:
            raise Revert("Vat/sub-underflow")
        rate, spot = float(s.rate[i]), float(s.spot[i])
        dtab = rate * dart
        if dart > 0 and ((s.Art[i] + dart) * rate > self.line[i] or s.debt + dtab > self.Line):
            raise Revert("Vat/ceiling-exceeded")
        if not (dart <= 0 and dink >= 0) and art * rate > ink * spot:
            raise Revert("Vat/not-safe")
        if art > 0 and art * rate < self.dust[i]:
            raise Revert("Vat/dust")
        gem, dai = self._gem(i), self._ledger(self.params.dai)
        if dink > 0 and gem.balance_of(sender) < dink:
            raise Revert("insufficient collateral balance")
        if dart < 0 and dai.balance_of(sender) < -dtab:
            raise Revert("Vat/insufficient-dai")
        if row is None:
            row = s.owners.add(sender)
            s.urns.append(ilk=i, ink=0.0, art=0.0)
        if dink > 0:
            gem.move(sender, self.name, dink)
        elif dink < 0:
            gem.move(self.name, sender, -dink)
        if dart > 0:
            self._mint_dai(sender, dtab)
        elif dart < 0:
            self._burn_dai(sender, -dtab)
        s.urns["ink"][row], s.urns["art"][row] = ink, art
        s.Art[i] += dart
        s.version += 1
        return art * rate

    @handler(gas=GAS["drip"], revert_gas=REVERT_GAS)
    def drip(self, sender: str, ilk: str):
        """Accrue the stability fee since the last drip (dss `jug.sol` ``drip`` and `vat.sol`
        ``fold``): ``rate ← rate · duty^(now − rho)``; the interest, ``Art·Δrate`` DAI, is minted
        to the Vow (surplus). Returns the new rate."""
        i, s = self._ilk(ilk), self.state
        now = self._now_s()
        if now < s.rho_s[i]:
            raise Revert("Jug/invalid-now")
        new = mm.grow_rate(float(s.rate[i]), float(self.log_duty[i]), int(now - s.rho_s[i]))
        interest = float(s.Art[i]) * (new - float(s.rate[i]))
        s.rate[i], s.rho_s[i] = new, now
        if interest > 0:
            self._mint_dai(self.name, interest)
        s.version += 1
        return new

    @handler(gas=GAS["poke"], revert_gas=REVERT_GAS)
    def poke(self, sender: str, ilk: str):
        """The Spotter reads the ilk's oracle (its OSM: the price released one hour late) and sets
        ``spot = price / par / mat`` (dss `spot.sol` ``poke``). Returns the new spot."""
        i = self._ilk(ilk)
        self.state.spot[i] = mm.spot_of(self._osm_price(i), float(self.mat[i]))
        return float(self.state.spot[i])

    # -- the Peg Stability Module -----------------------------------------------------------
    def _psm(self, ilk: str, amount) -> tuple[int, object, int]:
        i = self._ilk(ilk)
        p = self.params.ilks[ilk].psm
        if p is None:
            raise Revert(f"{ilk} has no PSM")
        if not (isinstance(amount, (int, float)) and not isinstance(amount, bool) and math.isfinite(amount) and amount > 0):
            raise Revert("amount must be a positive number")
        s, owner = self.state, f"psm:{ilk}"
        row = s.owners.get(owner)
        if row is None:
            row = s.owners.add(owner)
            s.urns.append(ilk=i, ink=0.0, art=0.0)
        return i, p, row

    @handler(gas=GAS["sell_gem"], revert_gas=REVERT_GAS)
    def sell_gem(self, sender: str, ilk: str, amount: float):
        """``DssPsm.sellGem`` (dss-psm `DssPsm.sol`): ``amount`` gem tokens in, ``amount × (1 − tin)``
        DAI out; the PSM's vault takes the gem as ``ink`` and the DAI as ``art`` (``vat.frob``, under
        the ilk's ceiling), the fee goes to the Vow. Returns the DAI paid."""
        i, p, row = self._psm(ilk, amount)
        s = self.state
        rate = float(s.rate[i])
        dart = amount / rate
        if (s.Art[i] + dart) * rate > self.line[i] or s.debt + amount > self.Line:
            raise Revert("Vat/ceiling-exceeded")
        gem = self._gem(i)
        if gem.balance_of(sender) < amount:
            raise Revert("insufficient gem balance")
        fee = amount * p.tin
        gem.move(sender, self.name, amount)
        s.urns["ink"][row] += amount
        s.urns["art"][row] += dart
        s.Art[i] += dart
        self._mint_dai(sender, amount - fee)
        if fee > 0:
            self._mint_dai(self.name, fee)
        s.version += 1
        return amount - fee

    @handler(gas=GAS["buy_gem"], revert_gas=REVERT_GAS)
    def buy_gem(self, sender: str, ilk: str, amount: float):
        """``DssPsm.buyGem`` (dss-psm `DssPsm.sol`): ``amount`` gem tokens out for ``amount × (1 +
        tout)`` DAI in; the DAI repays the PSM vault's debt (burnt), the fee goes to the Vow.
        Returns the DAI paid."""
        i, p, row = self._psm(ilk, amount)
        s = self.state
        if amount > float(s.urns["ink"][row]):
            raise Revert("Vat/sub-underflow: the PSM holds less of the gem")
        fee = amount * p.tout
        dai = self._ledger(self.params.dai)
        if dai.balance_of(sender) < amount + fee:
            raise Revert("Vat/insufficient-dai")
        dart = min(amount / float(s.rate[i]), float(s.urns["art"][row]))
        self._burn_dai(sender, amount)
        if fee > 0:
            dai.move(sender, self.name, fee)
        s.urns["ink"][row] -= amount
        s.urns["art"][row] -= dart
        s.Art[i] -= dart
        self._gem(i).move(self.name, sender, amount)
        s.version += 1
        return amount + fee

    # -- Liquidations 2.0 -------------------------------------------------------------------
    def _seize(self, i: int, row: int, seizure: mm.Seizure) -> None:
        """``vat.grab``: the collateral and debt leave the vault; the debt joins the Vow's queue."""
        s = self.state
        ink0, art0 = float(s.urns["ink"][row]), float(s.urns["art"][row])
        # taken whole: exactly zero left (the contracts' integers cannot leave a float remainder)
        s.urns["ink"][row] = 0.0 if seizure.dink >= ink0 else ink0 - seizure.dink
        s.urns["art"][row] = 0.0 if seizure.dart >= art0 else art0 - seizure.dart
        s.Art[i] -= seizure.dart
        self._fess(seizure.due)
        s.version += 1

    def _unsafe_vault(self, ilk: str, vault: str, auction: str) -> tuple[int, int, float, float, float]:
        """The checks bark and bite share: the ilk liquidates by ``auction`` and the vault is
        unsafe. Returns (ilk index, row, ink, art, rate)."""
        i = self._ilk(ilk)
        if self.params.ilks[ilk].auction != auction:
            raise Revert(f"{ilk} liquidates by {'bite (Liquidations 1.2)' if auction == 'clip' else 'bark (Liquidations 2.0)'}")
        row, s = self._urn(vault), self.state
        who = "Dog" if auction == "clip" else "Cat"
        if int(s.urns["ilk"][row]) != i:
            raise Revert(f"{who}/not-unsafe: the vault is of another ilk")
        ink, art, rate = float(s.urns["ink"][row]), float(s.urns["art"][row]), float(s.rate[i])
        if not mm.unsafe_rows(ink, art, rate, float(s.spot[i])):
            raise Revert(f"{who}/not-unsafe")
        return i, row, ink, art, rate

    @handler(gas=GAS["bark"], revert_gas=REVERT_GAS, role=LIQUIDATION_CALL)
    def bark(self, sender: str, ilk: str, vault: str):
        """``Dog.bark`` + ``Clipper.kick`` (dss `dog.sol`, `clip.sol`): take an unsafe vault's debt
        and collateral (all of it, or what the ``Hole``/``hole`` room allows) into a Dutch
        auction starting at the feed price × ``buf``; the sender receives ``tip + tab × chip`` DAI
        minted as system debt. Returns the auction id."""
        i, row, ink, art, rate = self._unsafe_vault(ilk, vault, "clip")
        p, s = self.params.ilks[ilk], self.state
        if not (self.Hole > s.Dirt and self.hole[i] > s.dirt[i]):
            raise Revert("Dog/liquidation-limit-hit")
        room = min(self.Hole - s.Dirt, float(self.hole[i] - s.dirt[i]))
        seizure = mm.bark_amounts(ink, art, rate, float(self.dust[i]), float(self.chop[i]), room)
        feed = self._osm_price(i)
        top = feed * p.clip.buf
        if not top > 0:
            raise Revert("Clipper/zero-top-price")
        self._seize(i, row, seizure)
        s.Dirt += seizure.tab
        s.dirt[i] += seizure.tab
        auction = int(s.sales.append(ilk=i, urn=row, tab=seizure.tab, lot=seizure.dink, top=top, tic_s=self._now_s(),
                                     due=seizure.due, raised=0.0, sold=0.0)[0])
        coin = mm.keeper_coin(seizure.tab, p.clip.tip_dai, p.clip.chip)
        self._suck(sender, coin)
        self._liq_log.append((self._block_number(), self.name, ilk, vault, sender, "bark", auction, seizure.due,
                              seizure.due, seizure.dink, seizure.dink * feed, seizure.tab, coin, 0.0))
        return auction

    def _running_sale(self, auction_id) -> int:
        s = self.state
        if not (isinstance(auction_id, int) and 0 <= auction_id < s.sales.size and s.sales["alive"][auction_id]):
            raise Revert("Clipper/not-running-auction")
        return auction_id

    def _quote_take(self, auction_id, amt: float, max_price: float) -> tuple[int, int, float, mm.TakeAmounts]:
        if not (isinstance(amt, (int, float)) and amt > 0 and isinstance(max_price, (int, float))):
            raise Revert("amt must be positive and max_price a number")
        k = self._running_sale(auction_id)
        s = self.state
        i = int(s.sales["ilk"][k])
        price, done = self.auction_price(k)
        if done:
            raise Revert("Clipper/needs-reset")
        chost = float(self.dust[i] * self.chop[i])
        t = mm.take_amounts(float(s.sales["lot"][k]), float(s.sales["tab"][k]), float(amt), price, float(max_price), chost)
        return k, i, price, t

    def _settle_take(self, sender: str, k: int, i: int, price: float, t: mm.TakeAmounts, buyer: str) -> None:
        """Effects of a take after the DAI arrived at the Vow: the slice to ``buyer``, the
        Dog's room freed, and the auction closed when its lot or tab is gone."""
        s = self.state
        s.sales["raised"][k] += t.owe
        s.sales["sold"][k] += t.slice
        freed = t.tab + t.owe if t.lot <= 0 else t.owe
        s.Dirt = max(0.0, s.Dirt - freed)
        s.dirt[i] = max(0.0, s.dirt[i] - freed)
        s.sales["tab"][k], s.sales["lot"][k] = t.tab, t.lot
        self._bid_log.append((self._block_number(), self.name, "take", k, sender, price, t.owe, t.slice))
        if t.lot <= 0 or t.tab <= 0:
            returned = t.lot if t.tab <= 0 else 0.0
            if returned > 0:
                self._return_collateral(i, int(s.sales["urn"][k]), returned)
            s.sales.kill([k])
            self._end_auction("clip", k, i, int(s.sales["urn"][k]), float(s.sales["due"][k]),
                              float(s.sales["tab"][k]) + float(s.sales["raised"][k]), float(s.sales["raised"][k]),
                              float(s.sales["sold"][k]), returned, buyer)

    def _return_collateral(self, i: int, row: int, amount: float) -> None:
        """Unsold collateral goes back to the vault (``vat.flux`` to the owner's urn, as ``ink``
        to withdraw: here straight into the vault)."""
        self.state.urns["ink"][row] += amount
        self.state.version += 1

    @handler(gas=GAS["take"], revert_gas=REVERT_GAS)
    def take(self, sender: str, auction_id: int, amt: float, max_price: float):
        """``Clipper.take`` (dss `clip.sol`): buy up to ``amt`` collateral tokens at the auction's
        price now if it is at most ``max_price`` (DAI per token), paying DAI from the sender's
        balance. Returns the collateral bought."""
        k, i, price, t = self._quote_take(auction_id, amt, max_price)
        self._pay_in(sender, t.owe)
        self._gem(i).move(self.name, sender, t.slice)
        self._settle_take(sender, k, i, price, t, sender)
        return t.slice

    @handler(gas=GAS["take_and_sell"], revert_gas=REVERT_GAS)
    def take_and_sell(self, sender: str, auction_id: int, amt: float, max_price: float, swap_pool: str):
        """``Clipper.take`` with a ``clipperCall`` (dss `clip.sol`; the callee of dss
        `LiquidationOracle`-style keepers): the slice goes to the callee, which sells it on
        ``swap_pool`` (an on-chain pool trading the ilk's gem against DAI, with its price impact)
        and pays the owed DAI from the proceeds; the rest goes to the sender. Reverts whole when the
        sale does not cover what is owed. Needs no capital. Returns the DAI kept."""
        k, i, price, t = self._quote_take(auction_id, amt, max_price)
        amm = self.host.protocols.get(swap_pool)
        if amm is None or not hasattr(amm, "check_swap"):
            raise Revert(f"{swap_pool!r} is not a swap pool")
        ledgers = getattr(amm.params, "ledgers", None) or {}
        gem_name, dai_name = self.params.ilks[self.ilk_names[i]].gem, self.params.dai
        syms = {v: k_ for k_, v in ledgers.items()}
        if gem_name not in syms or dai_name not in syms:
            raise Revert(f"{swap_pool} does not trade {gem_name} against {dai_name}")
        swap = amm.check_swap(syms[gem_name], t.slice)
        if not swap.amount_out >= t.owe:
            raise Revert("clipperCall: the sale does not cover the DAI owed")
        self._gem(i).move(self.name, sender, t.slice)
        amm.apply_swap(sender, swap)
        self._pay_in(sender, t.owe)
        self._settle_take(sender, k, i, price, t, sender)
        return swap.amount_out - t.owe

    @handler(gas=GAS["redo"], revert_gas=REVERT_GAS)
    def redo(self, sender: str, auction_id: int):
        """``Clipper.redo`` (dss `clip.sol`): restart an auction that needs a reset at the feed
        price × ``buf``; the sender receives the incentive unless the auction is dusty."""
        k = self._running_sale(auction_id)
        _price, done = self.auction_price(k)
        if not done:
            raise Revert("Clipper/cannot-reset")
        s = self.state
        i = int(s.sales["ilk"][k])
        clip = self.params.ilks[self.ilk_names[i]].clip
        feed = self._osm_price(i)
        top = feed * clip.buf
        if not top > 0:
            raise Revert("Clipper/zero-top-price")
        s.sales["top"][k], s.sales["tic_s"][k] = top, self._now_s()
        tab, lot = float(s.sales["tab"][k]), float(s.sales["lot"][k])
        coin = mm.redo_coin(tab, lot, feed, clip.tip_dai, clip.chip, float(self.dust[i] * self.chop[i]))
        self._suck(sender, coin)
        return top

    # -- Liquidations 1.2 -------------------------------------------------------------------
    @handler(gas=GAS["bite"], revert_gas=REVERT_GAS, role=LIQUIDATION_CALL)
    def bite(self, sender: str, ilk: str, vault: str):
        """``Cat.bite`` + ``Flipper.kick`` (dss `cat.sol`, `flip.sol` before Liq 2.0): take up to
        ``dunk`` of tab (and the ``box`` room) from an unsafe vault into an English auction whose
        bid starts at 0. Returns the auction id."""
        i, row, ink, art, rate = self._unsafe_vault(ilk, vault, "flip")
        p, s = self.params.ilks[ilk], self.state
        seizure = mm.bite_amounts(ink, art, rate, float(self.dust[i]), float(self.chop[i]), p.flip.dunk_dai,
                                  self.box - s.litter)
        self._seize(i, row, seizure)
        s.litter += seizure.tab
        now = self._now_s()
        auction = int(s.flips.append(ilk=i, urn=row, tab=seizure.tab, lot=seizure.dink, bid=0.0, tic_s=0,
                                     end_s=now + p.flip.tau // 1000, due=seizure.due, returned=0.0)[0])
        s.flip_guys.append(self.name)  # the Cat: the first bid pays no one back
        self._liq_log.append((self._block_number(), self.name, ilk, vault, sender, "bite", auction, seizure.due,
                              seizure.due, seizure.dink, seizure.dink * self._osm_price(i), seizure.tab, 0.0, 0.0))
        return auction

    def _running_flip(self, auction_id) -> tuple[int, int]:
        s = self.state
        if not (isinstance(auction_id, int) and 0 <= auction_id < s.flips.size and s.flips["alive"][auction_id]):
            raise Revert("Flipper/guy-not-set")
        now = self._now_s()
        tic, end = int(s.flips["tic_s"][auction_id]), int(s.flips["end_s"][auction_id])
        if not (tic > now or tic == 0):
            raise Revert("Flipper/already-finished-tic")
        if not end > now:
            raise Revert("Flipper/already-finished-end")
        return auction_id, int(s.flips["ilk"][auction_id])

    def _flip_bid(self, sender: str, k: int, i: int, pay_guy: float, pay_vow: float) -> None:
        """The DAI of a tend or dent: the last bidder gets their bid back from the new one
        (``vat.move`` to ``guy``), the increase goes to the Vow."""
        s = self.state
        dai = self._ledger(self.params.dai)
        need = (pay_guy if sender != s.flip_guys[k] else 0.0) + pay_vow
        if dai.balance_of(sender) < need:
            raise Revert("Vat/insufficient-dai")
        if sender != s.flip_guys[k]:
            if pay_guy > 0:
                dai.move(sender, s.flip_guys[k], pay_guy)
            s.flip_guys[k] = sender
        if pay_vow > 0:
            dai.move(sender, self.name, pay_vow)
        s.flips["tic_s"][k] = self._now_s() + self.params.ilks[self.ilk_names[i]].flip.ttl // 1000

    @handler(gas=GAS["tend"], revert_gas=REVERT_GAS)
    def tend(self, sender: str, auction_id: int, lot: float, bid: float):
        """``Flipper.tend`` (dss `flip.sol`): bid ``bid`` DAI for the whole lot, more than the last
        bid by ``beg`` unless it is the tab. A first bid of almost nothing is valid."""
        k, i = self._running_flip(auction_id)
        s = self.state
        cur_lot, cur_bid, tab = float(s.flips["lot"][k]), float(s.flips["bid"][k]), float(s.flips["tab"][k])
        x.check_tend(lot, bid, cur_lot, cur_bid, tab, self.params.ilks[self.ilk_names[i]].flip.beg * x.WAD)
        self._flip_bid(sender, k, i, cur_bid, bid - cur_bid)
        s.flips["bid"][k] = bid
        self._bid_log.append((self._block_number(), self.name, "tend", k, sender, bid / lot, bid, lot))
        return bid

    @handler(gas=GAS["dent"], revert_gas=REVERT_GAS)
    def dent(self, sender: str, auction_id: int, lot: float, bid: float):
        """``Flipper.dent`` (dss `flip.sol`): at the tab, accept ``lot`` collateral, less than the last
        by ``beg``; the collateral given up returns to the vault."""
        k, i = self._running_flip(auction_id)
        s = self.state
        cur_lot, cur_bid, tab = float(s.flips["lot"][k]), float(s.flips["bid"][k]), float(s.flips["tab"][k])
        x.check_dent(lot, bid, cur_lot, cur_bid, tab, self.params.ilks[self.ilk_names[i]].flip.beg * x.WAD)
        self._flip_bid(sender, k, i, cur_bid, 0.0)
        self._return_collateral(i, int(s.flips["urn"][k]), cur_lot - lot)
        s.flips["returned"][k] += cur_lot - lot
        s.flips["lot"][k] = lot
        self._bid_log.append((self._block_number(), self.name, "dent", k, sender, bid / lot, bid, lot))
        return lot

    @handler(gas=GAS["deal"], revert_gas=REVERT_GAS)
    def deal(self, sender: str, auction_id: int):
        """``Flipper.deal`` (dss `flip.sol`): settle an auction with a bid whose time is up: the lot
        to the winner, the Cat's room freed (``claw``). Bad debt: what the bid left of the debt."""
        s = self.state
        k = auction_id
        if not (isinstance(k, int) and 0 <= k < s.flips.size and s.flips["alive"][k]):
            raise Revert("Flipper/not-finished")
        now, tic, end = self._now_s(), int(s.flips["tic_s"][k]), int(s.flips["end_s"][k])
        if not (tic != 0 and (tic < now or end < now)):
            raise Revert("Flipper/not-finished")
        i = int(s.flips["ilk"][k])
        lot, bid, tab = float(s.flips["lot"][k]), float(s.flips["bid"][k]), float(s.flips["tab"][k])
        s.litter = max(0.0, s.litter - tab)
        winner = s.flip_guys[k]
        self._gem(i).move(self.name, winner, lot)
        s.flips.kill([k])
        self._end_auction("flip", k, i, int(s.flips["urn"][k]), float(s.flips["due"][k]), tab, bid, lot,
                          float(s.flips["returned"][k]), winner)
        return lot

    @handler(gas=GAS["tick"], revert_gas=REVERT_GAS)
    def tick(self, sender: str, auction_id: int):
        """``Flipper.tick`` (dss `flip.sol`): restart an auction that ended with no bid."""
        s = self.state
        k = auction_id
        if not (isinstance(k, int) and 0 <= k < s.flips.size and s.flips["alive"][k]):
            raise Revert("Flipper/not-finished")
        if not int(s.flips["end_s"][k]) < self._now_s():
            raise Revert("Flipper/not-finished")
        if int(s.flips["tic_s"][k]) != 0:
            raise Revert("Flipper/bid-already-placed")
        tau = self.params.ilks[self.ilk_names[int(s.flips["ilk"][k])]].flip.tau // 1000
        s.flips["end_s"][k] = self._now_s() + tau
        return int(s.flips["end_s"][k])

    def _end_auction(self, kind: str, k: int, i: int, row: int, due: float, tab: float, raised: float,
                     sold: float, returned: float, winner: str) -> None:
        """One ``maker_auctions`` row, and a ``maker_losses`` row for the debt left uncovered."""
        lost = max(0.0, due - raised)
        block = self._block_number()
        self._auction_log.append((block, self.name, self.ilk_names[i], kind, k, self.owner(row), tab, due, raised, sold,
                                  returned, winner if raised > 0 else "", raised < 0.01 * tab, lost))
        if lost > 0:
            self._loss_log.append((block, self.name, k, lost))
        self.state.version += 1

    # -- results ----------------------------------------------------------------------------
    def positions(self) -> Positions:
        """Each vault's collateral (in its ilk's column) and debt (DAI column) at the Spotter's
        oracle prices; liquidatable: unsafe now."""
        s = self.state
        n, m = s.urns.size, len(self.ilk_names)
        coll, debt = np.zeros((n, m + 1)), np.zeros((n, m + 1))
        ilk = s.urns["ilk"]
        coll[np.arange(n), ilk] = s.urns["ink"]
        debt[:, m] = s.urns["art"] * s.rate[ilk]
        liquidatable = np.zeros(n, dtype=bool)
        liquidatable[self.unsafe()] = True
        prices = np.array([self._osm_price(i) for i in range(m)] + [1.0])
        return Positions((*self.ilk_names, "DAI"), coll, debt, prices, liquidatable, (None,) * (m + 1))

    def summary(self, tables: dict) -> dict:
        """Auctions, the zero-bid share, surplus, deficit, governance tokens minted (debt
        auctions) and burnt (surplus auctions)."""
        a = tables["maker_auctions"]
        a = a[a["system"] == self.name]
        f = tables["maker_flops"]
        f = f[(f["system"] == self.name) & (f["action"] == "deal")]
        fl = tables["maker_flaps"]
        fl = fl[(fl["system"] == self.name) & (fl["action"] == "deal")]
        liq = tables["maker_liquidations"]
        liq = liq[liq["system"] == self.name]
        s = self.state
        return {
            "vault_liquidations": int(len(liq)),
            "auctions_started": int(s.sales.size + s.flips.size),
            "auctions_ended": int(len(a)),
            "auctions_running": int(s.sales["alive"].sum() + s.flips["alive"].sum()),
            "zero_bid_auctions": int(a["zero_bid"].sum()),
            "zero_bid_share": float(a["zero_bid"].mean()) if len(a) else 0.0,
            "auction_shortfall_dai": float(a["written_off_usd"].sum()),
            "surplus_dai": self.surplus(),
            "system_debt_dai": float(s.vice),
            "deficit_dai": max(0.0, float(s.vice) - self.surplus()),
            "gov_minted": float(f["gov_tokens"].sum()),
            "surplus_auctioned_dai": float(fl["dai"].sum()),
            "gov_burnt": float(fl["gov_tokens"].sum()),
        }
