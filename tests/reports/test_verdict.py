"""The verdict sentence of each report kind (issue 20): composed from the report JSON alone, as the
domain builds it (Decimals, datetimes) or as report.json reads back (strings)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from estate_ops.domain.serialize import canonical_json
from estate_ops.reports import verdict as V


def fig(value, unit=""):
    return {"value": value, "unit": unit}


def availability(composite, status, exhausted=None, remaining=Decimal("12.34")):
    return {"kind": "availability", "period": {"month": "2026-10"},
            "headline": {"composite_availability": fig(composite, "%"), "target": fig(Decimal("99.9"), "%"),
                         "status": fig(status)},
            "figures": {"error_budget_allowed": fig(Decimal("44.64"), "minutes"),
                        "error_budget_remaining": fig(remaining, "minutes"),
                        "error_budget_exhausted_at": fig(exhausted, "UTC")}}


def as_read_back(report):
    return json.loads(canonical_json(report))


def test_availability_below_target_says_when_the_budget_ran_out():
    report = availability(Decimal("99.7557"), "below target", dt.datetime(2026, 10, 9, 6, 44, tzinfo=dt.UTC))
    expected = ("October 2026: 99.7557 % — below the 99.9 % target; the error budget ran out on 9 October at "
                "06:44 UTC.")
    assert V.verdict(report) == expected
    assert V.verdict(as_read_back(report)) == expected  # "2026-10-09T06:44:00Z" reads the same


def test_availability_met_and_without_data():
    assert V.verdict(availability(Decimal("99.9812"), "met")) == (
        "October 2026: 99.9812 % — meets the 99.9 % target; 12.34 of 44.64 error-budget minutes remain.")
    assert V.verdict(availability(None, "no data")).startswith("October 2026: availability cannot be computed")


def incidents(incidents, compliance, breaches, late):
    return {"kind": "incidents", "period": {"month": "2026-02"},
            "headline": {"incidents": fig(incidents), "compliance": fig(compliance, "%"),
                         "breaches": fig(breaches), "postmortems_missing_or_late": fig(late)}}


@pytest.mark.parametrize("args,expected", [
    ((12, Decimal("83.3"), 2, 1), ("February 2026: 12 incidents, 83.3 % within the §1.2 targets; 2 breached; "
                                  "1 post-mortem missing or late.")),
    ((1, Decimal("100.0"), 0, 0), "February 2026: 1 incident, 100.0 % within the §1.2 targets; none breached."),
    ((2, None, 0, 0), "February 2026: 2 incidents, none decided yet (all within their targets so far); none breached."),
    ((0, None, 0, 0), "February 2026: no incidents, so no response or resolution target was at stake."),
])
def test_incidents(args, expected):
    assert V.verdict(incidents(*args)) == expected


def test_incidents_with_status_page_late_or_never():
    report = incidents(12, Decimal("83.3"), 2, 0)
    report["headline"]["status_page_late_or_never"] = fig(2)
    assert V.verdict(report) == ("February 2026: 12 incidents, 83.3 % within the §1.2 targets; 2 breached; "
                                 "the status page late or never updated for 2 P0/P1 incidents.")


def backups(status, green, failed, checks, urgent):
    return {"kind": "backups", "period": {"date": "2026-11-02", "as_of": "2026-11-02T12:00:00Z"},
            "headline": {"status": fig(status), "databases_green": fig(green), "findings_p1": fig(urgent)},
            "inputs": {"checks": checks}, "figures": {"checks_failed": fig(failed)}}


def test_backups_green_and_red():
    assert V.verdict(backups("green", "2/2", 0, 25, 0)) == (
        "2 November 2026: green — every §4.1 backup promise verified (25 checks; 2/2 databases green).")
    assert V.verdict(backups("red", "1/2", 3, 25, 2)) == (
        "2 November 2026: red — 3 of 25 checks failed; 1/2 databases green; 2 P0/P1 findings.")


def drill(rto, rpo, findings=()):
    return {"kind": "drill", "period": {"date": "2026-11-02"},
            "headline": {"databases_verified": fig("2/2"), "worst_rto_minutes": fig(rto, "min"),
                         "worst_data_rpo_minutes": fig(rpo, "min")},
            "figures": {"rto_target_minutes": fig(240, "min"), "rpo_target_minutes": fig(60, "min")},
            "findings": list(findings)}


def test_drill_says_which_objective_was_missed():
    assert V.verdict(drill(Decimal("45.0"), Decimal("4.0"))) == (
        "2 November 2026: 2/2 databases restored and verified; worst RTO 45.0 min (target < 240 min), "
        "worst data RPO 4.0 min (target < 60 min).")
    # the plan says "< 1 hour": exactly 60 minutes is over
    assert V.verdict(drill("45.0", "60.0", [{"kind": "rpo_breach"}])) == (
        "2 November 2026: 2/2 databases restored and verified; worst RTO 45.0 min (target < 240 min), "
        "worst data RPO 60.0 min — over the < 60 min target; 1 finding.")
    assert V.verdict(drill(None, None)) == "2 November 2026: 2/2 databases restored and verified."


def test_retention_and_preflight():
    retention = {"kind": "retention", "period": {"date": dt.date(2026, 11, 2)},
                 "headline": {"snapshots_deleted": fig(1), "snapshots_protected": fig(5),
                              "databases_refused": fig(0), "actions_failed": fig(2)}}
    assert V.verdict(retention) == ("2 November 2026: 1 snapshot deleted, 5 protected; no database refused; "
                                    "2 actions failed.")
    preflight = {"kind": "preflight", "period": {"date": "2026-11-02"},
                 "headline": {"resources_checked": fig(14), "resources_missing": fig(0)}}
    assert V.verdict(preflight) == "2 November 2026: ready — all 14 resources the estate names exist."
    preflight["headline"]["resources_missing"] = fig(2)
    assert V.verdict(preflight) == "2 November 2026: not ready — 2 of 14 resources missing."


def test_a_kind_without_its_own_sentence_gets_its_headline_in_words():
    report = {"kind": "monitoring", "period": {"month": "2026-10"},
              "headline": {"alarms_missing": fig(2, "alarms"), "routes_ok": fig(Decimal("93.5"), "%"),
                           "last_canary": fig(dt.datetime(2026, 10, 30, 9, 5, tzinfo=dt.UTC))},
              "findings": [{"kind": "x"}]}
    assert V.verdict(report) == ("October 2026: alarms missing 2 alarms; routes ok 93.5 %; "
                                 "last canary 30 October at 09:05 UTC; 1 finding.")
    assert V.verdict({"kind": "other", "title": "T", "period": {}}) == "T: report; no findings."
