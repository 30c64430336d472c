"""The service review quotes its sources (issue #18): a figure changed in a source report shows up
in the review as it is, a source missing or off its contract marks its section (naming the key
path) and the review incomplete, and the evidence check names a missing or changed artifact."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from estate_ops.domain.reviews import (
    Source,
    build_review,
    evidence_pack,
    verify_evidence,
)
from estate_ops.domain.serialize import canonical_json
from hypothesis import given, settings
from hypothesis import strategies as st

CLIENT = {"id": "northwind", "name": "Northwind <!channel>", "tier": "basic"}
BOUNDS = {"month": "2026-10", "timezone": "America/New_York", "start": "2026-10-01T04:00:00Z",
          "end": "2026-11-01T04:00:00Z", "minutes": 44640}


def sources() -> list[Source]:
    availability = {"period": BOUNDS, "headline": {"composite_availability": {"value": "99.7557"},
                                                   "target": {"value": "99.9"}, "status": {"value": "below target"}},
                    "figures": {"error_budget_allowed": {"value": "44.34"}, "error_budget_used": {"value": 109},
                                "error_budget_exhausted_at": {"value": "2026-10-09T06:44:00Z"}},
                    "items": {"endpoints": [{"endpoint": "api", "availability_percent": "99.81", "down_minutes": 80,
                                             "meets_target": False}],
                              "maintenance_windows": [{"id": "mw-1", "qualifies": "yes", "excluded_minutes": 240,
                                                       "notice": "72 h"}, {"id": "mw-2", "qualifies": "no"}]}}
    incidents = {"period": BOUNDS, "headline": {"incidents": {"value": 58}, "breaches": {"value": 9}},
                 "items": {"per_severity": [{"severity": "P0", "incidents": 4, "met": 3, "breached": 1,
                                             "compliance_percent": "75.0"}],
                           "breaches": [{"incident": 17, "severity": "P0", "target": "response", "actual_min": "32.0",
                                         "link": "https://x.pagerduty.com/incidents/P1"}],
                           "postmortems": [{"number": 17, "severity": "P0", "state": "late", "link": "u"}]}}
    short = {"kind": "backup_retention_short", "severity": "P1", "resource": "db", "summary": "7 d < 30 d"}
    stale = {"kind": "rpo_breach", "severity": "P1", "resource": "db", "summary": "3 h stale"}
    findings = {4: [short], 5: [stale, short], 6: [short, {**stale, "resource": "other-db"}]}
    backups = [{"period": {"date": f"2026-10-{d:02d}"}, "findings": findings[d],
                "statuses": {"db": {"green": d != 5}}} for d in (4, 5, 6)]
    drill = {"period": {"date": "2026-10-04"}, "headline": {"worst_rto_minutes": {"value": "12.5"},
                                                            "worst_data_rpo_minutes": {"value": "14.4"}},
             "items": {"drills": [{"db_id": "db", "status": "verified", "rto_seconds": 750, "data_rpo_seconds": 864},
                                  {"db_id": "slow-db", "status": "verified", "rto_seconds": 14400,
                                   "data_rpo_seconds": 3599}]},
             "findings": []}
    invoice = {"client_id": "northwind", "number": "INV-2026-0003", "total": "1500.00", "currency": "USD",
               "hours": {"included": "20.00", "used": "17.50", "rollover": "0.00", "overage": "0.00",
                         "out_of_scope": "1.25"}}
    other = {**invoice, "client_id": "contoso", "number": "INV-2026-0001", "total": "14000.00"}
    return [Source("availability", "availability/2026-10/report.json", availability),
            Source("incidents", "incidents/2026-10/report.json", incidents),
            *[Source("backups", f"backups/{b['period']['date']}/verification.json", b) for b in backups],
            Source("drills", "backups/drills/2026-10-04/drill.json", drill),
            Source("invoice", "invoices/2026-10/northwind/INV-2026-0003.json", invoice),
            Source("invoice", "invoices/2026-10/contoso/INV-2026-0001.json", other)]


TARGETS = {"rto_minutes": 240, "rpo_minutes": 60}


def review(srcs=None, **kw):
    kw.setdefault("recovery_targets", TARGETS)
    return build_review(client=CLIENT, month="2026-10", bounds=BOUNDS, plan_name="Legacy", plan_version="1.0.0",
                        estate_name="legacy-prod", generated_at=dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC),
                        sources=sources() if srcs is None else srcs, days_in_month=31, **kw)


def test_a_complete_month_quotes_every_section():
    r = review()
    assert r["complete"] is True and r["incomplete_sections"] == []
    s = r["sections"]
    assert {name: sec["status"] for name, sec in s.items()} == {
        "availability": "complete", "incidents": "complete", "backups": "complete", "drills": "complete",
        "retention": "not measured", "metrics": "not measured", "support": "complete",
        "open_findings": "complete"}
    assert s["availability"]["composite_percent"] == "99.7557"
    assert s["availability"]["target_status"] == "below target"
    assert s["availability"]["error_budget_exhausted_at"] == "2026-10-09T06:44:00Z"
    assert [w["id"] for w in s["availability"]["excluded_maintenance"]] == ["mw-1"]  # a non-qualifying one is not
    assert s["incidents"]["per_severity"][0]["compliance_percent"] == "75.0"
    assert s["backups"] == {"status": "complete", "days_verified": 3, "days_green": 2, "days_in_month": 31,
                            "sources": [f"backups/2026-10-0{d}/verification.json" for d in (4, 5, 6)]}
    assert s["incidents"]["communication"]["status"] == "not measured"  # this report has none
    assert s["support"]["number"] == "INV-2026-0003" and s["support"]["total"] == "1500.00"  # its own, not contoso's
    assert s["metrics"]["status"] == "not measured"  # optional: does not make the review incomplete
    assert r["cover"]["client"] == "Northwind <!channel>"  # data as it is; escaping is the renderer's


QUOTED = [  # (source kind, path in the source, path in the review)
    ("availability", ("headline", "composite_availability", "value"), ("availability", "composite_percent")),
    ("availability", ("figures", "error_budget_used", "value"), ("availability", "error_budget_used_minutes")),
    ("incidents", ("headline", "breaches", "value"), ("incidents", "breaches")),
    ("drills", ("headline", "worst_rto_minutes", "value"), ("drills", "drills", 0, "worst_rto_minutes")),
    ("invoice", ("hours", "overage"), ("support", "overage_hours")),
    ("invoice", ("total",), ("support", "total")),
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(QUOTED), st.one_of(st.integers(-10**6, 10**6), st.decimals(allow_nan=False, places=4).map(str),
                                          st.text(max_size=20)))
def test_any_change_in_a_source_shows_up_as_it_is(quoted, value):
    kind, source_path, review_path = quoted
    srcs = copy.deepcopy(sources())
    target = next(s for s in srcs if s.kind == kind).report
    for part in source_path[:-1]:
        target = target[part]
    target[source_path[-1]] = value
    got = review(srcs)["sections"]
    for part in review_path:
        got = got[part]
    assert got == value


@pytest.mark.parametrize("kind,section", [("availability", "availability"), ("incidents", "incidents"),
                                          ("backups", "backups"), ("drills", "drills"), ("invoice", "support")])
def test_a_missing_required_source_says_so_and_marks_the_review_incomplete(kind, section):
    r = review([s for s in sources() if s.kind != kind])
    assert r["sections"][section]["status"] == "missing"
    assert r["complete"] is False and section in r["incomplete_sections"]


def test_a_source_off_its_contract_is_named_with_the_key_path():
    srcs = sources()
    del srcs[0].report["figures"]["error_budget_used"]
    r = review(srcs)
    section = r["sections"]["availability"]
    assert section["status"] == "incomplete" and r["complete"] is False
    assert section["note"] == ("availability/2026-10/report.json: no key 'figures.error_budget_used.value' "
                               "(expected by the review's contract)")
    assert "composite_percent" not in section  # nothing half-quoted
    assert r["sections"]["incidents"]["status"] == "complete"  # the other sections stand


def test_a_source_that_is_not_an_object_is_named():
    srcs = [s if s.kind != "drills" else Source("drills", s.key, ["not", "an", "object"]) for s in sources()]
    assert review(srcs)["sections"]["drills"]["note"] == "backups/drills/2026-10-04/drill.json: expected a JSON object, got list"


def test_evidence_names_a_missing_and_a_changed_artifact(tmp_path):
    files = {"availability/2026-10/report.json": b'{"a": 1}', "incidents/2026-10/report.json": b'{"b": 2}',
             "invoices/2026-10/northwind/INV-2026-0003.json": b'{"c": 3}'}
    pack = evidence_pack("2026-10", [(k, f"v{i}", v) for i, (k, v) in enumerate(files.items())])
    assert [a["key"] for a in pack["artifacts"]] == sorted(files)
    assert canonical_json(pack) == canonical_json(evidence_pack("2026-10", [(k, f"v{i}", v) for i, (k, v)
                                                                            in enumerate(files.items())]))
    for key, body in files.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)
    assert verify_evidence(tmp_path, pack) == []
    (tmp_path / "incidents/2026-10/report.json").write_bytes(b'{"b": 3}')  # tampered
    (tmp_path / "availability/2026-10/report.json").unlink()
    problems = {p["key"]: p for p in verify_evidence(tmp_path, pack)}
    assert problems["availability/2026-10/report.json"]["problem"] == "missing"
    changed = problems["incidents/2026-10/report.json"]
    assert changed["problem"] == "changed" and changed["expected_sha256"] != changed["actual_sha256"]
    assert set(problems) == {"availability/2026-10/report.json", "incidents/2026-10/report.json"}
    # the pack itself is never re-hashed by the check
    assert pack["artifacts"][1]["sha256"] == changed["expected_sha256"]


def test_an_evidence_key_outside_the_copy_is_never_read(tmp_path):
    (tmp_path / "secret").write_bytes(b"x")
    copy_dir = tmp_path / "reports"
    copy_dir.mkdir()
    pack = {"artifacts": [{"key": "../secret", "sha256": "0" * 64}]}
    assert verify_evidence(copy_dir, pack) == [{"key": "../secret", "problem": "missing", "expected_sha256": "0" * 64}]


# ----------------------------------------------------------------- drills against the plan's targets


@pytest.mark.parametrize("rto,rpo,targets,met", [
    ("239.9", "59.9", {"rto_minutes": 240, "rpo_minutes": 60}, (True, True)),
    ("240.0", "60.0", {"rto_minutes": 240, "rpo_minutes": 60}, (False, False)),  # RTO < 4 h, RPO < 1 h: strict
    ("12.5", "14.4", {"rto_minutes": 10, "rpo_minutes": 15}, (False, True)),  # the targets are the plan's, passed in
    (None, "not a number", {"rto_minutes": 240, "rpo_minutes": 60}, (None, None)),  # not measured: no verdict
])
def test_each_drill_is_held_against_the_plans_targets(rto, rpo, targets, met):
    srcs = copy.deepcopy(sources())
    drill = next(s for s in srcs if s.kind == "drills").report
    drill["headline"]["worst_rto_minutes"]["value"], drill["headline"]["worst_data_rpo_minutes"]["value"] = rto, rpo
    section = review(srcs, recovery_targets=targets)["sections"]["drills"]
    assert section["status"] == "complete"
    row = section["drills"][0]
    assert (row["worst_rto_minutes"], row["worst_data_rpo_minutes"]) == (rto, rpo)  # quoted as they are
    assert (row["rto_target_minutes"], row["rpo_target_minutes"]) == (targets["rto_minutes"], targets["rpo_minutes"])
    assert (row["rto_met"], row["rpo_met"]) == met


def test_each_drilled_database_is_quoted_with_its_verdicts():
    databases = review()["sections"]["drills"]["databases"]
    assert [(d["db_id"], d["rto_seconds"], d["rto_met"], d["data_rpo_seconds"], d["rpo_met"]) for d in databases] == [
        ("db", 750, True, 864, True), ("slow-db", 14400, False, 3599, True)]  # 14400 s is 4 h: not < 4 h


def test_a_drill_whose_items_are_not_objects_is_named():
    srcs = copy.deepcopy(sources())
    next(s for s in srcs if s.kind == "drills").report["items"]["drills"] = ["db"]
    section = review(srcs)["sections"]["drills"]
    assert section["status"] == "incomplete" and "items.drills holds str" in section["note"]


# ----------------------------------------------------------------- communication


def _with_communication(srcs, per_severity, totals):
    incidents = next(s for s in srcs if s.kind == "incidents").report
    incidents["items"]["communication_per_severity"] = per_severity
    incidents.setdefault("figures", {}).update({f"communication_{k}": {"value": v, "unit": "incidents"}
                                                for k, v in totals.items()})
    return srcs


def test_communication_is_quoted_where_the_incident_report_measured_it():
    per = [{"severity": "P0", "incidents": 4, "on_time": 2, "late": 1, "never": 1, "pending": 0},
           {"severity": "P1", "incidents": 3, "on_time": 3, "late": 0, "never": 0, "pending": 0}]
    totals = {"on_time": 5, "late": 1, "never": 1, "pending": 0}
    c = review(_with_communication(copy.deepcopy(sources()), per, totals))["sections"]["incidents"]["communication"]
    assert c == {"status": "measured", **totals, "per_severity": per}


def test_a_communication_section_without_its_totals_is_named():
    srcs = _with_communication(copy.deepcopy(sources()), [], {"on_time": 1, "late": 0, "never": 0})
    section = review(srcs)["sections"]["incidents"]
    assert section["status"] == "incomplete" and "figures.communication_pending.value" in section["note"]


# ----------------------------------------------------------------- open findings


def test_open_findings_are_the_last_reports_with_their_age():
    s = review()["sections"]["open_findings"]
    assert s["status"] == "complete" and s["open"] == 2
    rows = {(r["kind"], r["resource"]): r for r in s["findings"]}
    assert set(rows) == {("backup_retention_short", "db"), ("rpo_breach", "other-db")}
    # listed on the 4th, 5th and 6th: open since the 4th, 2 days old at the last report
    assert (rows["backup_retention_short", "db"]["first_seen"], rows["backup_retention_short", "db"]["age_days"]) == (
        "2026-10-04", 2)
    # rpo_breach of db on the 5th was fixed by the 6th; other-db's appeared on the 6th
    assert (rows["rpo_breach", "other-db"]["first_seen"], rows["rpo_breach", "other-db"]["age_days"]) == ("2026-10-06", 0)
    assert all(r["source"] == "backups/2026-10-06/verification.json" for r in s["findings"])


def test_a_gap_in_a_findings_run_restarts_its_age():
    srcs = copy.deepcopy(sources())
    backups = [s for s in srcs if s.kind == "backups"]
    backups[1].report["findings"] = []  # fixed on the 5th, back on the 6th
    rows = {(r["kind"], r["resource"]): r for r in review(srcs)["sections"]["open_findings"]["findings"]}
    assert rows["backup_retention_short", "db"]["first_seen"] == "2026-10-06"


def test_no_daily_report_means_open_findings_are_not_measured_and_not_invented():
    srcs = [s for s in sources() if s.kind not in ("backups", "drills")]
    s = review(srcs)["sections"]["open_findings"]
    assert s["status"] == "not measured" and "findings" not in s


def test_a_daily_report_with_a_bad_date_is_named_in_open_findings():
    srcs = copy.deepcopy(sources())
    next(s for s in srcs if s.kind == "backups").report["period"]["date"] = "4 Oct"
    s = review(srcs)["sections"]["open_findings"]
    assert s["status"] == "incomplete" and "period.date is '4 Oct', expected YYYY-MM-DD" in s["note"]


# ----------------------------------------------------------------- evidence: extra


def _copy(tmp_path, files):
    for key, body in files.items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)


def test_evidence_names_an_extra_report_in_the_reviews_places(tmp_path):
    files = {"availability/2026-10/report.json": b"{}", "backups/2026-10-04/verification.json": b"{}"}
    pack = evidence_pack("2026-10", [(k, None, v) for k, v in files.items()])
    _copy(tmp_path, {**files,
                     "backups/2026-10-05/verification.json": b'{"added": 1}',  # a day the pack does not list
                     "metrics/2026-10/report.json": b"{}",  # a monthly report that appeared since
                     # not in the review's places: renderings, other months, other layouts
                     "backups/2026-10-05/verification.html": b"<p>", "backups/2026-11-01/verification.json": b"{}",
                     "backups/2026-10-05/x/verification.json": b"{}", "backups/status/db.json": b"{}",
                     "availability/2026-10/report.json.bak": b"{}"})
    problems = verify_evidence(tmp_path, pack)
    assert [(p["key"], p["problem"]) for p in problems] == [
        ("backups/2026-10-05/verification.json", "extra"), ("metrics/2026-10/report.json", "extra")]


def test_missing_changed_and_extra_together(tmp_path):
    files = {"incidents/2026-10/report.json": b"1", "backups/drills/2026-10-04/drill.json": b"2"}
    pack = evidence_pack("2026-10", [(k, None, v) for k, v in files.items()])
    _copy(tmp_path, {"incidents/2026-10/report.json": b"tampered", "backups/drills/2026-10-11/drill.json": b"3"})
    assert [(p["key"], p["problem"]) for p in verify_evidence(tmp_path, pack)] == [
        ("backups/drills/2026-10-04/drill.json", "missing"), ("backups/drills/2026-10-11/drill.json", "extra"),
        ("incidents/2026-10/report.json", "changed")]
    assert [a["sha256"] for a in pack["artifacts"]] == [a["sha256"] for a in evidence_pack(
        "2026-10", [(k, None, v) for k, v in files.items()])["artifacts"]]  # never re-hashed
