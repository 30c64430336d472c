"""retention_pruning end to end with dag.test() against the sandbox (scenario sandbox/scenarios/retention.py).

One module-scoped pair of runs (manual, confirm_over_cap: the seeded backlog is over the 20 %
per-database cap) backs most assertions: the first run deletes exactly the candidates, the
second plans nothing new, deletes nothing, writes identical bytes and posts nothing.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.dagrun import run_dag, task_states
from tests.reports_bucket import digests, read_bytes

pytestmark = pytest.mark.slow

DAG_ID = "retention_pruning"
LOGICAL_DATE = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
DAY = "2026-11-02"
CONF = {"confirm_over_cap": True}


def estate():
    from estate_ops.config import load_estate

    return load_estate()


def snapshots(handle) -> dict[str, dict]:
    rds = handle.boto3_client("rds")
    out = {}
    for page in rds.get_paginator("describe_db_snapshots").paginate():
        for s in page["DBSnapshots"]:
            out[s["DBSnapshotIdentifier"]] = s
    return out


def log_retention(handle) -> dict[str, int | None]:
    groups = handle.boto3_client("logs").describe_log_groups(logGroupNamePrefix="/legacy/")["logGroups"]
    return {g["logGroupName"]: g.get("retentionInDays") for g in groups}


def expected_candidates(before: dict[str, dict]) -> set[str]:
    """Computed from the seeded snapshots with the rules as the plan states them, not from the code."""
    cutoff = dt.datetime(2026, 11, 2, tzinfo=dt.UTC) - dt.timedelta(days=30)
    wanted = set()
    for db in [d.id for d in estate().databases]:
        manual = sorted((s for s in before.values() if s["DBInstanceIdentifier"] == db and s["SnapshotType"] == "manual"),
                        key=lambda s: s["SnapshotCreateTime"], reverse=True)
        for s in manual[7:]:
            tagged = {t["Key"] for t in s.get("TagList", [])} & {"legal-hold", "keep"}
            if s["SnapshotCreateTime"] < cutoff and not tagged:
                wanted.add(s["DBSnapshotIdentifier"])
    return wanted


@pytest.fixture(scope="module")
def runs(sandbox_session):
    handle = sandbox_session
    handle.reset()
    # The backups scenario gives the archive a one-year rule; take it away so the run must ensure it.
    handle.boto3_client("s3").delete_bucket_lifecycle(Bucket=estate().logs.archive_bucket)
    dbs = [d.id for d in estate().databases]
    green_db, red_db = dbs[0], dbs[1]
    before = snapshots(handle)
    logs_before = log_retention(handle)
    handle.clear_request_counts()
    first = run_dag(DAG_ID, LOGICAL_DATE, CONF)
    counts_first = handle.request_counts()  # before this test's own listings add to them
    after_first = snapshots(handle)
    objects_first = digests(handle)
    slack_first = list(handle.slack_messages())
    handle.clear_request_counts()
    second = run_dag(DAG_ID, LOGICAL_DATE, CONF)
    counts_second = handle.request_counts()
    return {
        "handle": handle, "green": green_db, "red": red_db, "before": before, "logs_before": logs_before,
        "first": first, "after_first": after_first, "objects_first": objects_first, "slack_first": slack_first,
        "counts_first": counts_first, "second": second, "after_second": snapshots(handle),
        "objects_second": digests(handle), "slack_second": list(handle.slack_messages()),
        "counts_second": counts_second, "logs_after": log_retention(handle),
        "plan": json.loads(read_bytes(handle, f"retention/{DAY}/plan.json")),
        "report": json.loads(read_bytes(handle, f"retention/{DAY}/report.json")),
        "audit": [json.loads(line) for line in read_bytes(handle, f"retention/audit/{DAY}.jsonl").decode().splitlines()],
        "lifecycle": handle.boto3_client("s3").get_bucket_lifecycle_configuration(
            Bucket=estate().logs.archive_bucket)["Rules"],
    }


def test_both_runs_succeed(runs):
    for name in ("first", "second"):
        assert str(runs[name].state) == "success", task_states(runs[name])


def test_the_first_run_deletes_exactly_the_candidates_of_the_green_database(runs):
    before, after = runs["before"], runs["after_first"]
    deleted = set(before) - set(after)
    expected = {s for s in expected_candidates(before) if before[s]["DBInstanceIdentifier"] == runs["green"]}
    assert expected and deleted == expected, runs["plan"]["gate"]
    assert {r["target"] for r in runs["audit"] if r["result"] == "deleted"} == expected


def test_protected_snapshots_survive(runs):
    after = runs["after_second"]
    for sid, s in runs["before"].items():
        tags = {t["Key"] for t in s.get("TagList", [])}
        if s["SnapshotType"] != "manual" or tags & {"legal-hold", "keep"} or s["DBInstanceIdentifier"] not in (
                runs["green"], runs["red"]):
            assert sid in after, f"{sid} should have been kept"
    green_manual = sorted((s for s in runs["before"].values() if s["DBInstanceIdentifier"] == runs["green"]
                           and s["SnapshotType"] == "manual"), key=lambda s: s["SnapshotCreateTime"])
    assert all(s["DBSnapshotIdentifier"] in after for s in green_manual[-7:])
    assert "legacy-staging-db-final" in after


def test_snapshots_of_a_deleted_database_are_shown_kept_with_why(runs):
    staging = {s["snapshot_id"]: s for s in runs["plan"]["snapshots"] if s["db_id"] == "legacy-staging-db"}
    assert len(staging) == 3 and all(s["action"] == "keep" for s in staging.values())
    assert staging["legacy-staging-db-final"]["reasons"][:2] == ["outside_estate", "final_snapshot"]
    assert all("final_snapshot" not in s["reasons"] and "outside_estate" in s["reasons"]
               for sid, s in staging.items() if sid != "legacy-staging-db-final")
    assert runs["report"]["figures"]["protected_final_snapshot"]["value"] == 1


def test_the_aws_backup_snapshot_is_untouched(runs):
    backend_listing = runs["handle"].boto3_client("rds").describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in backend_listing if s["DBSnapshotIdentifier"].startswith("awsbackup:")]


def test_the_database_whose_verification_failed_is_refused_with_a_p2(runs):
    red_before = {s for s, v in runs["before"].items() if v["DBInstanceIdentifier"] == runs["red"]}
    assert red_before <= set(runs["after_second"])
    assert "not green" in runs["plan"]["gate"]["refused"][runs["red"]]
    refused = [f for f in runs["report"]["findings"] if f["kind"] == "pruning_refused"]
    assert [(f["resource"], f["severity"]) for f in refused] == [(runs["red"], "P2")]
    slack = " ".join(m["text"] for m in runs["slack_first"])
    assert "pruning_refused" in slack and runs["red"] in slack


def test_log_retention_and_archive_lifecycle_are_ensured(runs):
    wrong = {g for g, days in runs["logs_before"].items() if days != 365}
    assert wrong, "the sandbox should seed log groups with wrong or no retention"
    assert all(days == 365 for days in runs["logs_after"].values())
    assert {r["target"] for r in runs["audit"] if r["kind"] == "put_log_retention"} == wrong
    rule = [r for r in runs["lifecycle"] if r["Status"] == "Enabled" and r.get("Expiration", {}).get("Days") == 365]
    assert rule


def test_the_plan_gives_a_reason_for_every_candidate_and_protection(runs):
    plan = runs["plan"]
    assert plan["snapshots"] and all(s["why"] and s["reasons"] for s in plan["snapshots"])
    reasons = {r for s in plan["snapshots"] for r in s["reasons"]}
    assert {"older_than_retention", "protect_tag", "newest_n", "automated", "within_retention"} <= reasons


def test_every_audit_line_says_what_why_when_and_result(runs):
    for line in runs["audit"]:
        assert line["kind"] and line["target"] and line["why"] and line["result"] in ("deleted", "applied")
        assert line["at"].endswith("Z") and line["run_id"]


def aws_calls(counts: dict) -> dict[str, int]:
    return counts.get("paths", {}).get("aws", {})


def test_the_second_run_deletes_nothing_and_changes_no_artifact(runs):
    assert runs["after_second"] == runs["after_first"]
    assert runs["objects_second"] == runs["objects_first"]
    assert "rds:DeleteDBSnapshot" not in aws_calls(runs["counts_second"])
    assert "logs:PutRetentionPolicy" not in aws_calls(runs["counts_second"])
    assert runs["slack_second"] == runs["slack_first"]


def test_the_first_run_calls_delete_once_per_deleted_snapshot(runs):
    calls = aws_calls(runs["counts_first"])
    assert calls["rds:DeleteDBSnapshot"] == len(set(runs["before"]) - set(runs["after_first"]))
    # one listing of the account's snapshots (moto answers in one page; paging: tests/hooks)
    assert calls["rds:DescribeDBSnapshots"] == 1
    assert calls["rds:DescribeDBInstances"] == 1


def test_the_slack_summary_gives_totals(runs):
    summary = [m["text"] for m in runs["slack_first"] if "Retention pruning" in m["text"]]
    deleted = len(set(runs["before"]) - set(runs["after_first"]))
    assert len(summary) == 1 and f"deleted {deleted} snapshot(s)" in summary[0]
    assert "protected" in summary[0] and "refused 1 database(s)" in summary[0]
