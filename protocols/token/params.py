"""Parameters of the token ledger."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator
from defisim.base import unit

__all__ = ["LedgerParams"]


class LedgerParams(BaseModel):
    """A token: its symbol, who may mint, and opening balances (token units)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field("TKN", description="token symbol")
    minter: str | None = Field(None, description="the only address allowed to mint (None: nobody)")
    initial_balances: dict[str, float] = Field(default_factory=dict,
        description="address -> token units", json_schema_extra=unit("tokens"))

    @field_validator("initial_balances")
    @classmethod
    def _non_negative(cls, v):
        for addr, amount in v.items():
            if not amount >= 0:
                raise ValueError(f"balance of {addr!r} must be non-negative, got {amount}")
        return v
