"""The crisis timeline: one PNG of a run's prices, liquidations, losses and chain congestion.

Drawn from the run's tables alone (``Results.tables``, fresh or loaded) with matplotlib's
object API and the Agg canvas: no ``pyplot`` state, no change to ``rcParams``, nothing done
on import (matplotlib is imported when a figure is drawn).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Mapping, NamedTuple

import numpy as np
import pandas as pd

from defisim.base.roles import LIQUIDATION_CALL
from defisim.results.crisis import below_1_by_block
from defisim.results.roles import role_frame, role_txs

__all__ = ["timeline_figure", "build_timeline", "timeline_panels", "HEADER_PX"]

#: Pixels of the figure's height not given to panels (title and x-axis label).
HEADER_PX = 80

_FONT = 9
_PALETTE = {
    "feed": ["black", "dimgray", "silver"],
    "venue": ["tab:blue", "tab:cyan", "tab:purple", "navy"],
    "oracle": ["tab:orange", "tab:red", "tab:brown", "gold"],
    "pool": ["tab:green", "tab:olive", "darkgreen"],
    "mark": ["tab:pink", "tab:purple", "magenta"],
}


class _Panel(NamedTuple):
    label: str
    draw: Callable  # draw(ax, axis: _Axis) -> None


class _Axis:
    """Maps blocks and times to the x axis (block number, or minutes since the start)."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], x: str):
        if x not in ("block", "minutes"):
            raise ValueError(f"x must be 'block' or 'minutes', not {x!r}")
        self.kind = x
        pairs = [t[["block", "time_ms"]] for name in ("blocks", "prices") if (t := tables.get(name)) is not None and len(t)]
        known = pd.concat(pairs).drop_duplicates("block").sort_values("block") if pairs else None
        self._blocks = known["block"].to_numpy(np.int64) if known is not None else np.zeros(0, np.int64)
        self._times = known["time_ms"].to_numpy(np.int64) if known is not None else np.zeros(0, np.int64)
        if x == "minutes" and not len(self._blocks):
            raise ValueError("x='minutes' needs block times (a blocks or prices table)")
        gaps = np.diff(self._times) / 60_000.0
        self.bar_width = 0.8 if x == "block" else 0.8 * (float(np.median(gaps)) if len(gaps) else 0.2)
        self.label = "block" if x == "block" else "time since start (min)"

    def of_blocks(self, blocks) -> np.ndarray:
        b = np.asarray(blocks, dtype=np.int64)
        if self.kind == "block":
            return b.astype(float)
        i = np.clip(np.searchsorted(self._blocks, b), 0, len(self._blocks) - 1)
        return self._times[i] / 60_000.0

    def all_blocks(self) -> np.ndarray:
        return self._blocks

    def block_of_time(self, t_ms) -> np.ndarray:
        """The block in force at each time (the last block at or before it; the first before it)."""
        i = np.searchsorted(self._times, np.asarray(t_ms, dtype=np.int64), side="right") - 1
        return self._blocks[np.clip(i, 0, max(len(self._blocks) - 1, 0))]


def _usd(v: float, _pos=None) -> str:
    a = abs(v)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"${v / div:,.3g}{suffix}"
    return f"${v:,.4g}"


def _usd_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(_usd)


def _tag(ax, text: str) -> None:
    ax.set_title(text, loc="left", fontsize=_FONT + 1, fontweight="bold", pad=3)


def _legend(ax, handles=None, **kw) -> None:
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles=handles, fontsize=_FONT, loc=kw.pop("loc", "upper right"), framealpha=0.85, **kw)


# -- prices ---------------------------------------------------------------------------------------------------------


class _Series(NamedTuple):
    kind: str  # feed | venue | oracle | pool
    name: str
    blocks: np.ndarray
    price: np.ndarray


def _price_series(tables: Mapping[str, pd.DataFrame], oracles: set) -> list[_Series]:
    prices = tables.get("prices")
    if prices is None or not len(prices):
        return []
    out = []
    for (source, name), rows in prices.groupby([prices["source"].astype(str), prices["name"].astype(str)], sort=False):
        if source == "protocol":
            if name.split(".", 1)[0] in oracles:
                kind = "oracle"
            elif name.endswith(".mark"):
                kind = "mark"  # a perp venue's mark price
            else:
                kind = "pool"
        else:
            kind = source
        rows = rows.sort_values("block")
        out.append(_Series(kind, name, rows["block"].to_numpy(np.int64), rows["price_usd"].to_numpy(float)))
    order = {"feed": 0, "venue": 1, "pool": 2, "mark": 3, "oracle": 4}
    return sorted(out, key=lambda s: order[s.kind])  # stable: scenario order within a kind


def _constant(s: _Series) -> bool:
    finite = s.price[np.isfinite(s.price)]
    return len(finite) == 0 or float(finite.max()) == float(finite.min())


def _magnitude(s: _Series) -> int:
    finite = np.abs(s.price[np.isfinite(s.price)])
    med = float(np.median(finite)) if len(finite) else 0.0
    return round(math.log10(med)) if med > 0 else 0


def _price_panels(tables: Mapping[str, pd.DataFrame], oracles: set) -> list[_Panel]:
    series = _price_series(tables, oracles)
    if not series:
        return []
    moving = [s for s in series if not _constant(s)] or series
    flat = [s for s in series if s not in moving]
    groups: dict[int, list[_Series]] = {}
    for s in moving:
        groups.setdefault(_magnitude(s), []).append(s)
    panels = []
    for i, mag in enumerate(sorted(groups, reverse=True)):
        label = "prices" if len(groups) == 1 else f"prices ~{_usd(10.0 ** mag)}"
        panels.append(_Panel(label, _draw_prices(groups[mag], flat if i == 0 else [], label)))
    return panels


def _draw_prices(series: list[_Series], flat: list[_Series], label: str):
    def draw(ax, axis: _Axis) -> None:
        used = {k: 0 for k in _PALETTE}
        for s in series:
            colors = _PALETTE[s.kind]
            color = colors[used[s.kind] % len(colors)]
            used[s.kind] += 1
            x = axis.of_blocks(s.blocks)
            if s.kind == "feed":
                ax.plot(x, s.price, color=color, lw=2.0, label=f"feed {s.name} (true price)", zorder=3)
            elif s.kind == "venue":
                ax.plot(x, s.price, color=color, lw=1.4, label=f"venue {s.name} (mid)", zorder=4)
            elif s.kind == "pool":
                ax.plot(x, s.price, color=color, lw=1.4, ls="--", label=f"pool {s.name} (spot)", zorder=4)
            elif s.kind == "mark":
                ax.plot(x, s.price, color=color, lw=1.4, ls="-.", label=f"perp {s.name}", zorder=4)
            else:
                ax.plot(x, s.price, color=color, lw=1.6, drawstyle="steps-post", label=f"oracle {s.name}", zorder=5)
        ax.set_ylabel("price (USD)", fontsize=_FONT + 1)
        ax.yaxis.set_major_formatter(_usd_formatter())
        _legend(ax, loc="upper right")
        if flat:
            note = "constant: " + ", ".join(f"{s.name} = {_usd(float(s.price[0]))}" for s in flat)
            ax.text(0.005, 0.03, note, transform=ax.transAxes, fontsize=_FONT, color="dimgray", va="bottom")
        _tag(ax, label)

    return draw


# -- lending --------------------------------------------------------------------------------------------------------


class _Roles(NamedTuple):
    """The run's tables read by result role (:mod:`defisim.results.roles`)."""

    liquidations: pd.DataFrame | None
    losses: pd.DataFrame | None
    positions: pd.DataFrame | None
    closeouts: pd.DataFrame | None
    oracles: set
    reverted_calls: pd.DataFrame | None

    @classmethod
    def of(cls, tables: Mapping[str, pd.DataFrame], schema: Mapping) -> "_Roles":
        rounds = role_frame(tables, schema, "oracle_rounds")
        attempts = role_txs(tables, schema, LIQUIDATION_CALL)
        reverted = None if attempts is None else attempts[attempts["status"] == "reverted"]
        return cls(role_frame(tables, schema, "liquidations"), role_frame(tables, schema, "losses"),
                   role_frame(tables, schema, "positions"), role_frame(tables, schema, "closeouts"),
                   set(rounds["oracle"].astype(str)) if rounds is not None else set(), reverted)


def _draw_liquidations(roles: _Roles):
    liq = roles.liquidations

    def draw(ax, axis: _Axis) -> None:
        per_block = liq.groupby("block").agg(usd=("debt_repaid_usd", "sum"), n=("debt_repaid_usd", "size"))
        bars = ax.bar(axis.of_blocks(per_block.index), per_block["usd"], width=axis.bar_width, color="tab:red",
                      alpha=0.75, label="liquidated debt (USD, left)")
        ax.set_ylabel("liquidated debt\n(USD per block)", fontsize=_FONT + 1)
        ax.yaxis.set_major_formatter(_usd_formatter())
        handles = [bars]
        twin = ax.twinx()
        if len(per_block):
            handles += twin.plot(axis.of_blocks(per_block.index), per_block["n"], "o", ms=3.5, color="black",
                                 label="liquidations (count, right)")
        if roles.reverted_calls is not None:
            counts = roles.reverted_calls.groupby("block").size()
            if len(counts):
                handles += twin.plot(axis.of_blocks(counts.index), counts.to_numpy(), "x", ms=4.5, color="tab:gray",
                                     label="reverted liquidation calls (count, right)")
        twin.set_ylabel("count per block", fontsize=_FONT + 1)
        top = max([1.0] + [float(np.nanmax(h.get_ydata())) for h in handles[1:]])
        twin.set_ylim(0, top * 1.35)  # headroom for the legend
        if len(per_block):
            ax.set_ylim(0, float(per_block["usd"].max()) * 1.35)
        twin.tick_params(labelsize=_FONT)
        if not len(per_block):
            ax.text(0.5, 0.5, "no liquidations", transform=ax.transAxes, ha="center", va="center", color="dimgray")
        _legend(ax, handles=handles, loc="upper right")
        _tag(ax, "liquidations")

    return draw


def _draw_losses(roles: _Roles):
    written = [f[["block", "written_off_usd"]] for f in (roles.liquidations, roles.losses) if f is not None]
    written = pd.concat(written) if written else pd.DataFrame({"block": [], "written_off_usd": []})
    positions = roles.positions

    def draw(ax, axis: _Axis) -> None:
        blocks = axis.all_blocks()
        per_block = written.groupby("block")["written_off_usd"].sum()
        if not len(blocks):
            blocks = per_block.index.to_numpy(np.int64)
        cum = per_block.reindex(blocks, fill_value=0.0).cumsum()
        total = float(cum.iloc[-1]) if len(cum) else 0.0
        ax.fill_between(axis.of_blocks(blocks), cum.to_numpy(float), step="post", color="tab:purple", alpha=0.25)
        ax.plot(axis.of_blocks(blocks), cum.to_numpy(float), drawstyle="steps-post", color="tab:purple", lw=1.6,
                label=f"debt written off, cumulative (total {_usd(total)})")
        top = total
        if positions is not None and len(positions):
            for column, label, color, style in (("uncovered_usd", "debt uncovered by collateral", "tab:red", "-"),
                                                ("debt_below_1_usd", "debt below HF 1 (liquidatable)", "tab:orange", "--")):
                series = below_1_by_block(positions, column)
                if len(series):
                    ax.plot(axis.of_blocks(series.index), series.to_numpy(float), drawstyle="steps-post", color=color,
                            ls=style, lw=1.3, label=f"{label} (end {_usd(float(series.iloc[-1]))})")
                    top = max(top, float(series.max()))
        ax.set_ylabel("losses\n(USD)", fontsize=_FONT + 1)
        ax.yaxis.set_major_formatter(_usd_formatter())
        if top == 0.0:
            ax.set_ylim(-0.1, 1.0)
            ax.set_yticks([0.0])
            ax.text(0.5, 0.5, "no debt written off or uncovered in this run", transform=ax.transAxes, ha="center",
                    va="center", color="dimgray", fontsize=_FONT + 1)
        _legend(ax, loc="upper left" if top > 0 else "upper right")
        _tag(ax, "losses")

    return draw


def _draw_health_factors(roles: _Roles):
    hf = roles.positions
    cols = hf.attrs.get("hf_quantiles", [])

    def draw(ax, axis: _Axis) -> None:
        groups = hf.groupby(hf["protocol"].astype(str), sort=False)
        for pool, rows in groups:
            rows = rows.sort_values("block")
            for c in cols:
                y = rows[c].to_numpy(float)
                y = np.where(np.isfinite(y), y, np.nan)
                label = c.removeprefix("hf_") + (f" ({pool})" if pool else "")
                ax.plot(axis.of_blocks(rows["block"]), y, lw=1.3, label=label)
        ax.axhline(1.0, color="tab:red", ls=":", lw=1.2, label="HF = 1 (liquidatable below)")
        ax.set_ylabel("health factor\n(quantiles)", fontsize=_FONT + 1)
        _legend(ax, loc="upper right", ncols=2)
        _tag(ax, "health factors")

    return draw


def _draw_offchain(roles: _Roles):
    """Positions closed by off-chain venues (the ``closeouts`` role): notional per block by table
    and kind, and the insurance funds' P&L (cumulative ``fund_delta_usd``)."""
    closed = roles.closeouts
    colors = iter(["tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"])

    def draw(ax, axis: _Axis) -> None:
        series = []
        for (table, kind), rows in closed.groupby([closed["table"].astype(str), closed["kind"].astype(str)], sort=False):
            label = f"{table}: {kind}" if kind else table
            series.append((f"{label} (notional)", rows["t_ms"], rows["notional_usd"].abs(), next(colors, "black")))
        handles, bottom = [], None
        for label, t_ms, usd, color in series:
            per_block = pd.Series(np.asarray(usd, float)).groupby(axis.block_of_time(np.asarray(t_ms))).sum()
            if not len(per_block):
                continue
            x = axis.of_blocks(per_block.index)
            base = np.zeros(len(x)) if bottom is None else bottom.reindex(per_block.index, fill_value=0.0).to_numpy()
            handles.append(ax.bar(x, per_block.to_numpy(), bottom=base, width=axis.bar_width, color=color, alpha=0.8,
                                  label=f"{label} (USD, left)"))
            bottom = per_block if bottom is None else bottom.add(per_block, fill_value=0.0)
        ax.set_ylabel("off-chain\n(USD per block)", fontsize=_FONT + 1)
        ax.yaxis.set_major_formatter(_usd_formatter())
        fund = closed[closed["fund_delta_usd"].notna()]
        if len(fund):
            twin = ax.twinx()
            order = np.argsort(fund["t_ms"].to_numpy(), kind="stable")
            t = fund["t_ms"].to_numpy()[order]
            pnl = np.cumsum(fund["fund_delta_usd"].to_numpy(float)[order])
            handles += twin.plot(axis.of_blocks(axis.block_of_time(t)), pnl, drawstyle="steps-post", color="black",
                                 lw=1.3, label=f"insurance fund P&L, cumulative (USD, right; end {_usd(float(pnl[-1]))})")
            twin.yaxis.set_major_formatter(_usd_formatter())
            twin.tick_params(labelsize=_FONT)
        if not handles:
            ax.text(0.5, 0.5, "no off-chain liquidations", transform=ax.transAxes, ha="center", va="center", color="dimgray")
        _legend(ax, handles=handles or None, loc="upper right")
        _tag(ax, "off-chain venues")

    return draw


# -- chain ----------------------------------------------------------------------------------------------------------


def _draw_chain(tables: Mapping[str, pd.DataFrame]):
    blocks = tables["blocks"]

    def draw(ax, axis: _Axis) -> None:
        x = axis.of_blocks(blocks["block"])
        handles = ax.plot(x, blocks["base_fee_gwei"], color="tab:blue", lw=1.6, label="base fee (gwei per gas, left)")
        if "min_tip_gwei" in blocks.columns:  # what getting in cost: the whole price under a first-price market
            handles += ax.plot(x, blocks["base_fee_gwei"] + blocks["min_tip_gwei"], color="tab:orange", lw=0.8,
                               label="lowest included price (gwei per gas, left)")
        ax.set_ylabel("gas price\n(gwei per gas)", fontsize=_FONT + 1)
        if "pending_txs" in blocks.columns:
            twin = ax.twinx()
            pending = blocks["pending_txs"].to_numpy(float)
            twin.fill_between(x, pending, step="post", color="tab:gray", alpha=0.3)
            handles += twin.plot(x, pending, drawstyle="steps-post", color="dimgray", lw=1.0,
                                 label=f"pending agent txs (count, right; max {int(pending.max()) if len(pending) else 0})")
            twin.set_ylabel("pending txs\n(count)", fontsize=_FONT + 1)
            twin.set_ylim(bottom=0, top=max(1.0, float(pending.max()) * 1.15) if len(pending) else 1.0)
            twin.tick_params(labelsize=_FONT)
        _legend(ax, handles=handles, loc="upper right")
        _tag(ax, "chain congestion")

    return draw


# -- assembly -------------------------------------------------------------------------------------------------------


def _plan(tables: Mapping[str, pd.DataFrame], schema: Mapping) -> list[_Panel]:
    roles = _Roles.of(tables, schema)
    panels = _price_panels(tables, roles.oracles)
    if roles.liquidations is not None:
        panels.append(_Panel("liquidations", _draw_liquidations(roles)))
    if roles.liquidations is not None or roles.losses is not None or roles.positions is not None:
        panels.append(_Panel("losses", _draw_losses(roles)))
    if roles.closeouts is not None:
        panels.append(_Panel("off-chain venues", _draw_offchain(roles)))
    blocks = tables.get("blocks")
    if blocks is not None and len(blocks):
        panels.append(_Panel("chain", _draw_chain(tables)))
    if roles.positions is not None and len(roles.positions) and roles.positions.attrs.get("hf_quantiles"):
        panels.append(_Panel("health factors", _draw_health_factors(roles)))
    return panels


def timeline_panels(tables: Mapping[str, pd.DataFrame], schema: Mapping | None = None) -> list[str]:
    """Labels of the panels :func:`timeline_figure` draws for these tables, top to bottom.

    Examples
    --------
    >>> blocks = pd.DataFrame({"block": [1, 2], "time_ms": [12_000, 24_000], "base_fee_gwei": [20.0, 22.5],
    ...                        "pending_txs": [0, 3]})
    >>> timeline_panels({"blocks": blocks})
    ['chain']
    """
    return [p.label for p in _plan(tables, schema or {})]


def build_timeline(tables: Mapping[str, pd.DataFrame], *, schema: Mapping | None = None, scenario: str | None = None,
                   x: str = "block",
                   width_px: int = 1400, panel_height_px: int = 260, dpi: int = 100):
    """The timeline as a ``matplotlib.figure.Figure`` on an Agg canvas (see :func:`timeline_figure`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = _plan(tables, schema or {})
    axis = _Axis(tables, x)
    height_px = HEADER_PX + panel_height_px * max(1, len(panels))
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(1, len(panels)), 1, sharex=True, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels):
        panel.draw(ax, axis)
    for ax in axes:
        ax.grid(True, color="0.9", lw=0.8)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=_FONT)
    if not panels:
        axes[0].text(0.5, 0.5, "nothing to plot: no blocks, prices or liquidations", transform=axes[0].transAxes,
                     ha="center", va="center", color="dimgray")
    axes[-1].set_xlabel(axis.label, fontsize=_FONT + 1)
    if len(axis.all_blocks()):
        lo, hi = axis.of_blocks(axis.all_blocks()[[0, -1]])
        pad = axis.bar_width
        axes[-1].set_xlim(lo - pad, hi + pad)
    fig.suptitle(f"{scenario}: crisis timeline" if scenario else "crisis timeline", fontsize=_FONT + 4,
                 fontweight="bold")
    return fig


def timeline_figure(tables: Mapping[str, pd.DataFrame], path: str | Path, *, schema: Mapping | None = None,
                    scenario: str | None = None, x: str = "block", width_px: int = 1400, panel_height_px: int = 260, dpi: int = 100) -> Path:
    """Write the crisis timeline of a run as a PNG.

    Stacked panels sharing the x axis (block number, or minutes since the start), each drawn only
    when the run has tables of its result role (``schema``, :mod:`defisim.results.roles`):

    - prices (``prices``): every feed (true price), venue mid, protocol spot price other than an
      oracle's (dashed) and oracle answer (steps; an oracle is a protocol filling the
      ``oracle_rounds`` role); series of very different magnitudes get one panel each, and
      series that never move are listed in a note instead of drawn;
    - liquidations (``liquidations`` role): debt liquidated per block (USD bars) with, on a twin
      axis, the count of liquidations and of reverted calls of the ``liquidation`` call role;
    - losses (``liquidations``, ``losses``, ``positions`` roles): debt written off, cumulative,
      and the sampled debt uncovered by collateral and debt below HF 1;
    - off-chain venues (``closeouts`` role): notional closed per block by table and kind, and the
      insurance funds' cumulative P&L;
    - chain congestion (``blocks``): base fee and the lowest price included (base fee plus the
      lowest tip, gwei per gas: all of the price in a first-price market) and, on a twin axis, the
      agents' transactions still pending in the mempool after each block;
    - health factors (``positions`` role with ``hf_quantiles``): the quantile columns per block
      and the HF = 1 line. Nothing is estimated where a run has no such table.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        A run's tables (``Results.tables``, fresh or from ``Results.load``).
    schema : mapping, optional
        The run's schema with its roles (``Results.schema``); without it only prices and the
        chain are drawn.
    path : str or Path
        PNG file to write (its directory must exist).
    scenario : str, optional
        Scenario name for the title.
    x : {"block", "minutes"}
        The shared x axis: block number, or block time in minutes since the start.
    width_px, panel_height_px, dpi : int
        The image is ``width_px`` × (:data:`HEADER_PX` + ``panel_height_px`` × number of panels)
        pixels (one panel at least), at ``dpi`` dots per inch.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> blocks = pd.DataFrame({"block": [1, 2], "time_ms": [12_000, 24_000], "base_fee_gwei": [20.0, 22.5],
    ...                        "pending_txs": [0, 3]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     out = timeline_figure({"blocks": blocks}, Path(d) / "t.png", width_px=600, panel_height_px=200)
    ...     out.stat().st_size > 0
    True
    """
    fig = build_timeline(tables, schema=schema, scenario=scenario, x=x, width_px=width_px, panel_height_px=panel_height_px, dpi=dpi)
    path = Path(path)
    fig.savefig(path, dpi=dpi, format="png", metadata={"Software": None})
    return path
