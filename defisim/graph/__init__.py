"""The exposure graph and contagion analytics.

- :mod:`.exposure`: :class:`ExposureGraph`, built from a run's protocols, a scenario's
  ``[ecosystem]`` or a CSV/JSON file; :mod:`.recorder`: snapshots and losses along edges in a run.
- Analytics, free functions with a readable reference (``*_python``) and a fast scipy.sparse
  version tested against each other: :mod:`.clearing` (Eisenberg–Noe, Rogers–Veraart),
  :mod:`.debtrank`, :mod:`.cascades` (threshold cascades, fire sales), :mod:`.rehypothecation`
  (TVL double counting, loops, layers, concentration); :mod:`.matrix` compiles a graph to CSR.
"""
from defisim.graph import cascades, clearing, debtrank, matrix, rehypothecation
from defisim.graph.exposure import ExposureGraph, Exposure, Node
from defisim.graph.rehypothecation import loop_leverage
from defisim.graph.spec import EcosystemSpec, ExposureSpec

__all__ = ["ExposureGraph", "Exposure", "Node", "EcosystemSpec", "ExposureSpec", "loop_leverage",
           "cascades", "clearing", "debtrank", "matrix", "rehypothecation"]
