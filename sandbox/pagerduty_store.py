"""The PagerDuty stand-in's data: in-memory collections of records in PagerDuty's wire format.

Scenarios seed it through the `add_*` helpers, which build each record exactly as PagerDuty's
REST API v2 returns it (references, `self`/`html_url`, summaries, derived fields) and keep
related records consistent (an incident gets its trigger/assign/acknowledge/resolve log
entries; a note gets its annotate log entry). The HTTP layer (`sandbox.pagerduty`) only
filters, pages and expands what is stored here.

Every collection is a plain dict keyed by id, except `notes` (incident id -> list of notes,
because a note's wire format does not name its incident) and `schedule_overrides`
(schedule id -> list of overrides).
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import string
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from sandbox.timeutil import UTC, Clock, iso, parse_time

Record = dict[str, Any]

# The path of each kind of object in the REST API, for `self` links.
_API_PATHS = {
    "service": "services",
    "user": "users",
    "escalation_policy": "escalation_policies",
    "schedule": "schedules",
    "incident": "incidents",
    "priority": "priorities",
    "maintenance_window": "maintenance_windows",
    "log_entry": "log_entries",
}

OPEN_STATUSES = ("triggered", "acknowledged")


class PagerDutyError(ValueError):
    """A seeding or Events API input PagerDuty itself would reject."""


def _time(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        return parse_time(value)
    if value.tzinfo is None:
        raise PagerDutyError(f"naive datetime {value!r}: pass an aware (UTC) datetime")
    return value.astimezone(UTC)


class PagerDutyStore:
    """All PagerDuty state of the sandbox. Thread-safe through `lock` (an RLock)."""

    def __init__(self, api_url: str, web_url: str, clock: Clock) -> None:
        self.api_url = api_url.rstrip("/")
        self.web_url = web_url.rstrip("/")
        self.clock = clock
        self.lock = threading.RLock()
        self.services: dict[str, Record] = {}
        self.incidents: dict[str, Record] = {}
        self.log_entries: dict[str, Record] = {}
        self.notes: dict[str, list[Record]] = {}
        self.schedules: dict[str, Record] = {}
        self.schedule_overrides: dict[str, list[Record]] = {}
        self.escalation_policies: dict[str, Record] = {}
        self.priorities: dict[str, Record] = {}
        self.users: dict[str, Record] = {}
        self.maintenance_windows: dict[str, Record] = {}
        # Events API v2: routing key -> service id, and dedup_key -> incident id (the "alert").
        self.routing_keys: dict[str, str] = {}
        self.alerts: dict[str, str] = {}
        self.events: list[Record] = []
        # Ids are random-looking like PagerDuty's but drawn from a fixed seed: a reset yields
        # the same ids again.
        self._id_rng = random.Random("sandbox:pagerduty-ids")
        self._next_incident_number = 1
        self._next_mw_sequence = 1

    # ------------------------------------------------------------------ references

    def new_id(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        while True:
            candidate = "P" + "".join(self._id_rng.choice(alphabet) for _ in range(6))
            if not any(candidate in coll for coll in self._all_collections()):
                return candidate

    def _all_collections(self) -> Iterable[dict]:
        return (self.services, self.incidents, self.log_entries, self.schedules,
                self.escalation_policies, self.priorities, self.users, self.maintenance_windows)

    def self_url(self, kind: str, id_: str) -> str:
        return f"{self.api_url}/{_API_PATHS[kind]}/{id_}"

    def html_url(self, kind: str, id_: str) -> str | None:
        paths = {
            "service": f"/service-directory/{id_}",
            "user": f"/users/{id_}",
            "escalation_policy": f"/escalation_policies#{id_}",
            "schedule": f"/schedules#{id_}",
            "incident": f"/incidents/{id_}",
            "maintenance_window": f"/service-directory/maintenance_windows/{id_}",
        }
        return self.web_url + paths[kind] if kind in paths else None

    def ref(self, kind: str, id_: str, summary: str | None = None) -> Record:
        """A reference object (`{"type": "<kind>_reference", ...}`) to a stored record."""
        if summary is None:
            record = self._collection(kind).get(id_)
            summary = record.get("summary") if record else id_
        return {
            "id": id_,
            "type": f"{kind}_reference",
            "summary": summary,
            "self": self.self_url(kind, id_),
            "html_url": self.html_url(kind, id_),
        }

    def _collection(self, kind: str) -> dict[str, Record]:
        return {
            "service": self.services, "user": self.users, "incident": self.incidents,
            "escalation_policy": self.escalation_policies, "schedule": self.schedules,
            "priority": self.priorities, "log_entry": self.log_entries,
            "maintenance_window": self.maintenance_windows,
        }[kind]

    def _base(self, kind: str, id_: str | None, summary: str) -> Record:
        id_ = id_ or self.new_id()
        return {
            "id": id_,
            "type": kind,
            "summary": summary,
            "self": self.self_url(kind, id_),
            "html_url": self.html_url(kind, id_),
        }

    # ------------------------------------------------------------------ directory

    def add_user(self, id: str | None, name: str, email: str, *, role: str = "user",
                 time_zone: str = "America/New_York", job_title: str = "",
                 color: str = "purple") -> Record:
        user = self._base("user", id, name) | {
            "name": name,
            "email": email,
            "time_zone": time_zone,
            "color": color,
            "role": role,
            "avatar_url": f"https://secure.gravatar.com/avatar/{uuid.uuid5(uuid.NAMESPACE_URL, email).hex}.png?d=mm&r=PG",
            "description": None,
            "invitation_sent": False,
            "job_title": job_title,
            "teams": [],
            "contact_methods": [],
            "notification_rules": [],
            "coordinated_incidents": [],
        }
        with self.lock:
            self.users[user["id"]] = user
        return user

    def add_priority(self, id: str | None, name: str, *, description: str = "", order: int = 0,
                     color: str = "a8171c") -> Record:
        now = iso(self.clock.anchor)
        priority = self._base("priority", id, name) | {
            "html_url": None,
            "name": name,
            "description": description,
            "order": order,
            "color": color,
            "account_id": "PSANDBX",
            "created_at": now,
            "updated_at": now,
            "schema_version": 0,
        }
        with self.lock:
            self.priorities[priority["id"]] = priority
        return priority

    def add_escalation_policy(self, id: str | None, name: str,
                              rules: list[tuple[int, list[tuple[str, str]]]], *,
                              num_loops: int = 0, description: str = "") -> Record:
        """`rules`: one `(delay_minutes, [(target_kind, target_id), ...])` per level, in order;
        target_kind is "schedule" or "user"."""
        policy = self._base("escalation_policy", id, name) | {
            "name": name,
            "description": description,
            "num_loops": num_loops,
            "on_call_handoff_notifications": "if_has_services",
            "escalation_rules": [
                {
                    "id": self.new_id(),
                    "escalation_delay_in_minutes": delay,
                    "targets": [self.ref(kind, target_id) for kind, target_id in targets],
                    "escalation_rule_assignment_strategy": "assign_to_everyone",
                }
                for delay, targets in rules
            ],
            "services": [],  # filled in when read: services point at their policy
            "teams": [],
        }
        with self.lock:
            self.escalation_policies[policy["id"]] = policy
        return policy

    def add_schedule(self, id: str | None, name: str, layers: list[dict[str, Any]], *,
                     time_zone: str = "America/New_York", description: str = "") -> Record:
        """`layers`: dicts with `start`, `rotation_virtual_start` (datetimes),
        `rotation_turn_length_seconds`, `users` (user ids, in rotation order) and optional
        `end`, `name`. Later layers take precedence over earlier ones (PagerDuty's "Layer 2"
        over "Layer 1"). Restrictions are not supported."""
        wire_layers = []
        user_ids: list[str] = []
        for index, layer in enumerate(layers):
            end = layer.get("end")
            wire_layers.append({
                "id": layer.get("id") or self.new_id(),
                "name": layer.get("name") or f"Layer {index + 1}",
                "start": iso(_time(layer["start"])),
                "end": iso(_time(end)) if end is not None else None,
                "rotation_virtual_start": iso(_time(layer["rotation_virtual_start"])),
                "rotation_turn_length_seconds": int(layer["rotation_turn_length_seconds"]),
                "users": [{"user": self.ref("user", uid)} for uid in layer["users"]],
                "restrictions": [],
            })
            user_ids += [uid for uid in layer["users"] if uid not in user_ids]
        schedule = self._base("schedule", id, name) | {
            "name": name,
            "description": description,
            "time_zone": time_zone,
            "schedule_layers": wire_layers,
            "escalation_policies": [],  # filled in when read
            "users": [self.ref("user", uid) for uid in user_ids],
            "teams": [],
        }
        with self.lock:
            self.schedules[schedule["id"]] = schedule
            self.schedule_overrides.setdefault(schedule["id"], [])
        return schedule

    def add_schedule_override(self, schedule_id: str, user_id: str, start: dt.datetime,
                              end: dt.datetime) -> Record:
        override = {
            "id": self.new_id(),
            "start": iso(_time(start)),
            "end": iso(_time(end)),
            "user": self.ref("user", user_id),
        }
        with self.lock:
            self.schedule_overrides.setdefault(schedule_id, []).append(override)
        return override

    def add_service(self, id: str | None, name: str, escalation_policy_id: str, *,
                    description: str = "", created_at: dt.datetime | None = None,
                    routing_key: str | None = None) -> Record:
        service = self._base("service", id, name) | {
            "name": name,
            "description": description,
            "auto_resolve_timeout": 14400,
            "acknowledgement_timeout": 1800,
            "created_at": iso(created_at or self.clock.anchor),
            "status": "active",  # derived when read
            "last_incident_timestamp": None,  # derived when read
            "escalation_policy": self.ref("escalation_policy", escalation_policy_id),
            "teams": [],
            "integrations": [],
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
            "support_hours": None,
            "scheduled_actions": [],
            "alert_creation": "create_alerts_and_incidents",
            "alert_grouping_parameters": {"type": None},
            "response_play": None,
            "addons": [],
        }
        with self.lock:
            self.services[service["id"]] = service
            if routing_key:
                self.routing_keys[routing_key] = service["id"]
        return service

    # ------------------------------------------------------------------ incidents

    def add_incident(self, *, service_id: str, title: str, created_at: dt.datetime,
                     id: str | None = None, priority_id: str | None = None,
                     urgency: str = "high", assignee_id: str | None = None,
                     acknowledged_at: dt.datetime | None = None,
                     acknowledged_by: str | None = None,
                     resolved_at: dt.datetime | None = None, resolved_by: str | None = None,
                     incident_key: str | None = None, description: str | None = None,
                     log_entries: bool = True) -> Record:
        """An incident and, unless `log_entries=False`, its log entries: trigger and assign at
        `created_at`, acknowledge at `acknowledged_at`, resolve at `resolved_at`.

        `acknowledged_by`/`resolved_by`/`assignee_id` are user ids (the resolver defaults to the
        acknowledger, else the assignee; a resolve with no user is by the service, i.e. auto).
        As in PagerDuty, a resolved incident has empty `acknowledgements` and `assignments`:
        the acknowledgement survives only in the log entries.
        """
        created = _time(created_at)
        ack = _time(acknowledged_at) if acknowledged_at else None
        res = _time(resolved_at) if resolved_at else None
        if ack and ack < created:
            raise PagerDutyError(f"{title!r}: acknowledged before it was created")
        if res and (res < created or (ack and res < ack)):
            raise PagerDutyError(f"{title!r}: resolved before it was created or acknowledged")
        with self.lock:
            service = self.services.get(service_id)
            if service is None:
                raise PagerDutyError(f"unknown service {service_id!r}")
            if priority_id is not None and priority_id not in self.priorities:
                raise PagerDutyError(f"unknown priority {priority_id!r}")
            assignee_id = assignee_id or acknowledged_by or self._first_user()
            number = self._next_incident_number
            self._next_incident_number += 1
            incident = self._base("incident", id, f"[#{number}] {title}") | {
                "incident_number": number,
                "title": title,
                "description": description or title,
                "created_at": iso(created),
                "updated_at": iso(created),
                "status": "triggered",
                "incident_key": incident_key or uuid.UUID(int=self._id_rng.getrandbits(128)).hex,
                "service": self.ref("service", service_id),
                "assignments": [],
                "assigned_via": "escalation_policy",
                "last_status_change_at": iso(created),
                "last_status_change_by": self.ref("service", service_id),
                "resolved_at": None,
                "first_trigger_log_entry": None,
                "alert_counts": {"all": 1, "triggered": 1, "resolved": 0},
                "is_mergeable": True,
                "incident_type": {"name": "incident_default"},
                "escalation_policy": copy.deepcopy(service["escalation_policy"]),
                "teams": [],
                "pending_actions": [],
                "acknowledgements": [],
                "priority": copy.deepcopy(self.priorities[priority_id]) if priority_id else None,
                "resolve_reason": None,
                "incidents_responders": [],
                "responder_requests": [],
                "urgency": urgency,
            }
            self.incidents[incident["id"]] = incident
            self.notes.setdefault(incident["id"], [])
            service_ref = self.ref("service", service_id)
            trigger = self._log_entry(incident, "trigger_log_entry", created, service_ref,
                                      {"type": "api", "summary": title,
                                       "description": incident["description"],
                                       "incident_key": incident["incident_key"],
                                       "details": {}},
                                      summary="Triggered through the API.",
                                      event_details={"description": title}, store=log_entries)
            incident["first_trigger_log_entry"] = {
                "id": trigger["id"], "type": "trigger_log_entry_reference",
                "summary": trigger["summary"], "self": trigger["self"],
                "html_url": trigger["html_url"],
            }
            if assignee_id:
                incident["assignments"] = [{"at": iso(created),
                                            "assignee": self.ref("user", assignee_id)}]
                if log_entries:
                    self._log_entry(incident, "assign_log_entry", created, service_ref,
                                    {"type": "auto"},
                                    summary=f"Assigned to {self._user_name(assignee_id)}.",
                                    assignees=[self.ref("user", assignee_id)])
            if ack:
                self.acknowledge(incident["id"], ack, acknowledged_by or assignee_id,
                                 log_entry=log_entries)
            if res:
                self.resolve(incident["id"], res, resolved_by or acknowledged_by or assignee_id,
                             log_entry=log_entries)
            return incident

    def acknowledge(self, incident_id: str, at: dt.datetime, user_id: str | None, *,
                    log_entry: bool = True, channel: dict | None = None) -> Record:
        """Acknowledge (by a user, or by the service through the Events API when None)."""
        at = _time(at)
        with self.lock:
            incident = self.incidents[incident_id]
            if incident["status"] == "resolved":
                return incident
            agent = self.ref("user", user_id) if user_id else incident["service"]
            incident["status"] = "acknowledged"
            incident["acknowledgements"].append({"at": iso(at), "acknowledger": agent})
            self._status_changed(incident, at, agent)
            if log_entry:
                self._log_entry(incident, "acknowledge_log_entry", at, agent,
                                channel or {"type": "website" if user_id else "api"},
                                summary=f"Acknowledged by {agent['summary']}.",
                                acknowledgement_timeout=1800)
            return incident

    def resolve(self, incident_id: str, at: dt.datetime, user_id: str | None, *,
                log_entry: bool = True, channel: dict | None = None) -> Record:
        at = _time(at)
        with self.lock:
            incident = self.incidents[incident_id]
            if incident["status"] == "resolved":
                return incident
            agent = self.ref("user", user_id) if user_id else incident["service"]
            incident["status"] = "resolved"
            incident["resolved_at"] = iso(at)
            # PagerDuty forgets who acknowledged and who was assigned once an incident resolves.
            incident["acknowledgements"] = []
            incident["assignments"] = []
            incident["alert_counts"] = {"all": 1, "triggered": 0, "resolved": 1}
            self._status_changed(incident, at, agent)
            if log_entry:
                self._log_entry(incident, "resolve_log_entry", at, agent,
                                channel or {"type": "website" if user_id else "api"},
                                summary=f"Resolved by {agent['summary']}.")
            return incident

    def _status_changed(self, incident: Record, at: dt.datetime, agent: Record) -> None:
        incident["last_status_change_at"] = iso(at)
        incident["last_status_change_by"] = agent
        if parse_time(incident["updated_at"]) < at:
            incident["updated_at"] = iso(at)

    def add_note(self, incident_id: str, content: str, created_at: dt.datetime,
                 user_id: str | None = None) -> Record:
        """A note on an incident (and the annotate log entry PagerDuty writes with it)."""
        at = _time(created_at)
        with self.lock:
            incident = self.incidents[incident_id]
            user_id = user_id or self._first_user()
            note = {
                "id": self.new_id(),
                "user": self.ref("user", user_id),
                "channel": {"summary": "The PagerDuty website or APIs"},
                "content": content,
                "created_at": iso(at),
                "updated_at": iso(at),
            }
            self.notes.setdefault(incident_id, []).append(note)
            self._log_entry(incident, "annotate_log_entry", at, self.ref("user", user_id),
                            {"type": "note", "summary": content},
                            summary=f"Note added by {self._user_name(user_id)}.")
            return note

    def add_log_entry(self, incident_id: str, type: str, created_at: dt.datetime, *,
                      agent: tuple[str, str] | None = None, channel: dict | None = None,
                      summary: str | None = None, **extra: Any) -> Record:
        """Any other log entry (escalate, notify, unacknowledge...) without touching the
        incident itself: for histories the helpers above do not produce."""
        with self.lock:
            incident = self.incidents[incident_id]
            agent_ref = self.ref(*agent) if agent else incident["service"]
            return self._log_entry(incident, type, _time(created_at), agent_ref,
                                   channel or {"type": "auto"},
                                   summary=summary or type.replace("_log_entry", "").title(),
                                   **extra)

    def _log_entry(self, incident: Record, type_: str, at: dt.datetime, agent: Record,
                   channel: dict, *, summary: str, store: bool = True, **extra: Any) -> Record:
        entry_id = self.new_id() if store else "R" + self.new_id()[1:]
        entry = {
            "id": entry_id,
            "type": type_,
            "summary": summary,
            "self": self.self_url("log_entry", entry_id),
            "html_url": f"{self.web_url}/incidents/{incident['id']}/log_entries/{entry_id}",
            "created_at": iso(at),
            "agent": copy.deepcopy(agent),
            "channel": channel,
            "service": copy.deepcopy(incident["service"]),
            "incident": {"id": incident["id"], "type": "incident_reference",
                         "summary": incident["summary"], "self": incident["self"],
                         "html_url": incident["html_url"]},
            "teams": [],
            "contexts": [],
        } | extra
        if store:
            self.log_entries[entry_id] = entry
        return entry

    def _first_user(self) -> str | None:
        return next(iter(self.users), None)

    def _user_name(self, user_id: str | None) -> str:
        user = self.users.get(user_id or "")
        return user["name"] if user else str(user_id)

    # ------------------------------------------------------------------ maintenance windows

    def add_maintenance_window(self, start: dt.datetime, end: dt.datetime, service_ids: list[str],
                               *, description: str = "", created_by: str | None = None,
                               id: str | None = None) -> Record:
        start, end = _time(start), _time(end)
        if end <= start:
            raise PagerDutyError("end_time must be after start_time")
        with self.lock:
            unknown = [s for s in service_ids if s not in self.services]
            if unknown:
                raise PagerDutyError(f"unknown services {unknown}")
            window = self._base("maintenance_window", id, description or "Maintenance") | {
                "sequence_number": self._next_mw_sequence,
                "start_time": iso(start),
                "end_time": iso(end),
                "description": description,
                "created_by": self.ref("user", created_by) if created_by else None,
                "services": [self.ref("service", s) for s in service_ids],
                "teams": [],
            }
            self._next_mw_sequence += 1
            self.maintenance_windows[window["id"]] = window
            return window

    # ------------------------------------------------------------------ Events API v2

    def enqueue_event(self, event: Record, received_at: dt.datetime) -> Record:
        """Apply one Events API v2 event; returns the API's answer body.

        Like PagerDuty: a trigger whose dedup_key names an open alert adds nothing new;
        acknowledge/resolve act on the open alert with that key, or are ignored.
        """
        routing_key = event.get("routing_key")
        action = event.get("event_action")
        errors = []
        if not routing_key:
            errors.append("'routing_key' is missing or blank")
        elif routing_key not in self.routing_keys:
            errors.append("Invalid routing key")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        payload = event.get("payload") or {}
        dedup_key = event.get("dedup_key")
        if action == "trigger":
            for field in ("summary", "source", "severity"):
                if not payload.get(field):
                    errors.append(f"'payload.{field}' is missing or blank")
            if payload.get("severity") and payload["severity"] not in (
                    "critical", "error", "warning", "info"):
                errors.append("'payload.severity' is invalid (must be one of the following: "
                              "'critical', 'warning', 'error' or 'info')")
        elif action and not dedup_key:
            errors.append("'dedup_key' is missing or blank")
        if errors:
            raise PagerDutyError("; ".join(errors))
        with self.lock:
            dedup_key = dedup_key or uuid.UUID(int=self._id_rng.getrandbits(128)).hex
            open_incident = self._open_alert(dedup_key)
            if action == "trigger" and open_incident is None:
                incident = self.add_incident(
                    service_id=self.routing_keys[routing_key], title=payload["summary"][:1024],
                    created_at=received_at, incident_key=dedup_key,
                    urgency="high" if payload["severity"] in ("critical", "error") else "low")
                self.alerts[dedup_key] = incident["id"]
            elif action == "acknowledge" and open_incident is not None:
                self.acknowledge(open_incident["id"], received_at, None)
            elif action == "resolve" and open_incident is not None:
                self.resolve(open_incident["id"], received_at, None)
        return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}

    def _open_alert(self, dedup_key: str) -> Record | None:
        incident = self.incidents.get(self.alerts.get(dedup_key, ""))
        if incident is not None and incident["status"] in OPEN_STATUSES:
            return incident
        return None

    # ------------------------------------------------------------------ removal

    def remove(self, kind: str, id_: str) -> bool:
        """Drop a record so a test can make it "missing"; True if it existed."""
        with self.lock:
            collection = self._collection(kind)
            found = collection.pop(id_, None) is not None
            if kind == "incident":
                self.notes.pop(id_, None)
                for entry_id in [e for e, v in self.log_entries.items()
                                 if v["incident"]["id"] == id_]:
                    del self.log_entries[entry_id]
            if kind == "schedule":
                self.schedule_overrides.pop(id_, None)
            return found

    # ------------------------------------------------------------------ derived fields

    def service_view(self, service: Record) -> Record:
        """A service with its derived `status` and `last_incident_timestamp`."""
        view = copy.deepcopy(service)
        mine = [i for i in self.incidents.values() if i["service"]["id"] == service["id"]]
        if any(i["status"] == "triggered" for i in mine):
            view["status"] = "critical"
        elif any(i["status"] == "acknowledged" for i in mine):
            view["status"] = "warning"
        now = self.clock.now()
        if any(_covers(w, now) and any(s["id"] == service["id"] for s in w["services"])
               for w in self.maintenance_windows.values()):
            view["status"] = "maintenance"
        if mine:
            view["last_incident_timestamp"] = max(i["created_at"] for i in mine)
        return view

    def escalation_policy_view(self, policy: Record) -> Record:
        view = copy.deepcopy(policy)
        view["services"] = [self.ref("service", s["id"]) for s in self.services.values()
                            if s["escalation_policy"]["id"] == policy["id"]]
        return view

    def schedule_base_view(self, schedule: Record) -> Record:
        view = copy.deepcopy(schedule)
        view["escalation_policies"] = [
            self.ref("escalation_policy", p["id"]) for p in self.escalation_policies.values()
            if any(t["id"] == schedule["id"] and t["type"] == "schedule_reference"
                   for rule in p["escalation_rules"] for t in rule["targets"])
        ]
        return view


def _covers(window: Record, when: dt.datetime) -> bool:
    return parse_time(window["start_time"]) <= when < parse_time(window["end_time"])
