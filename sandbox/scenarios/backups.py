"""Backups scenario: what `backup_verification` and `restore_drill` find in the sandbox.

On top of `base` (every database with 30-day retention, deletion protection and one automated
snapshot; document buckets replicated with RTC; `/legacy/application` kept 365 days):

- databases: the first estate database healthy (restorable to 5 minutes ago); the second with
  7-day retention; an extra instance `legacy-analytics-db` (not in estate.yaml: tests add it to
  their estate) whose restorable time is 3 hours stale. Every instance's endpoint points at the
  sandbox's PostgreSQL `estate` database (sandbox/postgres.py), and a point-in-time restore
  copies it, so the drill's SQL runs for real;
- documents: the first document bucket holds 12 objects replicated (COMPLETED, same version in
  the replica) except the second newest, FAILED; a second pair `legacy-contracts` ->
  `legacy-contracts-replica` (us-west-2, not in estate.yaml) whose replica has no versioning;
- logs: `/legacy/api` kept 30 days and `/legacy/batch-jobs` with no retention (kept forever),
  beside base's 365-day `/legacy/application`; the log archive bucket expires objects at 365 d;
- history: the reference month's daily verification reports and weekly drill reports in the
  reports bucket, as the month's runs would have left them (sandbox/backup_history.py), so the
  month close (`service_review`) has the month's backups and drills to quote.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sandbox.backup_history import SHORT_RETENTION_DAYS, month_history
from sandbox.context import SeedContext

EXTRA_DB = "legacy-analytics-db"
STALE_RESTORABLE = dt.timedelta(hours=3)
HEALTHY_RESTORABLE = dt.timedelta(minutes=5)
DOCUMENT_OBJECTS = 12
FAILED_OBJECT_RANK = 1  # 0 = newest: the second newest object failed to replicate
SECOND_STORE = ("legacy-contracts", "legacy-contracts-replica", "us-west-2")
LOG_GROUPS = {"api": 30, "batch-jobs": None}
ARCHIVE_EXPIRY_DAYS = 365


def seed(ctx: SeedContext) -> None:
    _seed_databases(ctx)
    _seed_documents(ctx)
    _seed_logs(ctx)
    _seed_history(ctx)


# ---------------------------------------------------------------------- RDS


def _seed_databases(ctx: SeedContext) -> None:
    from sandbox import postgres

    region = ctx.estate.aws.region
    rds = ctx.moto_backend("rds", region)
    databases = [db.id for db in ctx.estate.databases]
    if EXTRA_DB not in databases and databases:
        first = ctx.estate.databases[0]
        ctx.aws_client("rds", region).create_db_instance(
            DBInstanceIdentifier=EXTRA_DB, Engine="postgres", EngineVersion="16.4",
            DBInstanceClass="db.t3.medium", AllocatedStorage=50, MasterUsername="legacy",
            MasterUserPassword="sandbox-password", DBName="legacy", DBSubnetGroupName=first.drill_subnet_group,
            BackupRetentionPeriod=30, DeletionProtection=True, StorageEncrypted=True,
            Tags=[{"Key": "estate", "Value": "legacy"}, {"Key": "critical", "Value": "false"}])
        for snapshot_id in [sid for sid, snap in rds.database_snapshots.items()
                            if snap.db_instance_identifier == EXTRA_DB]:
            del rds.database_snapshots[snapshot_id]
        ctx.aws.add_db_snapshot(rds, EXTRA_DB, _latest_backup(ctx.now))
    for db_id in databases:
        ctx.aws.set_latest_restorable_time(rds, db_id, ctx.now - HEALTHY_RESTORABLE)
    if len(databases) > 1:
        rds.databases[databases[1]].backup_retention_period = SHORT_RETENTION_DAYS
    if EXTRA_DB in rds.databases:
        ctx.aws.set_latest_restorable_time(rds, EXTRA_DB, ctx.now - STALE_RESTORABLE)

    server = postgres.ensure_started(ctx.state_dir, ctx.now)
    if server is not None:
        for instance in rds.databases.values():
            postgres.point_at(instance, server, postgres.TEMPLATE_DB)


def _latest_backup(now: dt.datetime) -> dt.datetime:
    start = now.replace(hour=3, minute=0, second=0, microsecond=0)
    return start if start <= now else start - dt.timedelta(days=1)


# ---------------------------------------------------------------------- S3


def _seed_documents(ctx: SeedContext) -> None:
    region = ctx.estate.aws.region
    s3_backend = ctx.moto_backend("s3")
    s3 = ctx.aws_client("s3", region)
    if ctx.estate.documents:
        store = ctx.estate.documents[0]
        replica = ctx.aws_client("s3", store.replica_region)
        for i in range(DOCUMENT_OBJECTS):
            key = f"leases/2026/lease-{i:04d}.pdf"
            body = f"%PDF-1.7 lease {i}\n".encode()
            version = s3.put_object(Bucket=store.bucket, Key=key, Body=body)["VersionId"]
            # Newest last: object 11 is the newest, written 20 minutes before now.
            when = ctx.now - dt.timedelta(minutes=20 + 90 * (DOCUMENT_OBJECTS - 1 - i))
            ctx.aws.set_object_time(s3_backend, store.bucket, key, when)
            failed = (DOCUMENT_OBJECTS - 1 - i) == FAILED_OBJECT_RANK
            ctx.aws.set_replication_status(s3_backend, store.bucket, key, "FAILED" if failed else "COMPLETED")
            if failed:
                continue
            replica.put_object(Bucket=store.replica_bucket, Key=key, Body=body)
            copy = s3_backend.get_object(store.replica_bucket, key)
            copy._version_id = version  # replication keeps the source's version id
            ctx.aws.set_object_time(s3_backend, store.replica_bucket, key, when + dt.timedelta(seconds=30))
            ctx.aws.set_replication_status(s3_backend, store.replica_bucket, key, "REPLICA")

    bucket, replica_bucket, replica_region = SECOND_STORE
    s3.create_bucket(Bucket=bucket)
    ctx.aws_client("s3", replica_region).create_bucket(
        Bucket=replica_bucket, CreateBucketConfiguration={"LocationConstraint": replica_region})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
        "Role": f"arn:aws:iam::{ctx.account_id}:role/legacy-s3-replication",
        "Rules": [{"ID": "replicate-contracts", "Priority": 1, "Status": "Enabled", "Filter": {},
                   "DeleteMarkerReplication": {"Status": "Enabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{replica_bucket}",
                                   "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                                   "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}]})


# ---------------------------------------------------------------------- logs


def _seed_logs(ctx: SeedContext) -> None:
    region = ctx.estate.aws.region
    logs = ctx.aws_client("logs", region)
    prefix = ctx.estate.logs.group_prefixes[0].rstrip("/")
    for name, days in LOG_GROUPS.items():
        group = f"{prefix}/{name}"
        logs.create_log_group(logGroupName=group, tags={"estate": "legacy"})
        if days is not None:
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    ctx.aws_client("s3", region).put_bucket_lifecycle_configuration(
        Bucket=ctx.estate.logs.archive_bucket,
        LifecycleConfiguration={"Rules": [{"ID": "expire-after-a-year", "Status": "Enabled", "Filter": {},
                                           "Expiration": {"Days": ARCHIVE_EXPIRY_DAYS}}]})


# ---------------------------------------------------------------------- the month's reports


def _seed_history(ctx: SeedContext) -> None:
    s3 = ctx.aws_client("s3", ctx.estate.aws.region)
    for key, body in month_history(ctx.plan, ctx.estate, ctx.reference_month, seed=ctx.seed,
                                   account_id=ctx.account_id):
        s3.put_object(Bucket=ctx.estate.reports_bucket, Key=key, Body=body, ContentType="application/json",
                      Metadata={"sha256": hashlib.sha256(body).hexdigest()})  # as ArtifactStore writes
