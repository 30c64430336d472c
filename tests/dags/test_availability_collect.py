"""availability_collect end to end with dag.test() against the sandbox, run twice: one call,
identical parquet bytes, one row per minute per check. The day's contents come from the
availability scenario (sandbox/scenarios/availability.py: the last day of October is all up).
Then the error-budget watch: October's budget is spent by the scenario's outages, which is one
P1 page, once."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow.parquet as pq
import pytest
from estate_ops.config import load_config
from estate_ops.domain.availability import finest_period

from tests.dagrun import run_dag, task_states

LOGICAL = dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC)  # the 01:00 UTC run collects 31 October
KEY = "health/date=2026-10-31/health.parquet"
BUDGET_KEY = "availability/2026-10/budget/2026-10-31.json"


def _get(sandbox, key):
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    obj = s3.get_object(Bucket=bucket, Key=key)
    return obj["Body"].read(), obj["LastModified"]


@pytest.fixture(scope="module")
def two_runs(sandbox_session):
    sandbox_session.reset()
    sandbox_session.clear_request_counts()
    first = run_dag("availability_collect", LOGICAL)
    counts_first = sandbox_session.request_counts()["paths"].get("aws", {})
    data_first, modified_first = _get(sandbox_session, KEY)
    budget_first, events_first = _get(sandbox_session, BUDGET_KEY), sandbox_session.pagerduty_events()
    second = run_dag("availability_collect", LOGICAL)
    counts_second = sandbox_session.request_counts()["paths"].get("aws", {})
    data_second, modified_second = _get(sandbox_session, KEY)
    return {"first": first, "second": second, "counts_first": counts_first, "counts_second": counts_second,
            "data": (data_first, data_second), "modified": (modified_first, modified_second),
            "budget": (budget_first, _get(sandbox_session, BUDGET_KEY)),
            "events": (events_first, sandbox_session.pagerduty_events())}


def test_both_runs_succeed(two_runs):
    for run in (two_runs["first"], two_runs["second"]):
        assert str(run.state) == "success", task_states(run)


def test_rerun_rewrites_the_same_bytes(two_runs):
    assert two_runs["data"][0] == two_runs["data"][1]
    assert two_runs["modified"][0] == two_runs["modified"][1]  # identical bytes are not even re-put


def test_one_get_metric_data_call_per_run(two_runs):
    # 3 checks x 2 metrics + 1 ALB target group = 7 queries, <= 10,080 points: the minimum is one call
    calls = {k: v for k, v in two_runs["counts_first"].items() if "GetMetricData" in k}
    assert sum(calls.values()) == 1, two_runs["counts_first"]
    calls_after = {k: v for k, v in two_runs["counts_second"].items() if "GetMetricData" in k}
    assert sum(calls_after.values()) == 2


def test_rows_cover_every_minute_of_every_check_at_the_allowed_resolution(two_runs):
    table = pq.read_table(io.BytesIO(two_runs["data"][0]))
    ids = [h.id for h in load_config()[1].health_checks]
    assert table.num_rows == 1440 * len(ids)
    assert sorted(set(table.column("health_check_id").to_pylist())) == sorted(ids)
    expected = finest_period(dt.datetime(2026, 10, 31, tzinfo=dt.UTC), dt.datetime.now(dt.UTC))
    assert set(table.column("resolution_seconds").to_pylist()) == {expected}
    assert set(table.column("status").to_pylist()) == {1}  # the scenario's 31 October is all up


def test_budget_watch_writes_the_month_to_date_once_and_pages_once(two_runs):
    (first, first_modified), (second, second_modified) = two_runs["budget"]
    assert first == second and first_modified == second_modified
    forecast = json.loads(first)
    # 31 October 24:00 UTC is 20:00 ET: still the ET October, whose last four hours are not stored yet.
    assert forecast["month"] == "2026-10" and forecast["as_of"] == "2026-11-01T00:00:00Z"
    assert forecast["elapsed_minutes"] == 44_640 - 240
    # the whole month's budget, as the monthly report has it: 0.1 % of 44,640 - 300 maintenance minutes
    assert forecast["used_minutes"] > float(forecast["allowed_minutes"]) == 44.34
    assert forecast["exhausted_at"].startswith("2026-10-")
    assert [f["kind"] for f in forecast["findings"]] == ["error_budget_exhausted"]
    events_first, events_second = two_runs["events"]
    pages = [e for e in events_second if "error_budget_exhausted" in (e.get("dedup_key") or "")]
    assert len(pages) == 1 and pages[0]["event"]["payload"]["severity"] == "error"  # P1, once
    assert events_second == events_first
