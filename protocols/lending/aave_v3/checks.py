"""An Aave v3 market checked against the rest of its scenario."""
from __future__ import annotations

from protocols.oracles.checks import oracle_asset, same_asset

__all__ = ["check_pool"]


def check_pool(name: str, params, scenario) -> None:
    """Each reserve's oracle must report that reserve's asset (``WETH`` by an ``ETH`` feed, not a
    ``BTC`` one), as ``AaveOracle.getAssetPrice`` returns the source registered for that asset;
    oracles whose asset is not one of the markets' (fixed, exchange-rate) are not checked."""
    for symbol, oracle in params.oracles.items():
        asset = oracle_asset(oracle, scenario)
        if asset is not None and not same_asset(symbol, asset):
            raise ValueError(f"protocols.{name}.oracles.{symbol}: oracle {oracle!r} reports {asset}, not {symbol}: "
                             f"give {symbol} an oracle of its own "
                             f"(a derivative token: an oracles.exchange_rate over {oracle!r})")
