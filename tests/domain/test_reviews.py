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
    backups = [{"period": {"date": f"2026-10-{d:02d}"},
                "statuses": {"db": {"green": d != 5}}} for d in (4, 5, 6)]
    drill = {"period": {"date": "2026-10-04"}, "headline": {"worst_rto_minutes": {"value": "12.5"},
                                                            "worst_data_rpo_minutes": {"value": "14.4"}},
             "items": {"drills": []}}
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


def review(srcs=None, **kw):
    return build_review(client=CLIENT, month="2026-10", bounds=BOUNDS, plan_name="Legacy", plan_version="1.0.0",
                        estate_name="legacy-prod", generated_at=dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC),
                        sources=sources() if srcs is None else srcs, days_in_month=31, **kw)


def test_a_complete_month_quotes_every_section():
    r = review()
    assert r["complete"] is True and r["incomplete_sections"] == []
    s = r["sections"]
    assert {name: sec["status"] for name, sec in s.items()} == {
        "availability": "complete", "incidents": "complete", "backups": "complete", "drills": "complete",
        "retention": "not measured", "metrics": "not measured", "support": "complete"}
    assert s["availability"]["composite_percent"] == "99.7557"
    assert s["availability"]["target_status"] == "below target"
    assert s["availability"]["error_budget_exhausted_at"] == "2026-10-09T06:44:00Z"
    assert [w["id"] for w in s["availability"]["excluded_maintenance"]] == ["mw-1"]  # a non-qualifying one is not
    assert s["incidents"]["per_severity"][0]["compliance_percent"] == "75.0"
    assert s["backups"] == {"status": "complete", "days_verified": 3, "days_green": 2, "days_in_month": 31,
                            "sources": [f"backups/2026-10-0{d}/verification.json" for d in (4, 5, 6)]}
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
