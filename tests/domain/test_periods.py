"""Months and local windows: the month a run reports, and 02:00-06:00 ET in UTC across DST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from estate_ops.domain.periods import (
    Month,
    PeriodError,
    local_window_utc,
    month_bounds,
    report_day,
    report_month,
    settled_month,
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
    assert m.minutes(UTC) == minutes_utc
    assert m.minutes(ET) == minutes_et
    assert month_bounds(m, "UTC").minutes == minutes_utc
    assert month_bounds(m, ET).minutes == minutes_et
    assert month_bounds(m, ET).day_edges()[-1] == minutes_et


def test_a_month_has_no_default_zone():
    # Which month is meant is the contract's choice (plan.month_bounds): never a silent UTC.
    with pytest.raises(TypeError):
        Month(2026, 10).start()
    with pytest.raises(TypeError):
        report_month(NOW, None, now=NOW)


def test_et_month_bounds_in_both_zones():
    march = month_bounds(Month(2026, 3), ET)
    assert (march.start, march.end) == (dt.datetime(2026, 3, 1, 5, tzinfo=UTC), dt.datetime(2026, 4, 1, 4, tzinfo=UTC))
    assert march.minutes == 44_580
    days = [b - a for a, b in zip(march.day_edges(), march.day_edges()[1:], strict=False)]
    assert len(days) == 31 and days[7] == 1380 and days.count(1440) == 30  # 8 March: 23 hours
    assert march.utc_days()[0] == dt.date(2026, 3, 1) and march.utc_days()[-1] == dt.date(2026, 4, 1)
    assert march.settled_at == dt.datetime(2026, 4, 2, tzinfo=UTC)
    november = month_bounds(Month(2026, 11), ET)
    assert november.minutes == 43_260
    assert november.day_edges()[1] - november.day_edges()[0] == 1500  # 1 November: 25 hours
    period = november.as_dict()
    assert period["start"] == dt.datetime(2026, 11, 1, 4, tzinfo=UTC)
    assert period["end"] == dt.datetime(2026, 12, 1, 5, tzinfo=UTC)
    assert period["start_local"] == "2026-11-01T00:00:00-04:00" and period["end_local"] == "2026-12-01T00:00:00-05:00"
    assert november.describe() == ("2026-11: 2026-11-01 00:00 to 2026-12-01 00:00 America/New_York = "
                                   "2026-11-01 04:00 to 2026-12-01 05:00 UTC (43,260 minutes)")
    # 22:00 ET on the last day is in the month; 00:00 ET on the 1st is the next month's.
    assert november.contains(dt.datetime(2026, 11, 30, 22, tzinfo=ET))
    assert not november.contains(dt.datetime(2026, 12, 1, 0, tzinfo=ET))
    utc_nov = month_bounds(Month(2026, 11), "UTC")
    assert not utc_nov.contains(dt.datetime(2026, 11, 30, 22, tzinfo=ET))  # 03:00 UTC on 1 December
    assert utc_nov.utc_days() == Month(2026, 11).days and utc_nov.settled_at == utc_nov.end


@pytest.mark.parametrize("zone,now,expected", [
    # 22:00 ET on 31 October is 02:00 UTC on 1 November: still October in ET.
    ("America/New_York", dt.datetime(2026, 11, 1, 2, tzinfo=UTC), Month(2026, 9)),
    ("UTC", dt.datetime(2026, 11, 1, 2, tzinfo=UTC), Month(2026, 10)),
    ("America/New_York", dt.datetime(2026, 11, 1, 11, tzinfo=UTC), Month(2026, 10)),
])
def test_report_month_default_is_the_month_before_the_run_in_the_contract_zone(zone, now, expected):
    assert report_month(now, None, tz=zone, now=now) == expected


@pytest.mark.parametrize("zone,now,expected", [
    # ET: November ends 05:00 UTC on 1 December, its last UTC day at 00:00 on the 2nd.
    ("America/New_York", dt.datetime(2026, 12, 1, 12, tzinfo=UTC), Month(2026, 10)),
    ("America/New_York", dt.datetime(2026, 12, 2, 0, tzinfo=UTC), Month(2026, 11)),
    ("UTC", dt.datetime(2026, 12, 1, 0, tzinfo=UTC), Month(2026, 11)),
    ("UTC", dt.datetime(2026, 11, 30, 23, 59, tzinfo=UTC), Month(2026, 10)),
])
def test_settled_month_is_the_latest_month_whose_last_utc_day_has_ended(zone, now, expected):
    assert settled_month(now, zone) == expected


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


@pytest.mark.parametrize("zone", ["America/New_York", "UTC"])
def test_report_month_default_is_previous_calendar_month(zone):
    assert report_month(dt.datetime(2026, 1, 1, 11, tzinfo=UTC), None, tz=zone, now=NOW) == Month(2025, 12)
    assert report_month(dt.datetime(2026, 11, 1, 11, tzinfo=UTC), "", tz=zone, now=NOW) == Month(2026, 10)


def test_report_month_param_and_future_month():
    assert report_month(NOW, "2026-03", tz=ET, now=NOW) == Month(2026, 3)
    with pytest.raises(PeriodError, match="2026-11 has not ended yet"):
        report_month(NOW, "2026-11", tz=ET, now=NOW)
    with pytest.raises(PeriodError, match="timezone-aware"):
        report_month(dt.datetime(2026, 11, 1), None, tz=ET, now=NOW)
    # ET October ends at 04:00 UTC on 1 November: at 03:00 UTC it has not, a UTC October has.
    three = dt.datetime(2026, 11, 1, 3, tzinfo=UTC)
    with pytest.raises(PeriodError, match="2026-10 has not ended yet: it ends 2026-11-01 00:00 America/New_York"):
        report_month(three, "2026-10", tz=ET, now=three)
    assert report_month(three, "2026-10", tz="UTC", now=three) == Month(2026, 10)


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
