"""Parametric distributions used by scenario files (fees, latencies, sizes).

Each is a frozen pydantic model with a ``sample(rng, n)`` method returning a float64 array.
Latencies use the same models with values in milliseconds; duration strings are accepted
there (see :data:`LatencyMs`).
"""
from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from scipy.special import ndtri
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from defisim.base.units import parse_duration_ms

_SQRT2 = math.sqrt(2.0)

__all__ = ["Fixed", "Uniform", "LogNormal", "Exponential", "Distribution", "LatencyMs", "MAX_LOG_SIGMA"]

#: Largest log-space standard deviation of a :class:`LogNormal`: ``e^10`` ≈ 22,000 times the
#: median per standard deviation is beyond any fee, latency or size; much larger overflows
#: float64 in ``exp`` at ordinary quantiles.
MAX_LOG_SIGMA = 10.0


class _Dist(BaseModel):
    """Base of the distributions: each defines ``sample(rng, n)``, ``quantile(p)`` (scalar),
    ``ppf(u)`` (vectorised quantile) and ``sf(x)`` (survival ``P[X >= x]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)



class Fixed(_Dist):
    """Always ``value``."""

    kind: Literal["fixed"] = Field("fixed", description="distribution kind")
    value: float = Field(ge=0, description="the value (in the unit of the field it fills)")

    def sample(self, rng, n):
        return np.full(n, self.value)

    def quantile(self, p):
        return self.value

    def ppf(self, u):
        return np.full(np.shape(u), self.value)

    def sf(self, x):
        return 1.0 if x <= self.value else 0.0


class Uniform(_Dist):
    """Uniform on ``[low, high]``."""

    kind: Literal["uniform"] = Field("uniform", description="distribution kind")
    low: float = Field(ge=0, description="lower bound")
    high: float = Field(ge=0, description="upper bound")

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")
        return self

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n)

    def quantile(self, p):
        return self.low + p * (self.high - self.low)

    def ppf(self, u):
        return self.low + np.asarray(u) * (self.high - self.low)

    def sf(self, x):
        if x <= self.low:
            return 1.0
        if x > self.high or self.high == self.low:
            return 0.0
        return (self.high - x) / (self.high - self.low)


class LogNormal(_Dist):
    """Log-normal with the given ``median`` and log-space standard deviation ``sigma``."""

    kind: Literal["lognormal"] = Field("lognormal", description="distribution kind")
    median: float = Field(gt=0, description="median (in the unit of the field it fills)")
    sigma: float = Field(ge=0, le=MAX_LOG_SIGMA, description="standard deviation of the log")

    def sample(self, rng, n):
        # exp of a scaled standard normal: the same law as rng.lognormal, at half the cost
        return np.exp(self.sigma * rng.standard_normal(n) + math.log(self.median))

    def quantile(self, p):
        return self.median * math.exp(self.sigma * float(ndtri(p)))

    def ppf(self, u):
        return self.median * np.exp(self.sigma * ndtri(u))

    def sf(self, x):
        if x <= 0:
            return 1.0
        if self.sigma == 0:
            return 1.0 if x <= self.median else 0.0
        return 0.5 * math.erfc(math.log(x / self.median) / (self.sigma * _SQRT2))


class Exponential(_Dist):
    """Exponential with the given ``mean``."""

    kind: Literal["exponential"] = Field("exponential", description="distribution kind")
    mean: float = Field(gt=0, description="mean (in the unit of the field it fills)")

    def sample(self, rng, n):
        return rng.exponential(self.mean, n)

    def quantile(self, p):
        return float(-self.mean * np.log1p(-p))

    def ppf(self, u):
        return -self.mean * np.log1p(-np.asarray(u))

    def sf(self, x):
        return 1.0 if x <= 0 else math.exp(-x / self.mean)


Distribution = Annotated[Union[Fixed, Uniform, LogNormal, Exponential], Field(discriminator="kind")]


def _durations_to_ms(value):
    if isinstance(value, dict):
        return {
            k: (parse_duration_ms(v) if k in ("value", "low", "high", "median", "mean") and isinstance(v, str) else v)
            for k, v in value.items()
        }
    return value


#: A distribution of durations in milliseconds; its parameters may be duration strings.
LatencyMs = Annotated[Distribution, BeforeValidator(_durations_to_ms)]
