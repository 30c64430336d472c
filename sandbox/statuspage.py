"""The Atlassian Statuspage REST API v1 stand-in: one page, its components, incidents (realtime and
scheduled maintenances) with their incident_updates.

Served on the Slack port under `/statuspage/v1` (the connection's host is that base URL).
Speaks Statuspage's wire format: `Authorization: OAuth <key>` (401 `{"error": ...}` otherwise),
`page`/`per_page` paging (per_page at most 100), the incident JSON shape (`incident_updates`,
`components`, `metadata`, `scheduled_for`/`scheduled_until`, `shortlink`), 404 for an unknown
page, component or incident, 422 for a component id the page does not have, and 420 with
`Retry-After` and `X-RateLimit-*` when a rate limit is simulated (`api="statuspage"`).

Endpoints: `GET /pages/{page}`, `GET /pages/{page}/components`, `GET|POST /pages/{page}/incidents`
(`q` filters by name, body and metadata text), `GET /pages/{page}/incidents/{scheduled,unresolved}`,
`GET|PATCH|DELETE /pages/{page}/incidents/{id}`. The key `STATUSPAGE_READONLY_KEY` reads but
may not write (403, as for a user without write access to the page).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from sandbox import STATUSPAGE_READONLY_KEY
from sandbox.state import Gate, RequestCounter
from sandbox.timeutil import Clock, iso, parse_time

PREFIX = "/statuspage/v1"
REALTIME_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
SCHEDULED_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage",
                      "major_outage")


class StatuspageStore:
    """One page: components and incidents (newest first when listed)."""

    def __init__(self, clock: Clock, page_id: str, page_name: str = "Legacy status") -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.page = {"id": page_id, "name": page_name, "subdomain": "legacy-sandbox",
                     "url": "https://status.legacy.example", "time_zone": "Etc/UTC"}
        self.components: dict[str, dict[str, Any]] = {}
        self.incidents: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def _new_id(self, kind: str) -> str:
        return hashlib.sha1(f"{kind}:{next(self._ids)}".encode()).hexdigest()[:12]

    def add_component(self, component_id: str, name: str) -> dict[str, Any]:
        now = iso(self.clock.anchor)
        component = {"id": component_id, "page_id": self.page["id"], "group_id": None, "name": name,
                     "description": None, "position": len(self.components) + 1, "status": "operational",
                     "showcase": True, "only_show_if_degraded": False, "automation_email": "",
                     "start_date": None, "created_at": now, "updated_at": now, "group": False}
        with self.lock:
            self.components[component_id] = component
        return component

    def add_incident(self, *, name: str, status: str, created_at: Any, component_ids: list[str],
                     updates: list[tuple[Any, str, str]], metadata: dict | None = None,
                     scheduled_for: Any = None, scheduled_until: Any = None,
                     impact: str = "major") -> dict[str, Any]:
        """An incident with its updates [(created_at, status, body)], oldest first as given."""
        incident_id = self._new_id("incident")
        incident = {
            "id": incident_id, "page_id": self.page["id"], "name": name, "status": status,
            "impact": impact, "impact_override": None, "created_at": iso(created_at),
            "updated_at": iso(created_at), "started_at": iso(created_at), "monitoring_at": None,
            "resolved_at": None, "shortlink": f"https://stspg.io/{incident_id[:6]}",
            "scheduled_for": iso(scheduled_for), "scheduled_until": iso(scheduled_until),
            "scheduled_remind_prior": False, "scheduled_auto_in_progress": False,
            "scheduled_auto_completed": False, "metadata": metadata or {}, "incident_updates": [],
            "postmortem_body": None, "postmortem_published_at": None,
            "components": [dict(self.components[c]) for c in component_ids],
        }
        with self.lock:
            self.incidents[incident_id] = incident
            for created, update_status, body in updates:
                self._add_update(incident, created, update_status, body)
        return incident

    def _add_update(self, incident: dict[str, Any], created: Any, status: str, body: str) -> None:
        stamp = iso(created)
        incident["incident_updates"].insert(0, {  # Statuspage lists updates newest first
            "id": self._new_id("update"), "incident_id": incident["id"], "status": status, "body": body,
            "created_at": stamp, "updated_at": stamp, "display_at": stamp, "deliver_notifications": True,
            "affected_components": [{"code": c["id"], "name": c["name"], "old_status": "operational",
                                     "new_status": c["status"]} for c in incident["components"]],
            "custom_tweet": None, "tweet_id": None})
        incident["status"] = status
        incident["updated_at"] = stamp
        if status == "resolved":
            incident["resolved_at"] = stamp
        if status == "monitoring":
            incident["monitoring_at"] = stamp

    def remove(self, kind: str, id_: str) -> bool:
        with self.lock:
            table = {"component": self.components, "incident": self.incidents}.get(kind)
            return table is not None and table.pop(id_, None) is not None

    def sorted_incidents(self) -> list[dict[str, Any]]:
        with self.lock:
            return sorted(self.incidents.values(), key=lambda i: (i["created_at"], i["id"]), reverse=True)


def _error(message: str, status: int, headers: dict | None = None) -> Response:
    return Response(json.dumps({"error": message}), status=status, mimetype="application/json",
                    headers=headers or {})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _paged(items: list[dict[str, Any]]) -> Response:
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", 100))
    except ValueError:
        return _error("page and per_page must be integers", 400)
    if page < 1 or per_page < 1:
        return _error("page and per_page must be positive", 400)
    per_page = min(per_page, 100)
    return _json(items[(page - 1) * per_page: page * per_page])


def create_app(get_store: Callable[[], StatuspageStore | None], gate: Gate, counter: RequestCounter) -> Flask:
    app = Flask("sandbox.statuspage")

    @app.before_request
    def _gatekeeper() -> Response | None:
        counter.count("statuspage", request.method, request.path,
                      request.url_rule.rule if request.url_rule else None)
        limited = gate.check_rate()
        if limited is not None:
            limit, remaining, reset = limited
            return _error("Rate limit exceeded", 420, {"Retry-After": str(reset), "X-RateLimit-Limit": str(limit),
                                                       "X-RateLimit-Remaining": str(remaining)})
        auth = request.headers.get("Authorization", "")
        key = auth[len("OAuth "):].strip() if auth.startswith("OAuth ") else ""
        if not gate.token_ok(key):
            return _error("Could not authenticate", 401)
        if key == STATUSPAGE_READONLY_KEY and request.method != "GET":
            return _error("You are not authorized to access this resource.", 403)
        if get_store() is None:
            return _error("the sandbox is seeding", 503)
        return None

    def _page_or_404(page_id: str) -> StatuspageStore | Response:
        store = get_store()
        if store.page["id"] != page_id:
            return _error("The requested resource could not be found.", 404)
        return store

    @app.get(f"{PREFIX}/pages/<page_id>")
    def page(page_id: str) -> Response:
        store = _page_or_404(page_id)
        return store if isinstance(store, Response) else _json(store.page)

    @app.get(f"{PREFIX}/pages/<page_id>/components")
    def components(page_id: str) -> Response:
        store = _page_or_404(page_id)
        if isinstance(store, Response):
            return store
        with store.lock:
            return _paged(sorted(store.components.values(), key=lambda c: c["position"]))

    @app.get(f"{PREFIX}/pages/<page_id>/incidents")
    def incidents(page_id: str) -> Response:
        store = _page_or_404(page_id)
        if isinstance(store, Response):
            return store
        found = store.sorted_incidents()
        query = (request.args.get("q") or "").lower()
        if query:
            found = [i for i in found if query in json.dumps([i["name"], i["metadata"], i["incident_updates"]]).lower()]
        return _paged(found)

    @app.get(f"{PREFIX}/pages/<page_id>/incidents/<kind>")
    def incident_or_list(page_id: str, kind: str) -> Response:
        store = _page_or_404(page_id)
        if isinstance(store, Response):
            return store
        if kind == "scheduled":
            return _paged([i for i in store.sorted_incidents() if i["status"] == "scheduled"])
        if kind == "unresolved":
            return _paged([i for i in store.sorted_incidents()
                           if i["status"] in ("investigating", "identified", "monitoring")])
        with store.lock:
            incident = store.incidents.get(kind)
        return _json(incident) if incident else _error("The requested resource could not be found.", 404)

    def _check_components(store: StatuspageStore, ids: Any) -> Response | None:
        if not isinstance(ids, list) or not all(isinstance(c, str) for c in ids):
            return _error("component_ids must be a list of ids", 422)
        unknown = [c for c in ids if c not in store.components]
        return _error(f"Component {unknown[0]} could not be found", 404) if unknown else None

    @app.post(f"{PREFIX}/pages/<page_id>/incidents")
    def create(page_id: str) -> Response:
        store = _page_or_404(page_id)
        if isinstance(store, Response):
            return store
        body = (request.get_json(silent=True) or {}).get("incident")
        if not isinstance(body, dict) or not body.get("name"):
            return _error("incident[name] can't be blank", 422)
        status = body.get("status", "investigating")
        if status not in REALTIME_STATUSES + SCHEDULED_STATUSES:
            return _error(f"status {status!r} is not valid", 422)
        ids = body.get("component_ids", [])
        problem = _check_components(store, ids)
        if problem is not None:
            return problem
        try:
            scheduled_for = parse_time(body["scheduled_for"]) if body.get("scheduled_for") else None
            scheduled_until = parse_time(body["scheduled_until"]) if body.get("scheduled_until") else None
        except ValueError:
            return _error("scheduled_for and scheduled_until must be ISO 8601 times", 422)
        if status == "scheduled" and (scheduled_for is None or scheduled_until is None
                                      or scheduled_until <= scheduled_for):
            return _error("a scheduled maintenance needs scheduled_for before scheduled_until", 422)
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            return _error("metadata must be an object", 422)
        incident = store.add_incident(
            name=str(body["name"]), status=status, created_at=store.clock.now(), component_ids=ids,
            updates=[(store.clock.now(), status, str(body.get("body") or ""))], metadata=metadata,
            scheduled_for=scheduled_for, scheduled_until=scheduled_until,
            impact="maintenance" if status in SCHEDULED_STATUSES else str(body.get("impact_override") or "major"))
        return _json(incident, 201)

    @app.patch(f"{PREFIX}/pages/<page_id>/incidents/<incident_id>")
    def update(page_id: str, incident_id: str) -> Response:
        store = _page_or_404(page_id)
        if isinstance(store, Response):
            return store
        body = (request.get_json(silent=True) or {}).get("incident") or {}
        with store.lock:
            incident = store.incidents.get(incident_id)
            if incident is None:
                return _error("The requested resource could not be found.", 404)
            status = body.get("status", incident["status"])
            if status not in REALTIME_STATUSES + SCHEDULED_STATUSES:
                return _error(f"status {status!r} is not valid", 422)
            if "name" in body:
                incident["name"] = str(body["name"])
            if "metadata" in body and isinstance(body["metadata"], dict):
                incident["metadata"] = body["metadata"]
            store._add_update(incident, store.clock.now(), status, str(body.get("body") or ""))
            return _json(incident)

    @app.delete(f"{PREFIX}/pages/<page_id>/incidents/<incident_id>")
    def delete(page_id: str, incident_id: str) -> Response:
        store = _page_or_404(page_id)
        if isinstance(store, Response):
            return store
        with store.lock:
            incident = store.incidents.pop(incident_id, None)
        return _json(incident) if incident else _error("The requested resource could not be found.", 404)

    @app.errorhandler(404)
    def _unknown(_err: Exception) -> Response:
        return _error("The requested resource could not be found.", 404)

    return app


def new_store(estate: Any, clock: Clock) -> StatuspageStore | None:
    """The estate's page with every component `statuspage.components` names, all operational
    (None when the estate has no status page)."""
    settings = getattr(estate, "statuspage", None)
    if settings is None:
        return None
    store = StatuspageStore(clock, settings.page_id)
    names = {s.id: s.name for s in estate.pagerduty.services}
    for service, ids in settings.components.items():
        for n, cid in enumerate(ids, 1):
            store.add_component(cid, names.get(service, service) + (f" ({n})" if len(ids) > 1 else ""))
    return store
