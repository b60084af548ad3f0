"""Compound's anchored price view (compound-finance/open-oracle `UniswapAnchoredView.postPrices`,
`isWithinAnchor`; Compound docs, "Open Price Feed"): a reporter's signed price is taken only if
the anchor (a Uniswap TWAP) is within ``1 ± tolerance`` of it; otherwise the stored price stays
and the post is *guarded* (`PriceGuarded`).

Posts are checked at each block's start, for every new reporter answer (the poster relays each
signed price as it appears, at no cost modelled here). With a manipulated or one-sided reporter
and an anchor that drifts toward it, the bound lets the move through once the anchor has come
within the tolerance: what happened to DAI on Compound on 26 November 2020. Prices USD.
"""
from __future__ import annotations

from dataclasses import dataclass

from defisim.base import Column
from defisim.graph import Exposure

from .model import _Oracle
from .params import AnchoredOracleParams

__all__ = ["AnchoredOracle", "AnchoredState", "ANCHORED_COLUMNS"]

ANCHORED_COLUMNS = [
    Column("block", "int64", "block number"),
    Column("oracle", "string", "anchored oracle instance"),
    Column("reporter_usd", "float64", "the reporter's new price (USD)"),
    Column("anchor_usd", "float64", "the anchor's price then (USD)"),
    Column("ratio", "float64", "anchor / reporter"),
    Column("accepted", "bool", "within the tolerance: stored (else guarded, the old price stays)"),
]


@dataclass
class AnchoredState:
    """The stored price (USD) and the last reporter answer seen."""

    price: float
    last_reported: float


class AnchoredOracle(_Oracle):
    """``oracles.anchored``: see the module docstring."""

    kind = "oracles.anchored"
    Params = AnchoredOracleParams

    def __init__(self, name: str, params: AnchoredOracleParams, host):
        super().__init__(name, params, host)
        for field in ("reporter", "anchor"):
            if not isinstance(host.protocols.get(getattr(params, field)), _Oracle):
                raise ValueError(f"protocols.{name}.{field}: {getattr(params, field)!r} must be an oracle listed before it")
        self._reporter, self._anchor = host.protocols[params.reporter], host.protocols[params.anchor]
        start = float(self._reporter.price())
        self.state = AnchoredState(start, start)
        self._log = host.log.declare("anchored_posts", "anchored-view posts: reporter prices against the anchor",
                                     ANCHORED_COLUMNS)
        self.first_price = start

    def within_anchor(self, reported: float, anchor: float) -> bool:
        """`isWithinAnchor`: ``1 − tolerance ≤ anchor / reported ≤ 1 + tolerance``."""
        ratio = anchor / reported
        return 1.0 - self.params.tolerance <= ratio <= 1.0 + self.params.tolerance

    def on_block(self, block) -> None:
        """Post the reporter's answer if it is new: stored when within the anchor, else guarded."""
        reported = float(self._reporter.price())
        s = self.state
        if reported == s.last_reported:
            return
        s.last_reported = reported
        anchor = float(self._anchor.price())
        accepted = self.within_anchor(reported, anchor)
        if accepted:
            s.price = reported
        self._log.append((block.number, self.name, reported, anchor, anchor / reported, accepted))

    def price(self) -> float:
        return self.state.price

    def prices(self) -> dict[str, float]:
        return {"answer": self.state.price}

    def view(self) -> float:
        return self.state.price

    def exposures(self, large_account_usd: float = 1e6) -> list:
        """Its price is the reporter's, bounded by the anchor's (``oracle`` edges to both)."""
        return [Exposure(self.name, self.params.reporter, "oracle", 0.0),
                Exposure(self.name, self.params.anchor, "oracle", 0.0)]

    def summary(self, tables: dict) -> dict:
        t = tables["anchored_posts"]
        mine = t[t["oracle"] == self.name]
        return {"posts": int(len(mine)), "guarded_posts": int((~mine["accepted"]).sum())}
