"""backups.*: one day's backup verification of 200 databases, 50 document buckets and 500 log
groups, against moto in-process (`mock_aws`, no HTTP: the figures are the project's own cost,
not a server's). Runs in a child process so the mock and the generated estate stay there.

Every mapped verify task of `backup_verification` is executed as Airflow would (operator
`execute` with the run's context), then the publish step's domain report is built. Figures:

- backups.aws_calls / backups.aws_calls_minimum: AWS API calls made, and the minimum the checks
  need: per database DescribeDBInstances + one DescribeDBSnapshots page per 100 automated
  snapshots; per bucket pair HeadBucket x2, GetBucketVersioning x2, GetBucketReplication,
  GetBucketLifecycleConfiguration x2, one ListObjectsV2 page, HeadObject per sampled object
  (+1 on the replica when COMPLETED); per prefix one DescribeLogGroups page per 50 groups; the
  archive bucket HeadBucket + GetBucketLifecycleConfiguration. Goal: made == minimum.
- backups.wall_seconds: the verification of all resources one after another in one process
  (a deployment spreads the mapped tasks over workers, 12 at once for databases: pool rds_api),
  backups.cpu_seconds (this process's CPU: the figure to
  trust on a busy machine) and backups.seconds_per_resource. backups.client_setups / client_setup_seconds:
  how much of it is botocore building clients (each hook builds its own, as each Airflow task
  does in its own process; loading botocore's JSON models dominates on a slow disk/CPU).
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import record
from devtools.localenv import ROOT

DATABASES, BUCKETS, LOG_GROUPS = 200, 50, 500
SNAPSHOTS_PER_DB = 30
OBJECTS_PER_BUCKET = 8

_CHILD = r'''
import collections, datetime as dt, json, math, os, sys, tempfile, time
sys.path[:0] = [ROOT, ROOT + "/plugins"]
os.environ.update({"MOTO_RDS_SNAPSHOT_LIMIT": "1000000", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                   "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "login": "testing", "password": "testing",
                                                           "extra": {"region_name": "us-east-1"}})})
import boto3, botocore.client, yaml
from moto import mock_aws

U = dt.timezone.utc
NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=U)

calls = collections.Counter()
counting = False
clients = {"count": 0, "seconds": 0.0}
import botocore.session
original_create_client = botocore.session.Session.create_client
def timed_create_client(self, *args, **kwargs):
    started = time.perf_counter()
    try:
        return original_create_client(self, *args, **kwargs)
    finally:
        if counting:
            clients["count"] += 1
            clients["seconds"] += time.perf_counter() - started
botocore.session.Session.create_client = timed_create_client
original = botocore.client.BaseClient._make_api_call
def counted(self, operation, params):
    if counting:
        calls[operation] += 1
    return original(self, operation, params)
botocore.client.BaseClient._make_api_call = counted

with mock_aws():
    from moto.backends import get_backend
    from sandbox.aws import install_moto_patches
    install_moto_patches()  # ReplicationStatus in HeadObject, as the sandbox shows it
    s3_backend = get_backend("s3")["123456789012"]["aws"]
    rds = boto3.client("rds", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    s3w = boto3.client("s3", region_name="us-west-2")
    logs = boto3.client("logs", region_name="us-east-1")
    s3.create_bucket(Bucket="bench-reports")
    s3.create_bucket(Bucket="bench-log-archive")
    s3.put_bucket_lifecycle_configuration(Bucket="bench-log-archive", LifecycleConfiguration={"Rules": [
        {"ID": "year", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 365}}]})
    rds_backend = get_backend("rds")["123456789012"]["us-east-1"]
    dbs = [f"bench-db-{i:03d}" for i in range(DATABASES)]
    for db in dbs:
        rds.create_db_instance(DBInstanceIdentifier=db, Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="u", MasterUserPassword="password123",
                               BackupRetentionPeriod=30, DeletionProtection=True)
        rds_backend.databases[db].sandbox_lrt = NOW
        for sid in [s for s, snap in rds_backend.database_snapshots.items() if snap.db_instance_identifier == db]:
            del rds_backend.database_snapshots[sid]
        for day in range(SNAPSHOTS_PER_DB):
            snap = rds_backend.create_auto_snapshot(db, f"rds:{db}-{day:02d}")
            snap.created = NOW - dt.timedelta(days=day, hours=9)
            snap.original_snapshot_create_time = snap.created
    stores = []
    for i in range(BUCKETS):
        bucket, replica = f"bench-docs-{i:02d}", f"bench-docs-{i:02d}-replica"
        s3.create_bucket(Bucket=bucket)
        s3w.create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3w.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r",
            "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {},
                       "DeleteMarkerReplication": {"Status": "Enabled"},
                       "Destination": {"Bucket": f"arn:aws:s3:::{replica}",
                                       "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                                       "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}]})
        for k in range(OBJECTS_PER_BUCKET):
            key = f"doc-{k:03d}.pdf"
            version = s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF")["VersionId"]
            s3_backend.get_object(bucket, key).sandbox_replication_status = "COMPLETED"
            s3w.put_object(Bucket=replica, Key=key, Body=b"%PDF")
            s3_backend.get_object(replica, key)._version_id = version  # replication keeps version ids
        stores.append({"bucket": bucket, "replica_bucket": replica, "replica_region": "us-west-2"})
    for i in range(LOG_GROUPS):
        logs.create_log_group(logGroupName=f"/bench/group-{i:04d}")
        logs.put_retention_policy(logGroupName=f"/bench/group-{i:04d}", retentionInDays=365)

    # moto's LatestRestorableTime is its live clock: pin it to the run's time, as the sandbox does.
    from moto.rds.models import DBInstance
    DBInstance.latest_restorable_time = property(lambda self: getattr(self, "sandbox_lrt", None) or NOW)

    estate = yaml.safe_load(open(ROOT + "/include/estate.yaml"))
    template = estate["databases"][0]
    estate["databases"] = [{**template, "id": db} for db in dbs]
    estate["documents"] = stores
    estate["logs"] = {"group_prefixes": ["/bench/"], "archive_bucket": "bench-log-archive"}
    estate["reports_bucket"] = "bench-reports"
    path = tempfile.mktemp(suffix=".yaml")
    open(path, "w").write(yaml.safe_dump(estate))
    os.environ["ESTATE_OPS_ESTATE"] = path

    from airflow.sdk import DAG
    from estate_ops.config import load_config
    from estate_ops.domain.backups import Verdict, build_verification_report
    from estate_ops.operators.backups import (
        DEFAULT_SAMPLE_SIZE,
        VerifyDocumentReplicationOperator,
        VerifyLogArchiveOperator,
        VerifyLogRetentionOperator,
        VerifyRdsBackupsOperator,
    )

    plan, est = load_config()
    context = {"logical_date": NOW}
    with DAG("bench_backups", schedule=None):
        ops = [VerifyRdsBackupsOperator(task_id=f"db{i}", db_id=db) for i, db in enumerate(dbs)]
        ops += [VerifyDocumentReplicationOperator(task_id=f"b{i}", bucket=s["bucket"]) for i, s in enumerate(stores)]
        ops += [VerifyLogRetentionOperator(task_id="logs", prefix="/bench/"), VerifyLogArchiveOperator(task_id="archive")]
    counting = True
    started, cpu_started = time.perf_counter(), time.process_time()
    verdicts = [Verdict.from_dict(op.execute(context)) for op in ops]
    result = build_verification_report(plan, "bench", NOW.date(), NOW, verdicts)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    counting = False

    sampled = min(OBJECTS_PER_BUCKET, DEFAULT_SAMPLE_SIZE)
    minimum = (DATABASES * (1 + math.ceil(SNAPSHOTS_PER_DB / 100))
               + BUCKETS * (2 + 2 + 1 + 2 + 1 + 2 * sampled)  # HEAD each sampled object and its replica
               + math.ceil(LOG_GROUPS / 50) + 2)
    failed = sum(not c["ok"] for c in result.report["items"]["checks"])
    print(json.dumps({"calls": sum(calls.values()), "by_operation": dict(calls), "minimum": minimum,
                      "wall": wall, "cpu": cpu, "clients": clients["count"], "client_seconds": clients["seconds"], "checks": len(result.report["items"]["checks"]), "failed": failed,
                      "findings": len(result.findings)}))
'''


def run() -> list[dict]:
    code = (f"ROOT = {str(ROOT)!r}\nDATABASES, BUCKETS, LOG_GROUPS = {DATABASES}, {BUCKETS}, {LOG_GROUPS}\n"
            f"SNAPSHOTS_PER_DB, OBJECTS_PER_BUCKET = {SNAPSHOTS_PER_DB}, {OBJECTS_PER_BUCKET}\n" + _CHILD)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"backups benchmark child failed:\n{result.stderr[-4000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"   AWS calls by operation: {figures['by_operation']}")
    print(f"   checks {figures['checks']}, failed {figures['failed']}, findings {figures['findings']}")
    made, minimum = figures["calls"], figures["minimum"]
    resources = DATABASES + BUCKETS + 2
    return [
        record("backups.aws_calls", made, "calls", f"== {minimum}", made == minimum),
        record("backups.aws_calls_minimum", minimum, "calls"),
        record("backups.wall_seconds", round(figures["wall"], 2), "s"),
        record("backups.cpu_seconds", round(figures["cpu"], 2), "s"),
        record("backups.seconds_per_resource", round(figures["wall"] / resources, 3), "s"),
        record("backups.client_setups", figures["clients"], "clients"),
        record("backups.client_setup_seconds", round(figures["client_seconds"], 2), "s"),
    ]
