"""Protocol models and their agents. ``register_builtins`` is the ``defisim.protocols`` entry point."""
from . import amm, cex, lending, maker, oracles, perps, stablecoins, token

__all__ = ["register_builtins"]


def register_builtins(registry) -> None:
    """Register every built-in protocol and agent kind with ``registry``."""
    token.register(registry)
    oracles.register(registry)
    lending.register(registry)
    amm.register(registry)
    perps.register(registry)
    cex.register(registry)
    stablecoins.register(registry)
    maker.register(registry)
