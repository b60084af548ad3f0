"""Borrower populations: many positions drawn from distributions, or read from CSV (struct of
arrays from the start; never one object per borrower); and the pool's lenders as a crowd of
accounts (:class:`LendersParams`)."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from defisim.base import (AddressRange, Distribution, FilePath, LogNormal, Uniform, check_fits_in_memory,
                          population_count, unit)

__all__ = ["PopulationParams", "BorrowerBook", "generate_population", "read_population_csv", "BORROWER_BYTES",
           "CSV_COLUMNS", "BORROWER_PREFIX", "LendersParams", "lender_names", "lender_shares", "LENDER_BYTES", "LENDER_PREFIX"]

#: Memory a run holds per borrower at its peak, bytes. Setup keeps about 100 B of it (the position
#: columns, the debt ledger's balances, the health index: arrays, no object per borrower); the
#: rest are the run's arrays over all accounts (health factors, balances in tokens). Measured on
#: ``flash-crash`` over 300 blocks, 1e5 against 1e6 borrowers: about 580 B.
BORROWER_BYTES = 600
#: Memory a run holds per lender account (a row of the position columns, its owner name), bytes.
LENDER_BYTES = 300
#: The columns of a borrower book (tokens in whole units).
CSV_COLUMNS = ["owner", "collateral_asset", "collateral", "debt_asset", "debt"]
#: A generated borrower's address is this prefix and its number (``borrower/0``, ``borrower/1`` …).
BORROWER_PREFIX = "borrower/"
#: A lender of the crowd's address is this prefix and its number (``lender/0`` …).
LENDER_PREFIX = "lender/"
#: What only a generated population has: with ``csv``, the file gives the positions and their assets.
_GENERATED = ("count", "collateral_asset", "debt_asset", "size_usd", "whale_share", "whale_multiplier",
              "health_factor", "emode_category")


class PopulationParams(BaseModel):
    """``count`` borrowers, each with one collateral and one debt reserve.

    Position size is the collateral value in USD (``size_usd``; a share ``whale_share`` of the
    borrowers is ``whale_multiplier`` times larger); the debt follows from the health factor
    drawn from ``health_factor`` at the prices of the start. Or ``csv``: a borrower book with
    columns ``owner, collateral_asset, collateral, debt_asset, debt`` (tokens), one row per
    borrower, the assets of each row read from the file (they must be reserves of the pool). A
    book is the whole population: with ``csv`` the generating keys (``count``,
    ``collateral_asset``, ``debt_asset``, ``size_usd``, ``health_factor``, ``whale_*``,
    ``emode_category``) are refused rather than silently ignored. A relative path is taken
    beside the scenario file. The file is read and checked when the scenario is validated.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: population_count(BORROWER_BYTES, "borrowers") = Field(0, description="borrowers generated")
    collateral_asset: str = Field("WETH", description="reserve each borrower posts")
    debt_asset: str = Field("USDC", description="reserve each borrower owes")
    size_usd: Distribution = Field(LogNormal(median=20_000.0, sigma=1.2),
        description="collateral value per borrower at the start")
    whale_share: float = Field(0.001, ge=0, le=1,
        description="share of borrowers that are whales", json_schema_extra=unit("fraction"))
    whale_multiplier: float = Field(100.0, ge=1,
        description="a whale's size as a multiple of a drawn size", json_schema_extra=unit("x"))
    health_factor: Distribution = Field(Uniform(low=1.02, high=2.5),
        description="health factor at the start (sets the debt)")
    csv: FilePath | None = Field(None,
        description="file of positions (owner, collateral_asset, collateral, debt_asset, debt in tokens) instead of "
        "drawing them; relative to the scenario file")
    emode_category: int = Field(0, ge=0, description="e-mode category of every generated borrower (0: none)")

    @model_validator(mode="after")
    def _hf_above_one(self):
        if self.csv is not None:
            given = [f for f in _GENERATED if f in self.model_fields_set]
            if given:
                raise ValueError(f"{given[0]}: the borrower book {self.csv} gives every position and its assets; "
                                 f"remove {', '.join(given)} (they describe a generated population)")
            read_population_csv(self.csv)
            return self
        if self.health_factor.quantile(0.0) < 1.0:
            raise ValueError("health_factor: borrowers must start healthy (lowest value ≥ 1)")
        return self


    def assets(self) -> tuple[set[str], set[str]]:
        """The collateral and the debt assets of the borrowers (from the book, with ``csv``)."""
        if self.csv is None:
            return {self.collateral_asset}, {self.debt_asset}
        table = read_population_csv(self.csv)
        return set(table["collateral_asset"].astype(str)), set(table["debt_asset"].astype(str))


class BorrowerBook(NamedTuple):
    """Opening positions, one per borrower, as columns of equal length: the ``owner`` of each
    (an :class:`~defisim.base.AddressRange` for a generated population: no string per
    borrower), its collateral and debt reserve (symbols, categorical: a small code per
    borrower) and amounts (tokens)."""

    owner: Sequence[str]
    collateral_asset: pd.Categorical
    collateral: np.ndarray
    debt_asset: pd.Categorical
    debt: np.ndarray

    @classmethod
    def from_frame(cls, table: pd.DataFrame) -> "BorrowerBook":
        """The book of a table with the columns :data:`CSV_COLUMNS` (:func:`read_population_csv`)."""
        return cls(list(table["owner"]), pd.Categorical(table["collateral_asset"]),
                   np.asarray(table["collateral"], dtype=np.float64), pd.Categorical(table["debt_asset"]),
                   np.asarray(table["debt"], dtype=np.float64))


def generate_population(p: PopulationParams, rng: np.random.Generator, price_usd: dict[str, float],
                        liquidation_threshold: dict[str, float]) -> BorrowerBook:
    """``p.count`` positions ``borrower/0`` … (tokens), drawn from ``p``'s distributions.

    ``debt = collateral · price_c · LT_c / (HF · price_d)`` so each borrower starts at its drawn HF.

    Examples
    --------
    >>> pop = generate_population(PopulationParams(count=3), np.random.default_rng(0),
    ...                           {"WETH": 2000.0, "USDC": 1.0}, {"WETH": 0.83, "USDC": 0.78})
    >>> pop.owner, list(pop.owner), pop.debt_asset[2], pop.collateral.shape
    (AddressRange('borrower/', 3), ['borrower/0', 'borrower/1', 'borrower/2'], 'USDC', (3,))
    """
    n = p.count
    size = p.size_usd.sample(rng, n)
    whales = rng.random(n) < p.whale_share
    size = np.where(whales, size * p.whale_multiplier, size)
    hf = p.health_factor.sample(rng, n)
    pc, pd_ = price_usd[p.collateral_asset], price_usd[p.debt_asset]
    collateral = size / pc
    debt = size * liquidation_threshold[p.collateral_asset] / (hf * pd_)
    every = np.zeros(n, dtype=np.int8)  # the one category of each asset column
    return BorrowerBook(AddressRange(BORROWER_PREFIX, n), pd.Categorical.from_codes(every, [p.collateral_asset]),
                        collateral, pd.Categorical.from_codes(every, [p.debt_asset]), debt)


def read_population_csv(path: str | Path, need: Sequence[str] = CSV_COLUMNS, bytes_each: float = BORROWER_BYTES,
                        what: str = "borrowers") -> pd.DataFrame:
    """Positions from a CSV file with the columns ``need`` (``collateral`` and ``debt`` among
    them, non-negative numbers; tokens); the error names the file and the problem. ``what`` and
    ``bytes_each`` (a run's memory per row) size the memory check (a vault book reads the same)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"population file not found: {path}")
    check_fits_in_memory(path.stat().st_size / 40, bytes_each, f"{what} (rows of {path.name}, about 40 B each)")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: not a readable CSV file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    need = list(need)
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (need {need})")
    for column in ("collateral", "debt"):
        df[column] = pd.to_numeric(df[column], errors="coerce")
    bad = ~(np.isfinite(df["collateral"]) & np.isfinite(df["debt"]) & (df["collateral"] >= 0) & (df["debt"] >= 0))
    if bad.any():
        raise ValueError(f"{path}, row {int(np.flatnonzero(bad)[0]) + 2}: collateral and debt must be non-negative numbers")
    return df[need]


class LendersParams(BaseModel):
    """The pool's lenders as ``count`` accounts ``lender/0`` … ``lender/<count−1>`` instead of the
    one account ``lenders``: what it holds at the start (``seed_supply`` and what the
    ``population`` borrowed, per reserve) is shared among them in proportion to a ``size`` drawn
    per lender, the same share of every reserve. Nothing moves: the pool's deposits, cash and
    utilisation are those of one account ``lenders``. Each can then withdraw on its own (the
    ``lending.lender_run`` agent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: population_count(LENDER_BYTES, "lenders") = Field(description="lender accounts")
    size: Distribution = Field(LogNormal(median=1.0, sigma=1.0),
        description="relative size of a lender's deposit, drawn per lender: its share is its size over their sum")

    @model_validator(mode="after")
    def _some(self):
        if self.count < 1:
            raise ValueError("count: at least one lender")
        if not self.size.quantile(1.0) > 0:
            raise ValueError("size: every draw would be 0; give the lenders sizes above 0")
        return self


def lender_names(count: int) -> AddressRange:
    """The accounts of a crowd of ``count`` lenders.

    >>> list(lender_names(2))
    ['lender/0', 'lender/1']
    """
    return AddressRange(LENDER_PREFIX, count)


def lender_shares(sizes) -> np.ndarray:
    """Each lender's share of the deposits, ``size / Σ size`` (equal shares if all sizes are 0).

    >>> lender_shares([1.0, 3.0]).tolist()
    [0.25, 0.75]
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    total = sizes.sum()
    return sizes / total if total > 0 else np.full(sizes.size, 1.0 / sizes.size)
