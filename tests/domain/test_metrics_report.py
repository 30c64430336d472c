"""The key-metrics report's pure parts (domain/metrics.py): which period a run reports, the daily
rows from CloudWatch answers, the report and its findings, the Slack summary (escaped, bounded)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from estate_ops.config import load_plan
from estate_ops.domain.metrics import (
    build_metrics_report,
    daily_rows,
    metrics_period,
    report_period,
    slack_summary,
)
from estate_ops.domain.periods import PeriodError

from tests.contract_month import CONTRACT_ZONES, plan_for

ET = ZoneInfo("America/New_York")
NOW = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)


def _at(day: str, zone=ET, hour=6) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=zone).astimezone(dt.UTC)


@pytest.mark.parametrize("day,week,month", [
    ("2026-11-02", "2026-W44", None),        # a Monday, not the 1st
    ("2026-12-01", None, "2026-11"),         # a Tuesday the 1st
    ("2027-03-01", "2027-W08", "2027-02"),   # a Monday the 1st: both
    ("2026-11-04", None, None),              # neither
    ("2027-01-04", "2026-W53", None),        # the ISO year's 53rd week
])
def test_a_scheduled_run_reports_the_week_on_mondays_and_the_month_on_the_1st(day, week, month):
    for kind, expected in (("week", week), ("month", month)):
        period = report_period(kind, _at(day), None, tz=ET, now=NOW, scheduled=True)
        assert (period.label if period else None) == expected


def test_a_week_is_monday_to_monday_in_the_contract_zone_across_a_dst_change():
    week = metrics_period("2026-W44", ET)  # 26 Oct - 1 Nov 2026: the clocks go back on Sunday 1 Nov
    dst = metrics_period("2026-W45", ET)   # 2-8 Nov: EST throughout
    for p in (week, dst):
        assert p.start.astimezone(ET).time() == dt.time(0) and p.end.astimezone(ET).time() == dt.time(0)
        assert p.start.astimezone(ET).weekday() == 0 and len(p.days) == 7
    assert week.end - week.start == dt.timedelta(days=7, hours=1)  # 1 Nov 2026 has 25 hours
    assert dst.end - dst.start == dt.timedelta(days=7)


def test_a_manual_run_without_a_period_reports_the_last_ended_week_and_month():
    run = _at("2026-11-04")
    assert report_period("week", run, None, tz=ET, now=NOW, scheduled=False).label == "2026-W44"
    assert report_period("month", run, "", tz=ET, now=NOW, scheduled=False).label == "2026-10"


def test_a_period_param_runs_only_its_kind_and_must_have_ended():
    run = _at("2026-11-04")
    assert report_period("month", run, "2026-W40", tz=ET, now=NOW, scheduled=False) is None
    assert report_period("week", run, "2026-W40", tz=ET, now=NOW, scheduled=False).label == "2026-W40"
    with pytest.raises(PeriodError, match="has not ended"):
        report_period("week", run, "2026-W45", tz=ET, now=_at("2026-11-05"), scheduled=False)


def _results(period, *, requests, errors):
    """CloudWatch answers for one load balancer: counts at 300 s for each given bucket index."""
    stamps = [period.start + dt.timedelta(minutes=5 * i) for i in sorted(requests)]
    return {"lb0_requests": (stamps, [float(requests[i]) for i in sorted(requests)]),
            "lb0_target5xx": (stamps, [float(errors.get(i, 0)) for i in sorted(requests)]),
            "lb0_elb5xx": ([], []),
            "lb0_p99_day0": ([period.start], [0.5])}


@pytest.mark.parametrize("zone", CONTRACT_ZONES)
def test_daily_error_rate_sums_the_day_and_counts_minutes_without_requests(zone):
    period = metrics_period("2026-10", ZoneInfo(zone))
    # day 1: two buckets (10 % and 50 % errors); day 2: nothing at all
    results = _results(period, requests={0: 100, 1: 900}, errors={0: 10, 1: 450})
    rows = daily_rows(results, period, load_balancers=[("lb", [])], databases=[], caches=[], resolution=300)
    first, second = (r for r in rows if r["metric"] == "error_rate" and r["day"] in period.days[:2])
    assert first["value"] == Decimal(460) * 100 / Decimal(1000)  # never the mean of 10 % and 50 %
    assert first["details"]["no_data_minutes"] == 1440 - 10
    assert second["value"] is None and second["details"]["no_data_minutes"] == 1440
    p99 = [r for r in rows if r["metric"] == "latency_p99"]
    assert p99[0]["value"] == Decimal("0.5") and all(r["value"] is None for r in p99[1:])


def _figures(value, metric="error_rate", resource="lb"):
    return [{"resource": resource, "metric": metric, "value": value,
             "details": {"errors": 0, "requests": 0, "no_data_minutes": 0}}]


@pytest.mark.parametrize("zone", CONTRACT_ZONES)
def test_breaches_are_findings_once_per_period_and_no_data_is_not_met(zone):
    plan = plan_for(zone, load_plan())
    period = metrics_period("2026-W44", ZoneInfo(zone))
    report, findings = build_metrics_report(
        plan=plan, period=period, figures=_figures(Decimal("2.5")) + _figures(None, resource="lb2"),
        previous=_figures(Decimal("0.2")), daily=[], missing=[("cache", "ghost", "AWS/ElastiCache CacheHits")],
        sentry=None, users=None, estate_name="x", inputs={}, resolution=300)
    statuses = {r["resource"]: r["status"] for r in report["items"]["figures"]}
    assert statuses == {"lb": "breached", "lb2": "no_data"}
    assert [(f.kind, f.resource) for f in findings] == [("error_rate_breached", "lb"), ("metric_source_missing", "ghost")]
    assert len({f.dedup_key for f in findings}) == 2
    assert report["items"]["figures"][0]["previous"] == Decimal("0.2")
    assert set(report) >= {"period", "headline"}  # what service_review quotes


def test_the_slack_summary_escapes_outside_text_and_is_bounded():
    plan = load_plan()
    period = metrics_period("2026-10", ET)
    hostile = "<!channel> & <https://evil|x>"
    figures = [f for i in range(30) for f in _figures(Decimal(5), resource=f"{hostile}{i}")]
    report, _ = build_metrics_report(plan=plan, period=period, figures=figures, previous=[], daily=[],
                                     missing=[("cache", hostile, "metric")], sentry=None, users=None,
                                     estate_name="x", inputs={}, resolution=300)
    text = slack_summary(report, "https://reports.example/metrics/2026-10/report.html")
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp;" in text
    assert "… and 20 more in the report" in text
    assert text.endswith("<https://reports.example/metrics/2026-10/report.html|Report>")


# ------------------------------------------------------------------ days across a DST change

HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(("label", "expected"), [
    # Sunday 1 November 2026 ends EDT at 02:00: a 25-hour day, then EST (UTC-5) days.
    ("2026-11", [(dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC), 90_000),
                 (dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, 5, tzinfo=dt.UTC), 86_400)]),
    # Sunday 14 March 2027 starts EDT at 02:00: 13 EST days, a 23-hour day, 17 EDT days.
    ("2027-03", [(dt.datetime(2027, 3, 1, 5, tzinfo=dt.UTC), dt.datetime(2027, 3, 14, 5, tzinfo=dt.UTC), 86_400),
                 (dt.datetime(2027, 3, 14, 5, tzinfo=dt.UTC), dt.datetime(2027, 3, 15, 4, tzinfo=dt.UTC), 82_800),
                 (dt.datetime(2027, 3, 15, 4, tzinfo=dt.UTC), dt.datetime(2027, 4, 1, 4, tzinfo=dt.UTC), 86_400)]),
    # ISO week 44 of 2026 ends on that 25-hour Sunday.
    ("2026-W44", [(dt.datetime(2026, 10, 26, 4, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC), 86_400),
                  (dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC), 90_000)]),
    ("2026-10", [(dt.datetime(2026, 10, 1, 4, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC), 86_400)]),
])
def test_day_segments_keep_each_bucket_one_contract_day_across_dst(label, expected):
    assert metrics_period(label, ET).day_segments() == expected


@pytest.mark.parametrize("zone", [*CONTRACT_ZONES, "Europe/London", "Australia/Lord_Howe"])
@pytest.mark.parametrize("label", ["2026-03", "2026-04", "2026-10", "2026-11", "2027-03", "2026-W13", "2026-W44"])
def test_day_segments_tile_the_period_with_buckets_at_each_local_midnight(zone, label):
    period = metrics_period(label, ZoneInfo(zone))
    segments = period.day_segments()
    assert segments[0][0] == period.start and segments[-1][1] == period.end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(segments))
    buckets = [lo + dt.timedelta(seconds=k * s) for lo, hi, s in segments
               for k in range(int((hi - lo).total_seconds()) // s)]
    assert all((hi - lo).total_seconds() % s == 0 for lo, hi, s in segments)
    assert buckets == [period.day_start(d) for d in period.days]  # Lord Howe's half-hour shift too


@pytest.mark.parametrize("label", ["2026-11", "2027-03"])
def test_daily_percentiles_land_on_their_day_after_a_dst_change(label):
    period = metrics_period(label, ET)
    segments = period.day_segments()
    # each segment's answer as CloudWatch gives it: one datapoint per bucket, the day's number as value
    results = {}
    for k, (lo, hi, seconds) in enumerate(segments):
        stamps = [lo + dt.timedelta(seconds=i * seconds) for i in range(int((hi - lo).total_seconds()) // seconds)]
        results[f"lb0_p99_day{k}"] = (stamps, [float(stamp.astimezone(ET).day) for stamp in stamps])
    rows = daily_rows(results, period, load_balancers=[("lb", [])], databases=[], caches=[], resolution=300)
    p99 = {r["day"]: r["value"] for r in rows if r["metric"] == "latency_p99"}
    assert p99 == {d: Decimal(d.day) for d in period.days}
    # a bucket 86,400 s after the period's start (the old query) is no contract day's: not counted
    off = {"lb0_p99_day0": ([period.start + dt.timedelta(days=len(period.days) - 1)], [1.0])}
    rows = daily_rows(off, period, load_balancers=[("lb", [])], databases=[], caches=[], resolution=300)
    assert all(r["value"] is None for r in rows if r["metric"] == "latency_p99")


def test_a_segment_s_buckets_past_its_end_are_not_its_days():
    """Segment 0 of November is asked to the month's end in 25-hour buckets: its second bucket starts
    at 2 November's midnight but is 25 hours of other days, and segment 1 holds that day."""
    period = metrics_period("2026-11", ET)
    (lo0, hi0, s0), (lo1, _hi1, _s1) = period.day_segments()
    results = {"lb0_p99_day0": ([lo0, lo0 + dt.timedelta(seconds=s0)], [1.0, 99.0]),
               "lb0_p99_day1": ([lo1], [2.0])}
    assert hi0 == lo1 == lo0 + dt.timedelta(seconds=s0)
    rows = daily_rows(results, period, load_balancers=[("lb", [])], databases=[], caches=[], resolution=300)
    p99 = {r["day"]: r["value"] for r in rows if r["metric"] == "latency_p99" and r["value"] is not None}
    assert p99 == {dt.date(2026, 11, 1): Decimal(1), dt.date(2026, 11, 2): Decimal(2)}
