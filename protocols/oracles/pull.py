"""A pull oracle (Pyth on EVM chains): signed prices posted by whoever needs them, with the
staleness and confidence checks of the consumer.

Nothing updates by itself. A user or keeper takes a signed price (price and confidence interval,
USD, with its publish time) and sends ``update_price_feeds``, paying the update fee on top of the
gas (Pyth `IPyth.updatePriceFeeds`, `getUpdateFee`). An update newer than the stored one
replaces it; an older one changes nothing (Pyth keeps the newest), and a publish time in the
future is refused. Consumers read :meth:`PullOracle.price_no_older_than`, which reverts with
``StalePrice`` when ``now − publish_time > max_age`` (`getPriceNoOlderThan`) and, as safe
integrations do, with ``ConfidenceTooWide`` when ``conf / price`` exceeds ``max_conf_ratio``;
:meth:`PullOracle.price` is the stored price however old (`getPriceUnsafe`), what views and
pools that do not check read. Times are ms; prices USD; the fee in the chain's native token.

References: Pyth docs, "Pull updates" and "Best practices" (confidence intervals); Pyth EVM
`AbstractPyth.getPriceNoOlderThan`, `PythErrors.StalePrice`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from defisim.base import Column, Revert, handler, is_number

from .model import _Oracle
from .params import PullOracleParams

__all__ = ["PullOracle", "PullState", "PULL_UPDATE_COLUMNS"]

PULL_UPDATE_COLUMNS = [
    Column("block", "int64", "block number of the update transaction"),
    Column("oracle", "string", "pull oracle protocol instance"),
    Column("sender", "string", "who posted it (and paid the fee)"),
    Column("price_usd", "float64", "posted price (USD)"),
    Column("conf_usd", "float64", "posted confidence interval (USD)"),
    Column("publish_ms", "int64", "publish time of the signed price (ms)"),
    Column("age_ms", "int64", "block time minus publish time at posting (ms)"),
    Column("fee_native", "float64", "update fee paid (native token)"),
    Column("stored", "bool", "whether it replaced the stored price (newer than it)"),
]


@dataclass
class PullState:
    """The stored price and confidence (USD), their publish time (ms), fees collected (native)."""

    price: float
    conf: float
    publish_ms: int
    fees_native: float = 0.0


class PullOracle(_Oracle):
    """``oracles.pull``: see the module docstring. Call: ``update_price_feeds(price, conf, publish_ms)``."""

    kind = "oracles.pull"
    Params = PullOracleParams

    def __init__(self, name: str, params: PullOracleParams, host):
        super().__init__(name, params, host)
        self.state = PullState(params.initial_price, params.initial_conf, params.initial_publish_ms)
        self._log = host.log.declare("pull_updates", "pull-oracle updates: signed prices posted on chain",
                                     PULL_UPDATE_COLUMNS)
        self.first_price = self.price()

    def _now(self) -> int:
        return 0 if self.block is None else self.block.time_ms

    def price(self) -> float:
        """The stored price, however old (`getPriceUnsafe`, USD)."""
        return self.state.price

    def price_no_older_than(self, max_age_ms: int | None = None) -> float:
        """The stored price if published within ``max_age_ms`` (default: the params' ``max_age``)
        and its confidence is within ``max_conf_ratio`` of it; else :class:`~defisim.base.Revert`
        (``StalePrice``, ``ConfidenceTooWide``)."""
        s, age = self.state, self.params.max_age if max_age_ms is None else max_age_ms
        if self._now() - s.publish_ms > age:
            raise Revert("StalePrice")
        if s.conf > self.params.max_conf_ratio * s.price:
            raise Revert("ConfidenceTooWide")
        return s.price

    @handler(gas=160_000, revert_gas=40_000)
    def update_price_feeds(self, sender: str, price: float, conf: float, publish_ms: int) -> bool:
        """Post a signed price; returns whether it replaced the stored one (only a newer one does).
        The fee is paid either way; a price from the future or not positive reverts."""
        if not (is_number(price) and math.isfinite(price) and price > 0):
            raise Revert("InvalidUpdateData: price must be positive")
        if not (is_number(conf) and math.isfinite(conf) and conf >= 0):
            raise Revert("InvalidUpdateData: conf must be non-negative")
        now = self._now()
        if not isinstance(publish_ms, int) or publish_ms > now:
            raise Revert("InvalidUpdateData: publish time in the future")
        s = self.state
        stored = publish_ms > s.publish_ms
        if stored:
            s.price, s.conf, s.publish_ms = float(price), float(conf), publish_ms
        s.fees_native += self.params.update_fee_native
        self._log.append((self.block.number if self.block else -1, self.name, sender, float(price), float(conf),
                          publish_ms, now - publish_ms, self.params.update_fee_native, stored))
        return stored

    def prices(self) -> dict[str, float]:
        return {"answer": self.state.price}

    def view(self) -> PullState:
        s = self.state
        return PullState(s.price, s.conf, s.publish_ms, s.fees_native)

    def summary(self, tables: dict) -> dict:
        t = tables["pull_updates"]
        mine = t[t["oracle"] == self.name]
        return {"pull_updates": int(len(mine)), "pull_update_fees_native": float(mine["fee_native"].sum())}
