"""Gas bidding strategies for agents (EIP-1559; go-ethereum `txpool`: replace-by-fee price bump, eviction of the cheapest; gas used by Aave v3 `liquidationCall` transactions on Ethereum mainnet).

A strategy turns the chain's recent inclusion tips and the current base fee into the
``(max_fee_gwei, priority_fee_gwei)`` pair of a new transaction, and says how to bid again
when a transaction waits (replace-by-fee needs both fees up by the mempool's bump).
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field
from defisim.base.units import unit

__all__ = ["FixedTip", "PercentileTip", "GasStrategy", "bid", "rebid", "outbid"]


class _Strategy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_fee_multiplier: float = Field(2.0, ge=1, description="fee cap = base fee × this + tip")
    escalate: float = Field(1.125, ge=1.0, description="factor on both fees per re-bid of a waiting tx")
    max_tip_gwei: float = Field(10_000.0, gt=0, description="never tip more than this")
    max_fee_ceiling_gwei: float | None = Field(
        None, gt=0, description="never offer a fee cap above this (a node's gas-price ceiling, as on Black Thursday); "
        "when the base fee is above it the transaction waits")


class FixedTip(_Strategy):
    """Always the same tip."""

    kind: Literal["fixed"] = Field("fixed", description="gas strategy kind")
    tip_gwei: float = Field(2.0, ge=0, description="priority fee offered")


class PercentileTip(_Strategy):
    """A quantile of the lowest included tips of recent blocks, times a markup."""

    kind: Literal["percentile"] = Field("percentile", description="gas strategy kind")
    quantile: float = Field(0.5, ge=0, le=1,
        description="quantile of the recent blocks' included tips to match", json_schema_extra=unit("fraction"))
    markup: float = Field(1.2, gt=0, description="factor on that tip", json_schema_extra=unit("x"))
    window_blocks: int = Field(20, ge=1, description="recent blocks looked at")
    min_tip_gwei: float = Field(0.1, ge=0, description="never tip less than this")


GasStrategy = Annotated[Union[FixedTip, PercentileTip], Field(discriminator="kind")]


def bid(strategy, chain) -> tuple[float, float]:
    """``(max_fee_gwei, priority_fee_gwei)`` for a new transaction now.

    Examples
    --------
    >>> class Chain: base_fee_gwei = 30.0
    >>> bid(FixedTip(tip_gwei=2.0), Chain())
    (62.0, 2.0)
    """
    if strategy.kind == "fixed":
        tip = strategy.tip_gwei
    else:
        tip = max(strategy.min_tip_gwei, chain.inclusion_tip_gwei(strategy.quantile, strategy.window_blocks) * strategy.markup)
    tip = min(tip, strategy.max_tip_gwei)
    return _ceiled(strategy, chain.base_fee_gwei * strategy.max_fee_multiplier + tip, tip)


def _ceiled(strategy, cap: float, tip: float) -> tuple[float, float]:
    """``(cap, tip)`` held under the strategy's fee ceiling (the tip never above the cap).

    >>> _ceiled(FixedTip(max_fee_ceiling_gwei=50.0), 62.0, 2.0)
    (50.0, 2.0)
    """
    ceiling = strategy.max_fee_ceiling_gwei
    if ceiling is not None and cap > ceiling:
        cap = ceiling
    return cap, min(tip, cap)


def rebid(strategy, chain, max_fee_gwei: float, priority_fee_gwei: float) -> tuple[float, float]:
    """Fees to replace a waiting transaction: the larger of a fresh bid and the old fees
    raised by ``escalate`` (at least the mempool's 10% bump when ``escalate`` ≥ 1.1).

    >>> class Chain: base_fee_gwei = 30.0
    >>> rebid(FixedTip(tip_gwei=2.0, escalate=1.25), Chain(), 62.0, 2.0)
    (77.5, 2.5)
    >>> rebid(FixedTip(tip_gwei=2.0, escalate=1.25, max_fee_ceiling_gwei=62.0), Chain(), 62.0, 2.0)  # at the ceiling
    (62.0, 2.5)
    """
    fresh_cap, fresh_tip = bid(strategy, chain)
    tip = min(max(fresh_tip, priority_fee_gwei * strategy.escalate), strategy.max_tip_gwei)
    cap = max(fresh_cap, max_fee_gwei * strategy.escalate, chain.base_fee_gwei + tip)
    return _ceiled(strategy, cap, tip)


def outbid(strategy, chain, max_fee_gwei: float, priority_fee_gwei: float, rival_tip_gwei: float) -> tuple[float, float]:
    """Fees to replace a pending transaction so that it tips more than a rival's (a priority gas
    auction, Daian et al. 2019, "Flash Boys 2.0", arXiv:1904.05234): the larger of the two tips
    raised by ``escalate`` (so the mempool's 10% replacement bump holds when ``escalate`` ≥ 1.1),
    the fee cap raised alike and at least the base fee × ``max_fee_multiplier`` plus the tip.

    >>> class Chain: base_fee_gwei = 30.0
    >>> outbid(FixedTip(tip_gwei=2.0, escalate=1.25), Chain(), 62.0, 2.0, 4.0)
    (77.5, 5.0)
    """
    tip = min(max(priority_fee_gwei, rival_tip_gwei) * strategy.escalate, strategy.max_tip_gwei)
    cap = max(max_fee_gwei * strategy.escalate, chain.base_fee_gwei * strategy.max_fee_multiplier + tip)
    return _ceiled(strategy, cap, tip)
