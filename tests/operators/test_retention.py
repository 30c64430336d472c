"""The pruning operators against the sandbox, driven directly (no scheduler): crash and rerun, dry run,
the document guard, AccessDenied, a snapshot that vanished, and bad input. Each bad-input row shows
its error text and that nothing was written or deleted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException
from botocore.stub import Stubber
from estate_ops.config import (
    DEFAULT_ESTATE_PATH,
    DEFAULT_PLAN_PATH,
    ConfigError,
    clear_cache,
    load_config,
)
from estate_ops.hooks.rds import RdsBackupsHook
from estate_ops.operators.retention import (
    ApplyRetentionSettingsOperator,
    PlanRetentionPruningOperator,
    PruneRdsSnapshotsOperator,
    PublishRetentionReportOperator,
)

LOGICAL_DATE = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
DAY = "2026-11-02"


class FakeTI:
    def __init__(self) -> None:
        self.returns: dict[str, object] = {}
        self.pushed: dict[tuple[str, str], object] = {}
        self.try_number = 1

    def xcom_push(self, key, value):
        self.pushed[("plan", key)] = value

    def xcom_pull(self, task_ids, key=None):
        return self.pushed.get((task_ids, key)) if key else self.returns.get(task_ids)


class Run:
    """One DAG run's worth of operator calls, sharing XComs as Airflow would."""

    def __init__(self, run_id="manual__test", run_type="manual", **params) -> None:
        self.ti = FakeTI()
        self.context = {"logical_date": LOGICAL_DATE, "run_id": run_id, "ti": self.ti,
                        "dag_run": SimpleNamespace(run_type=run_type, run_after=LOGICAL_DATE),
                        "params": {"dry_run": False, "databases": "", "confirm_over_cap": True, **params}}

    def plan(self):
        batches = PlanRetentionPruningOperator(task_id="plan").execute(self.context)
        self.ti.returns["plan"] = batches
        return batches

    @property
    def plan_key(self) -> str:
        return self.ti.pushed[("plan", "plan_key")]

    def settings(self):
        result = ApplyRetentionSettingsOperator(task_id="apply_settings", plan_key=self.plan_key).execute(self.context)
        self.ti.returns["apply_settings"] = result
        return result

    def delete(self, batches):
        results = [PruneRdsSnapshotsOperator(task_id="delete_snapshots", batch=b).execute(self.context) for b in batches]
        self.ti.returns["delete_snapshots"] = results
        return results

    def report(self):
        return PublishRetentionReportOperator(task_id="report", plan_key=self.plan_key, plan_task_id="plan",
                                              act_task_ids=["apply_settings", "delete_snapshots"]).execute(self.context)

    def all(self):
        batches = self.plan()
        self.settings()
        self.delete(batches)
        return self.report()


def snapshot_ids(sandbox) -> set[str]:
    rds = sandbox.boto3_client("rds")
    return {s["DBSnapshotIdentifier"] for page in rds.get_paginator("describe_db_snapshots").paginate()
            for s in page["DBSnapshots"]}


def keys(sandbox, prefix="retention/") -> list[str]:
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    return sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                  for o in page.get("Contents", []))


def read_json(sandbox, key):
    s3 = sandbox.boto3_client("s3")
    body = s3.get_object(Bucket=load_config()[1].reports_bucket, Key=key)["Body"].read()
    return json.loads(body) if key.endswith(".json") else [json.loads(line) for line in body.decode().splitlines()]


def approved(plan_doc) -> list[str]:
    return [sid for ids in plan_doc["gate"]["approved"].values() for sid in ids]


# ------------------------------------------------------------------------- crash and rerun


def test_a_run_that_dies_half_way_is_finished_by_a_rerun_without_repeats(sandbox, monkeypatch):
    calls: list[str] = []
    original = RdsBackupsHook.delete_manual_snapshot

    def dies_after_the_fourth_delete(self, snapshot_id):
        calls.append(snapshot_id)
        outcome = original(self, snapshot_id)
        if len(calls) == 4:  # AWS deleted it; the worker dies before the result is written down
            raise SystemExit("worker killed")
        return outcome

    monkeypatch.setattr(RdsBackupsHook, "delete_manual_snapshot", dies_after_the_fourth_delete)
    first = Run(run_id="manual__first")
    batches = first.plan()
    targets = approved(read_json(sandbox, first.plan_key))
    assert len(targets) > 4
    with pytest.raises(SystemExit):
        first.delete(batches)
    assert len(snapshot_ids(sandbox) & set(targets)) == len(targets) - 4

    monkeypatch.setattr(RdsBackupsHook, "delete_manual_snapshot", original)
    calls_before_rerun = list(calls)
    rerun = Run(run_id="manual__rerun")
    rerun_calls: list[str] = []
    monkeypatch.setattr(RdsBackupsHook, "delete_manual_snapshot",
                        lambda self, sid: (rerun_calls.append(sid), original(self, sid))[1])
    rerun.all()

    assert not snapshot_ids(sandbox) & set(targets)
    # the four deletions AWS answered were not sent again: the one in flight (an intent, no result)
    # is settled from the rerun's listing, without another call
    assert not set(rerun_calls) & set(calls_before_rerun)
    assert len(rerun_calls) == len(targets) - 4
    audit = read_json(sandbox, f"retention/audit/{DAY}.jsonl")
    deletions = [r for r in audit if r["kind"] == "delete_db_snapshot"]
    assert sorted(r["target"] for r in deletions) == sorted(targets)  # once each, none twice
    assert {r["result"] for r in deletions} == {"deleted"}
    in_flight = next(r for r in deletions if r["target"] == calls_before_rerun[3])
    assert "settled on rerun" in in_flight["detail"] and in_flight["run_id"] == "manual__rerun"
    # the rerun's plan is the day's plan: identical to what the first run planned
    assert approved(read_json(sandbox, rerun.plan_key)) == targets


# ------------------------------------------------------------------------- dry run


def test_a_dry_run_deletes_and_changes_nothing(sandbox):
    before = snapshot_ids(sandbox)
    logs_before = sandbox.boto3_client("logs").describe_log_groups()["logGroups"]
    run = Run(dry_run=True)
    assert run.all()["deleted"] == 0
    assert run.ti.returns["plan"] == []
    assert snapshot_ids(sandbox) == before
    assert sandbox.boto3_client("logs").describe_log_groups()["logGroups"] == logs_before
    written = keys(sandbox)
    assert f"retention/{DAY}/dry-run/plan.json" in written and f"retention/{DAY}/dry-run/report.json" in written
    assert not [k for k in written if k.startswith("retention/audit/")]
    assert f"retention/{DAY}/plan.json" not in written
    plan_doc = read_json(sandbox, run.plan_key)
    assert plan_doc["dry_run"] and approved(plan_doc)  # it shows what a real run would delete


# ------------------------------------------------------------------------- document guard


@pytest.fixture
def estate_file(tmp_path, monkeypatch):
    """Write an edited copy of estate.yaml and point ESTATE_OPS_ESTATE at it."""

    def make(edit) -> Path:
        data = yaml.safe_load(DEFAULT_ESTATE_PATH.read_text())
        edit(data)
        path = tmp_path / "estate.yaml"
        path.write_text(yaml.safe_dump(data))
        monkeypatch.setenv("ESTATE_OPS_ESTATE", str(path))
        clear_cache()
        return path

    yield make
    clear_cache()


@pytest.mark.parametrize("bucket_of", [lambda d: d.bucket, lambda d: d.replica_bucket],
                         ids=["document bucket", "replica"])
def test_the_document_guard_aborts_the_run_before_any_deletion(sandbox, monkeypatch, bucket_of):
    import estate_ops.config

    # estate.yaml's loader refuses such an estate (tests/config); the run-time guard must still hold
    # for one that got past it, so the estate is changed after validation.
    plan, estate = load_config()
    documents = estate.documents[0]
    bad = estate.model_copy(update={"logs": estate.logs.model_copy(update={"archive_bucket": bucket_of(documents)})})
    monkeypatch.setattr(estate_ops.config, "load_config", lambda: (plan, bad))
    before = snapshot_ids(sandbox)
    s3 = sandbox.boto3_client("s3")
    with pytest.raises(AirflowFailException, match=r"aborted before any change.*ensure_bucket_lifecycle"):
        Run().plan()
    assert snapshot_ids(sandbox) == before
    assert keys(sandbox) == []
    for bucket in (documents.bucket, documents.replica_bucket):
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchLifecycleConfiguration"):
            s3.get_bucket_lifecycle_configuration(Bucket=bucket)


# ------------------------------------------------------------------------- AWS refusals


def test_access_denied_stops_the_database_and_is_recorded_as_failed(sandbox, monkeypatch):
    original = RdsBackupsHook.delete_manual_snapshot
    calls: list[str] = []

    def denied_on_the_second(self, snapshot_id):
        calls.append(snapshot_id)
        if len(calls) == 2:
            with Stubber(self.conn) as stub:
                stub.add_client_error("delete_db_snapshot", "AccessDenied",
                                      "User is not authorized to perform: rds:DeleteDBSnapshot", 403)
                return original(self, snapshot_id)
        return original(self, snapshot_id)

    monkeypatch.setattr(RdsBackupsHook, "delete_manual_snapshot", denied_on_the_second)
    run = Run()
    batches = run.plan()
    targets = approved(read_json(sandbox, run.plan_key))
    run.settings()
    run.delete(batches)
    with pytest.raises(AirflowFailException, match=r"1 pruning action\(s\) failed.*must allow rds:DeleteDBSnapshot"):
        run.report()
    left = snapshot_ids(sandbox)
    assert calls[0] not in left and set(targets[1:]) <= left | {calls[0]}
    assert len(calls) == 2  # nothing else was tried after AccessDenied
    audit = read_json(sandbox, f"retention/audit/{DAY}.jsonl")
    results = {r["target"]: r["result"] for r in audit if r["kind"] == "delete_db_snapshot"}
    assert results[calls[0]] == "deleted" and results[calls[1]] == "failed"
    assert {results[t] for t in targets[2:]} == {"not_attempted"}
    report = read_json(sandbox, f"retention/{DAY}/report.json")
    assert [f["kind"] for f in report["findings"] if f["resource"] == calls[1]] == ["pruning_action_failed"]
    assert any("pruning_action_failed" in m["text"] for m in sandbox.slack_messages())


def test_a_snapshot_that_vanished_between_plan_and_act_is_recorded_as_already_gone(sandbox):
    run = Run()
    batches = run.plan()
    targets = approved(read_json(sandbox, run.plan_key))
    sandbox.boto3_client("rds").delete_db_snapshot(DBSnapshotIdentifier=targets[0])  # someone else
    run.settings()
    run.delete(batches)
    result = run.report()
    audit = {r["target"]: r for r in read_json(sandbox, f"retention/audit/{DAY}.jsonl")}
    assert audit[targets[0]]["result"] == "already_gone" and "deleted elsewhere" in audit[targets[0]]["detail"]
    assert {audit[t]["result"] for t in targets[1:]} == {"deleted"}
    assert result["deleted"] == len(targets) - 1
    report = read_json(sandbox, f"retention/{DAY}/report.json")
    assert report["items"]["failed"] == [] and report["figures"]["already_gone"]["value"] == 1


# ------------------------------------------------------------------------- gate and caps


def test_a_scheduled_run_over_the_cap_deletes_nothing_and_says_why(sandbox):
    before = snapshot_ids(sandbox)
    run = Run(run_id="scheduled__x", run_type="scheduled", confirm_over_cap=True)  # the param is ignored
    assert run.plan() == []
    run.settings()
    run.delete([])
    run.report()
    assert snapshot_ids(sandbox) == before
    report = read_json(sandbox, f"retention/{DAY}/report.json")
    caps = [f for f in report["findings"] if f["resource"] == "caps"]
    assert caps and caps[0]["severity"] == "P2" and "exceed the cap of 20 % per database" in caps[0]["summary"]
    assert any("confirm_over_cap" in m["text"] for m in sandbox.slack_messages())


def test_a_database_without_a_verification_status_is_refused(sandbox):
    s3 = sandbox.boto3_client("s3")
    estate = load_config()[1]
    s3.delete_object(Bucket=estate.reports_bucket, Key=f"backups/status/{estate.databases[0].id}.json")
    before = snapshot_ids(sandbox)
    run = Run()
    assert run.plan() == []
    assert "no backup verification status" in read_json(sandbox, run.plan_key)["gate"]["refused"][estate.databases[0].id]
    assert snapshot_ids(sandbox) == before


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("params,error", [
    ({"databases": "legacy-nope-db"}, "param databases: 'legacy-nope-db' matches no database in estate.yaml"),
    ({"databases": "legacy-prod-db,typo"}, "'typo' matches no database"),
])
def test_a_database_filter_matching_nothing_is_a_clear_error(sandbox, params, error):
    before = snapshot_ids(sandbox)
    with pytest.raises(AirflowFailException, match=error):
        Run(**params).plan()
    assert snapshot_ids(sandbox) == before and keys(sandbox) == []


def test_an_empty_tag_config_is_refused_before_anything(sandbox, tmp_path, monkeypatch):
    data = yaml.safe_load(DEFAULT_PLAN_PATH.read_text())
    data["retention_pruning"]["protect_tags"] = []
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("ESTATE_OPS_PLAN", str(path))
    clear_cache()
    before = snapshot_ids(sandbox)
    try:
        with pytest.raises(ConfigError, match=r"retention_pruning\.protect_tags: List should have at least 1 item"):
            Run().plan()
    finally:
        monkeypatch.delenv("ESTATE_OPS_PLAN")
        clear_cache()
    assert snapshot_ids(sandbox) == before and keys(sandbox) == []


def test_a_filtered_run_touches_only_the_chosen_database(sandbox):
    estate = load_config()[1]
    first = estate.databases[0].id
    run = Run(databases=first)
    batches = run.plan()
    plan_doc = read_json(sandbox, run.plan_key)
    assert {s["db_id"] for s in plan_doc["snapshots"]} == {first}
    assert [d["db_id"] for b in batches for d in b["databases"]] == [first]


def test_rds_throttling_is_absorbed_by_the_adaptive_retries(sandbox):
    run = Run()
    batches = run.plan()
    targets = approved(read_json(sandbox, run.plan_key))
    sandbox.throttle_aws("rds", count=2, action="DeleteDBSnapshot")
    run.settings()
    run.delete(batches)
    run.report()
    assert not snapshot_ids(sandbox) & set(targets)
    audit = read_json(sandbox, f"retention/audit/{DAY}.jsonl")
    assert {r["result"] for r in audit if r["kind"] == "delete_db_snapshot"} == {"deleted"}
    calls = sandbox.request_counts()["paths"]["aws"]
    assert calls["rds:DeleteDBSnapshot"] == len(targets) + 2  # two throttled answers, each retried once


def test_a_scheduled_run_after_a_confirmed_manual_run_of_the_day_has_nothing_to_hold(sandbox):
    Run(run_id="manual__confirmed").all()
    messages = len(sandbox.slack_messages())
    later = Run(run_id="scheduled__later", run_type="scheduled", confirm_over_cap=False)
    assert later.plan() == []  # everything approved is already done: no deletion task to run
    later.settings()
    later.delete([])
    later.report()
    report = read_json(sandbox, f"retention/{DAY}/report.json")
    assert not [f for f in report["findings"] if f["resource"] == "caps"]
    assert len(sandbox.slack_messages()) == messages  # same outcome: nothing new to say


@pytest.mark.parametrize("plan_key", [
    "retention/2026-11-02/plans.json",
    "reports/2026-11-02/plan.json",
    "retention/2026-11-2/plan.json",
    "retention/2026-11-02/dry-run/extra/plan.json",
])
def test_the_report_refuses_a_key_that_is_no_plans_key(sandbox, plan_key):
    run = Run()
    run.plan()
    before = keys(sandbox)
    report = PublishRetentionReportOperator(task_id="report", plan_key=plan_key, plan_task_id="plan",
                                            act_task_ids=["apply_settings", "delete_snapshots"])
    with pytest.raises(AirflowFailException, match=r"is not a retention plan's key \(retention/YYYY-MM-DD"):
        report.execute(run.context)
    assert keys(sandbox) == before


@pytest.mark.parametrize("copied_to", ["retention/2026-11-03/plan.json", f"retention/{DAY}/dry-run/plan.json"])
def test_the_report_refuses_a_plan_whose_day_or_dry_run_differs_from_its_key(sandbox, copied_to):
    run = Run()
    run.plan()
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    s3.copy_object(Bucket=bucket, Key=copied_to, CopySource={"Bucket": bucket, "Key": run.plan_key})
    before = keys(sandbox)
    report = PublishRetentionReportOperator(task_id="report", plan_key=copied_to, plan_task_id="plan",
                                            act_task_ids=["apply_settings", "delete_snapshots"])
    with pytest.raises(AirflowFailException, match=rf"{copied_to} is the plan of {DAY} \(dry run False\)"):
        report.execute(run.context)
    assert keys(sandbox) == before  # no report, no audit JSONL, no manifest


def test_a_batch_file_naming_another_database_stops_the_task_before_any_deletion(sandbox):
    run = Run()
    batches = run.plan()
    item = batches[0]["databases"][0]
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    batch = read_json(sandbox, item["batch_key"])
    assert batch["actions"], "the seeded estate has deletions to do"
    batch["actions"][-1]["db_id"] = "legacy-other-db"  # one action of another database in this one's file
    s3.put_object(Bucket=bucket, Key=item["batch_key"], Body=json.dumps(batch).encode())
    before = snapshot_ids(sandbox)
    with pytest.raises(RuntimeError, match=rf"{item['batch_key']} is not a batch of {item['db_id']}: nothing deleted"):
        run.delete(batches)
    assert snapshot_ids(sandbox) == before
    assert not keys(sandbox, f"retention/audit/records/{DAY}/")
