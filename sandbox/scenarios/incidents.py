"""Incidents scenario: a month of PagerDuty incidents, notes, post-mortems and on-call for the
`incident_sla_report` DAG.

About 60 incidents in the reference month on the estate's services, across P0-P3 (through the
estate's priority map), each with realistic log entries (trigger, assign, notify, escalate,
acknowledge, resolve, notes). Cases the report must get right, by title prefix:

- `[resp-breach]`   acknowledged after the response target (P0 at +32 min, P2 at +5 h)
- `[resol-breach]`  resolved after the resolution target (P1 at +11 h)
- `[no-ack]`        resolved before anyone acknowledged: it responds when it resolves
- `[no-priority]`   no priority at all; `[unmapped]` a priority the estate does not map
- `[open]`          still open at the end of the month (and at the sandbox's now)
- `[last-day]`      created on the month's last day, resolved the next morning
- `[p3-open]`       a P3 still open, its next release not yet come
- `[pm-late]`       post-mortem note 70 h after resolution; `[pm-missing]` none at all;
  `[pm-bucket]`     post-mortem as an object under postmortems/<id>/ in the reports bucket;
  every other resolved P0/P1 has a note "Post-mortem: <url>" within 48 h.

Status page (when the estate has one): every P0/P1 incident of the month has a status-page
incident on its service's components, explicitly referencing it (its id in the metadata, or its URL
in the first update), first update within the response time and resolved 10-30 min after PagerDuty —
except `[resol-breach]` (first public update 90 min in: late), `[pm-missing]` (never communicated)
and `[pm-bucket]` (no reference: linked by component and time only). A completed scheduled
maintenance in the month must link to nothing.

Also a few incidents just outside the month (late September, early November), and the
secondary schedule with a 6-hour gap (two layers, the second starting 6 h after the first
ends) in the month. The escalation policy is the base scenario's (primary, secondary, Tech
Lead, PM, Sponsor).

Benchmark mode: with SANDBOX_INCIDENTS_BULK=N in the sandbox's environment, generated
incidents are added so the month holds N in total (e.g. 5000 for `bench/incidents.py`).
"""

from __future__ import annotations

import datetime as dt
import os

from sandbox.context import SeedContext

BULK_ENV = "SANDBOX_INCIDENTS_BULK"
ENGINEERS = ["PUSRENG1", "PUSRENG2", "PUSRENG3", "PUSRENG4"]
UNMAPPED_PRIORITY_ID = "PPRIP05"
WIKI = "https://wiki.legacy.example/postmortems"
GAP_HOURS = 6

# (title, severity or None/"unmapped", day, hour, minute, ack after min or None, resolve after min or
#  None, post-mortem: "note" | "late" | "missing" | "bucket" | None). A day of -1 is the month's last
#  day, -2 the one before it, and so on: every month has days 1-28, and its own last day.
SPECIAL = [
    ("[resp-breach] API 5xx storm after deploy", "P0", 3, 14, 0, 32, 120, "note"),
    ("[pm-bucket] Database failover", "P0", 9, 2, 10, 6, 95, "bucket"),
    ("[resol-breach] Web login loop", "P1", 12, 8, 30, 20, 660, "late"),
    ("[pm-missing] Document uploads failing", "P1", 14, 16, 45, 12, 240, "missing"),
    ("[no-ack] Certificate near expiry alarm", "P1", 16, 11, 0, None, 40, "note"),
    ("[no-priority] Disk usage alarm", None, 18, 7, 20, 10, 50, None),
    ("[unmapped] Marketing page typo", "unmapped", 20, 15, 0, 200, 900, None),
    ("[resp-breach] Search results stale", "P2", 22, 9, 0, 300, 1200, None),
    ("[open] Nightly export intermittently slow", "P2", -2, 10, 0, 60, None, None),
    ("[p3-open] Footer link points to old domain", "P3", -4, 13, 0, 180, None, None),
    ("[last-day] API latency above threshold", "P1", -1, 23, 30, 25, 330, "note"),  # 19:30 ET
]
# How many routine incidents per severity (met, mostly) make up the rest of the month.
ROUTINE = {"P0": 2, "P1": 6, "P2": 19, "P3": 20}
# Targets in minutes used to draw routine times inside (mostly) the plan's limits.
RESPONSE_LIMIT = {"P0": 15, "P1": 60, "P2": 240, "P3": 1440}
RESOLVE_LIMIT = {"P0": 240, "P1": 480, "P2": 2880, "P3": 7 * 1440}
ROUTINE_TITLES = [
    "Elevated API error rate", "Slow dashboard load", "Background job backlog", "Webhook retries",
    "Cache miss spike", "Report generation timeout", "Email delivery delays", "Login latency",
    "Document preview fails for PDFs", "Stale search index", "Queue consumer restarted",
    "Payment callback retries", "Thumbnail service errors", "Audit log gaps",
]


def seed(ctx: SeedContext) -> None:
    rng = ctx.rng()
    pd_settings, pd = ctx.estate.pagerduty, ctx.pagerduty
    by_severity = {sev: pid for pid, sev in sorted(pd_settings.priority_map.items())}
    unmapped = UNMAPPED_PRIORITY_ID if UNMAPPED_PRIORITY_ID in pd.priorities else None
    services = [s.id for s in pd_settings.services]
    start, end = ctx.contract_bounds.start, ctx.contract_bounds.end  # the month the report counts
    store = ctx.aws_client("s3", ctx.estate.aws.region)
    backend = ctx.moto_backend("s3")

    communicated: list[tuple[str, dict]] = []  # (title, incident) of the month's P0/P1 incidents

    def add(title, severity, created, ack_after, resolve_after, postmortem, service=None):
        priority = (unmapped if severity == "unmapped" else by_severity.get(severity)) if severity else None
        engineer = rng.choice(ENGINEERS)
        ack = created + dt.timedelta(minutes=ack_after) if ack_after is not None else None
        resolved = created + dt.timedelta(minutes=resolve_after) if resolve_after is not None else None
        if ack and resolved and ack > resolved:
            ack = None
        incident = pd.add_incident(
            service_id=service or rng.choice(services), title=title, created_at=created,
            priority_id=priority, assignee_id=engineer, acknowledged_at=ack, acknowledged_by=engineer,
            resolved_at=resolved, urgency="high" if severity in ("P0", "P1") else "low")
        if severity in ("P0", "P1") and start <= created < end:
            communicated.append((title, incident))
        # PagerDuty notifies the assignee at once, and escalates when nobody acknowledges in time.
        pd.add_log_entry(incident["id"], "notify_log_entry", created + dt.timedelta(seconds=5),
                         summary=f"Notified {engineer} by push", user=pd.ref("user", engineer))
        if ack is None or ack - created > dt.timedelta(minutes=30):
            escalated = created + dt.timedelta(minutes=30)
            if resolved is None or escalated < resolved:
                pd.add_log_entry(incident["id"], "escalate_log_entry", escalated,
                                 summary="Escalated to level 2 (secondary on-call)")
        if resolved is not None and postmortem:
            url = f"{WIKI}/{incident['incident_number']}"
            if postmortem == "note":
                pd.add_note(incident["id"], f"Post-mortem: {url}",
                            resolved + dt.timedelta(hours=rng.randint(3, 40)), engineer)
            elif postmortem == "late":
                pd.add_note(incident["id"], f"Postmortem: {url} (written up late)",
                            resolved + dt.timedelta(hours=70), engineer)
            elif postmortem == "bucket":
                key = f"postmortems/{incident['id']}/postmortem.md"
                store.put_object(Bucket=ctx.estate.reports_bucket, Key=key,
                                 Body=f"# Post-mortem: {title}\n".encode())
                ctx.aws.set_object_time(backend, ctx.estate.reports_bucket, key,
                                        resolved + dt.timedelta(hours=20))
        if rng.random() < 0.3:
            pd.add_note(incident["id"], "Customer support informed; status page updated.",
                        created + dt.timedelta(minutes=rng.randint(5, 30)), engineer)
        return incident

    # Just outside the month: must not be counted.
    add("Late September incident", "P2", start - dt.timedelta(hours=5), 30, 400, None)
    add("Early November incident", "P1", end + dt.timedelta(hours=2), 10, 60, None)

    for title, severity, day, hour, minute, ack_after, resolve_after, postmortem in SPECIAL:
        created = special_time(ctx, day, hour, minute)
        add(title, severity, created, ack_after, resolve_after, postmortem)

    routine = [(sev, i) for sev, count in ROUTINE.items() for i in range(count)]
    bulk = int(os.environ.get(BULK_ENV) or 0)
    extra = max(0, bulk - len(routine) - len(SPECIAL))
    weights = {"P0": 1, "P1": 4, "P2": 15, "P3": 20}
    routine += [(rng.choices(list(weights), list(weights.values()))[0], None) for _ in range(extra)]
    month_seconds = int((end - start).total_seconds())
    for severity, _ in routine:
        created = start + dt.timedelta(seconds=rng.randrange(month_seconds - 3 * 86400))
        # Mostly inside the limits; about one in sixteen responds late.
        late = rng.random() < 0.0625
        ack_after = RESPONSE_LIMIT[severity] * (rng.uniform(1.05, 2.0) if late else rng.uniform(0.1, 0.9))
        resolve_after = max(ack_after + 5, RESOLVE_LIMIT[severity] * rng.uniform(0.05, 0.8))
        if severity == "P3":
            resolve_after = min(resolve_after, 4 * 1440)
        add(f"{rng.choice(ROUTINE_TITLES)}", severity, created, round(ack_after), round(resolve_after),
            "note" if severity in ("P0", "P1") else None)

    _secondary_with_gap(ctx)
    _status_page(ctx, communicated)


STATUS_NAMES = ["Degraded performance", "Elevated error rates", "Partial outage", "Service disruption"]


def _status_page(ctx: SeedContext, communicated: list[tuple[str, dict]]) -> None:
    """Status-page incidents for the month's P0/P1 incidents (see the module docstring). Generic
    names: never the PagerDuty title."""
    sp = ctx.statuspage
    if sp is None:
        return
    rng = ctx.rng("statuspage")
    settings = ctx.estate.statuspage
    names = {s.id: s.name for s in ctx.estate.pagerduty.services}
    for n, (title, incident) in enumerate(communicated):
        if title.startswith("[pm-missing]"):
            continue
        created = _time(incident["created_at"])
        resolved = _time(incident["resolved_at"]) if incident.get("resolved_at") else None
        service = incident["service"]["id"]
        first = created + dt.timedelta(minutes=90 if title.startswith("[resol-breach]") else rng.randint(4, 12))
        if resolved is not None and first >= resolved:
            first = created + dt.timedelta(minutes=2)
        body = f"We are investigating {rng.choice(['errors', 'slowness', 'failures'])} on {names[service]}."
        metadata: dict = {}
        if title.startswith("[pm-bucket]"):
            pass  # no reference: linked by component and time
        elif n % 2:
            metadata = {"pagerduty": {"incident_id": incident["id"]}}
        else:
            body += f" (ref {incident['html_url']})"
        updates = [(first, "investigating", body)]
        if resolved is not None:
            updates.append((resolved + dt.timedelta(minutes=rng.randint(10, 30)), "resolved",
                            "This incident has been resolved."))
        sp.add_incident(name=f"{rng.choice(STATUS_NAMES)} on {names[service]}", status=updates[-1][1],
                        created_at=first, component_ids=settings.components.get(service, []), updates=updates,
                        metadata=metadata)
    day = ctx.contract_bounds.start + dt.timedelta(days=20, hours=7)
    api = ctx.estate.pagerduty.services[0].id
    sp.add_incident(name=f"Planned maintenance: {names[api]}", status="completed", created_at=day - dt.timedelta(days=3),
                    component_ids=settings.components.get(api, []), scheduled_for=day,
                    scheduled_until=day + dt.timedelta(hours=2), impact="maintenance",
                    updates=[(day - dt.timedelta(days=3), "scheduled", "Planned maintenance."),
                             (day + dt.timedelta(hours=2), "completed", "Completed.")],
                    metadata={"estate_ops": {"window_id": "mw-sbx-statuspage"}})


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def special_time(ctx: SeedContext, day: int, hour: int, minute: int) -> dt.datetime:
    """The UTC instant of a SPECIAL row: `day` of the reference month, or counted from its end."""
    month_days = (ctx.end - ctx.start).days
    number = day if day > 0 else month_days + 1 + day
    return ctx.start.replace(day=number, hour=hour, minute=minute)


def _secondary_with_gap(ctx: SeedContext) -> None:
    """Re-seed the secondary schedule as two layers with a 6-hour hole between them."""
    pd_settings, pd = ctx.estate.pagerduty, ctx.pagerduty
    base = pd.schedules[pd_settings.schedules.secondary]
    layer = base["schedule_layers"][0]
    gap_start = ctx.start + dt.timedelta(days=17, hours=2)  # 2026-10-18 02:00 UTC for October
    gap_end = gap_start + dt.timedelta(hours=GAP_HOURS)
    common = {"rotation_virtual_start": layer["rotation_virtual_start"],
              "rotation_turn_length_seconds": layer["rotation_turn_length_seconds"],
              "users": [u["user"]["id"] for u in layer["users"]]}
    pd.add_schedule(base["id"], base["name"], [
        {**common, "name": "Weekly secondary", "start": layer["start"], "end": gap_start},
        {**common, "name": "Weekly secondary (after the handover mix-up)", "start": gap_end},
    ], time_zone=base["time_zone"], description=base["description"])
