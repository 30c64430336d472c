"""Custom business KPIs in the key-metrics report (issue 15 §2 "Custom KPIs"): each KPI's figure and
daily rows from CloudWatch's answers, judged against its own threshold in its own unit, a breach a
`custom_kpi_breached` finding naming it, no data never met."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from estate_ops.config import CustomKpi, load_plan
from estate_ops.domain.metrics import (
    build_metrics_report,
    daily_rows,
    judge,
    key_metric_figures,
    metrics_period,
    slack_summary,
)

ET = ZoneInfo("America/New_York")
SHAPE = {"load_balancers": [], "databases": [], "caches": [], "resolution": 300}


def kpi(name="checkout-duration", *, statistic="p90", unit="Seconds", limit="3.0", direction="at_most",
        threshold_unit=None):
    return CustomKpi.model_validate({
        "name": name, "namespace": "Legacy/Business", "metric": "CheckoutDuration",
        "dimensions": {"Service": "checkout"}, "statistic": statistic, "unit": unit,
        "threshold": {"limit": limit, "direction": direction, "unit": threshold_unit or unit}})


DURATION = kpi()
SUCCESS = kpi("payment-success-rate", statistic="Average", unit="Percent", limit="97", direction="at_least")


@pytest.fixture(scope="module")
def plan():
    return load_plan()


def test_a_kpis_figure_is_cloudwatchs_whole_period_datapoint_and_no_datapoint_is_none():
    period = metrics_period("2026-10", ET)
    results = {"kpi0_period": ([period.start], [4.25]), "kpi1_period": ([], []),
               # a day's answer never makes the period's figure
               "kpi1_day0": ([period.start], [99.0])}
    rows = key_metric_figures(results, period_seconds=int((period.end - period.start).total_seconds()),
                              kpis=[DURATION, SUCCESS], **SHAPE)
    assert rows == [
        {"resource": "checkout-duration", "metric": "custom_kpi", "value": Decimal("4.25"),
         "details": {"namespace": "Legacy/Business", "metric": "CheckoutDuration", "statistic": "p90",
                     "unit": "Seconds"}},
        {"resource": "payment-success-rate", "metric": "custom_kpi", "value": None,
         "details": {"namespace": "Legacy/Business", "metric": "CheckoutDuration", "statistic": "Average",
                     "unit": "Percent"}},
    ]


@pytest.mark.parametrize("label", ["2026-11", "2027-03", "2026-W44"])
def test_a_kpis_daily_rows_land_on_their_contract_day_across_dst(label):
    period = metrics_period(label, ET)
    results = {}
    for k, (lo, hi, seconds) in enumerate(period.day_segments()):
        stamps = [lo + dt.timedelta(seconds=i * seconds) for i in range(int((hi - lo).total_seconds()) // seconds)]
        # the second day has no datapoint; every other day's value is its day of the month
        kept = [s for s in stamps if s != period.day_start(period.days[1])]
        results[f"kpi0_day{k}"] = (kept, [float(s.astimezone(ET).day) for s in kept])
    rows = daily_rows(results, period, kpis=[DURATION], **SHAPE)
    values = {r["day"]: r["value"] for r in rows if r["resource"] == "checkout-duration"}
    assert all(r["metric"] == "custom_kpi" for r in rows)
    assert values == {d: (None if d == period.days[1] else Decimal(d.day)) for d in period.days}


@pytest.mark.parametrize("the_kpi,value,status", [
    (DURATION, Decimal("3.0"), "met"), (DURATION, Decimal("3.0001"), "breached"), (DURATION, None, "no_data"),
    (SUCCESS, Decimal(97), "met"), (SUCCESS, Decimal("96.999"), "breached"), (SUCCESS, None, "no_data"),
])
def test_a_kpi_is_judged_against_its_own_threshold(the_kpi, value, status):
    j = judge("custom_kpi", the_kpi.name, value, None, the_kpi.threshold, expected_unit=the_kpi.unit)
    assert j.status == status and j.unit == the_kpi.unit and j.limit == the_kpi.threshold.limit


def test_a_kpi_threshold_in_another_unit_is_refused_and_a_kpi_needs_its_unit():
    ms = kpi(unit="Milliseconds", limit="3000")
    with pytest.raises(ValueError, match="expected 'Seconds'"):
        judge("custom_kpi", "checkout-duration", Decimal(1), None, ms.threshold, expected_unit="Seconds")
    with pytest.raises(KeyError, match="custom_kpi"):
        judge("custom_kpi", "checkout-duration", Decimal(1), None, DURATION.threshold)


def test_a_built_in_metric_keeps_its_own_unit(plan):
    latency = plan.monitoring.key_metrics.thresholds["latency_p99"]
    with pytest.raises(ValueError, match="latency_p99 is measured in 'seconds'"):
        judge("latency_p99", "lb", Decimal(1), None, latency, expected_unit="Seconds")


def _report(plan, period, figures, previous=(), kpis=(DURATION, SUCCESS)):
    return build_metrics_report(plan=plan, period=period, figures=list(figures), previous=list(previous), daily=[],
                                missing=[], sentry=None, users=None, estate_name="x", inputs={}, resolution=300,
                                kpis=list(kpis))


def _row(the_kpi, value):
    return {"resource": the_kpi.name, "metric": "custom_kpi", "value": value,
            "details": {"namespace": the_kpi.namespace, "metric": the_kpi.metric, "statistic": the_kpi.statistic,
                        "unit": the_kpi.unit}}


def test_a_breached_kpi_is_a_finding_naming_it_and_no_data_is_not_met(plan):
    week = metrics_period("2026-W44", ET)
    report, findings = _report(plan, week, [_row(DURATION, Decimal("4.5")), _row(SUCCESS, None)],
                               previous=[_row(DURATION, Decimal("2.0"))])
    rows = {r["resource"]: r for r in report["items"]["figures"]}
    assert rows["checkout-duration"]["status"] == "breached"
    assert rows["checkout-duration"]["previous"] == Decimal("2.0")
    assert rows["checkout-duration"]["threshold"] == {"limit": Decimal("3.0"), "direction": "at_most",
                                                      "unit": "Seconds"}
    assert rows["checkout-duration"]["details"]["statistic"] == "p90"
    assert rows["payment-success-rate"]["status"] == "no_data"
    assert report["headline"]["figures_breached"]["value"] == 1
    assert report["headline"]["figures_no_data"]["value"] == 1
    assert [(f.kind, f.resource, f.severity) for f in findings] == [
        ("custom_kpi_breached", "checkout-duration", plan.finding_severity("custom_kpi_breached"))]
    assert "checkout-duration" in findings[0].summary and "2026-W44" in findings[0].summary


def test_a_kpi_breach_is_one_finding_per_kpi_and_period(plan):
    week = metrics_period("2026-W44", ET)
    both = [_row(DURATION, Decimal(9)), _row(SUCCESS, Decimal(50))]
    _, findings = _report(plan, week, both)
    _, again = _report(plan, week, both)
    _, next_week = _report(plan, week.previous(), both)
    keys = [f.dedup_key for f in findings]
    assert len(set(keys)) == 2 and [f.dedup_key for f in again] == keys
    assert not set(keys) & {f.dedup_key for f in next_week}


def test_the_slack_summary_lists_a_kpi_breach_escaped(plan):
    @dataclass(frozen=True)
    class Loose:  # the domain escapes whatever it is given, whatever config allows
        limit: Decimal
        direction: str
        unit: str

    @dataclass(frozen=True)
    class LooseKpi:
        name: str
        namespace: str
        metric: str
        statistic: str
        unit: str
        threshold: Loose

    hostile = LooseKpi("<!channel>&kpi", "Legacy/Business", "Orders", "Sum", "Count",
                       Loose(Decimal(10), "at_least", "Count"))
    report, _ = _report(plan, metrics_period("2026-10", ET), [_row(hostile, Decimal(3)), _row(DURATION, Decimal(1))],
                        kpis=[hostile, DURATION])
    text = slack_summary(report)
    assert "<!channel>" not in text and "KPI &lt;!channel&gt;&amp;kpi: 3.000 Count (threshold 10)" in text
    assert "checkout-duration" not in text  # met: not listed
    assert text.splitlines()[0].count("1 breached")
