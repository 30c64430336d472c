"""Maintenance windows: the 48 h notice and the 02:00-06:00 ET rule, DST days, announcement checks."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.config import load_plan
from estate_ops.domain.maintenance import (
    MaintenanceWindow,
    WindowError,
    allowed_parts,
    announcement_problems,
    format_minutes,
    rule_window,
    window_from_form,
    window_id,
)

UTC = dt.UTC
PLAN = load_plan()
RULE = PLAN.availability.maintenance
ET = PLAN.timezone


def et(y, mo, d, h, mi=0):
    return dt.datetime(y, mo, d, h, mi, tzinfo=ET).astimezone(UTC)


def window(start, end, notice=dt.timedelta(days=3), status="scheduled", wid="mw-t"):
    return MaintenanceWindow(wid, start, end, "test", start - notice, "a@b.example", status)


def test_exactly_48_hours_notice_qualifies_and_47_59_does_not():
    start, end = et(2026, 10, 21, 2), et(2026, 10, 21, 6)
    assert rule_window(window(start, end, dt.timedelta(hours=48)), RULE, ET).qualifies == "yes"
    late = rule_window(window(start, end, dt.timedelta(hours=47, minutes=59)), RULE, ET)
    assert late.qualifies == "no" and late.excluded_parts == ()
    assert "47 h 59 min ahead, 1 min short of the 48 h notice" in "; ".join(late.reasons)


def test_cancelled_window_excludes_nothing():
    ruling = rule_window(window(et(2026, 10, 21, 2), et(2026, 10, 21, 6), status="cancelled"), RULE, ET)
    assert ruling.qualifies == "no" and ruling.excluded_parts == ()
    assert any("cancelled" in r for r in ruling.reasons)


def test_window_running_past_six_is_excluded_only_until_six():
    ruling = rule_window(window(et(2026, 10, 16, 5), et(2026, 10, 16, 7)), RULE, ET)
    assert ruling.qualifies == "partly"
    assert ruling.excluded_parts == ((et(2026, 10, 16, 5), et(2026, 10, 16, 6)),)
    assert any("1 h 0 min outside" in r for r in ruling.reasons)


def test_window_entirely_outside_hours_does_not_qualify():
    ruling = rule_window(window(et(2026, 10, 16, 12), et(2026, 10, 16, 13)), RULE, ET)
    assert ruling.qualifies == "no" and "entirely outside" in "; ".join(ruling.reasons)


def test_window_spanning_two_nights_excludes_both_slots():
    ruling = rule_window(window(et(2026, 10, 16, 2), et(2026, 10, 17, 6)), RULE, ET)
    assert ruling.excluded_parts == ((et(2026, 10, 16, 2), et(2026, 10, 16, 6)),
                                     (et(2026, 10, 17, 2), et(2026, 10, 17, 6)))


@pytest.mark.parametrize(
    ("day", "utc_start", "utc_end", "hours"),
    [
        # spring forward 2026-03-08: 02:00 EST does not exist; the slot is 07:00-10:00 UTC, 3 hours
        (dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 7, tzinfo=UTC), dt.datetime(2026, 3, 8, 10, tzinfo=UTC), 3),
        # fall back 2026-11-01: 02:00 EST .. 06:00 EST = 07:00-11:00 UTC, 4 hours
        (dt.date(2026, 11, 1), dt.datetime(2026, 11, 1, 7, tzinfo=UTC), dt.datetime(2026, 11, 1, 11, tzinfo=UTC), 4),
        # an ordinary summer day: 06:00-10:00 UTC
        (dt.date(2026, 7, 1), dt.datetime(2026, 7, 1, 6, tzinfo=UTC), dt.datetime(2026, 7, 1, 10, tzinfo=UTC), 4),
    ],
)
def test_dst_days_window_covering_the_whole_night(day, utc_start, utc_end, hours):
    # A window from local midnight to 08:00 covers the slot; only the slot is excluded.
    start = dt.datetime.combine(day, dt.time(0), tzinfo=ET).astimezone(UTC)
    end = dt.datetime.combine(day, dt.time(8), tzinfo=ET).astimezone(UTC)
    ruling = rule_window(window(start, end), RULE, ET)
    assert ruling.excluded_parts == ((utc_start, utc_end),)
    assert (utc_end - utc_start) == dt.timedelta(hours=hours)


def test_announcement_problems_say_which_rule_and_by_how_much():
    w = MaintenanceWindow("mw-x", et(2026, 11, 5, 1, 30), et(2026, 11, 5, 7), "r",
                          et(2026, 11, 5, 1, 30) - dt.timedelta(hours=47), "a@b.example")
    problems = announcement_problems(w, RULE, ET)
    assert len(problems) == 3
    assert "starts 30 min before 02:00" in problems[0]
    assert "ends 1 h 0 min after 06:00" in problems[1]
    assert "announced 47 h 0 min ahead" in problems[2] and "(1 h 0 min short)" in problems[2]
    ok = MaintenanceWindow("mw-y", et(2026, 11, 5, 2), et(2026, 11, 5, 6), "r",
                           et(2026, 11, 5, 2) - dt.timedelta(hours=48), "a@b.example")
    assert announcement_problems(ok, RULE, ET) == []


def test_a_window_already_started_says_so():
    w = MaintenanceWindow("mw-z", et(2026, 11, 5, 2), et(2026, 11, 5, 6), "r", et(2026, 11, 5, 3), "a@b.example")
    (problem,) = announcement_problems(w, RULE, ET)
    assert problem.startswith("starts 1 h 0 min before this announcement (2026-11-05 08:00 UTC)")


def test_window_from_form_is_dst_aware():
    start, end = window_from_form(day="2026-11-05", start="02:00", duration_minutes=240, tz=ET)
    assert (start, end) == (dt.datetime(2026, 11, 5, 7, tzinfo=UTC), dt.datetime(2026, 11, 5, 11, tzinfo=UTC))
    start, _ = window_from_form(day="2026-10-21", start="02:00", duration_minutes=240, tz=ET)
    assert start == dt.datetime(2026, 10, 21, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"day": "2026-13-01", "start": "02:00", "duration_minutes": 240}, "date must be YYYY-MM-DD"),
        ({"day": "2026-11-05", "start": "2am", "duration_minutes": 240}, "start must be HH:MM"),
        ({"day": "2026-11-05", "start": "02:00", "duration_minutes": 0}, r"more than 0 minutes \(end after start\)"),
        ({"day": "2026-11-05", "start": "02:00", "duration_minutes": -30}, "more than 0 minutes"),
        ({"day": "2026-11-05", "start": "02:00", "duration_minutes": "four"}, "whole number of minutes"),
    ],
)
def test_bad_form_input(kwargs, message):
    with pytest.raises(WindowError, match=message):
        window_from_form(tz=ET, **kwargs)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"id": "mw-1", "start": "2026-10-21T10:00:00Z", "end": "2026-10-21T06:00:00Z",
          "announced_at": "2026-10-18T00:00:00Z"}, "end 2026-10-21 06:00 UTC is not after start"),
        ({"id": "mw-1", "start": "2026-10-21T06:00:00", "end": "2026-10-21T10:00:00Z",
          "announced_at": "2026-10-18T00:00:00Z"}, "start .* has no time zone"),
        ({"id": "mw-1", "start": "yesterday", "end": "2026-10-21T10:00:00Z",
          "announced_at": "2026-10-18T00:00:00Z"}, "start must be an ISO 8601"),
        ({"id": "mw-1", "start": "2026-10-21T06:00:00Z", "end": "2026-10-21T10:00:00Z"}, r"missing field\(s\) \['announced_at'\]"),
        ({"id": "mw-1", "start": "2026-10-21T06:00:00Z", "end": "2026-10-21T10:00:00Z",
          "announced_at": "2026-10-18T00:00:00Z", "status": "maybe"}, "status must be one of"),
    ],
)
def test_bad_records_name_the_source_and_field(record, message):
    with pytest.raises(WindowError, match=message) as err:
        MaintenanceWindow.from_record(record, "s3://bucket/maintenance/windows/mw-1.json")
    assert str(err.value).startswith("s3://bucket/maintenance/windows/mw-1.json")


def test_window_id_is_stable_per_run_and_distinct_across_runs():
    start = dt.datetime(2026, 11, 5, 7, tzinfo=UTC)
    assert window_id(start, ET, "run-a") == window_id(start, ET, "run-a")
    assert window_id(start, ET, "run-a") != window_id(start, ET, "run-b")
    assert window_id(start, ET, "run-a").startswith("mw-20261105-0200-")


def test_format_minutes():
    assert [format_minutes(m) for m in (0, 59, 60, 125, -61)] == ["0 min", "59 min", "1 h 0 min", "2 h 5 min",
                                                                   "-1 h 1 min"]


def test_allowed_parts_ignore_a_window_in_the_afternoon_of_a_dst_day():
    w = window(dt.datetime(2026, 3, 8, 18, tzinfo=UTC), dt.datetime(2026, 3, 8, 20, tzinfo=UTC))
    assert allowed_parts(w, RULE, ET) == []
