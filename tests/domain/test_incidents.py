"""Incident SLA timing rules: response from the first acknowledgement (or the resolve), P3 by the
next release, pending vs breached at the report's as_of, post-mortems, percentiles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from estate_ops.domain.incidents import (
    BREACHED,
    MET,
    PENDING,
    Evidence,
    IncidentDataError,
    IncidentSettings,
    LogFacts,
    build_incident_report,
    compliance_percent,
    evaluate,
    log_facts,
    median_seconds,
    nearest_rank,
    parse_incident,
    postmortem_status,
    release_deadline,
    targets_from_plan,
)
from estate_ops.domain.periods import Month
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.contract_month import plan_for

UTC = dt.UTC
ET = ZoneInfo("America/New_York")
OCT = Month(2026, 10)
AS_OF = dt.datetime(2026, 11, 2, 12, tzinfo=UTC)
PLAN = plan_for("UTC")  # hand-computed UTC months; the ET month's cases: test_contract_month.py
OCT_BOUNDS = PLAN.month_bounds(OCT)
TARGETS = targets_from_plan(PLAN)
RELEASES = [dt.date(2026, 10, 13), dt.date(2026, 10, 27), dt.date(2026, 11, 10)]
PMAP = {"PP0": "P0", "PP1": "P1", "PP2": "P2", "PP3": "P3"}
SETTINGS = IncidentSettings({"PSVC": "API"}, PMAP, RELEASES, "https://x.pagerduty.com",
                            r"(?i)post-?mortem:\s*(https?://\S+)")


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def raw(iid="PINC1", created="2026-10-05T10:00:00", resolved=None, priority="PP1", number=1, service="PSVC"):
    return {"id": iid, "incident_number": number, "title": f"incident {iid}", "status": "resolved" if resolved else "triggered",
            "created_at": created + "Z", "resolved_at": resolved + "Z" if resolved else None,
            "priority": {"id": priority, "name": priority} if priority else None,
            "service": {"id": service}, "html_url": f"https://x.pagerduty.com/incidents/{iid}"}


def outcome(created="2026-10-05T10:00:00", resolved=None, ack=None, priority="PP1", as_of=AS_OF):
    incident = parse_incident(raw(created=created, resolved=resolved, priority=priority))
    return evaluate(incident, t(ack) if ack else None, priority_map=PMAP, targets=TARGETS, releases=RELEASES,
                    tz=ET, as_of=as_of, month_end=OCT_BOUNDS.end, web_url="https://x.pagerduty.com")


@pytest.mark.parametrize("priority,ack,resolved,response,resolution", [
    # P1: respond within 60 min, resolve within 480 min.
    ("PP1", "2026-10-05T11:00:00", "2026-10-05T18:00:00", MET, MET),          # exactly on the limits
    ("PP1", "2026-10-05T11:00:01", "2026-10-05T18:00:00", BREACHED, MET),
    ("PP1", "2026-10-05T10:30:00", "2026-10-05T18:00:01", MET, BREACHED),
    # resolved without any acknowledgement: it responded when it resolved
    ("PP1", None, "2026-10-05T10:45:00", MET, MET),
    ("PP1", None, "2026-10-05T12:00:00", BREACHED, MET),
    # P0: 15 min / 4 h
    ("PP0", "2026-10-05T10:16:00", "2026-10-05T13:00:00", BREACHED, MET),
    # P2: 4 h / 48 h
    ("PP2", "2026-10-05T13:59:00", "2026-10-07T09:59:00", MET, MET),
    ("PP2", "2026-10-05T13:59:00", "2026-10-07T10:00:01", MET, BREACHED),
])
def test_response_and_resolution_against_targets(priority, ack, resolved, response, resolution):
    o = outcome(ack=ack, resolved=resolved, priority=priority)
    assert (o.response, o.resolution) == (response, resolution)


def test_response_time_is_the_first_acknowledgement_not_a_later_one():
    facts = log_facts([
        {"id": "L2", "type": "acknowledge_log_entry", "created_at": "2026-10-05T10:50:00Z", "incident": {"id": "PINC1"}},
        {"id": "L1", "type": "acknowledge_log_entry", "created_at": "2026-10-05T10:20:00Z", "incident": {"id": "PINC1"}},
        {"id": "L3", "type": "resolve_log_entry", "created_at": "2026-10-05T12:00:00Z", "incident": {"id": "PINC1"}},
    ])
    assert facts.first_ack == {"PINC1": t("2026-10-05T10:20:00")}
    assert facts.entries_read == 3


def test_acknowledgement_after_the_resolve_does_not_delay_the_response():
    o = outcome(ack="2026-10-05T13:00:00", resolved="2026-10-05T10:40:00")
    assert o.response_seconds == 40 * 60 and o.response == MET


def test_open_incident_is_pending_until_its_target_passes_then_breached():
    # Created 2026-10-31 23:00 (P1): response due 00:00, resolution due 07:00 on Nov 1.
    early = outcome(created="2026-10-31T23:00:00", as_of=t("2026-11-01T00:00:00"))
    assert (early.response, early.resolution, early.status) == (PENDING, PENDING, PENDING)
    later = outcome(created="2026-10-31T23:00:00", as_of=t("2026-11-01T03:00:00"))
    assert (later.response, later.resolution, later.status) == (BREACHED, PENDING, BREACHED)
    assert later.open_at_month_end


def test_events_after_as_of_are_not_known_yet():
    # Resolved in the next month, after the run: the run sees it open (same bytes on rerun).
    o = outcome(created="2026-10-31T22:00:00", ack="2026-10-31T22:10:00", resolved="2026-11-03T00:00:00")
    assert o.resolved_at is None and o.resolution == BREACHED and o.open_at_month_end
    o2 = outcome(created="2026-10-31T22:00:00", ack="2026-10-31T22:10:00", resolved="2026-11-01T02:00:00")
    assert o2.resolution == MET and o2.open_at_month_end  # open at month end, resolved on time after


@pytest.mark.parametrize("created,release", [
    ("2026-10-05T10:00:00", dt.date(2026, 10, 13)),
    ("2026-10-13T03:00:00", dt.date(2026, 10, 13)),   # 2026-10-12 23:00 ET: the 13th is the next release
    ("2026-10-13T15:00:00", dt.date(2026, 10, 27)),   # created on a release day: the next one
    ("2026-10-28T00:00:00", dt.date(2026, 11, 10)),
])
def test_p3_next_release_is_strictly_after_the_local_creation_day(created, release):
    found, end = release_deadline(t(created), RELEASES, ET)
    assert found == release
    assert end == dt.datetime.combine(release + dt.timedelta(days=1), dt.time(), tzinfo=ET)


def test_p3_met_by_end_of_release_day_breached_after():
    # Release 2026-10-13 ends at 2026-10-14 04:00 UTC (EDT).
    assert outcome(priority="PP3", ack="2026-10-05T12:00:00", resolved="2026-10-14T03:59:00").resolution == MET
    assert outcome(priority="PP3", ack="2026-10-05T12:00:00", resolved="2026-10-14T04:01:00").resolution == BREACHED


def test_p3_open_with_no_release_since_is_pending_not_breached():
    o = outcome(priority="PP3", created="2026-10-29T10:00:00", ack="2026-10-29T12:00:00")
    assert o.release == dt.date(2026, 11, 10) and o.resolution == PENDING
    late = outcome(priority="PP3", created="2026-10-29T10:00:00", ack="2026-10-29T12:00:00",
                   as_of=t("2026-11-12T00:00:00"))
    assert late.resolution == BREACHED
    none_known = evaluate(parse_incident(raw(created="2026-10-29T10:00:00", priority="PP3")), t("2026-10-29T12:00:00"),
                          priority_map=PMAP, targets=TARGETS, releases=[dt.date(2026, 10, 13)], tz=ET,
                          as_of=t("2027-06-01T00:00:00"), month_end=OCT_BOUNDS.end, web_url="u")
    assert none_known.release is None and none_known.resolution == PENDING


def test_missing_and_unmapped_priority_are_not_guessed():
    missing = outcome(priority=None, ack="2026-10-05T10:05:00", resolved="2026-10-05T11:00:00")
    unmapped = outcome(priority="PWHAT", ack="2026-10-05T10:05:00", resolved="2026-10-05T11:00:00")
    assert (missing.severity, missing.classification, missing.status) == (None, "missing_priority", "")
    assert (unmapped.severity, unmapped.classification) == (None, "unmapped_priority")


def test_resolved_before_created_is_an_anomaly_left_out_of_the_figures():
    o = outcome(resolved="2026-10-05T09:00:00")
    assert o.classification == "anomaly" and "before it was created" in o.anomaly and o.status == ""


@pytest.mark.parametrize("field,value,message", [
    ("created_at", "yesterday", "incident PINC1 created_at: expected an ISO 8601 date-time, got 'yesterday'"),
    ("created_at", "2026-10-05T10:00:00", "incident PINC1 created_at: expected a date-time with a zone offset"),
    ("created_at", None, "incident PINC1 created_at: expected an ISO 8601 date-time, got None"),
    ("resolved_at", "2026-13-01T00:00:00Z", "incident PINC1 resolved_at: expected an ISO 8601 date-time"),
])
def test_malformed_timestamps_are_clear_errors(field, value, message):
    record = raw(resolved="2026-10-05T12:00:00")
    record[field] = value
    with pytest.raises(IncidentDataError, match=message.replace("(", r"\(")):
        parse_incident(record)


def test_malformed_log_entry_time_names_the_entry():
    with pytest.raises(IncidentDataError, match="log entry LBAD created_at"):
        log_facts([{"id": "LBAD", "type": "acknowledge_log_entry", "created_at": "soon", "incident": {"id": "X"}}])


def test_percentiles():
    assert nearest_rank([5, 1, 3, 2, 4], 95) == 5
    assert nearest_rank(list(range(1, 101)), 95) == 95
    assert nearest_rank([7], 95) == 7 and nearest_rank([], 95) is None
    assert median_seconds([1, 3, 2]) == 2 and median_seconds([1, 2, 3, 10]) == Decimal("2.5")


def test_compliance_rounds_down_and_is_none_without_decisions():
    assert compliance_percent(9999, 1) == Decimal("99.9")
    assert compliance_percent(2, 1) == Decimal("66.6")
    assert compliance_percent(0, 0) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=60))
def test_percentile_is_an_observation_between_median_and_max(values):
    p95 = nearest_rank(values, 95)
    assert p95 in values
    assert median_seconds(values) <= p95 <= max(values)
    assert sum(v <= p95 for v in values) >= 0.95 * len(values)


@settings(max_examples=300, deadline=None)
@given(created=st.integers(0, 31 * 86400 - 1), ack=st.none() | st.integers(0, 40 * 86400),
       resolve=st.none() | st.integers(0, 40 * 86400), sev=st.sampled_from(["PP0", "PP1", "PP2", "PP3"]),
       as_of=st.integers(31 * 86400, 60 * 86400))
def test_outcome_invariants(created, ack, resolve, sev, as_of):
    start = OCT_BOUNDS.start
    c = start + dt.timedelta(seconds=created)
    r = c + dt.timedelta(seconds=resolve) if resolve is not None else None
    a = c + dt.timedelta(seconds=ack) if ack is not None else None
    record = raw(created=c.strftime("%Y-%m-%dT%H:%M:%S"), resolved=r.strftime("%Y-%m-%dT%H:%M:%S") if r else None,
                 priority=sev)
    o = evaluate(parse_incident(record), a, priority_map=PMAP, targets=TARGETS, releases=RELEASES, tz=ET,
                 as_of=start + dt.timedelta(seconds=as_of), month_end=OCT_BOUNDS.end, web_url="u")
    # The response never comes after the resolve, and never before the incident.
    if o.responded_at is not None:
        assert c <= o.responded_at
        if o.resolved_at is not None:
            assert o.responded_at <= o.resolved_at
    # Decided outcomes need the event (or its deadline) to be in the past.
    assert o.response in (MET, BREACHED, PENDING) and o.resolution in (MET, BREACHED, PENDING)
    if o.resolution == MET:
        assert o.resolved_at is not None
    if o.resolution == PENDING:
        assert o.resolved_at is None
    if o.status == MET:
        assert o.response == o.resolution == MET
    # Nothing that happened after as_of is used.
    cutoff = start + dt.timedelta(seconds=as_of)
    if r is not None and r > cutoff:
        assert o.resolved_at is None and o.resolution != MET
    if o.responded_at is not None:
        assert o.responded_at <= cutoff


def test_postmortem_states():
    resolved = "2026-10-05T12:00:00"
    o = outcome(priority="PP0", ack="2026-10-05T10:05:00", resolved=resolved)
    due = t(resolved) + dt.timedelta(hours=48)

    def state(evidence, as_of=AS_OF):
        rows = postmortem_status([o], evidence, required_for=["P0", "P1"], within_hours=48, as_of=as_of)
        return rows[0]["state"]

    assert state([Evidence(o.id, due, "note", "https://pm/1")]) == "on_time"
    assert state([Evidence(o.id, due + dt.timedelta(seconds=1), "bucket", "postmortems/x.md")]) == "late"
    # the earliest of several pieces of evidence counts
    assert state([Evidence(o.id, due + dt.timedelta(days=1), "bucket", "k"),
                  Evidence(o.id, due - dt.timedelta(days=1), "note", "u")]) == "on_time"
    assert state([]) == "missing"
    assert state([], as_of=due - dt.timedelta(minutes=1)) == "pending"
    # evidence written after the run's as_of is not known yet
    assert state([Evidence(o.id, AS_OF + dt.timedelta(hours=1), "note", "u")]) == "missing"
    p2 = outcome(priority="PP2", ack="2026-10-05T10:05:00", resolved=resolved)
    assert postmortem_status([p2], [], required_for=["P0", "P1"], within_hours=48, as_of=AS_OF) == []


def _report(raws, facts=None, evidence=()):
    return build_incident_report(PLAN, SETTINGS, OCT, AS_OF, raws, facts or LogFacts(), evidence)


def test_report_counts_breaches_per_severity_and_lists_them_with_links():
    raws = [
        raw("PA", "2026-10-01T00:00:00", "2026-10-01T01:00:00", "PP0", 1),   # response breached (resolve at 60 min)
        raw("PB", "2026-10-02T00:00:00", "2026-10-02T00:30:00", "PP1", 2),   # met
        raw("PC", "2026-10-03T00:00:00", None, None, 3),                      # missing priority
        raw("PD", "2026-09-30T23:59:59", "2026-10-01T00:30:00", "PP1", 4),   # September: not in the report
        raw("PE", "2026-10-04T00:00:00", "2026-10-04T00:30:00", "PP1", 5, service="POTHER"),  # not our service
    ]
    report, findings = _report(raws)
    rows = {r["severity"]: r for r in report["items"]["per_severity"]}
    assert rows["P0"]["incidents"] == 1 and rows["P0"]["breached"] == 1 and rows["P0"]["compliance_percent"] == 0
    assert rows["P1"]["incidents"] == 1 and rows["P1"]["compliance_percent"] == 100
    assert report["headline"]["incidents"]["value"] == 3
    assert [b["id"] for b in report["items"]["breaches"]] == ["PA"]
    assert report["items"]["breaches"][0]["link"] == "https://x.pagerduty.com/incidents/PA"
    assert [u["id"] for u in report["items"]["unclassified"]] == ["PC"]
    kinds = sorted(f.kind for f in findings)
    # PA breached; PA and PB are P0/P1, resolved, with no post-mortem by as_of (due Oct 3/4).
    assert kinds == ["incident_sla_breach", "postmortem_missing", "postmortem_missing"]


def test_postmortem_note_found_in_bulk_log_entries():
    raws = [raw("PA", "2026-10-01T00:00:00", "2026-10-01T00:10:00", "PP0", 1)]
    facts = log_facts([{"id": "L1", "type": "annotate_log_entry", "created_at": "2026-10-02T00:00:00Z",
                        "incident": {"id": "PA"},
                        "channel": {"type": "note", "summary": "Postmortem: https://wiki/pm/1 reviewed"}}])
    report, findings = _report(raws, facts)
    assert report["items"]["postmortems"][0]["state"] == "on_time"
    assert report["items"]["postmortems"][0]["evidence"] == "https://wiki/pm/1"
    assert findings == []


def test_report_refuses_a_month_not_over_at_as_of():
    with pytest.raises(ValueError, match="not over"):
        build_incident_report(PLAN, SETTINGS, Month(2026, 11), AS_OF, [], LogFacts(), [])
