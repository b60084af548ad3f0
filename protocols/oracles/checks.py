"""What an oracle prices, read from the scenario, and the checks that follow from it.

A push oracle reports the asset its updaters' ``sources`` quote (the venues of
``markets.venues``), or the ``asset`` it declares; an OSM the asset of its ``source``. Fixed and
exchange-rate oracles price a token of their own (a pegged coin, a wrapper or receipt) and name
no asset of the markets.
"""
from __future__ import annotations

__all__ = ["oracle_asset", "same_asset", "check_push_updater"]


def same_asset(symbol: str, asset: str) -> bool:
    """Whether a token ``symbol`` is the market asset ``asset``: the same name, or its wrapped
    form (``WETH`` is ``ETH``, ``WBTC`` is ``BTC``; as the WETH9 and WBTC contracts hold 1:1).

    >>> same_asset("WETH", "ETH"), same_asset("WBTC", "ETH"), same_asset("ETH", "ETH")
    (True, False, True)
    """
    return symbol == asset or (symbol[:1] in ("W", "w") and symbol[1:] == asset)


def _updater_assets(name: str, scenario) -> list[tuple[str, str, str]]:
    """``(dotted path, venue, its asset)`` of every source of every updater of the push oracle ``name``."""
    venues = scenario.spec.markets.venues
    out = []
    for i, (group, params) in enumerate(zip(scenario.spec.agents, scenario.agents)):
        if group.kind == "oracles.push_updater" and params.oracle == name:
            for j, source in enumerate(params.sources):
                if source in venues:
                    out.append((f"agents.{i}.params.sources.{j}", source, venues[source].asset))
    return out


def oracle_asset(name: str, scenario, _seen: tuple[str, ...] = ()) -> str | None:
    """The market asset the oracle protocol ``name`` reports (``None``: none, or unknown)."""
    entry = scenario.protocols.get(name)
    if entry is None or name in _seen:
        return None
    kind, params = entry
    if kind == "oracles.push":
        if params.asset is not None:
            return params.asset
        assets = {asset for _, _, asset in _updater_assets(name, scenario)}
        return assets.pop() if len(assets) == 1 else None
    if kind == "oracles.osm":
        return oracle_asset(params.source, scenario, (*_seen, name))
    return None


def check_push_updater(index: int, params, scenario) -> None:
    """An updater's sources must all quote the asset of the oracle it transmits to."""
    entry = scenario.protocols.get(params.oracle)
    if entry is None:
        return
    declared = entry[1].asset
    venues = scenario.spec.markets.venues
    first = None
    for j, source in enumerate(params.sources):
        asset = venues[source].asset
        want = declared if declared is not None else first
        if want is not None and asset != want:
            what = (f"oracle {params.oracle!r} reports {declared} (protocols.{params.oracle}.asset)" if declared is not None
                    else f"sources.0 ({params.sources[0]!r}) quotes {first}")
            raise ValueError(f"agents.{index}.params.sources.{j}: venue {source!r} quotes {asset}, but {what}: "
                             "an oracle's median must be over one asset")
        first = first or asset
