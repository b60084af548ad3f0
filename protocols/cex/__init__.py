"""Centralised-exchange accounts: unified cross-margin with haircut collateral (mechanics.md §9)."""
