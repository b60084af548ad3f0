"""What a scenario's parameters may name and how large they may be.

**Names.** A parameter that names something else of the scenario is annotated with a
:class:`Ref`: :data:`VenueName` (a key of ``markets.venues``), :data:`FeedAsset` (a key of
``markets.feeds``), :data:`ProtocolName` / :func:`protocol_of` (a key of ``protocols``,
optionally of a given kind). The loader (:mod:`defisim.scenario.checks`) finds these
annotations in the engine's and every protocol's and agent's params model and reports a name
that does not exist with the dotted path and the names there are.

**Files.** :data:`FilePath` is a path to an existing file. A relative path is looked up in the
directories the loader gives in the validation context (``context={"search_dirs": [...]}``:
the scenario file's directory, then those of the files it extends), never in the working
directory; the value becomes the absolute path, so a validated scenario reads the same file
wherever it runs.

**Sizes.** :func:`check_fits_in_memory` refuses a count of things whose estimated memory
exceeds what this machine has, with the estimate in the message; :data:`UNIT_LIMITS` are the
plausible magnitudes of a quantity by the unit in its name (``_usd``, ``_gwei`` ...).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo

__all__ = [
    "Ref",
    "VenueName",
    "FeedAsset",
    "ProtocolName",
    "GasVenue",
    "protocol_of",
    "FilePath",
    "resolve_file",
    "UNIT_LIMITS",
    "DEFAULT_LIMIT",
    "protocol_filling",
    "unit_limit",
    "machine_memory_bytes",
    "format_bytes",
    "check_fits_in_memory",
    "population_count",
]


@dataclass(frozen=True)
class Ref:
    """Marks a string parameter as the name of something of the scenario.

    ``what`` is ``"venue"`` (``markets.venues``), ``"feed"`` (``markets.feeds``, by asset) or
    ``"protocol"`` (``protocols``); ``kinds`` restricts a protocol to kinds equal to, or starting
    with, one of the given strings (``"oracles."`` is any oracle).
    """

    what: str
    kinds: tuple[str, ...] = ()
    role: str = ""  # how the message calls it ("oracle", "token ledger", "lending pool")
    fills: str = ""  # or a view role the protocol must fill (a kind's class lists it in ``view_roles``)

    def accepts(self, kind: str, factory=None) -> bool:
        """Whether a protocol of ``kind`` (built by ``factory``, its registered class) may be named here."""
        if self.fills:
            return self.fills in getattr(factory, "view_roles", ())
        return not self.kinds or any(kind == k or (k.endswith(".") and kind.startswith(k)) for k in self.kinds)


#: The name of an off-chain venue (a key of ``markets.venues``).
VenueName = Annotated[str, Ref("venue")]
#: The asset of a price feed (a key of ``markets.feeds``).
FeedAsset = Annotated[str, Ref("feed")]
#: The name of a protocol instance of the scenario, of any kind.
ProtocolName = Annotated[str, Ref("protocol")]
#: The venue whose mid prices gas (the chain's native asset, ``chain.native_asset``) in USD; it
#: must quote that asset. ``None``: the native asset's feed prices gas, and the scenario must have one.
GasVenue = Annotated[str | None, Ref("gas_venue")]


def protocol_filling(view_role: str, role: str = ""):
    """The name of a protocol instance whose view fills ``view_role`` (e.g. ``"lending"``,
    :class:`defisim.base.roles.LendingView`), whatever its kind: its class lists the role in
    ``view_roles``."""
    return Annotated[str, Ref("protocol", (), role, fills=view_role)]


def protocol_of(*kinds: str, role: str = ""):
    """The name of a protocol instance of one of ``kinds`` (a kind ending in ``.`` is a family).

    >>> from typing import get_args
    >>> get_args(protocol_of("oracles.", role="oracle"))[1].accepts("oracles.push")
    True
    """
    return Annotated[str, Ref("protocol", tuple(kinds), role)]


def resolve_file(value: str, info: ValidationInfo) -> str:
    """The absolute path of an existing file named by ``value`` (see the module docstring)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a file path")
    path = Path(value).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        context = info.context or {}
        dirs = context.get("search_dirs") or ([context["base_dir"]] if context.get("base_dir") else ())
        if not dirs:
            raise ValueError(f"relative path {value!r} with no scenario file to resolve it against: give an absolute path")
        candidates = [Path(d) / path for d in dirs]
    for c in candidates:
        if c.is_file():
            return str(c.resolve())
    if path.is_absolute():
        raise ValueError(f"{path}: file not found")
    raise ValueError(f"file not found: {value} (looked in {', '.join(str(c.parent) for c in candidates)})")


#: A path to an existing file, resolved against the scenario's directory (see the module docstring).
FilePath = Annotated[str, AfterValidator(resolve_file)]

#: Largest magnitude of a quantity by the unit its name ends in: a wider value is a typo or
#: hostile input, never a scenario (a quadrillion dollars is ten times the world's output; a
#: million gwei per gas is 0.001 ETH per unit of gas).
UNIT_LIMITS = {
    "_usd": 1e15,
    "_gwei": 1e6,
    "_bps": 1e6,
    "_annual": 1e3,
    "_per_year": 1e6,
    "_per_block": 1e5,
    "_per_pct": 1e15,
}
#: Largest magnitude of any other number of a scenario (token amounts in whole tokens, ratios).
DEFAULT_LIMIT = 1e18


def unit_limit(name: str) -> tuple[float, str]:
    """``(limit, unit suffix)`` for a parameter called ``name`` (``""`` when it names no unit).

    >>> unit_limit("initial_base_fee_gwei"), unit_limit("reserve0")
    ((1000000.0, '_gwei'), (1e+18, ''))
    """
    for suffix, limit in UNIT_LIMITS.items():
        if name.endswith(suffix):
            return limit, suffix
    return DEFAULT_LIMIT, ""


def machine_memory_bytes() -> int:
    """Physical memory of this machine in bytes (``os.sysconf``; 16 GiB where it is not known)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 16 * 2**30


def format_bytes(n: float) -> str:
    """``1.5 GB`` style (powers of 1024).

    >>> format_bytes(3 * 2**30), format_bytes(512)
    ('3 GB', '512 B')
    """
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PB"  # pragma: no cover


def check_fits_in_memory(count: float, bytes_each: float, what: str, share: float = 0.5) -> None:
    """Raise ``ValueError`` when ``count`` ``what`` of about ``bytes_each`` bytes each would need
    more than ``share`` of this machine's memory; the message gives the estimate.

    >>> check_fits_in_memory(10, 100, "borrowers")
    >>> check_fits_in_memory(1e15, 400, "borrowers")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 1e+15 borrowers need about 355 PB (about 400 B each); this machine has ...
    """
    need = float(count) * float(bytes_each)
    have = machine_memory_bytes()
    if need > share * have:
        raise ValueError(f"{count:.4g} {what} need about {format_bytes(need)} (about {format_bytes(bytes_each)} each); "
                         f"this machine has {format_bytes(have)} of memory")


def population_count(bytes_each: float, what: str):
    """A count of ``what`` (accounts, borrowers) opened at the start, at about ``bytes_each`` bytes
    each: a non-negative integer refused when the population would not fit in memory
    (:func:`check_fits_in_memory`).

    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(population_count(600, "accounts")).validate_python(1000)
    1000
    """
    def fits(count: int) -> int:
        check_fits_in_memory(count, bytes_each, what)
        return count

    return Annotated[int, Field(ge=0), AfterValidator(fits)]
