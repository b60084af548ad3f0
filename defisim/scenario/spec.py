"""A whole scenario's engine-level specification: pydantic models, frozen, unknown keys rejected.

Each component's own spec stands beside it (:mod:`defisim.chain.spec`, :mod:`defisim.markets.spec`,
:mod:`defisim.graph.spec`, :mod:`defisim.scenario.sweep_spec`); this module puts them together.
Protocol and agent parameters are validated separately, through the registry
(:mod:`defisim.base.registry`), by :func:`defisim.scenario.loading.validate_scenario`.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.chain.spec import BackgroundSpec, ChainSpec, MempoolSpec, NetworkSpec
from defisim.graph.spec import EcosystemSpec, ExposureSpec
from defisim.markets.spec import MarketSpec
from defisim.scenario.checks import MAX_NAME, MAX_STRING
from defisim.scenario.sweep_spec import SweepSpec
from defisim.base.units import unit

__all__ = ["AgentSpec", "ScenarioSpec"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AgentSpec(_Spec):
    """A group of ``count`` agents of one kind; ``params`` are validated by the agent kind's model."""

    kind: str = Field(description="agent kind (see Agent kinds)")
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME,
        description="group name; its agents are <name>/0, <name>/1, … (default: the kind)")
    count: int = Field(1, ge=1, description="agents in the group")
    params: dict[str, Any] = Field({}, description="the agent kind's parameters")


class ScenarioSpec(_Spec):
    """A whole scenario. ``markets`` holds the exogenous price feeds and the off-chain venues;
    ``protocols`` maps an instance name to ``{kind = "...", <params>}``."""

    name: str = Field("unnamed", min_length=1, max_length=MAX_NAME, description="scenario name, shown in results")
    description: str = Field("", max_length=MAX_STRING, description="one line on what the scenario shows")
    seed: int = Field(0, ge=0, description="root seed of every random stream")
    blocks: int = Field(300, gt=0, description="blocks to simulate", json_schema_extra=unit("blocks"))
    chain: ChainSpec = Field(ChainSpec(), description="slots, gas, EIP-1559, ordering")
    network: NetworkSpec = Field(NetworkSpec(), description="latencies of the simulated actors' transactions")
    mempool: MempoolSpec = Field(MempoolSpec(), description="the public mempool")
    background: BackgroundSpec = Field(BackgroundSpec(), description="the rest of the chain's users")
    markets: MarketSpec = Field(MarketSpec(), description="exogenous price feeds and off-chain venues")
    protocols: dict[str, dict[str, Any]] = Field({},
        description="protocol instances by name: {kind = ..., <the kind's params>}")
    agents: tuple[AgentSpec, ...] = Field((), description="agent groups")
    exposures: ExposureSpec = Field(ExposureSpec(), description="exposure-graph snapshots in a run")
    ecosystem: EcosystemSpec = Field(EcosystemSpec(), description="declared counterparties and their exposures")
    # a sweep is not part of any one run: left out of the dump, so of the scenario hash
    sweep: SweepSpec | None = Field(None, exclude=True, description="parameter sweep (defisim sweep)")

    @model_validator(mode="after")
    def _fits_in_a_block(self):
        if self.background.gas_per_tx > self.chain.gas_limit:
            raise ValueError(f"background.gas_per_tx: {self.background.gas_per_tx:,} gas is above the block gas limit "
                             f"chain.gas_limit ({self.chain.gas_limit:,}): no background transaction could be included")
        return self
