"""The base floor: what every other part of the engine stands on, importing nothing of it.

Time in integer milliseconds and units (:mod:`.units`), the seeded random-stream tree (:mod:`.rng`),
transactions and receipts (:mod:`.tx`), the event log (:mod:`.eventlog`), struct-of-arrays
tables (:mod:`.tables`) and the address books that name their rows (:mod:`.addresses`), the
protocol interface (:mod:`.protocol`) and the result roles it fills (:mod:`.roles`), the registry
of protocol and agent kinds (:mod:`.registry`), the parameter distributions (:mod:`.distributions`),
and the annotations of names, files and sizes that scenarios are checked by (:mod:`.checks`).
"""
from defisim.base.units import MS_PER, parse_duration_ms, format_duration_ms, duration_string, DurationMs, GWEI, unit
from defisim.base.rng import RngTree, stream_key, ChunkedDraws
from defisim.base.tx import Call, Tx, Receipt, TxStatus, Revert
from defisim.base.eventlog import Column, EventTable, EventLog
from defisim.base.tables import Table
from defisim.base.addresses import AddressBook, AddressRange
from defisim.base.roles import (RoleField, Role, ROLES, LIQUIDATION_CALL, fill_role, Positions, LiquidationQuotes, LendingView,
                                largest_debts_of)
from defisim.base.protocol import Protocol, handler, HandlerSpec, BlockInfo, is_number
from defisim.base.registry import Registry, KindEntry, default_registry
from defisim.base.distributions import Fixed, Uniform, LogNormal, Exponential, Distribution, LatencyMs
from defisim.base.checks import (Ref, VenueName, FeedAsset, ProtocolName, GasVenue, protocol_of, protocol_filling, FilePath,
                                 check_fits_in_memory, population_count)

__all__ = [
    "RoleField",
    "Role",
    "ROLES",
    "LIQUIDATION_CALL",
    "fill_role",
    "Positions",
    "LiquidationQuotes",
    "LendingView",
    "largest_debts_of",
    "MS_PER",
    "parse_duration_ms",
    "format_duration_ms",
    "duration_string",
    "unit",
    "DurationMs",
    "GWEI",
    "RngTree",
    "stream_key",
    "ChunkedDraws",
    "Call",
    "Tx",
    "Receipt",
    "TxStatus",
    "Revert",
    "Column",
    "EventTable",
    "EventLog",
    "Table",
    "AddressBook",
    "AddressRange",
    "Protocol",
    "handler",
    "HandlerSpec",
    "BlockInfo",
    "is_number",
    "Registry",
    "KindEntry",
    "default_registry",
    "Fixed",
    "Uniform",
    "LogNormal",
    "Exponential",
    "Distribution",
    "LatencyMs",
    "Ref",
    "VenueName",
    "FeedAsset",
    "ProtocolName",
    "GasVenue",
    "protocol_of",
    "protocol_filling",
    "FilePath",
    "check_fits_in_memory",
    "population_count",
]
