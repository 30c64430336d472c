"""backup_verification: every promise of the plan's backup table, checked daily (plan §4.1)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, task
from estate_ops.alerting import failure_callback
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.backups import (
    PublishBackupVerificationOperator,
    VerifyDocumentReplicationOperator,
    VerifyLogArchiveOperator,
    VerifyLogRetentionOperator,
    VerifyRdsBackupsOperator,
)

with DAG(
    dag_id="backup_verification",
    doc_md="""
### Backup verification (plan §4.1 and §4.2), daily

One mapped task per resource of `include/estate.yaml`:

- **databases** (pool `rds_api`): automated backups on with `BackupRetentionPeriod` >= 30 days,
  an automated snapshot in the last 26 h, `LatestRestorableTime` within the RPO (< 1 h) of the
  run's time, deletion protection on (P3 if off);
- **document buckets**: versioning on the bucket and its replica, an enabled replication rule
  covering every object and targeting the replica, Replication Time Control (P3 if off), no
  lifecycle rule deleting documents, and the newest objects replicated (FAILED, or PENDING over
  15 min, is P1; the replica must hold the same versions);
- **logs**: every log group under the configured prefixes keeps exactly 365 days (none set is
  P3), and the log archive bucket expires objects at 365 days.

A resource that does not exist is a P1 `resource_missing` finding; an AccessDenied is a P1
`backup_check_failed` naming the IAM action. Writes `backups/YYYY-MM-DD/verification.{json,html,pdf}`
and `backups/status/<db_id>.json` (`green` = no P0/P1 finding), which `retention_pruning` reads
before deleting anything. P0/P1 findings page, others go to Slack, once per finding and day.
""",
    schedule="0 6 * * *",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P1"),
    tags=tags("backups"),
) as dag:

    # The resources come from estate.yaml at run time (not parse time), one mapped task each.
    @task
    def list_databases() -> list[str]:
        from estate_ops.config import load_config

        return [db.id for db in load_config()[1].databases]

    @task
    def list_document_buckets() -> list[str]:
        from estate_ops.config import load_config

        return [d.bucket for d in load_config()[1].documents]

    @task
    def list_log_prefixes() -> list[str]:
        from estate_ops.config import load_config

        return list(load_config()[1].logs.group_prefixes)

    databases = VerifyRdsBackupsOperator.partial(task_id="verify_database", pool="rds_api").expand(
        db_id=list_databases())
    buckets = VerifyDocumentReplicationOperator.partial(task_id="verify_documents").expand(
        bucket=list_document_buckets())
    log_groups = VerifyLogRetentionOperator.partial(task_id="verify_log_groups").expand(
        prefix=list_log_prefixes())
    archive = VerifyLogArchiveOperator(task_id="verify_log_archive")
    # A verify task that failed already paged; the report task failing because of it goes to Slack.
    publish = PublishBackupVerificationOperator(
        task_id="publish_report", on_failure_callback=failure_callback("P3"),
        verify_task_ids=["verify_database", "verify_documents", "verify_log_groups", "verify_log_archive"])
    [databases, buckets, log_groups, archive] >> publish
