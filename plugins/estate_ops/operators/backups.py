"""Backup verification (plan §4.1): each database, document bucket pair and log store checked
daily, then one report, per-database statuses and alerts.

- `VerifyRdsBackupsOperator`, `VerifyDocumentReplicationOperator`, `VerifyLogRetentionOperator`
  and `VerifyLogArchiveOperator` check one resource each (mapped) and return its verdict.
- `PublishBackupVerificationOperator` gathers every mapped verify task's verdict and writes
  `backups/YYYY-MM-DD/verification.{json,html,pdf}`, `backups/status/<db_id>.json` (read by
  `retention_pruning` before it deletes anything) and the run manifest, then routes findings
  (P0/P1 page, P2/P3 one Slack message). A resource whose verify task failed is "not verified":
  a finding, and its status is not green.
It runs with trigger rule all_done: a resource whose task failed is reported, never silently lost.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of

STATUS_PREFIX = "backups/status/"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return [v for v in value if v is not None]


class PublishBackupVerificationOperator(ReportPublisher, BaseOperator):
    def __init__(self, *, verify_task_ids: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.verify_task_ids = verify_task_ids

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.backups import (
            Verdict,
            build_verification_report,
            not_verified,
        )
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        as_of = run_as_of(context)
        day = as_of.date()
        ti = context["ti"]
        verdicts = [Verdict.from_dict(v) for task_id in self.verify_task_ids
                    for v in _as_list(ti.xcom_pull(task_ids=task_id))]
        seen = {(v.area, v.resource) for v in verdicts}
        expected = [("database", db.id) for db in estate.databases]
        expected += [("documents", d.bucket) for d in estate.documents]
        expected += [("logs", p) for p in estate.logs.group_prefixes] + [("logs", estate.logs.archive_bucket)]
        unverified = [f"{area} {resource}" for area, resource in expected if (area, resource) not in seen]
        for area, resource in expected:
            if (area, resource) not in seen:
                verdicts.append(not_verified(plan, area, resource, day,
                                             "its verification task failed (see the task log)"))
        result = build_verification_report(plan, estate.estate.name, day, as_of, verdicts)
        store = ArtifactStore.for_estate(estate)
        keys = self.publish_report(context, store, f"backups/{day.isoformat()}", result.report, name="verification")
        for db_id, status in sorted(result.statuses.items()):
            key = f"{STATUS_PREFIX}{db_id}.json"
            store.put_json(key, status)
            keys.append(key)
        routed = SeverityRouter(plan, estate, store).route(result.findings, source=self.dag_id)
        write_run_manifest(store, self.dag_id, day.isoformat(), keys, result.report["headline"],
                           status="failed" if unverified else
                           "ok" if result.report["headline"]["status"]["value"] == "green" else "findings")
        if unverified:
            # Everything is written and routed; the run must still show it did not verify everything.
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"not verified (their tasks failed): {', '.join(unverified)}")
        return {"artifacts": keys, "findings": len(result.findings), "routed": routed}


# --------------------------------------------------------------------------- one resource each


class VerifyRdsBackupsOperator(BaseOperator):
    """Daily: retention >= the plan's, a recent automated snapshot, continuous backup within the
    RPO, deletion protection. A missing database or AccessDenied is a finding, not a crash."""

    template_fields = ("db_id",)

    def __init__(self, *, db_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db_id = db_id

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.backups import DatabaseObservation, verify_database
        from estate_ops.hooks.aws import access_denied_as_finding
        from estate_ops.hooks.rds import RdsBackupsHook

        plan, estate = load_config()
        as_of = run_as_of(context)
        hook = RdsBackupsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        try:
            with access_denied_as_finding(estate.aws.conn_id, "rds:DescribeDBInstances") as call:
                instance = hook.describe_instance(self.db_id)
                if instance is None:
                    obs = DatabaseObservation(self.db_id, exists=False)
                else:
                    call.action = "rds:DescribeDBSnapshots"
                    newest, count = hook.newest_automated_snapshot(self.db_id)
                    obs = DatabaseObservation(
                        self.db_id, exists=True, status=instance.get("DBInstanceStatus"),
                        backup_retention_days=instance.get("BackupRetentionPeriod"),
                        latest_restorable_time=instance.get("LatestRestorableTime"),
                        deletion_protection=instance.get("DeletionProtection"),
                        newest_automated_snapshot_id=(newest or {}).get("DBSnapshotIdentifier"),
                        newest_automated_snapshot_time=(newest or {}).get("SnapshotCreateTime"),
                        automated_snapshots=count,
                    )
        except RuntimeError as exc:  # iter_db_snapshots wraps ClientError in a readable line
            if "access denied" not in str(exc):
                raise
            call.error = str(exc)
        if call.error is not None:
            obs = DatabaseObservation(self.db_id, exists=True, error=call.error)
        verdict = verify_database(plan, obs, as_of, as_of.date())
        for check in verdict.checks:
            self.log.info("%s %s: %s", "OK  " if check.ok else "FAIL", check.check, check.detail)
        return verdict.as_dict()


# How many of the newest objects are checked object by object (HEAD on the bucket and replica).
DEFAULT_SAMPLE_SIZE = 5


class VerifyDocumentReplicationOperator(BaseOperator):
    """Versioning on both sides, a covering replication rule with RTC, no deleting lifecycle
    rule, and the newest objects replicated. A missing bucket or AccessDenied is a finding."""

    template_fields = ("bucket",)

    def __init__(self, *, bucket: str, sample_size: int = DEFAULT_SAMPLE_SIZE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.sample_size = sample_size

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.backups import BucketObservation, verify_documents
        from estate_ops.hooks.aws import access_denied_as_finding

        plan, estate = load_config()
        store = next((d for d in estate.documents if d.bucket == self.bucket), None)
        if store is None:
            raise ValueError(f"bucket {self.bucket!r} is not a document bucket in estate.yaml documents; expected "
                             f"one of {[d.bucket for d in estate.documents]}")
        as_of = run_as_of(context)
        with access_denied_as_finding(estate.aws.conn_id, "s3:ListBucket") as call:
            obs = observe_document_store(store, estate, self.sample_size, call)
        if call.error is not None:
            obs = BucketObservation(store.bucket, store.replica_bucket, store.replica_region, exists=True,
                                    error=call.error)
        verdict = verify_documents(plan, obs, as_of, as_of.date())
        for check in verdict.checks:
            self.log.info("%s %s %s: %s", "OK  " if check.ok else "FAIL", check.resource, check.check, check.detail)
        return verdict.as_dict()


def observe_document_store(store: Any, estate: Any, sample_size: int, call: Any):
    """Everything verify_documents needs, read from S3. `call.action` (an `AwsCall`) names the IAM
    action of the call in flight, so an AccessDenied can say what the policy lacks."""
    from estate_ops.domain.backups import BucketObservation, ObjectSample
    from estate_ops.hooks.s3 import BucketsHook

    conn_id = estate.aws.conn_id
    main = BucketsHook(aws_conn_id=conn_id, region_name=estate.aws.region)
    call.action = "s3:ListBucket"
    region = main.bucket_region(store.bucket)
    if region is None:
        return BucketObservation(store.bucket, store.replica_bucket, store.replica_region, exists=False)
    if region != estate.aws.region:  # a bucket in another region answers best from there
        main = BucketsHook(aws_conn_id=conn_id, region_name=region)
    replica = BucketsHook(aws_conn_id=conn_id, region_name=store.replica_region)
    replica_region = replica.bucket_region(store.replica_bucket)
    replica_exists = replica_region is not None
    if replica_exists and replica_region != store.replica_region:
        replica = BucketsHook(aws_conn_id=conn_id, region_name=replica_region)

    call.action = "s3:GetBucketVersioning"
    versioning = main.versioning_status(store.bucket)
    replica_versioning = replica.versioning_status(store.replica_bucket) if replica_exists else None
    call.action = "s3:GetReplicationConfiguration"
    rules = main.replication_rules(store.bucket)
    call.action = "s3:GetLifecycleConfiguration"
    lifecycle = main.lifecycle_rules(store.bucket)
    replica_lifecycle = replica.lifecycle_rules(store.replica_bucket) if replica_exists else []

    call.action = "s3:ListBucket"
    samples = []
    for obj in main.newest_objects(store.bucket, sample_size):
        call.action = "s3:GetObject"
        head = main.head_version(store.bucket, obj["Key"])
        if head is None:  # deleted since the listing
            continue
        status = head.get("ReplicationStatus")
        version_id = head.get("VersionId")
        replica_has = None
        if status == "COMPLETED" and replica_exists:
            call.action = "s3:GetObjectVersion"
            # Replication keeps the version id: the replica must hold this very version.
            replica_has = replica.head_version(store.replica_bucket, obj["Key"], version_id) is not None
        samples.append(ObjectSample(obj["Key"], version_id, head["LastModified"], status, replica_has))
    return BucketObservation(
        store.bucket, store.replica_bucket, store.replica_region, exists=True,
        replica_exists=replica_exists, replica_region=replica_region, versioning=versioning,
        replica_versioning=replica_versioning, replication_rules=tuple(rules), lifecycle_rules=tuple(lifecycle),
        replica_lifecycle_rules=tuple(replica_lifecycle), samples=tuple(samples))


class VerifyLogRetentionOperator(BaseOperator):
    """Every log group under `prefix` retains exactly 365 days; none set (kept forever) is P3."""

    template_fields = ("prefix",)

    def __init__(self, *, prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.backups import LogGroupObservation, verify_log_groups
        from estate_ops.hooks.aws import access_denied_as_finding
        from estate_ops.hooks.logs import LogGroupsHook

        plan, estate = load_config()
        as_of = run_as_of(context)
        hook = LogGroupsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        groups = None
        with access_denied_as_finding(estate.aws.conn_id, "logs:DescribeLogGroups") as call:
            groups = [LogGroupObservation(g["logGroupName"], g.get("retentionInDays"))
                      for g in hook.log_groups(self.prefix)]
        verdict = verify_log_groups(plan, self.prefix, groups, as_of.date(), error=call.error)
        failed = [c for c in verdict.checks if not c.ok]
        self.log.info("%s: %d check(s), %d failed", self.prefix, len(verdict.checks), len(failed))
        for check in failed:
            self.log.info("FAIL %s: %s", check.resource, check.detail)
        return verdict.as_dict()


class VerifyLogArchiveOperator(BaseOperator):
    """The log archive bucket expires objects at exactly the plan's 365 days."""

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.backups import verify_log_archive
        from estate_ops.hooks.aws import access_denied_as_finding
        from estate_ops.hooks.s3 import BucketsHook

        plan, estate = load_config()
        bucket = estate.logs.archive_bucket
        as_of = run_as_of(context)
        hook = BucketsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        exists, rules = False, None
        with access_denied_as_finding(estate.aws.conn_id, "s3:ListBucket") as call:
            exists = hook.bucket_region(bucket) is not None
            if exists:
                call.action = "s3:GetLifecycleConfiguration"
                rules = hook.lifecycle_rules(bucket)
        verdict = verify_log_archive(plan, bucket, exists, rules, as_of.date(), error=call.error)
        for check in verdict.checks:
            self.log.info("%s %s: %s", "OK  " if check.ok else "FAIL", check.check, check.detail)
        return verdict.as_dict()
