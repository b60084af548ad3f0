"""A delta-neutral synthetic dollar (Ethena USDe style) and its staked vault (Ethena docs).

Plain data structures; amounts USD or token units as named, times in ms.

:class:`DeltaNeutralIssuer`. A mint of ``U`` dollars puts ``margin_share · U`` as collateral on a
perp venue (:class:`~protocols.perps.clearinghouse.Clearinghouse`, where the issuer is an
account) and buys ``(1 − margin_share) · U`` of the backing asset, then shorts the same number
of units on the venue: spot long + perp short, so the backing's USD value does not follow the
asset (Ethena docs: spot hedged by perp shorts). Funding paid to shorts raises the hedge account's equity (income), funding paid by
shorts lowers it (cost). :meth:`~DeltaNeutralIssuer.rebalance` keeps the venue margin at its
share as prices move (selling or buying spot against a deposit or withdrawal, and trimming the
short to the spot held). :meth:`~DeltaNeutralIssuer.settle` books the result: backing above the
supply is minted as rewards into the staked vault; below it the reserve fund pays in what it can;
what it cannot leaves the dollar under-collateralised. Mints and redemptions are whitelisted,
with per-window limits (``maxMintPerBlock`` / ``maxRedeemPerBlock``, Ethena docs: mint and redeem by whitelisted parties, with per-block limits); a redemption pays
$1 of backing per token.

:class:`StakedVault` (sUSDe): an ERC-4626 vault whose rewards vest linearly over 8 hours (the
unvested part is excluded from its assets, so the share price only rises, smoothly) and whose
withdrawals wait a cooldown (7 days) in a silo (Ethena `StakedUSDe.sol`: an ERC-4626 vault with a cooldown).

Spot trades happen at the feed price (a deep spot market); the perp legs go through the venue's
book (their slippage is a cost).

References: Ethena docs: spot hedged by perp shorts; Ethena docs: mint and redeem by whitelisted parties, with per-block limits; Ethena `StakedUSDe.sol`: an ERC-4626 vault with a cooldown.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from protocols.perps.clearinghouse import Clearinghouse

__all__ = ["VESTING_MS", "COOLDOWN_MS", "StakedVault", "DeltaNeutralIssuer"]

#: ``VESTING_PERIOD = 8 hours`` (StakedUSDe).
VESTING_MS = 8 * 3_600_000
#: The unstaking cooldown in force since 2024: 7 days.
COOLDOWN_MS = 7 * 86_400_000


@dataclass
class StakedVault:
    """sUSDe: shares against ``assets`` (USDe), rewards vesting over ``vesting_ms``.

    Examples
    --------
    >>> v = StakedVault()
    >>> v.deposit("alice", 1_000.0, t_ms=0)
    1000.0
    >>> v.add_rewards(80.0, t_ms=0)
    >>> [round(v.share_price(h * 3_600_000), 6) for h in (0, 4, 8, 12)]
    [1.0, 1.04, 1.08, 1.08]
    """

    vesting_ms: int = VESTING_MS
    cooldown_ms: int = COOLDOWN_MS
    assets: float = 0.0  # USDe held, vested or not
    shares: dict[str, float] = field(default_factory=dict)
    vesting_amount: float = 0.0
    vesting_start_ms: int = 0
    cooldowns: dict[str, tuple[float, int]] = field(default_factory=dict)  # owner -> (USDe, unlock ms)

    def unvested(self, t_ms: int) -> float:
        """Rewards not yet vested at ``t_ms`` (USDe)."""
        left = 1.0 - (t_ms - self.vesting_start_ms) / self.vesting_ms
        return self.vesting_amount * min(max(left, 0.0), 1.0)

    def total_assets(self, t_ms: int) -> float:
        return self.assets - self.unvested(t_ms)

    def total_shares(self) -> float:
        return sum(self.shares.values())

    def share_price(self, t_ms: int) -> float:
        """USDe per share (1 before the first deposit)."""
        total = self.total_shares()
        return self.total_assets(t_ms) / total if total > 0 else 1.0

    def deposit(self, owner: str, usde: float, t_ms: int) -> float:
        """Stake ``usde``; returns the shares minted."""
        minted = usde / self.share_price(t_ms)
        self.assets += usde
        self.shares[owner] = self.shares.get(owner, 0.0) + minted
        return minted

    def add_rewards(self, usde: float, t_ms: int) -> None:
        """Rewards transferred in; they vest linearly from now, with what was still vesting."""
        self.vesting_amount = self.unvested(t_ms) + usde
        self.vesting_start_ms = t_ms
        self.assets += usde

    def cooldown_shares(self, owner: str, shares: float, t_ms: int) -> float:
        """Burn ``shares`` now; their USDe waits in the silo until ``t_ms + cooldown``."""
        held = self.shares.get(owner, 0.0)
        if not 0 <= shares <= held:
            raise ValueError(f"{owner}: cannot cool down {shares} shares, holds {held}")
        usde = shares * self.share_price(t_ms)
        self.shares[owner] = held - shares
        self.assets -= usde
        waiting = self.cooldowns.get(owner, (0.0, 0))[0]
        self.cooldowns[owner] = (waiting + usde, t_ms + self.cooldown_ms)
        return usde

    def unstake(self, owner: str, t_ms: int) -> float:
        """The silo's USDe, once the cooldown is over (``ValueError`` before)."""
        usde, unlock = self.cooldowns.get(owner, (0.0, 0))
        if t_ms < unlock:
            raise ValueError(f"{owner}: cooldown until {unlock} ms")
        self.cooldowns.pop(owner, None)
        return usde


@dataclass
class DeltaNeutralIssuer:
    """The issuer (see the module docstring).

    Parameters
    ----------
    venue : Clearinghouse
        Where the short hedge lives; the issuer is its account ``name``.
    market : str
        The perp market of the backing asset.
    spot_feed : object
        ``price_at(t_ms)`` of the backing asset (USD).
    margin_share : float
        Share of the backing kept as venue collateral.
    mint_limit_usd, redeem_limit_usd : float
        Per ``window_ms`` (a block: 12 s).
    reserve_fund_usd : float
        Pays in when the backing falls below the supply.
    """

    venue: Clearinghouse
    market: str
    spot_feed: object
    name: str = "issuer"
    margin_share: float = 0.2
    mint_limit_usd: float = 2e6
    redeem_limit_usd: float = 2e6
    window_ms: int = 12_000
    reserve_fund_usd: float = 0.0
    vault: StakedVault = field(default_factory=StakedVault)
    supply: float = 0.0
    spot_units: float = 0.0
    cash_usd: float = 0.0  # backing held as dollars (reserve payments, redemption residues)
    _window: list = field(default_factory=lambda: [-1, 0.0, 0.0])  # window index, minted, redeemed

    def _use_limit(self, t_ms: int, slot: int, usd: float, limit: float, what: str, commit: bool = True) -> None:
        """Count ``usd`` against the window's limit (refused above it); ``commit=False`` only checks."""
        window = t_ms // self.window_ms
        if self._window[0] != window:
            self._window[:] = [window, 0.0, 0.0]
        if self._window[slot] + usd > limit:
            raise ValueError(f"{what} limit: {self._window[slot] + usd:,.0f} USD in this window, limit {limit:,.0f}")
        if commit:
            self._window[slot] += usd

    def _hedge(self) -> tuple[int, int]:
        return self.venue.rows[self.name], self.venue.index[self.market]

    def hedge_equity(self, t_ms: int) -> float:
        """The venue account's equity (USD)."""
        return float(self.venue.equity(t_ms, self.venue.rows[self.name])) if self.name in self.venue.rows else 0.0

    def backing_usd(self, t_ms: int) -> float:
        """Spot at the feed price, plus the hedge account's equity, plus cash (USD)."""
        return self.spot_units * self.spot_feed.price_at(t_ms) + self.hedge_equity(t_ms) + self.cash_usd

    def collateral_ratio(self, t_ms: int) -> float:
        """Backing over supply (1 with no supply)."""
        return self.backing_usd(t_ms) / self.supply if self.supply else 1.0

    def mint(self, usd: float, t_ms: int) -> None:
        """A whitelisted mint of ``usd`` USDe against ``usd`` of collateral. Refused
        (``ValueError``, nothing changes) above the window's limit or when the venue refuses the
        hedge (initial margin)."""
        self._use_limit(t_ms, 1, usd, self.mint_limit_usd, "mint", commit=False)
        units = (1.0 - self.margin_share) * usd / self.spot_feed.price_at(t_ms)
        margin = self.margin_share * usd
        self.venue.deposit(self.name, margin)
        try:
            self.venue.trade(self.name, self.market, -units, t_ms)
        except ValueError:
            self.venue.take_back(self.name, margin)
            raise
        self._use_limit(t_ms, 1, usd, self.mint_limit_usd, "mint")
        self.spot_units += units
        self.supply += usd

    def redeem(self, usde: float, t_ms: int) -> float:
        """A whitelisted redemption: ``usde`` burned for $1 each; the matching share of spot is
        sold, of the short closed and of the venue margin withdrawn. Returns the USD paid."""
        if not 0 < usde <= self.supply:
            raise ValueError(f"redeem {usde}: must be positive and at most the supply {self.supply}")
        self._use_limit(t_ms, 2, usde, self.redeem_limit_usd, "redeem", commit=False)
        share = usde / self.supply
        r, m = self._hedge()
        self.venue.trade(self.name, self.market, -self.venue.size[r, m] * share, t_ms)  # refused: nothing changed
        units = self.spot_units * share
        self.spot_units -= units
        self.cash_usd += units * self.spot_feed.price_at(t_ms)
        margin = min(max(self.hedge_equity(t_ms), 0.0) * share, self._free_margin(t_ms))  # within the free margin
        self.venue.withdraw(self.name, margin, t_ms)
        self._use_limit(t_ms, 2, usde, self.redeem_limit_usd, "redeem")
        self.cash_usd += margin - usde
        self.supply -= usde
        return usde

    def _free_margin(self, t_ms: int) -> float:
        r, _ = self._hedge()
        initial = float(self.venue.initial(t_ms, r))
        return max(self.hedge_equity(t_ms) - initial, 0.0)

    def rebalance(self, t_ms: int) -> None:
        """Bring the venue margin back to ``margin_share`` of the backing, paying with (or into)
        spot and cash, and trim the short to the spot held (delta back to zero)."""
        price = self.spot_feed.price_at(t_ms)
        target = self.margin_share * self.backing_usd(t_ms)
        gap = target - self.hedge_equity(t_ms)
        if gap > 0:  # the short lost: sell spot (after cash) and post margin
            from_cash = min(gap, max(self.cash_usd, 0.0))
            self.cash_usd -= from_cash
            sold = min((gap - from_cash) / price, self.spot_units)
            self.spot_units -= sold
            self.venue.deposit(self.name, from_cash + sold * price)
        elif gap < 0:  # the short gained: take margin out, buy spot
            out = min(-gap, self._free_margin(t_ms))
            self.venue.withdraw(self.name, out, t_ms)
            self.spot_units += out / price
        r, m = self._hedge()
        excess_short = -self.venue.size[r, m] - self.spot_units
        if abs(excess_short) > 1e-12 * max(self.spot_units, 1.0):
            self.venue.trade(self.name, self.market, excess_short, t_ms)

    def settle(self, t_ms: int) -> float:
        """Book the result since the last settlement (USD): income is minted as vault rewards; a
        shortfall is paid from the reserve fund as far as it goes. Returns the result."""
        result = self.backing_usd(t_ms) - self.supply
        if result > 0:
            self.supply += result
            self.vault.add_rewards(result, t_ms)
        elif result < 0:
            paid = min(self.reserve_fund_usd, -result)
            self.reserve_fund_usd -= paid
            self.cash_usd += paid
        return result
