"""LogGroupsHook: every log group under a prefix, across DescribeLogGroups pages (50 each)."""

from __future__ import annotations

import json

from estate_ops.hooks.logs import LogGroupsHook
from moto import mock_aws


def test_log_groups_page_past_50(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MOTO_INPROCESS", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing", "extra": {"region_name": "us-east-1"}}))
    with mock_aws():
        import boto3

        logs = boto3.client("logs", region_name="us-east-1")
        for i in range(120):
            logs.create_log_group(logGroupName=f"/legacy/g{i:03d}")
        logs.create_log_group(logGroupName="/other/g")
        logs.put_retention_policy(logGroupName="/legacy/g007", retentionInDays=365)
        hook = LogGroupsHook("moto_inprocess", "us-east-1")
        calls = [0]
        hook.conn.meta.events.register("before-call.cloudwatch-logs.DescribeLogGroups",
                                       lambda **_: calls.__setitem__(0, calls[0] + 1))
        groups = hook.log_groups("/legacy/")
    assert len(groups) == 120 and {g["logGroupName"] for g in groups} == {f"/legacy/g{i:03d}" for i in range(120)}
    assert next(g for g in groups if g["logGroupName"] == "/legacy/g007")["retentionInDays"] == 365
    assert calls[0] == 3  # 50 + 50 + 20
