"""The pruning side of the hooks, against botocore's Stubber: moto does not page DescribeDBSnapshots,
and AWS's refusals (AccessDenied, already deleted) are easiest to produce exactly this way."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber
from estate_ops.hooks.logs import LogGroupsHook
from estate_ops.hooks.rds import RdsBackupsHook
from estate_ops.hooks.s3 import BucketsHook


def _stubbed(hook_cls, service):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    hook = hook_cls(aws_conn_id="aws_default", region_name="us-east-1")
    hook.__dict__["conn"] = client  # `conn` is a cached_property: the hook uses the stubbed client
    return hook, Stubber(client)


def _snapshot(i: int) -> dict:
    return {"DBSnapshotIdentifier": f"snap-{i:04d}", "DBInstanceIdentifier": "legacy-prod-db",
            "SnapshotType": "manual", "Status": "available",
            "SnapshotCreateTime": dt.datetime(2026, 9, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i)}


def test_describe_db_snapshots_follows_marker_until_the_last_page():
    hook, stub = _stubbed(RdsBackupsHook, "rds")
    pages = [(list(range(100)), "m1"), (list(range(100, 200)), "m2"), (list(range(200, 237)), None)]
    sent_marker = None
    for numbers, marker in pages:
        expected = {"MaxRecords": 100, **({"Marker": sent_marker} if sent_marker else {})}
        response = {"DBSnapshots": [_snapshot(i) for i in numbers], **({"Marker": marker} if marker else {})}
        stub.add_response("describe_db_snapshots", response, expected)
        sent_marker = marker
    with stub:
        ids = [s["DBSnapshotIdentifier"] for s in hook.iter_db_snapshots()]
    stub.assert_no_pending_responses()
    assert ids == [f"snap-{i:04d}" for i in range(237)]


def test_describe_db_snapshots_passes_type_instance_and_page_size():
    hook, stub = _stubbed(RdsBackupsHook, "rds")
    stub.add_response("describe_db_snapshots", {"DBSnapshots": [_snapshot(1)]},
                      {"MaxRecords": 20, "SnapshotType": "manual", "DBInstanceIdentifier": "legacy-prod-db"})
    with stub:
        assert len(list(hook.iter_db_snapshots(snapshot_type="manual", db_instance_id="legacy-prod-db",
                                               page_size=20))) == 1


@pytest.mark.parametrize("size", [19, 101, 0])
def test_a_page_size_outside_20_to_100_is_refused(size):
    hook, _stub = _stubbed(RdsBackupsHook, "rds")
    with pytest.raises(ValueError, match="page_size must be 20..100"):
        next(hook.iter_db_snapshots(page_size=size))


def test_access_denied_on_describe_names_the_iam_action():
    hook, stub = _stubbed(RdsBackupsHook, "rds")
    stub.add_client_error("describe_db_snapshots", "AccessDenied", "not authorized", 403)
    with stub, pytest.raises(RuntimeError, match=r"must allow rds:DescribeDBSnapshots"):
        list(hook.iter_db_snapshots())


def test_db_instance_ids_pages_too():
    hook, stub = _stubbed(RdsBackupsHook, "rds")
    stub.add_response("describe_db_instances", {"DBInstances": [{"DBInstanceIdentifier": "a"}], "Marker": "m"},
                      {"MaxRecords": 100})
    stub.add_response("describe_db_instances", {"DBInstances": [{"DBInstanceIdentifier": "b"}]},
                      {"MaxRecords": 100, "Marker": "m"})
    with stub:
        assert hook.db_instance_ids() == {"a", "b"}


@pytest.mark.parametrize("code,message,outcome,detail", [
    (None, None, "deleted", "DeleteDBSnapshot accepted (status deleted)"),
    ("DBSnapshotNotFound", "DBSnapshot snap-1 not found", "already_gone", "deleted elsewhere since the plan"),
    ("InvalidDBSnapshotState", "Snapshot snap-1 is in state deleting", "already_gone", "already being deleted"),
    ("AccessDenied", "User is not authorized to perform rds:DeleteDBSnapshot", "failed",
     "access denied: the IAM policy must allow rds:DeleteDBSnapshot"),
    ("InvalidDBSnapshotState", "Only manual snapshots may be deleted", "failed",
     "rds:DeleteDBSnapshot failed: InvalidDBSnapshotState: Only manual snapshots may be deleted"),
])
def test_delete_outcomes(code, message, outcome, detail):
    hook, stub = _stubbed(RdsBackupsHook, "rds")
    if code:
        stub.add_client_error("delete_db_snapshot", code, message, 400, expected_params={"DBSnapshotIdentifier": "snap-1"})
    else:
        stub.add_response("delete_db_snapshot", {"DBSnapshot": {"DBSnapshotIdentifier": "snap-1", "Status": "deleted"}},
                          {"DBSnapshotIdentifier": "snap-1"})
    with stub:
        got, text = hook.delete_manual_snapshot("snap-1")
    assert got == outcome and detail in text


@pytest.mark.parametrize("code,outcome,detail", [
    (None, "applied", "retention set to 365 days"),
    ("ResourceNotFoundException", "already_gone", "no longer exists"),
    ("AccessDeniedException", "failed", "must allow logs:PutRetentionPolicy"),
])
def test_put_retention_policy_outcomes(code, outcome, detail):
    hook, stub = _stubbed(LogGroupsHook, "logs")
    params = {"logGroupName": "/legacy/api", "retentionInDays": 365}
    if code:
        stub.add_client_error("put_retention_policy", code, "no", 400, expected_params=params)
    else:
        stub.add_response("put_retention_policy", {}, params)
    with stub:
        got, text = hook.put_retention_policy("/legacy/api", 365)
    assert got == outcome and detail in text


def test_lifecycle_rules_of_a_bucket_without_any_is_empty_and_put_replaces_with_the_merged_rules():
    hook, stub = _stubbed(BucketsHook, "s3")
    stub.add_client_error("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration", "none", 404)
    rules = [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 365}}]
    stub.add_response("put_bucket_lifecycle_configuration", {},
                      {"Bucket": "legacy-log-archive", "LifecycleConfiguration": {"Rules": rules}})
    stub.add_client_error("put_bucket_lifecycle_configuration", "AccessDenied", "no", 403)
    with stub:
        assert hook.lifecycle_rules("legacy-log-archive") == []
        assert hook.put_lifecycle_rules("legacy-log-archive", rules)[0] == "applied"
        outcome, detail = hook.put_lifecycle_rules("legacy-log-archive", rules)
    assert outcome == "failed" and "s3:PutLifecycleConfiguration" in detail


# ------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize("text", [
    "2026-11-02T11:00:00.000Z", "2026-11-02T11:00:00Z", "2026-11-02T11:00:00.123456Z",
    "2026-11-02T11:00:00.1234567Z", "2026-11-02T06:00:00-05:00", "2026-11-02T11:00:00+00:00",
    "2026-11-02T11:00:00", "1793617200", "1793617200.5", "Mon, 02 Nov 2026 11:00:00 GMT",
])
def test_the_fast_timestamp_parser_reads_what_botocores_reads(text):
    from botocore.utils import parse_timestamp
    from estate_ops.hooks.aws import parse_aws_timestamp

    ours, theirs = parse_aws_timestamp(text), parse_timestamp(text)
    assert ours == theirs and ours.utcoffset() == theirs.utcoffset()


def _describe_response(created: str) -> bytes:
    return (
        '<DescribeDBSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBSnapshotsResult>'
        "<DBSnapshots><DBSnapshot><DBSnapshotIdentifier>snap-1</DBSnapshotIdentifier>"
        "<DBInstanceIdentifier>legacy-prod-db</DBInstanceIdentifier><SnapshotType>manual</SnapshotType>"
        f"<Status>available</Status><SnapshotCreateTime>{created}</SnapshotCreateTime></DBSnapshot></DBSnapshots>"
        "</DescribeDBSnapshotsResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
        "</DescribeDBSnapshotsResponse>").encode()


def test_the_rds_hooks_client_parses_listing_times_without_dateutil(monkeypatch):
    import botocore.parsers
    from botocore.awsrequest import AWSResponse

    def refuse(text):
        raise AssertionError(f"botocore's default (dateutil) parser was used for {text!r}")

    monkeypatch.setattr(botocore.parsers, "DEFAULT_TIMESTAMP_PARSER", refuse)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")

    class Raw:
        def __init__(self, body):
            self.body = body

        def stream(self, **_):
            yield self.body

    hook = RdsBackupsHook(aws_conn_id=None, region_name="us-east-1")
    body = _describe_response("2026-11-02T06:00:00.250-05:00")
    hook.conn.meta.events.register("before-send.rds.DescribeDBSnapshots",
                                   lambda request, **_: AWSResponse(request.url, 200, {}, Raw(body)))
    [snapshot] = list(hook.iter_db_snapshots())
    created = snapshot["SnapshotCreateTime"]
    assert created == dt.datetime(2026, 11, 2, 11, 0, 0, 250000, tzinfo=dt.UTC) and created.utcoffset() is not None
