"""Shared helpers: small scenarios with scripted agents on a private registry."""
from __future__ import annotations

import copy
import os

import pytest
from hypothesis import settings

from defisim.base.registry import Registry
from defisim.scenario.loading import validate_scenario
from defisim.run.simulation import Simulation
from pydantic import BaseModel, ConfigDict

import protocols

# HYPOTHESIS_PROFILE=thorough runs every property test on many more examples (minutes, not seconds):
# the way to check that a derived error bound is a bound and not a lucky constant.
settings.register_profile("thorough", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


BASE = {
    "name": "test",
    "seed": 0,
    "blocks": 5,
    "chain": {"slot": "12s", "gas_limit": 36_000_000, "initial_base_fee_gwei": 20.0},
    "network": {"public_latency": {"kind": "fixed", "value": 0}, "private_latency": {"kind": "fixed", "value": 0}},
    "background": {"rate_tx_per_block": 0},
    "protocols": {"usd": {"kind": "token.ledger", "minter": "minter", "initial_balances": {"alice/0": 1000.0, "bob/0": 1000.0, "carol/0": 1000.0}}},
}


class Sandbox:
    """Build and run a scenario whose agents are plain test functions ``fn(ctx)``."""

    def __init__(self):
        self.registry = Registry()
        protocols.register_builtins(self.registry)

    def scenario(self, agents: dict | None = None, **changes):
        raw = copy.deepcopy(BASE)
        for key, value in changes.items():
            node = raw
            *path, last = key.split("__")
            for k in path:
                node = node.setdefault(k, {})
            node[last] = value
        raw["agents"] = []
        for name, fn in (agents or {}).items():
            kind = f"test.{name}"
            self.registry.agent(kind, NoParams, lambda ctx, params, i, fn=fn: fn(ctx))
            raw["agents"].append({"kind": kind, "name": name})
        return validate_scenario(raw, self.registry)

    def simulation(self, agents: dict | None = None, seed: int | None = None, **changes) -> Simulation:
        return Simulation(self.scenario(agents, **changes), seed=seed, registry=self.registry)


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()
