"""One contract month (issue #21): availability, the error budget, the incident SLA and invoicing
count the same minutes, under the default (ET calendar months) and `contract_month_timezone: UTC`.

The cases are the minutes where the two settings differ: 22:00 ET on the last day of a month is
03:00 (or 02:00) UTC on the 1st of the next."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from estate_ops.domain.availability import (
    Endpoint,
    HealthDay,
    build_availability_report,
    status_frame,
)
from estate_ops.domain.incidents import (
    IncidentSettings,
    LogFacts,
    build_incident_report,
)
from estate_ops.domain.periods import Month
from estate_ops.domain.timesheets import COLUMNS, TimesheetFile, validate_month

from tests.contract_month import CONTRACT_ZONES, plan_for

UTC = dt.UTC
ET = ZoneInfo("America/New_York")
OCT, NOV = Month(2026, 10), Month(2026, 11)
EP = [Endpoint("hc-a", "api", True)]
LATE_ON_THE_31ST = dt.datetime(2026, 10, 31, 22, tzinfo=ET)  # = 02:00 UTC on 1 November
zones = pytest.mark.parametrize("zone", CONTRACT_ZONES)


def _utc_day(day: dt.date, down: tuple[dt.datetime, dt.datetime] | None = None) -> HealthDay:
    """A stored UTC day of one check, all up but for `down` (UTC instants, minute-aligned)."""
    status = np.ones((1, 1440))
    if down:
        start = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
        lo, hi = (int((t - start).total_seconds() // 60) for t in down)
        status[0, max(lo, 0):max(min(hi, 1440), 0)] = 0.0
    return HealthDay(day, ("hc-a",), status, np.where(status == 1, 100.0, 0.0), np.full(1, 60, dtype=np.int32))


def _availability(plan, month: Month, outage: tuple[dt.datetime, dt.datetime]):
    bounds = plan.month_bounds(month)
    days = {d: _utc_day(d, outage) for d in bounds.utc_days()}
    status, percent = status_frame(bounds, EP, days)
    return build_availability_report(status, [], plan, month=month, endpoints=EP, percent_healthy=percent)[0]


@zones
def test_an_outage_at_22_et_on_the_31st_counts_in_the_month_the_contract_says(zone):
    plan = plan_for(zone)
    outage = (LATE_ON_THE_31ST.astimezone(UTC), LATE_ON_THE_31ST.astimezone(UTC) + dt.timedelta(minutes=30))
    october, november = _availability(plan, OCT, outage), _availability(plan, NOV, outage)
    in_october = zone == "America/New_York"
    assert october["figures"]["counted_down_minutes"]["value"] == (30 if in_october else 0)
    assert november["figures"]["counted_down_minutes"]["value"] == (0 if in_october else 30)
    # The ET October reads the UTC day of 1 November for its last four hours (EDT, UTC-4).
    assert october["period"]["end"] == (dt.datetime(2026, 11, 1, 4, tzinfo=UTC) if in_october
                                        else dt.datetime(2026, 11, 1, tzinfo=UTC))
    assert october["period"]["timezone"] == zone


@zones
def test_an_outage_straddling_two_utc_days_is_taken_from_both(zone):
    plan = plan_for(zone)
    # 23:30-00:30 UTC across 14/15 October: each UTC day's file holds half of it.
    lo = dt.datetime(2026, 10, 14, 23, 30, tzinfo=UTC)
    report = _availability(plan, OCT, (lo, lo + dt.timedelta(hours=1)))
    assert report["figures"]["counted_down_minutes"]["value"] == 60
    assert [(d["start"], d["minutes"]) for d in report["items"]["downtime"] if d["endpoint"] == "api"] == [(lo, 60)]


@pytest.mark.parametrize(("zone", "month", "minutes", "allowed"), [
    ("America/New_York", Month(2026, 3), 44_580, "44.58"),   # spring forward: no 02:00-03:00 on 8 March
    ("America/New_York", Month(2026, 11), 43_260, "43.26"),  # fall back: 1 November has 25 hours
    ("UTC", Month(2026, 3), 44_640, "44.64"),
    ("UTC", Month(2026, 11), 43_200, "43.20"),
])
def test_the_error_budget_is_over_the_contract_months_minutes(zone, month, minutes, allowed):
    plan = plan_for(zone)
    report = _availability(plan, month, (dt.datetime(2000, 1, 1, tzinfo=UTC),) * 2)
    assert report["inputs"]["month_minutes"] == minutes == report["period"]["minutes"]
    assert report["figures"]["error_budget_allowed"]["value"] == Decimal(allowed)
    daily = report["items"]["error_budget_by_day"]
    assert [r["day"] for r in daily] == month.days
    # the day-by-day availability covers every minute of the month, the DST day's 23 or 25 hours too
    up = report["figures"]["counted_up_minutes"]["value"]
    assert up == minutes


def _incident(iid: str, created: dt.datetime) -> dict:
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": iid, "incident_number": 1, "title": "late incident", "status": "triggered", "created_at": stamp,
            "resolved_at": None, "priority": {"id": "PP2", "name": "P2"}, "service": {"id": "PSVC"},
            "html_url": f"https://x.pagerduty.com/incidents/{iid}"}


SETTINGS = IncidentSettings({"PSVC": "API"}, {"PP0": "P0", "PP1": "P1", "PP2": "P2", "PP3": "P3"},
                            [dt.date(2026, 11, 10)], "https://x.pagerduty.com", r"(?i)post-?mortem:\s*(https?://\S+)")


@zones
def test_an_incident_opened_at_22_et_on_the_last_day_belongs_to_the_contract_month(zone):
    plan = plan_for(zone)
    as_of = dt.datetime(2026, 12, 5, tzinfo=UTC)
    raws = [_incident("PLATE", LATE_ON_THE_31ST)]
    october, _ = build_incident_report(plan, SETTINGS, OCT, as_of, raws, LogFacts(), ())
    november, _ = build_incident_report(plan, SETTINGS, NOV, as_of, raws, LogFacts(), ())
    counted = {m: r["headline"]["incidents"]["value"] for m, r in (("oct", october), ("nov", november))}
    assert counted == ({"oct": 1, "nov": 0} if zone == "America/New_York" else {"oct": 0, "nov": 1})
    assert october["period"]["start_local"].startswith("2026-10-01T00:00:00")
    assert october["period"]["timezone"] == zone


def _timesheet(started: dt.datetime) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    row = {"entry_id": "late-1", "client_id": "northwind", "engineer": "avery",
           "started_at": started.isoformat(), "ended_at": (started + dt.timedelta(hours=1)).isoformat(),
           "category": "bug_fix", "ticket": "NOR-1", "description": "late fix"}
    writer.writerow([row[c] for c in COLUMNS])
    # an ordinary entry, so each month has one acceptable entry
    writer.writerow([{**row, "entry_id": "mid-1", "started_at": "2026-10-15T10:00:00-04:00",
                      "ended_at": "2026-10-15T11:00:00-04:00"}[c] for c in COLUMNS])
    return buffer.getvalue().encode()


@zones
def test_an_hour_logged_at_22_et_on_the_31st_is_billed_in_the_contract_month(zone):
    plan = plan_for(zone)
    files = [TimesheetFile("timesheets/2026-10/avery.csv", _timesheet(LATE_ON_THE_31ST))]
    now = dt.datetime(2026, 12, 5, tzinfo=UTC)
    october = validate_month(files, OCT, client_ids={"northwind"}, now=now, tz=plan.contract_month_timezone)
    ids = set(october.entries["entry_id"])
    assert ids == ({"late-1", "mid-1"} if zone == "America/New_York" else {"mid-1"})
    assert october.other_months == (0 if zone == "America/New_York" else 1)
