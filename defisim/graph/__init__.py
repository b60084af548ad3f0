"""The exposure graph and contagion analytics (DESIGN §7, contagion.md).

- :mod:`.exposure`: :class:`ExposureGraph`, built from a run's protocols, a scenario's
  ``[ecosystem]`` or a CSV/JSON file; :mod:`.recorder`: snapshots and losses along edges in a run.
- Analytics, free functions with a readable reference (``*_python``) and a fast scipy.sparse
  version tested against each other: :mod:`.clearing` (Eisenberg–Noe, Rogers–Veraart),
  :mod:`.debtrank`, :mod:`.cascades` (threshold cascades, fire sales), :mod:`.rehypothecation`
  (TVL double counting, loops, layers, concentration); :mod:`.matrix` compiles a graph to CSR.
"""
from . import cascades, clearing, debtrank, matrix, rehypothecation
from .exposure import ExposureGraph, Exposure, Node
from .spec import EcosystemSpec, ExposureSpec

__all__ = ["ExposureGraph", "Exposure", "Node", "EcosystemSpec", "ExposureSpec",
           "cascades", "clearing", "debtrank", "matrix", "rehypothecation"]
