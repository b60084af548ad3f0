"""The results floor: a run's tables and what is read from them.

:class:`Results` (tables, summary, Parquet) in :mod:`.results`, the tables read by result role
(:mod:`.roles`), the headline crisis metrics and warnings (:mod:`.crisis`) and the timeline figure
(:mod:`.plots`). Imports only :mod:`defisim.base`.
"""
from defisim.results.results import Results, engine_summary, package_version
from defisim.results.roles import role_tables, role_frame, role_calls, role_txs, CALLS_KEY
from defisim.results.crisis import crisis_summary, run_warnings, keeper_profit_usd, time_to_liquidate_s, below_1_by_block, END_TABLE, BACKLOG_TABLE, BACKLOG_CAUSES
from defisim.results.plots import timeline_figure, build_timeline, timeline_panels, HEADER_PX

__all__ = [
    "Results",
    "engine_summary",
    "package_version",
    "role_tables",
    "role_frame",
    "role_calls",
    "role_txs",
    "CALLS_KEY",
    "crisis_summary",
    "run_warnings",
    "END_TABLE",
    "BACKLOG_TABLE",
    "BACKLOG_CAUSES",
    "keeper_profit_usd",
    "time_to_liquidate_s",
    "below_1_by_block",
    "timeline_figure",
    "build_timeline",
    "timeline_panels",
    "HEADER_PX",
]
