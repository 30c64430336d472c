"""sandbox.aws helpers that set what the AWS API cannot, checked in-process with moto's mock."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws

from sandbox import aws

NOW = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


@pytest.fixture
def moto():
    with mock_aws():
        aws.install_moto_patches()
        yield


def _db(rds_client):
    rds_client.create_db_instance(DBInstanceIdentifier="db1", Engine="postgres",
                                  DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                                  MasterUsername="u", MasterUserPassword="password1",
                                  BackupRetentionPeriod=30)


def test_snapshot_times_and_aws_style_automated_ids(moto):
    client = boto3.client("rds", region_name="us-east-1")
    _db(client)
    backend = aws.backend("rds")
    aws.add_db_snapshot(backend, "db1", NOW - dt.timedelta(days=3))
    aws.add_db_snapshot(backend, "db1", NOW - dt.timedelta(days=40), snapshot_type="manual",
                        snapshot_id="pre-upgrade", tags=[{"Key": "keep", "Value": "yes"}])
    snapshots = {s["DBSnapshotIdentifier"]: s
                 for s in client.describe_db_snapshots(DBInstanceIdentifier="db1")["DBSnapshots"]}
    auto = snapshots["rds:db1-2026-10-30-12-00"]
    assert auto["SnapshotType"] == "automated"
    assert auto["SnapshotCreateTime"] == NOW - dt.timedelta(days=3)
    assert snapshots["pre-upgrade"]["SnapshotCreateTime"] == NOW - dt.timedelta(days=40)
    assert snapshots["pre-upgrade"]["TagList"] == [{"Key": "keep", "Value": "yes"}]


def test_latest_restorable_time_is_settable(moto):
    client = boto3.client("rds", region_name="us-east-1")
    _db(client)
    aws.set_latest_restorable_time(aws.backend("rds"), "db1", NOW - dt.timedelta(hours=3))
    [instance] = client.describe_db_instances()["DBInstances"]
    assert instance["LatestRestorableTime"] == NOW - dt.timedelta(hours=3)
    aws.set_latest_restorable_time(aws.backend("rds"), "db1", None)
    [instance] = client.describe_db_instances()["DBInstances"]
    assert abs(instance["LatestRestorableTime"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_replication_status_shows_in_head_and_get(moto):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="docs")
    s3.put_object(Bucket="docs", Key="a.pdf", Body=b"x")
    assert "ReplicationStatus" not in s3.head_object(Bucket="docs", Key="a.pdf")
    aws.set_replication_status(aws.backend("s3"), "docs", "a.pdf", "FAILED")
    assert s3.head_object(Bucket="docs", Key="a.pdf")["ReplicationStatus"] == "FAILED"
    assert s3.get_object(Bucket="docs", Key="a.pdf")["ReplicationStatus"] == "FAILED"
    with pytest.raises(ValueError):
        aws.set_replication_status(aws.backend("s3"), "docs", "a.pdf", "DONE")


def test_object_time_and_health_check_rekey(moto):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="docs")
    s3.put_object(Bucket="docs", Key="a.pdf", Body=b"x")
    aws.set_object_time(aws.backend("s3"), "docs", "a.pdf", NOW)
    assert s3.head_object(Bucket="docs", Key="a.pdf")["LastModified"] == NOW
    route53 = boto3.client("route53", region_name="us-east-1")
    created = route53.create_health_check(CallerReference="r", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": "api.example", "Port": 443})
    wanted = "0b6a7a4e-0000-4000-8000-00000000abcd"
    aws.rekey_health_check(aws.backend("route53"), created["HealthCheck"]["Id"], wanted)
    assert [c["Id"] for c in route53.list_health_checks()["HealthChecks"]] == [wanted]


def test_naive_datetimes_are_refused(moto):
    client = boto3.client("rds", region_name="us-east-1")
    _db(client)
    with pytest.raises(ValueError, match="naive"):
        aws.add_db_snapshot(aws.backend("rds"), "db1", dt.datetime(2026, 11, 1))
