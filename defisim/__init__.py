"""defisim: a discrete-event simulator of on-chain lending and perpetual futures, block by block.

The public surface is small; see the README and ``docs/``.
"""
from defisim.run.context import AgentContext
from defisim.base.protocol import BlockInfo, Protocol, handler
from defisim.base.registry import Registry, default_registry
from defisim.results.results import Results
from defisim.base.rng import RngTree
from defisim.scenario.loading import Scenario, ScenarioError, load_scenario, validate_scenario
from defisim.run.simulation import Simulation, run_scenario
from defisim.base.tx import Call, Receipt, Revert, Tx, TxStatus
from defisim.base.units import parse_duration_ms

__all__ = [
    "AgentContext",
    "BlockInfo",
    "Call",
    "Protocol",
    "Receipt",
    "Registry",
    "Results",
    "Revert",
    "RngTree",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "Tx",
    "TxStatus",
    "default_registry",
    "handler",
    "load_scenario",
    "parse_duration_ms",
    "run_scenario",
    "validate_scenario",
]
