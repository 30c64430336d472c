"""Time helpers shared by the stand-ins: one wire format, one clock."""

from __future__ import annotations

import datetime as dt
import threading
import time

UTC = dt.UTC


def iso(value: dt.datetime | None) -> str | None:
    """PagerDuty's and AWS's wire format for an instant: UTC, whole seconds, a `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 instant (`Z`, an offset, or none meaning UTC; a bare date is midnight UTC).

    Raises ValueError on anything else, so the HTTP layer can answer 400.
    """
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def add_months(value: dt.datetime, months: int) -> dt.datetime:
    """`value` moved by whole calendar months, the day clamped to the target month's length."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - dt.timedelta(days=1)).day
    return value.replace(year=year, month=month, day=min(value.day, last_day))


def month_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, 1, tzinfo=UTC)


class Clock:
    """Sandbox time: the `--now` anchor plus the wall time elapsed since the process started.

    Anchored so that a fixed `--now` makes seeded history and "current" answers (on-call now,
    default query windows) deterministic, yet still moving so events received later sort later.
    """

    def __init__(self, anchor: dt.datetime | None = None) -> None:
        self.anchor = (anchor or dt.datetime.now(UTC)).astimezone(UTC)
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            elapsed = time.monotonic() - self._started
        return self.anchor + dt.timedelta(seconds=elapsed)

    def restart(self) -> None:
        """Back to the anchor (a reset restores the pristine state, time included)."""
        with self._lock:
            self._started = time.monotonic()
