"""Incident response SLA (plan §1.2, §3.2): response and resolution per severity, post-mortems.

Pure: takes PagerDuty records as plain dicts (wire format) and returns plain data.

Rules (DESIGN.md §6):
- Severity comes only from the incident's priority through estate.yaml `priority_map`; a
  missing or unmapped priority is listed as such and never guessed into a severity.
- Time to respond = created -> first `acknowledge_log_entry` (from log entries fetched in bulk,
  because PagerDuty empties `acknowledgements[]` when an incident resolves); an incident
  resolved without an acknowledgement responds when it resolves.
- Time to resolve = created -> resolved. P3 resolves by "the next release": the first release
  date after the day it was created (plan time zone), met when resolved by the end of that day.
- The report is as of `as_of` (the run's logical time): what happened later is not known yet, so
  a rerun of the same run gives the same bytes. An outcome is `met` or `breached` once decided,
  `pending` while still within its target (or, for P3, while no release has been set).
- Percentiles are nearest-rank (p95 is an observed value); the median is the usual one.
  Compliance % = met / (met + breached), rounded down so 99.96 % is never shown as 100 %.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from estate_ops.domain.findings import Finding, sort_findings
from estate_ops.domain.periods import UTC, Month

MET, BREACHED, PENDING = "met", "breached", "pending"
SEVERITY_ORDER = ("P0", "P1", "P2", "P3")


class IncidentDataError(ValueError):
    """A PagerDuty record is not what the API promises (a malformed or missing field)."""


# ----------------------------------------------------------------------------- parsing


def parse_time(value: Any, what: str) -> dt.datetime:
    """An ISO 8601 instant with a zone (PagerDuty writes `...Z`); anything else is an error naming `what`."""
    if not isinstance(value, str) or not value.strip():
        raise IncidentDataError(f"{what}: expected an ISO 8601 date-time, got {value!r}")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise IncidentDataError(f"{what}: expected an ISO 8601 date-time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise IncidentDataError(f"{what}: expected a date-time with a zone offset, got {value!r}")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Incident:
    id: str
    number: int | None
    title: str
    service_id: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None  # as PagerDuty reports it now (may be after the report's as_of)
    priority_id: str | None
    priority_name: str | None
    html_url: str | None


def parse_incident(raw: Mapping[str, Any]) -> Incident:
    incident_id = raw.get("id")
    if not isinstance(incident_id, str) or not incident_id:
        raise IncidentDataError(f"incident record without an id: {dict(raw)!r:.200}")
    where = f"incident {incident_id}"
    resolved = raw.get("resolved_at")
    if resolved is None and raw.get("status") == "resolved":
        # Older records lack resolved_at; the last status change of a resolved incident is its resolve.
        resolved = raw.get("last_status_change_at")
    priority = raw.get("priority") or None
    service = raw.get("service") or {}
    return Incident(
        id=incident_id,
        number=raw.get("incident_number"),
        title=str(raw.get("title") or raw.get("summary") or ""),
        service_id=str(service.get("id") or ""),
        created_at=parse_time(raw.get("created_at"), f"{where} created_at"),
        resolved_at=parse_time(resolved, f"{where} resolved_at") if resolved is not None else None,
        priority_id=priority.get("id") if priority else None,
        priority_name=(priority.get("name") or priority.get("summary")) if priority else None,
        html_url=raw.get("html_url"),
    )


@dataclass(frozen=True)
class LogFacts:
    """What the bulk log entries tell about each incident."""

    first_ack: dict[str, dt.datetime] = field(default_factory=dict)
    notes: dict[str, list[tuple[dt.datetime, str]]] = field(default_factory=dict)  # (created_at, text)
    entries_read: int = 0


def log_facts(entries: Iterable[Mapping[str, Any]]) -> LogFacts:
    """First acknowledgement and note texts per incident, from `GET /log_entries` records."""
    first_ack: dict[str, dt.datetime] = {}
    notes: dict[str, list[tuple[dt.datetime, str]]] = {}
    count = 0
    for entry in entries:
        count += 1
        kind = entry.get("type")
        if kind not in ("acknowledge_log_entry", "annotate_log_entry"):
            continue
        incident_id = (entry.get("incident") or {}).get("id")
        if not incident_id:
            continue
        at = parse_time(entry.get("created_at"), f"log entry {entry.get('id')} created_at")
        if kind == "acknowledge_log_entry":
            if incident_id not in first_ack or at < first_ack[incident_id]:
                first_ack[incident_id] = at
        else:
            channel = entry.get("channel") or {}
            text = " ".join(str(channel.get(k) or "") for k in ("summary", "content", "details"))
            notes.setdefault(incident_id, []).append((at, text))
    return LogFacts(first_ack, notes, count)


# ----------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Targets:
    response_minutes: int
    resolution_minutes: int | None  # None: by the next release


def targets_from_plan(plan: Any) -> dict[str, Targets]:
    return {sev: Targets(t.response_minutes, t.resolution_minutes) for sev, t in plan.severities.items()}


def release_deadline(created_at: dt.datetime, releases: Iterable[dt.date], tz: dt.tzinfo) -> tuple[dt.date, dt.datetime] | None:
    """The first release after the day `created_at` falls on (in `tz`), and the end of that day.

    A release on the creation day itself may already have shipped before the incident: the
    next release is strictly later. None when no release is scheduled after it.
    """
    created_day = created_at.astimezone(tz).date()
    later = sorted(day for day in releases if day > created_day)
    if not later:
        return None
    release = later[0]
    end_of_day = dt.datetime.combine(release + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(UTC)
    return release, end_of_day


def judge(done_at: dt.datetime | None, deadline: dt.datetime | None, as_of: dt.datetime) -> str:
    """met if done by the deadline; breached if done late or still not done past it; else pending."""
    if done_at is not None:
        return MET if deadline is None or done_at <= deadline else BREACHED
    if deadline is not None and as_of > deadline:
        return BREACHED
    return PENDING


def combine(response: str, resolution: str) -> str:
    if BREACHED in (response, resolution):
        return BREACHED
    if response == resolution == MET:
        return MET
    return PENDING


# ----------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    id: str
    number: int | None
    title: str
    service_id: str
    link: str
    priority: str | None  # the PagerDuty priority name (or id)
    severity: str | None  # P0..P3, None when missing/unmapped
    classification: str  # mapped | missing_priority | unmapped_priority | anomaly
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    responded_at: dt.datetime | None
    resolved_at: dt.datetime | None  # only when resolved by as_of
    response_seconds: int | None
    resolution_seconds: int | None
    response_deadline: dt.datetime | None
    resolution_deadline: dt.datetime | None
    release: dt.date | None
    response: str  # met | breached | pending ("" when unclassified)
    resolution: str
    status: str
    open_at_month_end: bool
    anomaly: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _seconds(start: dt.datetime, end: dt.datetime | None) -> int | None:
    return None if end is None else int((end - start).total_seconds())


def evaluate(incident: Incident, first_ack: dt.datetime | None, *, priority_map: Mapping[str, str],
             targets: Mapping[str, Targets], releases: Iterable[dt.date], tz: dt.tzinfo,
             as_of: dt.datetime, month_end: dt.datetime, web_url: str) -> Outcome:
    """One incident's outcome as known at `as_of`."""
    link = f"{web_url.rstrip('/')}/incidents/{incident.id}"
    resolved = incident.resolved_at if incident.resolved_at is not None and incident.resolved_at <= as_of else None
    ack = first_ack if first_ack is not None and first_ack <= as_of else None
    anomaly = None
    if incident.resolved_at is not None and incident.resolved_at < incident.created_at:
        anomaly = f"resolved at {incident.resolved_at:%Y-%m-%d %H:%M:%S}Z, before it was created"
    elif first_ack is not None and first_ack < incident.created_at:
        anomaly = f"acknowledged at {first_ack:%Y-%m-%d %H:%M:%S}Z, before it was created"
    if incident.priority_id is None:
        severity, classification = None, "missing_priority"
    elif incident.priority_id not in priority_map:
        severity, classification = None, "unmapped_priority"
    else:
        severity, classification = priority_map[incident.priority_id], "mapped"
    if anomaly:
        classification = "anomaly"
    # The first answer: an acknowledgement, or the resolve when nobody acknowledged first.
    responded = min((t for t in (ack, resolved) if t is not None), default=None)
    open_at_month_end = incident.resolved_at is None or incident.resolved_at >= month_end
    base = {
        "id": incident.id, "number": incident.number, "title": incident.title, "service_id": incident.service_id,
        "link": link, "priority": incident.priority_name or incident.priority_id, "created_at": incident.created_at,
        "acknowledged_at": ack, "responded_at": responded, "resolved_at": resolved,
        "response_seconds": _seconds(incident.created_at, responded),
        "resolution_seconds": _seconds(incident.created_at, resolved),
        "open_at_month_end": open_at_month_end,
    }
    if severity is None or anomaly:
        # Not judged: a guess would put a wrong number in somebody's compliance figure.
        return Outcome(**base, severity=severity, classification=classification, response_deadline=None,
                       resolution_deadline=None, release=None, response="", resolution="", status="",
                       anomaly=anomaly)
    target = targets[severity]
    response_deadline = incident.created_at + dt.timedelta(minutes=target.response_minutes)
    release = None
    if target.resolution_minutes is not None:
        resolution_deadline = incident.created_at + dt.timedelta(minutes=target.resolution_minutes)
    else:
        found = release_deadline(incident.created_at, releases, tz)
        release, resolution_deadline = found if found else (None, None)
    response = judge(responded, response_deadline, as_of)
    resolution = judge(resolved, resolution_deadline, as_of)
    return Outcome(**base, severity=severity, classification=classification,
                   response_deadline=response_deadline, resolution_deadline=resolution_deadline,
                   release=release, response=response, resolution=resolution,
                   status=combine(response, resolution))


# ----------------------------------------------------------------------------- statistics


def median_seconds(values: list[int]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[mid])
    return Decimal(ordered[mid - 1] + ordered[mid]) / 2


def nearest_rank(values: list[int], percentile: int) -> int | None:
    """The smallest observed value with at least `percentile` % of observations at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile * len(ordered) / 100))
    return ordered[rank - 1]


def minutes(seconds: Decimal | int | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(seconds) / 60).quantize(Decimal("0.1"))


def compliance_percent(met: int, breached: int) -> Decimal | None:
    if met + breached == 0:
        return None
    return (Decimal(100 * met) / (met + breached)).quantize(Decimal("0.1"), rounding=ROUND_DOWN)


def severity_stats(outcomes: list[Outcome], severity: str, targets: Targets) -> dict[str, Any]:
    mine = [o for o in outcomes if o.severity == severity and o.classification == "mapped"]
    response = [o.response_seconds for o in mine if o.response_seconds is not None]
    resolution = [o.resolution_seconds for o in mine if o.resolution_seconds is not None]

    def counts(attr: str) -> dict[str, int]:
        return {s: sum(getattr(o, attr) == s for o in mine) for s in (MET, BREACHED, PENDING)}

    overall = counts("status")
    return {
        "severity": severity,
        "incidents": len(mine),
        "response_target_min": targets.response_minutes,
        "resolution_target": (f"{targets.resolution_minutes} min" if targets.resolution_minutes is not None
                              else "next release"),
        "response_median_min": minutes(median_seconds(response)),
        "response_p95_min": minutes(nearest_rank(response, 95)),
        "resolution_median_min": minutes(median_seconds(resolution)),
        "resolution_p95_min": minutes(nearest_rank(resolution, 95)),
        "response_met": counts("response")[MET],
        "response_breached": counts("response")[BREACHED],
        "response_pending": counts("response")[PENDING],
        "resolution_met": counts("resolution")[MET],
        "resolution_breached": counts("resolution")[BREACHED],
        "resolution_pending": counts("resolution")[PENDING],
        "met": overall[MET],
        "breached": overall[BREACHED],
        "pending": overall[PENDING],
        "compliance_percent": compliance_percent(overall[MET], overall[BREACHED]),
    }


# ----------------------------------------------------------------------------- post-mortems


@dataclass(frozen=True)
class Evidence:
    incident_id: str
    at: dt.datetime
    source: str  # note | bucket
    reference: str  # the linked URL, or the object key


def note_evidence(notes: Mapping[str, list[tuple[dt.datetime, str]]], pattern: str) -> list[Evidence]:
    """Notes whose text matches the post-mortem pattern (its first group, when any, is the link)."""
    regex = re.compile(pattern)
    found = []
    for incident_id, items in notes.items():
        for at, text in items:
            match = regex.search(text or "")
            if match:
                found.append(Evidence(incident_id, at, "note", match.group(1) if regex.groups else match.group(0)))
    return found


def postmortem_status(outcomes: list[Outcome], evidence: Iterable[Evidence], *, required_for: Iterable[str],
                      within_hours: int, as_of: dt.datetime) -> list[dict[str, Any]]:
    """One row per resolved incident whose severity requires a post-mortem.

    on_time: evidence exists by resolve + `within_hours`; late: only after; missing: none and the
    deadline has passed; pending: none yet, deadline still ahead at `as_of`.
    """
    required = set(required_for)
    earliest: dict[str, Evidence] = {}
    for item in evidence:
        if item.incident_id not in earliest or (item.at, item.reference) < (earliest[item.incident_id].at,
                                                                          earliest[item.incident_id].reference):
            earliest[item.incident_id] = item
    rows = []
    for o in outcomes:
        if o.classification != "mapped" or o.severity not in required or o.resolved_at is None:
            continue
        due = o.resolved_at + dt.timedelta(hours=within_hours)
        ev = earliest.get(o.id)
        if ev is not None and ev.at <= as_of:
            state = "on_time" if ev.at <= due else "late"
        else:
            ev = None
            state = "missing" if as_of > due else "pending"
        rows.append({"incident_id": o.id, "number": o.number, "severity": o.severity, "title": o.title,
                     "resolved_at": o.resolved_at, "due_at": due, "state": state,
                     "evidence_at": ev.at if ev else None, "evidence_source": ev.source if ev else None,
                     "evidence": ev.reference if ev else None, "link": o.link})
    return sorted(rows, key=lambda r: (r["resolved_at"], r["incident_id"]))


# ----------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class IncidentSettings:
    """What the report needs from estate.yaml, as plain data."""

    services: dict[str, str]  # id -> name
    priority_map: dict[str, str]
    releases: list[dt.date]
    web_url: str
    postmortem_note_pattern: str


def settings_from_estate(estate: Any) -> IncidentSettings:
    pd = estate.pagerduty
    return IncidentSettings({s.id: s.name for s in pd.services}, dict(pd.priority_map), list(pd.releases),
                            pd.web_url, pd.postmortem_note_pattern)


def _row(o: Outcome) -> dict[str, Any]:
    return {
        "incident": o.number if o.number is not None else o.id, "id": o.id, "severity": o.severity,
        "title": o.title, "created_at": o.created_at, "responded_at": o.responded_at,
        "resolved_at": o.resolved_at, "response_min": minutes(o.response_seconds),
        "resolution_min": minutes(o.resolution_seconds), "response": o.response, "resolution": o.resolution,
        "status": o.status, "link": o.link,
    }


def _breach_rows(outcomes: list[Outcome], targets: Mapping[str, Targets], as_of: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    for o in outcomes:
        for what, state, deadline, took in (("response", o.response, o.response_deadline, o.response_seconds),
                                             ("resolution", o.resolution, o.resolution_deadline, o.resolution_seconds)):
            if state != BREACHED:
                continue
            t = targets[o.severity]
            if what == "response":
                target = f"{t.response_minutes} min"
            elif t.resolution_minutes is not None:
                target = f"{t.resolution_minutes} min"
            else:
                target = f"release {o.release}"
            rows.append({
                "incident": o.number if o.number is not None else o.id, "id": o.id, "severity": o.severity,
                "target": what, "limit": target, "deadline": deadline,
                "actual_min": minutes(took) if took is not None else None,
                "still_open": took is None,
                "overdue_min": minutes(int(((o.resolved_at if what == "resolution" else o.responded_at)
                                            or as_of).timestamp() - deadline.timestamp())),
                "title": o.title, "link": o.link,
            })
    return sorted(rows, key=lambda r: (r["severity"], str(r["incident"]), r["target"]))


def build_incident_report(plan: Any, settings: IncidentSettings, month: Month, as_of: dt.datetime,
                          raw_incidents: Iterable[Mapping[str, Any]], facts: LogFacts,
                          bucket_evidence: Iterable[Evidence], *, oncall: dict[str, Any] | None = None,
                          extra_findings: Iterable[Finding] = (), estate_name: str = "",
                          api_calls: int | None = None,
                          status_page: Any | None = None) -> tuple[dict[str, Any], list[Finding]]:
    """The monthly incident SLA report and its findings (breaches, post-mortems, on-call)."""
    tz = ZoneInfo(plan.plan.timezone)
    bounds = plan.month_bounds(month)
    start, end = bounds.start, bounds.end
    if as_of < end:
        raise ValueError(f"as_of {as_of.isoformat()} is before the end of {month}: the month is not over")
    targets = targets_from_plan(plan)
    incidents: dict[str, Incident] = {}
    for raw in raw_incidents:
        inc = parse_incident(raw)
        # Only the month's incidents of the estate's services, each once (pages may overlap at split points).
        if start <= inc.created_at < end and inc.service_id in settings.services:
            incidents[inc.id] = inc
    outcomes = sorted(
        (evaluate(inc, facts.first_ack.get(inc.id), priority_map=settings.priority_map, targets=targets,
                  releases=settings.releases, tz=tz, as_of=as_of, month_end=end, web_url=settings.web_url)
         for inc in incidents.values()),
        key=lambda o: (o.created_at, o.id))
    per_severity = [severity_stats(outcomes, sev, targets[sev]) for sev in SEVERITY_ORDER]
    judged = [o for o in outcomes if o.classification == "mapped"]
    met = sum(o.status == MET for o in judged)
    breached = sum(o.status == BREACHED for o in judged)
    pending = sum(o.status == PENDING for o in judged)
    breaches = _breach_rows(judged, targets, as_of)
    unclassified = [{"incident": o.number if o.number is not None else o.id, "id": o.id,
                     "problem": o.classification.replace("_", " "), "priority": o.priority,
                     "title": o.title, "created_at": o.created_at, "link": o.link}
                    for o in outcomes if o.classification in ("missing_priority", "unmapped_priority")]
    anomalies = [{"incident": o.number if o.number is not None else o.id, "id": o.id, "problem": o.anomaly,
                  "created_at": o.created_at, "link": o.link} for o in outcomes if o.anomaly]
    open_at_end = []
    for o in outcomes:
        if not o.open_at_month_end or o.classification == "anomaly":
            continue
        passed = [name for name, deadline, done in (("response", o.response_deadline, o.responded_at),
                                                     ("resolution", o.resolution_deadline, o.resolved_at))
                  if deadline is not None and deadline < end and not (done is not None and done <= deadline)]
        open_at_end.append({"incident": o.number if o.number is not None else o.id, "id": o.id,
                            "severity": o.severity, "created_at": o.created_at,
                            "elapsed_at_month_end_min": minutes(int((end - o.created_at).total_seconds())),
                            "breached_at_month_end": ", ".join(passed) or "no",
                            "resolved_at": o.resolved_at, "status": o.status or o.classification, "link": o.link})

    note_items = note_evidence(facts.notes, settings.postmortem_note_pattern)
    postmortems = postmortem_status(outcomes, [*note_items, *bucket_evidence],
                                    required_for=plan.postmortem.required_for,
                                    within_hours=plan.postmortem.within_hours, as_of=as_of)

    period = str(month)
    findings: list[Finding] = []
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for b in breaches:
        by_incident.setdefault(b["id"], []).append(b)
    for incident_id, rows in by_incident.items():
        first = rows[0]
        what = " and ".join(r["target"] for r in rows)
        findings.append(Finding.of(
            plan, "incident_sla_breach", incident_id,
            f"{first['severity']} incident #{first['incident']} breached its {what} target: {first['title']}"[:300],
            period, severity_of_incident=first["severity"], targets=[r["target"] for r in rows],
            link=first["link"]))
    for row in postmortems:
        if row["state"] in ("missing", "late"):
            kind = "postmortem_missing" if row["state"] == "missing" else "postmortem_late"
            findings.append(Finding.of(
                plan, kind, row["incident_id"],
                f"{row['severity']} incident #{row['number']}: post-mortem {row['state']} "
                f"(due {row['due_at']:%Y-%m-%d %H:%M} UTC)", period, link=row["link"]))
    communication = (communication_section(plan, outcomes, facts, postmortems, status_page, as_of, period)
                     if status_page is not None else None)
    if communication is not None:
        findings.extend(communication["findings"])
    findings.extend(extra_findings)
    findings = sort_findings(findings)

    oncall = oncall or {}
    warnings = []
    if unclassified:
        warnings.append(f"{len(unclassified)} incident(s) have a missing or unmapped priority: they are listed, "
                        "not counted in any severity (map their priority in estate.yaml pagerduty.priority_map)")
    if anomalies:
        warnings.append(f"{len(anomalies)} incident(s) have inconsistent times and are left out of the figures")
    warnings.extend(oncall.get("warnings", []))
    pm_counts = {s: sum(r["state"] == s for r in postmortems) for s in ("on_time", "late", "missing", "pending")}
    headline = {
        "incidents": {"value": len(outcomes), "unit": "incidents"},
        "compliance": {"value": compliance_percent(met, breached), "unit": "%"},
        "breaches": {"value": len(by_incident), "unit": "incidents"},
        "postmortems_missing_or_late": {"value": pm_counts["missing"] + pm_counts["late"], "unit": "incidents"},
    }
    headline.update(oncall.get("headline", {}))
    figures: dict[str, Any] = {
        "met": {"value": met, "unit": "incidents"},
        "breached": {"value": breached, "unit": "incidents"},
        "pending": {"value": pending, "unit": "incidents"},
        "open_at_month_end": {"value": len(open_at_end), "unit": "incidents"},
        "unclassified": {"value": len(unclassified), "unit": "incidents"},
        "anomalies": {"value": len(anomalies), "unit": "incidents"},
    }
    for sev in per_severity:
        s = sev["severity"]
        figures[f"{s}_compliance"] = {"value": sev["compliance_percent"], "unit": "%"}
        for metric in ("response_median", "response_p95", "resolution_median", "resolution_p95"):
            figures[f"{s}_{metric}"] = {"value": sev[f"{metric}_min"], "unit": "min"}
    for state, count in pm_counts.items():
        figures[f"postmortems_{state}"] = {"value": count, "unit": "incidents"}
    figures.update(oncall.get("figures", {}))
    if communication is not None:
        figures.update(communication["figures"])
        headline["status_page_late_or_never"] = communication["headline"]
    inputs = {
        "incidents": len(outcomes),
        "log_entries": facts.entries_read,
        "postmortem_notes": len(note_items),
        "postmortem_objects": len({e.reference for e in bucket_evidence}),
        "services": len(settings.services),
    }
    if api_calls is not None:
        inputs["pagerduty_api_calls"] = api_calls
    inputs.update(oncall.get("inputs", {}))
    if communication is not None:
        inputs["status_page_incidents"] = communication["inputs"]
    report = {
        "kind": "incidents",
        "title": f"Incident response SLA — {estate_name or 'estate'} — {month}",
        "period": {**bounds.as_dict(), "as_of": as_of},
        "plan_version": plan.plan.version,
        "headline": headline,
        "inputs": inputs,
        "figures": figures,
        "targets": {s: {"response_min": t.response_minutes,
                        "resolution": t.resolution_minutes if t.resolution_minutes is not None else "next_release"}
                    for s, t in targets.items()},
        "items": {
            "per_severity": per_severity,
            "breaches": breaches,
            "open_at_month_end": open_at_end,
            "unclassified": unclassified,
            "anomalies": anomalies,
            "postmortems": postmortems,
            **oncall.get("items", {}),
            **({"communication": communication["rows"], "communication_per_severity": communication["per_severity"],
                "timeline": communication["timeline"]} if communication is not None else {}),
            "incidents": [_row(o) for o in outcomes if o.classification == "mapped"],
        },
        "findings": [f.as_dict() for f in findings],
        "warnings": warnings,
    }
    return report, findings


def communication_section(plan: Any, outcomes: list[Outcome], facts: LogFacts, postmortems: list[dict[str, Any]],
                          status_page: Any, as_of: dt.datetime, period: str) -> dict[str, Any]:
    """Plan §3.2 for every P0/P1 incident (plan.yaml communication.required_for): the status-page
    incident linked to it (domain/statuspage.py), its first public update and its resolve against the
    targets, the five-step timeline, per severity on time / late / never, a finding per late or
    missing one."""
    from estate_ops.domain import statuspage as sp

    terms = plan.communication
    required = list(terms.required_for)
    status = [s for s in (sp.parse_status_incident(raw, status_page.web_url) for raw in status_page.incidents)
              if s is not None]
    pds = [sp.PdIncident(o.id, o.number, o.severity, o.service_id, o.created_at, o.resolved_at, o.link)
           for o in outcomes if o.classification == "mapped" and o.severity in required]
    links = sp.link_incidents(pds, status, status_page.components, as_of)
    first_update = {s: t.response_minutes for s, t in targets_from_plan(plan).items()}
    rows = sp.communication_rows(pds, links, first_update_minutes=first_update,
                                 resolved_within_minutes=terms.resolved_within_minutes, as_of=as_of)
    pm = {r["incident_id"]: r for r in postmortems}
    timeline = []
    for pd, row in zip(pds, rows, strict=True):
        ack = facts.first_ack.get(pd.id)
        timeline.extend(sp.timeline(pd, triaged_at=ack if ack is not None and ack <= as_of else None,
                                    triage_source="first acknowledgement (PagerDuty log entries)",
                                    communication=row, postmortem=pm.get(pd.id)))
    states = (sp.ON_TIME, sp.LATE, sp.NEVER, sp.PENDING)
    per_severity = [{"severity": s, "incidents": sum(r["severity"] == s for r in rows),
                     **{state: sum(r["severity"] == s and r["communication"] == state for r in rows)
                        for state in states}} for s in required]
    findings = []
    for row in rows:
        if row["communication"] not in (sp.LATE, sp.NEVER):
            continue
        kind = "status_page_late" if row["communication"] == sp.LATE else "status_page_missing"
        what = (f"first public update {row['first_update'].replace('_', ' ')}, status page resolve "
                f"{row['status_page_resolve'].replace('_', ' ')}" if row["status_page_incident"]
                else f"no status-page incident ({row['linked_by']})")
        findings.append(Finding.of(
            plan, kind, row["id"], f"{row['severity']} incident #{row['incident']}: status page "
            f"{'late' if kind == 'status_page_late' else 'never updated'}: {what}"[:300], period,
            link=row["pagerduty_link"], status_page_link=row["status_page_link"],
            first_update_due=row["first_update_due"]))
    figures = {f"communication_{state}": {"value": sum(r["communication"] == state for r in rows),
                                          "unit": "incidents"} for state in states}
    figures["status_page_resolve_allowance"] = {"value": terms.resolved_within_minutes, "unit": "min"}
    late_or_never = figures["communication_late"]["value"] + figures["communication_never"]["value"]
    return {"rows": rows, "per_severity": per_severity, "timeline": timeline, "findings": findings,
            "figures": figures, "headline": {"value": late_or_never, "unit": "incidents"},
            "inputs": sum(s.created_at <= as_of for s in status)}


def slack_summary(report: dict[str, Any]) -> str:
    from estate_ops.domain.slacktext import slack_escape as e

    h, f = report["headline"], report["figures"]
    comp = h["compliance"]["value"]
    lines = [(f"*Incident SLA {report['period']['month']}*: {h['incidents']['value']} incidents, "
             f"compliance {comp if comp is not None else 'n/a'} %, {h['breaches']['value']} breached, "
             f"{f['pending']['value']} pending, {f['open_at_month_end']['value']} open at month end")]
    for row in report["items"]["per_severity"]:
        if row["incidents"]:
            lines.append(f"• {e(row['severity'])}: {row['incidents']} incidents, respond p95 "
                         f"{row['response_p95_min']} min, resolve p95 {row['resolution_p95_min']} min, "
                         f"{row['breached']} breached, compliance {row['compliance_percent']} %")
    lines.append(f"Post-mortems: {f['postmortems_on_time']['value']} on time, {f['postmortems_late']['value']} late, "
                 f"{f['postmortems_missing']['value']} missing")
    if "primary_coverage" in f:
        lines.append(f"On-call coverage: primary {f['primary_coverage']['value']} %, "
                     f"secondary {f['secondary_coverage']['value']} %")
    if "communication_on_time" in f:
        lines.append(f"Status page (P0/P1): {f['communication_on_time']['value']} on time, "
                     f"{f['communication_late']['value']} late, {f['communication_never']['value']} never")
    if f["unclassified"]["value"]:
        lines.append(f":warning: {f['unclassified']['value']} incident(s) with a missing or unmapped priority")
    return "\n".join(lines)
