"""An Aave v3 market checked against the rest of its scenario."""
from __future__ import annotations

from protocols.oracles.checks import oracle_asset, same_asset

__all__ = ["check_pool", "check_keeper", "check_backrunner", "check_flash_keeper", "check_lender_run"]


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
    check_collateral_venues(name, params, scenario)


def check_collateral_venues(name: str, params, scenario) -> None:
    """Each ``collateral_venues`` entry names an off-chain venue or an on-chain pool (``amm.*``,
    with ledgers) trading that reserve's token."""
    venues = scenario.spec.markets.venues
    for sym, where in sorted(params.collateral_venues.items()):
        if where in venues:
            continue
        kind, amm = scenario.protocols.get(where, ("", None))
        if kind.startswith("amm.") and (amm.ledgers or {}).get(sym) == params.tokens[sym]:
            continue  # a pool trading the reserve's token under the same symbol
        raise ValueError(f"protocols.{name}.collateral_venues.{sym}: no venue {where!r} in markets.venues "
                         f"(have: {', '.join(sorted(venues)) or 'none'}) and no AMM pool whose ledgers hold "
                         f"{sym} = {params.tokens[sym]!r}")


def check_keeper(index: int, params, scenario) -> None:
    """A keeper values and sells each collateral reserve at a venue quoting it: ``venues`` and
    ``keep`` must name reserves of its pool, and ``venue`` must quote one of them unless
    ``venues`` or ``keep`` covers them (a keeper whose venue prices nothing it could seize would
    never liquidate, silently). A keeper that withdraws its venue proceeds must sell at a venue,
    in a reserve of its pool, from a hot wallet that holds some (else every withdrawal would wait
    for ever); one that buys its debt asset needs a pool trading two of its pool's tokens."""
    entry = scenario.protocols.get(params.pool)
    if entry is None or not hasattr(entry[1], "reserves"):
        return  # another lending protocol: its own assets are not known here
    pool = entry[1]
    symbols = [r.symbol for r in pool.reserves]
    where = f"agents.{index}.params"
    for field in ("venues", "keep"):
        unknown = sorted(set(getattr(params, field)) - set(symbols))
        if unknown:
            raise ValueError(f"{where}.{field}.{unknown[0]}: {unknown[0]!r} is not a reserve of {params.pool} "
                             f"(reserves: {', '.join(symbols)})")
    if params.withdraw is not None:
        _check_withdraw(where, params, pool, symbols, scenario)
    if params.source_debt_on is not None:
        _check_debt_source(where, params, pool, scenario)
    if params.sell_pool is not None or params.venues or params.keep:
        return
    venues = scenario.spec.markets.venues
    asset = venues[params.venue].asset if params.venue in venues else None
    if asset is not None and not any(same_asset(s, asset) for s in symbols):
        raise ValueError(f"{where}.venue: venue {params.venue!r} quotes {asset}, no reserve of {params.pool} "
                         f"({', '.join(symbols)}): name the reserve it sells there, e.g. "
                         f"venues = {{{symbols[0]} = \"{params.venue}\"}}")


def _check_withdraw(where: str, params, pool, symbols: list[str], scenario) -> None:
    asset = params.withdraw.asset
    if asset not in symbols:
        raise ValueError(f"{where}.withdraw.asset: {asset!r} is not a reserve of {params.pool} "
                         f"(reserves: {', '.join(symbols)})")
    if params.sell_pool is not None or not params.sell:
        raise ValueError(f"{where}.withdraw: this keeper sells nothing on a venue "
                         f"({'it sells into sell_pool, on chain' if params.sell else 'sell = false'}): "
                         "nothing to withdraw")
    ledger = pool.tokens[asset]
    balances = scenario.protocols[ledger][1].initial_balances
    quoted = scenario.spec.markets.venues
    asset_of = {v: quoted[v].asset if v in quoted else None for v in [params.venue, *params.venues.values()]}
    used = [params.venues.get(s, params.venue if same_asset(s, asset_of[params.venue] or "") else None)
            for s in symbols if s not in params.keep]  # where it sells each collateral it takes
    for venue in dict.fromkeys(v for v in used if v is not None):
        if balances.get(f"venue:{venue}", 0.0) <= 0:
            raise ValueError(f"{where}.withdraw: venue {venue!r}'s hot wallet holds no {asset}: give it some, "
                             f"protocols.{ledger}.initial_balances = {{\"venue:{venue}\" = ...}} (withdrawals are "
                             "paid from it and would wait for ever)")


def _check_debt_source(where: str, params, pool, scenario) -> None:
    name = params.source_debt_on
    amm = scenario.protocols[name][1]
    mine = set(pool.tokens.values())
    if amm.ledgers is None or not set(amm.ledgers.values()) <= mine:
        traded = "no ledgers" if amm.ledgers is None else f"{sorted(amm.ledgers.values())}"
        raise ValueError(f"{where}.source_debt_on: {name!r} must trade two of {params.pool}'s tokens on their "
                         f"ledgers ({sorted(mine)}), it has {traded}")


def check_backrunner(index: int, params, scenario) -> None:
    """A backrunner is checked as a keeper; it sells every collateral and uses only its balance
    (``keep`` and ``source_debt_on`` are the keeper's)."""
    check_keeper(index, params, scenario)
    for field in ("keep", "source_debt_on"):
        if getattr(params, field):
            raise ValueError(f"agents.{index}.params.{field}: a backrunner does not support it (lending.keeper does)")


def check_flash_keeper(index: int, params, scenario) -> None:
    """A flash keeper's swap pools must move tokens (``ledgers``) and trade two of its pool's
    reserves' tokens; a flash swap needs constant-product pools (Uniswap v2 pairs)."""
    entry = scenario.protocols.get(params.pool)
    if entry is None:
        return
    pool_ledgers = set(entry[1].tokens.values())
    where = f"agents.{index}.params.swap_pools"
    for k, name in enumerate(params.swap_pools):
        kind, amm = scenario.protocols[name]
        if amm.ledgers is None:
            raise ValueError(f"{where}.{k}: {name!r} has no ledgers: a flash liquidation must move tokens through it "
                             f"(give it ledgers)")
        shared = pool_ledgers & set(amm.ledgers.values())
        if len(shared) != 2:
            raise ValueError(f"{where}.{k}: {name!r} trades {sorted(amm.ledgers.values())}, not two of "
                             f"{params.pool}'s tokens ({sorted(pool_ledgers)})")
        if params.flash_swap and kind != "amm.cpmm":
            raise ValueError(f"{where}.{k}: a flash swap needs an amm.cpmm pool (a Uniswap v2 pair), {name!r} is {kind}")


def check_lender_run(index: int, params, scenario) -> None:
    """Lenders who run need a pool with a ``lenders`` crowd and a reserve of that pool to watch;
    one process runs the whole crowd (``count`` 1), and its address must not be a lender's."""
    where = f"agents.{index}"
    group = scenario.spec.agents[index]
    if group.count != 1:
        raise ValueError(f"{where}.count: one process runs the pool's whole crowd of lenders; give count = 1 "
                         f"(got {group.count})")
    if group.name == "lender":
        raise ValueError(f"{where}.name: the group's address lender/0 would be the pool's first lender; name it otherwise")
    entry = scenario.protocols.get(params.pool)
    if entry is None:
        return
    pool = entry[1]
    symbols = [r.symbol for r in pool.reserves]
    if params.asset not in symbols:
        raise ValueError(f"{where}.params.asset: {params.asset!r} is not a reserve of {params.pool} "
                         f"(reserves: {', '.join(symbols)})")
    if pool.lenders is None:
        raise ValueError(f"{where}.params.pool: {params.pool} has one account 'lenders', not a crowd: give it "
                         f"protocols.{params.pool}.lenders = {{count = ...}}")
