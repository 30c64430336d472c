"""Key-metric figures (domain/metrics.py): error rate, cache hit rate, connection headroom,
percentile periods, judgements and breach findings; unit rows and hypothesis properties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from estate_ops.config import load_config
from estate_ops.domain.metrics import (
    METRIC_UNITS,
    ErrorRate,
    Percentiles,
    RequestCounts,
    active_users,
    breach_findings,
    cache_hit_rate,
    combine_error_rates,
    connection_headroom,
    error_rate,
    judge,
    metrics_period,
    new_issues,
    sentry_totals,
    single_period_seconds,
)
from estate_ops.domain.periods import Month, PeriodError
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def plan():
    return load_config()[0]


def threshold(plan, metric):
    return plan.monitoring.key_metrics.thresholds[metric]


# ------------------------------------------------------------------ error rate

def test_error_rate_is_total_errors_over_total_requests():
    minutes = [RequestCounts(1000, 10, 0), RequestCounts(10, 0, 10)]
    rate = error_rate(minutes)
    assert (rate.errors, rate.requests) == (20, 1010)
    assert rate.percent.quantize(Decimal("0.0001")) == Decimal("1.9802")  # not the mean of 1 % and 100 %


def test_minutes_without_requests_are_no_data_not_zero_percent():
    rate = error_rate([RequestCounts(None), RequestCounts(0), RequestCounts(100, 1, None)])
    assert rate.no_data_minutes == 2
    assert rate.percent == Decimal(1)


def test_a_period_with_no_requests_has_no_error_rate():
    rate = error_rate([RequestCounts(None)] * 5)
    assert rate.percent is None and rate.no_data_minutes == 5


def test_5xx_without_requests_are_not_counted_as_a_rate():
    assert error_rate([RequestCounts(None, 3, 2)]).errors == 0


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="negative"):
        error_rate([RequestCounts(10, -1, 0)])


minute = st.one_of(st.just(RequestCounts(None)),
                   st.builds(lambda r, t, e: RequestCounts(r, min(t, r), min(e, r - min(t, r))),
                             st.integers(1, 10_000), st.integers(0, 10_000), st.integers(0, 10_000)))


@given(st.lists(st.lists(minute, max_size=30), min_size=1, max_size=8))
def test_error_rate_of_a_union_of_days_is_total_over_total(days):
    combined = combine_error_rates(error_rate(d) for d in days)
    flat = error_rate([m for d in days for m in d])
    assert combined == flat
    requests = sum(m.requests or 0 for d in days for m in d)
    errors = sum((m.target_5xx or 0) + (m.elb_5xx or 0) for d in days for m in d if m.requests)
    if requests:
        assert combined.percent == Decimal(errors) * 100 / Decimal(requests)
    else:
        assert combined.percent is None


def test_the_period_rate_is_not_the_mean_of_daily_rates():
    busy, quiet = error_rate([RequestCounts(10_000, 100)]), error_rate([RequestCounts(100, 50)])
    mean_of_days = (busy.percent + quiet.percent) / 2
    assert combine_error_rates([busy, quiet]).percent.quantize(Decimal("0.0001")) == Decimal("1.4851")
    assert mean_of_days == Decimal("25.5")


@given(st.lists(minute, max_size=50))
def test_every_minute_is_either_counted_or_no_data(minutes):
    rate = error_rate(minutes)
    assert rate.no_data_minutes == sum(1 for m in minutes if not m.requests)
    assert rate.percent is None or Decimal(0) <= rate.percent <= Decimal(100)


# ------------------------------------------------------------------ cache and connections

@pytest.mark.parametrize("hits,misses,expected", [
    (90, 10, Decimal(90)), (0, 10, Decimal(0)), (5, 0, Decimal(100)),
    (0, 0, None), (None, None, None), (1, 2, Decimal("33.3333")),
])
def test_cache_hit_rate(hits, misses, expected):
    rate = cache_hit_rate(hits, misses)
    assert (rate if rate is None else rate.quantize(Decimal("0.0001"))) == expected


def test_a_hit_rate_just_under_the_threshold_is_not_rounded_up_to_meet_it(plan):
    rate = cache_hit_rate(8_999_995, 1_000_005)  # 89.99995 %: rounded to 4 places it reads 90.0000
    assert judge("cache_hit_rate", "c", rate, None, threshold(plan, "cache_hit_rate")).status == "breached"


@given(st.integers(0, 10**12), st.integers(0, 10**12))
def test_cache_hit_rate_is_a_percentage_or_no_data(hits, misses):
    rate = cache_hit_rate(hits, misses)
    assert (rate is None) == (hits + misses == 0)
    if rate is not None:
        assert 0 <= rate <= 100
        assert (rate == 100) == (misses == 0)  # one miss in a trillion is not 100 %


def test_headroom_against_max_connections():
    h = connection_headroom(150.0, 200)
    assert (h.peak, h.left, h.used_percent) == (150, 50, Decimal(75))
    assert connection_headroom(None, 200).used_percent is None


@pytest.mark.parametrize("peak,max_connections", [(-1, 10), (5, 0)])
def test_headroom_refuses_impossible_input(peak, max_connections):
    with pytest.raises(ValueError):
        connection_headroom(peak, max_connections)


# ------------------------------------------------------------------ percentiles

def test_a_months_percentile_is_one_cloudwatch_period(plan):
    bounds = plan.month_bounds(Month(2026, 11))  # ET: 30 days plus the DST hour ending 1 November
    assert single_period_seconds(bounds.start, bounds.end) == bounds.minutes * 60


def test_a_weeks_percentile_is_one_cloudwatch_period():
    start = dt.datetime(2026, 10, 26, 4, tzinfo=dt.UTC)
    assert single_period_seconds(start, start + dt.timedelta(weeks=1)) == 604_800


@pytest.mark.parametrize("start,end", [
    (dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 10, 1, tzinfo=dt.UTC)),
    (dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 10, 1, 0, 0, 30, tzinfo=dt.UTC)),
    (dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 2)),
])
def test_a_period_cloudwatch_cannot_take_is_refused(start, end):
    with pytest.raises(ValueError):
        single_period_seconds(start, end)


def test_percentiles_are_judged_as_given_never_averaged(plan):
    p = Percentiles(Decimal("0.2"), Decimal("0.9"), Decimal("2.5"))
    statuses = {m: judge(m, "lb", v, None, threshold(plan, m)).status for m, v in p.by_metric().items()}
    assert statuses == {"latency_p50": "met", "latency_p95": "met", "latency_p99": "breached"}


# ------------------------------------------------------------------ judgements and findings

@pytest.mark.parametrize("metric,value,status", [
    ("error_rate", Decimal("1.0"), "met"), ("error_rate", Decimal("1.0001"), "breached"),
    ("error_rate", None, "no_data"),
    ("cache_hit_rate", Decimal(90), "met"), ("cache_hit_rate", Decimal("89.9"), "breached"),
    ("cache_hit_rate", None, "no_data"),
    ("db_connections", Decimal("80.0001"), "breached"),
])
def test_judge(plan, metric, value, status):
    j = judge(metric, "r", value, Decimal("0.5"), threshold(plan, metric))
    assert j.status == status
    assert j.as_dict()["previous"] == Decimal("0.5")


def test_judge_refuses_a_threshold_in_another_unit(plan):
    with pytest.raises(ValueError, match="expected 'percent'"):
        judge("error_rate", "r", Decimal(1), None, threshold(plan, "latency_p99"))


def test_every_metric_has_a_threshold_and_a_breach_severity(plan):
    assert set(plan.monitoring.key_metrics.thresholds) == set(METRIC_UNITS)
    for metric in METRIC_UNITS:
        assert plan.finding_severity(f"{metric}_breached") in {"P0", "P1", "P2", "P3"}


def test_breaches_become_findings_with_the_plans_severity(plan):
    judgements = [judge("error_rate", "app/web/1", Decimal(5), Decimal("0.1"), threshold(plan, "error_rate")),
                  judge("cache_hit_rate", "sessions", Decimal(95), None, threshold(plan, "cache_hit_rate")),
                  judge("latency_p99", "app/web/1", None, None, threshold(plan, "latency_p99"))]
    findings = breach_findings(plan, judgements, "2026-W44")
    assert [(f.kind, f.resource, f.severity) for f in findings] == [
        ("error_rate_breached", "app/web/1", plan.finding_severity("error_rate_breached"))]
    assert "2026-W44" in findings[0].summary and findings[0].details["previous"] == Decimal("0.1")
    again = breach_findings(plan, judgements, "2026-W44")
    assert [f.dedup_key for f in again] == [f.dedup_key for f in findings]
    other = breach_findings(plan, judgements, "2026-W45")
    assert other[0].dedup_key != findings[0].dedup_key


def test_error_rate_dict_is_reportable():
    assert ErrorRate(1, 0, 3).as_dict() == {"errors": 1, "requests": 0, "no_data_minutes": 3, "percent": None}


# ------------------------------------------------------------------ periods

ET = ZoneInfo("America/New_York")


def test_an_iso_week_runs_monday_to_monday_in_the_contract_zone():
    week = metrics_period("2026-W44", ET)
    assert week.kind == "week" and week.days[0] == dt.date(2026, 10, 26) and len(week.days) == 7
    assert week.start == dt.datetime(2026, 10, 26, 4, tzinfo=dt.UTC)
    assert week.end == dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC)  # DST ends on 1 November: 169 hours
    assert week.previous().label == "2026-W43"


def test_a_month_period_matches_the_contract_month(plan):
    month = metrics_period("2026-11", plan.contract_month_timezone)
    bounds = plan.month_bounds(Month(2026, 11))
    assert (month.start, month.end, month.kind) == (bounds.start, bounds.end, "month")
    assert metrics_period("2026-01", ET).previous().label == "2025-12"
    assert metrics_period("2026-W01", ET).previous().label == "2025-W52"


@pytest.mark.parametrize("text", ["2026-W54", "2026-W00", "2026-13", "2026-10-01", "W44", "", "2026-w44 ; rm"])
def test_a_period_that_is_not_a_week_or_a_month_is_refused(text):
    with pytest.raises(PeriodError, match="ISO week|not an ISO week"):
        metrics_period(text, ET)


# ------------------------------------------------------------------ Sentry and Mixpanel figures

def test_sentry_totals_by_category_and_outcome():
    stats = {"groups": [{"by": {"outcome": "accepted", "category": "error"}, "totals": {"sum(quantity)": 7}},
                        {"by": {"outcome": "filtered", "category": "error"}, "totals": {"sum(quantity)": 2}},
                        {"by": {"outcome": "accepted", "category": "transaction"}, "totals": {"sum(quantity)": 90}}]}
    assert sentry_totals(stats) == {"error": {"accepted": 7, "filtered": 2}, "transaction": {"accepted": 90}}


def test_new_issues_are_those_first_seen_in_the_period_of_our_projects():
    week = metrics_period("2026-W44", ET)
    def issue(i, first, slug="legacy-api", count="3"):
        return {"id": i, "shortId": f"S-{i}", "title": "<!channel> & <b>", "count": count, "firstSeen": first,
                "permalink": f"https://sentry.example/i/{i}/", "project": {"slug": slug}}
    rows = new_issues([issue("1", "2026-10-26T04:00:00Z"), issue("2", "2026-10-26T03:59:59Z"),
                       issue("3", "2026-10-30T00:00:00Z", slug="other"), issue("4", "2026-11-01T12:00:00Z", count="9")],
                      week.start, week.end, ["legacy-api"])
    assert [r["id"] for r in rows] == ["4", "1"]
    assert rows[0]["title"] == "<!channel> & <b>"  # kept as sent: escaped where it is shown


def test_active_users_inside_the_period():
    week = metrics_period("2026-W44", ET)
    series = {"2026-10-25T00:00:00+00:00": 1, "2026-10-26T00:00:00+00:00": 2, "2026-11-01T00:00:00+00:00": 3,
              "2026-11-02T00:00:00+00:00": 4}
    assert active_users(series, week) == {"2026-10-26": 2, "2026-11-01": 3}


# ------------------------------------------------------------------ figures from CloudWatch answers

def test_figures_from_cloudwatch_answers():
    from estate_ops.domain.metrics import key_metric_figures

    t = [dt.datetime(2026, 10, 1, 4, m, tzinfo=dt.UTC) for m in range(5)]
    results = {
        "lb0_p50_period": ([t[0]], [0.12]), "lb0_p95_period": ([t[0]], [0.8]), "lb0_p99_period": ([], []),
        "lb0_p99_day0": ([t[0]], [9.0]),  # daily figures never make the period's
        "lb0_requests": ([t[0], t[1], t[3]], [100.0, 300.0, 0.0]),  # t2, t4 absent; t3 zero: 3 minutes no data
        "lb0_target5xx": ([t[0], t[1]], [1.0, 2.0]), "lb0_elb5xx": ([t[1]], [1.0]),
        "tg0_requests": ([t[0]], [50.0]), "tg0_target5xx": ([t[0]], [5.0]),
        "db0_max_period": ([t[0]], [150.0]), "db0_p95_period": ([t[0]], [120.0]),
        "db1_max_period": ([t[0]], [10.0]),
        "cc0_hits": ([t[0], t[1]], [90.0, 0.0]), "cc0_misses": ([t[0]], [10.0]),
    }
    rows = key_metric_figures(results, load_balancers=[("app/web/0123456789abcdef", ["targetgroup/api/0123456789abcdef"])],
                              databases=[("db-a", 200), ("db-b", None)], caches=["cache-a", "cache-b"],
                              period_seconds=300, resolution=60)
    by = {(r["resource"], r["metric"]): r for r in rows}
    lb = "app/web/0123456789abcdef"
    assert by[(lb, "latency_p50")]["value"] == Decimal("0.12")
    assert by[(lb, "latency_p99")]["value"] is None
    err = by[(lb, "error_rate")]
    assert err["details"] == {"errors": 4, "requests": 400, "no_data_minutes": 3, "percent": Decimal(1)}
    tg = by[(f"{lb} targetgroup/api/0123456789abcdef", "error_rate")]
    assert tg["value"] == Decimal(10) and tg["details"]["no_data_minutes"] == 4  # no ELB 5XX per target group
    assert by[("db-a", "db_connections")]["value"] == Decimal(75)
    assert by[("db-a", "db_connections")]["details"]["p95"] == Decimal(120)
    assert by[("db-b", "db_connections")]["value"] is None  # no max_connections: no headroom
    assert by[("cache-a", "cache_hit_rate")]["value"] == Decimal(90)
    assert by[("cache-b", "cache_hit_rate")]["value"] is None


def test_figures_refuse_a_period_of_partial_buckets():
    from estate_ops.domain.metrics import key_metric_figures

    with pytest.raises(ValueError, match="whole number"):
        key_metric_figures({}, load_balancers=[], databases=[], caches=[], period_seconds=90, resolution=60)
