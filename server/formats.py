"""Plain value helpers shared by services and the web layer: money as yuan, local times, plausible row ids."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

MAX_ID = 2**63  # BIGINT: a larger id would make PostgreSQL raise instead of finding nothing


def is_id(value) -> bool:
    """A plausible row id: a positive integer that fits a BIGINT (larger ones would make PostgreSQL raise)."""
    return type(value) is int and 0 < value < MAX_ID


def local_time(moment: datetime, tz: str) -> str:
    """A moment as yyyy-MM-dd HH:mm in time zone `tz`."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def yuan(fen: int) -> str:
    """Integer fen as yuan text, exactly: -650 → '-6.50'."""
    fen = int(fen)  # PostgreSQL's sum() of BIGINT arrives as a Decimal
    sign, fen = ("-" if fen < 0 else ""), abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
