"""AWS in the sandbox: moto reached through boto3 with the endpoint, seeded from estate.yaml."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from estate_ops.config import load_estate

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def estate():
    return load_estate()


def test_identity_is_the_sandbox_account(sbx):
    assert sbx.boto3_client("sts").get_caller_identity()["Account"] == "123456789012"


def test_airflow_aws_connection_reaches_moto(sbx, monkeypatch, estate):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    for key, value in sbx.airflow_connections_env().items():
        monkeypatch.setenv(key, value)
    assert S3Hook(aws_conn_id="aws_default").check_for_bucket(estate.reports_bucket)


def test_buckets_versioning_and_replication(sbx, estate):
    s3 = sbx.boto3_client("s3")
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {estate.reports_bucket, estate.logs.archive_bucket} <= names
    for store in estate.documents:
        assert {store.bucket, store.replica_bucket} <= names
        for bucket in (store.bucket, store.replica_bucket):
            assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        [rule] = s3.get_bucket_replication(Bucket=store.bucket)["ReplicationConfiguration"]["Rules"]
        assert rule["Status"] == "Enabled"
        assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{store.replica_bucket}"
        assert rule["Destination"]["ReplicationTime"] == {"Status": "Enabled",
                                                          "Time": {"Minutes": 15}}
        location = s3.get_bucket_location(Bucket=store.replica_bucket)["LocationConstraint"]
        assert location == store.replica_region


def test_databases_have_backups_and_protection(sbx, estate):
    rds = sbx.boto3_client("rds", estate.aws.region)
    instances = {d["DBInstanceIdentifier"]: d for d in rds.describe_db_instances()["DBInstances"]}
    for db in estate.databases:
        instance = instances[db.id]
        assert instance["Engine"] == db.engine
        assert instance["BackupRetentionPeriod"] == 30
        assert instance["DeletionProtection"] is True
        assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == db.drill_subnet_group
        [snapshot] = rds.describe_db_snapshots(DBInstanceIdentifier=db.id,
                                               SnapshotType="automated")["DBSnapshots"]
        # The latest daily backup (03:00 UTC) before the fixed now, 2026-11-02T12:00Z.
        assert snapshot["SnapshotCreateTime"] == dt.datetime(2026, 11, 2, 3, tzinfo=dt.UTC)
        assert snapshot["DBSnapshotIdentifier"] == f"rds:{db.id}-2026-11-02-03-00"
    groups = rds.describe_db_subnet_groups()["DBSubnetGroups"]
    assert {g["DBSubnetGroupName"] for g in groups} == {d.drill_subnet_group for d in estate.databases}


def test_log_groups_keep_a_year(sbx, estate):
    logs = sbx.boto3_client("logs", estate.aws.region)
    groups = logs.describe_log_groups()["logGroups"]
    assert groups and all(g["retentionInDays"] == 365 for g in groups)
    assert all(any(g["logGroupName"].startswith(p) for p in estate.logs.group_prefixes)
               for g in groups)


def test_health_checks_have_the_estate_ids(sbx, estate):
    route53 = sbx.boto3_client("route53")
    checks = route53.list_health_checks()["HealthChecks"]
    assert sorted(c["Id"] for c in checks) == sorted(h.id for h in estate.route53_health_checks)
    for check in estate.route53_health_checks:
        assert route53.get_health_check(HealthCheckId=check.id)["HealthCheck"]["Id"] == check.id
        tags = route53.list_tags_for_resource(ResourceType="healthcheck", ResourceId=check.id)
        assert {"Key": "Name", "Value": check.name} in tags["ResourceTagSet"]["Tags"]


def test_aws_requests_are_counted_per_action(sbx):
    rds = sbx.boto3_client("rds")
    rds.describe_db_instances()
    rds.describe_db_instances()
    sbx.boto3_client("logs").describe_log_groups()
    counts = sbx.request_counts()["paths"]["aws"]
    assert counts["rds:DescribeDBInstances"] == 2
    assert counts["logs:DescribeLogGroups"] == 1


@pytest.mark.parametrize(("service", "action", "call", "code"), [
    ("rds", "DescribeDBSnapshots", lambda c: c.describe_db_snapshots(), "Throttling"),
    ("logs", "DescribeLogGroups", lambda c: c.describe_log_groups(), "ThrottlingException"),
    ("cloudwatch", "ListMetrics", lambda c: c.list_metrics(), "Throttling"),
    ("s3", None, lambda c: c.list_buckets(), "SlowDown"),
])
def test_simulated_aws_throttling(sbx, service, action, call, code):
    client = boto3.client(service, region_name="us-east-1", endpoint_url=sbx.aws_url,
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=NO_RETRY)
    sbx.throttle_aws(service, 1, action)
    with pytest.raises(ClientError) as raised:
        call(client)
    assert raised.value.response["Error"]["Code"] == code
    call(client)  # the next one goes through


def test_adaptive_retries_ride_out_throttling(sbx):
    client = boto3.client("rds", region_name="us-east-1", endpoint_url=sbx.aws_url,
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"max_attempts": 5, "mode": "adaptive"}))
    sbx.throttle_aws("rds", 2, "DescribeDBInstances")
    assert client.describe_db_instances()["DBInstances"]
    assert sbx.request_counts()["paths"]["aws"]["rds:DescribeDBInstances"] == 3


def test_removed_resources_are_missing(sbx, estate):
    rds = sbx.boto3_client("rds")
    db_id = estate.databases[0].id
    sbx.remove("rds_instance", db_id)
    with pytest.raises(ClientError) as raised:
        rds.describe_db_instances(DBInstanceIdentifier=db_id)
    assert raised.value.response["Error"]["Code"] == "DBInstanceNotFound"
    sbx.remove("health_check", estate.health_checks[0].id)
    with pytest.raises(ClientError):
        sbx.boto3_client("route53").get_health_check(HealthCheckId=estate.health_checks[0].id)
    sbx.remove("s3_bucket", estate.documents[0].replica_bucket)
    with pytest.raises(ClientError):
        sbx.boto3_client("s3").head_bucket(Bucket=estate.documents[0].replica_bucket)
