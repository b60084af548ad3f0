"""Mutants of the built-in scenario files through the command line: ``validate`` and ``run`` either
succeed or fail with exactly one line ``defisim: error: ...`` and exit status 2 — no traceback,
no hang — and ``validate`` rejects whatever ``run`` rejects.

A mutant changes the data (a number scaled; a value set to something huge, non-finite, negative,
a boolean, a string, a nested list; a key deleted, renamed or added; a table turned into a scalar) or the
text (truncated, junk bytes inserted, a line repeated, a value nested thousands deep). Runs are
kept short (``--blocks 3``); the timeline figure, whose drawing is tested elsewhere, is not drawn.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import signal
import tempfile
import tomllib
from importlib import resources
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import defisim.results.plots as plots
from defisim.cli import main

BUILTINS = {f.name: f.read_text() for f in resources.files("defisim.scenario.builtins").iterdir()
            if f.name.endswith(".toml")}

HOSTILE = [1e300, -1e300, 1e30, 2**70, math.inf, -math.inf, math.nan, -1, -1e9, 0, 0.0, 1, 0.5, 2, 100, True, False,
           "", "x", "12s", "-5s", "1e30", "ETH", "nope", [], [1, 2], [[[]]], {}, {"kind": "nope"}, None,
           "y" * 20_000]


class CaseTimeout(BaseException):
    """Raised in the main thread when one case takes too long (a BaseException: the command
    line's own handlers must not catch it)."""


@contextlib.contextmanager
def time_limit(seconds: int):
    def stop(signum, frame):
        raise CaseTimeout(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), time_limit(60):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def assert_clean(rc: int, err: str, what: str) -> None:
    """Success with nothing on stderr but notes, or one error line and status 2."""
    lines = err.splitlines()
    if rc == 0:
        assert not any(line.startswith("defisim: error") for line in lines), f"{what}: exit 0 with {err!r}"
        assert "Traceback" not in err, f"{what}: {err}"
    else:
        assert rc == 2, f"{what}: exit {rc}, stderr {err!r}"
        assert len(lines) == 1 and lines[0].startswith("defisim: error: "), f"{what}: stderr {err!r}"


# ---- mutations --------------------------------------------------------------------------------


def _paths(node, path=()):
    """Every path to a value of the data (tables and lists included)."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


def _parent(data, path):
    node = data
    for p in path[:-1]:
        node = node[p]
    return node


@st.composite
def data_mutant(draw, raw: dict):
    data = yaml.safe_load(yaml.safe_dump(raw))  # a deep copy in YAML's own types
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(data, path), path[-1]
        op = draw(st.sampled_from(["set", "set", "scale", "scale", "scale", "delete", "rename", "add"]))
        value = parent[key]
        if op == "scale" and isinstance(value, (int, float)) and not isinstance(value, bool):
            scaled = value * draw(st.sampled_from([0, 0.01, 0.5, 0.99, 1.01, 2, 10, 1000]))
            parent[key] = type(value)(scaled) if math.isfinite(scaled) else scaled
        elif op in ("set", "scale"):
            parent[key] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[f"{key}_typo"] = parent.pop(key)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "kind", "count", "path", "_replace"]))] = copy.deepcopy(
                draw(st.sampled_from(HOSTILE)))
    return yaml.safe_dump(data, allow_unicode=True)


@st.composite
def text_mutant(draw, text: str):
    op = draw(st.sampled_from(["truncate", "junk", "repeat", "deep"]))
    if op == "truncate":
        return text[: draw(st.integers(0, len(text)))].encode()
    if op == "junk":
        at = draw(st.integers(0, len(text)))
        junk = draw(st.binary(min_size=1, max_size=8))
        return text[:at].encode() + junk + text[at:].encode()
    lines = text.splitlines(keepends=True)
    if op == "repeat":
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        return "".join(lines[: i + 1] + lines[i:]).encode()
    depth = draw(st.sampled_from([40, 3_000]))
    return ("deep = " + "[" * depth + "]" * depth + "\n" + text).encode()


def check_case(name: str, body: bytes, suffix: str, run_it: bool) -> str:
    """Validate (and maybe run) one mutant; returns what happened."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{Path(name).stem}{suffix}"
        path.write_bytes(body)
        rc, _, err = cli("validate", str(path))
        assert_clean(rc, err, f"validate {name}")
        if rc != 0:
            return "rejected"
        if not run_it:
            return "valid"
        rc_run, _, err_run = cli("run", str(path), "--blocks", "3", "--out", str(Path(d) / "out"), "--no-progress")
        assert_clean(rc_run, err_run, f"run {name}")
        assert rc_run == 0, f"validate accepted {name} but run failed: {err_run.strip()}"
        return "ran"


@pytest.fixture(autouse=True)
def no_figure(monkeypatch):
    def fake_figure(tables, path, scenario=None, **kwargs):
        Path(path).write_bytes(b"")
        return Path(path)
    monkeypatch.setattr(plots, "timeline_figure", fake_figure)


def mutation_test(examples: int):
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test(data):
        name = data.draw(st.sampled_from(sorted(BUILTINS)))
        text = BUILTINS[name]
        if data.draw(st.booleans()):
            body, suffix = data.draw(data_mutant(tomllib.loads(text))).encode(), ".yaml"
        else:
            body, suffix = data.draw(text_mutant(text)), ".toml"
        check_case(name, body, suffix, run_it=data.draw(st.integers(0, 2)) == 0)
    return test


test_mutants_of_the_builtins_validate_and_run_cleanly = mutation_test(500)
test_many_mutants_of_the_builtins_validate_and_run_cleanly = pytest.mark.slow(mutation_test(3_000))
