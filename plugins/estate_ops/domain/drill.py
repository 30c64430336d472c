"""Restore drills (plan §4.2: RPO < 1 h, RTO < 4 h), measured rather than hoped for.

Pure. The operators restore a scratch instance, wait for it, run `include/sql/restore_checks.sql`
against it and delete it; they hand over the timestamps and query results, and this module
decides:

- measured RTO  = from the restore request to verified data (`verified_at - requested_at`);
- data RPO      = restore target time - newest `updated_at` in the restored data;
- restore lag   = the run's as-of time - restore target time (how stale the restorable time was);
- row counts    within `tolerance_percent` of the counts recorded from the source at the request.

RTO >= the plan's RTO, or data RPO / restore lag >= the plan's RPO, is P1 (`rto_breach`,
`rpo_breach`); a step that failed is `restore_drill_failed`; data that does not match is
`restore_data_mismatch`. Findings are about `drill:<db_id>`, so they do not collide with the
daily verification's findings on the same database and day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from estate_ops.domain.findings import Finding, sort_findings
from estate_ops.domain.periods import utc

# default (the plan is silent): restored row counts may differ from the source counts recorded
# at the restore request by this much, since rows written after the restore target are not there.
DEFAULT_ROW_COUNT_TOLERANCE_PERCENT = Decimal(1)
DRILL_TAG_KEY = "estate-ops:purpose"
DRILL_TAG_VALUE = "restore-drill"
DRILL_RUN_TAG_KEY = "estate-ops:drill-run"
DRILL_SOURCE_TAG_KEY = "estate-ops:drill-source"
SCRATCH_PREFIX = "drill-"
SCRATCH_HASH_CHARS = 8  # hex digits of sha256(source id) in a scratch id
STEPS = ("restore", "wait", "verify", "teardown")


class DrillInputError(ValueError):
    """A drill asked for something that cannot be drilled (unknown database, bad tolerance...)."""


def scratch_instance_id(db_id: str, requested_for: dt.datetime) -> str:
    """A unique, valid RDS identifier for the drill of `db_id` in the run for `requested_for`.

    RDS identifiers: 1-63 letters, digits or hyphens, starting with a letter, no two consecutive
    hyphens, not ending with one. `drill-<db_id, cut to fit>-<hash>-<run time>`: the hash of the
    FULL source id keeps two long ids that share a prefix apart (their cut names would be equal),
    and the run's time makes it unique per run and stable across a task's retries (a retried
    restore finds its own instance instead of making a second one).
    """
    stamp = utc(requested_for).strftime("%Y%m%d%H%M%S")
    digest = hashlib.sha256(db_id.encode("utf-8")).hexdigest()[:SCRATCH_HASH_CHARS]
    base = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", f"{SCRATCH_PREFIX}{db_id}".lower())).strip("-")
    room = 63 - len(stamp) - len(digest) - 2
    return f"{base[:room].rstrip('-')}-{digest}-{stamp}"


class ScratchInstanceConflict(DrillInputError):
    """A scratch instance with the drill's id exists but is not this drill's (another database or run)."""


def check_adoptable(instance: dict[str, Any], db_id: str, run_tag: str) -> None:
    """An existing scratch instance (a retried restore) is adopted only if its drill tags name the
    same source database and run; anything else is a clear error naming both."""
    tags = {t.get("Key"): t.get("Value") for t in instance.get("TagList") or []}
    scratch_id = instance.get("DBInstanceIdentifier")
    found = (tags.get(DRILL_TAG_KEY), tags.get(DRILL_SOURCE_TAG_KEY), tags.get(DRILL_RUN_TAG_KEY))
    if found != (DRILL_TAG_VALUE, db_id, run_tag):
        raise ScratchInstanceConflict(
            f"scratch instance {scratch_id} already exists but is not the drill of {db_id} in run {run_tag}: "
            f"its tags say {DRILL_TAG_KEY}={found[0]!r}, source database {DRILL_SOURCE_TAG_KEY}={found[1]!r}, "
            f"run {DRILL_RUN_TAG_KEY}={found[2]!r}; not adopting it")


def is_drill_instance(instance: dict[str, Any]) -> bool:
    """Only instances both tagged as drills and named as scratch instances may ever be deleted."""
    tags = {t.get("Key"): t.get("Value") for t in instance.get("TagList") or []}
    return tags.get(DRILL_TAG_KEY) == DRILL_TAG_VALUE and \
        str(instance.get("DBInstanceIdentifier", "")).startswith(SCRATCH_PREFIX)


def leftover_drill_instances(instances: list[dict[str, Any]], current_run: str) -> list[str]:
    """Drill instances of other (earlier, crashed) runs: tagged as drills, not of `current_run`."""
    leftovers = []
    for instance in instances:
        if not is_drill_instance(instance):
            continue
        tags = {t.get("Key"): t.get("Value") for t in instance.get("TagList") or []}
        if tags.get(DRILL_RUN_TAG_KEY) != current_run and instance.get("DBInstanceStatus") != "deleting":
            leftovers.append(instance["DBInstanceIdentifier"])
    return sorted(leftovers)


def parse_tolerance(value: Any) -> Decimal:
    try:
        tolerance = Decimal(str(value))
    except ArithmeticError:
        raise DrillInputError(f"row_count_tolerance_percent must be a number from 0 to 100, got {value!r}") from None
    if not tolerance.is_finite() or not (0 <= tolerance <= 100):
        raise DrillInputError(f"row_count_tolerance_percent must be a number from 0 to 100, got {value!r}")
    return tolerance


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int | None
    restored_rows: int | None
    ok: bool
    detail: str


def compare_counts(source: dict[str, int], restored: dict[str, int], tolerance_percent: Decimal) -> list[TableCheck]:
    """Every source table must exist in the restore, its row count within the tolerance."""
    checks = []
    for table in sorted(set(source) | set(restored)):
        src, got = source.get(table), restored.get(table)
        if src is None:
            checks.append(TableCheck(table, None, got, True, "only in the restore (created after the source count)"))
        elif got is None:
            checks.append(TableCheck(table, src, None, False, "missing from the restored database"))
        else:
            allowed = Decimal(src) * tolerance_percent / 100
            diff = abs(Decimal(got) - Decimal(src))
            ok = diff <= allowed
            checks.append(TableCheck(table, src, got, ok,
                                     f"{got} rows vs {src} at the source" +
                                     ("" if ok else f": off by {diff}, more than {tolerance_percent} %")))
    return checks


@dataclass
class DrillOutcome:
    """Everything one database's drill measured, as plain data."""

    db_id: str
    scratch_id: str
    requested_at: dt.datetime | None = None  # restore request sent (wall clock)
    target_time: dt.datetime | None = None  # the point in time restored to
    available_at: dt.datetime | None = None
    verified_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None
    source_counts: dict[str, int] = field(default_factory=dict)
    restored_counts: dict[str, int] = field(default_factory=dict)
    newest_updated_at: dt.datetime | None = None
    errors: dict[str, str] = field(default_factory=dict)  # step -> error


def evaluate_drill(plan: Any, outcome: DrillOutcome, as_of: dt.datetime, day: dt.date,
                   tolerance_percent: Decimal = DEFAULT_ROW_COUNT_TOLERANCE_PERCENT) -> tuple[dict[str, Any], list[Finding]]:
    """One database's drill: its figures (JSON-able) and findings."""
    period, resource = day.isoformat(), f"drill:{outcome.db_id}"
    rto_limit = dt.timedelta(minutes=plan.recovery.rto_minutes)
    rpo_limit = dt.timedelta(minutes=plan.recovery.rpo_minutes)
    findings: list[Finding] = []

    def finding(kind: str, summary: str, **details: Any) -> None:
        findings.append(Finding.of(plan, kind, resource, summary, period, db_id=outcome.db_id,
                                   scratch_id=outcome.scratch_id, **details))

    for step in STEPS:
        if step in outcome.errors:
            finding("restore_drill_failed", f"restore drill of {outcome.db_id}: step {step} failed: "
                    f"{outcome.errors[step]}"[:500], step=step)

    def span(start: dt.datetime | None, end: dt.datetime | None) -> dt.timedelta | None:
        return utc(end) - utc(start) if start and end else None

    rto = span(outcome.requested_at, outcome.verified_at)
    data_rpo = span(outcome.newest_updated_at, outcome.target_time)
    lag = span(outcome.target_time, as_of)
    tables = compare_counts(outcome.source_counts, outcome.restored_counts, tolerance_percent) \
        if outcome.verified_at else []

    if rto is not None and rto >= rto_limit:
        finding("rto_breach", f"restore drill of {outcome.db_id}: measured RTO {_hm(rto)} "
                f"(RTO < {plan.recovery.rto_minutes} min)", rto_seconds=int(rto.total_seconds()))
    if data_rpo is not None and data_rpo >= rpo_limit:
        finding("rpo_breach", f"restore drill of {outcome.db_id}: newest restored row is {_hm(data_rpo)} older "
                f"than the restore target (RPO < {plan.recovery.rpo_minutes} min)",
                data_rpo_seconds=int(data_rpo.total_seconds()))
    elif lag is not None and lag >= rpo_limit:
        finding("rpo_breach", f"restore drill of {outcome.db_id}: could only restore to {_hm(lag)} ago "
                f"(RPO < {plan.recovery.rpo_minutes} min)", restore_lag_seconds=int(lag.total_seconds()))
    if outcome.verified_at and outcome.newest_updated_at is None:
        finding("restore_data_mismatch", f"restore drill of {outcome.db_id}: no updated_at value in the restored "
                "data, data RPO cannot be measured")
    bad = [t for t in tables if not t.ok]
    if bad:
        finding("restore_data_mismatch", f"restore drill of {outcome.db_id}: " +
                "; ".join(f"{t.table}: {t.detail}" for t in bad)[:400], tables=[t.table for t in bad])

    verified = bool(outcome.verified_at) and not bad and not outcome.errors.keys() - {"teardown"}
    figures = {
        "db_id": outcome.db_id,
        "scratch_id": outcome.scratch_id,
        "status": "verified" if verified else "failed",
        "requested_at": outcome.requested_at,
        "target_time": outcome.target_time,
        "available_at": outcome.available_at,
        "verified_at": outcome.verified_at,
        "deleted_at": outcome.deleted_at,
        "rto_seconds": int(rto.total_seconds()) if rto is not None else None,
        "data_rpo_seconds": int(data_rpo.total_seconds()) if data_rpo is not None else None,
        "restore_lag_seconds": int(lag.total_seconds()) if lag is not None else None,
        "newest_updated_at": outcome.newest_updated_at,
        "steps": {
            "restore_seconds": _seconds(span(outcome.requested_at, outcome.available_at)),
            "verify_seconds": _seconds(span(outcome.available_at, outcome.verified_at)),
            "teardown_seconds": _seconds(span(outcome.verified_at, outcome.deleted_at)),
        },
        "tables": [t.__dict__ for t in tables],
        "errors": dict(sorted(outcome.errors.items())),
        "row_count_tolerance_percent": tolerance_percent,
    }
    return figures, sort_findings(findings)


def _seconds(delta: dt.timedelta | None) -> float | None:
    return round(delta.total_seconds(), 3) if delta is not None else None


def _hm(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def build_drill_report(plan: Any, estate_name: str, day: dt.date, drills: list[dict[str, Any]],
                       findings: list[Finding]) -> dict[str, Any]:
    """`backups/drills/YYYY-MM-DD/drill.json`: every database drilled that day."""
    ordered = sorted(drills, key=lambda d: d["db_id"])
    rtos = [d["rto_seconds"] for d in ordered if d["rto_seconds"] is not None]
    rpos = [d["data_rpo_seconds"] for d in ordered if d["data_rpo_seconds"] is not None]
    findings = sort_findings(findings)
    return {
        "kind": "drill",
        "title": f"Restore drill — {estate_name}",
        "period": {"date": day.isoformat()},
        "plan_version": plan.plan.version,
        "headline": {
            "databases_verified": {"value": f"{sum(d['status'] == 'verified' for d in ordered)}/{len(ordered)}",
                                   "unit": "databases"},
            "worst_rto_minutes": {"value": _minutes_text(max(rtos)) if rtos else None, "unit": "min"},
            "worst_data_rpo_minutes": {"value": _minutes_text(max(rpos)) if rpos else None, "unit": "min"},
        },
        "inputs": {"databases": len(ordered)},
        "figures": {
            "rto_target_minutes": {"value": plan.recovery.rto_minutes, "unit": "min"},
            "rpo_target_minutes": {"value": plan.recovery.rpo_minutes, "unit": "min"},
        },
        "items": {
            "drills": [{k: d[k] for k in ("db_id", "status", "scratch_id", "requested_at", "verified_at",
                                          "rto_seconds", "data_rpo_seconds", "restore_lag_seconds")}
                       for d in ordered],
            "tables": [{"db_id": d["db_id"], **t} for d in ordered for t in d["tables"]],
        },
        "drills": ordered,
        "findings": [f.as_dict() for f in findings],
        "warnings": [],
    }


def _minutes_text(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(Decimal("0.1"))


# --------------------------------------------------------------------------- the SQL checks

REQUIRED_QUERIES = ("table_counts", "newest_updated_at")
_NAME_LINE = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


def parse_named_queries(text: str, source: str = "restore_checks.sql") -> dict[str, str]:
    """`-- name: x` sections of a SQL file -> {x: sql}; the drill's queries must all be there."""
    queries: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _NAME_LINE.match(line.strip())
        if match:
            current = match.group(1)
            if current in queries:
                raise DrillInputError(f"{source}:{number}: query {current!r} is defined twice")
            queries[current] = []
        elif current is not None and line.strip() and not line.strip().startswith("--"):
            queries[current].append(line)
    sql = {name: "\n".join(lines).strip().rstrip(";").strip() for name, lines in queries.items()}
    missing = [name for name in REQUIRED_QUERIES if not sql.get(name)]
    if missing:
        raise DrillInputError(f"{source}: expected queries {list(REQUIRED_QUERIES)} as `-- name: <name>` sections, "
                              f"missing or empty: {missing}")
    return sql


def read_table_counts(rows: list[tuple]) -> dict[str, int]:
    """Rows of `table_counts` -> {table: rows}; anything else is a clear error."""
    counts: dict[str, int] = {}
    for i, row in enumerate(rows, start=1):
        if len(row) != 2 or not isinstance(row[0], str) or isinstance(row[1], bool) or not isinstance(row[1], int):
            raise DrillInputError(f"restore_checks.sql table_counts row {i}: expected (table_name text, row_count "
                                  f"bigint), got {row!r}")
        counts[row[0]] = int(row[1])
    return counts


def read_newest_updated_at(rows: list[tuple]) -> dt.datetime | None:
    """The single value of `newest_updated_at` (epoch seconds, or NULL) as an aware UTC datetime."""
    if len(rows) != 1 or len(rows[0]) != 1:
        raise DrillInputError(f"restore_checks.sql newest_updated_at: expected one row with one column "
                              f"(newest_epoch), got {rows!r}")
    value = rows[0][0]
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        raise DrillInputError(f"restore_checks.sql newest_updated_at: expected epoch seconds, got {value!r}") from None
