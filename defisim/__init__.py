"""defisim: a discrete-event simulator of on-chain lending and perpetual futures, block by block.

The public surface is small; see the README and ``docs/``.
"""
from .agents import AgentContext
from .protocol import BlockInfo, Protocol, handler
from .registry import Registry, default_registry
from .results import Results
from .rng import RngTree
from .scenario import Scenario, ScenarioError, load_scenario, validate_scenario
from .simulation import Simulation, run_scenario
from .tx import Call, Receipt, Revert, Tx, TxStatus
from .units import parse_duration_ms

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
