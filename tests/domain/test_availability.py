"""Availability domain: minute states, maintenance exclusion, no-data policies, composite, error
budget, month lengths and DST days, the health parquet, and bad input. Expected values are worked
out by hand from the inputs in each test."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from estate_ops.domain.availability import (
    Endpoint,
    HealthDataError,
    build_availability_report,
    finest_period,
    health_day_from_series,
    health_parquet_bytes,
    measure,
    minute_index,
    percent,
    read_health_parquet,
)
from estate_ops.domain.maintenance import MaintenanceWindow
from estate_ops.domain.periods import Month

from tests.contract_month import plan_for

UTC = dt.UTC
# The hand-computed cases here count UTC months (`contract_month_timezone: UTC`): their minute
# offsets are from 00:00 UTC on the 1st. The ET month's cases are in test_contract_month.py.
PLAN = plan_for("UTC")
ET = PLAN.timezone
EPS = [Endpoint("hc-a", "api", True), Endpoint("hc-b", "web", True), Endpoint("hc-c", "docs", False)]


def plan_with(**availability):
    terms = PLAN.availability.model_copy(update=availability)
    return PLAN.model_copy(update={"availability": terms})


def frame(month: Month, n: int = 3, fill: float = 1.0) -> pd.DataFrame:
    index = minute_index(PLAN.month_bounds(month))
    return pd.DataFrame(np.full((len(index), n), fill), index=index, columns=[e.id for e in EPS[:n]])


def at(month: Month, day: int, hour: int, minute: int = 0) -> int:
    return (day - 1) * 1440 + hour * 60 + minute


def et_window(day: dt.date, start="02:00", end="06:00", notice=dt.timedelta(days=3), wid="mw-1", status="scheduled"):
    s = dt.datetime.combine(day, dt.time.fromisoformat(start), tzinfo=ET).astimezone(UTC)
    e = dt.datetime.combine(day, dt.time.fromisoformat(end), tzinfo=ET).astimezone(UTC)
    return MaintenanceWindow(wid, s, e, "test", s - notice, "a@b.example", status)


OCTOBER = Month(2026, 10)


def report(status, windows=(), plan=PLAN, month=OCTOBER, endpoints=EPS, **kw):
    return build_availability_report(status, list(windows), plan, month=month, endpoints=endpoints[:status.shape[1]],
                                     **kw)


# ------------------------------------------------------------------ months and DST


@pytest.mark.parametrize(("month", "minutes"), [(Month(2026, 2), 28 * 1440), (Month(2026, 9), 30 * 1440),
                                                  (Month(2026, 10), 31 * 1440), (Month(2028, 2), 29 * 1440)])
def test_month_lengths_and_budget(month, minutes):
    rep, findings = report(frame(month), month=month)
    assert rep["inputs"]["month_minutes"] == minutes
    assert rep["headline"]["composite_availability"]["value"] == Decimal("100.0000")
    assert rep["figures"]["error_budget_allowed"]["value"] == (Decimal(minutes) / 1000).quantize(Decimal("0.01"))
    assert findings == []


def test_spring_forward_day_window_excludes_three_hours():
    month = Month(2026, 3)
    status = frame(month)
    # down all night on 8 March 05:00-12:00 UTC; the ET slot is 07:00-10:00 UTC that day
    status.iloc[at(month, 8, 5):at(month, 8, 12), 0] = 0.0
    window = et_window(dt.date(2026, 3, 8), "00:00", "08:00")
    rep, _ = report(status, [window], month=month)
    assert rep["figures"]["maintenance_excluded_minutes"]["value"] == 180
    assert rep["figures"]["counted_down_minutes"]["value"] == 7 * 60 - 180
    assert rep["items"]["maintenance_windows"][0]["qualifies"] == "partly"


def test_fall_back_day_window_excludes_four_hours_at_est_offsets():
    month = Month(2026, 11)
    status = frame(month)
    status.iloc[at(month, 1, 6):at(month, 1, 12), 0] = 0.0  # 06:00-12:00 UTC down
    rep, _ = report(status, [et_window(dt.date(2026, 11, 1))], month=month)
    # slot = 07:00-11:00 UTC (EST after the 02:00 EDT fall back): 4 h excluded, 06-07 and 11-12 count
    assert rep["figures"]["maintenance_excluded_minutes"]["value"] == 240
    assert rep["figures"]["counted_down_minutes"]["value"] == 120


# ------------------------------------------------------------------ maintenance rules in the month


def test_notice_boundary_in_the_month():
    month = Month(2026, 10)
    status = frame(month)
    status.iloc[at(month, 21, 7):at(month, 21, 8), 0] = 0.0  # inside 02-06 ET (06-10 UTC in EDT)
    exact = et_window(dt.date(2026, 10, 21), notice=dt.timedelta(hours=48))
    rep, _ = report(status, [exact])
    assert rep["figures"]["counted_down_minutes"]["value"] == 0
    short = dataclasses.replace(exact, announced_at=exact.announced_at + dt.timedelta(minutes=1))
    rep, _ = report(status, [short])
    assert rep["figures"]["counted_down_minutes"]["value"] == 60
    assert rep["figures"]["maintenance_excluded_minutes"]["value"] == 0


def test_cancelled_window_counts_and_is_listed():
    month = Month(2026, 10)
    status = frame(month)
    status.iloc[at(month, 21, 7):at(month, 21, 7, 10), 0] = 0.0
    rep, _ = report(status, [et_window(dt.date(2026, 10, 21), status="cancelled")])
    assert rep["figures"]["counted_down_minutes"]["value"] == 10
    row = rep["items"]["maintenance_windows"][0]
    assert (row["qualifies"], row["excluded_minutes"], row["counted_minutes"]) == ("no", 0, 240)


def test_window_straddling_the_month_end_is_clipped():
    month = Month(2026, 10)
    w = MaintenanceWindow("mw-edge", dt.datetime(2026, 10, 31, 23, tzinfo=UTC), dt.datetime(2026, 11, 1, 11, tzinfo=UTC),
                          "t", dt.datetime(2026, 10, 20, tzinfo=UTC), "a@b.example")
    rep, _ = report(frame(month), [w])
    row = rep["items"]["maintenance_windows"][0]
    assert row["minutes_in_month"] == 60
    # 31 Oct 02-06 EDT = 06-10 UTC is before the window; nothing of the 1 Nov slot lies in October
    assert row["excluded_minutes"] == 0


# ------------------------------------------------------------------ no data


def _nodata_case():
    month = Month(2026, 10)
    status = frame(month, n=1)
    status.iloc[at(month, 3, 0):at(month, 3, 0, 100), 0] = 0.0
    status.iloc[at(month, 4, 0):at(month, 4, 0, 200), 0] = np.nan
    return status


@pytest.mark.parametrize(
    ("policy", "up", "down", "availability"),
    [
        ("exclude", 44640 - 300, 100, percent(44340, 44440)),
        ("down", 44640 - 300, 300, percent(44340, 44640)),
        ("up", 44640 - 100, 100, percent(44540, 44640)),
    ],
)
def test_no_data_policies(policy, up, down, availability):
    rep, _ = report(_nodata_case(), plan=plan_with(no_data_policy=policy))
    assert rep["figures"]["counted_up_minutes"]["value"] == up
    assert rep["figures"]["counted_down_minutes"]["value"] == down
    assert rep["headline"]["composite_availability"]["value"] == availability
    # the raw states are the same whatever the policy
    row = rep["items"]["endpoints"][0]
    assert (row["up_minutes"], row["down_minutes"], row["no_data_minutes"]) == (44340, 100, 200)
    assert (rep["inputs"]["status_samples"], rep["inputs"]["samples_with_data"]) == (44640, 44440)


def test_completeness_warning_below_99_percent():
    month = Month(2026, 10)
    status = frame(month, n=1)
    status.iloc[: 500, 0] = np.nan  # 500 / 44640 = 1.12 % missing
    rep, findings = report(status)
    assert rep["items"]["endpoints"][0]["data_completeness_percent"] == Decimal("98.8799")
    assert any("below 99" in w for w in rep["warnings"])
    assert [f.kind for f in findings] == ["availability_data_incomplete"]
    assert findings[0].severity == "P3"


def test_month_without_any_data_reports_no_figure_not_a_percentage():
    rep, findings = report(frame(Month(2026, 10), fill=np.nan))
    assert rep["headline"]["composite_availability"]["value"] is None
    assert rep["headline"]["status"]["value"] == "no data"
    assert any("cannot be computed" in w for w in rep["warnings"])
    assert "availability_below_target" not in [f.kind for f in findings]


def test_window_in_a_month_without_data_is_listed_and_nothing_is_computed():
    rep, _ = report(frame(Month(2026, 10), fill=np.nan), [et_window(dt.date(2026, 10, 21))])
    assert rep["headline"]["composite_availability"]["value"] is None
    assert rep["items"]["maintenance_windows"][0]["excluded_minutes"] == 240


# ------------------------------------------------------------------ composite and budget


def test_composite_any_and_all():
    month = Month(2026, 10)
    status = frame(month)
    status.iloc[at(month, 2, 0):at(month, 2, 0, 30), 0] = 0.0  # api down 30
    status.iloc[at(month, 2, 0, 20):at(month, 2, 0, 50), 1] = 0.0  # web down 30, 10 overlapping
    status.iloc[at(month, 5, 0):at(month, 5, 2), 2] = 0.0  # docs (not critical) down 2 h
    rep_any, _ = report(status)
    assert rep_any["figures"]["counted_down_minutes"]["value"] == 50
    rep_all, _ = report(status, plan=plan_with(composite_rule="all"))
    assert rep_all["figures"]["counted_down_minutes"]["value"] == 10


def test_budget_runs_out_at_the_first_minute_over_allowed_and_month_is_paged():
    month = Month(2026, 10)
    status = frame(month)
    status.iloc[at(month, 10, 12):at(month, 10, 12, 50), 0] = 0.0  # 50 down minutes, allowed 44.64
    rep, findings = report(status)
    figures = rep["figures"]
    assert figures["error_budget_allowed"]["value"] == Decimal("44.64")
    assert figures["error_budget_used"]["value"] == 50
    assert figures["error_budget_remaining"]["value"] == Decimal("-5.36")
    assert figures["error_budget_exhausted_at"]["value"] == dt.datetime(2026, 10, 10, 12, 44, tzinfo=UTC)
    assert rep["headline"]["status"]["value"] == "below target"
    below = [f for f in findings if f.kind == "availability_below_target"]
    assert len(below) == 1 and below[0].severity == "P1" and below[0].period == "2026-10"


def test_budget_exactly_used_is_met_and_not_exhausted():
    month = Month(2026, 2)  # 40,320 minutes: allowed 40.32, so 40 down minutes stay within budget
    status = frame(month)
    status.iloc[:40, 0] = 0.0
    rep, findings = report(status, month=month)
    assert rep["figures"]["error_budget_exhausted_at"]["value"] is None
    assert rep["headline"]["status"]["value"] == "met"
    assert findings == []


def test_meets_target_uses_exact_arithmetic():
    month = Month(2026, 10)
    status = frame(month, n=1)
    status.iloc[:44, 0] = 0.0  # 44 of 44,640 = 99.90143 %: met
    assert report(status)[0]["headline"]["status"]["value"] == "met"
    status.iloc[:45, 0] = 0.0  # 45: 99.89919 %: below
    assert report(status)[0]["headline"]["status"]["value"] == "below target"


def test_partial_outage_minutes_from_percent_healthy():
    month = Month(2026, 10)
    status = frame(month, n=1)
    pct = frame(month, n=1, fill=100.0)
    pct.iloc[10:25, 0] = 66.7
    rep, _ = report(status, percent_healthy=pct)
    assert rep["items"]["endpoints"][0]["partial_outage_minutes"] == 15


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.iloc[:-1], "status index must be every minute of 2026-10: .* UTC .*got 44639 rows"),
        (lambda f: f.set_axis(f.index + pd.Timedelta(minutes=1)), "status index must be every minute of .* from 2026-10-01 00:00:00.*from 2026-10-01 00:01"),
        (lambda f: f * 0.5, r"1.0 \(up\), 0.0 \(down\) or NaN"),
        (lambda f: f.rename(columns={"hc-a": "hc-unknown"}), "not among the endpoints"),
    ],
)
def test_bad_status_frames_are_refused(mutate, message):
    with pytest.raises(HealthDataError, match=message):
        report(mutate(frame(Month(2026, 10))))


def test_duplicate_window_ids_are_refused():
    w = et_window(dt.date(2026, 10, 21))
    with pytest.raises(HealthDataError, match="window ids must be unique"):
        report(frame(Month(2026, 10)), [w, w])


# ------------------------------------------------------------------ resolution and parquet


@pytest.mark.parametrize(
    ("age", "period"),
    [(dt.timedelta(days=14, hours=23), 60), (dt.timedelta(days=15), 300), (dt.timedelta(days=62, hours=23), 300),
     (dt.timedelta(days=63), 3600), (dt.timedelta(days=454), 3600), (dt.timedelta(days=455), None)],
)
def test_finest_period_by_age(age, period):
    now = dt.datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert finest_period(now - age, now) == period


def test_five_minute_buckets_cover_their_minutes_and_missing_buckets_are_no_data():
    day = dt.date(2026, 10, 5)
    start = dt.datetime(2026, 10, 5, tzinfo=UTC)
    stamps = [start + dt.timedelta(minutes=5 * i) for i in range(288) if i != 3]
    values = [0.0 if i == 1 else 1.0 for i in range(288) if i != 3]
    health = health_day_from_series(day, ["hc-a"], {("hc-a", "HealthCheckStatus"): (stamps, values)}, 300)
    row = health.status[0]
    assert (row[5:10] == 0).all() and (row[0:5] == 1).all()
    assert np.isnan(row[15:20]).all() and health.minutes_with_data == 1440 - 5
    assert health.resolution_seconds.tolist() == [300]


def test_parquet_is_byte_identical_and_round_trips():
    day = dt.date(2026, 10, 5)
    start = dt.datetime(2026, 10, 5, tzinfo=UTC)
    stamps = [start + dt.timedelta(minutes=i) for i in range(0, 1440, 2)]
    series = {("hc-a", "HealthCheckStatus"): (stamps, [float(i % 3 != 0) for i in range(720)]),
              ("hc-a", "HealthCheckPercentageHealthy"): (stamps, [50.0] * 720)}
    health = health_day_from_series(day, ["hc-a", "hc-b"], series, 60)
    data = health_parquet_bytes(health)
    again = health_parquet_bytes(health_day_from_series(day, ["hc-a", "hc-b"], dict(series), 60))
    assert data == again
    back = read_health_parquet(data, day)
    assert back.check_ids == ("hc-a", "hc-b")
    np.testing.assert_array_equal(back.status, health.status)
    np.testing.assert_array_equal(back.percent_healthy, health.percent_healthy)
    assert back.minutes_with_data == 720

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(data))
    assert table.num_rows == 2 * 1440  # a minute without data is a row, not a missing row
    assert table.schema.names == ["timestamp", "health_check_id", "status", "percent_healthy", "resolution_seconds"]
    assert b"pandas" not in (table.schema.metadata or {})
    assert table.column("status").null_count == 720 + 1440


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "not a readable parquet file"),
        (lambda b: b"PAR1garbage", "not a readable parquet file"),
    ],
)
def test_corrupt_parquet_is_a_clear_error(damage, message):
    day = dt.date(2026, 10, 5)
    data = health_parquet_bytes(health_day_from_series(day, ["hc-a"], {}, 60))
    with pytest.raises(HealthDataError, match=f"health/date=2026-10-05/health.parquet: {message}"):
        read_health_parquet(damage(data), day)


def test_parquet_of_another_day_is_refused():
    data = health_parquet_bytes(health_day_from_series(dt.date(2026, 10, 5), ["hc-a"], {}, 60))
    with pytest.raises(HealthDataError, match="not the 1440 minutes of 2026-10-06"):
        read_health_parquet(data, dt.date(2026, 10, 6))


def test_measure_counts_per_day_without_copying_semantics():
    status = np.ones((2 * 1440, 2))
    status[100:110, 0] = 0.0
    status[1500:1520, 1] = np.nan
    excluded = np.zeros(2 * 1440, bool)
    excluded[105:200] = True
    counts = measure(status, excluded, np.array([True, True]), no_data_policy="exclude", composite_rule="any")
    assert counts.down[:, 0].tolist() == [5, 0]
    assert counts.no_data[:, 1].tolist() == [0, 20]
    assert counts.excluded.tolist() == [95, 0]
    assert counts.composite_counted_down.tolist() == [5, 0]
    assert counts.composite_no_data.tolist() == [0, 20]
