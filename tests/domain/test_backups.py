"""Backup verification rules (domain/backups.py): each promise's pass and fail, and invariants."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.config import load_plan
from estate_ops.domain.backups import (
    BucketObservation,
    DatabaseObservation,
    LogGroupObservation,
    ObjectSample,
    Verdict,
    build_verification_report,
    database_status,
    deleting_lifecycle_rules,
    verify_database,
    verify_documents,
    verify_log_archive,
    verify_log_groups,
)
from estate_ops.domain.serialize import canonical_json
from hypothesis import given
from hypothesis import strategies as st

PLAN = load_plan()
NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
DAY = NOW.date()


def healthy_db(**changes) -> DatabaseObservation:
    base = {"db_id": "db-1", "exists": True, "status": "available", "backup_retention_days": 30,
                "latest_restorable_time": NOW - dt.timedelta(minutes=5), "deletion_protection": True,
                "newest_automated_snapshot_id": "rds:db-1-2026-11-02-03-00",
                "newest_automated_snapshot_time": dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC), "automated_snapshots": 30}
    return DatabaseObservation(**{**base, **changes})


def kinds(verdict: Verdict) -> list[str]:
    return [f.kind for f in verdict.findings]


# --------------------------------------------------------------------------- databases


def test_healthy_database_is_green_with_every_check_passed():
    verdict = verify_database(PLAN, healthy_db(), NOW, DAY)
    assert verdict.green and verdict.findings == ()
    assert {c.check for c in verdict.checks} == {"exists", "automated_backups", "retention_days", "daily_snapshot",
                                                 "continuous_backup", "deletion_protection"}


@pytest.mark.parametrize("changes,expected,severity", [
    ({"exists": False}, ["resource_missing"], "P1"),
    ({"backup_retention_days": 7}, ["backup_retention_short"], "P1"),
    ({"backup_retention_days": 29}, ["backup_retention_short"], "P1"),
    ({"backup_retention_days": 0, "latest_restorable_time": None}, ["backup_missed", "rpo_breach"], "P1"),
    ({"newest_automated_snapshot_time": None, "newest_automated_snapshot_id": None}, ["backup_missed"], "P1"),
    ({"newest_automated_snapshot_time": NOW - dt.timedelta(hours=26, seconds=1)}, ["backup_missed"], "P1"),
    ({"latest_restorable_time": NOW - dt.timedelta(hours=3)}, ["rpo_breach"], "P1"),
    ({"latest_restorable_time": NOW - dt.timedelta(minutes=60)}, ["rpo_breach"], "P1"),  # "< 1 h": 60 min breaches
    ({"deletion_protection": False}, ["deletion_protection_off"], "P3"),
    ({"error": "access denied: the IAM policy must allow rds:DescribeDBSnapshots"}, ["backup_check_failed"], "P1"),
])
def test_each_database_promise_fails_alone(changes, expected, severity):
    verdict = verify_database(PLAN, healthy_db(**changes), NOW, DAY)
    assert sorted(kinds(verdict)) == sorted(expected)
    assert {f.severity for f in verdict.findings} == {severity}
    assert verdict.green is (severity not in ("P0", "P1"))


def test_boundaries_that_pass():
    edge = healthy_db(backup_retention_days=30, latest_restorable_time=NOW - dt.timedelta(minutes=59, seconds=59),
                      newest_automated_snapshot_time=NOW - dt.timedelta(hours=26))
    assert verify_database(PLAN, edge, NOW, DAY).findings == ()
    assert verify_database(PLAN, healthy_db(backup_retention_days=35), NOW, DAY).findings == ()


def test_missing_database_is_checked_for_nothing_else():
    verdict = verify_database(PLAN, DatabaseObservation("ghost", exists=False), NOW, DAY)
    assert [c.check for c in verdict.checks] == ["exists"]
    assert "does not exist" in verdict.findings[0].summary and "ghost" in verdict.findings[0].summary


def test_access_denied_finding_names_the_action():
    verdict = verify_database(PLAN, healthy_db(error="access denied: the IAM policy must allow rds:DescribeDBInstances "
                                                     "(include/iam/estate-ops-policy.json)"), NOW, DAY)
    assert "rds:DescribeDBInstances" in verdict.findings[0].summary


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="no time zone"):
        verify_database(PLAN, healthy_db(), NOW.replace(tzinfo=None), DAY)


def test_status_document_is_what_retention_reads():
    verdict = verify_database(PLAN, healthy_db(backup_retention_days=7, deletion_protection=False), NOW, DAY)
    status = database_status(verdict, NOW, DAY)
    assert status["db_id"] == "db-1" and status["day"] == "2026-11-02" and status["green"] is False
    assert status["verified_at"] == NOW
    assert [f["kind"] for f in status["findings"]] == ["backup_retention_short", "deletion_protection_off"]
    assert b'"verified_at": "2026-11-02T12:00:00Z"' in canonical_json(status)


def test_only_p3_findings_stay_green():
    status = database_status(verify_database(PLAN, healthy_db(deletion_protection=False), NOW, DAY), NOW, DAY)
    assert status["green"] is True and len(status["findings"]) == 1


@given(retention=st.integers(0, 35), lag_minutes=st.integers(0, 600), age_hours=st.integers(0, 100),
       protected=st.booleans())
def test_green_iff_no_p1_promise_broken(retention, lag_minutes, age_hours, protected):
    obs = healthy_db(backup_retention_days=retention, latest_restorable_time=NOW - dt.timedelta(minutes=lag_minutes),
                     newest_automated_snapshot_time=NOW - dt.timedelta(hours=age_hours), deletion_protection=protected)
    verdict = verify_database(PLAN, obs, NOW, DAY)
    broken = retention < 30 or lag_minutes >= 60 or age_hours > 26
    assert verdict.green is (not broken)
    assert ("deletion_protection_off" in kinds(verdict)) is (not protected)
    # One finding per failed check, never more, and every failed check has a finding.
    assert len(verdict.findings) == sum(not c.ok for c in verdict.checks)


# --------------------------------------------------------------------------- documents

RULE = {"ID": "all", "Status": "Enabled", "Filter": {}, "Priority": 1,
        "Destination": {"Bucket": "arn:aws:s3:::docs-replica",
                        "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}}}}


def sample(key="a.pdf", status="COMPLETED", minutes_ago=30, replica_has=True) -> ObjectSample:
    return ObjectSample(key, "v1", NOW - dt.timedelta(minutes=minutes_ago), status,
                        replica_has if status == "COMPLETED" else None)


def healthy_bucket(**changes) -> BucketObservation:
    base = {"bucket": "docs", "replica_bucket": "docs-replica", "expected_replica_region": "us-west-2", "exists": True,
                "replica_exists": True, "replica_region": "us-west-2", "versioning": "Enabled", "replica_versioning": "Enabled",
                "replication_rules": (RULE,), "lifecycle_rules": (), "replica_lifecycle_rules": (),
                "samples": (sample("a.pdf"), sample("b.pdf", minutes_ago=90))}
    return BucketObservation(**{**base, **changes})


def test_healthy_bucket_has_no_findings():
    assert verify_documents(PLAN, healthy_bucket(), NOW, DAY).findings == ()


@pytest.mark.parametrize("changes,expected", [
    ({"exists": False}, [("resource_missing", "docs")]),
    ({"replica_exists": False}, [("resource_missing", "docs-replica")]),
    ({"replica_region": "us-east-1"}, [("replication_failure", "docs-replica")]),
    ({"versioning": "Suspended"}, [("replication_failure", "docs")]),
    ({"replica_versioning": None}, [("replication_failure", "docs-replica")]),
    ({"replication_rules": ()}, [("replication_failure", "docs")]),
    ({"replication_rules": ({**RULE, "Status": "Disabled"},)}, [("replication_failure", "docs")]),
    ({"replication_rules": ({**RULE, "Filter": {"Prefix": "leases/"}},)}, [("replication_failure", "docs")]),
    ({"replication_rules": ({**RULE, "Destination": {"Bucket": "arn:aws:s3:::elsewhere"}},)},
     [("replication_failure", "docs")]),
    ({"replication_rules": ({**RULE, "Destination": {"Bucket": "arn:aws:s3:::docs-replica"}},)},
     [("replication_time_control_off", "docs")]),
    ({"lifecycle_rules": ({"ID": "expire", "Status": "Enabled", "Expiration": {"Days": 90}},)},
     [("document_expiry_rule", "docs")]),
    ({"replica_lifecycle_rules": ({"ID": "old", "Status": "Enabled", "NoncurrentVersionExpiration":
                                   {"NoncurrentDays": 30}},)}, [("document_expiry_rule", "docs-replica")]),
    ({"samples": (sample(status="FAILED"),)}, [("replication_failure", "docs")]),
    ({"samples": (sample(status="PENDING", minutes_ago=16),)}, [("replication_failure", "docs")]),
    ({"samples": (sample(replica_has=False),)}, [("replication_failure", "docs")]),
    ({"samples": (sample(status=None),)}, [("replication_failure", "docs")]),
    ({"error": "access denied: the IAM policy must allow s3:GetReplicationConfiguration"},
     [("backup_check_failed", "docs")]),
])
def test_each_document_promise_fails_alone(changes, expected):
    verdict = verify_documents(PLAN, healthy_bucket(**changes), NOW, DAY)
    assert [(f.kind, f.resource) for f in verdict.findings] == expected


def test_recent_pending_and_harmless_lifecycle_rules_pass():
    harmless = ({"ID": "glacier", "Status": "Enabled", "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}]},
                {"ID": "markers", "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
                {"ID": "off", "Status": "Disabled", "Expiration": {"Days": 1}},
                {"ID": "mpu", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}})
    obs = healthy_bucket(samples=(sample(status="PENDING", minutes_ago=15),), lifecycle_rules=harmless)
    assert verify_documents(PLAN, obs, NOW, DAY).findings == ()
    assert deleting_lifecycle_rules(harmless) == []


def test_replication_failure_lists_the_objects():
    obs = healthy_bucket(samples=(sample("new.pdf", status="FAILED", minutes_ago=5),
                                  sample("stuck.pdf", status="PENDING", minutes_ago=40), sample("ok.pdf")))
    finding = verify_documents(PLAN, obs, NOW, DAY).findings[0]
    assert finding.details["failed"] == ["new.pdf"] and finding.details["pending"] == ["stuck.pdf"]
    assert "1 FAILED, 1 PENDING" in finding.summary


# --------------------------------------------------------------------------- logs


def test_log_groups_need_exactly_the_plans_year():
    groups = [LogGroupObservation("/x/a", 365), LogGroupObservation("/x/b", 30), LogGroupObservation("/x/c", None),
              LogGroupObservation("/x/d", 400)]
    verdict = verify_log_groups(PLAN, "/x/", groups, DAY)
    assert [(f.resource, f.severity) for f in verdict.findings] == [("/x/b", "P3"), ("/x/c", "P3"), ("/x/d", "P3")]
    assert "kept forever" in next(f.summary for f in verdict.findings if f.resource == "/x/c")
    assert verdict.green


def test_a_prefix_matching_nothing_is_a_missing_resource():
    verdict = verify_log_groups(PLAN, "/gone/", [], DAY)
    assert kinds(verdict) == ["resource_missing"] and not verdict.green


@pytest.mark.parametrize("rules,ok", [
    ([{"ID": "y", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 365}}], True),
    ([{"ID": "y", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 90}}], False),
    ([{"ID": "y", "Status": "Enabled", "Filter": {"Prefix": "api/"}, "Expiration": {"Days": 365}}], False),
    ([{"ID": "y", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 365}}], False),
    ([], False),
])
def test_log_archive_expiry(rules, ok):
    verdict = verify_log_archive(PLAN, "archive", True, rules, DAY)
    assert (verdict.findings == ()) is ok
    if not ok:
        assert kinds(verdict) == ["log_retention_wrong"]


# --------------------------------------------------------------------------- report


def test_report_collects_verdicts_and_is_deterministic():
    verdicts = [verify_database(PLAN, healthy_db(db_id="b-db", backup_retention_days=7), NOW, DAY),
                verify_database(PLAN, healthy_db(db_id="a-db"), NOW, DAY),
                verify_documents(PLAN, healthy_bucket(), NOW, DAY),
                verify_log_groups(PLAN, "/x/", [LogGroupObservation("/x/a", None)], DAY)]
    result = build_verification_report(PLAN, "Test", DAY, NOW, verdicts)
    again = build_verification_report(PLAN, "Test", DAY, NOW, list(reversed(verdicts)))
    assert canonical_json(result.report) == canonical_json(again.report)
    assert list(result.statuses) == ["a-db", "b-db"]
    assert result.report["headline"]["status"]["value"] == "red"
    assert result.report["headline"]["databases_green"]["value"] == "1/2"
    assert [f.kind for f in result.findings] == ["backup_retention_short", "log_retention_wrong"]


def test_verdict_survives_xcom_round_trip():
    import json

    verdict = verify_database(PLAN, healthy_db(latest_restorable_time=NOW - dt.timedelta(hours=2)), NOW, DAY)
    back = Verdict.from_dict(json.loads(json.dumps(verdict.as_dict())))
    assert back == verdict
