"""The monthly service review (issue #18): one document per client that quotes the month's reports.

Every figure is read from a source report's JSON, never recomputed: the review is a selection
and a layout. A source that is missing, or whose JSON does not have a key the review quotes, makes
its section say so (naming the key path) and the review incomplete; nothing is invented.

The evidence pack lists every artifact a review drew on with its key, S3 version id and SHA-256,
and the places the review reads (`sources`: exact keys and daily key patterns); :func:`verify_evidence`
checks a local copy of the bucket against it (README: "Checking a review's evidence"): an artifact
missing or changed, and one in those places the pack does not list (extra)::

    import json
    from pathlib import Path

    from estate_ops.domain.reviews import verify_evidence

    evidence = json.loads(Path("reports/reviews/2026-10/evidence.json").read_text())
    for problem in verify_evidence(Path("reports"), evidence):
        print(problem["key"], problem["problem"], problem.get("expected_sha256"), problem.get("actual_sha256"))

Pure: no Airflow, boto3 or HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

# What each section quotes: a source without one of these key paths is named, never guessed.
CONTRACTS: dict[str, tuple[str, ...]] = {
    "availability": ("period.start", "period.end", "headline.composite_availability.value", "headline.target.value",
                     "headline.status.value", "figures.error_budget_allowed.value", "figures.error_budget_used.value",
                     "figures.error_budget_exhausted_at.value", "items.endpoints", "items.maintenance_windows"),
    "incidents": ("period.start", "headline.incidents.value", "headline.breaches.value", "items.per_severity",
                  "items.breaches", "items.postmortems"),
    "backups": ("period.date", "statuses", "findings"),
    "drills": ("period.date", "headline.worst_rto_minutes.value", "headline.worst_data_rpo_minutes.value",
               "items.drills", "findings"),
    "retention": ("period.date", "headline.snapshots_deleted.value", "findings"),
    "invoice": ("client_id", "hours.included", "hours.used", "hours.rollover", "hours.overage", "hours.out_of_scope",
                "total", "currency"),
    "metrics": ("period", "headline"),
}
REQUIRED = ("availability", "incidents", "backups", "drills", "invoice")  # metrics and retention: where present
# The daily and weekly outputs a review reads, listed once per prefix: (kind, prefix, suffix) with
# {month} to fill; a key matches when it is <prefix><one path segment><suffix>.
DAILY_SOURCES = (("backups", "backups/{month}-", "/verification.json"),
                 ("drills", "backups/drills/{month}-", "/drill.json"),
                 ("retention", "retention/{month}-", "/report.json"))
MONTHLY_SOURCES = (("availability", "availability/{month}/report.json"),
                   ("incidents", "incidents/{month}/report.json"),
                   ("metrics", "metrics/{month}/report.json"))
DAILY_KINDS = tuple(kind for kind, _, _ in DAILY_SOURCES)


def source_places(month: str) -> list[dict[str, str]]:
    """Where `month`'s reviews read their reports (not the invoices, found through their ledger):
    {"kind", "key"} for a monthly report, {"kind", "prefix", "suffix"} for a daily one."""
    return ([{"kind": kind, "key": key.format(month=month)} for kind, key in MONTHLY_SOURCES] +
            [{"kind": kind, "prefix": prefix.format(month=month), "suffix": suffix}
             for kind, prefix, suffix in DAILY_SOURCES])


def in_place(place: Mapping[str, str], key: str) -> bool:
    """Whether `key` is one `place` of :func:`source_places` names."""
    if "key" in place:
        return key == place["key"]
    prefix, suffix = place["prefix"], place["suffix"]
    return (key.startswith(prefix) and key.endswith(suffix) and len(key) > len(prefix) + len(suffix)
            and key.count("/") == prefix.count("/") + suffix.count("/"))


class SourceError(ValueError):
    """A source report does not match the contract the review reads it by."""


def dig(report: Mapping[str, Any], path: str, *, source: str) -> Any:
    """The value at a dotted key path, or SourceError naming the source and the path."""
    value: Any = report
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise SourceError(f"{source}: no key {path!r} (expected by the review's contract)")
        value = value[part]
    return value


@dataclass(frozen=True)
class Unreadable:
    """A source whose bytes are not JSON: its section says why."""

    reason: str


def check_contract(kind: str, report: Any, *, source: str) -> None:
    if isinstance(report, Unreadable):
        raise SourceError(f"{source}: {report.reason}")
    if not isinstance(report, Mapping):
        raise SourceError(f"{source}: expected a JSON object, got {type(report).__name__}")
    for path in CONTRACTS[kind]:
        dig(report, path, source=source)


@dataclass(frozen=True)
class Source:
    """One artifact a section reads: where it came from (for the evidence pack) and its JSON."""

    kind: str
    key: str
    report: Any


def _section(kind: str, sources: Sequence[Source], build) -> dict[str, Any]:
    if not sources:
        status = "missing" if kind in REQUIRED else "not measured"
        return {"status": status, "note": f"no {kind} report for this month", "sources": []}
    try:
        for s in sources:
            check_contract(kind, s.report, source=s.key)
        body = build([s.report for s in sources])
    except SourceError as exc:
        return {"status": "incomplete", "note": str(exc), "sources": [s.key for s in sources]}
    return {**body, "status": "complete", "sources": [s.key for s in sources]}


def _availability(reports: list[dict]) -> dict[str, Any]:
    r = reports[0]
    f, h = r["figures"], r["headline"]
    return {
        "composite_percent": h["composite_availability"]["value"], "target_percent": h["target"]["value"],
        "target_status": h["status"]["value"],
        "error_budget_allowed_minutes": f["error_budget_allowed"]["value"],
        "error_budget_used_minutes": f["error_budget_used"]["value"],
        "error_budget_exhausted_at": f["error_budget_exhausted_at"]["value"],
        "endpoints": [{k: e.get(k) for k in ("endpoint", "availability_percent", "down_minutes", "meets_target")}
                      for e in r["items"]["endpoints"]],
        "excluded_maintenance": [{k: w.get(k) for k in ("id", "start", "end", "excluded_minutes", "notice", "qualifies")}
                                 for w in r["items"]["maintenance_windows"] if w.get("qualifies") != "no"],
    }


def _incidents(reports: list[dict]) -> dict[str, Any]:
    r = reports[0]
    keep = ("severity", "incidents", "met", "breached", "pending", "compliance_percent", "response_median_min",
            "response_p95_min", "resolution_median_min", "resolution_p95_min")
    return {
        "incidents": r["headline"]["incidents"]["value"], "breaches": r["headline"]["breaches"]["value"],
        "per_severity": [{k: row.get(k) for k in keep} for row in r["items"]["per_severity"]],
        "breach_list": [{k: b.get(k) for k in ("incident", "severity", "target", "actual_min", "link")}
                        for b in r["items"]["breaches"]],
        "postmortems": [{k: p.get(k) for k in ("number", "severity", "state", "link")}
                        for p in r["items"]["postmortems"]],
        "communication": _communication(r),
    }


COMMUNICATION_STATES = ("on_time", "late", "never", "pending")


def _communication(r: Mapping[str, Any]) -> dict[str, Any]:
    """The status-page communication the incident report measured (plan §3.2), where it did: its
    per-severity counts and totals; "not measured" when the report has no communication section."""
    per_severity = r["items"].get("communication_per_severity")
    if per_severity is None:
        return {"status": "not measured", "note": "the incident report has no communication section"}
    f = r.get("figures") or {}
    totals = {}
    for state in COMMUNICATION_STATES:
        figure = f.get(f"communication_{state}")
        if not isinstance(figure, Mapping) or "value" not in figure:
            raise SourceError(f"incidents: no key 'figures.communication_{state}.value' (expected by the "
                              "review's contract where items.communication_per_severity is present)")
        totals[state] = figure["value"]
    keep = ("severity", "incidents", *COMMUNICATION_STATES)
    return {"status": "measured", **totals,
            "per_severity": [{k: row.get(k) for k in keep} for row in per_severity if isinstance(row, Mapping)]}


def _backups(reports: list[dict], days_in_month: int) -> dict[str, Any]:
    green = sum(1 for r in reports if r["statuses"] and all(s.get("green") for s in r["statuses"].values()))
    return {"days_verified": len(reports), "days_green": green, "days_in_month": days_in_month}


def _below(value: Any, limit: Any, scale: int = 1) -> bool | None:
    """value < limit (value in units of 1/scale of the limit's), None when value is not a number."""
    if value is None or isinstance(value, bool) or limit is None:
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number < Decimal(str(limit)) * scale if number.is_finite() else None


def _drills(reports: list[dict], targets: Mapping[str, Any]) -> dict[str, Any]:
    """Each drill's worst RTO and data RPO (its headline) and each database's measured seconds
    (its items), against the plan's targets (RTO < rto_minutes, RPO < rpo_minutes)."""
    rto, rpo = targets.get("rto_minutes"), targets.get("rpo_minutes")
    drills, databases = [], []
    for r in reports:
        worst_rto, worst_rpo = (r["headline"]["worst_rto_minutes"]["value"],
                                r["headline"]["worst_data_rpo_minutes"]["value"])
        drills.append({"date": r["period"]["date"], "worst_rto_minutes": worst_rto, "rto_target_minutes": rto,
                       "rto_met": _below(worst_rto, rto), "worst_data_rpo_minutes": worst_rpo,
                       "rpo_target_minutes": rpo, "rpo_met": _below(worst_rpo, rpo)})
        for d in r["items"]["drills"]:
            if not isinstance(d, Mapping):
                raise SourceError(f"drill {r['period']['date']}: items.drills holds {type(d).__name__}, "
                                  "expected an object per database")
            databases.append({"date": r["period"]["date"], "db_id": d.get("db_id"), "status": d.get("status"),
                              "rto_seconds": d.get("rto_seconds"), "rto_met": _below(d.get("rto_seconds"), rto, 60),
                              "data_rpo_seconds": d.get("data_rpo_seconds"),
                              "rpo_met": _below(d.get("data_rpo_seconds"), rpo, 60)})
    return {"rto_target_minutes": rto, "rpo_target_minutes": rpo, "drills": drills, "databases": databases}


def _retention(reports: list[dict]) -> dict[str, Any]:
    return {"days": len(reports),
            "snapshots_deleted": sum(int(r["headline"]["snapshots_deleted"]["value"]) for r in reports)}


def _invoice(reports: list[dict]) -> dict[str, Any]:
    r = reports[0]
    h = r["hours"]
    return {"included_hours": h["included"], "rollover_hours": h["rollover"], "used_in_scope_hours": h["used"],
            "overage_hours": h["overage"], "out_of_scope_hours": h["out_of_scope"],
            "number": r.get("number") or "awaiting approval", "total": r["total"], "currency": r["currency"]}


def _metrics(reports: list[dict]) -> dict[str, Any]:
    return {"headline": reports[0]["headline"]}


def _report_date(report: Mapping[str, Any], key: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(report["period"]["date"]))
    except ValueError:
        raise SourceError(f"{key}: period.date is {report['period']['date']!r}, expected YYYY-MM-DD") from None


def open_findings(by_kind: Mapping[str, Sequence[Source]]) -> dict[str, Any]:
    """The findings still open at the month's close: those of the month's last report of each daily
    source (backups, drills, retention), each with the first of the month's reports of that source
    in an unbroken run listing the same problem (kind and resource) and its age in days from there
    to that last report. The monthly reports' findings belong to their month and are in their
    sections."""
    used = [s for kind in DAILY_KINDS for s in by_kind.get(kind, [])]
    if not used:
        return {"status": "not measured", "note": "no daily report (backups, drills, retention) this month",
                "sources": []}
    try:
        for s in used:
            check_contract(s.kind, s.report, source=s.key)
        rows = []
        for kind in DAILY_KINDS:
            dated = sorted(((_report_date(s.report, s.key), s) for s in by_kind.get(kind, [])), key=lambda p: p[0])
            if not dated:
                continue
            problems = [{(f.get("kind"), f.get("resource")) for f in s.report["findings"] if isinstance(f, Mapping)}
                        for _, s in dated]
            last_day, last = dated[-1]
            for finding in last.report["findings"]:
                if not isinstance(finding, Mapping):
                    raise SourceError(f"{last.key}: a finding is {type(finding).__name__}, expected an object")
                problem = (finding.get("kind"), finding.get("resource"))
                first = len(dated) - 1
                while first > 0 and problem in problems[first - 1]:
                    first -= 1
                rows.append({"severity": finding.get("severity"), "kind": finding.get("kind"),
                             "resource": finding.get("resource"), "summary": finding.get("summary"),
                             "source": last.key, "first_seen": dated[first][0].isoformat(),
                             "last_seen": last_day.isoformat(), "age_days": (last_day - dated[first][0]).days})
    except SourceError as exc:
        return {"status": "incomplete", "note": str(exc), "sources": sorted(s.key for s in used)}
    rows.sort(key=lambda r: (str(r["severity"]), -r["age_days"], str(r["kind"]), str(r["resource"])))
    return {"status": "complete", "open": len(rows), "findings": rows, "sources": sorted(s.key for s in used)}


def build_review(*, client: Mapping[str, Any], month: str, bounds: Mapping[str, Any], plan_name: str,
                 plan_version: str, estate_name: str, generated_at: dt.datetime,
                 sources: Iterable[Source], days_in_month: int,
                 next_maintenance: Sequence[Mapping[str, Any]] = (),
                 recovery_targets: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One client's review of `month` from its sources; `complete` only when every required section is.

    `recovery_targets` are the plan's {"rto_minutes", "rpo_minutes"} each drill is held against."""
    by_kind: dict[str, list[Source]] = {}
    for s in sources:
        if s.kind not in CONTRACTS:
            raise ValueError(f"unknown source kind {s.kind!r} ({s.key}); expected one of {sorted(CONTRACTS)}")
        by_kind.setdefault(s.kind, []).append(s)
    for group in by_kind.values():
        group.sort(key=lambda s: s.key)
    invoices = [s for s in by_kind.get("invoice", []) if isinstance(s.report, Mapping)
                and s.report.get("client_id") == client["id"]]
    sections = {
        "availability": _section("availability", by_kind.get("availability", []), _availability),
        "incidents": _section("incidents", by_kind.get("incidents", []), _incidents),
        "backups": _section("backups", by_kind.get("backups", []), lambda rs: _backups(rs, days_in_month)),
        "drills": _section("drills", by_kind.get("drills", []), lambda rs: _drills(rs, recovery_targets or {})),
        "retention": _section("retention", by_kind.get("retention", []), _retention),
        "metrics": _section("metrics", by_kind.get("metrics", []), _metrics),
        "support": _section("invoice", invoices[-1:], _invoice),
        "open_findings": open_findings(by_kind),
    }
    incomplete = [name for name, sec in sections.items() if sec["status"] in ("missing", "incomplete")]
    return {
        "kind": "review",
        "title": f"Service review {month} — {client['name']}",
        "period": dict(bounds),
        "plan_version": plan_version,
        "cover": {"client_id": client["id"], "client": client["name"], "tier": client.get("tier"),
                  "plan": plan_name, "plan_version": plan_version, "estate": estate_name,
                  "generated_at": generated_at},
        "complete": not incomplete,
        "incomplete_sections": incomplete,
        "sections": sections,
        "next_month_maintenance": [dict(w) for w in next_maintenance],
        "findings": [],  # a review raises none: each source report routed its own
        "warnings": [],
    }


# ----------------------------------------------------------------------------------- evidence


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def evidence_pack(month: str, artifacts: Iterable[tuple[str, str | None, bytes]]) -> dict[str, Any]:
    """Every artifact the month's reviews drew on: (key, S3 version id, bytes) -> sorted entries,
    and the places they were read from (:func:`source_places`)."""
    entries = {key: {"key": key, "version_id": version, "sha256": sha256(body), "bytes": len(body)}
               for key, version, body in artifacts}
    return {"kind": "evidence", "month": month, "sources": source_places(month),
            "artifacts": [entries[k] for k in sorted(entries)]}


def verify_evidence(bucket_copy_dir: Path, evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each artifact of `evidence` missing from, or changed in, a local copy of the bucket, and each
    file of the copy in the places the review reads (`evidence["sources"]`) that the pack does not
    list ("extra": a report the review did not draw on, or one added since).

    Never re-hashes into the pack: a changed file is reported with both digests."""
    problems = []
    root = Path(bucket_copy_dir)
    listed = {entry["key"] for entry in evidence.get("artifacts", [])}
    places = list(evidence.get("sources", []))
    if places and root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = path.relative_to(root).as_posix()
            if key not in listed and any(in_place(place, key) for place in places):
                problems.append({"key": key, "problem": "extra", "actual_sha256": sha256(path.read_bytes())})
    for entry in evidence.get("artifacts", []):
        key = entry["key"]
        path = root / key
        if ".." in Path(key).parts or not path.is_file():
            problems.append({"key": key, "problem": "missing", "expected_sha256": entry["sha256"]})
            continue
        actual = sha256(path.read_bytes())
        if actual != entry["sha256"]:
            problems.append({"key": key, "problem": "changed", "expected_sha256": entry["sha256"],
                             "actual_sha256": actual})
    return sorted(problems, key=lambda p: (p["key"], p["problem"]))
