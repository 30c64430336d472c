"""The error budget to date (issue #18 §3): used, burn rate over the last 1 and 7 days, the
projected exhaustion day, and the three findings, at the boundaries (first day, nothing used,
exactly half), under both contract-month settings. Figures are hand-computed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from estate_ops.domain.availability import (
    Endpoint,
    HealthDay,
    budget_forecast,
    build_availability_report,
    status_frame,
)
from estate_ops.domain.periods import Month

from tests.contract_month import CONTRACT_ZONES, plan_for

UTC = dt.UTC
EP = [Endpoint("hc-a", "api", True)]


def so_far(plan, month: Month, through: dt.date, down: list[tuple[dt.datetime, int]] = ()):
    """The month's report from the UTC days stored through `through` (later minutes: no data)."""
    bounds = plan.month_bounds(month)
    days = {}
    for day in (d for d in bounds.utc_days() if d <= through):
        status = np.ones((1, 1440))
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=UTC)
        for start, minutes in down:
            lo = int((start - midnight).total_seconds() // 60)
            status[0, max(lo, 0):max(min(lo + minutes, 1440), 0)] = 0.0
        days[day] = HealthDay(day, ("hc-a",), status, status * 100, np.full(1, 60, dtype=np.int32))
    frame, percent = status_frame(bounds, EP, days)
    report, _ = build_availability_report(frame, [], plan, month=month, endpoints=EP, percent_healthy=percent)
    as_of = min(dt.datetime.combine(through + dt.timedelta(days=1), dt.time(), tzinfo=UTC), bounds.end)
    return budget_forecast(report, plan, as_of)


@pytest.mark.parametrize("zone", CONTRACT_ZONES)
def test_first_day_with_nothing_used_lasts_the_month_and_finds_nothing(zone):
    plan = plan_for(zone)
    forecast, findings = so_far(plan, Month(2026, 11), dt.date(2026, 11, 1))
    # ET: 1 November 04:00 UTC to 2 November 00:00 UTC is 20 hours of the month; UTC: 24.
    assert forecast["elapsed_minutes"] == (1200 if zone == "America/New_York" else 1440)
    assert forecast["used_minutes"] == 0 and forecast["last_7_days"]["burn_rate"] == 0
    assert forecast["last_7_days"]["minutes"] == forecast["elapsed_minutes"]  # a week not yet gone by
    assert forecast["projected_exhaustion_day"] is None and forecast["lasts_the_month"] is True
    assert findings == []


def test_burn_rate_is_the_share_of_the_allowed_rate():
    plan = plan_for("UTC")
    # UTC November: 43,200 minutes, 43.20 allowed = 1.44 a day. 3 minutes down on the 10th.
    forecast, findings = so_far(plan, Month(2026, 11), dt.date(2026, 11, 10),
                                [(dt.datetime(2026, 11, 10, 12, tzinfo=UTC), 3)])
    assert forecast["allowed_minutes"] == Decimal("43.20")
    assert forecast["last_1_day"]["down_minutes"] == 3
    assert forecast["last_1_day"]["burn_rate"] == Decimal("2.08")       # 3 / 1.44
    assert forecast["last_7_days"]["burn_rate"] == Decimal("0.30")      # 3 / (7 x 1.44) = 0.2976
    # 40.20 left at 3 minutes a week: 93.8 days, after the month's end
    assert forecast["projected_exhaustion_day"] is None and forecast["lasts_the_month"]
    assert findings == []


def test_projected_to_run_out_before_month_end_names_the_day():
    plan = plan_for("UTC")
    # 14 minutes down in the week to 10 November: 2 a day; 43.20 - 14 = 29.20 left = 14.6 days.
    down = [(dt.datetime(2026, 11, d, 9, tzinfo=UTC), 2) for d in range(4, 11)]
    forecast, findings = so_far(plan, Month(2026, 11), dt.date(2026, 11, 10), down)
    assert forecast["last_7_days"]["down_minutes"] == 14
    assert forecast["projected_exhaustion_at"] == dt.datetime(2026, 11, 11, tzinfo=UTC) + dt.timedelta(days=14.6)
    assert forecast["projected_exhaustion_day"] == dt.date(2026, 11, 25)
    assert [f.kind for f in findings] == ["error_budget_projected_exhaustion"]
    assert findings[0].severity == "P2" and "2026-11-25" in findings[0].summary


@pytest.mark.parametrize(("down", "half"), [(20, False), (21, True)])
def test_half_spent_before_mid_month_at_exactly_half(down, half):
    plan = plan_for("UTC")
    # UTC February 2027: 40,320 minutes, 40.32 allowed; half is 20.16.
    forecast, findings = so_far(plan, Month(2027, 2), dt.date(2027, 2, 3),
                                [(dt.datetime(2027, 2, 1, 10, tzinfo=UTC), down)])
    assert forecast["allowed_minutes"] == Decimal("40.32") and forecast["used_minutes"] == down
    assert ("error_budget_half_spent" in [f.kind for f in findings]) is half
    # after mid-month the same spend is not that finding
    later, later_findings = so_far(plan, Month(2027, 2), dt.date(2027, 2, 20),
                                   [(dt.datetime(2027, 2, 1, 10, tzinfo=UTC), down)])
    assert "error_budget_half_spent" not in [f.kind for f in later_findings]
    assert later["used_minutes"] == down


def test_exhausted_is_p1_once_a_month_and_replaces_the_projection():
    plan = plan_for("America/New_York")
    october = Month(2026, 10)  # 44,640 ET minutes, 44.64 allowed
    day5, findings5 = so_far(plan, october, dt.date(2026, 10, 5), [(dt.datetime(2026, 10, 3, 12, tzinfo=UTC), 50)])
    day6, findings6 = so_far(plan, october, dt.date(2026, 10, 6), [(dt.datetime(2026, 10, 3, 12, tzinfo=UTC), 50)])
    kinds = {f.kind: f for f in findings5}
    assert set(kinds) == {"error_budget_exhausted", "error_budget_half_spent"}
    assert kinds["error_budget_exhausted"].severity == "P1"
    assert day5["exhausted_at"] == dt.datetime(2026, 10, 3, 12, 44, tzinfo=UTC)  # the 45th minute down
    assert day5["remaining_minutes"] == Decimal("-5.36")
    # The next day's findings carry the same dedup keys: the router sends each once a month.
    assert {f.dedup_key for f in findings5} == {f.dedup_key for f in findings6}
    assert day6["used_minutes"] == 50


def test_as_of_outside_the_month_is_refused():
    plan = plan_for("UTC")
    forecast, _ = so_far(plan, Month(2026, 11), dt.date(2026, 11, 2))
    from estate_ops.domain.availability import budget_forecast as forecast_fn

    report = {"period": forecast["period"], "figures": {}, "items": {}}
    with pytest.raises(ValueError, match="inside 2026-11"):
        forecast_fn(report, plan, dt.datetime(2026, 12, 1, 0, 1, tzinfo=UTC))
