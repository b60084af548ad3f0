"""Pool-based perpetuals (GMX v2 style): the liquidity pool is every trader's counterparty
(dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs "GMX v2", dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs; Hyperliquid auto-deleveraging docs; Binance Futures ADL).

A plain data structure, one market, positions as arrays; sizes in USD (signed: ``+``
long), prices USD, times in seconds.

- **Price impact** on opening or closing: ``impactUsd = f·d_before^e − f·d_after^e`` with ``d``
  the open-interest imbalance ``|OI_long − OI_short|`` (USD); negative impact is taken from the
  trader's collateral into an impact pool, positive impact paid from it (capped by what it holds).
- **Funding** (per second): the larger side pays :func:`~.math.gmx_funding_per_second` of its open
  interest to the smaller side, through cumulative indices per USD of size.
- **Borrowing fee** (per second, to the pool): ``borrowingFactor · (OI / poolUsd)^exponent`` of
  each position's size.
- **Liquidation** (keeper-executed): when ``collateral + PnL − fees < max(min_collateral_usd,
  |size| · min_collateral_factor)``; what is left of the collateral goes to the pool, and a loss
  beyond it is borne by the pool (the LPs are the insurance).
- **ADL**: when a side's pending profit exceeds ``max_pnl_factor`` of the pool, its most
  profitable positions are closed until the ratio is back at ``adl_target_factor``.

Invariant: the cash ``pool + impact pool + Σ collateral − Σ funding owed`` changes only by what
traders pay in and take out; the price moves only the traders' claims on the pool (PnL), which the
pool settles when positions close (it is the counterparty, so it carries the market exposure of
the traders' net open interest).

References: dYdX v4 `funding.mdx`, Hyperliquid funding docs, GMX v2 docs (GMX v2 funding, borrowing, price impact), dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs (liquidation),
Hyperliquid auto-deleveraging docs; Binance Futures ADL (ADL by PnL-to-pool ratio); gmx-io/gmx-synthetics ``README.md``, ``PositionUtils.sol``,
``AdlUtils.sol``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .math import gmx_funding_per_second

__all__ = ["PoolPerpParams", "PoolPerps"]


@dataclass(frozen=True)
class PoolPerpParams:
    """The market's factors (GMX's names; per-second rates)."""

    funding_factor: float = 1e-8
    funding_exponent: float = 1.0
    borrowing_factor: float = 1e-9
    borrowing_exponent: float = 1.0
    impact_factor: float = 0.0
    impact_exponent: float = 2.0
    min_collateral_usd: float = 1.0
    min_collateral_factor: float = 0.01
    max_pnl_factor: float = 0.5
    adl_target_factor: float = 0.4


@dataclass
class PoolPerps:
    """One pool-backed market (see the module docstring).

    Examples
    --------
    GMX's price-impact example (factor 0.01/50,000, exponent 2): opening $50,000 long in a
    balanced market pays $500; a $25,000 short that halves the imbalance then earns $375.

    >>> p = PoolPerps(PoolPerpParams(impact_factor=0.01 / 50_000), pool_usd=1e6)
    >>> p.open("a", 50_000.0, 10_000.0, price=100.0, t_s=0)
    -500.0
    >>> p.open("b", -25_000.0, 10_000.0, price=100.0, t_s=0)
    375.0
    """

    params: PoolPerpParams
    pool_usd: float
    impact_pool_usd: float = 0.0
    owners: list[str] = field(default_factory=list)
    size_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    collateral_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))
    entry_price: np.ndarray = field(default_factory=lambda: np.zeros(0))
    funding_snapshot: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per USD of size, signed side index
    borrowing_snapshot: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cum_funding_long: float = 0.0  # USD paid per USD of long size (negative: received)
    cum_funding_short: float = 0.0
    cum_borrowing: float = 0.0  # USD paid to the pool per USD of size
    last_t_s: int = 0
    liquidations: list[tuple] = field(default_factory=list)  # (t_s, owner, size_usd, collateral_left_usd, pool_loss_usd)
    adl: list[tuple] = field(default_factory=list)  # (t_s, owner, size_usd_closed, pnl_usd, paid_out_usd)

    # -- open interest and PnL ----------------------------------------------------------------
    def open_interest(self) -> tuple[float, float]:
        """(long, short) open interest (USD of size)."""
        s = self.size_usd
        return float(s[s > 0].sum()), float(-s[s < 0].sum())

    def pnl(self, price: float) -> np.ndarray:
        """Unrealised PnL of every position (USD): ``size · (price / entry − 1)``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.size_usd != 0, self.size_usd * (price / self.entry_price - 1.0), 0.0)

    def fees_owed(self) -> np.ndarray:
        """Funding and borrowing fees accrued and not yet paid (USD; negative: funding to receive)."""
        s = self.size_usd
        funding_index = np.where(s > 0, self.cum_funding_long, self.cum_funding_short)
        return np.abs(s) * (funding_index - self.funding_snapshot) + np.abs(s) * (self.cum_borrowing - self.borrowing_snapshot)

    def funding_owed(self) -> np.ndarray:
        """Funding accrued and not yet settled, per position (USD; negative: to receive)."""
        s = self.size_usd
        return np.abs(s) * (np.where(s > 0, self.cum_funding_long, self.cum_funding_short) - self.funding_snapshot)

    def total_cash(self) -> float:
        """The invariant of the module docstring (USD)."""
        return self.pool_usd + self.impact_pool_usd + float((self.collateral_usd - self.funding_owed()).sum())

    # -- time -------------------------------------------------------------------------------
    def accrue(self, t_s: int) -> None:
        """Funding and borrowing indices over the seconds since the last accrual."""
        dt = t_s - self.last_t_s
        if dt < 0:
            raise ValueError(f"time {t_s} s is before the last accrual at {self.last_t_s} s")
        self.last_t_s = t_s
        if dt == 0:
            return
        longs, shorts = self.open_interest()
        p = self.params
        pay_long, pay_short = gmx_funding_per_second(p.funding_factor, longs, shorts, p.funding_exponent)
        self.cum_funding_long += pay_long * dt
        self.cum_funding_short += pay_short * dt
        if self.pool_usd > 0:
            self.cum_borrowing += p.borrowing_factor * ((longs + shorts) / self.pool_usd) ** p.borrowing_exponent * dt

    # -- trading ----------------------------------------------------------------------------
    def _impact(self, delta_long: float, delta_short: float) -> float:
        """Price impact in USD of changing the open interest (negative: the trader pays)."""
        p = self.params
        longs, shorts = self.open_interest()
        before = abs(longs - shorts) ** p.impact_exponent
        after = abs(longs + delta_long - shorts - delta_short) ** p.impact_exponent
        impact = p.impact_factor * (before - after)
        return min(impact, self.impact_pool_usd) if impact > 0 else impact

    def _settle_fees(self, i: int) -> None:
        """Take position ``i``'s accrued fees from its collateral: borrowing to the pool; funding
        is a transfer between the sides (the indices make it sum to zero over all positions)."""
        owed = float(self.fees_owed()[i])
        s = self.size_usd[i]
        borrowing = abs(s) * (self.cum_borrowing - self.borrowing_snapshot[i])
        self.collateral_usd[i] -= owed
        self.pool_usd += borrowing
        self.funding_snapshot[i] = self.cum_funding_long if s > 0 else self.cum_funding_short
        self.borrowing_snapshot[i] = self.cum_borrowing

    def open(self, owner: str, size_usd: float, collateral_usd: float, price: float, t_s: int) -> float:
        """Open a position of ``size_usd`` (``+`` long) with ``collateral_usd``; returns the price
        impact applied to its collateral (USD)."""
        self.accrue(t_s)
        impact = self._impact(max(size_usd, 0.0), max(-size_usd, 0.0))
        self.impact_pool_usd -= impact
        self.owners.append(owner)
        self.size_usd = np.append(self.size_usd, size_usd)
        self.collateral_usd = np.append(self.collateral_usd, collateral_usd + impact)
        self.entry_price = np.append(self.entry_price, price)
        self.funding_snapshot = np.append(self.funding_snapshot, self.cum_funding_long if size_usd > 0 else self.cum_funding_short)
        self.borrowing_snapshot = np.append(self.borrowing_snapshot, self.cum_borrowing)
        return impact

    def close(self, i: int, price: float, t_s: int, fraction: float = 1.0) -> float:
        """Close ``fraction`` of position ``i`` at ``price``: PnL is paid by (or to) the pool;
        returns what the trader takes out (USD)."""
        self.accrue(t_s)
        self._settle_fees(i)
        s = self.size_usd[i] * fraction
        impact = self._impact(-max(s, 0.0), -max(-s, 0.0))
        self.impact_pool_usd -= impact
        pnl = s * (price / self.entry_price[i] - 1.0)
        self.pool_usd -= pnl
        out = self.collateral_usd[i] * fraction + pnl + impact
        self.collateral_usd[i] *= 1.0 - fraction
        self.size_usd[i] -= s
        return out

    # -- liquidation and ADL -------------------------------------------------------------------
    def liquidatable(self, price: float) -> np.ndarray:
        """Positions with ``collateral + PnL − fees`` below the minimum collateral (dYdX v4 `liquidations.mdx`; Hyperliquid liquidation docs)."""
        p = self.params
        remaining = self.collateral_usd + self.pnl(price) - self.fees_owed()
        need = np.maximum(p.min_collateral_usd, np.abs(self.size_usd) * p.min_collateral_factor)
        return np.flatnonzero((self.size_usd != 0) & (remaining < need))

    def liquidate(self, i: int, price: float, t_s: int) -> None:
        """Close position ``i``: what is left of its collateral goes to the pool, which also bears
        a loss beyond it."""
        size = float(self.size_usd[i])
        out = self.close(i, price, t_s)
        self.pool_usd += out  # the remainder (positive) to the pool, or the pool pays the hole (negative)
        self.liquidations.append((t_s, self.owners[i], size, max(out, 0.0), max(-out, 0.0)))

    def auto_deleverage(self, price: float, t_s: int) -> None:
        """While a side's pending profit exceeds ``max_pnl_factor`` of the pool, close its most
        profitable positions (highest PnL first; ties by row) until it is at the target."""
        p = self.params
        for side in (1.0, -1.0):
            pnl = self.pnl(price)
            mine = np.flatnonzero(np.sign(self.size_usd) == side)
            pending = float(pnl[mine].sum())
            if self.pool_usd <= 0 or pending <= p.max_pnl_factor * self.pool_usd:
                continue
            for i in mine[np.lexsort((mine, -pnl[mine]))]:
                pending = float(self.pnl(price)[np.sign(self.size_usd) == side].sum())
                if pending <= p.adl_target_factor * self.pool_usd or pnl[i] <= 0:
                    break
                size = float(self.size_usd[i])
                out = self.close(int(i), price, t_s)  # the trader is paid out
                self.adl.append((t_s, self.owners[i], size, float(pnl[i]), out))
