"""Retention scenario: what `retention_pruning` finds in the sandbox.

On top of `base` and `backups` (which already seed `/legacy/api` kept 30 days and
`/legacy/batch-jobs` kept forever, and a one-year lifecycle rule on the log archive):

- 60 days of daily manual snapshots (04:00 UTC) of each of the first two estate databases,
  ids `<db>-manual-YYYY-MM-DD`; on the first database three old ones tagged `legal-hold`, on
  the second one tagged `keep`;
- older automated snapshots of each database (one of them 40 days old: AWS would have expired
  it, pruning must still never touch it) and an AWS Backup snapshot (`awsbackup:job-…`);
- `legacy-staging-db`, a database that no longer exists (not in estate.yaml), with two manual
  snapshots and its final snapshot;
- backup verification status objects (`backups/status/<db>.json` in the reports bucket, as
  `backup_verification` writes them): the first database green 6 h before now, the second
  not green (its backup retention is 7 days in the backups scenario).

For the pruning benchmark, `SANDBOX_RETENTION_BULK=<databases>:<snapshots per database>:<days>`
seeds that many manual snapshots per estate database instead, spread evenly over `days`,
through moto's backend (thousands of API calls would take minutes), and makes
DescribeDBSnapshots page by 100 as AWS does (moto returns everything in one answer).
"""

from __future__ import annotations

import datetime as dt
import json
import os

from sandbox.context import SeedContext

DAYS = 60
SNAPSHOT_HOUR = 4
LEGAL_HOLD_AGES = (40, 47, 55)  # days before now, on the first database
KEEP_AGE = 50  # on the second database
AUTOMATED_AGES = (2, 3, 4, 40)
AWS_BACKUP_AGE = 45
DELETED_DB = "legacy-staging-db"
DELETED_DB_SNAPSHOT_AGES = (70, 80)
DELETED_DB_FINAL_AGE = 65
VERIFIED_HOURS_AGO = 6


def manual_snapshot_id(db_id: str, day: dt.date) -> str:
    return f"{db_id}-manual-{day.isoformat()}"


def seed(ctx: SeedContext) -> None:
    bulk = os.environ.get("SANDBOX_RETENTION_BULK")
    if bulk:
        _seed_bulk(ctx, bulk)
        return
    region = ctx.estate.aws.region
    rds = ctx.moto_backend("rds", region)
    dbs = [db.id for db in ctx.estate.databases][:2]
    midnight = ctx.now.replace(hour=0, minute=0, second=0, microsecond=0)
    for index, db_id in enumerate(dbs):
        for age in range(1, DAYS + 1):
            when = midnight - dt.timedelta(days=age) + dt.timedelta(hours=SNAPSHOT_HOUR)
            tags = None
            if index == 0 and age in LEGAL_HOLD_AGES:
                tags = [{"Key": "legal-hold", "Value": f"case-{age}"}]
            elif index == 1 and age == KEEP_AGE:
                tags = [{"Key": "keep", "Value": "audit 2026"}]
            ctx.aws.add_db_snapshot(rds, db_id, when, snapshot_type="manual",
                                    snapshot_id=manual_snapshot_id(db_id, when.date()), tags=tags)
        for age in AUTOMATED_AGES:
            ctx.aws.add_db_snapshot(rds, db_id, midnight - dt.timedelta(days=age, hours=-3))
    if dbs:
        backup = ctx.aws.add_db_snapshot(rds, dbs[0], midnight - dt.timedelta(days=AWS_BACKUP_AGE),
                                         snapshot_type="manual", snapshot_id=f"awsbackup:job-{ctx.rng().getrandbits(64):016x}")
        backup.snapshot_type = "awsbackup"
        _seed_deleted_database(ctx, rds, midnight)
        _seed_verification(ctx, dbs)


def _seed_deleted_database(ctx: SeedContext, rds, midnight: dt.datetime) -> None:
    region = ctx.estate.aws.region
    first = ctx.estate.databases[0]
    ctx.aws_client("rds", region).create_db_instance(
        DBInstanceIdentifier=DELETED_DB, Engine="postgres", EngineVersion="16.4", DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername="legacy", MasterUserPassword="sandbox-password",
        DBSubnetGroupName=first.drill_subnet_group)
    for age in DELETED_DB_SNAPSHOT_AGES:
        ctx.aws.add_db_snapshot(rds, DELETED_DB, midnight - dt.timedelta(days=age), snapshot_type="manual",
                                snapshot_id=f"{DELETED_DB}-manual-{(midnight - dt.timedelta(days=age)).date()}")
    ctx.aws.add_db_snapshot(rds, DELETED_DB, midnight - dt.timedelta(days=DELETED_DB_FINAL_AGE),
                            snapshot_type="manual", snapshot_id=f"{DELETED_DB}-final")
    for snapshot_id in [sid for sid, snap in rds.database_snapshots.items()
                        if snap.db_instance_identifier == DELETED_DB and snap.snapshot_type == "automated"]:
        del rds.database_snapshots[snapshot_id]
    del rds.databases[DELETED_DB]


def _seed_verification(ctx: SeedContext, dbs: list[str]) -> None:
    s3 = ctx.aws_client("s3", ctx.estate.aws.region)
    verified = ctx.now - dt.timedelta(hours=VERIFIED_HOURS_AGO)
    for index, db_id in enumerate(dbs):
        green = index == 0
        findings = [] if green else [{"kind": "backup_retention_short", "severity": "P1",
                                      "summary": f"{db_id}: BackupRetentionPeriod 7 days, the plan keeps 30"}]
        status = {"db_id": db_id, "verified_at": verified.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "day": verified.date().isoformat(), "green": green, "findings": findings}
        s3.put_object(Bucket=ctx.estate.reports_bucket, Key=f"backups/status/{db_id}.json",
                      Body=json.dumps(status, sort_keys=True).encode(), ContentType="application/json")


def _seed_bulk(ctx: SeedContext, spec: str) -> None:
    """`<databases>:<per database>:<days>` manual snapshots, and a green status for each database."""
    databases, per_db, days = (int(x) for x in spec.split(":"))
    _page_describe_db_snapshots()
    rds = ctx.moto_backend("rds", ctx.estate.aws.region)
    dbs = [db.id for db in ctx.estate.databases][:databases]
    step = dt.timedelta(days=days) / per_db
    for db_id in dbs:
        for i in range(per_db):
            when = ctx.now - dt.timedelta(hours=1) - step * i
            ctx.aws.add_db_snapshot(rds, db_id, when, snapshot_type="manual", snapshot_id=f"{db_id}-bulk-{i:05d}")
    _seed_verification_green(ctx, dbs)


def _seed_verification_green(ctx: SeedContext, dbs: list[str]) -> None:
    s3 = ctx.aws_client("s3", ctx.estate.aws.region)
    verified = ctx.now - dt.timedelta(hours=VERIFIED_HOURS_AGO)
    for db_id in dbs:
        status = {"db_id": db_id, "verified_at": verified.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "day": verified.date().isoformat(), "green": True, "findings": []}
        s3.put_object(Bucket=ctx.estate.reports_bucket, Key=f"backups/status/{db_id}.json",
                      Body=json.dumps(status).encode(), ContentType="application/json")


def _page_describe_db_snapshots() -> None:
    """Page DescribeDBSnapshots as AWS does (MaxRecords, default 100; an opaque Marker).

    moto answers with every snapshot at once; with 10,000 of them that is neither what AWS sends
    nor what the benchmark is about. Applied in bulk mode only, in the sandbox process.
    """
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    if getattr(RDSResponse.describe_db_snapshots, "sandbox_paged", False):
        return
    original = RDSResponse.describe_db_snapshots

    def paged(self):
        snapshots = sorted(original(self).result["DBSnapshots"], key=lambda s: s.db_snapshot_identifier)
        size = min(max(int(self.params.get("MaxRecords") or 100), 20), 100)
        start = int(self.params.get("Marker") or 0)
        page = {"DBSnapshots": snapshots[start:start + size]}
        if start + size < len(snapshots):
            page["Marker"] = str(start + size)
        return ActionResult(page)

    paged.sandbox_paged = True
    RDSResponse.describe_db_snapshots = paged
