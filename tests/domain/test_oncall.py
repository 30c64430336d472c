"""On-call rules: coverage and gaps from the rendered final schedule, weekly rotation, escalation levels."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from estate_ops.config import load_plan
from estate_ops.domain.oncall import (
    build_oncall_section,
    coverage,
    escalation_levels,
    rotation_problems,
)
from hypothesis import given, settings
from hypothesis import strategies as st

UTC = dt.UTC
START = dt.datetime(2026, 10, 1, tzinfo=UTC)
END = dt.datetime(2026, 11, 1, tzinfo=UTC)
PLAN = load_plan()
WEEK = 7 * 86400


def h(hours: float) -> dt.datetime:
    return START + dt.timedelta(hours=hours)


def test_full_coverage_has_no_gap():
    entries = [(START, h(100), "U1"), (h(100), END, "U2")]
    assert coverage(entries, START, END) == (Decimal("100.00"), [])


def test_gaps_at_start_middle_and_end_are_listed():
    entries = [(h(2), h(10), "U1"), (h(16), h(700), "U2")]
    percent, gaps = coverage(entries, START, END)
    assert [(g.start, g.end) for g in gaps] == [(START, h(2)), (h(10), h(16)), (h(700), END)]
    assert gaps[1].minutes == Decimal("360.0")
    total_gap_hours = 2 + 6 + (744 - 700)
    assert percent == (Decimal(744 - total_gap_hours) * 100 / 744).quantize(Decimal("0.01"), rounding="ROUND_DOWN")


def test_overlapping_entries_and_entries_beyond_the_window():
    entries = [(START - dt.timedelta(days=3), h(50), "U1"), (h(40), h(60), "U2"), (h(60), END + dt.timedelta(days=2), "U3")]
    assert coverage(entries, START, END) == (Decimal("100.00"), [])


def test_one_second_gap_is_never_shown_as_100_percent():
    entries = [(START, h(10), "U1"), (h(10) + dt.timedelta(seconds=1), END, "U2")]
    percent, gaps = coverage(entries, START, END)
    assert percent < 100 and len(gaps) == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-100, 800), st.integers(0, 200)), max_size=12))
def test_covered_plus_gaps_is_the_whole_window(spans):
    entries = [(h(s), h(s + length), f"U{i}") for i, (s, length) in enumerate(spans)]
    percent, gaps = coverage(entries, START, END)
    gap_seconds = sum((g.end - g.start).total_seconds() for g in gaps)
    # covered time, counted independently on a one-hour grid (all bounds are whole hours)
    covered_hours = sum(1 for k in range(744) if any(h(s) <= h(k) < h(s + n) for s, n in spans))
    covered = covered_hours * 3600
    assert covered + gap_seconds == 744 * 3600
    assert all(START <= g.start < g.end <= END for g in gaps)
    assert Decimal(0) <= percent <= 100


def _layer(turn=WEEK, users=("U1", "U2"), start="2026-01-05T14:00:00Z", end=None, name="L"):
    return {"name": name, "start": start, "end": end, "rotation_turn_length_seconds": turn,
            "users": [{"user": {"id": u}} for u in users]}


@pytest.mark.parametrize("layers,problem", [
    ([_layer()], None),
    ([_layer(turn=86400)], "hands off every 1 days, the plan says 7"),
    ([_layer(users=("U1",))], "has 1 user(s): nobody rotates"),
    ([_layer(end="2026-09-01T00:00:00Z"), _layer(turn=86400, start="2026-09-01T00:00:00Z")], "every 1 days"),
    ([_layer(turn=86400, end="2026-09-01T00:00:00Z"), _layer(start="2026-09-01T00:00:00Z")], None),  # old layer ignored
    ([_layer(start="2026-12-01T00:00:00Z")], "no layer is active"),
])
def test_primary_rotation(layers, problem):
    problems = rotation_problems({"id": "PS", "schedule_layers": layers}, START, END, 7)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def _policy(*levels):
    return {"id": "PPOL", "escalation_rules": [
        {"targets": [{"type": f"{kind}_reference", "id": tid} for kind, tid in level]} for level in levels]}


ROLES = [("tech_lead", "UTL"), ("pm", "UPM"), ("sponsor", "USP")]
GOOD = [[("schedule", "PRI")], [("schedule", "SEC")], [("user", "UTL")], [("user", "UPM")], [("user", "USP")]]


@pytest.mark.parametrize("levels,roles,bad", [
    (GOOD, ROLES, []),
    ([GOOD[1], GOOD[0], *GOOD[2:]], ROLES, [1, 2]),                  # schedules swapped
    ([GOOD[0], GOOD[1], GOOD[3], GOOD[2], GOOD[4]], ROLES, [3, 4]),  # PM before Tech Lead
    (GOOD[:4], ROLES, [5]),                                          # no sponsor level
    ([*GOOD, [("user", "UX")]], ROLES, [6]),                         # a level the plan lacks
    ([[("schedule", "PRI"), ("user", "UX")], *GOOD[1:]], ROLES, [1]),  # extra target on level 1
    (GOOD, [("tech_lead", "UTL"), ("pm", None), ("sponsor", "USP")], [4]),  # role not in estate.yaml
])
def test_escalation_levels(levels, roles, bad):
    rows = escalation_levels(_policy(*levels), "PRI", "SEC", roles)
    assert [r["level"] for r in rows if not r["ok"]] == bad


def _rendered(sid, entries, layers):
    return {"id": sid, "schedule_layers": layers,
            "final_schedule": {"rendered_schedule_entries": [
                {"start": s.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": e.strftime("%Y-%m-%dT%H:%M:%SZ"), "user": {"id": u}}
                for s, e, u in entries]}}


def test_section_findings_one_per_gap_and_mismatch():
    primary = _rendered("PRI", [(START, END, "U1")], [_layer()])
    secondary = _rendered("SEC", [(START, h(10), "U2"), (h(16), END, "U3")], [_layer()])
    policy = _policy(*GOOD[:2], [("user", "UPM")], [("user", "UTL")], GOOD[4])
    section = build_oncall_section(PLAN, {"primary": primary, "secondary": secondary}, policy, primary="PRI",
                                   secondary="SEC", escalation_roles={"tech_lead": "UTL", "pm": "UPM", "sponsor": "USP"},
                                   since=START, until=END, period="2026-10")
    kinds = sorted((f.kind, f.resource) for f in section["findings"])
    assert kinds == [("escalation_mismatch", "PPOL/level-3"), ("escalation_mismatch", "PPOL/level-4"),
                     ("oncall_coverage_gap", "SEC@2026-10-01T10:00Z")]
    assert all(f.severity == "P2" for f in section["findings"])
    assert section["items"]["oncall_gaps"][0]["length_hours"] == Decimal("6.00")


def test_schedule_without_final_schedule_is_a_clear_error():
    with pytest.raises(TypeError, match="schedule PRI: the answer has no final_schedule"):
        build_oncall_section(PLAN, {"primary": {"id": "PRI"}, "secondary": {"id": "SEC"}}, _policy(), primary="PRI",
                             secondary="SEC", escalation_roles={}, since=START, until=END, period="2026-10")
