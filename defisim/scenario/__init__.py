"""The scenario floor: a whole scenario's spec, its loading and validation, the built-ins.

:mod:`.spec` puts the components' specs together, :mod:`.sweep_spec` is the ``[sweep]``
section, :mod:`.loading` reads, merges, overrides, validates and hashes a scenario, and
``builtins/`` holds the built-in scenario files. Imports the floors below it.
"""
from defisim.scenario.sweep_spec import SampleSpec, ReportSpec, SweepSpec, parse_values, parse_range
from defisim.scenario.spec import AgentSpec, ScenarioSpec
from defisim.scenario.loading import Scenario, ScenarioError, load_scenario, merge_scenarios, validate_scenario, apply_overrides, builtin_scenarios, read_scenario_file

__all__ = [
    "SampleSpec",
    "ReportSpec",
    "SweepSpec",
    "parse_values",
    "parse_range",
    "AgentSpec",
    "ScenarioSpec",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "merge_scenarios",
    "validate_scenario",
    "apply_overrides",
    "builtin_scenarios",
    "read_scenario_file",
]
