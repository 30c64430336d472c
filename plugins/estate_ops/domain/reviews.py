"""The monthly service review (issue #18): one document per client that quotes the month's reports.

Every figure is read from a source report's JSON, never recomputed: the review is a selection
and a layout. A source that is missing, or whose JSON does not have a key the review quotes, makes
its section say so (naming the key path) and the review incomplete; nothing is invented.

The evidence pack lists every artifact a review drew on with its key, S3 version id and SHA-256;
:func:`verify_evidence` checks a local copy of the bucket against it (README: "Checking a review's
evidence")::

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
from pathlib import Path
from typing import Any

# What each section quotes: a source without one of these key paths is named, never guessed.
CONTRACTS: dict[str, tuple[str, ...]] = {
    "availability": ("period.start", "period.end", "headline.composite_availability.value", "headline.target.value",
                     "headline.status.value", "figures.error_budget_allowed.value", "figures.error_budget_used.value",
                     "figures.error_budget_exhausted_at.value", "items.endpoints", "items.maintenance_windows"),
    "incidents": ("period.start", "headline.incidents.value", "headline.breaches.value", "items.per_severity",
                  "items.breaches", "items.postmortems"),
    "backups": ("period.date", "statuses"),
    "drills": ("period.date", "headline.worst_rto_minutes.value", "headline.worst_data_rpo_minutes.value",
               "items.drills"),
    "retention": ("period.date", "headline.snapshots_deleted.value"),
    "invoice": ("client_id", "hours.included", "hours.used", "hours.rollover", "hours.overage", "hours.out_of_scope",
                "total", "currency"),
    "metrics": ("period", "headline"),
}
REQUIRED = ("availability", "incidents", "backups", "drills", "invoice")  # metrics and retention: where present


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
    }


def _backups(reports: list[dict], days_in_month: int) -> dict[str, Any]:
    green = sum(1 for r in reports if r["statuses"] and all(s.get("green") for s in r["statuses"].values()))
    return {"days_verified": len(reports), "days_green": green, "days_in_month": days_in_month}


def _drills(reports: list[dict]) -> dict[str, Any]:
    return {"drills": [{"date": r["period"]["date"], "worst_rto_minutes": r["headline"]["worst_rto_minutes"]["value"],
                        "worst_data_rpo_minutes": r["headline"]["worst_data_rpo_minutes"]["value"]} for r in reports]}


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


def build_review(*, client: Mapping[str, Any], month: str, bounds: Mapping[str, Any], plan_name: str,
                 plan_version: str, estate_name: str, generated_at: dt.datetime,
                 sources: Iterable[Source], days_in_month: int,
                 next_maintenance: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One client's review of `month` from its sources; `complete` only when every required section is."""
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
        "drills": _section("drills", by_kind.get("drills", []), _drills),
        "retention": _section("retention", by_kind.get("retention", []), _retention),
        "metrics": _section("metrics", by_kind.get("metrics", []), _metrics),
        "support": _section("invoice", invoices[-1:], _invoice),
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
    """Every artifact the month's reviews drew on: (key, S3 version id, bytes) -> sorted entries."""
    entries = {key: {"key": key, "version_id": version, "sha256": sha256(body), "bytes": len(body)}
               for key, version, body in artifacts}
    return {"kind": "evidence", "month": month, "artifacts": [entries[k] for k in sorted(entries)]}


def verify_evidence(bucket_copy_dir: Path, evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each artifact of `evidence` missing from, or changed in, a local copy of the bucket.

    Never re-hashes into the pack: a changed file is reported with both digests."""
    problems = []
    root = Path(bucket_copy_dir)
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
    return problems
