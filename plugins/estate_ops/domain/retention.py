"""Retention pruning (plan §4.1): which snapshots may go, which must stay and why, the gate in front
of every deletion, the document guard, and the audit trail. Pure: no Airflow, boto3 or network.

Pruning is the one job that destroys data, so every rule here errs towards keeping:
- only manual, available snapshots of a database named in estate.yaml, older than the retention
  period counted from the start of the run's UTC day, are candidates;
- the newest N manual snapshots of each database, snapshots carrying a protect tag, the final
  snapshot of a database that no longer exists (unless the plan allows it), automated snapshots
  (AWS expires them) and AWS Backup snapshots (never ours) are protected, each with its reason;
- the plan does not depend on how AWS lists: a snapshot listed twice (overlapping pages, retries)
  is one snapshot, protected when any copy carries a protect tag, and kept when its copies disagree
  on anything else; a protect tag matches whatever its case, surrounding space or separators
  (`legal-hold`, `Legal_Hold`, `legal hold` and `LegalHold` are one tag);
- a database whose latest backup verification is missing, not green or stale is refused;
- a run that would delete more than a cap deletes nothing unless a person confirmed it;
- any planned action that touches a document bucket or its replica aborts the whole run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from estate_ops.domain.serialize import json_data

UTC = dt.UTC

# Why a snapshot is kept. Order = the order reasons are listed in.
PROTECTIONS: dict[str, str] = {
    "aws_backup": "managed by AWS Backup: never deleted by estate-ops",
    "automated": "automated snapshot: AWS expires it by the backup retention period",
    "not_manual": "not a manual snapshot of this account",
    "outside_estate": "its database is not named in estate.yaml",
    "listed_inconsistently": "listed more than once with different details: kept until the listings agree",
    "protect_tag": "carries a protect tag",
    "final_snapshot": "final snapshot of a database that no longer exists",
    "newest_n": "one of the newest manual snapshots of its database",
    "not_available": "not in the available state",
    "within_retention": "younger than the retention period",
}
CANDIDATE = "older_than_retention"

# Results an action can have in the audit trail.
RESULT_DELETED = "deleted"
RESULT_ALREADY_GONE = "already_gone"
RESULT_APPLIED = "applied"
RESULT_FAILED = "failed"
TERMINAL_RESULTS = frozenset({RESULT_DELETED, RESULT_ALREADY_GONE, RESULT_APPLIED})

LIFECYCLE_RULE_ID = "estate-ops-log-archive-expiry"


class RetentionInputError(ValueError):
    """Input to pruning (a param, a status object, a policy) is not what it must be."""


class DocumentGuardError(RuntimeError):
    """A planned action would touch a document bucket or its replica: the whole run stops."""


# --------------------------------------------------------------------------- policy


# What separates the words of a tag name: `-`, `_`, any space, and the dashes a word processor puts in.
_TAG_SEPARATORS = re.compile(r"[-_\s\u2010-\u2015\u2212]+")


def protect_tag_key(name: str) -> str:
    """A tag name as protect tags are compared: `legal-hold`, ` Legal_Hold `, `legal hold` and
    `LegalHold` are all `legalhold`. Errs towards matching: full-width letters and invisible
    characters (zero-width spaces) do not make a tag another tag."""
    text = unicodedata.normalize("NFKC", str(name))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _TAG_SEPARATORS.sub("", text).casefold()


@dataclass(frozen=True)
class PruningPolicy:
    retention_days: int
    keep_newest: int
    protect_tags: tuple[str, ...]
    delete_final_snapshots: bool
    max_deletions_per_run: int
    max_fraction_per_database: Decimal
    verification_max_age_hours: int
    log_retention_days: int = 365

    def __post_init__(self) -> None:
        tags = tuple(t.strip().lower() for t in self.protect_tags)
        if not tags or any(not protect_tag_key(t) for t in tags):
            raise RetentionInputError(
                "plan.yaml retention_pruning.protect_tags: expected at least one non-blank tag name, none of only "
                f"separators (e.g. [legal-hold, keep]), got {list(self.protect_tags)!r}: without it no legal hold "
                "is honoured")
        if self.retention_days < 1:
            raise RetentionInputError(f"retention_days must be at least 1, got {self.retention_days}")
        if self.keep_newest < 0 or self.max_deletions_per_run < 0:
            raise RetentionInputError("keep_newest and max_deletions_per_run must not be negative")
        if not Decimal(0) <= Decimal(self.max_fraction_per_database) <= Decimal(1):
            raise RetentionInputError(f"max_fraction_per_database must be 0..1, got {self.max_fraction_per_database}")
        object.__setattr__(self, "protect_tags", tags)
        object.__setattr__(self, "max_fraction_per_database", Decimal(self.max_fraction_per_database))

    @classmethod
    def from_plan(cls, plan: Any) -> PruningPolicy:
        rp = plan.retention_pruning
        return cls(
            retention_days=plan.backups.database.retention_days,
            keep_newest=rp.keep_newest_manual_snapshots,
            protect_tags=tuple(rp.protect_tags),
            delete_final_snapshots=rp.delete_final_snapshots_of_deleted_databases,
            max_deletions_per_run=rp.max_deletions_per_run,
            max_fraction_per_database=rp.max_fraction_per_database,
            verification_max_age_hours=rp.verification_max_age_hours,
            log_retention_days=plan.backups.logs.retention_days,
        )

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "protect_tags": list(self.protect_tags)}

    @property
    def protect_keys(self) -> frozenset[str]:
        """The protect tags as tag names are compared (protect_tag_key)."""
        return frozenset(protect_tag_key(t) for t in self.protect_tags)


def cutoff_for(day: dt.date, retention_days: int) -> dt.datetime:
    """Snapshots created before this instant are past retention on `day`.

    Ages count from the start of the run's UTC day, so every run of a day plans alike and
    anything planned is older than the retention period whenever in the day it is deleted.
    """
    return dt.datetime.combine(day, dt.time(), tzinfo=UTC) - dt.timedelta(days=retention_days)


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    db_id: str
    snapshot_type: str  # manual | automated | awsbackup | shared | public
    status: str
    created_at: dt.datetime | None  # None while it is being created
    arn: str = ""
    allocated_gib: int | None = None
    tags: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.created_at is not None and self.created_at.utcoffset() is None:
            raise RetentionInputError(f"snapshot {self.snapshot_id}: created_at must be timezone-aware")
        object.__setattr__(self, "tags", tuple(sorted((str(k), str(v)) for k, v in self.tags)))

    @classmethod
    def from_aws(cls, item: Mapping[str, Any]) -> Snapshot:
        """From one DescribeDBSnapshots record."""
        try:
            created = item.get("SnapshotCreateTime")
            if isinstance(created, str):
                created = dt.datetime.fromisoformat(created)
            return cls(
                snapshot_id=item["DBSnapshotIdentifier"],
                db_id=item["DBInstanceIdentifier"],
                snapshot_type=str(item.get("SnapshotType") or "unknown"),
                status=str(item.get("Status") or "unknown"),
                created_at=created.astimezone(UTC) if created else None,
                arn=item.get("DBSnapshotArn", ""),
                allocated_gib=item.get("AllocatedStorage"),
                tags=tuple((t["Key"], t.get("Value", "")) for t in item.get("TagList") or []),
            )
        except KeyError as exc:
            raise RetentionInputError(f"DescribeDBSnapshots record without {exc.args[0]}: {dict(item)!r}") from None

    @property
    def is_aws_backup(self) -> bool:
        # AWS Backup's snapshots have SnapshotType "awsbackup" and ids "awsbackup:job-...".
        return self.snapshot_type == "awsbackup" or self.snapshot_id.startswith("awsbackup:")

    def as_dict(self) -> dict[str, Any]:
        return {"snapshot_id": self.snapshot_id, "db_id": self.db_id, "snapshot_type": self.snapshot_type,
                "status": self.status, "created_at": self.created_at, "arn": self.arn,
                "allocated_gib": self.allocated_gib, "tags": {k: v for k, v in self.tags}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        created = data.get("created_at")
        if isinstance(created, str):
            created = dt.datetime.fromisoformat(created)
        return cls(
            snapshot_id=data["snapshot_id"], db_id=data["db_id"], snapshot_type=data["snapshot_type"],
            status=data["status"],
            created_at=created or None,
            arn=data.get("arn", ""), allocated_gib=data.get("allocated_gib"),
            tags=tuple((data.get("tags") or {}).items()),
        )


@dataclass(frozen=True)
class SnapshotDecision:
    snapshot: Snapshot
    delete: bool
    reasons: tuple[str, ...]  # CANDIDATE, or the PROTECTIONS that keep it
    why: str  # one line a person can read

    def as_dict(self) -> dict[str, Any]:
        return {**self.snapshot.as_dict(), "action": "delete" if self.delete else "keep",
                "reasons": list(self.reasons), "why": self.why}


def _order(s: Snapshot) -> tuple:
    # Newest first; a snapshot still being created (no time yet) is the newest of all.
    created = s.created_at or dt.datetime.max.replace(tzinfo=UTC)
    return (-created.timestamp(), s.snapshot_id)


def _copy_order(s: Snapshot) -> tuple:
    # A total order on a snapshot's copies that ignores the order they were listed in.
    return (s.db_id, s.snapshot_type, s.status, s.created_at is None, s.created_at or dt.datetime.min.replace(tzinfo=UTC),
            s.arn, s.allocated_gib is None, s.allocated_gib or 0, s.tags)


def merge_listings(snapshots: Iterable[Snapshot]) -> tuple[dict[str, Snapshot], set[str]]:
    """One snapshot per id, whatever the order and however often AWS listed it.

    Copies of one snapshot (overlapping pages, a retried page) merge: their tags are all kept, so a
    protect tag on any copy protects it. Copies that disagree on anything but tags are kept as the
    first copy in a fixed order, and their id is returned among the inconsistent: such a snapshot is
    never deleted on this listing's word.
    """
    copies: dict[str, list[Snapshot]] = defaultdict(list)
    for s in snapshots:
        copies[s.snapshot_id].append(s)
    unique: dict[str, Snapshot] = {}
    inconsistent: set[str] = set()
    for snapshot_id in sorted(copies):
        group = sorted(copies[snapshot_id], key=_copy_order)
        first = group[0]
        if any(dataclasses.replace(c, tags=()) != dataclasses.replace(first, tags=()) for c in group[1:]):
            inconsistent.add(snapshot_id)
        # The tags of every copy, once each and sorted, even for a single copy: a snapshot listed
        # once and twice then reads the same.
        tags = tuple(sorted({tag for c in group for tag in c.tags}))
        unique[snapshot_id] = dataclasses.replace(first, tags=tags)
    return unique, inconsistent


def plan_snapshots(snapshots: Iterable[Snapshot], *, estate_db_ids: Iterable[str], existing_db_ids: Iterable[str],
                   day: dt.date, policy: PruningPolicy) -> list[SnapshotDecision]:
    """One decision per snapshot, sorted by database, then oldest first, then id.

    `existing_db_ids` are the database instances that exist now: a database of the estate that is
    not among them has been deleted, and its newest manual snapshot is its final snapshot.
    The result does not depend on the order of `snapshots`, nor on a snapshot being listed more than
    once (merge_listings).
    """
    estate = set(estate_db_ids)
    existing = set(existing_db_ids)
    cutoff = cutoff_for(day, policy.retention_days)
    unique, inconsistent = merge_listings(snapshots)
    protect_keys = policy.protect_keys
    manual_by_db: dict[str, list[Snapshot]] = defaultdict(list)
    for s in unique.values():
        if s.snapshot_type == "manual" and not s.is_aws_backup:
            manual_by_db[s.db_id].append(s)
    newest: set[str] = set()
    final: set[str] = set()
    for db_id, group in manual_by_db.items():
        group.sort(key=_order)
        newest.update(s.snapshot_id for s in group[:policy.keep_newest])
        if db_id not in existing and group:
            final.add(group[0].snapshot_id)

    decisions: list[SnapshotDecision] = []
    for s in unique.values():
        reasons: list[str] = []
        if s.is_aws_backup:
            reasons.append("aws_backup")
        elif s.snapshot_type == "automated":
            reasons.append("automated")
        elif s.snapshot_type != "manual":
            reasons.append("not_manual")
        if s.db_id not in estate:
            reasons.append("outside_estate")
        if s.snapshot_id in inconsistent:
            reasons.append("listed_inconsistently")
        protect = sorted({k for k, _v in s.tags if protect_tag_key(k) in protect_keys})
        if protect:
            reasons.append("protect_tag")
        if s.snapshot_id in final and not policy.delete_final_snapshots:
            reasons.append("final_snapshot")
        if s.snapshot_id in newest:
            reasons.append("newest_n")
        if s.status != "available" or s.created_at is None:
            reasons.append("not_available")
        if s.created_at is None or s.created_at >= cutoff:
            reasons.append("within_retention")
        if reasons:
            why = "; ".join(_protection_text(r, s, policy, protect) for r in reasons)
            decisions.append(SnapshotDecision(s, False, tuple(reasons), why))
        else:
            age_days = (cutoff_for(day, 0) - s.created_at).days
            why = (f"manual snapshot created {s.created_at:%Y-%m-%d %H:%M} UTC, {age_days} days old on {day}: "
                   f"past the {policy.retention_days}-day retention, not among the newest {policy.keep_newest}, "
                   f"no protect tag")
            decisions.append(SnapshotDecision(s, True, (CANDIDATE,), why))
    decisions.sort(key=lambda d: (d.snapshot.db_id, -_order(d.snapshot)[0], d.snapshot.snapshot_id))
    return decisions


def _protection_text(reason: str, s: Snapshot, policy: PruningPolicy, tags: list[str]) -> str:
    if reason == "protect_tag":
        return f"tagged {', '.join(tags)}"
    if reason == "newest_n":
        return f"one of the newest {policy.keep_newest} manual snapshots of {s.db_id}"
    if reason == "final_snapshot":
        return f"final snapshot of {s.db_id}, which no longer exists (plan keeps final snapshots)"
    if reason == "not_available":
        return f"status {s.status!r}, not available"
    if reason == "within_retention":
        return f"younger than {policy.retention_days} days"
    return PROTECTIONS[reason]


def select_databases(estate_db_ids: list[str], filter_text: str | None) -> list[str]:
    """The estate's databases a run covers: all, or those matching the form's filter.

    The filter is a comma-separated list of database ids or shell-style patterns (`legacy-*`).
    A filter that matches nothing is an error, never "nothing to do".
    """
    import fnmatch

    if filter_text is None or not str(filter_text).strip():
        return sorted(estate_db_ids)
    patterns = [p.strip() for p in str(filter_text).split(",") if p.strip()]
    chosen = sorted({db for db in estate_db_ids for p in patterns if fnmatch.fnmatchcase(db, p)})
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(db, p) for db in estate_db_ids)]
    if not chosen or unmatched:
        raise RetentionInputError(
            f"param databases: {', '.join(map(repr, unmatched or patterns))} matches no database in estate.yaml; "
            f"expected ids or patterns among {sorted(estate_db_ids)}")
    return chosen


# --------------------------------------------------------------------------- logs and the log archive


@dataclass(frozen=True)
class PlannedAction:
    """A change pruning intends to make. `touches` are the AWS resources (names/ARNs) it changes."""

    kind: str  # delete_db_snapshot | put_log_retention | ensure_bucket_lifecycle
    target: str
    why: str
    db_id: str | None = None
    touches: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def action_id(self) -> str:
        return action_id(self.kind, self.target)

    def as_dict(self) -> dict[str, Any]:
        return {"action_id": self.action_id, "kind": self.kind, "target": self.target, "db_id": self.db_id,
                "why": self.why, "touches": list(self.touches), "details": self.details}


_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def action_id(kind: str, target: str) -> str:
    """A stable, key-safe id for an action on a target (the same deletion always has the same id)."""
    return f"{kind}~{_UNSAFE.sub('_', target).strip('_')}"


def snapshot_action(decision: SnapshotDecision) -> PlannedAction:
    s = decision.snapshot
    # The snapshot itself is in the plan's entry; the action stays small (10,000 of them in a plan).
    return PlannedAction("delete_db_snapshot", s.snapshot_id, decision.why, db_id=s.db_id,
                         touches=tuple(t for t in (s.arn, f"rds-snapshot:{s.snapshot_id}") if t))


def plan_log_retention(groups: Iterable[Mapping[str, Any]], days: int) -> tuple[list[PlannedAction], list[dict]]:
    """PutRetentionPolicy for each log group whose retention is missing or not `days`."""
    actions, seen = [], []
    for g in sorted(groups, key=lambda g: g["logGroupName"]):
        name, current = g["logGroupName"], g.get("retentionInDays")
        ok = current == days
        seen.append({"log_group": name, "retention_days": current, "action": "none" if ok else "set"})
        if not ok:
            was = "no retention (kept forever)" if current is None else f"retention {current} days"
            actions.append(PlannedAction("put_log_retention", name, f"{was}; the plan keeps logs {days} days",
                                         touches=(f"logs:{name}",), details={"from": current, "to": days}))
    return actions, seen


def _whole_bucket(rule: Mapping[str, Any]) -> bool:
    flt = rule.get("Filter")
    if flt is None:
        return not rule.get("Prefix")
    return flt == {} or flt == {"Prefix": ""}


def plan_lifecycle(bucket: str, rules: list[Mapping[str, Any]], days: int) -> tuple[PlannedAction | None, list[str]]:
    """Ensure an enabled whole-bucket rule expiring objects at `days`; other rules are kept as they are.

    Returns the action (None when such a rule exists) and warnings (e.g. another rule expiring
    logs sooner than the plan says).
    """
    warnings = []
    for rule in rules:
        exp = (rule.get("Expiration") or {}).get("Days")
        if rule.get("Status") == "Enabled" and _whole_bucket(rule) and exp is not None and exp < days \
                and rule.get("ID") != LIFECYCLE_RULE_ID:
            warnings.append(f"s3://{bucket}: lifecycle rule {rule.get('ID')!r} expires objects after {exp} days, "
                            f"sooner than the plan's {days}: left as it is, review it")
    satisfied = any(r.get("Status") == "Enabled" and _whole_bucket(r) and (r.get("Expiration") or {}).get("Days") == days
                    for r in rules)
    if satisfied:
        return None, warnings
    ours = {"ID": LIFECYCLE_RULE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
            "Expiration": {"Days": days}, "NoncurrentVersionExpiration": {"NoncurrentDays": days}}
    merged = [dict(r) for r in rules if r.get("ID") != LIFECYCLE_RULE_ID] + [ours]
    why = (f"no enabled lifecycle rule expires the whole bucket at {days} days "
           f"({len(rules)} rule(s) now); logs are kept one year, expired by S3 rather than one by one")
    return PlannedAction("ensure_bucket_lifecycle", bucket, why, touches=(bucket, f"arn:aws:s3:::{bucket}"),
                         details={"rule": ours, "rules": merged}), warnings


# --------------------------------------------------------------------------- document guard


def document_guard(actions: Iterable[PlannedAction], documents: Iterable[tuple[str, str]]) -> None:
    """Raise DocumentGuardError when any action touches a document bucket or its replica.

    Called on the whole plan before anything is changed: one offending action stops every action.
    """
    protected = set()
    for bucket, replica in documents:
        protected.update(b.lower() for b in (bucket, replica) if b)
    offending = []
    for action in actions:
        for touched in (action.target, *action.touches):
            name = str(touched).lower()
            if name.startswith("arn:aws:s3:::"):
                name = name[len("arn:aws:s3:::"):].split("/", 1)[0]
            elif name.startswith("s3://"):
                name = name[5:].split("/", 1)[0]
            if name in protected:
                offending.append(f"{action.kind} {action.target} (touches {touched})")
                break
    if offending:
        raise DocumentGuardError(
            "retention pruning aborted before any change: documents are kept indefinitely (plan §4.1) but "
            f"{len(offending)} planned action(s) touch a document bucket or replica: {'; '.join(offending)}. "
            "Check estate.yaml (logs.archive_bucket must not be a document bucket).")


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class VerificationStatus:
    db_id: str
    verified_at: dt.datetime
    green: bool
    findings: tuple[str, ...] = ()


def parse_verification_status(db_id: str, data: Any, where: str) -> VerificationStatus:
    """The object backup_verification writes at backups/status/<db_id>.json, checked field by field."""
    if not isinstance(data, Mapping):
        raise RetentionInputError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if data.get("db_id") != db_id:
        raise RetentionInputError(f"{where}: db_id is {data.get('db_id')!r}, expected {db_id!r}")
    if not isinstance(data.get("green"), bool):
        raise RetentionInputError(f"{where}: green must be true or false, got {data.get('green')!r}")
    try:
        verified = dt.datetime.fromisoformat(str(data["verified_at"]))
    except (KeyError, ValueError):
        raise RetentionInputError(f"{where}: verified_at must be an ISO 8601 time with offset, "
                                  f"got {data.get('verified_at')!r}") from None
    if verified.utcoffset() is None:
        raise RetentionInputError(f"{where}: verified_at {data['verified_at']!r} has no time zone")
    findings = tuple(str(f.get("summary", f)) if isinstance(f, Mapping) else str(f) for f in data.get("findings") or [])
    return VerificationStatus(db_id, verified.astimezone(UTC), data["green"], findings)


def verification_refusal(db_id: str, status: VerificationStatus | str | None, now: dt.datetime,
                         max_age_hours: int) -> str | None:
    """Why deletions for `db_id` are refused, or None when its backups are verified and fresh.

    `status` is the parsed status, None when none exists, or the error text when it is unreadable.
    """
    if status is None:
        return f"{db_id}: no backup verification status (backups/status/{db_id}.json): run backup_verification first"
    if isinstance(status, str):
        return f"{db_id}: backup verification status unreadable: {status}"
    age = now - status.verified_at
    if not status.green:
        why = "; ".join(status.findings[:3]) or "no detail"
        return f"{db_id}: latest backup verification ({status.verified_at:%Y-%m-%d %H:%M} UTC) is not green: {why}"
    if age > dt.timedelta(hours=max_age_hours):
        return (f"{db_id}: latest backup verification is {age.total_seconds() / 3600:.1f} h old "
                f"({status.verified_at:%Y-%m-%d %H:%M} UTC), older than {max_age_hours} h")
    return None


@dataclass(frozen=True)
class GateResult:
    approved: dict[str, list[SnapshotDecision]]  # db_id -> deletions allowed (the day's, done or not)
    refused: dict[str, str]  # db_id -> why (verification)
    cap_breaches: list[str]  # why, one per cap exceeded
    over_cap_confirmed: bool
    held_by_cap: bool  # over a cap, not confirmed, and something left to delete: nothing is deleted

    def as_dict(self) -> dict[str, Any]:
        return {"approved": {db: [d.snapshot.snapshot_id for d in ds] for db, ds in sorted(self.approved.items())},
                "refused": dict(sorted(self.refused.items())), "cap_breaches": list(self.cap_breaches),
                "over_cap_confirmed": self.over_cap_confirmed, "held_by_cap": self.held_by_cap}


def gate(decisions: Iterable[SnapshotDecision], refusals: Mapping[str, str | None], policy: PruningPolicy, *,
         confirm_over_cap: bool, done: Iterable[str] = ()) -> GateResult:
    """Which candidates may be deleted this run.

    A database with a verification refusal is skipped whole. Caps are judged on what would be
    deleted after that: more than `max_deletions_per_run` in total, or more than
    `max_fraction_per_database` of a database's manual snapshots, holds back every deletion of the
    run unless `confirm_over_cap` (a person, in a manual run) says to go ahead.

    `decisions` are the day's (an earlier run may have deleted some: their ids are `done`), so a
    rerun judges the caps as the first run did; with nothing left to delete nothing is held.
    """
    decisions = list(decisions)
    manual = Counter(d.snapshot.db_id for d in decisions
                     if d.snapshot.snapshot_type == "manual" and not d.snapshot.is_aws_backup)
    wanted: dict[str, list[SnapshotDecision]] = defaultdict(list)
    for d in decisions:
        if d.delete:
            wanted[d.snapshot.db_id].append(d)
    refused = {db: why for db, why in refusals.items() if why and db in wanted}
    approved = {db: ds for db, ds in wanted.items() if db not in refused}
    breaches = []
    total = sum(len(ds) for ds in approved.values())
    if total > policy.max_deletions_per_run:
        breaches.append(f"{total} deletions exceed the cap of {policy.max_deletions_per_run} per run")
    for db, ds in sorted(approved.items()):
        if Decimal(len(ds)) > policy.max_fraction_per_database * manual[db]:
            share = (Decimal(len(ds)) * 100 / manual[db]).quantize(Decimal("0.1"))
            breaches.append(f"{db}: {len(ds)} of its {manual[db]} manual snapshots ({share} %) exceed the cap of "
                            f"{_percent(policy.max_fraction_per_database)} % per database")
    confirmed = bool(breaches) and confirm_over_cap
    finished = set(done)
    pending = any(d.snapshot.snapshot_id not in finished for ds in approved.values() for d in ds)
    held = bool(breaches) and not confirmed and pending
    if held:
        approved = {}
    return GateResult({db: ds for db, ds in sorted(approved.items())}, dict(sorted(refused.items())),
                      breaches, confirmed, held)


def _percent(fraction: Decimal) -> str:
    return format((fraction * 100).normalize(), "f")


# --------------------------------------------------------------------------- the audit trail


def audit_record(action: Mapping[str, Any], result: str, at: dt.datetime, detail: str, run_id: str) -> dict[str, Any]:
    """One line of retention/audit/YYYY-MM-DD.jsonl: what, why, when, result."""
    if at.utcoffset() is None:
        raise RetentionInputError("audit time must be timezone-aware")
    return {"action_id": action["action_id"], "kind": action["kind"], "target": action["target"],
            "db_id": action.get("db_id"), "why": action["why"], "at": at.astimezone(UTC), "result": result,
            "detail": detail, "run_id": run_id}


def audit_jsonl(records: Iterable[Mapping[str, Any]]) -> bytes:
    """The day's JSONL: one canonical JSON object per line, in time order (stable for equal times)."""
    lines = []
    for rec in sorted(records, key=lambda r: (str(r.get("at")), r["action_id"], r["result"])):
        lines.append(json.dumps(json_data(rec), sort_keys=True, ensure_ascii=False,
                                separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


# --------------------------------------------------------------------------- the report


def build_report(plan_doc: Mapping[str, Any], records: list[Mapping[str, Any]], findings: list[Any], *,
                 plan_version: str, estate_name: str) -> dict[str, Any]:
    """The day's report: the plan's protections and refusals, and the audit's results.

    Built from plan.json and the day's audit records only, so a rerun that changes nothing
    produces the same bytes.
    """
    day = plan_doc["day"]
    latest: dict[str, Mapping[str, Any]] = {}
    for rec in sorted(records, key=lambda r: (str(r["at"]), r["result"] in TERMINAL_RESULTS)):
        prev = latest.get(rec["action_id"])
        if prev is None or prev["result"] not in TERMINAL_RESULTS:
            latest[rec["action_id"]] = rec
    by_result: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for rec in latest.values():
        by_result[rec["result"]].append(rec)
    snapshots = {s["snapshot_id"]: s for s in plan_doc.get("snapshots", [])}
    deleted = sorted((r for r in by_result[RESULT_DELETED] if r["kind"] == "delete_db_snapshot"),
                     key=lambda r: r["target"])
    gib = [snapshots.get(r["target"], {}).get("allocated_gib") for r in deleted]
    protected_by = Counter(reason for s in plan_doc.get("snapshots", []) if s["action"] == "keep"
                           for reason in s["reasons"])

    def rows(results: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{"kind": r["kind"], "target": r["target"], "db_id": r.get("db_id"), "at": r["at"],
                 "detail": r["detail"]} for r in sorted(results, key=lambda r: (r["kind"], r["target"]))]

    gate_doc = plan_doc.get("gate", {})
    return {
        "kind": "retention",
        "title": f"Retention pruning — {estate_name}",
        "period": {"date": day},
        "plan_version": plan_version,
        "headline": {
            "snapshots_deleted": {"value": len(deleted), "unit": "snapshots"},
            "snapshots_protected": {"value": sum(1 for s in plan_doc.get("snapshots", []) if s["action"] == "keep"),
                                    "unit": "snapshots"},
            "databases_refused": {"value": len(gate_doc.get("refused", {})), "unit": "databases"},
            "actions_failed": {"value": len(by_result[RESULT_FAILED]), "unit": "actions"},
        },
        "inputs": {"snapshots_listed": len(plan_doc.get("snapshots", [])),
                   "databases_in_scope": len(plan_doc.get("scope", {}).get("databases", [])),
                   "log_groups_listed": len(plan_doc.get("log_groups", []))},
        "figures": {
            "candidates": {"value": sum(1 for s in plan_doc.get("snapshots", []) if s["action"] == "delete"),
                           "unit": "snapshots"},
            "already_gone": {"value": len(by_result[RESULT_ALREADY_GONE]), "unit": "actions"},
            "changes_applied": {"value": len(by_result[RESULT_APPLIED]), "unit": "actions"},
            # RDS snapshots are incremental and their size is not published: the allocated storage of
            # the deleted snapshots is an upper bound, not bytes freed.
            "allocated_storage_of_deleted": {"value": sum(g for g in gib if g) if any(gib) else None,
                                             "unit": "GiB (upper bound; bytes freed unknown)"},
            **{f"protected_{reason}": {"value": n, "unit": "snapshots"}
               for reason, n in sorted(protected_by.items())},
        },
        "items": {
            "deleted": rows(deleted),
            "already_gone": rows(by_result[RESULT_ALREADY_GONE]),
            "failed": rows(by_result[RESULT_FAILED]),
            "not_attempted": rows(by_result["not_attempted"]),
            "applied": rows(by_result[RESULT_APPLIED]),
            "refused": [{"db_id": db, "why": why} for db, why in sorted(gate_doc.get("refused", {}).items())]
                       + [{"db_id": "(run)", "why": why} for why in gate_doc.get("cap_breaches", [])
                          if gate_doc.get("held_by_cap")],
            "protected": [{"snapshot_id": s["snapshot_id"], "db_id": s["db_id"], "created_at": s["created_at"],
                           "reasons": ", ".join(s["reasons"])}
                          for s in plan_doc.get("snapshots", []) if s["action"] == "keep"],
        },
        "findings": [f.as_dict() if hasattr(f, "as_dict") else f for f in findings],
        "warnings": list(plan_doc.get("warnings", [])),
    }


def slack_summary(report: Mapping[str, Any], *, dry_run: bool) -> str:
    from estate_ops.domain.slacktext import slack_escape as e

    h, f = report["headline"], report["figures"]
    protected = ", ".join(f"{k.removeprefix('protected_')} {v['value']}" for k, v in f.items()
                          if k.startswith("protected_")) or "none"
    gib = f["allocated_storage_of_deleted"]["value"]
    lines = [
        f"*Retention pruning {report['period']['date']}*{' (dry run)' if dry_run else ''}",
        f"deleted {h['snapshots_deleted']['value']} snapshot(s)"
        + (f" (up to {gib} GiB allocated)" if gib else "")
        + f", already gone {f['already_gone']['value']}, failed {h['actions_failed']['value']}, "
          f"changes applied {f['changes_applied']['value']}",
        f"protected {h['snapshots_protected']['value']} ({protected})",
        f"refused {h['databases_refused']['value']} database(s)"
        + "".join(f"\n  • {e(r['db_id'])}: {e(r['why'])}" for r in report["items"]["refused"]),
    ]
    return "\n".join(lines)
