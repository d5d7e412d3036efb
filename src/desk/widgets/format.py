"""How values are written on screen: money in yuan, instants in Shanghai time, cell widths."""

from __future__ import annotations

from datetime import date, datetime

from rich.cells import cell_len

from desk.clock import SHANGHAI


def yuan(cents: int | None) -> str:
    """Fen as yuan with two decimals: ``1250`` → ``¥12.50``, ``-5`` → ``-¥0.05``."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, fen = divmod(abs(cents), 100)
    return f"{sign}¥{whole:,}.{fen:02d}"


def local_time(instant: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An aware instant in Asia/Shanghai; naive values are refused, None shows as ``""``."""
    if instant is None:
        return ""
    if instant.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone")
    return instant.astimezone(SHANGHAI).strftime(pattern)


def local_date(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def pad_cells(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` terminal cells (a CJK character takes two)."""
    return text + " " * max(0, width - cell_len(text))
