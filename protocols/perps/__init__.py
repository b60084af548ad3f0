"""Perpetual futures: funding, margin, liquidation, insurance and ADL (mechanics.md §8)."""
