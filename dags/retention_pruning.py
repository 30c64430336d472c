"""retention_pruning: delete what the plan's retention table allows, and nothing else (plan §4.1)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.retention import (
    PRUNE_THREADS,
    ApplyRetentionSettingsOperator,
    PlanRetentionPruningOperator,
    PruneRdsSnapshotsOperator,
    PublishRetentionReportOperator,
)

with DAG(
    dag_id="retention_pruning",
    doc_md="""
### Retention pruning (plan §4.1: databases 30 days, documents indefinitely, logs 1 year)

The only job here that destroys data, so it plans before it acts:

1. **plan** lists every DB instance and snapshot, the log groups and the log archive's lifecycle
   rules, and decides: manual snapshots older than 30 days are candidates, except the newest N of
   each database, snapshots tagged `legal-hold`/`keep`, the final snapshot of a deleted database,
   and automated or AWS Backup snapshots (never ours). Log groups get 365-day retention; the log
   archive gets a lifecycle rule expiring objects at 365 days. Any action touching a document
   bucket or its replica **aborts the run before anything changes**. Then the gate: a database
   whose latest backup verification (`backups/status/<db>.json`) is missing, not green or older
   than 26 h is refused (P2); a run over the caps (50 per run, 20 % of a database's manual
   snapshots) deletes nothing (P2) unless a manual run sets *confirm over cap*.
   Writes `retention/YYYY-MM-DD/plan.json` with the reason for every candidate and protection.
2. **apply_settings** sets log retention and the lifecycle rule.
3. **delete_snapshots** (one mapped task deleting 6 databases at a time with 6 of the 12 slots of
   pool `rds_api`, adaptive retries) deletes, writing one intents object per batch before it and the
   results in bundles; a rerun after a crash settles what was in flight from its listing and
   finishes the rest without repeating.
4. **report** rebuilds `retention/audit/YYYY-MM-DD.jsonl`, writes `retention/YYYY-MM-DD/report.{json,html,pdf}`,
   routes refusals and failures, and posts the Slack summary.

A **dry run** changes nothing and writes under `retention/YYYY-MM-DD/dry-run/`.
""",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P2"),
    tags=tags("retention", "backups"),
    params={
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Plan and report only: nothing is deleted or changed."),
        "databases": Param("", type="string", title="Databases",
                           description="Only these databases: comma-separated ids or patterns (legacy-*). "
                                       "Empty = every database in estate.yaml. A filter matching none is an error."),
        "confirm_over_cap": Param(False, type="boolean", title="Confirm over cap",
                                  description="Manual runs only: go ahead although the deletions exceed the caps "
                                              "(per run, or a share of a database's manual snapshots)."),
    },
    render_template_as_native_obj=False,
) as dag:
    plan = PlanRetentionPruningOperator(task_id="plan")
    settings = ApplyRetentionSettingsOperator(task_id="apply_settings",
                                              plan_key="{{ ti.xcom_pull(task_ids='plan', key='plan_key') }}")
    deletions = PruneRdsSnapshotsOperator.partial(task_id="delete_snapshots", pool="rds_api",
                                                  pool_slots=PRUNE_THREADS).expand(
        batch=plan.output)
    report = PublishRetentionReportOperator(
        task_id="report", trigger_rule="all_done", plan_task_id="plan",
        act_task_ids=["apply_settings", "delete_snapshots"],
        plan_key="{{ ti.xcom_pull(task_ids='plan', key='plan_key') }}")
    plan >> [settings, deletions] >> report
