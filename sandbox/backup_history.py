"""The reference month's backup history: what its daily `backup_verification` runs and its weekly
`restore_drill` runs would have left in the reports bucket (issue #18: the month close quotes them).

Built by the project's own domain functions (`verify_database`, `verify_documents`,
`verify_log_groups`, `verify_log_archive`, `build_verification_report`; `evaluate_drill`,
`build_drill_report`) from observations of a healthy estate, and serialised as the operators
serialise them (`canonical_json`, the drill report built from the per-database JSON read back), so
the JSON contract cannot drift from the real runs'. Only the JSON is written: the renderings are
the operators' business and the month close reads the JSON.

- `backups/<day>/verification.json` for every day of the contract month (the DAG runs at 06:00
  UTC, inside that ET day); on the month's 12th the second database's continuous backup was 3 h
  stale (an RPO finding: that day is not green); over the month's last 7 days the second
  database keeps 7 days of backups (as the backups scenario leaves it: a finding still open at
  the month's close); the other days green;
- `backups/drills/<day>/databases/<db_id>.json` and `backups/drills/<day>/drill.json` for every
  Sunday of the month (the DAG runs Sundays 07:00 UTC): each database restored in 20-40 minutes,
  its newest restored row a few minutes before the restore target.

Pure: returns (key, bytes) pairs; sandbox/scenarios/backups.py writes them. Dates come from the
month, never fixed, so every month seeds (tests/sandbox/test_backup_history.py).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

VERIFY_AT = dt.time(6, 0)  # backup_verification: "0 6 * * *"
DRILL_AT = dt.time(7, 0)  # restore_drill: "0 7 * * 0"
STALE_DAY = 12  # the day of the month the second database's continuous backup lagged
STALE_BY = dt.timedelta(hours=3)
SHORT_RETENTION_DAYS = 7  # sandbox/scenarios/backups.py leaves the second database so
SHORT_FROM_END = 7  # ... over the month's last 7 days
TABLES = {"leases": 1840, "tenants": 1275, "payments": 22410, "documents": 6130}


def _utc(day: dt.date, at: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, at, tzinfo=dt.UTC)


def replication_rule(store: Any, account_id: str) -> dict[str, Any]:
    """The estate's replication rule (RTC, covering every object), as S3 returns it."""
    return {"ID": f"replicate-to-{store.replica_region}", "Priority": 1, "Status": "Enabled", "Filter": {},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{store.replica_bucket}",
                            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}


def _verification(plan: Any, estate: Any, day: dt.date, account_id: str) -> dict[str, Any]:
    from estate_ops.domain.backups import (
        BucketObservation,
        DatabaseObservation,
        LogGroupObservation,
        ObjectSample,
        build_verification_report,
        verify_database,
        verify_documents,
        verify_log_archive,
        verify_log_groups,
    )
    from estate_ops.domain.periods import Month

    as_of = _utc(day, VERIFY_AT)
    short = (Month.of(day).last_day - day).days < SHORT_FROM_END
    verdicts = []
    for index, db in enumerate(estate.databases):
        lag = STALE_BY if (index == 1 and day.day == STALE_DAY) else dt.timedelta(minutes=5)
        obs = DatabaseObservation(
            db.id, exists=True, status="available",
            backup_retention_days=SHORT_RETENTION_DAYS if (index == 1 and short) else plan.backups.database.retention_days,
            latest_restorable_time=as_of - lag, deletion_protection=True,
            newest_automated_snapshot_id=f"rds:{db.id}-{day:%Y-%m-%d}-03-00",
            newest_automated_snapshot_time=_utc(day, dt.time(3, 0)), automated_snapshots=30)
        verdicts.append(verify_database(plan, obs, as_of, day))
    for store in estate.documents:
        samples = tuple(ObjectSample(f"leases/{day:%Y}/lease-{i:04d}.pdf", f"v{day:%Y%m%d}{i}",
                                     as_of - dt.timedelta(minutes=20 + 90 * i), "COMPLETED", True)
                        for i in range(5))
        obs = BucketObservation(store.bucket, store.replica_bucket, store.replica_region, exists=True,
                                replica_region=store.replica_region, versioning="Enabled",
                                replica_versioning="Enabled",
                                replication_rules=(replication_rule(store, account_id),), samples=samples)
        verdicts.append(verify_documents(plan, obs, as_of, day))
    year = plan.backups.logs.retention_days
    for prefix in estate.logs.group_prefixes:
        groups = [LogGroupObservation(prefix.rstrip("/") + "/application", year)]
        verdicts.append(verify_log_groups(plan, prefix, groups, day))
    rules = [{"ID": "expire-after-a-year", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": year}}]
    verdicts.append(verify_log_archive(plan, estate.logs.archive_bucket, True, rules, day))
    return build_verification_report(plan, estate.estate.name, day, as_of, verdicts).report


def _drill(plan: Any, estate: Any, day: dt.date, rng: random.Random) -> list[tuple[str, bytes]]:
    from estate_ops.domain.drill import (
        DrillOutcome,
        build_drill_report,
        evaluate_drill,
        scratch_instance_id,
    )
    from estate_ops.domain.findings import Finding
    from estate_ops.domain.serialize import canonical_json

    as_of = _utc(day, DRILL_AT)
    prefix = f"backups/drills/{day.isoformat()}"
    out, drills = [], []
    for db in sorted(estate.databases, key=lambda d: d.id):
        requested = as_of + dt.timedelta(seconds=rng.randint(20, 90))
        target = requested - dt.timedelta(minutes=5)
        available = requested + dt.timedelta(minutes=rng.randint(18, 35), seconds=rng.randint(0, 59))
        verified = available + dt.timedelta(seconds=rng.randint(40, 200))
        counts = {table: rows + rng.randint(0, 40) for table, rows in TABLES.items()}
        outcome = DrillOutcome(db_id=db.id, scratch_id=scratch_instance_id(db.id, as_of), requested_at=requested,
                               target_time=target, available_at=available, verified_at=verified,
                               deleted_at=verified + dt.timedelta(minutes=rng.randint(4, 9)),
                               source_counts=counts, restored_counts=dict(counts),
                               newest_updated_at=target - dt.timedelta(minutes=rng.randint(1, 12)))
        figures, findings = evaluate_drill(plan, outcome, as_of, day)
        figures["findings"] = [f.as_dict() for f in findings]
        body = canonical_json(figures)
        out.append((f"{prefix}/databases/{db.id}.json", body))
        drills.append(json.loads(body))  # the operator builds the day's report from what it stored
    findings = [Finding(f["kind"], f["severity"], f["resource"], f["summary"], f["period"], dict(f.get("details") or {}))
                for d in drills for f in d.get("findings", [])]
    out.append((f"{prefix}/drill.json", canonical_json(build_drill_report(plan, estate.estate.name, day, drills,
                                                                          findings))))
    return out


def month_history(plan: Any, estate: Any, reference_month: dt.date, *, seed: int,
                  account_id: str = "123456789012") -> list[tuple[str, bytes]]:
    """(key, bytes) of every verification and drill artifact of the contract month."""
    from estate_ops.domain.periods import Month
    from estate_ops.domain.serialize import canonical_json

    rng = random.Random(f"{seed}:backup-history")
    out = []
    for day in Month.of(reference_month).days:
        out.append((f"backups/{day.isoformat()}/verification.json",
                    canonical_json(_verification(plan, estate, day, account_id))))
        if day.weekday() == 6:
            out += _drill(plan, estate, day, rng)
    return out
