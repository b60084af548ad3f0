"""Integer arithmetic as the EVM does it where Python's differs, for the protocols' exact twins."""
from __future__ import annotations

__all__ = ["sdiv"]


def sdiv(x: int, y: int) -> int:
    """Solidity's signed division (the EVM's ``SDIV``): the quotient truncated toward zero, where
    Python's ``//`` floors. ``y = 0`` raises ``ZeroDivisionError`` (Solidity panics).

    >>> sdiv(-7, 2), -7 // 2, sdiv(7, -2), sdiv(7, 2)
    (-3, -4, -3, 3)
    """
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y > 0) else -q
