"""Months, days and the plan's local time: which period a run is for, and where ET windows fall.

Time is timezone-aware and UTC inside; America/New_York only where the plan says ET.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(ValueError):
    """A period given by a user (a `month` or `date` param) is not valid."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(str(text).strip())
        if not match:
            raise PeriodError(f"month must be YYYY-MM (e.g. 2026-10), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    @property
    def days(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=i) for i in range(self.last_day.day)]

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def start(self, tz: dt.tzinfo = UTC) -> dt.datetime:
        """The month's first instant in `tz` (UTC unless the contract says otherwise)."""
        return dt.datetime.combine(self.first_day, dt.time(), tzinfo=tz)

    def end(self, tz: dt.tzinfo = UTC) -> dt.datetime:
        """The first instant after the month (exclusive bound)."""
        return self.next().start(tz)

    def minutes(self, tz: dt.tzinfo = UTC) -> int:
        # Subtract in UTC: Python subtracts same-tzinfo datetimes as wall times, ignoring DST.
        return int((self.end(tz).astimezone(UTC) - self.start(tz).astimezone(UTC)).total_seconds() // 60)


def report_month(logical_date: dt.datetime, param: str | None, *, now: dt.datetime | None = None) -> Month:
    """The month a monthly job reports on.

    Airflow's default timetable gives zero-length data intervals, so the month is decided here:
    the `month` param of a manual run when given, else the calendar month before the run's date.
    A month that has not ended yet cannot be reported.
    """
    if logical_date.tzinfo is None:
        raise PeriodError("logical_date must be timezone-aware")
    now = now or dt.datetime.now(UTC)
    if param not in (None, ""):
        month = Month.parse(param)
        if month.end() > now:
            raise PeriodError(f"month {month} has not ended yet (now is {now:%Y-%m-%d %H:%M} UTC)")
        return month
    return Month.of(logical_date.astimezone(UTC).date()).previous()


def report_day(logical_date: dt.datetime, param: str | None, *, now: dt.datetime | None = None) -> dt.date:
    """The UTC day a daily job covers: the `date` param, else the day before the run's date."""
    if logical_date.tzinfo is None:
        raise PeriodError("logical_date must be timezone-aware")
    now = now or dt.datetime.now(UTC)
    if param not in (None, ""):
        try:
            day = dt.date.fromisoformat(str(param))
        except ValueError:
            raise PeriodError(f"date must be YYYY-MM-DD, got {param!r}") from None
        if dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=UTC) > now:
            raise PeriodError(f"day {day} has not ended yet (now is {now:%Y-%m-%d %H:%M} UTC)")
        return day
    return logical_date.astimezone(UTC).date() - dt.timedelta(days=1)


def local_window_utc(day: dt.date, start: dt.time, end: dt.time, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """A local wall-clock window on `day` (e.g. 02:00-06:00 ET) as UTC instants.

    zoneinfo gives the right offsets: 07:00-11:00 UTC in winter, 06:00-10:00 in summer. On the
    spring-forward day 02:00 does not exist; fold=0 reads a skipped wall time with the offset
    before the jump, which is the instant the clocks jump (03:00 EDT), so that window is 3 hours.
    """
    local_start = dt.datetime.combine(day, start, tzinfo=tz)
    local_end = dt.datetime.combine(day, end, tzinfo=tz)
    return local_start.astimezone(UTC), local_end.astimezone(UTC)


def utc(value: dt.datetime) -> dt.datetime:
    """Normalise an aware datetime to UTC; a naive one is an error, never assumed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)
