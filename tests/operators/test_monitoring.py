"""AuditMonitoringOperator's bad input against the sandbox: each row gets a clear error and nothing
is written. Operators run directly (no dag.test) to keep it lean."""

from __future__ import annotations

import datetime as dt
import types

import pytest
from estate_ops.config import load_config
from estate_ops.domain.periods import PeriodError
from estate_ops.hooks.connections import MissingConnectionError
from estate_ops.operators.monitoring import AuditMonitoringOperator

RUN = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


def _keys(sandbox) -> dict[str, str]:
    s3 = sandbox.boto3_client("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=load_config()[1].reports_bucket):
        out.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return out


def _audit(params):
    from airflow.sdk import DAG

    with DAG("monitoring_audit_test", schedule=None):
        op = AuditMonitoringOperator(task_id="audit")
    return op.execute({"logical_date": RUN, "params": params,
                       "dag_run": types.SimpleNamespace(run_id="manual__test", run_after=RUN)})


@pytest.mark.parametrize("params,error,message", [
    ({"date": "2026-11-03"}, PeriodError, "date 2026-11-03 is after the run's day 2026-11-02"),
    ({"date": "yesterday"}, PeriodError, "date must be YYYY-MM-DD, got 'yesterday'"),
])
def test_bad_date_is_refused_before_anything_is_read_or_written(sandbox, params, error, message):
    before = _keys(sandbox)
    sandbox.clear_request_counts()
    with pytest.raises(error, match=message):
        _audit(params)
    assert _keys(sandbox) == before
    assert not sandbox.request_counts()["paths"].get("aws", {}).get("cloudwatch:DescribeAlarms")


def test_a_missing_aws_connection_is_named(sandbox, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT", raising=False)
    before = _keys(sandbox)
    with pytest.raises(MissingConnectionError, match="'aws_default' \\(estate.yaml aws.conn_id\\)"):
        _audit({})
    assert _keys(sandbox) == before


def test_a_past_date_files_the_audit_under_that_day(sandbox):
    result = _audit({"date": "2026-11-01"})
    assert "monitoring/2026-11-01/audit.json" in result["artifacts"]
    assert "monitoring/2026-11-01/audit.json" in _keys(sandbox)


@pytest.mark.parametrize("service,action,counted", [
    ("cloudwatch", "DescribeAlarms", "cloudwatch:DescribeAlarms"),
    ("sns", "ListSubscriptionsByTopic", "sns:ListSubscriptionsByTopic"),
])
def test_throttling_is_retried_and_the_audit_is_the_same(sandbox, service, action, counted):
    calm = _audit({})
    sandbox.reset()
    sandbox.clear_request_counts()
    sandbox.throttle_aws(service, count=2, action=action)
    throttled = _audit({})
    assert throttled["findings"] == calm["findings"]
    made = sandbox.request_counts()["paths"]["aws"][counted]
    assert made == calm["calls"][counted] + 2  # the two throttled requests were retried
