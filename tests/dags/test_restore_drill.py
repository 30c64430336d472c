"""restore_drill end to end with dag.test() against the sandbox, twice: real restores into the
sandbox's PostgreSQL (sandbox/postgres.py), real SQL checks, teardown, leftover sweep.

Expected outcomes come from the backups scenario: prod and reporting restorable 5 min before
the sandbox's now, analytics 3 h before (a P1 RPO breach); the seeded data's newest write is
2 min before now, so a restore to now - 5 min has data up to 5 min... never newer than the target.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.backups_estate import (
    HEALTHY_DB,
    SHORT_RETENTION_DB,
    STALE_DB,
    backups_estate,
    using_estate,
)
from tests.dagrun import run_dag, task_states

LOGICAL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
DAY = "2026-11-02"
BUCKET = "legacy-estate-ops-reports"
LEFTOVER = "drill-legacy-prod-db-20261026070000"


def _json(sandbox, key):
    return json.loads(sandbox.boto3_client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _instances(sandbox) -> set[str]:
    return {i["DBInstanceIdentifier"] for i in sandbox.boto3_client("rds").describe_db_instances()["DBInstances"]}


def _leave_a_crashed_drill(sandbox) -> None:
    """What a drill that crashed a week ago left behind: a tagged scratch instance."""
    sandbox.boto3_client("rds").restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=HEALTHY_DB, TargetDBInstanceIdentifier=LEFTOVER,
        UseLatestRestorableTime=True, DBSubnetGroupName="legacy-private", PubliclyAccessible=False,
        Tags=[{"Key": "estate-ops:purpose", "Value": "restore-drill"},
              {"Key": "estate-ops:drill-run", "Value": "scheduled__2026-10-26T07:00:00+00:00"}])


@pytest.fixture(scope="module")
def two_runs(sandbox_session, tmp_path_factory):
    sandbox_session.reset()
    estate = backups_estate(tmp_path_factory.mktemp("estate") / "estate.yaml", extra_databases=(STALE_DB,),
                            extra_documents=())
    _leave_a_crashed_drill(sandbox_session)
    before = _instances(sandbox_session)
    with using_estate(estate):
        first = run_dag("restore_drill", LOGICAL)
        states_first = task_states(first)
        after_first = _instances(sandbox_session)
        report = _json(sandbox_session, f"backups/drills/{DAY}/drill.json")
        html = sandbox_session.boto3_client("s3").get_object(
            Bucket=BUCKET, Key=f"backups/drills/{DAY}/drill.html")["Body"].read().decode()
        events_first = sandbox_session.pagerduty_events()
        second = run_dag("restore_drill", LOGICAL)
        report_second = _json(sandbox_session, f"backups/drills/{DAY}/drill.json")
    return {"first": first, "second": second, "states": [states_first, task_states(second)], "before": before,
            "after_first": after_first, "after_second": _instances(sandbox_session), "report": report, "html": html,
            "report_second": report_second, "events_first": events_first,
            "events_second": sandbox_session.pagerduty_events()}


def _drill(report, db_id):
    return next(d for d in report["drills"] if d["db_id"] == db_id)


def test_runs_succeed_with_setup_and_teardown_per_database(two_runs):
    for run, states in zip((two_runs["first"], two_runs["second"]), two_runs["states"], strict=True):
        assert str(run.state) == "success", states
        assert sum(k.startswith("drill.delete_scratch[") and v == "success" for k, v in states.items()) == 3, states


def test_leftover_is_swept_and_nothing_is_left_behind(two_runs):
    assert LEFTOVER in two_runs["before"]
    assert not any(i.startswith("drill-") for i in two_runs["after_first"])
    assert not any(i.startswith("drill-") for i in two_runs["after_second"])
    assert {HEALTHY_DB, SHORT_RETENTION_DB, STALE_DB} <= two_runs["after_second"]


def test_healthy_drill_measures_rto_and_data_rpo(two_runs):
    drill = _drill(two_runs["report"], HEALTHY_DB)
    assert drill["status"] == "verified", drill
    assert drill["target_time"] == "2026-11-02T11:55:00Z"
    # The newest write before the target: the scenario writes rows up to now - 2 min, so the
    # newest row at the target is older than 11:55 but within minutes of it.
    assert 0 <= drill["data_rpo_seconds"] < 3600
    assert 0 <= drill["rto_seconds"] < 4 * 3600
    assert drill["restore_lag_seconds"] == 300
    assert {t["table"] for t in drill["tables"]} >= {"public.clients", "public.leases", "public.payments"}
    assert all(t["ok"] for t in drill["tables"])
    assert drill["errors"] == {}
    assert drill["deleted_at"] >= drill["verified_at"] >= drill["available_at"] >= drill["requested_at"]


def test_stale_restorable_time_is_an_rpo_breach(two_runs):
    findings = [f for f in two_runs["report"]["findings"] if f["resource"] == f"drill:{STALE_DB}"]
    assert [(f["kind"], f["severity"]) for f in findings] == [("rpo_breach", "P1")]
    assert _drill(two_runs["report"], STALE_DB)["restore_lag_seconds"] == 3 * 3600


def test_rerun_has_identical_findings_and_pages_nobody_again(two_runs):
    assert two_runs["report_second"]["findings"] == two_runs["report"]["findings"]
    assert two_runs["events_second"] == two_runs["events_first"]
    assert any(e["dedup_key"] == f"estate-ops/rpo_breach/drill:{STALE_DB}/{DAY}" for e in two_runs["events_first"])


def test_a_failing_step_still_tears_down_and_is_reported(sandbox, tmp_path, monkeypatch):
    """Airflow's teardown guarantee, end to end: verify fails, the scratch instance is deleted anyway,
    the report names the failed step, the run fails (and pages through the failure callback)."""
    from estate_ops.hooks.rds import RestoreCheckError
    from estate_ops.operators.drill import VerifyRestoredDataOperator

    from tests.dagrun import load_dag

    def timing_out(self, context):
        raise RestoreCheckError("check 'table_counts' timed out on the scratch instance")

    monkeypatch.setattr(VerifyRestoredDataOperator, "run", timing_out)
    dag = load_dag("restore_drill")
    for task in dag.tasks:
        task.retries = 0  # fail fast: the retry path is Airflow's, not under test here
    with using_estate(backups_estate(tmp_path / "estate.yaml", extra_databases=(), extra_documents=())):
        run = dag.test(logical_date=LOGICAL, run_conf={"database": HEALTHY_DB})
        states = task_states(run)
        report = _json(sandbox, f"backups/drills/{DAY}/drill.json")
    assert str(run.state) == "failed"
    assert states["drill.verify_data[0]"] == "failed" and states["drill.delete_scratch[0]"] == "success", states
    assert states["publish_report"] == "failed", states  # after writing the report and routing
    assert not any(i.startswith("drill-") for i in _instances(sandbox))
    drill = _drill(report, HEALTHY_DB)
    assert drill["status"] == "failed" and "timed out" in drill["errors"]["verify"]
    assert [(f["kind"], f["details"]["step"]) for f in report["findings"]] == [("restore_drill_failed", "verify")]
    assert any(e["dedup_key"] == f"estate-ops/restore_drill_failed/drill:{HEALTHY_DB}/{DAY}"
               for e in sandbox.pagerduty_events())


def test_html_report_shows_each_step(two_runs):
    html = two_runs["html"]
    assert f"<h2>{HEALTHY_DB}: verified</h2>" in html and "Measured RTO (request to verified data)" in html
    assert "public.payments" in html
