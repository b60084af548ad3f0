"""Results of a run: tidy tables, headline summary, Parquet + ``meta.json``.

Every table and column is documented (``Results.schema`` and ``docs/results.md``).
"""
from __future__ import annotations

import json
import math
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Results", "engine_summary", "package_version"]


def package_version() -> str:
    """Installed version of defisim."""
    try:
        return version("defisim")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def _f(x) -> float:
    x = float(x)
    return x if math.isfinite(x) else float("nan")


def engine_summary(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Chain-level headline metrics from the ``blocks``, ``txs``, ``missed_slots`` and ``bundles`` tables."""
    blocks, txs = tables["blocks"], tables["txs"]
    status = txs["status"]
    in_block = txs[status.isin(["included", "reverted"])]
    delay_s = (in_block["time_ms"] - in_block["submitted_ms"]) / 1000.0
    fee_gwei = float(in_block["fee_paid_gwei"].sum())
    bundles = tables.get("bundles")
    return {
        "blocks": int(len(blocks)),
        "missed_slots": int(len(tables["missed_slots"])),
        "simulated_s": _f(blocks["time_ms"].iloc[-1] / 1000.0) if len(blocks) else 0.0,
        "txs_submitted": int(len(txs)),
        "txs_included": int((status == "included").sum()),
        "txs_reverted": int((status == "reverted").sum()),
        "txs_dropped": int((status == "dropped").sum()),
        "txs_pending_at_end": int((status == "pending").sum()),
        "inclusion_delay_mean_s": _f(delay_s.mean()) if len(delay_s) else float("nan"),
        "inclusion_delay_p95_s": _f(delay_s.quantile(0.95)) if len(delay_s) else float("nan"),
        "base_fee_mean_gwei": _f(blocks["base_fee_gwei"].mean()) if len(blocks) else float("nan"),
        "base_fee_max_gwei": _f(blocks["base_fee_gwei"].max()) if len(blocks) else float("nan"),
        "gas_used_ratio_mean": _f((blocks["gas_used"] / blocks["gas_limit"]).mean()) if len(blocks) else float("nan"),
        "agent_fees_eth": fee_gwei / 1e9,
        "bundles_included": int((bundles["status"] == "included").sum()) if bundles is not None else 0,
    }


class Results:
    """Tables, summary and metadata of one run.

    Tables are reachable as attributes (``results.blocks``, ``results.txs``) or
    ``results.tables[name]``.
    """

    def __init__(self, tables: dict[str, pd.DataFrame], meta: dict, summary_: dict, schema: dict):
        self.tables = tables
        self.meta = {**meta, "version": meta.get("version", package_version())}
        self._summary = summary_
        self.schema = schema

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def summary(self) -> dict[str, Any]:
        """Headline metrics (engine, then ``<protocol>.<metric>``)."""
        return dict(self._summary)

    def summary_frame(self) -> pd.DataFrame:
        """The summary as a two-column table (metric, value) for printing."""
        return pd.DataFrame({"metric": list(self._summary), "value": list(self._summary.values())})

    def save(self, directory: str | Path) -> Path:
        """Write each table as ``<name>.parquet`` and ``meta.json`` (scenario, hash, seed, version,
        summary, schema). Same run ⇒ byte-identical files."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables.items():
            df.to_parquet(d / f"{name}.parquet", index=False, engine="pyarrow", compression="zstd")
        meta = {**self.meta, "tables": sorted(self.tables), "summary": _nan_to_none(self._summary), "schema": self.schema}
        (d / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, allow_nan=False, default=_json_default) + "\n")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> "Results":
        """Read results written by :meth:`save`."""
        d = Path(directory)
        meta_path = d / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no results in {d} (meta.json missing)")
        meta = json.loads(meta_path.read_text())
        tables = {name: pd.read_parquet(d / f"{name}.parquet") for name in meta.pop("tables")}
        summary_ = {k: float("nan") if v is None else v for k, v in meta.pop("summary").items()}
        schema = meta.pop("schema")
        return cls(tables, meta, summary_, schema)


def _nan_to_none(d: dict) -> dict:
    """Strict JSON has no NaN: write missing metrics as null (read back as NaN)."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in d.items()}


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
