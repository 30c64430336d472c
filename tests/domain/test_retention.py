"""Retention pruning rules: candidates, protections, the gate, caps, the document guard, the audit."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from estate_ops.domain import retention as R

UTC = dt.UTC
DAY = dt.date(2026, 11, 2)
DAY_START = dt.datetime(2026, 11, 2, tzinfo=UTC)


def policy(**overrides) -> R.PruningPolicy:
    values = {"retention_days": 30, "keep_newest": 7, "protect_tags": ("legal-hold", "keep"), "delete_final_snapshots": False,
                  "max_deletions_per_run": 50, "max_fraction_per_database": Decimal("0.20"),
                  "verification_max_age_hours": 26}
    values.update(overrides)
    return R.PruningPolicy(**values)


def snap(sid: str, days_old: float, db: str = "db-a", kind: str = "manual", status: str = "available",
         tags: dict | None = None) -> R.Snapshot:
    return R.Snapshot(sid, db, kind, status, DAY_START - dt.timedelta(days=days_old),
                      arn=f"arn:aws:rds:us-east-1:123456789012:snapshot:{sid}", allocated_gib=20,
                      tags=tuple((tags or {}).items()))


def daily(db: str, days: int) -> list[R.Snapshot]:
    return [snap(f"{db}-d{age:03d}", age + 0.5, db) for age in range(days)]


def decide(snaps, pol=None, estate=("db-a", "db-b"), existing=("db-a", "db-b")):
    return {d.snapshot.snapshot_id: d for d in R.plan_snapshots(
        snaps, estate_db_ids=estate, existing_db_ids=existing, day=DAY, policy=pol or policy())}


def test_sixty_daily_snapshots_give_the_thirty_older_than_retention():
    result = decide(daily("db-a", 60))
    deleted = sorted(sid for sid, d in result.items() if d.delete)
    # ages 30.5 .. 59.5 days are past 30 days; the newest 7 are far younger anyway
    assert deleted == [f"db-a-d{age:03d}" for age in range(30, 60)]
    assert result["db-a-d029"].reasons == ("within_retention",)
    assert "59 days old" in result["db-a-d059"].why and "30-day retention" in result["db-a-d059"].why


def test_the_retention_boundary_counts_from_the_start_of_the_day():
    exactly = R.Snapshot("edge", "db-a", "manual", "available", DAY_START - dt.timedelta(days=30))
    before = R.Snapshot("older", "db-a", "manual", "available", DAY_START - dt.timedelta(days=30, seconds=1))
    result = decide([exactly, before] + daily("db-a", 7), policy(keep_newest=0))
    assert not result["edge"].delete and result["edge"].reasons == ("within_retention",)
    assert result["older"].delete


def test_newest_n_survive_whatever_their_age():
    old = [snap(f"old-{i}", 100 + i) for i in range(10)]
    result = decide(old)
    kept = sorted(sid for sid, d in result.items() if not d.delete)
    assert kept == [f"old-{i}" for i in range(7)]
    assert all(result[s].reasons == ("newest_n",) for s in kept)


@pytest.mark.parametrize("tag", ["legal-hold", "Legal-Hold", "keep", "Legal_Hold", "legal hold", "LegalHold",
                                 " LEGAL-HOLD ", "legal__hold", "legal - hold", "KEEP\t", "legal\u2013hold",
                                 "ｌｅｇａｌ-ｈｏｌｄ", "legal\u200bhold"])
def test_protect_tags_keep_a_snapshot_whatever_the_case_space_or_separators(tag):
    result = decide([snap("held", 90, tags={tag: "case-42"})] + daily("db-a", 8))
    assert not result["held"].delete
    assert "protect_tag" in result["held"].reasons and tag in result["held"].why


@pytest.mark.parametrize("configured", [("Legal Hold",), ("LEGAL_HOLD",), (" legalhold ",)])
def test_the_configured_tag_names_are_compared_alike(configured):
    result = decide([snap("held", 90, tags={"legal-hold": "case-42"})] + daily("db-a", 8),
                    policy(protect_tags=configured))
    assert "protect_tag" in result["held"].reasons


@pytest.mark.parametrize("tag", ["owner", "legal-holder", "holdlegal", "no-keep", "keeper", "legal-hold-expired"])
def test_an_unrelated_tag_protects_nothing(tag):
    result = decide([snap("tagged", 90, tags={tag: "ops"})] + daily("db-a", 8))
    assert result["tagged"].delete


# ------------------------------------------------------------------------- a snapshot listed more than once


def test_a_snapshot_listed_twice_is_one_snapshot():
    twice = [snap("old", 90), snap("old", 90)] + daily("db-a", 8)
    decisions = R.plan_snapshots(twice, estate_db_ids=["db-a"], existing_db_ids=["db-a"], day=DAY, policy=policy())
    assert [d.snapshot.snapshot_id for d in decisions].count("old") == 1
    assert next(d for d in decisions if d.snapshot.snapshot_id == "old").delete


@pytest.mark.parametrize("tagged_copy", [0, 1, 2])
def test_a_protect_tag_on_any_copy_protects_the_snapshot(tagged_copy):
    copies = [snap("held", 90, tags={"Legal_Hold": "case-42"} if i == tagged_copy else {}) for i in range(3)]
    result = decide(copies + daily("db-a", 8))
    assert not result["held"].delete and "protect_tag" in result["held"].reasons
    assert result["held"].snapshot.tags == (("Legal_Hold", "case-42"),)


@pytest.mark.parametrize("change", [{"status": "deleting"}, {"db": "db-b"}, {"kind": "automated"}, {"days_old": 80}],
                         ids=["status", "database", "type", "creation time"])
def test_copies_that_disagree_keep_the_snapshot(change):
    change = dict(change)
    copies = [snap("odd", 90), snap("odd", change.pop("days_old", 90), **change)]
    for listing in (copies, copies[::-1]):
        result = decide(listing + daily("db-a", 8) + daily("db-b", 8))
        assert not result["odd"].delete
        assert "listed_inconsistently" in result["odd"].reasons
        assert "listed more than once with different details" in result["odd"].why
    assert decide(copies + daily("db-a", 8)) == decide(copies[::-1] + daily("db-a", 8))


@pytest.mark.parametrize("kind,reason", [("automated", "automated"), ("awsbackup", "aws_backup"),
                                         ("shared", "not_manual")])
def test_automated_aws_backup_and_foreign_snapshots_are_never_candidates(kind, reason):
    result = decide([snap("x", 200, kind=kind)])
    assert not result["x"].delete and result["x"].reasons[0] == reason


def test_an_aws_backup_id_is_protected_even_if_typed_manual():
    result = decide([snap("awsbackup:job-1234", 200)], policy(keep_newest=0))
    assert not result["awsbackup:job-1234"].delete and "aws_backup" in result["awsbackup:job-1234"].reasons


def test_the_final_snapshot_of_a_deleted_database_is_kept_unless_allowed():
    snaps = [snap(f"gone-{i}", 60 + i, db="db-b") for i in range(3)]
    kept = decide(snaps, policy(keep_newest=0), existing=("db-a",))
    assert [s for s, d in kept.items() if not d.delete] == ["gone-0"]
    assert kept["gone-0"].reasons == ("final_snapshot",)
    allowed = decide(snaps, policy(keep_newest=0, delete_final_snapshots=True), existing=("db-a",))
    assert all(d.delete for d in allowed.values())


def test_snapshots_outside_the_estate_and_not_available_are_kept():
    result = decide([snap("other", 90, db="someone-elses-db"), snap("busy", 90, status="creating")],
                    policy(keep_newest=0), existing=("db-a", "someone-elses-db"))
    assert result["other"].reasons == ("outside_estate",)
    assert result["busy"].reasons == ("not_available",)


def test_a_snapshot_being_created_counts_as_the_newest():
    creating = R.Snapshot("creating", "db-a", "manual", "creating", None)
    result = decide([creating] + [snap(f"s{i}", 40 + i) for i in range(3)], policy(keep_newest=1))
    assert "newest_n" in result["creating"].reasons
    assert all(result[f"s{i}"].delete for i in range(3))


def test_from_aws_reads_a_describe_record():
    item = {"DBSnapshotIdentifier": "a", "DBInstanceIdentifier": "db-a", "SnapshotType": "manual",
            "Status": "available", "SnapshotCreateTime": dt.datetime(2026, 9, 1, tzinfo=UTC),
            "DBSnapshotArn": "arn:x", "AllocatedStorage": 20, "TagList": [{"Key": "keep", "Value": "yes"}]}
    s = R.Snapshot.from_aws(item)
    assert (s.db_id, s.allocated_gib, s.tags) == ("db-a", 20, (("keep", "yes"),))
    assert R.Snapshot.from_dict(json.loads(json.dumps(s.as_dict(), default=str).replace("+00:00", "Z"))) == s
    with pytest.raises(R.RetentionInputError, match="without DBInstanceIdentifier"):
        R.Snapshot.from_aws({"DBSnapshotIdentifier": "a"})


# ------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("tags,error", [
    ((), "protect_tags: expected at least one non-blank tag name"),
    (("  ",), "protect_tags: expected at least one non-blank tag name"),
    (("keep", "-"), r"none of only separators \(e.g. \[legal-hold, keep\]\), got \['keep', '-'\]"),
    (("_ -",), "protect_tags: expected at least one non-blank tag name"),
])
def test_an_empty_tag_config_is_refused(tags, error):
    with pytest.raises(R.RetentionInputError, match=error):
        policy(protect_tags=tags)


@pytest.mark.parametrize("filter_text,chosen,error", [
    ("", ["db-a", "db-b", "db-c"], None),
    ("db-b", ["db-b"], None),
    ("db-a, db-c", ["db-a", "db-c"], None),
    ("db-*", ["db-a", "db-b", "db-c"], None),
    ("prod-db", None, r"param databases: 'prod-db' matches no database in estate.yaml"),
    ("db-a,typo", None, r"'typo' matches no database"),
])
def test_the_database_filter(filter_text, chosen, error):
    if error:
        with pytest.raises(R.RetentionInputError, match=error):
            R.select_databases(["db-c", "db-a", "db-b"], filter_text)
    else:
        assert R.select_databases(["db-c", "db-a", "db-b"], filter_text) == chosen


@pytest.mark.parametrize("data,error", [
    ([], "expected a JSON object"),
    ({"db_id": "other", "green": True, "verified_at": "2026-11-02T06:00:00Z"}, "db_id is 'other', expected 'db-a'"),
    ({"db_id": "db-a", "green": "yes", "verified_at": "2026-11-02T06:00:00Z"}, "green must be true or false"),
    ({"db_id": "db-a", "green": True}, "verified_at must be an ISO 8601 time"),
    ({"db_id": "db-a", "green": True, "verified_at": "2026-11-02T06:00:00"}, "has no time zone"),
])
def test_a_malformed_verification_status_is_named(data, error):
    with pytest.raises(R.RetentionInputError, match=error):
        R.parse_verification_status("db-a", data, "s3://b/backups/status/db-a.json")


# ------------------------------------------------------------------------- the gate


NOW = dt.datetime(2026, 11, 2, 12, tzinfo=UTC)


def status(hours_ago: float, green: bool = True, findings=()) -> R.VerificationStatus:
    return R.VerificationStatus("db-a", NOW - dt.timedelta(hours=hours_ago), green, tuple(findings))


@pytest.mark.parametrize("st,expected", [
    (None, "no backup verification status"),
    ("not JSON", "status unreadable: not JSON"),
    (status(2, green=False, findings=["backup_missed: no snapshot in 30 h"]), "is not green: backup_missed"),
    (status(27), "27.0 h old"),
    (status(25.9), None),
])
def test_verification_refusal_says_why(st, expected):
    why = R.verification_refusal("db-a", st, NOW, 26)
    if expected is None:
        assert why is None
    else:
        assert expected in why and why.startswith("db-a:")


def _candidates(db: str, n: int, total: int):
    """`total` manual snapshots of `db`, of which the `n` oldest are candidates."""
    snaps = [snap(f"{db}-{i:03d}", 100 + i if i >= total - n else 1 + i * 0.01, db) for i in range(total)]
    return R.plan_snapshots(snaps, estate_db_ids=[db, "db-b", "db-a"], existing_db_ids=[db, "db-a", "db-b"],
                            day=DAY, policy=policy(keep_newest=0))


def test_a_refused_database_is_skipped_and_others_proceed():
    decisions = _candidates("db-a", 2, 20) + _candidates("db-b", 3, 20)
    result = R.gate(decisions, {"db-a": "db-a: not green", "db-b": None}, policy(), confirm_over_cap=False)
    assert result.refused == {"db-a": "db-a: not green"}
    assert sorted(result.approved) == ["db-b"] and len(result.approved["db-b"]) == 3


def test_over_the_per_database_fraction_nothing_is_deleted_unless_confirmed():
    decisions = _candidates("db-a", 5, 20) + _candidates("db-b", 1, 20)  # 25 % of db-a
    held = R.gate(decisions, {}, policy(), confirm_over_cap=False)
    assert held.approved == {} and held.held_by_cap
    assert held.cap_breaches == ["db-a: 5 of its 20 manual snapshots (25.0 %) exceed the cap of 20 % per database"]
    confirmed = R.gate(decisions, {}, policy(), confirm_over_cap=True)
    assert not confirmed.held_by_cap and sum(len(v) for v in confirmed.approved.values()) == 6


def test_exactly_at_the_fraction_is_allowed():
    result = R.gate(_candidates("db-a", 4, 20), {}, policy(), confirm_over_cap=False)  # 20 %
    assert not result.cap_breaches and len(result.approved["db-a"]) == 4


def test_over_the_per_run_cap_nothing_is_deleted():
    decisions = _candidates("db-a", 3, 20) + _candidates("db-b", 3, 20)
    result = R.gate(decisions, {}, policy(max_deletions_per_run=5), confirm_over_cap=False)
    assert result.approved == {} and result.cap_breaches == ["6 deletions exceed the cap of 5 per run"]


def test_refused_databases_do_not_count_towards_the_caps():
    decisions = _candidates("db-a", 3, 20) + _candidates("db-b", 3, 20)
    result = R.gate(decisions, {"db-a": "stale"}, policy(max_deletions_per_run=5), confirm_over_cap=False)
    assert not result.cap_breaches and list(result.approved) == ["db-b"]


# ------------------------------------------------------------------------- document guard


DOCS = [("legacy-documents", "legacy-documents-replica")]


def test_the_guard_passes_snapshot_log_and_archive_actions():
    lifecycle, _ = R.plan_lifecycle("legacy-log-archive", [], 365)
    logs, _ = R.plan_log_retention([{"logGroupName": "/legacy/api"}], 365)
    deletion = R.snapshot_action(decide([snap("a", 90)], policy(keep_newest=0))["a"])
    R.document_guard([lifecycle, deletion, *logs], DOCS)  # does not raise


@pytest.mark.parametrize("bucket", ["legacy-documents", "legacy-documents-replica", "LEGACY-DOCUMENTS"])
def test_a_lifecycle_rule_on_a_document_bucket_aborts_everything(bucket):
    lifecycle, _ = R.plan_lifecycle(bucket, [], 365)
    deletion = R.snapshot_action(decide([snap("a", 90)], policy(keep_newest=0))["a"])
    with pytest.raises(R.DocumentGuardError, match="aborted before any change.*ensure_bucket_lifecycle"):
        R.document_guard([deletion, lifecycle], DOCS)


@pytest.mark.parametrize("touched", ["arn:aws:s3:::legacy-documents/invoices/1.pdf", "s3://legacy-documents-replica/x"])
def test_any_action_touching_a_document_arn_or_url_aborts(touched):
    action = R.PlannedAction("delete_db_snapshot", "snap", "why", touches=("arn:aws:rds:x", touched))
    with pytest.raises(R.DocumentGuardError, match="1 planned action"):
        R.document_guard([action], DOCS)


# ------------------------------------------------------------------------- logs and lifecycle


def test_log_groups_missing_or_different_retention_get_365():
    actions, seen = R.plan_log_retention([{"logGroupName": "/legacy/b", "retentionInDays": 30},
                                          {"logGroupName": "/legacy/a"},
                                          {"logGroupName": "/legacy/c", "retentionInDays": 365}], 365)
    assert [(a.target, a.details) for a in actions] == [("/legacy/a", {"from": None, "to": 365}),
                                                        ("/legacy/b", {"from": 30, "to": 365})]
    assert [s["action"] for s in seen] == ["set", "set", "none"]


def test_lifecycle_keeps_other_rules_and_is_satisfied_by_an_equivalent_rule():
    other = {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}
    action, warnings = R.plan_lifecycle("arch", [other], 365)
    assert action.details["rules"][0] == other and action.details["rules"][1]["Expiration"] == {"Days": 365}
    assert warnings == []
    done = {"ID": "theirs", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 365}}
    assert R.plan_lifecycle("arch", [other, done], 365)[0] is None
    short = {"ID": "short", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 90}}
    action, warnings = R.plan_lifecycle("arch", [short], 365)
    assert action is not None and "expires objects after 90 days" in warnings[0]


# ------------------------------------------------------------------------- audit


def _action(target: str) -> dict:
    return R.PlannedAction("delete_db_snapshot", target, "old", db_id="db-a").as_dict()


def test_audit_jsonl_is_one_line_per_record_in_time_order_and_stable():
    t = dt.datetime(2026, 11, 2, 13, tzinfo=UTC)
    recs = [R.audit_record(_action("b"), "deleted", t + dt.timedelta(seconds=1), "ok", "run"),
            R.audit_record(_action("a"), "failed", t, "access denied", "run")]
    body = R.audit_jsonl(recs)
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert [(r["target"], r["result"], r["at"]) for r in lines] == [
        ("a", "failed", "2026-11-02T13:00:00Z"), ("b", "deleted", "2026-11-02T13:00:01Z")]
    assert set(lines[0]) == {"action_id", "kind", "target", "db_id", "why", "at", "result", "detail", "run_id"}
    assert R.audit_jsonl(list(reversed(recs))) == body
    assert R.audit_jsonl([]) == b""


def test_action_ids_are_stable_and_key_safe():
    assert R.action_id("delete_db_snapshot", "rds:db-a-2026-09-01") == "delete_db_snapshot~rds_db-a-2026-09-01"
    assert R.action_id("put_log_retention", "/legacy/api") == "put_log_retention~legacy_api"


def test_the_status_backup_verification_writes_is_what_the_gate_reads():
    """The contract with backup_verification: its status object, through canonical JSON, parses here."""
    from estate_ops.config import load_plan
    from estate_ops.domain.backups import Verdict, database_status
    from estate_ops.domain.findings import Finding
    from estate_ops.domain.serialize import canonical_json

    missed = Finding.of(load_plan(), "backup_missed", "db-a", "no snapshot in 30 h", "2026-11-02")
    for findings, green in (((), True), ((missed,), False)):
        written = json.loads(canonical_json(database_status(Verdict("database", "db-a", (), findings), NOW,
                                                           NOW.date())))
        status = R.parse_verification_status("db-a", written, "backups/status/db-a.json")
        assert (status.green, status.verified_at) == (green, NOW)
        why = R.verification_refusal("db-a", status, NOW + dt.timedelta(hours=1), 26)
        assert (why is None) == green
        if not green:
            assert "no snapshot in 30 h" in why


def test_over_the_cap_with_everything_already_done_today_holds_nothing():
    decisions = _candidates("db-a", 5, 20)  # 25 %: over the per-database cap
    ids = [d.snapshot.snapshot_id for d in decisions if d.delete]
    finished = R.gate(decisions, {}, policy(), confirm_over_cap=False, done=ids)
    assert finished.cap_breaches and not finished.held_by_cap  # nothing left to hold back
    half = R.gate(decisions, {}, policy(), confirm_over_cap=False, done=ids[:2])
    assert half.held_by_cap and half.approved == {}
