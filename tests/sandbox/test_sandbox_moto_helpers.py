"""sandbox.aws helpers that set what the AWS API cannot, checked in-process with moto's mock."""

from __future__ import annotations

import datetime as dt
import random

import boto3
import pytest
from moto import mock_aws
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)

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


def test_fast_get_metric_data_answers_like_moto(moto):
    import random


    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    rng = random.Random(7)
    start = dt.datetime(2026, 10, 7, tzinfo=dt.UTC)
    for check in ("a", "b"):
        data = [{"MetricName": "HealthCheckStatus", "Value": float(rng.random() > 0.1),
                 "Timestamp": start + dt.timedelta(minutes=m, seconds=rng.randrange(60)),
                 "Dimensions": [{"Name": "HealthCheckId", "Value": check}]}
                for m in range(180) if rng.random() > 0.05]
        for i in range(0, len(data), 500):
            cloudwatch.put_metric_data(Namespace="AWS/Route53", MetricData=data[i:i + 500])
    queries = [{"Id": f"q{n}", "MetricStat": {
        "Metric": {"Namespace": "AWS/Route53", "MetricName": "HealthCheckStatus",
                   "Dimensions": [{"Name": "HealthCheckId", "Value": check}]},
        "Period": period, "Stat": stat}}
        for n, (check, period, stat) in enumerate([("a", 60, "Minimum"), ("b", 300, "Average"),
                                                   ("a", 3600, "SampleCount"), ("b", 60, "Sum")])]
    backend = aws.backend("cloudwatch")
    # The backend holds what the API parsed; query it with the same kind of datetime.
    naive = backend.metric_data[0].timestamp.tzinfo is None
    begin = start.replace(tzinfo=None) if naive else start
    for scan in ("TimestampAscending", "TimestampDescending"):
        for window in (dt.timedelta(hours=3), dt.timedelta(minutes=47)):
            got = backend.get_metric_data(queries, begin + dt.timedelta(minutes=3),
                                          begin + window, scan)
            want = _moto_get_metric_data(backend, queries, begin + dt.timedelta(minutes=3),
                                         begin + window, scan)
            assert got == want
    via_api = cloudwatch.get_metric_data(MetricDataQueries=queries[:1], StartTime=start,
                                         EndTime=start + dt.timedelta(hours=3))
    assert len(via_api["MetricDataResults"][0]["Values"]) > 150


def _moto_get_metric_data(backend, queries, start, end, scan):
    """moto's own implementation, reached through the patch's closure."""
    from moto.cloudwatch.models import CloudWatchBackend

    patched = CloudWatchBackend.get_metric_data
    original = next(cell.cell_contents for cell in patched.__closure__
                    if callable(cell.cell_contents) and cell.cell_contents is not patched
                    and getattr(cell.cell_contents, "__name__", "") == "get_metric_data")
    return original(backend, queries, start, end, scan)


def test_extended_statistics_are_true_percentiles_of_the_raw_samples(moto):
    import numpy as np

    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    rng = random.Random(15)
    start = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
    dims = [{"Name": "LoadBalancer", "Value": "app/web/0123456789abcdef"}]
    # Two days of latencies: a quiet day and a slow one (a long tail), one sample a minute.
    samples = {0: [rng.lognormvariate(-2.5, 0.4) for _ in range(1440)],
               1: [rng.lognormvariate(-1.5, 0.9) for _ in range(1440)]}
    data = [{"MetricName": "TargetResponseTime", "Value": v, "Dimensions": dims,
             "Timestamp": start + dt.timedelta(days=day, minutes=m)}
            for day, values in samples.items() for m, v in enumerate(values)]
    for i in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data[i:i + 1000])
    metric = {"Namespace": "AWS/ApplicationELB", "MetricName": "TargetResponseTime", "Dimensions": dims}
    queries = [{"Id": f"{stat}_{label}", "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}}
               for stat in ("p50", "p99") for label, period in (("day", 86_400), ("whole", 2 * 86_400))]
    answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start,
                                        EndTime=start + dt.timedelta(days=2), ScanBy="TimestampAscending")
    got = {r["Id"]: r["Values"] for r in answer["MetricDataResults"]}
    everything = samples[0] + samples[1]
    for stat, q in (("p50", 50), ("p99", 99)):
        assert got[f"{stat}_day"] == pytest.approx([np.percentile(samples[0], q), np.percentile(samples[1], q)])
        assert got[f"{stat}_whole"] == pytest.approx([np.percentile(everything, q)])
        # the period's percentile is not the mean of the daily ones
        assert got[f"{stat}_whole"][0] != pytest.approx(sum(got[f"{stat}_day"]) / 2, rel=1e-3)


def test_dispatcher_works_out_each_host_once_and_as_moto_does(monkeypatch):
    hosts = [None, "moto_api", "rds", "rds.us-east-1.amazonaws.com", "s3.amazonaws.com",
             "monitoring.us-east-1.amazonaws.com", "nothing.example.org"]
    expected = {h: DomainDispatcherApplication(create_backend_app).get_backend_for_host(h) for h in hosts}
    assert expected["rds.us-east-1.amazonaws.com"] == "rds" and expected["nothing.example.org"] is None
    asked = []
    original = DomainDispatcherApplication.get_backend_for_host
    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host",
                        lambda self, host: asked.append(host) or original(self, host))
    dispatcher = aws._Dispatcher(create_backend_app)
    assert {h: dispatcher.get_backend_for_host(h) for h in hosts * 3} == expected
    assert asked == hosts
