"""The chain's specification: slots, gas, EIP-1559, ordering, the network's latencies, the public
mempool and the background demand. Frozen pydantic models; unknown keys are rejected."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base.distributions import Distribution, Fixed, LatencyMs, LogNormal
from defisim.base.units import DurationMs, unit

__all__ = ["ChainSpec", "NetworkSpec", "MempoolSpec", "DemandSpike", "BackgroundSpec", "ORDERING_POLICIES"]

ORDERING_POLICIES = ("priority_fee", "fifo", "random", "bundle_auction", "sequencer")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ChainSpec(_Spec):
    """The chain: slots, gas, EIP-1559 and the block builder's ordering (Ethereum consensus specs: 12-second slots; EIP-1559; go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest; Flashbots MEV-Boost and bundle docs)."""

    slot: DurationMs = Field(12_000, gt=0, description="slot time")
    missed_slot_probability: float = Field(0.0, ge=0, lt=1,
        description="chance that a slot has no block", json_schema_extra=unit("fraction"))
    gas_limit: int = Field(36_000_000, gt=0, description="block gas limit (gas units)", json_schema_extra=unit("gas"))
    elasticity: int = Field(2, ge=1, description="gas target = gas_limit / elasticity", json_schema_extra=unit("x"))
    base_fee_max_change_denominator: int = Field(8, ge=1,
        description="EIP-1559 BASE_FEE_MAX_CHANGE_DENOMINATOR: the base fee moves at most 1/this per block")
    fee_market: Literal["eip1559", "first_price"] = Field("eip1559", description="'eip1559': a base fee that follows "
        "the gas used (London, August 2021 on); 'first_price': the market before it, no base fee, each transaction "
        "pays the gas price it offers (its tip; inclusion by that price), as in a 2020 crisis")
    initial_base_fee_gwei: float = Field(20.0, gt=0, le=1e6, description="base fee of the first block (eip1559; a first-price market has none: leave the default)")
    native_asset: str = Field("ETH", min_length=1, description="asset gas is paid in: its feed prices gas in USD")
    ordering: Literal["priority_fee", "fifo", "random", "bundle_auction", "sequencer"] = Field("priority_fee",
        description="the builder's ordering policy")
    build_cutoff: DurationMs = Field(
        0, ge=0, description="the builder takes transactions that arrived this long before the slot boundary"
    )

    @model_validator(mode="after")
    def _base_fee_needs_1559(self):
        default = type(self).model_fields["initial_base_fee_gwei"].default
        if self.fee_market == "first_price" and self.initial_base_fee_gwei != default:
            raise ValueError("initial_base_fee_gwei: a first-price fee market has no base fee; remove it")
        return self

    @model_validator(mode="after")
    def _cutoff_inside_slot(self):
        if self.build_cutoff >= self.slot:
            raise ValueError(f"build_cutoff ({self.build_cutoff} ms) must be shorter than the slot ({self.slot} ms)")
        return self


class NetworkSpec(_Spec):
    """Latencies in milliseconds (duration strings accepted)."""

    public_latency: LatencyMs = Field(LogNormal(median=200, sigma=0.5),
        description="sender to the public mempool", json_schema_extra=unit("ms"))
    private_latency: LatencyMs = Field(Fixed(value=50),
        description="sender to the builder (private bundles)", json_schema_extra=unit("ms"))


class MempoolSpec(_Spec):
    """Public mempool of the simulated actors' transactions (go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest)."""

    capacity: int = Field(10_000, gt=0, description="pending transactions kept; the lowest tip is evicted past it")
    replace_bump: float = Field(0.10, ge=0,
        description="minimum relative bump of both fees for replace-by-fee", json_schema_extra=unit("fraction"))


class DemandSpike(_Spec):
    """A window in which background demand is scaled."""

    start: DurationMs = Field(description="start of the window, from the run's start")
    duration: DurationMs = Field(gt=0, description="length of the window")
    rate_multiplier: float = Field(1.0, ge=0,
        description="factor on the background rate in the window", json_schema_extra=unit("x"))
    tip_multiplier: float = Field(1.0, gt=0,
        description="factor on the background tips and fee caps in the window", json_schema_extra=unit("x"))


class BackgroundSpec(_Spec):
    """The rest of the chain's users, as a statistical process.

    Each block, ``Poisson(rate_tx_per_block)`` background transactions compete for the
    block, each using ``gas_per_tx`` gas with a priority fee from ``tip_gwei`` and a fee cap
    from ``max_fee_gwei`` (a transaction whose cap is below the base fee stays out). Demand
    not included in a block is not carried over: the next block draws afresh.
    """

    rate_tx_per_block: float = Field(0.0, ge=0,
        description="mean background transactions per block (Poisson)", json_schema_extra=unit("tx per block"))
    gas_per_tx: int = Field(120_000, gt=0, description="gas used by each", json_schema_extra=unit("gas"))
    tip_gwei: Distribution = Field(LogNormal(median=1.5, sigma=0.8),
        description="priority fee offered", json_schema_extra=unit("gwei"))
    max_fee_gwei: Distribution = Field(LogNormal(median=60.0, sigma=0.6),
        description="fee cap", json_schema_extra=unit("gwei"))
    spikes: tuple[DemandSpike, ...] = Field((), description="windows of scaled demand")
