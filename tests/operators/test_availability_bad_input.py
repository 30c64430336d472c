"""Bad input for collection and the monthly report, against the sandbox: each row gets a clear error
(or a reported gap) and nothing is written. Operators run directly (no dag.test) to keep it lean."""

from __future__ import annotations

import datetime as dt
import json
import types

import pytest
from estate_ops.config import DEFAULT_ESTATE_PATH, load_config
from estate_ops.domain.maintenance import WindowError
from estate_ops.domain.periods import PeriodError
from estate_ops.operators.availability import (
    AvailabilityReportOperator,
    CollectHealthMetricsOperator,
    UnknownHealthCheckError,
)

COLLECT_RUN = dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC)
REPORT_RUN = dt.datetime(2026, 11, 1, 11, tzinfo=dt.UTC)


def context(logical, params):
    return {"logical_date": logical, "params": params,
            "dag_run": types.SimpleNamespace(run_id="manual__test", run_after=logical)}


def keys(sandbox) -> dict[str, str]:
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return out


def collect(params):
    from airflow.sdk import DAG

    with DAG("availability_collect_test", schedule=None):
        op = CollectHealthMetricsOperator(task_id="collect")
    return op.execute(context(COLLECT_RUN, params))


def report(params):
    from airflow.sdk import DAG

    with DAG("availability_report_test", schedule=None):
        op = AvailabilityReportOperator(task_id="report")
    return op.execute(context(REPORT_RUN, params))


@pytest.fixture
def unknown_check_estate(tmp_path, monkeypatch):
    estate = load_config()[1]
    bogus = "0b6a7a4e-0000-4000-8000-0000000000ff"
    text = DEFAULT_ESTATE_PATH.read_text().replace(estate.health_checks[2].id, bogus)
    path = tmp_path / "estate.yaml"
    path.write_text(text)
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(path))
    return bogus


@pytest.mark.parametrize(
    ("run", "params", "error", "message"),
    [
        (collect, {"date": "2026-13-01"}, PeriodError, "date must be YYYY-MM-DD, got '2026-13-01'"),
        (collect, {"date": "2099-01-01"}, PeriodError, "day 2099-01-01 has not ended yet"),
        (report, {"month": "2026/10"}, PeriodError, "month must be YYYY-MM"),
        (report, {"month": "2099-01"}, PeriodError, "month 2099-01 has not ended yet"),
    ],
    ids=["collect-bad-date", "collect-future-date", "report-bad-month", "report-future-month"],
)
def test_bad_period_params(sandbox, run, params, error, message):
    before = keys(sandbox)
    with pytest.raises(error, match=message):
        run(params)
    assert keys(sandbox) == before
    assert sandbox.slack_messages() == [] and sandbox.pagerduty_events() == []


def test_health_check_nobody_knows_fails_naming_it(sandbox, unknown_check_estate):
    before = keys(sandbox)
    with pytest.raises(UnknownHealthCheckError, match=rf"health_checks\[2\] \(documents, id {unknown_check_estate}\)"):
        collect({"date": "2026-10-31"})
    assert keys(sandbox) == before


@pytest.fixture
def unknown_target_group_estate(tmp_path, monkeypatch):
    alb = next(h for h in load_config()[1].health_checks if h.kind == "alb_target_group")
    bogus = "targetgroup/legacy-gone/00000000000000ff"
    text = DEFAULT_ESTATE_PATH.read_text()
    assert text.count(f"target_group: {alb.target_group}") == 1
    path = tmp_path / "estate.yaml"
    path.write_text(text.replace(f"target_group: {alb.target_group}", f"target_group: {bogus}"))
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(path))
    return alb, bogus


def test_alb_target_group_cloudwatch_does_not_know_fails_naming_it(sandbox, unknown_target_group_estate):
    alb, bogus = unknown_target_group_estate
    index = [h.name for h in load_config()[1].health_checks].index(alb.name)
    before = keys(sandbox)
    with pytest.raises(UnknownHealthCheckError,
                       match=rf"health_checks\[{index}\] \({alb.name}, load_balancer {alb.load_balancer}, "
                             rf"target_group {bogus}\): CloudWatch has no AWS/ApplicationELB HealthyHostCount"):
        collect({"date": "2026-10-31"})
    assert keys(sandbox) == before


def test_window_with_end_before_start_stops_the_report(sandbox):
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    bad = {"id": "mw-bad", "start": "2026-10-12T10:00:00Z", "end": "2026-10-12T06:00:00Z",
           "announced_at": "2026-10-01T00:00:00Z", "reason": "typo", "announced_by": "x@y.example",
           "status": "scheduled"}
    s3.put_object(Bucket=bucket, Key="maintenance/windows/mw-bad.json", Body=json.dumps(bad).encode())
    before = keys(sandbox)
    with pytest.raises(WindowError, match=r"maintenance/windows/mw-bad.json: .*end 2026-10-12 06:00 UTC is not after "
                                          r"start 2026-10-12 10:00 UTC"):
        report({"month": "2026-10"})
    assert keys(sandbox) == before


def test_corrupt_parquet_day_is_refetched_and_reported_as_a_gap(sandbox):
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    s3.put_object(Bucket=bucket, Key="health/date=2026-10-05/health.parquet", Body=b"PAR1 not really")
    result = report({"month": "2026-10"})
    doc = json.loads(s3.get_object(Bucket=bucket, Key="availability/2026-10/report.json")["Body"].read())
    gaps = {g["day"]: g for g in doc["items"]["data_gap_days"]}
    assert "stored file unreadable" in gaps["2026-10-05"]["resolution"]
    # CloudWatch holds nothing for 5 October in the sandbox: the whole day is no data, said so
    endpoints = len(load_config()[1].health_checks)  # the Route 53 checks and the ALB target group
    assert f"{1440 * endpoints} check-minutes without data" in gaps["2026-10-05"]["resolution"]
    assert result["composite_percent"] == doc["headline"]["composite_availability"]["value"]
    # 1,440 + 120 of 44,340 counted minutes without data per check: completeness < 99 % is warned
    api = next(e for e in doc["items"]["endpoints"] if e["endpoint"] == "api")
    assert api["no_data_minutes"] == 1440 + 120
    assert any(w.startswith("api: data completeness") for w in doc["warnings"])
