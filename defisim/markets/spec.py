"""Specifications of price feeds and off-chain venues: frozen pydantic models.

:class:`MarketSpec` maps an asset to a feed and a venue name to a venue; embedded in a scenario
(for instance as a ``markets`` section of the engine spec) it reads::

    [markets.feeds.ETH]
    kind = "scripted"
    base_price_usd = 2000
    moves = [{kind = "ramp", start = "30m", duration = "4m", change = -0.35}]

    [markets.venues.binance_eth]
    asset = "ETH"
    depth = {kind = "linear", depth_usd_per_pct = 5e6}
    half_life = "60s"
    market_maker = {vol_threshold_annual = 2.0, withdraw_share = 0.7}

Durations are strings (``"30m"``) parsed once into integer milliseconds; every model rejects
unknown keys, and a bad value fails at construction with the field's dotted path in the
error. The models only describe; :mod:`defisim.markets.feeds` and :mod:`defisim.markets.venues` build the
objects.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from defisim.base.checks import FilePath
from defisim.base.units import DurationMs, format_duration_ms, unit
from defisim.markets.price_csv import read_price_csv

__all__ = [
    "GbmFeedSpec",
    "JumpDiffusionFeedSpec",
    "RampMove",
    "HoldMove",
    "JumpMove",
    "Move",
    "NoiseSpec",
    "ScriptedFeedSpec",
    "CsvFeedSpec",
    "FeedSpec",
    "LinearDepthSpec",
    "SqrtDepthSpec",
    "DepthSpec",
    "MarketMakerSpec",
    "VenueSpec",
    "MarketSpec",
]



class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# --------------------------------------------------------------------------------------------
# Feeds
# --------------------------------------------------------------------------------------------


class GbmFeedSpec(_Spec):
    """Geometric Brownian motion, simulated exactly on a grid of ``step``.

    ``d ln S = (drift_annual − volatility_annual² / 2) dt + volatility_annual dW``, ``t`` in years
    of 365 days (Aave `MathUtils.sol`: `SECONDS_PER_YEAR = 365 days`).
    """

    kind: Literal["gbm"] = Field("gbm", description="feed kind")
    initial_price_usd: float = Field(gt=0, allow_inf_nan=False, description="price at the start")
    drift_annual: float = Field(0.0, allow_inf_nan=False,
        description="expected return per year, E[S_t] = S_0 e^(drift t)", json_schema_extra=unit("annual fraction"))
    volatility_annual: float = Field(ge=0, allow_inf_nan=False,
        description="annualised volatility of log returns", json_schema_extra=unit("annual fraction"))
    step: DurationMs = Field(1_000, gt=0, description="grid step of the simulated path")


class JumpDiffusionFeedSpec(_Spec):
    """Merton jump diffusion: a GBM plus Poisson jumps of log size ``N(jump_log_mean, jump_log_std²)``.

    The drift is compensated, so ``drift_annual`` keeps its GBM meaning ``E[S_t] = S_0 e^(drift t)``.
    """

    kind: Literal["jump_diffusion"] = Field("jump_diffusion", description="feed kind")
    initial_price_usd: float = Field(gt=0, allow_inf_nan=False, description="price at the start")
    drift_annual: float = Field(0.0, allow_inf_nan=False,
        description="expected return per year, E[S_t] = S_0 e^(drift t)", json_schema_extra=unit("annual fraction"))
    volatility_annual: float = Field(ge=0, allow_inf_nan=False,
        description="annualised volatility of the diffusion", json_schema_extra=unit("annual fraction"))
    step: DurationMs = Field(1_000, gt=0, description="grid step of the simulated path")
    jump_rate_per_year: float = Field(ge=0, allow_inf_nan=False,
        description="mean number of jumps per year", json_schema_extra=unit("per year"))
    jump_log_mean: float = Field(0.0, allow_inf_nan=False, description="mean of the log jump size")
    jump_log_std: float = Field(0.0, ge=0, allow_inf_nan=False, description="std of the log jump size")


class RampMove(_Spec):
    """Move the price by ``change`` (a fraction: −0.35 = −35%) linearly over ``[start, start + duration]``."""

    kind: Literal["ramp"] = Field("ramp", description="move kind")
    start: DurationMs = Field(description="when the ramp starts, from the run's start")
    duration: DurationMs = Field(gt=0, description="how long it lasts")
    change: float = Field(gt=-1, allow_inf_nan=False,
        description="relative move over the ramp: -0.35 = -35%", json_schema_extra=unit("fraction"))

    @property
    def window_ms(self) -> tuple[int, int]:
        return self.start, self.start + self.duration


class HoldMove(_Spec):
    """Hold the price flat at ``level`` × base over ``[start, start + duration)`` (times the noise, if any).

    ``after = "stay"`` keeps that level after the window; ``"revert"`` returns to the level in
    force before the window.
    """

    kind: Literal["hold"] = Field("hold", description="move kind")
    start: DurationMs = Field(description="when the hold starts")
    duration: DurationMs = Field(gt=0, description="how long it lasts")
    level: float = Field(gt=0, allow_inf_nan=False,
        description="price level as a multiple of the base price", json_schema_extra=unit("x"))
    after: Literal["stay", "revert"] = Field("stay",
        description="after the window: keep the level or return to the one before")

    @property
    def window_ms(self) -> tuple[int, int]:
        return self.start, self.start + self.duration


class JumpMove(_Spec):
    """Move the price by ``change`` (a fraction) at time ``at``, from then on."""

    kind: Literal["jump"] = Field("jump", description="move kind")
    at: DurationMs = Field(description="when the jump happens")
    change: float = Field(gt=-1, allow_inf_nan=False,
        description="relative move: -0.1 = -10%", json_schema_extra=unit("fraction"))

    @property
    def window_ms(self) -> tuple[int, int]:
        return self.at, self.at


Move = Annotated[Union[RampMove, HoldMove, JumpMove], Field(discriminator="kind")]


class NoiseSpec(_Spec):
    """A GBM noise factor (starting at 1) multiplied onto a scripted path."""

    drift_annual: float = Field(0.0, allow_inf_nan=False,
        description="expected return per year of the noise factor", json_schema_extra=unit("annual fraction"))
    volatility_annual: float = Field(ge=0, allow_inf_nan=False,
        description="annualised volatility of the noise factor", json_schema_extra=unit("annual fraction"))
    step: DurationMs = Field(1_000, gt=0, description="grid step of the noise")


def _describe(move) -> str:
    lo, hi = move.window_ms
    if lo == hi:
        return f"{move.kind} at {format_duration_ms(lo)}"
    return f"{move.kind} {format_duration_ms(lo)}–{format_duration_ms(hi)}"


class ScriptedFeedSpec(_Spec):
    """A base price and scripted moves, optionally times a GBM noise factor.

    The scripted factor starts at 1; a ramp or jump multiplies the factor in force when it
    starts by ``1 + change``; a hold sets it to ``level``. Moves take effect in time order (a
    jump at a window's start comes before the window); windows must not overlap, a jump
    must not fall strictly inside a window.
    """

    kind: Literal["scripted"] = Field("scripted", description="feed kind")
    base_price_usd: float = Field(gt=0, allow_inf_nan=False, description="price at the start, before any move")
    moves: tuple[Move, ...] = Field((), description="scripted moves (ramp, hold, jump)")
    noise: NoiseSpec | None = Field(None, description="GBM noise factor multiplied onto the path (None: none)")

    @model_validator(mode="after")
    def _no_overlap(self):
        order = sorted(range(len(self.moves)), key=lambda i: self.moves[i].window_ms)
        for a, b in zip(order, order[1:]):
            ma, mb = self.moves[a], self.moves[b]
            if mb.window_ms[0] < ma.window_ms[1]:
                raise ValueError(
                    f"moves[{b}] ({_describe(mb)}) overlaps moves[{a}] ({_describe(ma)}); "
                    "scripted windows must not overlap"
                )
        return self


class CsvFeedSpec(_Spec):
    """Replay of a ``t,price`` CSV file (see :func:`defisim.markets.price_csv.read_price_csv` for the format).

    The file is read and checked when the spec is built, so a bad file fails with the scenario.
    A relative ``path`` is looked up beside the scenario file (the ``search_dirs`` of the
    validation context, :data:`defisim.base.checks.FilePath`), never in the working directory;
    the spec holds the absolute path.
    """

    kind: Literal["csv"] = Field("csv", description="feed kind")
    path: FilePath = Field(description="CSV file with columns t,price (relative to the scenario file)")
    interpolation: Literal["step", "linear"] = Field("linear",
        description="between rows: hold the last price (step) or interpolate (linear)")

    @field_validator("path")
    @classmethod
    def _readable(cls, value: str) -> str:
        read_price_csv(value)
        return value


FeedSpec = Annotated[
    Union[GbmFeedSpec, JumpDiffusionFeedSpec, ScriptedFeedSpec, CsvFeedSpec], Field(discriminator="kind")
]


# --------------------------------------------------------------------------------------------
# Venues
# --------------------------------------------------------------------------------------------


class LinearDepthSpec(_Spec):
    """A flat book: ``depth_usd_per_pct`` USD of notional in every 1% of the feed price.

    See :class:`defisim.markets.venues.LinearDepth` for the formulas.
    """

    kind: Literal["linear"] = Field("linear", description="depth curve kind")
    depth_usd_per_pct: float = Field(gt=0, allow_inf_nan=False,
        description="notional in every 1% of the feed price", json_schema_extra=unit("USD per 1%"))


class SqrtDepthSpec(_Spec):
    """Square-root impact: selling ``Q`` USD of notional from rest moves the log price by
    ``coefficient · sqrt(Q / volume_usd)``.

    See :class:`defisim.markets.venues.SqrtDepth` for the formulas.
    """

    kind: Literal["sqrt"] = Field("sqrt", description="depth curve kind")
    coefficient: float = Field(gt=0, allow_inf_nan=False,
        description="log move for a trade of volume_usd", json_schema_extra=unit("log price"))
    volume_usd: float = Field(gt=0, allow_inf_nan=False, description="reference notional, e.g. daily volume")


DepthSpec = Annotated[Union[LinearDepthSpec, SqrtDepthSpec], Field(discriminator="kind")]


class MarketMakerSpec(_Spec):
    """Market makers pull depth when the venue's realised volatility crosses a threshold.

    Every ``sample_every`` they read the mid; when the annualised realised volatility of the
    mid over the trailing ``vol_window`` reaches ``vol_threshold_annual``, depth falls to
    ``1 − withdraw_share`` of normal; it comes back once volatility has stayed below the
    threshold for ``cooldown``.
    """

    vol_window: DurationMs = Field(300_000, gt=0, description="trailing window of the realised volatility")
    vol_threshold_annual: float = Field(gt=0, allow_inf_nan=False,
        description="annualised volatility, 1.0 = 100%", json_schema_extra=unit("annual fraction"))
    withdraw_share: float = Field(ge=0, lt=1,
        description="share of depth pulled (0.7 leaves 30%)", json_schema_extra=unit("fraction"))
    cooldown: DurationMs = Field(600_000, ge=0, description="calm time before depth returns")
    sample_every: DurationMs = Field(1_000, gt=0, description="how often the market makers read the mid")

    @model_validator(mode="after")
    def _window_holds_samples(self):
        if self.vol_window < 2 * self.sample_every:
            raise ValueError(
                f"vol_window ({self.vol_window} ms) must hold at least two returns: "
                f"at least 2 × sample_every ({self.sample_every} ms)"
            )
        return self


class VenueSpec(_Spec):
    """An off-chain book on ``asset``: mid = feed × impact, a depth curve, resilience, market makers.

    ``half_life`` is the resilience: the log impact halves every ``half_life``; ``None`` makes
    impact permanent.
    """

    asset: str = Field(min_length=1, description="asset of the feed the book quotes")
    depth: DepthSpec = Field(description="depth curve of the book")
    half_life: DurationMs | None = Field(60_000, gt=0,
        description="resilience: the log impact halves every half_life (None: permanent impact)")
    market_maker: MarketMakerSpec | None = Field(None,
        description="market makers who pull depth in volatility (None: none)")


class MarketSpec(_Spec):
    """Feeds by asset and venues by name; every venue's asset must have a feed."""

    feeds: dict[str, FeedSpec] = Field({}, description="exogenous price feed per asset")
    venues: dict[str, VenueSpec] = Field({}, description="off-chain venues by name")

    @model_validator(mode="after")
    def _venues_have_feeds(self):
        for name, venue in self.venues.items():
            if venue.asset not in self.feeds:
                known = ", ".join(sorted(self.feeds)) or "none"
                raise ValueError(f"venues.{name}.asset: no feed for asset {venue.asset!r} (feeds: {known})")
        return self
