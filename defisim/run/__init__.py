"""The run floor: one simulation from a validated scenario.

:class:`Simulation` (:mod:`.simulation`) wires the chain, markets, protocols and agents and
collects the results; :class:`AgentContext` (:mod:`.context`) is what an agent acts through;
:mod:`.observe` records prices; :mod:`.end_loss` writes the lending books at the end of the run
(debt uncovered and still liquidatable). Imports the floors below it.
"""
from defisim.run.observe import PriceRecorder, PRICE_COLUMNS, VENUE_EVENT_COLUMNS, VENUE_TRADE_COLUMNS
from defisim.run.context import AgentContext
from defisim.run.end_loss import END_COLUMNS, collateral_prices, book_at_end, record_books_at_end
from defisim.run.simulation import Simulation, ProtocolHost, run_scenario

__all__ = [
    "PriceRecorder",
    "PRICE_COLUMNS",
    "VENUE_EVENT_COLUMNS",
    "VENUE_TRADE_COLUMNS",
    "AgentContext",
    "END_COLUMNS",
    "collateral_prices",
    "book_at_end",
    "record_books_at_end",
    "Simulation",
    "ProtocolHost",
    "run_scenario",
]
