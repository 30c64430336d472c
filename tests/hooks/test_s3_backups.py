"""BucketsHook's backup methods against moto in-process."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from estate_ops.hooks.s3 import BucketsHook
from moto import mock_aws


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MOTO_INPROCESS", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing", "extra": {"region_name": "us-east-1"}}))
    with mock_aws():
        import boto3

        yield boto3.client("s3", region_name="us-east-1"), BucketsHook("moto_inprocess", "us-east-1")


def test_unconfigured_bucket_reads_as_empty(aws):
    s3, hook = aws
    s3.create_bucket(Bucket="plain")
    assert hook.versioning_status("plain") is None
    assert hook.replication_rules("plain") == []
    assert hook.lifecycle_rules("plain") == []
    assert hook.newest_objects("plain", 5) == []


def test_configured_bucket(aws):
    s3, hook = aws
    s3.create_bucket(Bucket="docs")
    s3.put_bucket_versioning(Bucket="docs", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket="docs", ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r",
        "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {},
                   "DeleteMarkerReplication": {"Status": "Disabled"},
                   "Destination": {"Bucket": "arn:aws:s3:::docs-replica"}}]})
    assert hook.versioning_status("docs") == "Enabled"
    assert [r["ID"] for r in hook.replication_rules("docs")] == ["all"]


def test_newest_objects_and_versions(aws):
    from moto.backends import get_backend

    s3, hook = aws
    s3.create_bucket(Bucket="docs")
    s3.put_bucket_versioning(Bucket="docs", VersioningConfiguration={"Status": "Enabled"})
    backend = get_backend("s3")["123456789012"]["aws"]
    base = dt.datetime(2026, 11, 1)
    for i, key in enumerate(["c", "a", "e", "b", "d"]):  # listed alphabetically, modified in this order
        s3.put_object(Bucket="docs", Key=key, Body=b"x")
        backend.get_object("docs", key).last_modified = base + dt.timedelta(minutes=i)
    assert [o["Key"] for o in hook.newest_objects("docs", 3)] == ["d", "b", "e"]
    first = s3.put_object(Bucket="docs", Key="v", Body=b"1")["VersionId"]
    s3.put_object(Bucket="docs", Key="v", Body=b"2")
    assert hook.head_version("docs", "v", first)["VersionId"] == first
    assert hook.head_version("docs", "v", "no-such-version") is None
    assert hook.head_version("docs", "missing") is None
