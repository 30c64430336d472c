"""The restore drill's steps against the sandbox (real restores into its PostgreSQL), and the bad
input table: each failing step records its error, and teardown still leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from airflow.sdk.exceptions import TaskDeferred
from estate_ops.domain.drill import DrillInputError, ScratchInstanceConflict
from estate_ops.hooks.connections import MissingConnectionError
from estate_ops.hooks.rds import RestoreCheckError
from estate_ops.operators.drill import (
    DeleteScratchInstanceOperator,
    DrillStepError,
    PlanRestoreDrillOperator,
    RestoreScratchInstanceOperator,
    VerifyRestoredDataOperator,
    WaitForScratchInstanceOperator,
)

from tests.backups_estate import GHOST_DB, HEALTHY_DB, backups_estate, using_estate

LOGICAL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
SCRATCH = "drill-legacy-prod-db-20261102120000"


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def context() -> dict:
    return {"logical_date": LOGICAL, "ti": FakeTI(), "run_id": "scheduled__2026-11-02T12:00:00+00:00"}


def target(db_id: str = HEALTHY_DB, conn_id: str = "restore_drill_db") -> dict:
    return {"db_id": db_id, "scratch_id": f"drill-{db_id}-20261102120000", "conn_id": conn_id,
            "subnet_group": "legacy-private", "run_tag": "scheduled__2026-11-02T12:00:00+00:00"}


@pytest.fixture
def estate(sandbox, tmp_path):
    with using_estate(backups_estate(tmp_path / "estate.yaml")) as path:
        yield path


def instances(sandbox) -> set[str]:
    return {i["DBInstanceIdentifier"] for i in sandbox.boto3_client("rds").describe_db_instances()["DBInstances"]}


def teardown(tgt: dict) -> dict:
    return DeleteScratchInstanceOperator(task_id="delete_scratch", target=tgt).execute(context())


def restore(tgt: dict, **kwargs) -> tuple[dict, FakeTI]:
    ctx = context()
    return RestoreScratchInstanceOperator(task_id="restore_scratch", target=tgt, **kwargs).execute(ctx), ctx["ti"]


def test_the_steps_restore_a_private_tagged_copy_and_verify_it(sandbox, estate):
    restored, _ = restore(target())
    assert restored["target_time"] == "2026-11-02T11:55:00+00:00"
    assert restored["source_counts"]["public.payments"] == 24000
    scratch = sandbox.boto3_client("rds").describe_db_instances(DBInstanceIdentifier=SCRATCH)["DBInstances"][0]
    assert scratch["PubliclyAccessible"] is False and scratch["DBSubnetGroup"]["DBSubnetGroupName"] == "legacy-private"
    assert {"Key": "estate-ops:purpose", "Value": "restore-drill"} in scratch["TagList"]
    endpoint = WaitForScratchInstanceOperator(task_id="wait", target=target()).execute(context())
    verified = VerifyRestoredDataOperator(task_id="verify", target=target(), endpoint=endpoint).execute(context())
    # A point-in-time copy at 11:55: rows written after it (the scenario writes up to 11:58) are gone.
    assert set(verified["restored_counts"]) == set(restored["source_counts"])
    assert sum(verified["restored_counts"].values()) < sum(restored["source_counts"].values())
    assert verified["newest_updated_at"] <= "2026-11-02T11:55:00+00:00"
    assert teardown(target())["outcome"] in ("deleted", "deleting")
    assert SCRATCH not in instances(sandbox)


def test_a_retried_restore_reuses_its_own_instance(sandbox, estate):
    restore(target())
    restore(target())
    assert sorted(i for i in instances(sandbox) if i.startswith("drill-")) == [SCRATCH]
    teardown(target())


def test_a_restore_never_adopts_a_scratch_instance_tagged_for_another_database(sandbox, estate):
    sandbox.boto3_client("rds").restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=HEALTHY_DB, TargetDBInstanceIdentifier=SCRATCH, UseLatestRestorableTime=True,
        Tags=[{"Key": "estate-ops:purpose", "Value": "restore-drill"},
              {"Key": "estate-ops:drill-source", "Value": "legacy-other-db"},
              {"Key": "estate-ops:drill-run", "Value": target()["run_tag"]}])
    with pytest.raises(ScratchInstanceConflict, match=f"{SCRATCH} already exists but is not the drill of "
                                                      f"{HEALTHY_DB}.*'legacy-other-db'"):
        restore(target())
    teardown(target())


def test_waiting_defers_to_the_rds_waiter_trigger(sandbox, estate, monkeypatch):
    from estate_ops.hooks.rds import RdsBackupsHook

    monkeypatch.setattr(RdsBackupsHook, "describe_instance",
                        lambda self, db_id: {"DBInstanceIdentifier": db_id, "DBInstanceStatus": "creating"})
    with pytest.raises(TaskDeferred) as deferred:
        WaitForScratchInstanceOperator(task_id="wait", target=target()).execute(context())
    trigger = deferred.value.trigger
    assert type(trigger).__name__ == "RdsDbAvailableTrigger"
    assert trigger.serialize()[1]["waiter_max_attempts"] == 240 * 60 // 30  # at most the RTO
    assert deferred.value.timeout == dt.timedelta(minutes=240)


# --------------------------------------------------------------------------- bad input, step by step


def test_unknown_database_fails_the_plan_before_anything_exists(sandbox, estate):
    before = instances(sandbox)
    with pytest.raises(DrillInputError, match=r"database 'nope' is not in estate.yaml databases; expected one of "
                                              r"\['legacy-prod-db'"):
        PlanRestoreDrillOperator(task_id="plan", database="nope").execute(context())
    assert instances(sandbox) == before


def test_bad_tolerance_fails_the_plan_before_anything_exists(sandbox, estate):
    before = instances(sandbox)
    with pytest.raises(DrillInputError, match="row_count_tolerance_percent must be a number from 0 to 100, got 'ten'"):
        PlanRestoreDrillOperator(task_id="plan", database="all", tolerance_percent="ten").execute(context())
    assert instances(sandbox) == before


def test_a_database_named_but_absent_fails_restore_and_teardown_is_clean(sandbox, estate):
    before = instances(sandbox)
    with pytest.raises(DrillStepError, match="database legacy-ghost-db named in estate.yaml does not exist"):
        restore(target(GHOST_DB))
    assert teardown(target(GHOST_DB))["outcome"] == "gone"
    assert instances(sandbox) == before


def test_missing_drill_connection_fails_restore_before_restoring(sandbox, estate):
    before = instances(sandbox)
    ctx = context()
    op = RestoreScratchInstanceOperator(task_id="restore_scratch", target=target(conn_id="no_such_drill_conn"))
    with pytest.raises(MissingConnectionError, match=r"'no_such_drill_conn' \(estate.yaml "
                                                     r"databases\[legacy-prod-db\].drill_conn_id\) is not defined"):
        op.execute(ctx)
    assert "no_such_drill_conn" in ctx["ti"].pushed["error"]
    assert teardown(target())["outcome"] == "gone"
    assert instances(sandbox) == before


def test_wait_fails_when_the_instance_vanished_and_teardown_is_clean(sandbox, estate):
    restore(target())
    sandbox.remove("rds_instance", SCRATCH)
    ctx = context()
    with pytest.raises(DrillStepError, match=f"scratch instance {SCRATCH} does not exist"):
        WaitForScratchInstanceOperator(task_id="wait", target=target()).execute(ctx)
    assert ctx["ti"].pushed["error"].startswith("DrillStepError")
    assert teardown(target())["outcome"] == "gone"


SLOW_SQL = "-- name: table_counts\nSELECT 'public.t', 1::bigint\n-- name: newest_updated_at\nSELECT pg_sleep(5)::text\n"
FAILING_SQL = "-- name: table_counts\nSELECT 'public.t', 1::bigint\n-- name: newest_updated_at\nSELECT * FROM nowhere\n"


@pytest.mark.parametrize("sql,timeout,error", [
    (SLOW_SQL, 1, "check 'newest_updated_at' timed out on 127.0.0.1:"),
    (FAILING_SQL, 60, "check 'newest_updated_at' failed on 127.0.0.1:.*relation \"nowhere\" does not exist"),
])
def test_failing_or_slow_sql_fails_verify_and_teardown_deletes(sandbox, estate, tmp_path, sql, timeout, error):
    path = tmp_path / "checks.sql"
    path.write_text(sql)
    restore(target())
    endpoint = WaitForScratchInstanceOperator(task_id="wait", target=target()).execute(context())
    ctx = context()
    op = VerifyRestoredDataOperator(task_id="verify", target=target(), endpoint=endpoint, sql_path=str(path),
                                    statement_timeout_seconds=timeout)
    with pytest.raises(RestoreCheckError, match=error):
        op.execute(ctx)
    assert "RestoreCheckError" in ctx["ti"].pushed["error"]
    teardown(target())
    assert SCRATCH not in instances(sandbox)


def test_wrong_drill_credentials_fail_with_the_connection_named(sandbox, estate, monkeypatch):
    restore(target())
    endpoint = WaitForScratchInstanceOperator(task_id="wait", target=target()).execute(context())
    monkeypatch.setenv("AIRFLOW_CONN_BAD_DRILL", json.dumps({"conn_type": "postgres", "login": "drill",
                                                             "password": "wrong"}))
    with pytest.raises(RestoreCheckError, match=r"cannot connect to 127.0.0.1:\d+/drill-legacy-prod-db-\S+ "
                                                r"\(connection 'bad_drill'\)"):
        VerifyRestoredDataOperator(task_id="verify", target=target(conn_id="bad_drill"),
                                   endpoint=endpoint).execute(context())
    teardown(target())
    assert SCRATCH not in instances(sandbox)


def test_teardown_never_deletes_an_instance_not_tagged_as_a_drill(sandbox, estate):
    sandbox.boto3_client("rds").restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=HEALTHY_DB, TargetDBInstanceIdentifier=SCRATCH, UseLatestRestorableTime=True)
    ctx = context()
    with pytest.raises(DrillStepError, match="is not tagged as a restore drill: not deleting it"):
        DeleteScratchInstanceOperator(task_id="delete_scratch", target=target()).execute(ctx)
    assert SCRATCH in instances(sandbox)


def test_teardown_deletes_a_protected_drill_instance(sandbox, estate):
    sandbox.boto3_client("rds").restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=HEALTHY_DB, TargetDBInstanceIdentifier=SCRATCH, UseLatestRestorableTime=True,
        DeletionProtection=True, Tags=[{"Key": "estate-ops:purpose", "Value": "restore-drill"}])
    assert teardown(target())["outcome"] in ("deleted", "deleting")
    assert SCRATCH not in instances(sandbox)


def test_publish_fails_the_run_when_the_plan_step_failed():
    from airflow.sdk.exceptions import AirflowFailException
    from estate_ops.operators.drill import PublishRestoreDrillOperator

    class NoPlanTI(FakeTI):
        def xcom_pull(self, **_kwargs):
            return None

    op = PublishRestoreDrillOperator(task_id="publish_report", plan_task_id="plan_drills", group_id="drill")
    with pytest.raises(AirflowFailException, match="no drill ran: task plan_drills failed"):
        op.execute({"logical_date": LOGICAL, "ti": NoPlanTI()})
