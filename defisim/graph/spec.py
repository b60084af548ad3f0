"""Scenario sections of the exposure graph: ``[exposures]`` (snapshots in a run,
edges cut for an ablation) and ``[ecosystem]`` (a declared graph: protocols, tokens and abstract
counterparties with their exposures and equity, with or without a simulation). Frozen pydantic
models that fail at construction with the field and the reason.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from defisim.base.units import unit

__all__ = ["EDGE_KINDS", "NODE_KINDS", "EdgeSpec", "NodeSpec", "EcosystemSpec", "CutSpec", "ExposureSpec"]

#: What an edge u → v records (u loses when v fails): collateral u accepts that v issued or
#: prices, backing u holds at v, liquidity u provides in v, u's dependence on v's price, debt v
#: owes u, u being a wrapper or receipt of v.
EDGE_KINDS = ("collateral", "backing", "lp", "oracle", "debt", "wrapping")
NODE_KINDS = ("token", "protocol", "venue", "account")

_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NodeSpec(BaseModel):
    """A node of a declared graph: ``equity_usd`` is its capital buffer (DebtRank, cascades);
    ``external_assets_usd`` what it holds outside the graph (clearing)."""

    model_config = _CONFIG

    name: str = Field(min_length=1, description="node name (a protocol instance's name joins it)")
    kind: Literal["token", "protocol", "venue", "account"] = Field("protocol", description="node kind")
    equity_usd: float | None = Field(None, ge=0, description="loss-absorbing equity (None: unknown, counted as none)")
    external_assets_usd: float = Field(0.0, ge=0, description="assets outside the graph (for clearing)")


class EdgeSpec(BaseModel):
    """An exposure ``source → target``: ``source`` loses ``amount_usd × (1 − recovery)`` when
    ``target`` fails, ``delay_blocks`` blocks later."""

    model_config = _CONFIG

    source: str = Field(min_length=1, description="who loses when the target fails")
    target: str = Field(min_length=1, description="whose failure the source is exposed to")
    kind: Literal["collateral", "backing", "lp", "oracle", "debt", "wrapping"] = Field(description="kind of exposure")
    amount_usd: float = Field(ge=0, description="exposure")
    recovery: float = Field(0.0, ge=0, le=1,
        description="share recovered when the target fails", json_schema_extra=unit("fraction"))
    delay_blocks: int = Field(0, ge=0, description="blocks before a loss travels along the edge")
    asset: str = Field("", description="on an oracle edge: the token whose price the target gives")

    @model_validator(mode="after")
    def _no_self_loop(self) -> "EdgeSpec":
        if self.source == self.target:
            raise ValueError(f"an exposure of {self.source!r} to itself")
        return self


class EcosystemSpec(BaseModel):
    """A declared graph. In a run, nodes that are not protocols of the scenario are abstract
    counterparties: losses reach them along their edges after the edges' delays."""

    model_config = _CONFIG

    nodes: tuple[NodeSpec, ...] = Field((), description="declared nodes (counterparties)")
    edges: tuple[EdgeSpec, ...] = Field((), description="declared exposures")

    @model_validator(mode="after")
    def _known_nodes(self) -> "EcosystemSpec":
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"nodes: names must be unique, got {names}")
        return self


class CutSpec(BaseModel):
    """An edge removed from the run: what ``source`` would take from ``target`` (a price, a
    loss) stays at its value at the start."""

    model_config = _CONFIG

    source: str = Field(min_length=1, description="source node of the edges removed")
    target: str = Field(min_length=1, description="target node of the edges removed")


class ExposureSpec(BaseModel):
    """Exposure snapshots in a run: every ``every_blocks`` blocks (0: never on a cadence), and at
    every block with a liquidation, closeout, loss or auction when ``on_events``; a lending pool's
    borrowers owing at least ``large_account_usd`` are nodes of their own. ``cut`` removes edges."""

    model_config = _CONFIG

    every_blocks: int = Field(300, ge=0, description="snapshot every this many blocks (0: never on a cadence)")
    on_events: bool = Field(True, description="also snapshot at every block with a liquidation, closeout, loss or auction")
    large_account_usd: float = Field(1_000_000.0, gt=0,
        description="borrowers owing at least this are nodes of their own")
    cut: tuple[CutSpec, ...] = Field((), description="edges removed from the graph (source, target)")
