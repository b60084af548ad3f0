"""Command line: ``defisim run | graph | validate | show | schema | scenarios | sweep | compare``.

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
    sh = sub.add_parser("show", help="print a scenario with every default filled in: a file to copy and edit")
    sh.add_argument("scenario", help="built-in name or scenario file (.toml/.yaml)")
    sh.add_argument("--format", choices=["toml", "yaml"], default="toml", help="file format (default: toml)")
    sh.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a value by dotted path first (repeatable)")
    sub.add_parser("schema", help="print the JSON schema of the scenario format, every protocol and agent kind included")
    sub.add_parser("scenarios", help="list the built-in scenarios")
    _sweep_parsers(sub)
    return p


def _sweep_parsers(sub) -> None:
    s = sub.add_parser("sweep", help="run or resume a parameter sweep (overrides × seeds) and rank its points by risk")
    s.add_argument("scenario", nargs="?", default=None, help="scenario file or built-in name; its [sweep] section, if any, is the start")
    s.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2,...", help="a grid axis (repeatable; axes multiply)")
    s.add_argument("--zip", action="append", default=[], metavar="PATH=V1,V2,...",
                   help="lists walked in step: all --zip paths form one axis (equal lengths)")
    s.add_argument("--sample", action="append", default=[], metavar="PATH=LOW:HIGH",
                   help="a range sampled --samples times (repeatable); integer bounds draw integers only "
                        "(0:1 gives 0 or 1: write 0.0:1.0 for floats)")
    s.add_argument("--samples", type=int, default=None, metavar="N", help="points drawn in the --sample ranges")
    s.add_argument("--method", choices=["lhs", "random"], default="lhs", help="sampling: Latin hypercube (default) or random")
    s.add_argument("--seeds", type=int, default=None, metavar="N", help="runs per point (replicates)")
    s.add_argument("--sweep-seed", type=int, default=None, metavar="N", help="seed every run's seed derives from")
    s.add_argument("--paired", action="store_true", default=None, help="the same seeds at every point (common random numbers)")
    s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override the base scenario")
    s.add_argument("--workers", type=int, default=None, metavar="N", help="local processes (default: all CPUs; 1: in this process)")
    s.add_argument("--dask", default=None, metavar="ADDRESS", help="run on a Dask scheduler at ADDRESS, or 'local' for a local cluster")
    s.add_argument("--out", default="sweep", help="sweep directory, resumed if it exists (default: ./sweep)")
    s.add_argument("--tables", action="store_true", help="also store every run's full tables")
    s.add_argument("--retry-failed", action="store_true", help="run again the runs recorded as failed")
    s.add_argument("--axes", default=None, metavar="PATH[,PATH]", help="swept paths of the heatmap (default: the first two)")
    s.add_argument("--rank-by", default=None, metavar="METRIC", help="metric ranking the points, lowest first (default: total_loss_cvar95_usd)")
    s.add_argument("--top", type=int, default=20, metavar="N", help="ranked points printed (default: 20)")
    s.add_argument("--no-progress", action="store_true", help="do not show progress")
    c = sub.add_parser("compare", help="compare two runs or two sweeps (their directories)")
    c.add_argument("a", help="results directory (meta.json) or sweep directory (sweep.json)")
    c.add_argument("b", help="the same kind as A")
    c.add_argument("--out", default=None, metavar="FILE", help="also write the comparison as CSV")


def _cmd_run(args) -> int:
    from defisim.scenario.loading import load_scenario
    from defisim.run.simulation import Simulation

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
    _print_notes(scenario)
    progress = not args.no_progress and sys.stderr.isatty()
    results = Simulation(scenario).run(progress=progress)
    out = results.save(args.out)
    from defisim.results.plots import timeline_figure

    figure = timeline_figure(results.tables, out / "timeline.png", schema=results.schema, scenario=scenario.spec.name)
    print(f"scenario {scenario.spec.name} ({scenario.source}), seed {results.meta['seed']}, hash {scenario.hash[:12]}")
    summary = results.summary()
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"  {k:<{width}}  {v:,.6g}" if isinstance(v, float) else f"  {k:<{width}}  {v:,}")
    for warning in results.meta.get("warnings", []):
        print(f"warning: {warning}")
    print(f"results written to {out}/ (timeline figure: {figure.name})")
    return 0


def _cmd_graph(args) -> int:
    from pathlib import Path

    from defisim.graph.exposure import ExposureGraph
    from defisim.graph.figures import contagion_figure, graph_figure
    from defisim.graph.measures import format_measures, graph_measures

    source, out = Path(args.source), Path(args.out)
    distress, tables, what = None, None, args.source
    is_results, is_file = (source / "meta.json").is_file(), source.suffix in (".csv", ".json")
    if args.block is not None and not is_results:
        raise ValueError("--block applies to a results directory only")
    if args.overrides and (is_results or is_file):
        raise ValueError("--set applies to a scenario only")
    if is_results:
        from defisim.results.results import Results

        results = Results.load(source)
        snapshots, nodes = results.tables.get("exposures"), results.tables.get("exposure_nodes")
        if snapshots is None or nodes is None or not len(snapshots):
            raise ValueError(f"{source}: the results hold no exposure snapshots (exposures, exposure_nodes)")
        blocks = snapshots["block"] if args.block is None else snapshots["block"][snapshots["block"] <= args.block]
        if not len(blocks):
            raise ValueError(f"--block {args.block}: the first snapshot is after block {int(snapshots['block'].min())}")
        block = int(blocks.max())
        graph = ExposureGraph.from_snapshot(snapshots, nodes, block)
        mine = nodes[nodes["block"] == block]
        distress = dict(zip(mine["name"], mine["distress"]))
        tables = {name: (t[t["block"] <= block] if "block" in t else t) for name, t in results.tables.items()}
        what = f"{source} at block {block}"
    elif is_file:
        graph = ExposureGraph.read(source)
    else:
        from defisim.scenario.loading import load_scenario
        from defisim.run.simulation import Simulation

        scenario = load_scenario(args.source, args.overrides)
        graph = Simulation(scenario).exposures.graph  # the snapshot every run starts with
        what = f"scenario {scenario.spec.name} at the start"
    out.mkdir(parents=True, exist_ok=True)
    print(f"exposure graph of {what}")
    print(format_measures(graph_measures(graph)))
    written = graph.write(out / "exposures")
    written.append(graph_figure(graph, out / "exposures.png", distress=distress, title=f"exposure graph: {what}"))
    if tables is not None:
        written.append(contagion_figure(tables, out / "contagion.png", title=f"contagion: {source}"))
    print("written: " + ", ".join(str(p) for p in written))
    return 0


def _sweep_failures() -> tuple[type[BaseException], ...]:
    """Expected failures of a sweep or a comparison that carry no usable traceback: Parquet files
    pyarrow cannot read or merge, a process pool that broke (each becomes one line, exit 2)."""
    from concurrent.futures.process import BrokenProcessPool

    import pyarrow as pa

    return (pa.ArrowException, BrokenProcessPool)


def _one_line_failures(handler):
    def run(args) -> int:
        try:
            return handler(args)
        except _sweep_failures() as e:
            first = str(e).splitlines()[0] if str(e) else ""
            raise ValueError(f"{type(e).__name__}: {first}".rstrip(": ")) from None
    return run


@_one_line_failures
def _cmd_sweep(args) -> int:
    from defisim.sweep.api import ranking_columns, run_sweep
    from defisim.sweep.report import short_names
    from defisim.scenario.sweep_spec import parse_range, parse_values

    grid = dict(parse_values(g, "--grid") for g in args.grid)
    zipped = dict(parse_values(z, "--zip") for z in args.zip)
    sample = None
    if args.sample or args.samples is not None:
        if not (args.sample and args.samples):
            raise ValueError("--sample and --samples go together")
        sample = {"method": args.method, "n": args.samples, "ranges": dict(parse_range(r) for r in args.sample)}
    report = {k: v for k, v in (("axes", args.axes.split(",") if args.axes else None), ("rank_by", args.rank_by)) if v}
    res = run_sweep(args.scenario, grid=grid, zip=zipped, sample=sample, seeds=args.seeds, seed=args.sweep_seed,
                    paired=args.paired, overrides=args.overrides, out=args.out, workers=args.workers, dask=args.dask,
                    keep_tables=args.tables, retry_failed=args.retry_failed, report=report,
                    progress=not args.no_progress)
    spec, runs = res.plan.spec, res.runs
    failed = runs[runs["status"] != "ok"]
    print(f"sweep of {res.plan.base.get('name')} ({res.plan.source}), hash {res.plan.base_hash[:12]}: "
          f"{len(res.plan.points)} points × {spec.seeds} seeds = {len(runs)} runs, {len(failed)} failed")
    for _, row in failed.head(5).iterrows():
        print(f"  failed: run {row['run_id']} (point {row['point']}, seed {row['seed']}): {row['error']}")
    table = res.ranking[ranking_columns(res.ranking)].head(args.top)
    print(f"points ranked by {spec.report.rank_by} (lowest first; pareto: on the frontier of total-loss CVaR 95% and LTV used):")
    print(table.rename(columns=short_names(table.columns)).to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    written = sorted(p.name for p in res.directory.iterdir() if p.is_file())
    print(f"written to {res.directory}/: {', '.join(written)} (one part per run in runs/)")
    return 0


@_one_line_failures
def _cmd_compare(args) -> int:
    from defisim.sweep.comparison import compare

    table = compare(args.a, args.b)
    print(f"A = {args.a}, B = {args.b}")
    from defisim.sweep.report import short_names

    print(table.rename(columns=short_names(table.columns)).to_string(index=False, float_format=lambda v: f"{v:,.6g}"))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"written: {args.out}")
    return 0


def _print_notes(scenario) -> None:
    from defisim.scenario.checks import notes

    for note in notes(scenario):
        print(f"note: {note}")


def _cmd_validate(args) -> int:
    from defisim.run.simulation import Simulation
    from defisim.scenario.loading import load_scenario

    s = load_scenario(args.file, args.overrides)
    Simulation(s)  # build every protocol, population and agent as a run would: what fails there fails here
    _print_notes(s)
    print(f"ok: {args.file} ({s.spec.name}), hash {s.hash}")
    return 0


def _cmd_show(args) -> int:
    from defisim.scenario.loading import load_scenario
    from defisim.scenario.show import scenario_document, to_toml, to_yaml

    s = load_scenario(args.scenario, args.overrides)
    write = to_yaml if args.format == "yaml" else to_toml
    print(f"# {s.spec.name} ({s.source}), hash {s.hash[:12]}: every default filled in; "
          "durations are strings (a bare integer is ms); docs/reference.md describes every key")
    sys.stdout.write(write(scenario_document(s)))
    return 0


def _cmd_schema(args) -> int:
    from defisim.scenario.reference import scenario_schema

    print(json.dumps(scenario_schema(), indent=2, ensure_ascii=False))
    return 0


def _cmd_scenarios(args) -> int:
    from defisim.scenario.loading import builtin_scenarios

    for name, desc in builtin_scenarios().items():
        print(f"{name:24s} {desc}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``defisim`` command."""
    args = _parser().parse_args(argv)
    handler = {"run": _cmd_run, "graph": _cmd_graph, "validate": _cmd_validate, "show": _cmd_show, "schema": _cmd_schema,
               "scenarios": _cmd_scenarios,
               "sweep": _cmd_sweep, "compare": _cmd_compare}[args.command]
    try:
        return handler(args)
    except (ValueError, ValidationError, OSError, KeyError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, KeyError) and e.args:
            msg = str(e.args[0])
        sys.stderr.write(f"defisim: error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("defisim: interrupted\n")
        return 130
    except Exception as e:  # a failure inside the run itself (OverflowError, MemoryError, RecursionError ...)
        first = str(e).splitlines()[0] if str(e) else ""
        what = {"run": "the run", "sweep": "the sweep", "graph": "the graph", "validate": "building the scenario"}.get(
            args.command, args.command)
        sys.stderr.write(f"defisim: error: {what} failed: {type(e).__name__}: {first}".rstrip(": ") + "\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
