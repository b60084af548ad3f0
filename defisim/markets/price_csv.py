"""The price-path file format of a CSV feed: reading and checking ``t,price`` files.

Read when the feed's spec is validated (:class:`defisim.markets.spec.CsvFeedSpec`), so a bad
file fails with the scenario, and again when :class:`defisim.markets.feeds.CsvFeed` replays it.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from defisim.base.units import parse_duration_ms

__all__ = ["FeedFileError", "read_price_csv"]


class FeedFileError(ValueError):
    """A price file that cannot be replayed; the message names the file, the line and the reason."""


def _read_time_ms(cell: str) -> int:
    """Seconds (``"90"``, ``"0.5"``) or a duration string (``"1m30s"``) → whole ms."""
    try:
        seconds = float(cell)
    except ValueError:
        return parse_duration_ms(cell)  # raises ValueError with its own reason
    if not math.isfinite(seconds):
        raise ValueError(f"time {cell!r} is not finite")
    if seconds < 0:
        raise ValueError(f"time {cell!r} must not be negative")
    ms = round(seconds * 1000.0)
    if abs(seconds * 1000.0 - ms) > 1e-6:
        raise ValueError(f"time {cell!r} is not a whole number of milliseconds")
    return int(ms)


def read_price_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check a price path file: ``(times_ms int64, prices_usd float64)``.

    Format: a header naming the columns ``t`` and ``price`` (other columns are ignored), then
    one row per point. ``t`` is the time from the start of the run, in seconds (``90``,
    ``0.5``) or as a duration string (``1m30s``); times must increase strictly. ``price`` is
    USD per token, positive and finite. Blank lines and lines starting with ``#`` are skipped.

    Raises
    ------
    FeedFileError
        Naming the file, the line (1-based) and the reason: missing file, bad header, a value
        that cannot be read, a time not after the previous one, a price not positive and
        finite, no rows.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "eth.csv")
    ...     _ = open(p, "w").write("t,price\\n0,2000\\n1m,1900.5\\n")
    ...     times_ms, prices_usd = read_price_csv(p)
    >>> times_ms.tolist(), prices_usd.tolist()
    ([0, 60000], [2000.0, 1900.5])
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise FeedFileError(f"{where}: file not found" if not path.exists() else f"{where}: not a file")
    times: list[int] = []
    prices: list[float] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header: list[str] | None = None
            col_t = col_p = -1
            prev_line = 0
            for row in reader:
                line = reader.line_num
                cells = [c.strip() for c in row]
                if not cells or all(not c for c in cells) or cells[0].startswith("#"):
                    continue
                if header is None:
                    header = [c.lower() for c in cells]
                    if "t" not in header or "price" not in header:
                        raise FeedFileError(
                            f"{where}, line {line}: the header must name the columns 't' and 'price', "
                            f"got {','.join(cells)!r}"
                        )
                    col_t, col_p = header.index("t"), header.index("price")
                    continue
                if len(cells) <= max(col_t, col_p):
                    raise FeedFileError(f"{where}, line {line}: expected {len(header)} columns, got {len(cells)}")
                try:
                    t_ms = _read_time_ms(cells[col_t])
                except ValueError as exc:
                    raise FeedFileError(f"{where}, line {line}: cannot read time {cells[col_t]!r}: {exc}") from None
                try:
                    price = float(cells[col_p])
                except ValueError:
                    raise FeedFileError(f"{where}, line {line}: cannot read price {cells[col_p]!r}") from None
                if not (price > 0 and math.isfinite(price)):
                    raise FeedFileError(f"{where}, line {line}: price {cells[col_p]} must be positive and finite")
                if times and t_ms <= times[-1]:
                    raise FeedFileError(
                        f"{where}, line {line}: time {cells[col_t]} ({t_ms} ms) is not after the previous time "
                        f"({times[-1]} ms, line {prev_line}); times must increase strictly"
                    )
                times.append(t_ms)
                prices.append(price)
                prev_line = line
    except UnicodeDecodeError as exc:
        raise FeedFileError(f"{where}: not a UTF-8 text file ({exc.reason})") from None
    except csv.Error as exc:
        raise FeedFileError(f"{where}: not a readable CSV file ({exc})") from None
    if header is None:
        raise FeedFileError(f"{where}, line 1: empty file; expected a header 't,price'")
    if not times:
        raise FeedFileError(f"{where}: no price rows after the header")
    return np.asarray(times, dtype=np.int64), np.asarray(prices, dtype=np.float64)
