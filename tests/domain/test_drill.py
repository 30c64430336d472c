"""Restore drill rules (domain/drill.py): RTO, data RPO, row counts, names, tags, the SQL file."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from estate_ops.config import PROJECT_ROOT, load_plan
from estate_ops.domain.drill import (
    DrillInputError,
    DrillOutcome,
    ScratchInstanceConflict,
    build_drill_report,
    check_adoptable,
    compare_counts,
    evaluate_drill,
    is_drill_instance,
    leftover_drill_instances,
    parse_named_queries,
    parse_tolerance,
    read_newest_updated_at,
    read_table_counts,
    scratch_instance_id,
)
from estate_ops.domain.serialize import canonical_json
from hypothesis import given
from hypothesis import strategies as st

PLAN = load_plan()
AS_OF = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
DAY = AS_OF.date()
RDS_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def outcome(**changes) -> DrillOutcome:
    requested = AS_OF + dt.timedelta(seconds=10)
    base = {"db_id": "db-1", "scratch_id": "drill-db-1-20261102120000", "requested_at": requested,
                "target_time": AS_OF - dt.timedelta(minutes=5), "available_at": requested + dt.timedelta(minutes=40),
                "verified_at": requested + dt.timedelta(minutes=45), "deleted_at": requested + dt.timedelta(minutes=46),
                "source_counts": {"public.a": 1000, "public.b": 50}, "restored_counts": {"public.a": 995, "public.b": 50},
                "newest_updated_at": AS_OF - dt.timedelta(minutes=7)}
    return DrillOutcome(**{**base, **changes})


def test_a_good_drill_measures_and_finds_nothing():
    figures, findings = evaluate_drill(PLAN, outcome(), AS_OF, DAY)
    assert findings == []
    assert figures["status"] == "verified"
    assert figures["rto_seconds"] == 45 * 60
    assert figures["data_rpo_seconds"] == 2 * 60  # target 11:55 - newest 11:53
    assert figures["restore_lag_seconds"] == 5 * 60
    assert figures["steps"] == {"restore_seconds": 2400.0, "verify_seconds": 300.0, "teardown_seconds": 60.0}


@pytest.mark.parametrize("changes,kinds", [
    ({"verified_at": AS_OF + dt.timedelta(hours=4, seconds=10)}, ["rto_breach"]),  # exactly 4 h: "< 4 h" breached
    ({"newest_updated_at": AS_OF - dt.timedelta(minutes=65)}, ["rpo_breach"]),  # exactly 60 min before the target
    ({"target_time": AS_OF - dt.timedelta(hours=3), "newest_updated_at": AS_OF - dt.timedelta(hours=3, minutes=2)},
     ["rpo_breach"]),
    ({"restored_counts": {"public.a": 900, "public.b": 50}}, ["restore_data_mismatch"]),
    ({"restored_counts": {"public.a": 1000}}, ["restore_data_mismatch"]),
    ({"newest_updated_at": None}, ["restore_data_mismatch"]),
])
def test_each_drill_objective_breach(changes, kinds):
    _figures, findings = evaluate_drill(PLAN, outcome(**changes), AS_OF, DAY)
    assert [f.kind for f in findings] == kinds
    assert all(f.severity == "P1" and f.resource == "drill:db-1" for f in findings)


def test_a_failed_step_is_reported_and_the_later_steps_are_not_findings():
    failed = outcome(available_at=None, verified_at=None, restored_counts={}, newest_updated_at=None,
                     errors={"wait": "DrillStepError: scratch instance did not become available"})
    figures, findings = evaluate_drill(PLAN, failed, AS_OF, DAY)
    assert [(f.kind, f.details["step"]) for f in findings] == [("restore_drill_failed", "wait")]
    assert figures["status"] == "failed" and figures["rto_seconds"] is None and figures["tables"] == []


def test_teardown_failure_alone_is_paged_but_the_data_was_verified():
    figures, findings = evaluate_drill(PLAN, outcome(errors={"teardown": "AccessDenied"}), AS_OF, DAY)
    assert [f.kind for f in findings] == ["restore_drill_failed"]
    assert figures["status"] == "verified"


@given(src=st.integers(0, 10**9), got=st.integers(0, 10**9), tol=st.integers(0, 100))
def test_row_count_tolerance_is_symmetric_and_exact(src, got, tol):
    check = compare_counts({"t": src}, {"t": got}, Decimal(tol))[0]
    assert check.ok is (abs(got - src) * 100 <= src * tol)
    assert compare_counts({"t": got}, {"t": got}, Decimal(0))[0].ok


@given(db_id=st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,62}", fullmatch=True),
       when=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31),
                         timezones=st.just(dt.UTC)))
def test_scratch_ids_are_valid_rds_identifiers_and_unique_per_run(db_id, when):
    scratch = scratch_instance_id(db_id, when)
    assert len(scratch) <= 63 and RDS_ID.match(scratch), scratch
    assert scratch.startswith("drill-")
    assert scratch != scratch_instance_id(db_id, when + dt.timedelta(seconds=1))
    assert scratch == scratch_instance_id(db_id, when)


TAGS = [{"Key": "estate-ops:purpose", "Value": "restore-drill"}, {"Key": "estate-ops:drill-run", "Value": "old-run"}]


def test_only_tagged_scratch_instances_of_other_runs_are_leftovers():
    instances = [
        {"DBInstanceIdentifier": "drill-db-1-20261026070000", "TagList": TAGS, "DBInstanceStatus": "available"},
        {"DBInstanceIdentifier": "drill-db-1-20261102120000", "DBInstanceStatus": "available",
         "TagList": [TAGS[0], {"Key": "estate-ops:drill-run", "Value": "this-run"}]},
        {"DBInstanceIdentifier": "legacy-prod-db", "TagList": TAGS, "DBInstanceStatus": "available"},  # not scratch
        {"DBInstanceIdentifier": "drill-untagged", "TagList": [], "DBInstanceStatus": "available"},
        {"DBInstanceIdentifier": "drill-db-2-20261019070000", "TagList": TAGS, "DBInstanceStatus": "deleting"},
    ]
    assert leftover_drill_instances(instances, "this-run") == ["drill-db-1-20261026070000"]
    assert not is_drill_instance(instances[2]) and not is_drill_instance(instances[3])


@pytest.mark.parametrize("value", ["abc", "-1", "101", "NaN", "Infinity", None])
def test_bad_tolerance_is_refused(value):
    with pytest.raises(DrillInputError, match="row_count_tolerance_percent must be a number from 0 to 100"):
        parse_tolerance(value)


def test_the_shipped_sql_file_has_the_drills_queries():
    queries = parse_named_queries((PROJECT_ROOT / "include" / "sql" / "restore_checks.sql").read_text())
    assert set(queries) == {"table_counts", "newest_updated_at"}
    assert all(not q.rstrip().endswith(";") and "--" not in q.splitlines()[0] for q in queries.values())


@pytest.mark.parametrize("text,error", [
    ("-- name: table_counts\nSELECT 1", r"missing or empty: \['newest_updated_at'\]"),
    ("-- name: table_counts\nSELECT 1\n-- name: newest_updated_at\n", r"missing or empty: \['newest_updated_at'\]"),
    ("-- name: table_counts\nSELECT 1\n-- name: table_counts\nSELECT 2", (r"checks.sql:3: query 'table_counts' is "
                                                                         "defined twice")),
    ("SELECT 1", "missing or empty"),
])
def test_bad_sql_files_are_refused_with_line_and_name(text, error):
    with pytest.raises(DrillInputError, match=error):
        parse_named_queries(text, "checks.sql")


def test_query_results_are_read_strictly():
    assert read_table_counts([("public.a", 3), ("public.b", 0)]) == {"public.a": 3, "public.b": 0}
    with pytest.raises(DrillInputError, match="table_counts row 1"):
        read_table_counts([("public.a", "3")])
    assert read_newest_updated_at([(None,)]) is None
    assert read_newest_updated_at([(Decimal("1793620800.5"),)]) == dt.datetime(2026, 11, 2, 12, 0, 0, 500000,
                                                                                 tzinfo=dt.UTC)
    with pytest.raises(DrillInputError, match="one row with one column"):
        read_newest_updated_at([(1,), (2,)])


def test_report_is_deterministic_and_lists_every_database():
    a, fa = evaluate_drill(PLAN, outcome(db_id="b-db"), AS_OF, DAY)
    b, fb = evaluate_drill(PLAN, outcome(db_id="a-db", newest_updated_at=AS_OF - dt.timedelta(hours=2)), AS_OF, DAY)
    report = build_drill_report(PLAN, "Test", DAY, [a, b], fa + fb)
    assert [d["db_id"] for d in report["drills"]] == ["a-db", "b-db"]
    assert report["headline"]["databases_verified"]["value"] == "2/2"
    assert report["headline"]["worst_data_rpo_minutes"]["value"] == Decimal("115.0")
    assert canonical_json(report) == canonical_json(build_drill_report(PLAN, "Test", DAY, [b, a], fb + fa))


def test_long_source_ids_sharing_a_prefix_get_different_scratch_ids():
    when = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    prefix = "legacy-" + "a" * 43  # 50 characters
    first, second = prefix + "-orders-01", prefix + "-ledger-02"  # 60 characters each
    assert len(first) == len(second) == 60
    a, b = scratch_instance_id(first, when), scratch_instance_id(second, when)
    assert a != b
    for scratch in (a, b):
        assert len(scratch) <= 63 and RDS_ID.match(scratch), scratch


@given(ids=st.lists(st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,62}", fullmatch=True), min_size=2, max_size=6,
                    unique=True),
       prefix=st.from_regex(r"[a-z][a-z0-9]{40,55}", fullmatch=True))
def test_scratch_ids_are_distinct_for_distinct_sources_even_with_a_shared_long_prefix(ids, prefix):
    when = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    sources = {(prefix + "-" + i)[:63].rstrip("-") for i in ids} | set(ids)
    scratch = {scratch_instance_id(source, when) for source in sources}
    assert len(scratch) == len(sources)
    assert all(len(s) <= 63 and RDS_ID.match(s) for s in scratch), scratch


def _instance(source: str | None, run: str | None, purpose: str | None = "restore-drill") -> dict:
    tags = [{"Key": k, "Value": v} for k, v in (("estate-ops:purpose", purpose), ("estate-ops:drill-source", source),
                                                 ("estate-ops:drill-run", run)) if v is not None]
    return {"DBInstanceIdentifier": "drill-x-1234abcd-20261102120000", "TagList": tags}


def test_a_scratch_instance_is_adopted_only_when_its_tags_name_the_same_source_and_run():
    check_adoptable(_instance("legacy-prod-db", "run-1"), "legacy-prod-db", "run-1")
    with pytest.raises(ScratchInstanceConflict, match=r"not the drill of legacy-prod-db in run run-1.*"
                                                      r"estate-ops:drill-source='legacy-reports-db'"):
        check_adoptable(_instance("legacy-reports-db", "run-1"), "legacy-prod-db", "run-1")
    with pytest.raises(ScratchInstanceConflict, match="estate-ops:drill-run='run-0'"):
        check_adoptable(_instance("legacy-prod-db", "run-0"), "legacy-prod-db", "run-1")
    with pytest.raises(ScratchInstanceConflict, match="drill-x-1234abcd-20261102120000"):
        check_adoptable(_instance(None, None, purpose=None), "legacy-prod-db", "run-1")
