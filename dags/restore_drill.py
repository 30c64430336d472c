"""restore_drill: restore for real, check the data, time it (plan §4.2: RPO < 1 h, RTO < 4 h)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param, task_group
from estate_ops.alerting import failure_callback
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.drill import (
    DeleteScratchInstanceOperator,
    PlanRestoreDrillOperator,
    PublishRestoreDrillOperator,
    RestoreScratchInstanceOperator,
    SweepLeftoverDrillInstancesOperator,
    VerifyRestoredDataOperator,
    WaitForScratchInstanceOperator,
    estate_database_ids,
)

with DAG(
    dag_id="restore_drill",
    doc_md="""
### Restore drill (plan §4.2), weekly and on demand

For each database of `include/estate.yaml` (or the one picked in the form), in a mapped task
group whose teardown always runs:

1. **restore_scratch** (setup, pool `aws_restore_drill`): record the source's row counts, then
   restore to its `LatestRestorableTime` into a scratch instance with a unique name, tagged
   `estate-ops:purpose=restore-drill`, in the database's private `drill_subnet_group`, without
   public access;
2. **wait_available**: the RDS `db_instance_available` waiter, deferred to the triggerer, at
   most the RTO;
3. **verify_data**: connect to the scratch endpoint with the database's `drill_conn_id`
   connection (host and port replaced by the endpoint) and run `include/sql/restore_checks.sql`:
   every source table exists, row counts within the tolerance, newest `updated_at`;
4. **delete_scratch** (teardown): delete it without a final snapshot, even when a step failed.

`sweep_leftover_drills` first deletes drill instances that an earlier, crashed run left behind
(found by their tag). Measured RTO = restore request -> verified data; data RPO = restore target
time - newest `updated_at`. Writes `backups/drills/YYYY-MM-DD/drill.{json,html,pdf}` with each step's
time; RTO >= 4 h or RPO >= 1 h is P1 and pages.
""",
    schedule="0 7 * * 0",  # Sundays 07:00 UTC: 2-3 AM ET, inside the maintenance hours
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P1"),
    tags=tags("backups"),
    params={
        "database": Param("all", type="string", title="Database", examples=["all", *estate_database_ids()],
                          description="The estate.yaml database id to drill, or 'all' for every database."),
        "row_count_tolerance_percent": Param("1", type="string", title="Row count tolerance (%)",
                                             description="How far restored row counts may differ from the "
                                                         "counts recorded at the source at the restore request."),
    },
) as dag:
    plan = PlanRestoreDrillOperator(task_id="plan_drills", database="{{ params.database }}",
                                    tolerance_percent="{{ params.row_count_tolerance_percent }}")
    sweep = SweepLeftoverDrillInstancesOperator(task_id="sweep_leftover_drills", pool="rds_api")

    @task_group(group_id="drill")
    def drill(target):
        restore = RestoreScratchInstanceOperator(task_id="restore_scratch", target=target, pool="aws_restore_drill")
        wait = WaitForScratchInstanceOperator(task_id="wait_available", target=target)
        verify = VerifyRestoredDataOperator(task_id="verify_data", target=target, endpoint=wait.output)
        delete = DeleteScratchInstanceOperator(task_id="delete_scratch", target=target, pool="rds_api")
        restore >> wait >> verify >> delete.as_teardown(setups=restore)

    drills = drill.expand(target=plan.output)
    # The failed step already paged (its finding and its task's failure): the report task failing
    # on top of it is said in Slack, not paged a second time.
    publish = PublishRestoreDrillOperator(task_id="publish_report", plan_task_id="plan_drills", group_id="drill",
                                          tolerance_percent="{{ params.row_count_tolerance_percent }}",
                                          on_failure_callback=failure_callback("P3"))
    plan >> sweep >> drills >> publish
    # Dependencies on a group skip its teardown: the report waits for it explicitly, so it can
    # say whether (and when) each scratch instance was deleted.
    dag.task_dict["drill.delete_scratch"] >> publish
