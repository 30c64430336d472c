"""Backup verification (plan §4.1, §4.2): is every promise of the backup table kept today?

Pure: the hooks observe AWS and hand over plain observations; this module decides, per resource,
which checks pass, which findings to raise (severity from plan.yaml), and builds the report and
the per-database status that `retention_pruning` reads before it deletes anything.

Every comparison with "now" uses `as_of`, the run's logical date (a scheduled run's trigger
time), so a rerun of the same run judges the same state the same way and writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from estate_ops.domain.findings import Finding, sort_findings
from estate_ops.domain.periods import utc

# Severities that make a resource "not green": retention must not prune what is not proven safe.
BLOCKING_SEVERITIES = ("P0", "P1")
# S3 replication statuses (HeadObject `ReplicationStatus`).
REPLICATION_STATUSES = ("PENDING", "COMPLETED", "FAILED", "REPLICA")


@dataclass(frozen=True)
class CheckResult:
    """One promise checked on one resource: a report row."""

    area: str  # database | documents | logs
    resource: str
    check: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """What one resource's verification found: its checks and findings."""

    area: str
    resource: str
    checks: tuple[CheckResult, ...]
    findings: tuple[Finding, ...]

    @property
    def green(self) -> bool:
        return not any(f.severity in BLOCKING_SEVERITIES for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {"area": self.area, "resource": self.resource, "green": self.green,
                "checks": [c.as_dict() for c in self.checks], "findings": [f.as_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Back from XCom (the dict `as_dict` wrote)."""
        return cls(
            area=data["area"], resource=data["resource"],
            checks=tuple(CheckResult(**c) for c in data["checks"]),
            findings=tuple(Finding(f["kind"], f["severity"], f["resource"], f["summary"], f["period"],
                                   dict(f.get("details") or {})) for f in data["findings"]),
        )


class _Collector:
    """Accumulates checks and findings for one resource."""

    def __init__(self, plan: Any, area: str, resource: str, day: dt.date) -> None:
        self.plan, self.area, self.resource, self.period = plan, area, resource, day.isoformat()
        self.checks: list[CheckResult] = []
        self.findings: list[Finding] = []

    def check(self, check: str, ok: bool, detail: str, kind: str | None = None, resource: str | None = None,
              **details: Any) -> bool:
        self.checks.append(CheckResult(self.area, resource or self.resource, check, ok, detail))
        if not ok and kind:
            plain = {k: _plain(v) for k, v in details.items()}  # details travel as JSON (XCom, PagerDuty)
            self.findings.append(Finding.of(self.plan, kind, resource or self.resource, detail, self.period,
                                            check=check, **plain))
        return ok

    def verdict(self) -> Verdict:
        return Verdict(self.area, self.resource, tuple(self.checks), tuple(sort_findings(self.findings)))


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    return value


def _minutes(delta: dt.timedelta) -> int:
    """Whole minutes, rounded down (a report figure, never used for a threshold)."""
    return int(delta.total_seconds() // 60)


def _age_text(delta: dt.timedelta) -> str:
    minutes = _minutes(delta)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


# --------------------------------------------------------------------------- databases


@dataclass(frozen=True)
class DatabaseObservation:
    """What RDS says about one database (DescribeDBInstances + its automated snapshots)."""

    db_id: str
    exists: bool
    error: str | None = None  # an AWS error that prevented the check (e.g. access denied)
    status: str | None = None
    backup_retention_days: int | None = None
    latest_restorable_time: dt.datetime | None = None
    deletion_protection: bool | None = None
    newest_automated_snapshot_id: str | None = None
    newest_automated_snapshot_time: dt.datetime | None = None
    automated_snapshots: int = 0


def verify_database(plan: Any, obs: DatabaseObservation, as_of: dt.datetime, day: dt.date) -> Verdict:
    """The four database promises: retention, a daily snapshot, continuous backup, protection."""
    as_of = utc(as_of)
    c = _Collector(plan, "database", obs.db_id, day)
    if obs.error:
        c.check("readable", False, f"could not verify {obs.db_id}: {obs.error}", "backup_check_failed")
        return c.verdict()
    if not c.check("exists", obs.exists,
                   "exists" if obs.exists else f"DB instance {obs.db_id} named in estate.yaml does not exist",
                   "resource_missing"):
        return c.verdict()

    terms = plan.backups.database
    retention = obs.backup_retention_days or 0
    if retention == 0:
        c.check("automated_backups", False, f"{obs.db_id}: automated backups are off (BackupRetentionPeriod 0)",
                "backup_missed", retention_days=0)
    else:
        c.check("automated_backups", True, f"on, BackupRetentionPeriod {retention} d")
        c.check("retention_days", retention >= terms.retention_days,
                f"BackupRetentionPeriod {retention} d" if retention >= terms.retention_days else
                f"{obs.db_id}: BackupRetentionPeriod {retention} d is below the plan's {terms.retention_days} d",
                "backup_retention_short", retention_days=retention, required_days=terms.retention_days)

    max_age = dt.timedelta(hours=terms.max_snapshot_age_hours)
    newest = obs.newest_automated_snapshot_time
    if newest is None:
        c.check("daily_snapshot", False, f"{obs.db_id}: no automated snapshot exists", "backup_missed",
                max_age_hours=terms.max_snapshot_age_hours)
    else:
        age = as_of - utc(newest)
        c.check("daily_snapshot", age <= max_age,
                f"newest automated snapshot {obs.newest_automated_snapshot_id} is {_age_text(age)} old"
                if age <= max_age else
                f"{obs.db_id}: newest automated snapshot {obs.newest_automated_snapshot_id} is {_age_text(age)} old "
                f"(more than {terms.max_snapshot_age_hours} h)",
                "backup_missed", snapshot_id=obs.newest_automated_snapshot_id, snapshot_time=utc(newest),
                max_age_hours=terms.max_snapshot_age_hours)

    rpo = dt.timedelta(minutes=plan.recovery.rpo_minutes)
    restorable = obs.latest_restorable_time
    if restorable is None:
        c.check("continuous_backup", False,
                f"{obs.db_id}: no LatestRestorableTime: point-in-time restore is not possible", "rpo_breach",
                rpo_minutes=plan.recovery.rpo_minutes)
    else:
        lag = as_of - utc(restorable)
        # The plan says "RPO < 1 hour": a lag of exactly the RPO is a breach.
        c.check("continuous_backup", lag < rpo,
                f"restorable to {_age_text(lag)} ago" if lag < rpo else
                f"{obs.db_id}: LatestRestorableTime is {_age_text(lag)} old (RPO < {plan.recovery.rpo_minutes} min)",
                "rpo_breach", latest_restorable_time=utc(restorable), lag_minutes=_minutes(lag),
                rpo_minutes=plan.recovery.rpo_minutes)

    c.check("deletion_protection", bool(obs.deletion_protection),
            "on" if obs.deletion_protection else f"{obs.db_id}: deletion protection is off",
            "deletion_protection_off")
    return c.verdict()


def database_status(verdict: Verdict, verified_at: dt.datetime, day: dt.date) -> dict[str, Any]:
    """`backups/status/<db_id>.json`: what `retention_pruning` reads before deleting anything."""
    return {
        "db_id": verdict.resource,
        "verified_at": utc(verified_at),
        "day": day.isoformat(),
        "green": verdict.green,
        "findings": [f.as_dict() for f in verdict.findings],
    }


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class ObjectSample:
    """One of the newest objects of a document bucket, and whether its replica holds it."""

    key: str
    version_id: str | None
    last_modified: dt.datetime
    replication_status: str | None  # None: the object was never subject to replication
    replica_has_version: bool | None = None  # None: not looked up (not COMPLETED)


@dataclass(frozen=True)
class BucketObservation:
    bucket: str
    replica_bucket: str
    expected_replica_region: str
    exists: bool
    error: str | None = None
    replica_exists: bool = True
    replica_region: str | None = None
    versioning: str | None = None  # "Enabled" | "Suspended" | None (never enabled)
    replica_versioning: str | None = None
    replication_rules: tuple[dict[str, Any], ...] = ()
    lifecycle_rules: tuple[dict[str, Any], ...] = ()
    replica_lifecycle_rules: tuple[dict[str, Any], ...] = ()
    samples: tuple[ObjectSample, ...] = ()


def _rule_covers_everything(rule: dict[str, Any]) -> bool:
    """A replication/lifecycle rule with no prefix and no tag filter applies to every object."""
    if rule.get("Prefix"):
        return False
    flt = rule.get("Filter")
    if not flt:
        return True
    narrowing = ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
    return not any(flt.get(k) for k in narrowing)


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def deleting_lifecycle_rules(rules: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[str]:
    """Rule ids (or positions) of enabled rules that expire current or delete noncurrent versions.

    Transitions and aborting incomplete uploads keep the data; an Expiration that only removes
    expired delete markers deletes nothing a reader could want.
    """
    bad: list[str] = []
    for i, rule in enumerate(rules):
        if rule.get("Status") != "Enabled":
            continue
        expiration = rule.get("Expiration") or {}
        expires_current = bool(expiration.get("Days") or expiration.get("Date"))
        deletes_noncurrent = bool(rule.get("NoncurrentVersionExpiration"))
        if expires_current or deletes_noncurrent:
            bad.append(str(rule.get("ID") or f"rule #{i + 1}"))
    return bad


def verify_documents(plan: Any, obs: BucketObservation, as_of: dt.datetime, day: dt.date) -> Verdict:
    """Real-time replication, indefinite retention, and a sample of the newest objects."""
    as_of = utc(as_of)
    name, replica = obs.bucket, obs.replica_bucket
    c = _Collector(plan, "documents", name, day)
    if obs.error:
        c.check("readable", False, f"could not verify {name}: {obs.error}", "backup_check_failed")
        return c.verdict()
    if not c.check("exists", obs.exists, "exists" if obs.exists else
                   f"document bucket {name} named in estate.yaml does not exist", "resource_missing"):
        return c.verdict()
    if not c.check("replica_exists", obs.replica_exists, f"replica {replica} exists" if obs.replica_exists else
                   f"replica bucket {replica} named in estate.yaml does not exist", "resource_missing",
                   resource=replica):
        pass
    elif obs.replica_region != obs.expected_replica_region:
        c.check("replica_region", False,
                f"replica {replica} is in {obs.replica_region}, estate.yaml says {obs.expected_replica_region}",
                "replication_failure", resource=replica, region=obs.replica_region,
                expected_region=obs.expected_replica_region)
    else:
        c.check("replica_region", True, f"replica in {obs.replica_region}", resource=replica)

    c.check("versioning", obs.versioning == "Enabled",
            "versioning enabled" if obs.versioning == "Enabled" else
            f"{name}: versioning is {obs.versioning or 'not enabled'}: replication needs it on both sides",
            "replication_failure", versioning=obs.versioning)
    if obs.replica_exists:
        c.check("replica_versioning", obs.replica_versioning == "Enabled",
                f"replica {replica} versioning enabled" if obs.replica_versioning == "Enabled" else
                f"replica {replica}: versioning is {obs.replica_versioning or 'not enabled'}: "
                "replication needs it on both sides",
                "replication_failure", resource=replica, versioning=obs.replica_versioning)

    covering = [r for r in obs.replication_rules
                if r.get("Status") == "Enabled" and _rule_covers_everything(r)
                and (r.get("Destination") or {}).get("Bucket") == _bucket_arn(replica)]
    if not c.check("replication_rule", bool(covering),
                   f"rule {covering[0].get('ID') or '#1'} replicates every object to {replica}" if covering else
                   f"{name}: no enabled replication rule covers every object and targets {replica}",
                   "replication_failure", rules=len(obs.replication_rules)):
        pass
    else:
        rtc = any(((r.get("Destination") or {}).get("ReplicationTime") or {}).get("Status") == "Enabled"
                  for r in covering)
        c.check("replication_time_control", rtc, "Replication Time Control on" if rtc else
                f"{name}: Replication Time Control is off (the plan promises real-time replication)",
                "replication_time_control_off")

    for label, rules, resource in (("lifecycle", obs.lifecycle_rules, name),
                                   ("replica_lifecycle", obs.replica_lifecycle_rules, replica)):
        if resource == replica and not obs.replica_exists:
            continue
        bad = deleting_lifecycle_rules(rules)
        c.check(label, not bad, "no lifecycle rule deletes documents" if not bad else
                f"{resource}: lifecycle rule(s) {', '.join(bad)} delete documents the plan keeps indefinitely",
                "document_expiry_rule", resource=resource, rules=bad)

    max_pending = dt.timedelta(minutes=plan.backups.documents.max_pending_minutes)
    failed, stuck, missing = [], [], []
    for s in obs.samples:
        if s.replication_status == "FAILED":
            failed.append(s)
        elif s.replication_status == "PENDING" and as_of - utc(s.last_modified) > max_pending:
            stuck.append(s)
        elif s.replication_status is None:
            # Written while replication was off or by a rule that does not cover it: not replicated.
            missing.append(s)
        elif s.replication_status == "COMPLETED" and s.replica_has_version is False:
            missing.append(s)
    sampled = len(obs.samples)
    c.check("sample_replicated", not (failed or stuck or missing),
            f"{sampled} newest object(s) replicated" if not (failed or stuck or missing) else
            f"{name}: of the {sampled} newest objects, {len(failed)} FAILED, {len(stuck)} PENDING for more than "
            f"{plan.backups.documents.max_pending_minutes} min, {len(missing)} missing from {replica}",
            "replication_failure", failed=[s.key for s in failed], pending=[s.key for s in stuck],
            missing_from_replica=[s.key for s in missing], sampled=sampled)
    return c.verdict()


# --------------------------------------------------------------------------- logs


@dataclass(frozen=True)
class LogGroupObservation:
    name: str
    retention_days: int | None  # None: never expires


def verify_log_groups(plan: Any, prefix: str, groups: list[LogGroupObservation] | None, day: dt.date,
                      error: str | None = None) -> Verdict:
    """Every log group under `prefix` keeps exactly the plan's year (365 d); none set is forever."""
    c = _Collector(plan, "logs", prefix, day)
    if error:
        c.check("readable", False, f"could not verify log groups {prefix}*: {error}", "backup_check_failed")
        return c.verdict()
    if not c.check("groups_exist", bool(groups), f"{len(groups or [])} log group(s)" if groups else
                   f"no log group matches the prefix {prefix!r} named in estate.yaml", "resource_missing"):
        return c.verdict()
    want = plan.backups.logs.retention_days
    for group in sorted(groups or [], key=lambda g: g.name):
        days = group.retention_days
        if days == want:
            c.check("retention", True, f"{days} d", resource=group.name)
        elif days is None:
            c.check("retention", False, f"{group.name}: no retention set, kept forever (the plan says {want} d)",
                    "log_retention_wrong", resource=group.name, retention_days=None, required_days=want)
        else:
            c.check("retention", False, f"{group.name}: retention {days} d, the plan says {want} d",
                    "log_retention_wrong", resource=group.name, retention_days=days, required_days=want)
    return c.verdict()


def verify_log_archive(plan: Any, bucket: str, exists: bool, lifecycle_rules: list[dict[str, Any]] | None,
                       day: dt.date, error: str | None = None) -> Verdict:
    """The log archive bucket expires objects at exactly the plan's year, for every object."""
    c = _Collector(plan, "logs", bucket, day)
    if error:
        c.check("readable", False, f"could not verify {bucket}: {error}", "backup_check_failed")
        return c.verdict()
    if not c.check("exists", exists, "exists" if exists else
                   f"log archive bucket {bucket} named in estate.yaml does not exist", "resource_missing"):
        return c.verdict()
    want = plan.backups.logs.retention_days
    expiring = [r for r in lifecycle_rules or [] if r.get("Status") == "Enabled"
                and (r.get("Expiration") or {}).get("Days")]
    whole = [r for r in expiring if _rule_covers_everything(r)]
    days = sorted({int(r["Expiration"]["Days"]) for r in expiring})
    if whole and all(int(r["Expiration"]["Days"]) == want for r in expiring):
        c.check("archive_expiry", True, f"objects expire at {want} d")
    elif not expiring:
        c.check("archive_expiry", False, f"{bucket}: no lifecycle rule expires archived logs (the plan says {want} d)",
                "log_retention_wrong", expiration_days=None, required_days=want)
    else:
        c.check("archive_expiry", False,
                f"{bucket}: archived logs expire at {', '.join(map(str, days))} d"
                f"{'' if whole else ' for part of the bucket only'} (the plan says {want} d for every object)",
                "log_retention_wrong", expiration_days=days, required_days=want)
    return c.verdict()


# --------------------------------------------------------------------------- the report


@dataclass
class VerificationResult:
    report: dict[str, Any]
    findings: list[Finding]
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)  # db_id -> status document


def not_verified(plan: Any, area: str, resource: str, day: dt.date, why: str) -> Verdict:
    """A resource whose check task produced nothing (it failed): not green, and said so."""
    c = _Collector(plan, area, resource, day)
    c.check("readable", False, f"could not verify {resource}: {why}", "backup_check_failed")
    return c.verdict()


def _words(value: str) -> str:
    """A plan.yaml term as the plan writes it: real_time_replication -> "real-time replication"."""
    return {"real_time_replication": "real-time replication"}.get(value, value.replace("_", " "))


def _days_text(days: int) -> str:
    return f"{days // 365} year" + ("s" if days // 365 > 1 else "") if days % 365 == 0 else f"{days} days"


def backup_schedule(plan: Any, verdicts: list[Verdict]) -> list[dict[str, Any]]:
    """The plan's §4.1 table (Data | Frequency | Retention), one row per kind of data, with what was
    verified of it: how many resources and checks, how many failed, and the result."""
    terms = plan.backups
    rows = []
    for area, data, frequency, retention in (
            ("database", "Database", " + ".join(terms.database.frequency), _days_text(terms.database.retention_days)),
            ("documents", "Documents (S3)", _words(terms.documents.frequency), terms.documents.retention),
            ("logs", "Logs", terms.logs.frequency, _days_text(terms.logs.retention_days))):
        mine = [v for v in verdicts if v.area == area]
        checks = [c for v in mine for c in v.checks]
        failed = sum(not c.ok for c in checks)
        rows.append({"data": data, "frequency": frequency.capitalize(), "retention": retention.capitalize(),
                     "resources": len(mine), "checks": len(checks), "failed": failed,
                     "verified": ("not checked" if not checks else "kept" if not failed else "not kept")})
    return rows


def build_verification_report(plan: Any, estate_name: str, day: dt.date, as_of: dt.datetime,
                              verdicts: list[Verdict]) -> VerificationResult:
    """`backups/YYYY-MM-DD/verification.json`, the findings to route, and each database's status."""
    as_of = utc(as_of)
    ordered = sorted(verdicts, key=lambda v: (v.area, v.resource))
    findings = sort_findings([f for v in ordered for f in v.findings])
    statuses = {v.resource: database_status(v, as_of, day) for v in ordered if v.area == "database"}
    areas = ("database", "documents", "logs")
    counts = {a: [v for v in ordered if v.area == a] for a in areas}
    checks = [c.as_dict() for v in ordered for c in v.checks]
    by_severity = {s: sum(f.severity == s for f in findings) for s in ("P0", "P1", "P2", "P3")}
    report = {
        "kind": "backups",
        "title": f"Backup verification — {estate_name}",
        "period": {"date": day.isoformat(), "as_of": as_of},
        "plan_version": plan.plan.version,
        "headline": {
            "status": {"value": "green" if not any(by_severity[s] for s in BLOCKING_SEVERITIES) else "red",
                       "unit": ""},
            "databases_green": {"value": f"{sum(v.green for v in counts['database'])}/{len(counts['database'])}",
                                "unit": "databases"},
            "findings_p1": {"value": by_severity["P0"] + by_severity["P1"], "unit": "findings"},
            "findings_p3": {"value": by_severity["P2"] + by_severity["P3"], "unit": "findings"},
        },
        "inputs": {
            "databases": len(counts["database"]),
            "document_buckets": len(counts["documents"]),
            "log_resources": len(counts["logs"]),
            "checks": len(checks),
        },
        "figures": {
            "checks_failed": {"value": sum(not c["ok"] for c in checks), "unit": "checks"},
            "rpo_minutes": {"value": plan.recovery.rpo_minutes, "unit": "min"},
            "database_retention_days": {"value": plan.backups.database.retention_days, "unit": "days"},
            "log_retention_days": {"value": plan.backups.logs.retention_days, "unit": "days"},
        },
        "items": {
            "schedule": backup_schedule(plan, ordered),
            "databases": [{"db_id": s["db_id"], "green": s["green"],
                           "findings": len(s["findings"])} for s in statuses.values()],
            "checks": checks,
        },
        "statuses": statuses,
        "findings": [f.as_dict() for f in findings],
        "warnings": [],
    }
    return VerificationResult(report, findings, statuses)
