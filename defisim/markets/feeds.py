"""Exogenous price feeds: the part of a price no simulated trade moves.

A feed answers ``price_at(t_ms) -> float`` (USD per token) for a simulation time in integer
milliseconds, deterministically: the path is a pure function of the feed's spec and its own
named random stream (``"feed/<asset>"``), whatever the order of the queries.
Random paths are simulated exactly on a grid of ``step`` (1 s by default), drawn lazily
``chunk_steps`` steps at a time as time advances, and interpolated geometrically (linearly in
log price) between grid points, so a query costs O(1).

Kinds: :class:`GbmFeed`, :class:`JumpDiffusionFeed`, :class:`ScriptedFeed` (ramps, holds and
jumps, optionally times GBM noise), :class:`CsvFeed` (replay of a file), plus
:class:`ConstantFeed` for tests. :func:`build_feed` builds one from its spec
(:mod:`defisim.markets.spec`). :func:`realized_volatility` is the estimator the market makers
of :mod:`defisim.markets.venues` use.

Time in years counts 365 days (Aave `MathUtils.sol`: `SECONDS_PER_YEAR = 365 days`): ``MS_PER_YEAR = 31_536_000_000``.
"""
from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from defisim.markets.spec import CsvFeedSpec, GbmFeedSpec, HoldMove, JumpDiffusionFeedSpec, JumpMove, RampMove, ScriptedFeedSpec
from defisim.base.units import parse_duration_ms
from defisim.markets.price_csv import read_price_csv

__all__ = [
    "MS_PER_YEAR",
    "Feed",
    "ConstantFeed",
    "GbmFeed",
    "JumpDiffusionFeed",
    "ScriptedFeed",
    "CsvFeed",
    "build_feed",
    "realized_volatility",
    "trailing_realized_volatility",
]

#: Milliseconds in a year of 365 days (Aave `MathUtils.sol`: `SECONDS_PER_YEAR = 365 days`).
MS_PER_YEAR = 365 * 86_400_000

_DEFAULT_CHUNK_STEPS = 4096


@runtime_checkable
class Feed(Protocol):
    """Anything with ``price_at(t_ms) -> float`` (USD) can be a feed; venues take any of them."""

    def price_at(self, t_ms: int) -> float: ...


def _check_time(t_ms) -> int:
    t = int(t_ms)
    if t < 0:
        raise ValueError(f"feed time must not be negative, got {t_ms} ms")
    return t


class ConstantFeed:
    """A price that never moves.

    Parameters
    ----------
    price_usd : float
        The price, USD per token.

    Examples
    --------
    >>> ConstantFeed(2000.0).price_at(123_456)
    2000.0
    """

    __slots__ = ("price_usd",)

    def __init__(self, price_usd: float):
        if not (price_usd > 0 and math.isfinite(price_usd)):
            raise ValueError(f"price_usd must be positive and finite, got {price_usd}")
        self.price_usd = float(price_usd)

    def price_at(self, t_ms: int) -> float:
        """The price, USD per token."""
        return self.price_usd


class _LogGrid:
    """A lazily drawn log-price path on the grid ``k * step_ms``.

    ``draw(rng, n)`` returns the next ``n`` log increments; chunks are drawn strictly in order,
    so the path depends only on the generator, not on the order of queries.
    """

    __slots__ = ("step_ms", "_log", "_draw", "_rng", "_chunk")

    def __init__(self, log0: float, step_ms: int, draw: Callable[[np.random.Generator, int], np.ndarray],
                 rng: np.random.Generator, chunk_steps: int):
        if step_ms <= 0:
            raise ValueError(f"step must be positive, got {step_ms} ms")
        if chunk_steps <= 0:
            raise ValueError(f"chunk_steps must be positive, got {chunk_steps}")
        self.step_ms = int(step_ms)
        self._log = array("d", [float(log0)])
        self._draw, self._rng, self._chunk = draw, rng, int(chunk_steps)

    def _extend(self, k: int) -> None:
        while len(self._log) <= k:
            inc = np.asarray(self._draw(self._rng, self._chunk), dtype=np.float64)
            path = self._log[-1] + np.cumsum(inc)
            self._log.frombytes(path.tobytes())

    def log_at(self, t_ms: int) -> float:
        k, r = divmod(_check_time(t_ms), self.step_ms)
        if k + 1 >= len(self._log):
            self._extend(k + 1)
        lo = self._log[k]
        if r == 0:
            return lo
        return lo + (self._log[k + 1] - lo) * (r / self.step_ms)


class GbmFeed:
    """Geometric Brownian motion, exact on the grid of ``step_ms``.

    ``ln S(t_k+1) − ln S(t_k) = (μ − σ²/2) Δ + σ √Δ Z``, ``Δ = step_ms / MS_PER_YEAR``, so
    ``E[S_t] = S_0 e^(μ t)`` and the log return over ``t`` years is ``N((μ − σ²/2) t, σ² t)``
    at grid times. Between grid points the log price is interpolated linearly.

    Parameters
    ----------
    initial_price_usd : float
        ``S_0``, USD per token, at ``t = 0``.
    drift_annual : float
        ``μ``, expected return per year.
    volatility_annual : float
        ``σ``, annualised volatility of log returns.
    rng : numpy.random.Generator
        The feed's own stream (``"feed/<asset>"``).
    step_ms : int
        Grid step.
    chunk_steps : int
        Steps drawn at a time.

    Examples
    --------
    >>> from defisim.base.rng import RngTree
    >>> feed = GbmFeed(2000.0, 0.0, 0.8, RngTree(1).stream("feed/ETH"))
    >>> feed.price_at(0)
    2000.0
    >>> again = GbmFeed(2000.0, 0.0, 0.8, RngTree(1).stream("feed/ETH"))
    >>> feed.price_at(3_600_000) == again.price_at(3_600_000)
    True
    """

    def __init__(self, initial_price_usd: float, drift_annual: float, volatility_annual: float,
                 rng: np.random.Generator, *, step_ms: int = 1_000, chunk_steps: int = _DEFAULT_CHUNK_STEPS):
        if not (initial_price_usd > 0 and math.isfinite(initial_price_usd)):
            raise ValueError(f"initial_price_usd must be positive and finite, got {initial_price_usd}")
        if not volatility_annual >= 0:
            raise ValueError(f"volatility_annual must not be negative, got {volatility_annual}")
        self.initial_price_usd = float(initial_price_usd)
        self.drift_annual = float(drift_annual)
        self.volatility_annual = float(volatility_annual)
        dt = step_ms / MS_PER_YEAR
        # the grid holds ln(S_t / S_0), so that price_at(0) is S_0 exactly
        self._grid = _LogGrid(0.0, step_ms, self._increments(dt), rng, chunk_steps)

    def _increments(self, dt: float) -> Callable[[np.random.Generator, int], np.ndarray]:
        mean = (self.drift_annual - 0.5 * self.volatility_annual**2) * dt
        sd = self.volatility_annual * math.sqrt(dt)
        return lambda rng, n: mean + sd * rng.standard_normal(n)

    @property
    def step_ms(self) -> int:
        """The grid step, ms."""
        return self._grid.step_ms

    @classmethod
    def from_spec(cls, spec: GbmFeedSpec, rng: np.random.Generator, **kwargs) -> "GbmFeed":
        """Build from a :class:`~defisim.markets.spec.GbmFeedSpec`."""
        return cls(spec.initial_price_usd, spec.drift_annual, spec.volatility_annual, rng, step_ms=spec.step, **kwargs)

    def price_at(self, t_ms: int) -> float:
        """The price at ``t_ms``, USD per token."""
        return self.initial_price_usd * math.exp(self._grid.log_at(t_ms))


class JumpDiffusionFeed(GbmFeed):
    """Merton jump diffusion, exact on the grid of ``step_ms``.

    Per step: ``Δ ln S = (μ − σ²/2 − λκ) Δ + σ √Δ Z + Σ_{i ≤ N} Y_i`` with
    ``N ~ Poisson(λ Δ)``, ``Y_i ~ N(m, s²)`` (the sum drawn as ``N m + s √N Z'``) and
    ``κ = e^(m + s²/2) − 1`` (the compensator, so ``E[S_t] = S_0 e^(μ t)``). The log return
    over ``t`` years has mean ``(μ − σ²/2 − λκ + λm) t`` and variance ``(σ² + λ(m² + s²)) t``.

    Parameters
    ----------
    initial_price_usd, drift_annual, volatility_annual : float
        As for :class:`GbmFeed`.
    jump_rate_per_year : float
        ``λ``, expected jumps per year.
    jump_log_mean, jump_log_std : float
        ``m`` and ``s``, mean and standard deviation of the log jump size.
    rng : numpy.random.Generator
    step_ms, chunk_steps : int
        As for :class:`GbmFeed`.

    References
    ----------
    R. C. Merton, "Option pricing when underlying stock returns are discontinuous",
    Journal of Financial Economics 3 (1976) 125–144.

    Examples
    --------
    >>> from defisim.base.rng import RngTree
    >>> feed = JumpDiffusionFeed(2000.0, 0.0, 0.5, 50.0, -0.05, 0.02, RngTree(1).stream("feed/ETH"))
    >>> 0 < feed.price_at(86_400_000) < float("inf")
    True
    """

    def __init__(self, initial_price_usd: float, drift_annual: float, volatility_annual: float,
                 jump_rate_per_year: float, jump_log_mean: float, jump_log_std: float,
                 rng: np.random.Generator, *, step_ms: int = 1_000, chunk_steps: int = _DEFAULT_CHUNK_STEPS):
        if not jump_rate_per_year >= 0:
            raise ValueError(f"jump_rate_per_year must not be negative, got {jump_rate_per_year}")
        if not jump_log_std >= 0:
            raise ValueError(f"jump_log_std must not be negative, got {jump_log_std}")
        self.jump_rate_per_year = float(jump_rate_per_year)
        self.jump_log_mean = float(jump_log_mean)
        self.jump_log_std = float(jump_log_std)
        super().__init__(initial_price_usd, drift_annual, volatility_annual, rng, step_ms=step_ms, chunk_steps=chunk_steps)

    def _increments(self, dt: float) -> Callable[[np.random.Generator, int], np.ndarray]:
        lam, m, s = self.jump_rate_per_year, self.jump_log_mean, self.jump_log_std
        kappa = math.expm1(m + 0.5 * s * s)
        mean = (self.drift_annual - 0.5 * self.volatility_annual**2 - lam * kappa) * dt
        sd = self.volatility_annual * math.sqrt(dt)
        lam_dt = lam * dt

        def draw(rng: np.random.Generator, n: int) -> np.ndarray:
            z = rng.standard_normal(n)
            counts = rng.poisson(lam_dt, n)
            z_jump = rng.standard_normal(n)
            return mean + sd * z + counts * m + s * np.sqrt(counts) * z_jump

        return draw

    @classmethod
    def from_spec(cls, spec: JumpDiffusionFeedSpec, rng: np.random.Generator, **kwargs) -> "JumpDiffusionFeed":
        """Build from a :class:`~defisim.markets.spec.JumpDiffusionFeedSpec`."""
        return cls(spec.initial_price_usd, spec.drift_annual, spec.volatility_annual, spec.jump_rate_per_year,
                   spec.jump_log_mean, spec.jump_log_std, rng, step_ms=spec.step, **kwargs)


class ScriptedFeed:
    """A base price times a scripted factor, optionally times a noise feed.

    ``price_at(t) = base_price_usd × f(t) × noise.price_at(t)``. The factor ``f`` starts at 1.
    Moves (:mod:`defisim.markets.spec`) take effect in time order:

    - ramp ``(start, duration, change)``: over ``[start, start + duration]``,
      ``f = f₀ (1 + change (t − start) / duration)`` where ``f₀`` is the factor at ``start``;
      from the end on, exactly ``f₀ (1 + change)``;
    - hold ``(start, duration, level)``: ``f = level`` in the window; afterwards ``level``
      (``after = "stay"``) or ``f₀`` (``after = "revert"``);
    - jump ``(at, change)``: ``f`` is multiplied by ``1 + change`` from ``at`` on.

    A lookup is a bisection over the moves (a handful), so O(1) in practice.

    Parameters
    ----------
    base_price_usd : float
    moves : sequence of RampMove, HoldMove, JumpMove
        Must not overlap (checked by :class:`~defisim.markets.spec.ScriptedFeedSpec`).
    noise : Feed, optional
        A factor feed starting at 1 (e.g. ``GbmFeed(1.0, 0.0, 0.3, rng)``); injected.

    Examples
    --------
    "−35% over 20 blocks (240 s) starting at 00:30":

    >>> from defisim.markets.spec import ScriptedFeedSpec
    >>> spec = ScriptedFeedSpec(base_price_usd=2000, moves=[
    ...     {"kind": "ramp", "start": "30m", "duration": "4m", "change": -0.35}])
    >>> feed = ScriptedFeed.from_spec(spec)
    >>> [round(feed.price_at(parse_duration_ms(t)), 6) for t in ("0s", "30m", "32m", "34m", "2h")]
    [2000.0, 2000.0, 1650.0, 1300.0, 1300.0]
    """

    def __init__(self, base_price_usd: float, moves: Sequence[RampMove | HoldMove | JumpMove] = (), noise: Feed | None = None):
        if not (base_price_usd > 0 and math.isfinite(base_price_usd)):
            raise ValueError(f"base_price_usd must be positive and finite, got {base_price_usd}")
        self.base_price_usd = float(base_price_usd)
        self.noise = noise
        ordered = sorted(moves, key=lambda m: m.window_ms)  # stable: list order breaks ties
        self._starts: list[int] = []
        self._rows: list[tuple] = []  # (start, end, kind, f_before, f_after, param)
        f = 1.0
        end_prev = -1
        for m in ordered:
            start, end = m.window_ms
            if start < end_prev:
                raise ValueError(f"scripted move {m!r} overlaps the move before it")
            if isinstance(m, RampMove):
                after, param = f * (1.0 + m.change), m.change
            elif isinstance(m, HoldMove):
                after, param = (m.level if m.after == "stay" else f), m.level
            else:  # a jump
                after, param = f * (1.0 + m.change), m.change
            self._starts.append(start)
            self._rows.append((start, end, m.kind, f, after, param))
            f = after
            end_prev = end

    @classmethod
    def from_spec(cls, spec: ScriptedFeedSpec, rng: np.random.Generator | None = None, **kwargs) -> "ScriptedFeed":
        """Build from a :class:`~defisim.markets.spec.ScriptedFeedSpec`; ``rng`` is needed only with noise."""
        noise = None
        if spec.noise is not None:
            if rng is None:
                raise ValueError("a scripted feed with noise needs an rng stream")
            n = spec.noise
            noise = GbmFeed(1.0, n.drift_annual, n.volatility_annual, rng, step_ms=n.step, **kwargs)
        return cls(spec.base_price_usd, spec.moves, noise)

    def factor_at(self, t_ms: int) -> float:
        """The scripted factor ``f(t)`` alone (no base price, no noise)."""
        t = _check_time(t_ms)
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return 1.0
        start, end, kind, before, after, param = self._rows[i]
        if t >= end:
            return after
        if kind == "ramp":
            return before * (1.0 + param * ((t - start) / (end - start)))
        return param  # inside a hold

    def price_at(self, t_ms: int) -> float:
        """The price at ``t_ms``, USD per token."""
        p = self.base_price_usd * self.factor_at(t_ms)
        if self.noise is not None:
            p *= self.noise.price_at(t_ms)
        return p


# --------------------------------------------------------------------------------------------
# CSV replay
# --------------------------------------------------------------------------------------------


class CsvFeed:
    """Replay of a price path read by :func:`read_price_csv`.

    Between two points the price is the earlier one (``"step"``) or linear in time
    (``"linear"``); before the first point it is the first price, after the last the last.
    Sequential queries reuse the last segment found (amortised O(1)); a jump back costs a
    bisection.

    Parameters
    ----------
    times_ms, prices_usd : array-like
        Strictly increasing times (ms) and positive prices (USD per token).
    interpolation : {"linear", "step"}
    source : str
        Where the path came from (for messages).

    Examples
    --------
    >>> feed = CsvFeed([0, 10_000], [100.0, 90.0])
    >>> feed.price_at(5_000), CsvFeed([0, 10_000], [100.0, 90.0], "step").price_at(5_000), feed.price_at(60_000)
    (95.0, 100.0, 90.0)
    """

    def __init__(self, times_ms, prices_usd, interpolation: str = "linear", source: str = "<array>"):
        t = np.asarray(times_ms, dtype=np.int64)
        p = np.asarray(prices_usd, dtype=np.float64)
        if t.ndim != 1 or t.shape != p.shape or t.size == 0:
            raise ValueError(f"{source}: times and prices must be two non-empty 1-d arrays of one length")
        if np.any(np.diff(t) <= 0):
            raise ValueError(f"{source}: times must increase strictly")
        if not np.all((p > 0) & np.isfinite(p)):
            raise ValueError(f"{source}: prices must be positive and finite")
        if interpolation not in ("linear", "step"):
            raise ValueError(f"interpolation must be 'linear' or 'step', got {interpolation!r}")
        self.source = source
        self.interpolation = interpolation
        self._t: list[int] = t.tolist()
        self._p: list[float] = p.tolist()
        self._i = 0  # cursor: last segment found

    @classmethod
    def from_file(cls, path: str | Path, interpolation: str = "linear") -> "CsvFeed":
        """Read ``path`` (checked by :func:`read_price_csv`) and replay it."""
        times_ms, prices_usd = read_price_csv(path)
        return cls(times_ms, prices_usd, interpolation, source=str(path))

    @classmethod
    def from_spec(cls, spec: CsvFeedSpec, rng: np.random.Generator | None = None) -> "CsvFeed":
        """Build from a :class:`~defisim.markets.spec.CsvFeedSpec` (no randomness)."""
        return cls.from_file(spec.path, spec.interpolation)

    def price_at(self, t_ms: int) -> float:
        """The price at ``t_ms``, USD per token."""
        tt, pp = self._t, self._p
        t = _check_time(t_ms)
        if t <= tt[0]:
            return pp[0]
        if t >= tt[-1]:
            return pp[-1]
        i = self._i
        if not (tt[i] <= t < tt[i + 1]):
            i = self._i = bisect_right(tt, t) - 1
        if self.interpolation == "step":
            return pp[i]
        t0, t1 = tt[i], tt[i + 1]
        return pp[i] + (pp[i + 1] - pp[i]) * ((t - t0) / (t1 - t0))


# --------------------------------------------------------------------------------------------
# Building and volatility
# --------------------------------------------------------------------------------------------

_BUILDERS = {
    "gbm": GbmFeed.from_spec,
    "jump_diffusion": JumpDiffusionFeed.from_spec,
    "scripted": ScriptedFeed.from_spec,
    "csv": CsvFeed.from_spec,
}
_NEEDS_RNG = {"gbm", "jump_diffusion"}


def build_feed(spec, rng: np.random.Generator | None = None) -> Feed:
    """Build the feed a spec describes, drawing from ``rng`` (its own stream, ``"feed/<asset>"``).

    Parameters
    ----------
    spec : GbmFeedSpec, JumpDiffusionFeedSpec, ScriptedFeedSpec or CsvFeedSpec
    rng : numpy.random.Generator, optional
        Needed by random kinds (GBM, jump diffusion, scripted with noise).

    Examples
    --------
    >>> from pydantic import TypeAdapter
    >>> from defisim.markets.spec import FeedSpec
    >>> from defisim.base.rng import RngTree
    >>> spec = TypeAdapter(FeedSpec).validate_python({"kind": "gbm", "initial_price_usd": 2000, "volatility_annual": 0.8})
    >>> build_feed(spec, RngTree(0).stream("feed/ETH")).price_at(0)
    2000.0
    """
    kind = spec.kind
    if kind in _NEEDS_RNG and rng is None:
        raise ValueError(f"a {kind!r} feed needs an rng stream")
    return _BUILDERS[kind](spec, rng)


def realized_volatility(prices_usd, times_ms) -> float:
    """Annualised realised volatility of a sampled price path.

    ``σ̂ = sqrt( Σ r_i² / T )`` with ``r_i = ln(p_i / p_{i−1})`` the log returns between
    consecutive samples and ``T = (t_last − t_first) / MS_PER_YEAR`` years (realised variance
    per unit time: the mean is not removed, and irregular sampling is fine). For a GBM sampled
    finely, ``σ̂ → σ``.

    Parameters
    ----------
    prices_usd : array-like
        Positive prices.
    times_ms : array-like
        Their strictly increasing times.

    Returns
    -------
    float
        ``σ̂`` per √year (1.0 = 100%); ``nan`` with fewer than two samples.

    Examples
    --------
    A 1% move every second is an annualised volatility of about 56 (5,600%):

    >>> round(realized_volatility([100.0, 101.0, 100.0], [0, 1_000, 2_000]), 2)
    55.88
    """
    p = np.asarray(prices_usd, dtype=np.float64)
    t = np.asarray(times_ms, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError("prices_usd and times_ms must be 1-d arrays of one length")
    if p.size < 2:
        return float("nan")
    if np.any(np.diff(t) <= 0):
        raise ValueError("times_ms must increase strictly")
    if not np.all(p > 0):
        raise ValueError("prices_usd must be positive")
    r = np.diff(np.log(p))
    years = (t[-1] - t[0]) / MS_PER_YEAR
    return math.sqrt(float(np.dot(r, r)) / years)


def trailing_realized_volatility(feed: Feed, t_ms: int, window_ms: int, sample_ms: int) -> float:
    """:func:`realized_volatility` of ``feed`` sampled every ``sample_ms`` over ``[t − window, t]``.

    Samples are taken at ``t, t − sample_ms, ...`` back to the window's start (not before 0).

    Examples
    --------
    >>> round(trailing_realized_volatility(ConstantFeed(5.0), 600_000, 300_000, 1_000), 12)
    0.0
    """
    if window_ms <= 0 or sample_ms <= 0:
        raise ValueError("window_ms and sample_ms must be positive")
    t = _check_time(t_ms)
    start = max(0, t - window_ms)
    times = list(range(t, start - 1, -int(sample_ms)))[::-1]
    return realized_volatility([feed.price_at(x) for x in times], times)
