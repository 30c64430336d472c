"""The client-facing status page (plan §3.2 "communicate: update status page"), as pure rules.

- What estate-ops writes on the public page: `maintenance_notice` (a scheduled maintenance).
  Outside text never reaches the page raw: `public_text` keeps it printable, without markup, and
  bounded; a PagerDuty incident's title is never used at all.
- How estate-ops finds what it wrote: every incident it creates carries
  `metadata.estate_ops.<key> = <our id>` (`marked`), so a rerun finds it instead of creating a second.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

METADATA_NAMESPACE = "estate_ops"
PUBLIC_TEXT_LIMIT = 300


def public_text(text: str, limit: int = PUBLIC_TEXT_LIMIT) -> str:
    """Outside text fit for the public page: control and format characters dropped, whitespace
    collapsed, no markup (`<`, `>`, `[`, `]`, backticks removed), at most `limit` characters."""
    kept = "".join(" " if ch.isspace() else ch for ch in str(text)
                   if ch.isspace() or unicodedata.category(ch)[0] != "C")
    kept = re.sub(r"[<>\[\]`]", "", kept)
    kept = re.sub(r"\s+", " ", kept).strip()
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def maintenance_notice(start: dt.datetime, end: dt.datetime, reason: str, tz: ZoneInfo,
                       component_names: Iterable[str]) -> tuple[str, str]:
    """(name, body) of a scheduled maintenance: the window in the plan's zone and in UTC, the
    affected components, the announcer's reason made public-safe."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    names = ", ".join(public_text(n, 80) for n in component_names) or "the service"
    name = f"Planned maintenance: {names}"
    first = f"{local_start:%a %d %b %Y %H:%M}" + (f" {local_start:%Z}" if local_start.tzname() != local_end.tzname()
                                                  else "")
    span = (f"{first}-{local_end:%H:%M %Z} "
            f"({start.astimezone(dt.UTC):%H:%M}-{end.astimezone(dt.UTC):%H:%M} UTC)")
    body = f"Planned maintenance on {names}, {span}. The service may be unavailable during this window."
    why = public_text(reason)
    if why:
        body += f" Reason: {why}."
    return name[:255], body


def marked(incidents: Iterable[dict[str, Any]], key: str, value: str) -> list[dict[str, Any]]:
    """The incidents whose `metadata.estate_ops.<key>` is `value`."""
    found = []
    for incident in incidents:
        ours = (incident.get("metadata") or {}).get(METADATA_NAMESPACE) or {}
        if isinstance(ours, dict) and ours.get(key) == value:
            found.append(incident)
    return found


# ----------------------------------------------------------------------------- communicate (§3.2)

EXPLICIT = "explicit reference"
COMPONENT_TIME = "component and overlapping time"
ON_TIME, LATE, NEVER, PENDING = "on_time", "late", "never", "pending"
STEPS = ("detect", "triage", "communicate", "resolve", "review")


@dataclass(frozen=True)
class StatusIncident:
    """A status-page incident as the report needs it (realtime incidents only)."""

    id: str
    name: str
    created_at: dt.datetime
    first_public_at: dt.datetime | None  # the earliest update's display time
    resolved_at: dt.datetime | None
    component_ids: frozenset[str]
    references: str  # metadata values and the first update's text, where a PagerDuty reference may be
    link: str


def _time(value: Any, what: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{what}: not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{what}: time without an offset: {value!r}")
    return parsed.astimezone(dt.UTC)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif value is not None:
        yield str(value)


def parse_status_incident(raw: dict[str, Any], web_url: str) -> StatusIncident | None:
    """A Statuspage incident, or None for a scheduled maintenance (not an incident's communication)."""
    iid = str(raw.get("id") or "")
    if not iid:
        raise ValueError(f"status-page incident without an id: {str(raw)[:120]}")
    if raw.get("scheduled_for") or raw.get("status") in ("scheduled", "in_progress", "verifying", "completed"):
        return None
    what = f"status-page incident {iid}"
    updates = sorted(((_time(u.get("display_at") or u.get("created_at"), f"{what} update {u.get('id')}"),
                       str(u.get("body") or "")) for u in raw.get("incident_updates") or []
                      if u.get("display_at") or u.get("created_at")), key=lambda u: u[0])
    first_text = updates[0][1] if updates else ""
    link = str(raw.get("shortlink") or "")
    if not re.fullmatch(r"https://[^\s<>|\"']+", link):
        link = f"{web_url.rstrip('/')}/incidents/{iid}"
    return StatusIncident(
        id=iid, name=str(raw.get("name") or ""), created_at=_time(raw.get("created_at"), f"{what} created_at"),
        first_public_at=updates[0][0] if updates else None,
        resolved_at=_time(raw.get("resolved_at"), f"{what} resolved_at"),
        component_ids=frozenset(str(c.get("id")) for c in raw.get("components") or [] if c.get("id")),
        references=" ".join([*_strings(raw.get("metadata") or {}), first_text]), link=link)


@dataclass(frozen=True)
class PdIncident:
    """What linking and judging need of a PagerDuty incident."""

    id: str
    number: int | None
    severity: str
    service_id: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    link: str  # its PagerDuty URL


@dataclass(frozen=True)
class Link:
    status: StatusIncident | None
    rule: str | None  # EXPLICIT | COMPONENT_TIME | None
    note: str = ""


def _mentions(text: str, pd: PdIncident) -> bool:
    if pd.link and pd.link in text:
        return True
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(pd.id)}(?![A-Za-z0-9])", text) is not None


def link_incidents(pd_incidents: list[PdIncident], status_incidents: list[StatusIncident],
                   components: dict[str, list[str]], as_of: dt.datetime) -> dict[str, Link]:
    """Each PagerDuty incident's status-page incident. An explicit reference (its id or URL in the
    metadata or the first update) wins; failing that, the one status-page incident on a component of
    its service whose time overlaps it. Two candidates are reported, not guessed; a status-page
    incident explicitly linked to one incident is nobody else's by time."""
    status_incidents = [s for s in status_incidents if s.created_at <= as_of]  # the report is as of as_of
    links: dict[str, Link] = {}
    claimed: set[str] = set()
    for pd in pd_incidents:
        explicit = sorted((s for s in status_incidents if _mentions(s.references, pd)),
                          key=lambda s: (s.created_at, s.id))
        if explicit:
            links[pd.id] = Link(explicit[0], EXPLICIT, "" if len(explicit) == 1 else
                                f"also referenced by {', '.join(s.id for s in explicit[1:])}")
            claimed.update(s.id for s in explicit)
    for pd in pd_incidents:
        if pd.id in links:
            continue
        mine = set(components.get(pd.service_id, []))
        pd_end = pd.resolved_at or as_of
        candidates = sorted((s for s in status_incidents if s.id not in claimed and s.component_ids & mine
                             and s.created_at < pd_end and pd.created_at < (s.resolved_at or as_of)),
                            key=lambda s: (s.created_at, s.id))
        if len(candidates) == 1:
            links[pd.id] = Link(candidates[0], COMPONENT_TIME)
        elif candidates:
            links[pd.id] = Link(None, None, f"{len(candidates)} candidates by component and time "
                                            f"({', '.join(s.id for s in candidates)}): not guessed")
        else:
            links[pd.id] = Link(None, None)
    return links


def judge_step(done_at: dt.datetime | None, deadline: dt.datetime, as_of: dt.datetime) -> str:
    """on_time at or before the deadline, late after it, never when not done and the deadline has
    passed at `as_of`, pending otherwise."""
    if done_at is not None and done_at <= as_of:
        return ON_TIME if done_at <= deadline else LATE
    return NEVER if as_of > deadline else PENDING


def communication_rows(pd_incidents: list[PdIncident], links: dict[str, Link], *,
                       first_update_minutes: dict[str, int], resolved_within_minutes: int,
                       as_of: dt.datetime) -> list[dict[str, Any]]:
    """Per incident: the linked status-page incident and rule, the first public update against the
    severity's target, the status page's resolve against the PagerDuty resolve + the allowance, and
    the verdict: never (no linked incident, or no update by its deadline), late (either step late or
    the page never resolved), on_time, pending."""
    rows = []
    for pd in pd_incidents:
        link = links[pd.id]
        status = link.status
        update_due = pd.created_at + dt.timedelta(minutes=first_update_minutes[pd.severity])
        first = status.first_public_at if status else None
        update_state = judge_step(first, update_due, as_of)
        resolve_due = (pd.resolved_at + dt.timedelta(minutes=resolved_within_minutes)
                       if pd.resolved_at is not None and pd.resolved_at <= as_of else None)
        if resolve_due is None:
            resolve_state = PENDING
        elif status is None:
            resolve_state = NEVER
        else:
            resolve_state = judge_step(status.resolved_at, resolve_due, as_of)
        if status is None or update_state == NEVER:
            verdict = NEVER if update_state != PENDING else PENDING
        elif LATE in (update_state, resolve_state) or resolve_state == NEVER:
            verdict = LATE
        elif PENDING in (update_state, resolve_state):
            verdict = PENDING
        else:
            verdict = ON_TIME
        rows.append({
            "incident": pd.number if pd.number is not None else pd.id, "id": pd.id, "severity": pd.severity,
            "created_at": pd.created_at, "pagerduty_link": pd.link,
            "status_page_incident": status.id if status else None,
            "status_page_link": status.link if status else None,
            "linked_by": link.rule or ("not linked: " + link.note if link.note else "not linked"),
            "first_update_at": first, "first_update_due": update_due, "first_update": update_state,
            "status_page_resolved_at": status.resolved_at if status else None,
            "status_page_resolve_due": resolve_due, "status_page_resolve": resolve_state,
            "communication": verdict,
        })
    return rows


def timeline(pd: PdIncident, *, triaged_at: dt.datetime | None, triage_source: str,
             communication: dict[str, Any], postmortem: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The five steps of plan §3.2 for one incident: step, at, minutes after detection, source."""
    def row(step: str, at: dt.datetime | None, source: str) -> dict[str, Any]:
        after = None if at is None else round((at - pd.created_at).total_seconds() / 60, 1)
        return {"incident": pd.number if pd.number is not None else pd.id, "id": pd.id, "severity": pd.severity,
                "step": step, "at": at, "minutes_after_detect": after, "source": source if at else "none"}

    status = communication.get("status_page_incident")
    return [
        row("detect", pd.created_at, "PagerDuty incident created"),
        row("triage", triaged_at, triage_source),
        row("communicate", communication.get("first_update_at"),
            f"first public update of status-page incident {status} ({communication['linked_by']})"),
        row("resolve", pd.resolved_at, "PagerDuty incident resolved"),
        row("review", (postmortem or {}).get("evidence_at"),
            f"post-mortem {(postmortem or {}).get('evidence_source')}: {(postmortem or {}).get('evidence')}"),
    ]


@dataclass(frozen=True)
class StatusPageInput:
    """What the incident report reads from the status page: its incidents (raw, as listed) and the
    estate's map of PagerDuty service -> components."""

    incidents: list[dict[str, Any]]
    components: dict[str, list[str]]
    web_url: str


# ----------------------------------------------------------------------------- status_page_sync

OPEN, RESOLVED = "open", "resolved"  # the two updates the sync proposes per PagerDuty incident
STAGES = (OPEN, RESOLVED)
PD_INCIDENT_KEY = "pagerduty_incident"  # metadata.estate_ops key of the PagerDuty incident id
PD_URL_KEY = "pagerduty_url"
_PD_ID = re.compile(r"^[A-Z0-9]{1,32}$")  # a PagerDuty id as it may appear in an S3 key
# What the public page shows for an open incident of each severity (impact, component status).
IMPACT = {"P0": ("critical", "major_outage"), "P1": ("major", "partial_outage")}
# Statuspage's realtime statuses, open and done (a scheduled maintenance is not one of them).
UNRESOLVED_STATUSES = ("investigating", "identified", "monitoring")


def valid_pd_id(value: str) -> bool:
    return bool(_PD_ID.fullmatch(str(value)))


@dataclass(frozen=True)
class SyncWork:
    """What one sync run must ask about: open incidents with no status-page incident, and our
    unresolved status-page incidents whose PagerDuty incident is no longer open (to confirm)."""

    to_open: list[PdIncident]
    to_resolve: list[tuple[str, str]]  # (PagerDuty incident id, status-page incident id)
    skipped: dict[str, str]  # PagerDuty incident id -> why nothing is asked


def sync_work(open_incidents: list[PdIncident], unresolved: list[dict[str, Any]], decided: set[tuple[str, str]],
              components: dict[str, list[str]], web_url: str, as_of: dt.datetime) -> SyncWork:
    """The open (P0/P1) incidents to draft a status-page incident for: neither asked before (a record
    in `decided`, whatever its outcome) nor linked by `link_incidents` to an unresolved status-page
    incident (ours or a person's; two candidates count as handled by a person). And the unresolved
    status-page incidents estate-ops published for a PagerDuty incident no longer open, whose
    "resolved" update was not asked before."""
    status = [s for s in (parse_status_incident(raw, web_url) for raw in unresolved) if s is not None]
    later = max([as_of, *(s.created_at for s in status), *(p.created_at for p in open_incidents)])
    links = link_incidents(open_incidents, status, components, later)
    to_open, skipped = [], {}
    for pd in open_incidents:
        if (pd.id, OPEN) in decided:
            skipped[pd.id] = "asked before"
        elif links[pd.id].status is not None or links[pd.id].note:
            skipped[pd.id] = (f"status-page incident {links[pd.id].status.id} ({links[pd.id].rule})"
                              if links[pd.id].status else links[pd.id].note)
        else:
            to_open.append(pd)
    open_ids = {pd.id for pd in open_incidents}
    to_resolve = []
    for raw in unresolved:
        ours = (raw.get("metadata") or {}).get(METADATA_NAMESPACE) or {}
        pd_id = str(ours.get(PD_INCIDENT_KEY) or "") if isinstance(ours, dict) else ""
        if (pd_id and valid_pd_id(pd_id) and pd_id not in open_ids and (pd_id, RESOLVED) not in decided
                and raw.get("status") in UNRESOLVED_STATUSES):
            to_resolve.append((pd_id, str(raw["id"])))
    return SyncWork(to_open, sorted(to_resolve), skipped)


def draft_values(stage: str, severity: str, severity_name: str, component_names: Iterable[str],
                 started_at: dt.datetime, tz: ZoneInfo, resolved_at: dt.datetime | None = None) -> dict[str, Any]:
    """What the status-page template (include/templates/statuspage.txt.j2) is given: the stage, the
    severity's public wording, the affected components (public-safe), the times in the plan's zone
    and in UTC. Never anything the PagerDuty incident's reporter typed."""
    def when(value: dt.datetime) -> str:
        local = value.astimezone(tz)
        return f"{local:%a %d %b %Y %H:%M %Z} ({value.astimezone(dt.UTC):%H:%M} UTC)"

    names = [public_text(n, 80) for n in component_names]
    return {"stage": stage, "severity": severity, "severity_name": public_text(severity_name, 40),
            "impact": IMPACT[severity][0], "components": ", ".join(n for n in names if n) or "the service",
            "started": when(started_at), "resolved": when(resolved_at) if resolved_at else None}


def split_draft(text: str) -> tuple[str, str]:
    """(name, body) of a rendered draft: the first line is the name, a line `---` ends it."""
    head, sep, body = text.strip().partition("\n---\n")
    if not sep:
        raise ValueError("status-page template must render the name, a line '---', then the body")
    name = public_text(head, 255)
    body = "\n".join(public_text(line, 1000) for line in body.strip().splitlines()).strip()
    if not name or not body:
        raise ValueError("status-page template rendered an empty name or body")
    return name, body
