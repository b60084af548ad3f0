"""Command line: ``defisim run | graph | validate | schema | scenarios`` (DESIGN §7, §8).

Bad input gives one line on stderr, ``defisim: error: …``, and exit status 2; never a
traceback.
"""
from __future__ import annotations

import argparse
import json
import sys

from pydantic import ValidationError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage first; keep only the error)
        sys.stderr.write(f"defisim: error: {message}\n")
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="defisim", description="Block-by-block simulation of DeFi lending and perps crises.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run a scenario (default: the built-in 'default')")
    r.add_argument("scenario", nargs="?", default=None, help="scenario file (.toml/.yaml) or built-in name")
    r.add_argument("--seed", type=int, default=None, help="root seed (overrides the scenario's)")
    r.add_argument("--blocks", type=int, default=None, help="blocks to simulate (overrides the scenario's)")
    r.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value by dotted path, e.g. --set chain.slot=2s (repeatable)")
    r.add_argument("--out", default="results", help="directory for the results (default: ./results)")
    r.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    g = sub.add_parser("graph", help="exposure-graph measures, GraphML/CSV and figures of a scenario, results or graph file")
    g.add_argument("source", help="scenario (file or built-in name: the graph at the start), results directory "
                                  "(a snapshot of the run, with its losses) or graph file (.csv edge list or .json)")
    g.add_argument("--block", type=int, default=None, help="results: the snapshot at or before this block (default: the last)")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="scenario: override a value by dotted path (repeatable)")
    g.add_argument("--out", default="graph", help="directory for the files (default: ./graph)")
    v = sub.add_parser("validate", help="check a scenario file and print its hash")
    v.add_argument("file", help="scenario file (.toml/.yaml) or built-in name")
    v.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    sub.add_parser("schema", help="print the JSON schema of the scenario format")
    sub.add_parser("scenarios", help="list the built-in scenarios")
    return p


def _cmd_run(args) -> int:
    from .scenario import load_scenario
    from .simulation import Simulation

    overrides = list(args.overrides)
    if args.seed is not None:
        if args.seed < 0:
            raise ValueError("--seed must be a non-negative integer")
        overrides.append(f"seed={args.seed}")
    if args.blocks is not None:
        if args.blocks <= 0:
            raise ValueError("--blocks must be a positive integer")
        overrides.append(f"blocks={args.blocks}")
    scenario = load_scenario(args.scenario, overrides)
    progress = not args.no_progress and sys.stderr.isatty()
    results = Simulation(scenario).run(progress=progress)
    out = results.save(args.out)
    from .plots import timeline_figure

    figure = timeline_figure(results.tables, out / "timeline.png", scenario=scenario.spec.name)
    print(f"scenario {scenario.spec.name} ({scenario.source}), seed {results.meta['seed']}, hash {scenario.hash[:12]}")
    summary = results.summary()
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"  {k:<{width}}  {v:,.6g}" if isinstance(v, float) else f"  {k:<{width}}  {v:,}")
    print(f"results written to {out}/ (timeline figure: {figure.name})")
    return 0


def _cmd_graph(args) -> int:
    from pathlib import Path

    from .graph.exposure import ExposureGraph
    from .graph.figures import contagion_figure, graph_figure
    from .graph.measures import format_measures, graph_measures

    source, out = Path(args.source), Path(args.out)
    losses, tables, what = None, None, args.source
    if (source / "meta.json").is_file():
        from .results import Results

        results = Results.load(source)
        tables = results.tables
        snapshots = tables.get("exposures")
        if snapshots is None or not len(snapshots):
            raise ValueError(f"{source}: the results hold no exposure snapshots")
        blocks = snapshots["block"] if args.block is None else snapshots["block"][snapshots["block"] <= args.block]
        if not len(blocks):
            raise ValueError(f"--block {args.block}: the first snapshot is after block {int(snapshots['block'].min())}")
        block = int(blocks.max())
        nodes = tables["exposure_nodes"]
        graph = ExposureGraph.from_frames(snapshots[snapshots["block"] == block].drop(columns=["block", "time_ms", "trigger"]),
                                          nodes[nodes["block"] == block].drop(columns=["block"]))
        lost = tables.get("contagion_losses")
        if lost is not None and len(lost):
            losses = lost[lost["block"] <= block].groupby("source")["loss_usd"].sum().to_dict()
        what = f"{source} at block {block}"
    elif source.suffix in (".csv", ".json"):
        graph = ExposureGraph.read(source)
    else:
        from .scenario import load_scenario
        from .simulation import Simulation

        scenario = load_scenario(args.source, args.overrides)
        sim = Simulation(scenario)
        spec = scenario.spec.exposures
        graph = ExposureGraph.from_protocols(sim.protocols, scenario.spec.ecosystem, spec.cut, spec.large_account_usd)
        what = f"scenario {scenario.spec.name} at the start"
    out.mkdir(parents=True, exist_ok=True)
    print(f"exposure graph of {what}")
    print(format_measures(graph_measures(graph)))
    written = graph.write(out / "exposures")
    written.append(graph_figure(graph, out / "exposures.png", losses=losses, title=f"exposure graph: {what}"))
    if tables is not None:
        written.append(contagion_figure(tables, out / "contagion.png", title=f"contagion: {source}"))
    print("written: " + ", ".join(str(p) for p in written))
    return 0


def _cmd_validate(args) -> int:
    from .scenario import load_scenario

    s = load_scenario(args.file, args.overrides)
    print(f"ok: {args.file} ({s.spec.name}), hash {s.hash}")
    return 0


def _cmd_schema(args) -> int:
    from .spec import ScenarioSpec

    print(json.dumps(ScenarioSpec.model_json_schema(), indent=2))
    return 0


def _cmd_scenarios(args) -> int:
    from .scenario import builtin_scenarios

    for name, desc in builtin_scenarios().items():
        print(f"{name:24s} {desc}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``defisim`` command."""
    args = _parser().parse_args(argv)
    handler = {"run": _cmd_run, "graph": _cmd_graph, "validate": _cmd_validate, "schema": _cmd_schema, "scenarios": _cmd_scenarios}[args.command]
    try:
        return handler(args)
    except (ValueError, ValidationError, OSError, KeyError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        sys.stderr.write(f"defisim: error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("defisim: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
