"""The results floor: a run's tables and what is read from them.

:class:`Results` (tables, summary, Parquet) in :mod:`.results`, the headline crisis metrics
(:mod:`.crisis`) and the timeline figure (:mod:`.plots`). Imports only :mod:`defisim.base`.
"""
from defisim.results.results import Results, engine_summary, package_version
from defisim.results.crisis import crisis_summary, keeper_profit_usd, time_to_liquidate_s, below_1_by_block
from defisim.results.plots import timeline_figure, build_timeline, timeline_panels, HF_TABLE, HEADER_PX

__all__ = [
    "Results",
    "engine_summary",
    "package_version",
    "crisis_summary",
    "keeper_profit_usd",
    "time_to_liquidate_s",
    "below_1_by_block",
    "timeline_figure",
    "build_timeline",
    "timeline_panels",
    "HF_TABLE",
    "HEADER_PX",
]
