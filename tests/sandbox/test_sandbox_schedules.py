"""Schedule rendering (sandbox.schedules): rotations, DST, precedence, overrides, coverage."""

from __future__ import annotations

import datetime as dt

from sandbox.schedules import coverage_percent, final_entries, layer_entries, render
from sandbox.timeutil import iso

UTC = dt.UTC
WEEK = 7 * 86400


def ref(user_id):
    return {"id": user_id, "type": "user_reference"}


def layer(users, start, *, turn=WEEK, end=None, virtual_start=None):
    return {"start": iso(start), "end": iso(end) if end else None,
            "rotation_virtual_start": iso(virtual_start or start),
            "rotation_turn_length_seconds": turn, "users": [{"user": ref(u)} for u in users]}


def spans(entries):
    return [(iso(s), iso(e), u["id"]) for s, e, u in entries]


MONDAY_9_NY = dt.datetime(2026, 10, 5, 13, tzinfo=UTC)  # 09:00 EDT


def test_weekly_rotation_in_order_and_clipped_to_the_window():
    since, until = dt.datetime(2026, 10, 8, tzinfo=UTC), dt.datetime(2026, 10, 27, tzinfo=UTC)
    entries = layer_entries(layer(["A", "B", "C"], MONDAY_9_NY), "America/New_York", since, until)
    assert spans(entries) == [
        ("2026-10-08T00:00:00Z", "2026-10-12T13:00:00Z", "A"),
        ("2026-10-12T13:00:00Z", "2026-10-19T13:00:00Z", "B"),
        ("2026-10-19T13:00:00Z", "2026-10-26T13:00:00Z", "C"),
        ("2026-10-26T13:00:00Z", "2026-10-27T00:00:00Z", "A"),
    ]


def test_day_multiple_turns_keep_local_time_over_both_dst_changes():
    start = dt.datetime(2026, 3, 2, 14, tzinfo=UTC)  # Monday 09:00 EST
    spring = layer_entries(layer(["A", "B"], start), "America/New_York", start,
                           dt.datetime(2026, 3, 17, tzinfo=UTC))
    assert [iso(s) for s, _, _ in spring] == ["2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z",
                                              "2026-03-16T13:00:00Z"]
    autumn = layer_entries(layer(["A", "B"], MONDAY_9_NY), "America/New_York",
                           dt.datetime(2026, 10, 26, tzinfo=UTC), dt.datetime(2026, 11, 10, tzinfo=UTC))
    assert [iso(s) for s, _, _ in autumn][1:] == ["2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z",
                                                  "2026-11-09T14:00:00Z"]


def test_sub_day_turns_are_fixed_seconds():
    start = dt.datetime(2026, 11, 1, 4, tzinfo=UTC)
    entries = layer_entries(layer(["A", "B"], start, turn=12 * 3600), "America/New_York", start,
                            start + dt.timedelta(days=1))
    assert [iso(s) for s, _, _ in entries] == ["2026-11-01T04:00:00Z", "2026-11-01T16:00:00Z"]


def test_virtual_start_before_the_layer_start_picks_the_right_turn():
    virtual = MONDAY_9_NY - dt.timedelta(weeks=5)  # five turns earlier: 5 mod 3 = 2 -> C
    entries = layer_entries(layer(["A", "B", "C"], MONDAY_9_NY, virtual_start=virtual),
                            "America/New_York", MONDAY_9_NY, MONDAY_9_NY + dt.timedelta(days=1))
    assert entries[0][2]["id"] == "C"


def test_later_layers_and_overrides_take_precedence_and_gaps_lower_coverage():
    since, until = dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 10, 2, tzinfo=UTC)
    zone = "UTC"
    day = layer_entries(layer(["A"], since, turn=86400), zone, since, until)
    evening = layer_entries(layer(["B"], since + dt.timedelta(hours=18), turn=86400,
                                  end=since + dt.timedelta(hours=20)), zone, since, until)
    override = [(since + dt.timedelta(hours=1), since + dt.timedelta(hours=2), ref("C"))]
    final = final_entries([day, evening], override, since, until)
    assert spans(final) == [
        ("2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z", "A"),
        ("2026-10-01T01:00:00Z", "2026-10-01T02:00:00Z", "C"),
        ("2026-10-01T02:00:00Z", "2026-10-01T18:00:00Z", "A"),
        ("2026-10-01T18:00:00Z", "2026-10-01T20:00:00Z", "B"),
        ("2026-10-01T20:00:00Z", "2026-10-02T00:00:00Z", "A"),
    ]
    assert coverage_percent(final, since, until) == 100.0
    assert coverage_percent(evening, since, until) == round(100 * 2 / 24, 2)


def test_render_adds_final_schedule_and_reports_a_gap():
    since, until = dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 10, 31, tzinfo=UTC)
    schedule = {"time_zone": "America/New_York", "schedule_layers": [
        layer(["A", "B"], MONDAY_9_NY, end=dt.datetime(2026, 10, 20, tzinfo=UTC))]}
    rendered = render(schedule, [], since, until)
    final = rendered["final_schedule"]
    assert final["name"] == "Final Schedule"
    assert final["rendered_schedule_entries"][0]["start"] == "2026-10-05T13:00:00Z"
    covered = (dt.datetime(2026, 10, 20, tzinfo=UTC) - MONDAY_9_NY).total_seconds()
    assert final["rendered_coverage_percentage"] == round(100 * covered / (30 * 86400), 2)
    assert rendered["overrides_subschedule"]["rendered_schedule_entries"] == []
