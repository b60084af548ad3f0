"""Stablecoins: a delta-neutral synthetic dollar (Ethena USDe style) and its staked vault (mechanics.md §10)."""
