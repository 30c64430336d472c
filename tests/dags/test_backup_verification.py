"""backup_verification end to end with dag.test() against the seeded sandbox, run twice.

Expected findings come from the backups scenario's design (sandbox/scenarios/backups.py): the
prod database healthy, reporting at 7-day retention, analytics restorable 3 h ago, a ghost
database named but absent, one FAILED document among the newest, a replica without versioning,
log groups at 30 days and with no retention.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.backups_estate import (
    GHOST_DB,
    HEALTHY_DB,
    SHORT_RETENTION_DB,
    STALE_DB,
    backups_estate,
    using_estate,
)
from tests.dagrun import run_dag, task_states

# The scheduled run of 2 November 2026, 06:00 UTC... the sandbox's fixed now is 12:00 UTC.
LOGICAL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
DAY = "2026-11-02"
BUCKET = "legacy-estate-ops-reports"


def _objects(sandbox) -> dict[str, tuple]:
    s3 = sandbox.boto3_client("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = (obj["ETag"], obj["LastModified"])
    return out


def _json(sandbox, key):
    return json.loads(sandbox.boto3_client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


@pytest.fixture(scope="module")
def two_runs(sandbox_session, tmp_path_factory):
    sandbox_session.reset()
    estate = backups_estate(tmp_path_factory.mktemp("estate") / "estate.yaml")
    with using_estate(estate):
        first = run_dag("backup_verification", LOGICAL)
        states_first = task_states(first)  # a rerun for the same date replaces the first run's rows
        after_first = _objects(sandbox_session)
        report = _json(sandbox_session, f"backups/{DAY}/verification.json")
        statuses = {db: _json(sandbox_session, f"backups/status/{db}.json")
                    for db in (HEALTHY_DB, SHORT_RETENTION_DB, STALE_DB, GHOST_DB)}
        html = sandbox_session.boto3_client("s3").get_object(
            Bucket=BUCKET, Key=f"backups/{DAY}/verification.html")["Body"].read().decode()
        events_first, slack_first = sandbox_session.pagerduty_events(), sandbox_session.slack_messages()
        second = run_dag("backup_verification", LOGICAL)
    return {"first": first, "second": second, "states": [states_first, task_states(second)], "after_first": after_first, "after_second": _objects(sandbox_session),
            "report": report, "html": html, "statuses": statuses, "events_first": events_first, "slack_first": slack_first,
            "events_second": sandbox_session.pagerduty_events(), "slack_second": sandbox_session.slack_messages()}


def _kinds(report, resource):
    return sorted(f["kind"] for f in report["findings"] if f["resource"] == resource)


def test_both_runs_succeed_with_one_mapped_task_per_resource(two_runs):
    for run, states in zip((two_runs["first"], two_runs["second"]), two_runs["states"], strict=True):
        assert str(run.state) == "success", states
        assert sum(k.startswith("verify_database[") for k in states) == 4, states
        assert sum(k.startswith("verify_documents[") for k in states) == 2


def test_database_findings(two_runs):
    report = two_runs["report"]
    assert _kinds(report, HEALTHY_DB) == []
    assert _kinds(report, SHORT_RETENTION_DB) == ["backup_retention_short"]
    assert _kinds(report, STALE_DB) == ["rpo_breach"]
    assert _kinds(report, GHOST_DB) == ["resource_missing"]
    stale = next(f for f in report["findings"] if f["resource"] == STALE_DB)
    assert stale["severity"] == "P1" and stale["details"]["lag_minutes"] == 180


def test_document_findings(two_runs):
    report = two_runs["report"]
    failed = [f for f in report["findings"] if f["resource"] == "legacy-documents"]
    assert [f["kind"] for f in failed] == ["replication_failure"]
    assert failed[0]["details"]["failed"] == ["leases/2026/lease-0010.pdf"]
    assert failed[0]["details"]["missing_from_replica"] == []
    assert _kinds(report, "legacy-contracts-replica") == ["replication_failure"]
    assert "versioning" in next(f for f in report["findings"] if f["resource"] == "legacy-contracts-replica")["summary"]


def test_log_findings(two_runs):
    report = two_runs["report"]
    assert _kinds(report, "/legacy/api") == ["log_retention_wrong"]
    assert _kinds(report, "/legacy/batch-jobs") == ["log_retention_wrong"]
    assert _kinds(report, "/legacy/application") == []
    assert _kinds(report, "legacy-log-archive") == []
    forever = next(f for f in report["findings"] if f["resource"] == "/legacy/batch-jobs")
    assert forever["severity"] == "P3" and "kept forever" in forever["summary"]


def test_status_per_database_for_retention_pruning(two_runs):
    statuses = two_runs["statuses"]
    assert statuses[HEALTHY_DB] == {"db_id": HEALTHY_DB, "verified_at": "2026-11-02T12:00:00Z", "day": DAY,
                                    "green": True, "findings": []}
    for db in (SHORT_RETENTION_DB, STALE_DB, GHOST_DB):
        assert statuses[db]["green"] is False
        assert statuses[db]["findings"] and statuses[db]["findings"][0]["severity"] == "P1"
    assert two_runs["report"]["statuses"] == statuses


def test_p1_pages_once_and_p3_goes_to_slack_once(two_runs):
    paged = {e["dedup_key"] for e in two_runs["events_first"]}
    p1 = {f["dedup_key"] for f in two_runs["report"]["findings"] if f["severity"] == "P1"}
    assert p1 and p1 <= paged
    assert two_runs["events_second"] == two_runs["events_first"]
    assert two_runs["slack_second"] == two_runs["slack_first"]
    texts = [m["text"] for m in two_runs["slack_first"] if "backup_verification" in m["text"]]
    assert len(texts) == 1 and "/legacy/batch-jobs" in texts[0] and "deletion_protection_off" not in texts[0]


def test_artifacts_identical_on_rerun(two_runs):
    keys = [k for k in two_runs["after_first"] if k.startswith((f"backups/{DAY}/", "backups/status/"))]
    assert {f"backups/{DAY}/verification.json", f"backups/{DAY}/verification.html"} <= set(keys)
    for key in keys + [f"runs/backup_verification/{DAY}.json"]:
        assert two_runs["after_second"][key] == two_runs["after_first"][key], key


def test_html_report_shows_status_and_failed_checks(two_runs):
    html = two_runs["html"]
    assert f"<td>{GHOST_DB}</td><td class=\"P1\">not green</td>" in html
    assert f"<td>{HEALTHY_DB}</td><td class=\"P3\">green</td>" in html
    assert "BackupRetentionPeriod 7 d is below the plan&#39;s 30 d" in html
