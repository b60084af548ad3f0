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

__all__ = ["AgentSpec", "ScenarioSpec"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AgentSpec(_Spec):
    """A group of ``count`` agents of one kind; ``params`` are validated by the agent kind's model."""

    kind: str
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    count: int = Field(1, ge=1)
    params: dict[str, Any] = {}


class ScenarioSpec(_Spec):
    """A whole scenario. ``markets`` holds the exogenous price feeds and the off-chain venues;
    ``protocols`` maps an instance name to ``{kind = "...", <params>}``."""

    name: str = Field("unnamed", min_length=1, max_length=MAX_NAME, description="titles the results, figures and progress")
    description: str = Field("", max_length=MAX_STRING)
    seed: int = Field(0, ge=0)
    blocks: int = Field(300, gt=0, description="blocks to simulate")
    chain: ChainSpec = ChainSpec()
    network: NetworkSpec = NetworkSpec()
    mempool: MempoolSpec = MempoolSpec()
    background: BackgroundSpec = BackgroundSpec()
    markets: MarketSpec = MarketSpec()
    protocols: dict[str, dict[str, Any]] = {}
    agents: tuple[AgentSpec, ...] = ()
    exposures: ExposureSpec = ExposureSpec()
    ecosystem: EcosystemSpec = EcosystemSpec()
    # a sweep is not part of any one run: left out of the dump, so of the scenario hash
    sweep: SweepSpec | None = Field(None, exclude=True, description="parameter sweep (defisim sweep)")

    @model_validator(mode="after")
    def _fits_in_a_block(self):
        if self.background.gas_per_tx > self.chain.gas_limit:
            raise ValueError(f"background.gas_per_tx: {self.background.gas_per_tx:,} gas is above the block gas limit "
                             f"chain.gas_limit ({self.chain.gas_limit:,}): no background transaction could be included")
        return self
