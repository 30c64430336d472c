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

    def start(self, tz: dt.tzinfo) -> dt.datetime:
        """The month's first instant in `tz` (no default: which month is meant is the contract's
        choice, `plan.month_bounds(month)`; UTC only where a UTC month is meant)."""
        return dt.datetime.combine(self.first_day, dt.time(), tzinfo=tz)

    def end(self, tz: dt.tzinfo) -> dt.datetime:
        """The first instant after the month in `tz` (exclusive bound)."""
        return self.next().start(tz)

    def minutes(self, tz: dt.tzinfo) -> int:
        # Subtract in UTC: Python subtracts same-tzinfo datetimes as wall times, ignoring DST.
        return int((self.end(tz).astimezone(UTC) - self.start(tz).astimezone(UTC)).total_seconds() // 60)


@dataclass(frozen=True)
class MonthBounds:
    """One contract month as instants: every monthly figure covers exactly these minutes.

    `start`/`end` are UTC (end exclusive). The month's days are its calendar days in `tz`; in a
    zone with DST one of them is 23 or 25 hours long, so the ET March has 44,580 minutes.
    """

    month: Month
    tz: ZoneInfo
    start: dt.datetime
    end: dt.datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def timezone(self) -> str:
        return self.tz.key

    def day_start(self, day: dt.date) -> dt.datetime:
        """Where a calendar day of the month begins, in UTC."""
        return dt.datetime.combine(day, dt.time(), tzinfo=self.tz).astimezone(UTC)

    def day_edges(self) -> list[int]:
        """Minute offsets from `start` of each day's first minute, and the month's end (days + 1)."""
        edges = [int((self.day_start(d) - self.start).total_seconds() // 60) for d in self.month.days]
        return edges + [self.minutes]

    def utc_days(self) -> list[dt.date]:
        """The UTC days the month's minutes fall in (a month west of UTC straddles two at each end)."""
        first, last = self.start.date(), (self.end - dt.timedelta(minutes=1)).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    @property
    def settled_at(self) -> dt.datetime:
        """When the last UTC day holding the month's minutes has ended (daily collection is per UTC day)."""
        return dt.datetime.combine(self.utc_days()[-1] + dt.timedelta(days=1), dt.time(), tzinfo=UTC)

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end

    def as_dict(self) -> dict[str, object]:
        """The report's `period`: the bounds in the contract's zone and in UTC."""
        return {"month": str(self.month), "timezone": self.timezone,
                "start": self.start, "end": self.end,
                "start_local": self.start.astimezone(self.tz).isoformat(),
                "end_local": self.end.astimezone(self.tz).isoformat(),
                "minutes": self.minutes}

    def describe(self) -> str:
        """One line for a report header: the bounds in both zones."""
        fmt = "%Y-%m-%d %H:%M"
        local = f"{self.start.astimezone(self.tz):{fmt}} to {self.end.astimezone(self.tz):{fmt}} {self.timezone}"
        if self.timezone == "UTC":
            return f"{self.month}: {local} ({self.minutes:,} minutes)"
        return f"{self.month}: {local} = {self.start:{fmt}} to {self.end:{fmt}} UTC ({self.minutes:,} minutes)"


def month_bounds(month: Month, tz: dt.tzinfo | str) -> MonthBounds:
    """The one function every monthly computation takes its bounds from (`plan.month_bounds`)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    return MonthBounds(month, zone, month.start(zone).astimezone(UTC), month.end(zone).astimezone(UTC))


def report_month(logical_date: dt.datetime, param: str | None, *, tz: dt.tzinfo | str,
                 now: dt.datetime | None = None) -> Month:
    """The contract month (in `tz`, the plan's `contract_month_timezone`) a monthly job reports on.

    Airflow's default timetable gives zero-length data intervals, so the month is decided here:
    the `month` param of a manual run when given, else the month before the run's date in `tz`.
    A month that has not ended yet cannot be reported.
    """
    if logical_date.tzinfo is None:
        raise PeriodError("logical_date must be timezone-aware")
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))
    now = now or dt.datetime.now(UTC)
    if param not in (None, ""):
        month = Month.parse(param)
        end = month_bounds(month, zone).end
        if end > now:
            raise PeriodError(f"month {month} has not ended yet: it ends {end.astimezone(zone):%Y-%m-%d %H:%M} "
                              f"{zone.key} (now is {now:%Y-%m-%d %H:%M} UTC)")
        return month
    return Month.of(logical_date.astimezone(zone).date()).previous()


def settled_month(now: dt.datetime, tz: dt.tzinfo | str) -> Month:
    """The latest contract month whose every minute is in a UTC day that has ended by `now`:
    the month every monthly report can be made for (availability needs its last UTC day collected)."""
    month = report_month(now, None, tz=tz, now=now)
    while month_bounds(month, tz).settled_at > now:
        month = month.previous()
    return month


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
