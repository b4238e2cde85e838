"""Time as Redline writes it: RFC 3339 in UTC with a `Z`."""

from __future__ import annotations

import datetime as dt
import time


def utcnow(at: float | None = None, timespec: str = "microseconds") -> str:
    """The time `at` (Unix seconds; now when None), e.g. `2026-01-31T12:00:00.000000Z`."""
    instant = dt.datetime.fromtimestamp(time.time() if at is None else at, dt.UTC)
    return instant.isoformat(timespec=timespec).replace("+00:00", "Z")
