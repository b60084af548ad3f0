"""Off-chain venues (CEX books): mid = feed × impact, a depth curve, resilience, market makers.

A :class:`Venue` is a plain data structure: no SimPy needed to trade on it. Its
state is one number, the log impact ``x`` at the time ``t_s`` of the last trade, and

- ``impact(t) = exp(x(t))``, ``x(t) = x · 2^(−(t − t_s) / half_life)`` (resilience: the log
  impact halves every half-life, computed exactly from the elapsed time, no per-step loop);
- ``mid(t) = feed.price_at(t) × impact(t)``.

**Depth curves** (the generic order-book helper of Uniswap v2 whitepaper: constant-product price impact: ``depth(δ)`` = notional
within δ of mid). A curve is the function ``G(x)``: the notional, in USD valued at the feed
price ``F``, resting between log displacement 0 and ``x``. Moving the log impact from ``x₀``
to ``x₁`` trades ``q = a |G(x₁) − G(x₀)| / F`` tokens, where ``a`` is the depth share the
market makers keep (1 normally). The USD that changes hands is the integral of the price
along the way, ``∫ F e^x dq = a |∫_{x₀}^{x₁} e^x G'(x) dx|`` (``F`` cancels), which has a
closed form for both kinds:

- ``linear`` (:class:`LinearDepth`, a flat book): ``G(x) = K x``, ``K = 100 ·
  depth_usd_per_pct``, i.e. ``depth_usd_per_pct`` USD in every 1% of the feed price. Selling
  ``q`` tokens: ``x₁ = x₀ − q F / (a K)`` (the price falls exponentially in ``q``), proceeds
  ``a K (e^{x₀} − e^{x₁})``. Depth within ``pct`` % of the mid is exactly ``a ·
  depth_usd_per_pct · impact · pct``.
- ``sqrt`` (:class:`SqrtDepth`, square-root impact): ``G(x) = c x |x|``, ``c = V / Y²``
  (``Y = coefficient``, ``V = volume_usd``), so selling ``Q`` USD of notional from rest moves the
  log price by ``−Y sqrt(Q / (a V))`` — a latent book whose density grows linearly with the
  distance from the feed price. ``∫ e^x G'(x) dx = 2c ∫ |x| e^x dx`` with antiderivative
  ``(1 − x) e^x`` for ``x ≤ 0`` and ``(x − 1) e^x + 2`` for ``x ≥ 0``; buying a USD amount
  inverts it with Lambert's W.

At one instant the trade is a walk along a fixed curve, so it is path independent: two
sells of ``q/2`` right after each other give the proceeds and the mid of one sell of ``q``.

**Market makers** (:class:`MarketMakerSpec`): :func:`market_maker_step` reads the mid,
updates the trailing realised volatility (:func:`defisim.markets.feeds.realized_volatility`
estimator) and pulls depth to ``1 − withdraw_share`` when it reaches the threshold; depth
comes back once volatility has stayed below the threshold for ``cooldown``. Each change is
appended to ``venue.events`` as a :class:`VenueEvent` tuple. :func:`market_maker_process` is
the SimPy process (a plain generator) that calls it every ``every_ms``.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from scipy.special import lambertw

from defisim.markets.feeds import MS_PER_YEAR, Feed, build_feed
from defisim.markets.spec import LinearDepthSpec, MarketMakerSpec, MarketSpec, SqrtDepthSpec, VenueSpec
from defisim.base.rng import RngTree

__all__ = [
    "LinearDepth",
    "SqrtDepth",
    "depth_curve",
    "RollingRealizedVolatility",
    "MarketMakerState",
    "VenueEvent",
    "Venue",
    "market_maker_step",
    "market_maker_process",
    "build_venue",
    "build_markets",
]

_E = math.e


def _one_minus_exp_neg(d: float) -> float:
    """``1 − e^(−d)`` without cancellation."""
    return -math.expm1(-d)


def _f(d: float) -> float:
    """``1 − e^(−d) − d e^(−d) = Σ_{n≥2} (−1)^n (n − 1) dⁿ / n!`` (≈ d²/2), accurate for small d."""
    if d < 1e-2:
        d2 = d * d
        return d2 * (0.5 - d / 3.0 + d2 / 8.0 - d2 * d / 30.0 + d2 * d2 * 5.0 / 720.0)
    return -math.expm1(-d) - d * math.exp(-d)


class LinearDepth:
    """A flat book: ``depth_usd_per_pct`` USD of notional in every 1% of the feed price.

    ``G(x) = K x`` with ``K = 100 · depth_usd_per_pct`` USD per unit of log displacement
    (notional valued at the feed price); ``∫_{lo}^{hi} e^x G'(x) dx = K (e^{hi} − e^{lo})``.

    Parameters
    ----------
    depth_usd_per_pct : float
        USD per 1% of price move, at full depth.

    Examples
    --------
    Selling 1,000 tokens at 2,000 USD into 10 M USD per 1% moves the log price by
    ``−1000 · 2000 / (100 · 1e7) = −0.002``:

    >>> curve = LinearDepth(1e7)
    >>> curve.displacement(curve.notional(0.0) - 1000 * 2000.0)
    -0.002
    """

    kind = "linear"
    __slots__ = ("depth_usd_per_pct", "k_usd")

    def __init__(self, depth_usd_per_pct: float):
        if not (depth_usd_per_pct > 0 and math.isfinite(depth_usd_per_pct)):
            raise ValueError(f"depth_usd_per_pct must be positive and finite, got {depth_usd_per_pct}")
        self.depth_usd_per_pct = float(depth_usd_per_pct)
        self.k_usd = 100.0 * self.depth_usd_per_pct

    @classmethod
    def from_spec(cls, spec: LinearDepthSpec) -> "LinearDepth":
        return cls(spec.depth_usd_per_pct)

    def notional(self, x: float) -> float:
        """``G(x)``: signed USD notional (at the feed price) between displacement 0 and ``x``."""
        return self.k_usd * x

    def displacement(self, g: float) -> float:
        """``G⁻¹(g)``."""
        return g / self.k_usd

    def value(self, lo: float, hi: float) -> float:
        """``∫_{lo}^{hi} e^x G'(x) dx`` for ``lo ≤ hi`` (USD at full depth)."""
        return self.k_usd * math.exp(hi) * _one_minus_exp_neg(hi - lo)

    def solve_value(self, x0: float, v: float) -> float:
        """The ``x₁ ≥ x₀`` with ``value(x₀, x₁) = v``: ``x₀ + ln(1 + v / (K e^{x₀}))``."""
        return x0 + math.log1p(v / (self.k_usd * math.exp(x0)))


class SqrtDepth:
    """Square-root impact: notional ``Q`` (USD at the feed price) moves the log price by ``Y sqrt(Q / V)``.

    ``G(x) = c x |x|``, ``c = V / Y²``; ``∫_{lo}^{hi} e^x G'(x) dx = 2c [A(hi) − A(lo)]`` with
    ``A(x) = (1 − x) e^x`` for ``x ≤ 0`` and ``(x − 1) e^x + 2`` for ``x > 0``, evaluated in a
    cancellation-free form. The inverse of ``A`` uses Lambert's W: ``x = 1 + W₋₁(−y/e)`` for
    ``y ≤ 1``, ``x = 1 + W₀((y − 2)/e)`` for ``y > 1``, then a Newton step.

    Parameters
    ----------
    coefficient : float
        ``Y``, the log move for a trade of ``volume_usd``.
    volume_usd : float
        ``V``, the reference notional (e.g. daily volume).

    References
    ----------
    B. Tóth, Y. Lempérière, C. Deremble, J. de Lataillade, J. Kockelkoren, J.-P. Bouchaud,
    "Anomalous price impact and the critical nature of liquidity in financial markets",
    Physical Review X 1 (2011) 021006 (the latent order book behind the square-root law).

    Examples
    --------
    A quarter of ``V`` moves the log price by half of ``Y``:

    >>> curve = SqrtDepth(0.1, 5e7)
    >>> round(curve.displacement(-0.25 * 5e7), 12)
    -0.05
    """

    kind = "sqrt"
    __slots__ = ("coefficient", "volume_usd", "c_usd")

    def __init__(self, coefficient: float, volume_usd: float):
        if not (coefficient > 0 and math.isfinite(coefficient)):
            raise ValueError(f"coefficient must be positive and finite, got {coefficient}")
        if not (volume_usd > 0 and math.isfinite(volume_usd)):
            raise ValueError(f"volume_usd must be positive and finite, got {volume_usd}")
        self.coefficient = float(coefficient)
        self.volume_usd = float(volume_usd)
        self.c_usd = self.volume_usd / self.coefficient**2

    @classmethod
    def from_spec(cls, spec: SqrtDepthSpec) -> "SqrtDepth":
        return cls(spec.coefficient, spec.volume_usd)

    def notional(self, x: float) -> float:
        """``G(x) = c x |x|``."""
        return self.c_usd * x * abs(x)

    def displacement(self, g: float) -> float:
        """``G⁻¹(g) = sign(g) sqrt(|g| / c)``."""
        return math.copysign(math.sqrt(abs(g) / self.c_usd), g)

    @staticmethod
    def _neg(lo: float, hi: float) -> float:
        # ∫_lo^hi (−x) e^x dx for lo ≤ hi ≤ 0 = e^hi [−hi (1 − e^−d) + f(d)]
        d = hi - lo
        return math.exp(hi) * (-hi * _one_minus_exp_neg(d) + _f(d))

    @staticmethod
    def _pos(lo: float, hi: float) -> float:
        # ∫_lo^hi x e^x dx for 0 ≤ lo ≤ hi = e^hi [hi (1 − e^−d) − f(d)]
        d = hi - lo
        return math.exp(hi) * (hi * _one_minus_exp_neg(d) - _f(d))

    def value(self, lo: float, hi: float) -> float:
        """``∫_{lo}^{hi} e^x G'(x) dx = 2c ∫ |x| e^x dx`` for ``lo ≤ hi``."""
        if hi <= 0.0:
            s = self._neg(lo, hi)
        elif lo >= 0.0:
            s = self._pos(lo, hi)
        else:
            s = self._neg(lo, 0.0) + self._pos(0.0, hi)
        return 2.0 * self.c_usd * s

    @staticmethod
    def _antiderivative(x: float) -> float:
        return (1.0 - x) * math.exp(x) if x <= 0.0 else (x - 1.0) * math.exp(x) + 2.0

    def solve_value(self, x0: float, v: float) -> float:
        """The ``x₁ ≥ x₀`` with ``value(x₀, x₁) = v`` (Lambert W, then Newton)."""
        if v <= 0.0:
            return x0
        y = self._antiderivative(x0) + v / (2.0 * self.c_usd)
        if y <= 1.0:
            x1 = 1.0 + float(lambertw(-y / _E, -1).real)
        else:
            x1 = 1.0 + float(lambertw((y - 2.0) / _E, 0).real)
        x1 = max(x1, x0)
        for _ in range(3):  # polish on the cancellation-free form
            slope = 2.0 * self.c_usd * abs(x1) * math.exp(x1)
            if slope <= 0.0:
                break
            step = (self.value(x0, x1) - v) / slope
            x1 = max(x1 - step, x0)
            if abs(step) <= 1e-15 * (1.0 + abs(x1)):
                break
        return x1


_CURVES = {"linear": LinearDepth.from_spec, "sqrt": SqrtDepth.from_spec}


def depth_curve(spec: LinearDepthSpec | SqrtDepthSpec) -> LinearDepth | SqrtDepth:
    """The depth curve a spec describes.

    Examples
    --------
    >>> depth_curve(LinearDepthSpec(depth_usd_per_pct=1e6)).k_usd
    100000000.0
    """
    return _CURVES[spec.kind](spec)


class RollingRealizedVolatility:
    """:func:`defisim.markets.feeds.realized_volatility` over a trailing window, updated in O(1) per sample.

    Keeps the samples with ``t ≥ t_now − window_ms`` and the running sum of their squared log
    returns (recomputed exactly every few thousand samples against drift).

    Parameters
    ----------
    window_ms : int

    Examples
    --------
    >>> rv = RollingRealizedVolatility(2_000)
    >>> [round(rv.add(t, p), 2) for t, p in [(0, 100.0), (1_000, 101.0), (2_000, 100.0), (3_000, 100.0)]]
    [nan, 55.88, 55.88, 39.51]
    """

    __slots__ = ("window_ms", "_samples", "_sum_r2", "_nonzero", "_adds")

    def __init__(self, window_ms: int):
        if window_ms <= 0:
            raise ValueError(f"window_ms must be positive, got {window_ms}")
        self.window_ms = int(window_ms)
        self._samples: deque[tuple[int, float, float]] = deque()  # (t_ms, ln p, r² from the previous sample)
        self._sum_r2 = 0.0  # over all samples but the first
        self._nonzero = 0  # how many of those r² are not zero (a flat window gives exactly 0)
        self._adds = 0

    def add(self, t_ms: int, price: float) -> float:
        """Record ``price`` at ``t_ms`` (not before the last sample) and return the volatility now."""
        s = self._samples
        lp = math.log(price)
        if s and t_ms == s[-1][0]:  # a second reading at one instant replaces the first
            _, _, r2_last = s.pop()
            if s:
                self._sum_r2 -= r2_last
                self._nonzero -= r2_last > 0.0
        if s and t_ms < s[-1][0]:
            raise ValueError(f"sample at {t_ms} ms is before the last one ({s[-1][0]} ms)")
        if s:
            r2 = (lp - s[-1][1]) ** 2
            self._sum_r2 += r2
            self._nonzero += r2 > 0.0
            s.append((t_ms, lp, r2))
        else:
            s.append((t_ms, lp, 0.0))
        start = t_ms - self.window_ms
        while s[0][0] < start:
            s.popleft()
            self._sum_r2 -= s[0][2]
            self._nonzero -= s[0][2] > 0.0
        self._adds += 1
        if self._adds % 4096 == 0:
            self._sum_r2 = math.fsum(r2 for _, _, r2 in list(s)[1:])
        return self.value()

    def value(self) -> float:
        """The annualised realised volatility of the window (``nan`` before two samples)."""
        s = self._samples
        if len(s) < 2:
            return float("nan")
        if self._nonzero == 0:
            return 0.0
        years = (s[-1][0] - s[0][0]) / MS_PER_YEAR
        return math.sqrt(max(self._sum_r2, 0.0) / years)


class MarketMakerState:
    """The market makers of one venue: their rule and where they stand.

    Attributes
    ----------
    spec : MarketMakerSpec
    withdrawn : bool
        Whether depth is pulled now.
    calm_since_ms : int or None
        While withdrawn, since when volatility has been below the threshold.
    volatility : RollingRealizedVolatility
    """

    __slots__ = ("spec", "withdrawn", "calm_since_ms", "volatility")

    def __init__(self, spec: MarketMakerSpec):
        self.spec = spec
        self.withdrawn = False
        self.calm_since_ms: int | None = None
        self.volatility = RollingRealizedVolatility(spec.vol_window)


class VenueEvent(NamedTuple):
    """A market-maker event, as logged in ``Venue.events``."""

    t_ms: int
    venue: str
    kind: str  # "withdraw" or "return"
    realized_vol_annual: float
    depth_share: float  # the share of normal depth from now on


class Venue:
    """An off-chain book: ``mid(t) = feed.price_at(t) × impact(t)``, a depth curve, resilience.

    See the module docstring for the formulas. Times must not go back: a trade or a reading
    at ``t_ms`` before the last trade raises ``ValueError``.

    Parameters
    ----------
    feed : Feed
        The exogenous price (anything with ``price_at(t_ms)``).
    depth : LinearDepth or SqrtDepth
        The depth curve at full depth.
    half_life_ms : int or None
        Resilience: the log impact halves every ``half_life_ms``; ``None`` keeps it forever.
    market_maker : MarketMakerSpec, optional
        The withdrawal rule; ``None`` keeps depth constant.
    name : str
        Used in events.

    Attributes
    ----------
    depth_share : float
        ``a``, the share of normal depth in the book now (market makers lower it).
    impact_log : float
        ``x`` at ``state_t_ms``, the time of the last trade.
    events : list of VenueEvent
        Market-maker withdrawals and returns, in order.

    Examples
    --------
    A flat book of 1 M USD per 1% around a constant 100 USD: selling 1,000 tokens moves the
    mid by ``exp(−1000 · 100 / 1e8) − 1 ≈ −0.1%``; the log impact halves in a minute.

    >>> from defisim.markets.feeds import ConstantFeed
    >>> v = Venue(ConstantFeed(100.0), LinearDepth(1e6), half_life_ms=60_000)
    >>> usd, avg = v.sell(1_000, t_ms=0)
    >>> round(usd, 2), round(avg, 4), round(v.mid(0), 4)
    (99950.02, 99.95, 99.9)
    >>> round(math.log(v.impact(60_000)) / math.log(v.impact(0)), 12)
    0.5
    >>> round(v.depth_usd(1.0, 0), 2)   # 1% of the (moved) mid
    999000.5
    """

    def __init__(self, feed: Feed, depth: LinearDepth | SqrtDepth, *, half_life_ms: int | None = 60_000,
                 market_maker: MarketMakerSpec | None = None, name: str = "venue"):
        if half_life_ms is not None and not half_life_ms > 0:
            raise ValueError(f"half_life_ms must be positive or None, got {half_life_ms}")
        self.name = name
        self.feed = feed
        self.depth = depth
        self.half_life_ms = half_life_ms
        self.depth_share = 1.0
        self.impact_log = 0.0
        self.state_t_ms = 0
        self.market_maker = MarketMakerState(market_maker) if market_maker is not None else None
        self.events: list[VenueEvent] = []

    @classmethod
    def from_spec(cls, spec: VenueSpec, feed: Feed, name: str = "venue") -> "Venue":
        """Build from a :class:`~defisim.markets.spec.VenueSpec` and the asset's feed."""
        return cls(feed, depth_curve(spec.depth), half_life_ms=spec.half_life, market_maker=spec.market_maker, name=name)

    # ---- reading ---------------------------------------------------------------------------

    def _check_time(self, t_ms: int) -> None:
        if t_ms < self.state_t_ms:
            raise ValueError(f"venue {self.name!r}: time {t_ms} ms is before its last trade at {self.state_t_ms} ms")

    def impact_log_at(self, t_ms: int) -> float:
        """``x(t) = x · 2^(−(t − t_s) / half_life)``."""
        self._check_time(t_ms)
        x = self.impact_log
        if x == 0.0 or self.half_life_ms is None or t_ms == self.state_t_ms:
            return x
        return x * 2.0 ** (-(t_ms - self.state_t_ms) / self.half_life_ms)

    def impact(self, t_ms: int) -> float:
        """``impact(t) = exp(x(t))``: 1 at rest, below 1 after sells."""
        return math.exp(self.impact_log_at(t_ms))

    def mid(self, t_ms: int) -> float:
        """The mid price, USD per token: ``feed.price_at(t) × impact(t)``."""
        return self.feed.price_at(t_ms) * self.impact(t_ms)

    def depth_usd(self, pct: float, t_ms: int | None = None, side: str = "bid") -> float:
        """USD notional resting within ``pct`` % of the mid (``"bid"``: below, ``"ask"``: above).

        The USD a sell (buy) moving the mid down (up) by exactly ``pct`` % would receive
        (pay), with the depth in force now. ``t_ms`` defaults to the time of the last trade.
        """
        t = self.state_t_ms if t_ms is None else t_ms
        x0 = self.impact_log_at(t)
        if side == "bid":
            if not 0 <= pct < 100:
                raise ValueError(f"pct must be in [0, 100) on the bid side, got {pct}")
            return self.depth_share * self.depth.value(x0 + math.log1p(-pct / 100.0), x0)
        if side == "ask":
            if not pct >= 0:
                raise ValueError(f"pct must not be negative, got {pct}")
            return self.depth_share * self.depth.value(x0, x0 + math.log1p(pct / 100.0))
        raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")

    # ---- trading ---------------------------------------------------------------------------

    @staticmethod
    def _check_amount(amount: float, what: str) -> None:
        if not (amount >= 0 and math.isfinite(amount)):
            raise ValueError(f"{what} must be non-negative and finite, got {amount}")

    def _walk_tokens(self, amount_tokens: float, t_ms: int, sign: float) -> tuple[float, float, float]:
        """(x₁, usd, x₀) for ``amount_tokens`` sold (sign −1) or bought (+1) at ``t_ms``."""
        x0 = self.impact_log_at(t_ms)
        a = self.depth_share
        g1 = self.depth.notional(x0) + sign * amount_tokens * self.feed.price_at(t_ms) / a
        x1 = self.depth.displacement(g1)
        usd = a * (self.depth.value(x1, x0) if sign < 0 else self.depth.value(x0, x1))
        return x1, usd, x0

    def _commit(self, x1: float, t_ms: int) -> None:
        self.impact_log = x1
        self.state_t_ms = t_ms

    def quote_sell(self, amount_tokens: float, t_ms: int) -> tuple[float, float]:
        """What :meth:`sell` would return, without trading."""
        self._check_amount(amount_tokens, "amount_tokens")
        if amount_tokens == 0:
            return 0.0, self.mid(t_ms)
        _, usd, _ = self._walk_tokens(amount_tokens, t_ms, -1.0)
        return usd, usd / amount_tokens

    def sell(self, amount_tokens: float, t_ms: int) -> tuple[float, float]:
        """Sell ``amount_tokens`` into the bids at ``t_ms``: ``(usd_proceeds, avg_price_usd)``.

        Walks the depth curve (closed-form integral) and leaves the mid where the walk
        ended; resilience then pulls it back toward the feed.
        """
        self._check_amount(amount_tokens, "amount_tokens")
        if amount_tokens == 0:
            return 0.0, self.mid(t_ms)
        x1, usd, _ = self._walk_tokens(amount_tokens, t_ms, -1.0)
        self._commit(x1, t_ms)
        return usd, usd / amount_tokens

    def quote_buy(self, amount_tokens: float, t_ms: int) -> tuple[float, float]:
        """What :meth:`buy_tokens` would return, without trading."""
        self._check_amount(amount_tokens, "amount_tokens")
        if amount_tokens == 0:
            return 0.0, self.mid(t_ms)
        _, usd, _ = self._walk_tokens(amount_tokens, t_ms, +1.0)
        return usd, usd / amount_tokens

    def buy_tokens(self, amount_tokens: float, t_ms: int) -> tuple[float, float]:
        """Buy ``amount_tokens`` from the asks at ``t_ms``: ``(usd_cost, avg_price_usd)``."""
        self._check_amount(amount_tokens, "amount_tokens")
        if amount_tokens == 0:
            return 0.0, self.mid(t_ms)
        x1, usd, _ = self._walk_tokens(amount_tokens, t_ms, +1.0)
        self._commit(x1, t_ms)
        return usd, usd / amount_tokens

    def buy_usd(self, amount_usd: float, t_ms: int) -> tuple[float, float]:
        """Spend ``amount_usd`` on the asks at ``t_ms``: ``(tokens_bought, avg_price_usd)``."""
        self._check_amount(amount_usd, "amount_usd")
        if amount_usd == 0:
            return 0.0, self.mid(t_ms)
        x0 = self.impact_log_at(t_ms)
        a = self.depth_share
        x1 = self.depth.solve_value(x0, amount_usd / a)
        tokens = a * (self.depth.notional(x1) - self.depth.notional(x0)) / self.feed.price_at(t_ms)
        self._commit(x1, t_ms)
        return tokens, amount_usd / tokens


# --------------------------------------------------------------------------------------------
# Market makers
# --------------------------------------------------------------------------------------------


def market_maker_step(venue: Venue, t_ms: int) -> VenueEvent | None:
    """The market makers of ``venue`` read the mid at ``t_ms`` and pull or return depth.

    Rule (:class:`~defisim.markets.spec.MarketMakerSpec`): with ``σ̂`` the annualised realised
    volatility of the mid over the trailing ``vol_window``,

    - quoting normally, ``σ̂ ≥ vol_threshold_annual`` → depth share ``1 − withdraw_share``;
    - withdrawn, ``σ̂`` below the threshold since ``calm_since`` and ``t − calm_since ≥
      cooldown`` → depth share 1 (a reading at or above the threshold restarts the wait).

    Returns the event (also appended to ``venue.events``), or ``None``. A venue without
    market makers does nothing.

    Examples
    --------
    >>> from defisim.markets.feeds import CsvFeed
    >>> mm = MarketMakerSpec(vol_window="10s", vol_threshold_annual=5.0, withdraw_share=0.5, cooldown="5s")
    >>> zigzag = CsvFeed([0, 1_000, 2_000, 3_000], [100.0, 102.0, 100.0, 100.0], "step")
    >>> v = Venue(zigzag, LinearDepth(1e6), market_maker=mm, name="cex")
    >>> events = [e for t in range(0, 30_000, 1_000) if (e := market_maker_step(v, t))]
    >>> [(e.t_ms, e.kind, e.depth_share) for e in events]
    [(1000, 'withdraw', 0.5), (17000, 'return', 1.0)]
    """
    mm = venue.market_maker
    if mm is None:
        return None
    spec = mm.spec
    vol = mm.volatility.add(t_ms, venue.mid(t_ms))
    high = vol >= spec.vol_threshold_annual  # nan (too few samples) counts as calm
    event = None
    if not mm.withdrawn:
        if high:
            mm.withdrawn = True
            mm.calm_since_ms = None
            venue.depth_share = 1.0 - spec.withdraw_share
            event = VenueEvent(t_ms, venue.name, "withdraw", vol, venue.depth_share)
    elif high:
        mm.calm_since_ms = None
    else:
        if mm.calm_since_ms is None:
            mm.calm_since_ms = t_ms
        if t_ms - mm.calm_since_ms >= spec.cooldown:
            mm.withdrawn = False
            mm.calm_since_ms = None
            venue.depth_share = 1.0
            event = VenueEvent(t_ms, venue.name, "return", vol, 1.0)
    if event is not None:
        venue.events.append(event)
    return event


def market_maker_process(env, venue: Venue, every_ms: int | None = None):
    """SimPy process: :func:`market_maker_step` now and every ``every_ms`` after.

    ``every_ms`` defaults to the spec's ``sample_every``.

    Examples
    --------
    >>> import simpy
    >>> from defisim.markets.feeds import ConstantFeed
    >>> mm = MarketMakerSpec(vol_threshold_annual=1.0, withdraw_share=0.5)
    >>> v = Venue(ConstantFeed(100.0), LinearDepth(1e6), market_maker=mm)
    >>> env = simpy.Environment()
    >>> _ = env.process(market_maker_process(env, v, 1_000))
    >>> env.run(until=10_000)
    >>> v.events, len(v.market_maker.volatility._samples)
    ([], 10)
    """
    if venue.market_maker is None:
        raise ValueError(f"venue {venue.name!r} has no market makers to run")
    every = int(venue.market_maker.spec.sample_every if every_ms is None else every_ms)
    if every <= 0:
        raise ValueError(f"every_ms must be positive, got {every_ms}")
    while True:
        market_maker_step(venue, int(env.now))
        yield env.timeout(every)


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def build_venue(spec: VenueSpec, feed: Feed, name: str) -> Venue:
    """The venue a spec describes, on ``feed``.

    Examples
    --------
    >>> from defisim.markets.feeds import ConstantFeed
    >>> v = build_venue(VenueSpec(asset="ETH", depth={"kind": "sqrt", "coefficient": 0.1, "volume_usd": 5e7}),
    ...                 ConstantFeed(2000.0), "cex_eth")
    >>> v.mid(0), v.half_life_ms
    (2000.0, 60000)
    """
    return Venue.from_spec(spec, feed, name)


def build_markets(spec: MarketSpec, rngs: RngTree) -> tuple[dict[str, Feed], dict[str, Venue]]:
    """Feeds by asset (each drawing from the stream ``"feed/<asset>"``) and venues by name.

    Only random feeds ask ``rngs`` for a stream. Venues on one asset share its feed object.

    Examples
    --------
    >>> spec = MarketSpec(feeds={"ETH": {"kind": "gbm", "initial_price_usd": 2000, "volatility_annual": 0.8}},
    ...                   venues={"cex": {"asset": "ETH", "depth": {"kind": "linear", "depth_usd_per_pct": 5e6}}})
    >>> feeds, venues = build_markets(spec, RngTree(0))
    >>> venues["cex"].feed is feeds["ETH"], venues["cex"].mid(0)
    (True, 2000.0)
    """
    feeds: dict[str, Feed] = {}
    for asset, fspec in spec.feeds.items():
        random = fspec.kind in ("gbm", "jump_diffusion") or (fspec.kind == "scripted" and fspec.noise is not None)
        feeds[asset] = build_feed(fspec, rngs.stream(f"feed/{asset}") if random else None)
    venues = {name: build_venue(vspec, feeds[vspec.asset], name) for name, vspec in spec.venues.items()}
    return feeds, venues
