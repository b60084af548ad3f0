"""The chain's specification: slots, gas, EIP-1559, ordering, the network's latencies, the public
mempool and the background demand. Frozen pydantic models; unknown keys are rejected."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base.distributions import Distribution, Fixed, LatencyMs, LogNormal
from defisim.base.units import DurationMs

__all__ = ["ChainSpec", "NetworkSpec", "MempoolSpec", "DemandSpike", "BackgroundSpec", "ORDERING_POLICIES"]

ORDERING_POLICIES = ("priority_fee", "fifo", "random", "bundle_auction", "sequencer")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ChainSpec(_Spec):
    """The chain: slots, gas, EIP-1559 and the block builder's ordering (mechanics §7.1–7.4)."""

    slot: DurationMs = Field(12_000, gt=0, description="slot time")
    missed_slot_probability: float = Field(0.0, ge=0, lt=1, description="chance that a slot has no block")
    gas_limit: int = Field(36_000_000, gt=0, description="block gas limit (gas units)")
    elasticity: int = Field(2, ge=1, description="gas target = gas_limit / elasticity")
    base_fee_max_change_denominator: int = Field(8, ge=1)
    initial_base_fee_gwei: float = Field(20.0, gt=0, le=1e6, description="base fee of the first block (gwei)")
    native_asset: str = Field("ETH", min_length=1, description="asset gas is paid in: its feed prices gas in USD")
    ordering: Literal["priority_fee", "fifo", "random", "bundle_auction", "sequencer"] = "priority_fee"
    build_cutoff: DurationMs = Field(
        0, ge=0, description="the builder takes transactions that arrived this long before the slot boundary"
    )

    @model_validator(mode="after")
    def _cutoff_inside_slot(self):
        if self.build_cutoff >= self.slot:
            raise ValueError(f"build_cutoff ({self.build_cutoff} ms) must be shorter than the slot ({self.slot} ms)")
        return self


class NetworkSpec(_Spec):
    """Latencies in milliseconds (duration strings accepted)."""

    public_latency: LatencyMs = LogNormal(median=200, sigma=0.5)
    private_latency: LatencyMs = Fixed(value=50)


class MempoolSpec(_Spec):
    """Public mempool of the simulated actors' transactions (mechanics §7.3)."""

    capacity: int = Field(10_000, gt=0, description="pending transactions kept; the lowest tip is evicted past it")
    replace_bump: float = Field(0.10, ge=0, description="minimum relative bump of both fees for replace-by-fee")


class DemandSpike(_Spec):
    """A window in which background demand is scaled."""

    start: DurationMs
    duration: DurationMs = Field(gt=0)
    rate_multiplier: float = Field(1.0, ge=0)
    tip_multiplier: float = Field(1.0, gt=0)


class BackgroundSpec(_Spec):
    """The rest of the chain's users, as a statistical process (DESIGN §3).

    Each block, ``Poisson(rate_tx_per_block)`` background transactions compete for the
    block, each using ``gas_per_tx`` gas with a priority fee from ``tip_gwei`` and a fee cap
    from ``max_fee_gwei`` (a transaction whose cap is below the base fee stays out). Demand
    not included in a block is not carried over: the next block draws afresh.
    """

    rate_tx_per_block: float = Field(0.0, ge=0)
    gas_per_tx: int = Field(120_000, gt=0)
    tip_gwei: Distribution = LogNormal(median=1.5, sigma=0.8)
    max_fee_gwei: Distribution = LogNormal(median=60.0, sigma=0.6)
    spikes: tuple[DemandSpike, ...] = ()
