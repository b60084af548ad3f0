"""Parameters of a Maker (Sky) system: collateral types (ilks), their auctions, the Vow, and
the vaults opened at the start.

Whole tokens and DAI (the contracts' wad/ray/rad conversions are in :mod:`protocols.maker.exact`);
ratios as plain numbers (``mat=1.5`` is the 150 % liquidation ratio, ``chop=1.13`` a 13 %
penalty, ``buf=1.2`` a start price 20 % over the feed, ``beg=1.03`` a 3 % minimum step);
durations as ``DurationMs`` (``"90s"``, ``"10min"``, ``"6h"``), which the contracts read in whole
seconds; the stability fee as an annual fraction (``Jug.duty = (1 + fee)^(1/365 days)``).

Sources: makerdao/dss `src/vat.sol` (``line``, ``Line``, ``dust``), `src/spot.sol` (``mat``),
`src/jug.sol` (``duty``), `src/dog.sol` (``Hole``, ``hole``, ``chop``), `src/clip.sol` (``buf``,
``tail``, ``cusp``, ``chip``, ``tip``), `src/abaci.sol` (the price curves), `src/vow.sol` and
`src/flop.sol` and `src/flap.sol` (``bump``, ``hump``, ``sump``, ``dump``, ``pad``, ``beg``, ``ttl``, ``tau``, ``wait``); Liquidations 1.2
`src/cat.sol` (``box``, ``dunk``) and `src/flip.sol` (``beg``, ``ttl``, ``tau``: contract defaults
5 %, 3 h, 2 days) before dss "Liq 2.0 (#228)".
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import Distribution, DurationMs, FilePath, LogNormal, Uniform, population_count, protocol_of, unit

__all__ = ["PsmParams", "StairstepCurve", "LinearCurve", "ExponentialCurve", "ClipParams", "FlipParams", "IlkParams", "FlapParams", "VowParams",
           "VaultsParams", "MakerParams", "VAULT_BYTES", "VAULT_PREFIX", "SECONDS_PER_YEAR", "no_limit", "VAULT_CSV_COLUMNS", "read_vault_csv"]

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

#: The Jug's year (365 days, seconds): ``duty = (1 + fee)^(1/SECONDS_PER_YEAR)``.
SECONDS_PER_YEAR = 31_536_000
#: Memory a run holds per vault (its row of the urn columns and the ledger balance of its DAI), bytes.
VAULT_BYTES = 200
#: A generated vault's owner is this prefix and its number (``vault/0`` …).
VAULT_PREFIX = "vault/"


class StairstepCurve(BaseModel):
    """``StairstepExponentialDecrease``: the price falls by the factor ``cut`` every ``step``
    (dss `abaci.sol`; ETH-A since 2021: 0.99 every 90 s)."""

    model_config = _CONFIG
    kind: Literal["stairstep"] = Field("stairstep", description="StairstepExponentialDecrease")
    step: DurationMs = Field(90_000, ge=1_000, description="time between two price cuts (whole seconds)")
    cut: float = Field(0.99, gt=0, lt=1, description="price kept at each step", json_schema_extra=unit("fraction"))


class LinearCurve(BaseModel):
    """``LinearDecrease``: the price falls linearly to 0 over ``tau`` (dss `abaci.sol`)."""

    model_config = _CONFIG
    kind: Literal["linear"] = Field("linear", description="LinearDecrease")
    tau: DurationMs = Field(3_600_000, ge=1_000, description="time for the price to reach 0 (whole seconds)")


class ExponentialCurve(BaseModel):
    """``ExponentialDecrease``: the price falls by the factor ``cut`` each second (dss `abaci.sol`)."""

    model_config = _CONFIG
    kind: Literal["exponential"] = Field("exponential", description="ExponentialDecrease")
    cut: float = Field(0.999, gt=0, lt=1, description="price kept each second", json_schema_extra=unit("fraction"))


Calc = Annotated[Union[StairstepCurve, LinearCurve, ExponentialCurve], Field(discriminator="kind")]


class ClipParams(BaseModel):
    """A Clipper's Dutch auction (Liquidations 2.0; dss `clip.sol`)."""

    model_config = _CONFIG
    buf: float = Field(1.2, gt=0, description="start price over the feed price", json_schema_extra=unit("x"))
    tail: DurationMs = Field(8_400_000, ge=1_000, description="auction age after which it needs a reset (redo)")
    cusp: float = Field(0.4, gt=0, lt=1, description="price drop (of the start price) after which it needs a reset",
                        json_schema_extra=unit("fraction"))
    chip: float = Field(0.001, ge=0, lt=1, description="keeper incentive at kick and redo, share of the tab",
                        json_schema_extra=unit("fraction"))
    tip_dai: float = Field(300.0, ge=0, description="flat keeper incentive at kick and redo")
    calc: Calc = Field(default_factory=StairstepCurve, description="the price curve (abacus)")


class FlipParams(BaseModel):
    """A Flipper's English auction (Liquidations 1.2; dss `flip.sol` and `cat.sol` before Liq 2.0)."""

    model_config = _CONFIG
    beg: float = Field(1.05, gt=1, description="minimum bid increase (tend) or lot decrease (dent)", json_schema_extra=unit("x"))
    ttl: DurationMs = Field(10_800_000, ge=1_000, description="bid lifetime: the auction ends this long after the last bid")
    tau: DurationMs = Field(172_800_000, ge=1_000, description="auction length from the kick (or a tick)")
    dunk_dai: float = Field(50_000.0, gt=0, description="most tab (debt + penalty) one auction takes (Cat.dunk)")


class PsmParams(BaseModel):
    """A Peg Stability Module on an ilk (dss-psm `DssPsm.sol`): its gem (a dollar stablecoin)
    swaps for DAI one for one, ``tin`` taken on the way in (``sellGem``) and ``tout`` on the way
    out (``buyGem``), the fees to the Vow; the DAI it mints is the ilk's debt, under its ``line_dai``."""

    model_config = _CONFIG
    tin: float = Field(0.0, ge=0, lt=1, description="fee on gem sold for DAI", json_schema_extra=unit("fraction"))
    tout: float = Field(0.0, ge=0, lt=1, description="fee on DAI sold for the gem", json_schema_extra=unit("fraction"))
    holding: float = Field(0.0, ge=0, description="gem the PSM holds at the start, as much DAI drawn against it "
                           "(counts against the ceiling; what buyGem can pay out)", json_schema_extra=unit("tokens"))
    holder: str = Field("psm/holders", min_length=1, description="the wallet the opening holding's DAI is in")


class IlkParams(BaseModel):
    """One collateral type: its token, price, risk parameters and liquidation system."""

    model_config = _CONFIG
    gem: protocol_of("token.ledger", role="collateral token ledger") = Field(description="the collateral's token ledger")
    osm: protocol_of("oracles.", role="oracle") = Field(
        description="the price the Spotter reads at each poke (an oracles.osm: released one hour late)")
    mat: float = Field(1.5, ge=1, description="liquidation ratio: collateral value / debt below which a vault is "
                       "unsafe (Spotter.mat)", json_schema_extra=unit("x"))
    stability_fee: float = Field(0.0, ge=0, le=10, description="annual stability fee (Jug.duty)",
                                 json_schema_extra=unit("annual fraction"))
    line_dai: float | None = Field(None, ge=0, description="debt ceiling of the ilk (Vat.ilks.line; None: none)")
    dust_dai: float = Field(0.0, ge=0, description="least debt of a vault with debt (Vat.ilks.dust)")
    chop: float = Field(1.13, ge=1, description="liquidation penalty: tab = debt × chop", json_schema_extra=unit("x"))
    hole_dai: float | None = Field(None, gt=0, description="most tab in this ilk's auctions at once (Dog.ilks.hole; None: no limit)")
    auction: Literal["clip", "flip"] = Field("clip", description="Liquidations 2.0 (Dog.bark, Clipper Dutch "
                                             "auction) or 1.2 (Cat.bite, Flipper English auction)")
    clip: ClipParams = Field(default_factory=ClipParams, description="the Clipper (auction 'clip')")
    flip: FlipParams = Field(default_factory=FlipParams, description="the Flipper (auction 'flip')")
    psm: PsmParams | None = Field(None, description="a Peg Stability Module on this ilk (its gem for DAI one for "
                                  "one, calls sell_gem and buy_gem; its vault is the PSM's, owner 'psm:<ilk>')")

    @model_validator(mode="after")
    def _psm_at_par(self):
        if self.psm is not None and self.mat != 1:
            raise ValueError(f"mat: an ilk with a PSM holds one gem token per DAI: its mat is 1, got {self.mat}")
        return self

    @model_validator(mode="after")
    def _dust_fits(self):
        if self.line_dai is not None and self.dust_dai > self.line_dai:
            raise ValueError(f"dust_dai ({self.dust_dai}) exceeds line_dai ({self.line_dai}): no vault could draw")
        return self


class FlapParams(BaseModel):
    """The Vow's surplus auctions (dss `vow.sol` ``flap``, `flap.sol`): once the Vow's DAI exceeds
    its system debt by ``bump_dai + hump_dai`` and no free debt is left, ``flap`` sells
    ``bump_dai`` of surplus for governance tokens, which bidders raise by ``beg`` and the winner's
    tokens are burnt. Contract defaults: ``beg`` 5 %, ``ttl`` 3 h, ``tau`` 2 days (`flap.sol`)."""

    model_config = _CONFIG
    bump_dai: float = Field(gt=0, description="DAI sold by one surplus auction (the fixed lot)")
    hump_dai: float = Field(0.0, ge=0, description="surplus the Vow keeps beyond its debt (buffer, DAI)")
    beg: float = Field(1.05, gt=1, description="least bid increase", json_schema_extra=unit("x"))
    ttl: DurationMs = Field(10_800_000, ge=1_000, description="the auction ends this long after the last bid")
    tau: DurationMs = Field(172_800_000, ge=1_000, description="auction length from the kick (or a tick)")


class VowParams(BaseModel):
    """The Vow's debt auctions (dss `vow.sol`, `flop.sol`): when the queued-out bad debt exceeds
    ``sump_dai`` and the Vow holds no DAI, ``flop`` sells ``sump_dai`` of DAI for governance tokens
    it mints, starting at ``dump`` tokens; bidders lower the tokens they accept by ``beg``. With
    ``flap``, surplus auctions too (:class:`FlapParams`)."""

    model_config = _CONFIG
    wait: DurationMs = Field(43_200_000, ge=0, description="time before the debt of a liquidation can be released "
        "(flog) to be healed or auctioned; it should exceed the collateral auctions' length, or debt auctions start "
        "before the collateral auctions had the time to cover it (default: an assumption, 12 h)")
    sump_dai: float = Field(50_000.0, gt=0, description="DAI raised by one debt auction (fixed bid)")
    dump: float = Field(250.0, gt=0, description="governance tokens first offered for sump_dai", json_schema_extra=unit("tokens"))
    pad: float = Field(1.2, ge=1, description="lot increase when a debt auction restarts without a bid", json_schema_extra=unit("x"))
    beg: float = Field(1.03, gt=1, description="least lot decrease of a bid", json_schema_extra=unit("x"))
    ttl: DurationMs = Field(21_600_000, ge=1_000, description="the auction ends this long after the last bid")
    tau: DurationMs = Field(259_200_000, ge=1_000, description="auction length from the kick (or a tick)")
    flap: FlapParams | None = Field(None, description="surplus auctions (None: the surplus stays in the Vow)")


class VaultsParams(BaseModel):
    """``count`` vaults of one ilk opened at the start, ``vault/0`` …: collateral value in USD
    from ``size_usd`` and the collateral ratio (collateral value / debt at the start's price)
    from ``collateral_ratio``, so the debt is ``size_usd / ratio`` DAI. Or ``csv``: a vault book
    with columns ``owner, collateral, debt`` (collateral tokens, DAI), one row per vault; then the
    generating keys are refused. A relative path is taken beside the scenario file."""

    model_config = _CONFIG
    ilk: str = Field(description="the ilk of every vault")
    csv: FilePath | None = Field(None, description="file of vaults (owner, collateral in tokens, debt in DAI) "
                                 "instead of drawing them; relative to the scenario file")
    count: population_count(VAULT_BYTES, "vaults") = Field(0, description="vaults generated")
    size_usd: Distribution = Field(LogNormal(median=50_000.0, sigma=1.2), description="collateral value per vault at the start")
    collateral_ratio: Distribution = Field(Uniform(low=1.6, high=3.5),
        description="collateral value / debt at the start (above the ilk's mat)")

    @model_validator(mode="after")
    def _book_or_draws(self):
        if self.csv is not None:
            given = [f for f in ("count", "size_usd", "collateral_ratio") if f in self.model_fields_set]
            if given:
                raise ValueError(f"{given[0]}: the vault book {self.csv} gives every vault; remove {', '.join(given)} "
                                 "(they describe generated vaults)")
            read_vault_csv(self.csv)
        return self


VAULT_CSV_COLUMNS = ["owner", "collateral", "debt"]


def read_vault_csv(path):
    """A vault book (columns :data:`VAULT_CSV_COLUMNS`); the error names the file, row and problem."""
    from protocols.lending.aave_v3.population import read_population_csv

    return read_population_csv(path, VAULT_CSV_COLUMNS, VAULT_BYTES, "vaults")


class MakerParams(BaseModel):
    """A Maker system: the Vat with its ilks, Jug, Spotter, Dog and Clippers (or Cat and
    Flippers), and the Vow with its debt auctions. DAI and the governance token are token ledgers
    this protocol mints and burns (their ``minter`` must be this protocol)."""

    model_config = _CONFIG
    dai: protocol_of("token.ledger", role="DAI ledger") = Field(description="the DAI token ledger")
    gov: protocol_of("token.ledger", role="governance token ledger") | None = Field(
        None, description="the governance token (MKR) the debt auctions mint; None: no debt auctions")
    ilks: dict[str, IlkParams] = Field(min_length=1, description="collateral types by name (e.g. 'ETH-A')")
    Line_dai: float | None = Field(None, ge=0, description="global debt ceiling (Vat.Line; None: none)")
    Hole_dai: float | None = Field(None, gt=0, description="most tab in all Clipper auctions at once (Dog.Hole; None: no limit)")
    box_dai: float | None = Field(None, gt=0, description="most tab in all Flipper auctions at once (Cat.box; None: no limit)")
    vow: VowParams = Field(default_factory=VowParams, description="the Vow's debt auctions")
    vaults: VaultsParams | None = Field(None, description="vaults opened at the start")

    @model_validator(mode="after")
    def _known_ilk(self):
        if self.vaults is not None:
            if self.vaults.ilk not in self.ilks:
                raise ValueError(f"vaults.ilk: {self.vaults.ilk!r} is not one of the ilks ({', '.join(self.ilks)})")
            low, mat = self.vaults.collateral_ratio.quantile(0.0), self.ilks[self.vaults.ilk].mat
            if self.vaults.csv is None and low < mat:
                raise ValueError(f"vaults.collateral_ratio: vaults must start safe, above mat {mat} (lowest {low})")
        return self


def no_limit(value: float | None) -> float:
    """A ceiling or limit in DAI, ``None`` (none) as infinity."""
    return float("inf") if value is None else float(value)
