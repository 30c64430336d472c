"""key_metrics_report end to end with dag.test() against the seeded sandbox, each period run twice.

Expected figures come from the metrics scenario's design (sandbox/scenarios/metrics.py), not from the
code under test: the slow ISO week breaches latency and (with the 5XX spike in it) the error rate, the
week before meets; the month's connection surge breaches (185 of 200), its cache hit rate meets; the
second target group's quiet hour is 60 no-data minutes a day; the first custom KPI is past its
threshold all the slow week (breached that week and month), the others meet. Two months before the
reference month nothing was seeded: every figure is no data, never met.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest
import yaml
from estate_ops.config import DEFAULT_ESTATE_PATH, load_estate
from estate_ops.domain.metrics import report_period
from estate_ops.domain.periods import PeriodError

from sandbox.scenarios.metrics import SURGE_CONNECTIONS, slow_week_monday
from tests.backups_estate import using_estate
from tests.dagrun import load_dag, run_dag, task_states
from tests.reports_bucket import keys, read_bytes, read_json, versions

pytestmark = pytest.mark.slow

LOGICAL = dt.datetime(2026, 11, 2, 11, 0, tzinfo=dt.UTC)
MONTH = "2026-10"
_MONDAY = slow_week_monday(dt.date(2026, 10, 1))
SLOW_WEEK = "{}-W{:02d}".format(*_MONDAY.isocalendar()[:2])
ESTATE = load_estate()
LB = ESTATE.monitoring.load_balancers[0].load_balancer
API_TG, WEB_TG = (f"{LB} {tg}" for tg in ESTATE.monitoring.load_balancers[0].target_groups)
DB = ESTATE.databases[0]
CACHE = ESTATE.monitoring.caches[0]
BREACHED_KPI, *MET_KPIS = ESTATE.monitoring.custom_kpis


def _figure(report, resource, metric):
    rows = [r for r in report["items"]["figures"] if r["resource"] == resource and r["metric"] == metric]
    assert len(rows) == 1, (resource, metric)
    return rows[0]


def _twice(handle, period):
    handle.reset()
    first = run_dag("key_metrics_report", LOGICAL, {"period": period})
    states_first = task_states(first)
    after_first, slack_first, events_first = versions(handle), handle.slack_messages(), handle.pagerduty_events()
    report = read_json(handle, f"metrics/{period}/report.json")
    html = read_bytes(handle, f"metrics/{period}/report.html").decode()
    second = run_dag("key_metrics_report", LOGICAL, {"period": period})
    return {"first": first, "second": second, "states": [states_first, task_states(second)], "html": html, "report": report, "after_first": after_first,
            "after_second": versions(handle), "slack_first": slack_first, "slack_second": handle.slack_messages(),
            "events_first": events_first, "events_second": handle.pagerduty_events()}


@pytest.fixture(scope="module")
def runs(sandbox_session):
    return {period: _twice(sandbox_session, period) for period in (MONTH, SLOW_WEEK)}


@pytest.mark.parametrize("period,task,skipped", [(MONTH, "monthly_report", "weekly_digest"),
                                                 (SLOW_WEEK, "weekly_digest", "monthly_report")])
def test_the_period_kind_runs_and_the_other_is_skipped(runs, period, task, skipped):
    for run, states in zip((runs[period]["first"], runs[period]["second"]), runs[period]["states"], strict=True):
        assert str(run.state) == "success", states
        assert (states.get(task), states.get(skipped)) == ("success", "skipped"), states


@pytest.mark.parametrize("period", [MONTH, SLOW_WEEK])
def test_rerun_writes_the_same_artifacts_and_sends_nothing_again(runs, period):
    run = runs[period]
    prefix = f"metrics/{period}/"
    written = {k for k in run["after_first"] if k.startswith(prefix)}
    assert {prefix + n for n in ("report.json", "report.html", "report.pdf", "latency.png", "error_rate.png",
                                 "connections.png", "hit_rate.png", "active_users.png", "custom_kpis.png")} <= written
    for key in written | {f"runs/key_metrics_report/{period}.json"}:
        assert run["after_second"][key] == run["after_first"][key], key
    assert run["slack_second"] == run["slack_first"]
    assert run["events_second"] == run["events_first"]
    summaries = [m for m in run["slack_first"] if f"Key metrics {period}" in m.get("text", "")]
    assert len(summaries) == 1


def test_the_review_contract_keys(runs):
    for period in (MONTH, SLOW_WEEK):
        report = runs[period]["report"]
        assert report["period"]["label"] == period and "headline" in report
    assert runs[MONTH]["report"]["period"]["month"] == MONTH


def test_the_slow_week_breaches_latency_and_the_week_before_meets(runs):
    report = runs[SLOW_WEEK]["report"]
    p50 = _figure(report, API_TG, "latency_p50")
    assert p50["status"] == "breached"
    assert Decimal(p50["value"]) > Decimal(p50["threshold"]["limit"])
    assert p50["previous"] is not None and Decimal(p50["previous"]) <= Decimal(p50["threshold"]["limit"])
    assert _figure(report, WEB_TG, "latency_p50")["status"] == "met"  # the slow week is the API's only
    kinds = {(f["kind"], f["resource"]) for f in report["findings"]}
    assert ("latency_p50_breached", API_TG) in kinds and ("latency_p99_breached", API_TG) in kinds


def test_the_spike_week_breaches_the_error_rate_the_month_meets(runs):
    week = _figure(runs[SLOW_WEEK]["report"], API_TG, "error_rate")
    assert week["status"] == "breached"
    d = week["details"]
    assert Decimal(week["value"]) == Decimal(d["errors"]) * 100 / Decimal(d["requests"])
    assert _figure(runs[MONTH]["report"], API_TG, "error_rate")["status"] == "met"


def test_quiet_minutes_are_no_data_not_zero_errors(runs):
    report = runs[MONTH]["report"]
    web = _figure(report, WEB_TG, "error_rate")
    # 05:00-06:00 UTC of every day of the contract month: one hour a day without a datapoint.
    month_days = 31
    assert web["details"]["no_data_minutes"] == 60 * month_days
    assert _figure(report, API_TG, "error_rate")["details"]["no_data_minutes"] == 0


def test_the_connection_surge_breaches_against_max_connections(runs):
    row = _figure(runs[MONTH]["report"], DB.id, "db_connections")
    assert row["details"]["peak"] == SURGE_CONNECTIONS and row["details"]["max_connections"] == DB.max_connections
    assert Decimal(row["value"]) == Decimal(SURGE_CONNECTIONS) * 100 / DB.max_connections
    assert row["status"] == "breached"
    # the month before holds only the seeded hours before the contract month began (UTC vs ET): no surge
    assert row["previous"] is not None and Decimal(row["previous"]) < Decimal(row["threshold"]["limit"])


def test_the_cold_cache_is_a_dip_the_month_absorbs(runs):
    row = _figure(runs[MONTH]["report"], CACHE, "cache_hit_rate")
    assert row["status"] == "met"
    days = [r for r in runs[MONTH]["report"]["items"]["daily"] if r["resource"] == CACHE and r["value"] is not None]
    assert min(Decimal(r["value"]) for r in days) < Decimal(90)


def _past(value, threshold):
    value, limit = Decimal(value), Decimal(threshold["limit"])
    return value > limit if threshold["direction"] == "at_most" else value < limit


@pytest.mark.parametrize("period", [SLOW_WEEK, MONTH])
def test_the_seeded_kpi_breach_is_a_finding_and_the_other_kpis_meet(runs, period):
    report = runs[period]["report"]
    row = _figure(report, BREACHED_KPI.name, "custom_kpi")
    assert row["status"] == "breached" and _past(row["value"], row["threshold"])
    assert row["threshold"] == {"limit": str(BREACHED_KPI.threshold.limit), "direction": BREACHED_KPI.threshold.direction,
                                "unit": BREACHED_KPI.unit}
    assert row["details"]["statistic"] == BREACHED_KPI.statistic
    found = [f for f in report["findings"] if f["kind"] == "custom_kpi_breached"]
    assert [f["resource"] for f in found] == [BREACHED_KPI.name]
    assert BREACHED_KPI.name in found[0]["summary"] and period in found[0]["dedup_key"]
    for kpi in MET_KPIS:
        assert _figure(report, kpi.name, "custom_kpi")["status"] == "met"
    days = [r for r in report["items"]["daily"] if r["resource"] == BREACHED_KPI.name]
    assert len(days) == len({r["day"] for r in days}) == (7 if period == SLOW_WEEK else 31)
    summary = next(m["text"] for m in runs[period]["slack_first"] if f"Key metrics {period}" in m.get("text", ""))
    assert f"KPI {BREACHED_KPI.name}:" in summary
    assert "Custom KPIs" in runs[period]["html"] and BREACHED_KPI.name in runs[period]["html"]


def test_the_week_before_the_kpi_breach_meets(runs):
    row = _figure(runs[SLOW_WEEK]["report"], BREACHED_KPI.name, "custom_kpi")
    assert row["previous"] is not None and not _past(row["previous"], row["threshold"])


def test_errors_and_users_are_reported(runs):
    report = runs[MONTH]["report"]
    assert report["headline"]["monthly_active_users"]["value"] is not None
    assert len(report["items"]["active_users"]) == 31
    assert report["headline"]["new_issues"]["value"] == len(report["items"]["new_issues"]) > 0
    assert all(i["link"] for i in report["items"]["new_issues"])



def test_outside_text_is_text_in_the_html(runs):
    from markupsafe import escape

    from sandbox.sentry import HOSTILE_TITLES

    html = runs[MONTH]["html"]
    assert "<script>alert(1)</script>" not in html
    shown = [t for t in HOSTILE_TITLES if t in {i["title"] for i in runs[MONTH]["report"]["items"]["new_issues"]}]
    for title in shown:
        assert str(escape(title))[:20] in html


def test_a_month_without_data_is_no_data_not_met(sandbox):
    run = run_dag("key_metrics_report", LOGICAL, {"period": "2026-08"})
    assert str(run.state) == "success", task_states(run)
    report = read_json(sandbox, "metrics/2026-08/report.json")
    assert {r["status"] for r in report["items"]["figures"]} == {"no_data"}
    assert not [f for f in report["findings"] if f["kind"].endswith("_breached")]


# ------------------------------------------------------------------ bad input


def _estate_with(tmp_path, change):
    data = yaml.safe_load(DEFAULT_ESTATE_PATH.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_cache_and_a_load_balancer_cloudwatch_does_not_know_are_findings(sandbox, tmp_path):
    ghost_lb = "app/legacy-ghost/0123456789abcdef"

    def change(data):
        data["monitoring"]["caches"].append("legacy-ghost-cache")
        data["monitoring"]["load_balancers"].append({"load_balancer": ghost_lb, "target_groups": []})

    with using_estate(_estate_with(tmp_path, change)):
        run = run_dag("key_metrics_report", LOGICAL, {"period": SLOW_WEEK})
    assert str(run.state) == "success", task_states(run)
    report = read_json(sandbox, f"metrics/{SLOW_WEEK}/report.json")
    missing = {(f["resource"], f["kind"]) for f in report["findings"] if f["kind"] == "metric_source_missing"}
    assert missing == {("legacy-ghost-cache", "metric_source_missing"), (ghost_lb, "metric_source_missing")}
    assert _figure(report, "legacy-ghost-cache", "cache_hit_rate")["status"] == "no_data"
    assert any("legacy-ghost-cache" in m.get("text", "") for m in sandbox.slack_messages())


def test_a_kpi_metric_cloudwatch_does_not_list_is_a_finding(sandbox, tmp_path):
    """A KPI whose metric CloudWatch does not have, and one whose metric it has but not with that exact
    dimension set (another metric in CloudWatch), are each a metric_source_missing finding naming it."""
    seeded = BREACHED_KPI.model_dump(mode="json")

    def change(data):
        # deep copies: a YAML dump of shared objects would write aliases, which the loader refuses
        data["monitoring"]["custom_kpis"] += [
            copy.deepcopy({**seeded, "name": "ghost-kpi", "metric": "NoSuchMetric"}),
            copy.deepcopy({**seeded, "name": "wider-kpi", "dimensions": {**seeded["dimensions"], "Region": "eu-west-1"}})]

    with using_estate(_estate_with(tmp_path, change)):
        run = run_dag("key_metrics_report", LOGICAL, {"period": SLOW_WEEK})
    assert str(run.state) == "success", task_states(run)
    report = read_json(sandbox, f"metrics/{SLOW_WEEK}/report.json")
    missing = {f["resource"] for f in report["findings"] if f["kind"] == "metric_source_missing"}
    assert missing == {"ghost-kpi", "wider-kpi"}
    for name in ("ghost-kpi", "wider-kpi"):
        assert _figure(report, name, "custom_kpi")["status"] == "no_data"
    assert _figure(report, BREACHED_KPI.name, "custom_kpi")["status"] == "breached"  # the others still read


@pytest.mark.parametrize("change,error", [
    (lambda d: d["monitoring"]["mixpanel"]["reports"].update(dau=99999), "no saved report 99999"),
    (lambda d: d["monitoring"]["sentry"].update(organization="no-such-org"), "no-such-org"),
])
def test_a_bad_source_fails_naming_it_and_writes_nothing(sandbox, tmp_path, change, error, capfd):
    with using_estate(_estate_with(tmp_path, change)):
        run = run_dag("key_metrics_report", LOGICAL, {"period": SLOW_WEEK})
    assert task_states(run)["weekly_digest"].endswith("failed")
    assert error in capfd.readouterr().out
    assert keys(sandbox, "metrics/") == []


def test_a_sentry_token_without_the_issues_scope_is_named(sandbox, monkeypatch, capfd):
    import json
    import os

    from sandbox.sentry import SENTRY_ORG_ONLY_TOKEN

    conn = json.loads(os.environ["AIRFLOW_CONN_SENTRY_DEFAULT"]) | {"password": SENTRY_ORG_ONLY_TOKEN}
    monkeypatch.setenv("AIRFLOW_CONN_SENTRY_DEFAULT", json.dumps(conn))
    run = run_dag("key_metrics_report", LOGICAL, {"period": MONTH})
    assert task_states(run)["monthly_report"].endswith("failed")
    assert "lacks the scope 'event:read'" in capfd.readouterr().out
    assert keys(sandbox, "metrics/") == []


@pytest.fixture(scope="module")
def period_field():
    return load_dag("key_metrics_report").params.get_param("period")


@pytest.mark.parametrize("good", [None, "", "2026-10", "2026-W44", "2026-W01", "2026-W53"])
def test_a_week_a_month_or_nothing_is_accepted_in_the_form(period_field, good):
    assert copy.deepcopy(period_field).resolve(good) == good


@pytest.mark.parametrize("bad", ["2026-13", "2026-W60", "2026-W00", "2026-10-01", "October", "2026-W4", "2026W44"])
def test_a_period_that_is_not_a_week_or_month_is_refused_in_the_form(period_field, bad):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        copy.deepcopy(period_field).resolve(bad)


@pytest.mark.parametrize("bad", ["2026-W53", "2026-00", "not-a-period"])
def test_the_domain_refuses_what_the_form_lets_through(bad):
    from zoneinfo import ZoneInfo

    with pytest.raises(PeriodError, match="week|month|period"):
        report_period("week", LOGICAL, bad, tz=ZoneInfo("America/New_York"), now=LOGICAL, scheduled=False)


def test_a_period_that_has_not_ended_is_refused():
    from zoneinfo import ZoneInfo

    with pytest.raises(PeriodError, match="has not ended"):
        report_period("month", LOGICAL, "2026-11", tz=ZoneInfo("America/New_York"), now=LOGICAL, scheduled=False)


def test_a_utc_contract_month_is_counted_in_utc(sandbox, tmp_path, monkeypatch):
    """The same month with plan.yaml `contract_month_timezone: UTC`: its bounds are UTC midnights and
    the figures are of those minutes (the quiet hour still falls on each of its 31 days)."""
    from estate_ops.config import DEFAULT_PLAN_PATH, clear_cache

    plan = DEFAULT_PLAN_PATH.read_text(encoding="utf-8").replace(
        "contract_month_timezone: America/New_York", "contract_month_timezone: UTC")
    assert "contract_month_timezone: UTC" in plan
    (tmp_path / "plan.yaml").write_text(plan, encoding="utf-8")
    monkeypatch.setenv("ESTATE_OPS_PLAN", str(tmp_path / "plan.yaml"))
    clear_cache()
    try:
        run = run_dag("key_metrics_report", LOGICAL, {"period": MONTH})
        states = task_states(run)
    finally:
        monkeypatch.delenv("ESTATE_OPS_PLAN")
        clear_cache()
    assert states["monthly_report"] == "success", states
    report = read_json(sandbox, f"metrics/{MONTH}/report.json")
    assert report["period"]["timezone"] == "UTC"
    assert report["period"]["start"] == "2026-10-01T00:00:00Z" and report["period"]["end"] == "2026-11-01T00:00:00Z"
    assert _figure(report, WEB_TG, "error_rate")["details"]["no_data_minutes"] == 60 * 31
    # the month before holds nothing in UTC (the seeded data starts at the month's first UTC instant)
    assert _figure(report, DB.id, "db_connections")["previous"] is None
