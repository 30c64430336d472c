"""Months and local windows: the month a run reports, and 02:00-06:00 ET in UTC across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from estate_ops.domain.periods import (
    Month,
    PeriodError,
    local_window_utc,
    report_day,
    report_month,
    utc,
)
from hypothesis import given
from hypothesis import strategies as st

ET = ZoneInfo("America/New_York")
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize("day,start_utc,hours", [
    (dt.date(2026, 1, 15), dt.datetime(2026, 1, 15, 7, tzinfo=UTC), 4),    # EST: UTC-5
    (dt.date(2026, 7, 15), dt.datetime(2026, 7, 15, 6, tzinfo=UTC), 4),    # EDT: UTC-4
    (dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 7, tzinfo=UTC), 3),      # spring forward: 02:00 skipped
    (dt.date(2026, 11, 1), dt.datetime(2026, 11, 1, 7, tzinfo=UTC), 4),    # fall back at 02:00 EDT -> 01:00 EST
    (dt.date(2026, 3, 7), dt.datetime(2026, 3, 7, 7, tzinfo=UTC), 4),
    (dt.date(2026, 3, 9), dt.datetime(2026, 3, 9, 6, tzinfo=UTC), 4),
])
def test_maintenance_window_in_utc(day, start_utc, hours):
    start, end = local_window_utc(day, dt.time(2), dt.time(6), ET)
    assert start == start_utc
    assert end - start == dt.timedelta(hours=hours)
    assert end.astimezone(ET).time() == dt.time(6)


@pytest.mark.parametrize("month,minutes_utc,minutes_et", [
    ("2026-02", 28 * 1440, 28 * 1440),
    ("2026-03", 31 * 1440, 31 * 1440 - 60),   # an ET March has one hour less
    ("2026-04", 30 * 1440, 30 * 1440),
    ("2026-11", 30 * 1440, 30 * 1440 + 60),   # and an ET November one more
    ("2028-02", 29 * 1440, 29 * 1440),
])
def test_month_minutes(month, minutes_utc, minutes_et):
    m = Month.parse(month)
    assert m.minutes() == minutes_utc
    assert m.minutes(ET) == minutes_et


@given(st.integers(min_value=1970, max_value=2100), st.integers(min_value=1, max_value=12))
def test_month_next_and_previous_are_inverse(year, month):
    m = Month(year, month)
    assert m.next().previous() == m
    assert m.next().first_day == m.last_day + dt.timedelta(days=1)
    assert len(m.days) == m.last_day.day


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-10", "2026/10", "", "october"])
def test_bad_month_param(text):
    with pytest.raises(PeriodError, match="YYYY-MM"):
        Month.parse(text)


def test_report_month_default_is_previous_calendar_month():
    assert report_month(dt.datetime(2026, 1, 1, 11, tzinfo=UTC), None, now=NOW) == Month(2025, 12)
    assert report_month(dt.datetime(2026, 11, 1, 11, tzinfo=UTC), "", now=NOW) == Month(2026, 10)


def test_report_month_param_and_future_month():
    assert report_month(NOW, "2026-03", now=NOW) == Month(2026, 3)
    with pytest.raises(PeriodError, match="2026-11 has not ended yet"):
        report_month(NOW, "2026-11", now=NOW)
    with pytest.raises(PeriodError, match="timezone-aware"):
        report_month(dt.datetime(2026, 11, 1), None, now=NOW)


def test_report_day():
    assert report_day(NOW, None, now=NOW) == dt.date(2026, 11, 26)
    assert report_day(NOW, "2026-11-20", now=NOW) == dt.date(2026, 11, 20)
    with pytest.raises(PeriodError, match="has not ended yet"):
        report_day(NOW, "2026-11-27", now=NOW)
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        report_day(NOW, "27/11/2026", now=NOW)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        utc(dt.datetime(2026, 1, 1))
