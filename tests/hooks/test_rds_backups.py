"""RdsBackupsHook's backup methods against moto in-process: real pagination beyond one page,
the newest automated snapshot, restores that are retried, teardown of protected instances."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from estate_ops.hooks.rds import RdsBackupsHook
from moto import mock_aws

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def rds(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MOTO_INPROCESS", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing", "extra": {"region_name": "us-east-1"}}))
    monkeypatch.setenv("MOTO_RDS_SNAPSHOT_LIMIT", "10000")
    with mock_aws():
        import boto3
        from moto.backends import get_backend

        client = boto3.client("rds", region_name="us-east-1")
        yield client, get_backend("rds")["123456789012"]["us-east-1"], RdsBackupsHook("moto_inprocess", "us-east-1")


def make_db(client, db_id: str, **kwargs) -> None:
    client.create_db_instance(DBInstanceIdentifier=db_id, Engine="postgres", DBInstanceClass="db.t3.micro",
                              AllocatedStorage=20, MasterUsername="u", MasterUserPassword="password123", **kwargs)


def count_calls(hook: RdsBackupsHook, operation: str) -> list[int]:
    calls = [0]

    def before(**_kwargs):
        calls[0] += 1

    hook.conn.meta.events.register(f"before-call.rds.{operation}", before)
    return calls


def test_newest_automated_snapshot_reads_every_page(rds):
    client, backend, hook = rds
    make_db(client, "db-1")
    make_db(client, "db-2")
    for sid in list(backend.database_snapshots):
        del backend.database_snapshots[sid]
    # 230 automated snapshots in an order that puts the newest in the middle of the last page.
    ages = [(i * 37) % 230 for i in range(230)]
    for n, age in enumerate(ages):
        snapshot = backend.create_auto_snapshot("db-1", f"rds:db-1-{n:03d}")
        snapshot.created = snapshot.original_snapshot_create_time = NOW - dt.timedelta(hours=age + 1)
    backend.create_auto_snapshot("db-2", "rds:db-2-newer").created = NOW  # another database's: ignored
    client.create_db_snapshot(DBInstanceIdentifier="db-1", DBSnapshotIdentifier="manual-newest")  # manual: ignored
    calls = count_calls(hook, "DescribeDBSnapshots")
    newest, count = hook.newest_automated_snapshot("db-1")
    assert count == 230
    assert newest["DBSnapshotIdentifier"] == f"rds:db-1-{ages.index(0):03d}"
    assert newest["SnapshotCreateTime"] == NOW - dt.timedelta(hours=1)
    assert calls[0] >= 1  # moto answers in one page whatever MaxRecords; AWS pages at 100


def test_no_automated_snapshot(rds):
    client, backend, hook = rds
    make_db(client, "db-1")
    for sid in list(backend.database_snapshots):
        del backend.database_snapshots[sid]
    assert hook.newest_automated_snapshot("db-1") == (None, 0)


def test_describe_instances_pages_past_100(rds):
    client, _backend, hook = rds
    for i in range(105):
        make_db(client, f"db-{i:03d}", Tags=[{"Key": "n", "Value": str(i)}])
    instances = hook.describe_instances()
    assert len(instances) == 105
    assert instances[104]["TagList"] == [{"Key": "n", "Value": "104"}]


def test_restore_is_private_and_a_retry_finds_the_first(rds):
    import boto3

    client, _backend, hook = rds
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]
               ["SubnetId"] for i, z in enumerate("ab")]
    client.create_db_subnet_group(DBSubnetGroupName="private", SubnetIds=subnets, DBSubnetGroupDescription="p")
    make_db(client, "db-1")
    from estate_ops.domain.drill import (
        DRILL_RUN_TAG_KEY,
        DRILL_SOURCE_TAG_KEY,
        DRILL_TAG_KEY,
        DRILL_TAG_VALUE,
    )

    # The drill's own tags: a retry adopts the instance only when they name this source and run.
    tags = [{"Key": DRILL_TAG_KEY, "Value": DRILL_TAG_VALUE}, {"Key": DRILL_SOURCE_TAG_KEY, "Value": "db-1"},
            {"Key": DRILL_RUN_TAG_KEY, "Value": "run-1"}]
    kwargs = {"source_id": "db-1", "scratch_id": "drill-db-1-x", "restore_time": NOW, "subnet_group": "private",
              "instance_class": "db.t3.micro", "tags": tags}
    first = hook.restore_scratch_instance(**kwargs)
    again = hook.restore_scratch_instance(**kwargs)
    assert first["DBInstanceIdentifier"] == again["DBInstanceIdentifier"] == "drill-db-1-x"
    assert [i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"]] == ["db-1", "drill-db-1-x"]


def test_delete_scratch_instance_outcomes(rds):
    client, _backend, hook = rds
    make_db(client, "drill-protected", DeletionProtection=True)
    assert hook.delete_scratch_instance("drill-protected") in ("deleted", "deleting")
    assert client.describe_db_instances()["DBInstances"] == []
    assert hook.delete_scratch_instance("drill-protected") == "gone"
