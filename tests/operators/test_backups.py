"""The verification operators against the sandbox: what a missing resource, a bucket in another
region, a deleting lifecycle rule, RTC off or an AccessDenied become (findings, never crashes)."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError
from estate_ops.domain.backups import Verdict
from estate_ops.operators.backups import (
    VerifyDocumentReplicationOperator,
    VerifyLogArchiveOperator,
    VerifyLogRetentionOperator,
    VerifyRdsBackupsOperator,
)

from tests.backups_estate import HEALTHY_DB, backups_estate, using_estate

LOGICAL = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
CONTEXT = {"logical_date": LOGICAL}


@pytest.fixture
def estate(sandbox, tmp_path):
    with using_estate(backups_estate(tmp_path / "estate.yaml")) as path:
        yield path


def run(op) -> Verdict:
    return Verdict.from_dict(op.execute(CONTEXT))


def findings(verdict: Verdict) -> list[tuple[str, str]]:
    return [(f.kind, f.resource) for f in verdict.findings]


def denied(action: str):
    def raise_denied(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, action)
    return raise_denied


def test_healthy_database_against_the_sandbox(estate):
    verdict = run(VerifyRdsBackupsOperator(task_id="v", db_id=HEALTHY_DB))
    assert verdict.green and verdict.findings == ()


def test_database_removed_from_aws_is_a_p1_finding(sandbox, estate):
    sandbox.remove("rds_instance", HEALTHY_DB)
    verdict = run(VerifyRdsBackupsOperator(task_id="v", db_id=HEALTHY_DB))
    assert findings(verdict) == [("resource_missing", HEALTHY_DB)] and not verdict.green


@pytest.mark.parametrize("method,action", [("describe_instance", "rds:DescribeDBInstances"),
                                           ("newest_automated_snapshot", "rds:DescribeDBSnapshots")])
def test_access_denied_on_rds_names_the_iam_action(estate, monkeypatch, method, action):
    from estate_ops.hooks import rds

    if method == "newest_automated_snapshot":
        monkeypatch.setattr(rds.RdsBackupsHook, "iter_db_snapshots",
                            lambda self, **kw: (_ for _ in ()).throw(
                                RuntimeError("access denied: the IAM policy must allow rds:DescribeDBSnapshots "
                                             "(include/iam/estate-ops-policy.json)")))
    else:
        monkeypatch.setattr(rds.RdsBackupsHook, method, denied("DescribeDBInstances"))
    verdict = run(VerifyRdsBackupsOperator(task_id="v", db_id=HEALTHY_DB))
    assert findings(verdict) == [("backup_check_failed", HEALTHY_DB)]
    assert action in verdict.findings[0].summary and not verdict.green


def test_document_bucket_with_a_failed_object(estate):
    verdict = run(VerifyDocumentReplicationOperator(task_id="v", bucket="legacy-documents"))
    assert findings(verdict) == [("replication_failure", "legacy-documents")]
    assert verdict.findings[0].details["failed"] == ["leases/2026/lease-0010.pdf"]


def test_replica_in_another_region_than_estate_says(tmp_path, sandbox):
    contracts = {"bucket": "legacy-contracts", "replica_bucket": "legacy-contracts-replica",
                 "replica_region": "eu-west-1"}
    with using_estate(backups_estate(tmp_path / "e.yaml", extra_documents=(contracts,))):
        verdict = run(VerifyDocumentReplicationOperator(task_id="v", bucket="legacy-contracts"))
    summaries = [f.summary for f in verdict.findings if f.resource == "legacy-contracts-replica"]
    assert "replica legacy-contracts-replica is in us-west-2, estate.yaml says eu-west-1" in summaries


def test_missing_document_bucket_is_a_p1_finding(sandbox, estate):
    sandbox.remove("s3_bucket", "legacy-contracts")
    verdict = run(VerifyDocumentReplicationOperator(task_id="v", bucket="legacy-contracts"))
    assert findings(verdict) == [("resource_missing", "legacy-contracts")]


def test_deleting_lifecycle_and_rtc_off_are_found(sandbox, estate):
    s3 = sandbox.boto3_client("s3")
    s3.put_bucket_lifecycle_configuration(Bucket="legacy-documents", LifecycleConfiguration={"Rules": [
        {"ID": "tidy", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}]})
    rules = s3.get_bucket_replication(Bucket="legacy-documents")["ReplicationConfiguration"]
    rules["Rules"][0]["Destination"].pop("ReplicationTime")
    rules["Rules"][0]["Destination"].pop("Metrics")
    s3.put_bucket_replication(Bucket="legacy-documents", ReplicationConfiguration=rules)
    verdict = run(VerifyDocumentReplicationOperator(task_id="v", bucket="legacy-documents"))
    kinds = {f.kind: f for f in verdict.findings}
    assert set(kinds) == {"document_expiry_rule", "replication_time_control_off", "replication_failure"}
    assert "tidy" in kinds["document_expiry_rule"].summary and kinds["replication_time_control_off"].severity == "P3"


def test_access_denied_on_s3_names_the_iam_action(estate, monkeypatch):
    from estate_ops.hooks.s3 import BucketsHook

    monkeypatch.setattr(BucketsHook, "replication_rules", denied("GetBucketReplication"))
    verdict = run(VerifyDocumentReplicationOperator(task_id="v", bucket="legacy-documents"))
    assert findings(verdict) == [("backup_check_failed", "legacy-documents")]
    assert "s3:GetReplicationConfiguration" in verdict.findings[0].summary


def test_bucket_not_in_the_estate_is_a_clear_error(estate):
    with pytest.raises(ValueError, match=r"bucket 'elsewhere' is not a document bucket in estate.yaml documents; "
                                         r"expected one of \['legacy-documents', 'legacy-contracts'\]"):
        VerifyDocumentReplicationOperator(task_id="v", bucket="elsewhere").execute(CONTEXT)


def test_log_groups_and_archive(sandbox, estate):
    groups = run(VerifyLogRetentionOperator(task_id="v", prefix="/legacy/"))
    assert sorted(findings(groups)) == [("log_retention_wrong", "/legacy/api"),
                                        ("log_retention_wrong", "/legacy/batch-jobs")]
    assert run(VerifyLogArchiveOperator(task_id="a")).findings == ()
    sandbox.boto3_client("s3").put_bucket_lifecycle_configuration(
        Bucket="legacy-log-archive", LifecycleConfiguration={"Rules": [
            {"ID": "short", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 90}}]})
    archive = run(VerifyLogArchiveOperator(task_id="a"))
    assert findings(archive) == [("log_retention_wrong", "legacy-log-archive")]
    assert "90 d" in archive.findings[0].summary


def test_log_prefix_matching_nothing(estate):
    verdict = run(VerifyLogRetentionOperator(task_id="v", prefix="/nothing-here/"))
    assert findings(verdict) == [("resource_missing", "/nothing-here/")]


def test_access_denied_on_logs_names_the_iam_action(estate, monkeypatch):
    from estate_ops.hooks.logs import LogGroupsHook

    monkeypatch.setattr(LogGroupsHook, "log_groups", denied("DescribeLogGroups"))
    verdict = run(VerifyLogRetentionOperator(task_id="v", prefix="/legacy/"))
    assert "logs:DescribeLogGroups" in verdict.findings[0].summary and not verdict.green


def test_access_denied_on_the_log_archive_names_the_iam_action(estate, monkeypatch):
    from estate_ops.hooks.s3 import BucketsHook

    monkeypatch.setattr(BucketsHook, "lifecycle_rules", denied("GetBucketLifecycleConfiguration"))
    verdict = run(VerifyLogArchiveOperator(task_id="a"))
    assert findings(verdict) == [("backup_check_failed", "legacy-log-archive")]
    assert "s3:GetLifecycleConfiguration" in verdict.findings[0].summary and not verdict.green
