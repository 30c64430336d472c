"""The PagerDuty stand-in: REST API v2 (the endpoints estate-ops uses) and Events API v2.

Speaks PagerDuty's wire format (shared/reference/pagerduty-rest-openapiv3.json): classic
pagination (`limit` default 25 and at most 100, `offset`, `more`, `total` null unless
`total=true`, a 400 once offset+limit passes 10,000), `since`/`until` windows of at most six
months, `Authorization: Token token=...`, 429 with `ratelimit-*` headers when a rate limit is
simulated, and PagerDuty's error bodies.

Records live in `sandbox.pagerduty_store.PagerDutyStore`; this module filters, sorts, pages and
expands them. Log entries are returned newest first, as PagerDuty does.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request

from sandbox.pagerduty_store import PagerDutyError, PagerDutyStore
from sandbox.schedules import final_for, render
from sandbox.state import Gate, RequestCounter
from sandbox.timeutil import add_months, iso, parse_time

MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_RECORD_INDEX = 10_000
MAX_RANGE_MONTHS = 6
# Log entry types left out of `is_overview=true`: the per-notification noise.
NON_OVERVIEW_TYPES = {"notify_log_entry"}

JSON_TYPE = "application/json; charset=utf-8"


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: int, errors: list[str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.errors = status, message, code, errors


def invalid(*errors: str) -> ApiError:
    return ApiError(400, "Invalid Input Provided", 2001, list(errors))


def not_found() -> ApiError:
    return ApiError(404, "Not Found", 2100)


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers=headers or {})


def _error_body(err: ApiError) -> dict:
    body: dict[str, Any] = {"message": err.message, "code": err.code}
    if err.errors:
        body["errors"] = err.errors
    return {"error": body}


# ---------------------------------------------------------------------- request parsing


def _list_arg(name: str) -> list[str]:
    """`name[]=a&name[]=b` as PagerDuty documents it; `name=a,b` and `name=a` are tolerated."""
    values = request.args.getlist(f"{name}[]") + request.args.getlist(name)
    return [part for value in values for part in value.split(",") if part]


def _bool_arg(name: str, default: bool = False) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    return value.lower() in ("true", "1", "yes")


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None


def _time_arg(name: str) -> dt.datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004,
                       [f"{name} is not a valid date-time: {value!r}"]) from None


def _window(now: dt.datetime, *, default_months: int | None = 1,
            check_range: bool = True) -> tuple[dt.datetime | None, dt.datetime | None]:
    """since/until with PagerDuty's defaults (the month up to now) and its 6-month cap."""
    since, until = _time_arg("since"), _time_arg("until")
    if since is None and until is None and default_months is None:
        return None, None
    until = until or now
    since = since or add_months(until, -(default_months or 1))
    if since > until:
        raise ApiError(400, "Invalid Query Date Range", 2005, ["until must be after since"])
    if check_range and add_months(since, MAX_RANGE_MONTHS) < until:
        raise ApiError(400, "Invalid Query Date Range", 2005,
                       ["The date range must not be greater than 6 months."])
    return since, until


def _page(key: str, items: list[dict], expand: Callable[[dict], dict] | None = None) -> Response:
    """Classic pagination, exactly PagerDuty's rules. `expand` (copy + includes) runs on the
    page's records only, so a long list costs per page, not per record per page."""
    limit = _int_arg("limit", DEFAULT_LIMIT)
    offset = _int_arg("offset", 0)
    if limit < 1:
        raise invalid("limit must be greater than 0")
    if offset < 0:
        raise invalid("offset must be greater than or equal to 0")
    limit = min(limit, MAX_LIMIT)  # PagerDuty clamps and echoes the limit it used
    if offset + limit > MAX_RECORD_INDEX:
        raise ApiError(400, "Arguments Caused Error", 2002, [(
            "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your "
            "search to reduce the returned set of records below this number, like adding a "
            "date range.")])
    page = items[offset:offset + limit]
    body = {
        key: [expand(i) for i in page] if expand else page,
        "limit": limit,
        "offset": offset,
        "more": offset + limit < len(items),
        "total": len(items) if _bool_arg("total") else None,
    }
    return _json(body)


def _query_filter(items: list[dict], *fields: str) -> list[dict]:
    query = (request.args.get("query") or "").lower()
    if not query:
        return items
    return [i for i in items if any(query in str(i.get(f) or "").lower() for f in fields)]


def _sort_key_time(value: str | None) -> tuple:
    return (value is None, value or "")


# ---------------------------------------------------------------------- the app


def create_app(get_store: Callable[[], PagerDutyStore], gate: Gate, events_gate: Gate,
               counter: RequestCounter) -> Flask:
    app = Flask("sandbox.pagerduty")
    app.json.sort_keys = False

    @app.before_request
    def _gatekeeper() -> Response | None:
        if request.path.startswith("/_sandbox/"):
            return None
        rule = request.url_rule.rule if request.url_rule else None
        route = rule.replace("<", "{").replace(">", "}") if rule else None
        counter.count("pagerduty", request.method, request.path, route)
        is_events = request.path.startswith("/v2/")
        g.gate = events_gate if is_events else gate
        if not is_events:
            auth = request.headers.get("Authorization", "")
            token = None
            for prefix in ("Token token=", "Bearer "):
                if auth.startswith(prefix):
                    token = auth[len(prefix):].strip()
            if not gate.token_ok(token):
                return _json({"error": {"message": "Authentication failed", "code": 2006}}, 401)
        limited = g.gate.check_rate()
        if limited is not None:
            limit, remaining, reset = limited
            headers = {"ratelimit-limit": str(limit), "ratelimit-remaining": str(remaining),
                       "ratelimit-reset": str(reset)}
            if is_events:
                return _json({"status": "throttle event", "message": "Requests for this service "
                              "are arriving too quickly. Please retry later."}, 429, headers)
            return _json({"error": {"message": "Rate Limit Exceeded", "code": 2020}}, 429,
                         headers)
        return None

    @app.after_request
    def _rate_headers(response: Response) -> Response:
        if not request.path.startswith("/_sandbox/") and response.status_code != 429 and "gate" in g:
            response.headers.setdefault("ratelimit-limit", str(g.gate.rate_limit.limit_header))
            response.headers.setdefault("ratelimit-remaining", str(g.gate.remaining()))
            response.headers.setdefault("ratelimit-reset", "60")
        return response

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return _json(_error_body(err), err.status)

    @app.errorhandler(404)
    def _unknown_route(_err: Exception) -> Response:
        return _json({"error": {"message": "Not Found", "code": 2100}}, 404)

    @app.errorhandler(405)
    def _bad_method(_err: Exception) -> Response:
        return _json({"error": {"message": "Method Not Allowed", "code": 2000}}, 405)

    def store() -> PagerDutyStore:
        return get_store()

    def include() -> set[str]:
        return set(_list_arg("include"))

    # ------------------------------------------------------------------ services

    def service_out(service: dict, inc: set[str]) -> dict:
        s = store()
        view = s.service_view(service)
        if "escalation_policies" in inc:
            policy = s.escalation_policies.get(view["escalation_policy"]["id"])
            if policy:
                view["escalation_policy"] = s.escalation_policy_view(policy)
        return view

    @app.get("/services")
    def list_services() -> Response:
        s, inc = store(), include()
        with s.lock:
            items = _query_filter(list(s.services.values()), "name")
            if request.args.get("name"):
                items = [i for i in items if i["name"] == request.args["name"]]
            reverse = request.args.get("sort_by", "name").endswith(":desc")
            items = sorted(items, key=lambda i: i["name"].lower(), reverse=reverse)
            return _page("services", [service_out(i, inc) for i in items])

    @app.get("/services/<id>")
    def get_service(id: str) -> Response:
        s = store()
        with s.lock:
            service = s.services.get(id)
            if service is None:
                raise not_found()
            return _json({"service": service_out(service, include())})

    # ------------------------------------------------------------------ incidents

    def incident_out(incident: dict, inc: set[str]) -> dict:
        s = store()
        view = copy.deepcopy(incident)
        if "services" in inc and view["service"]["id"] in s.services:
            view["service"] = s.service_view(s.services[view["service"]["id"]])
        if "escalation_policies" in inc and view["escalation_policy"]["id"] in s.escalation_policies:
            view["escalation_policy"] = s.escalation_policy_view(
                s.escalation_policies[view["escalation_policy"]["id"]])
        if "first_trigger_log_entries" in inc and view["first_trigger_log_entry"]:
            entry = s.log_entries.get(view["first_trigger_log_entry"]["id"])
            if entry:
                view["first_trigger_log_entry"] = copy.deepcopy(entry)
        if inc & {"assignees", "users"}:
            for assignment in view["assignments"]:
                user = s.users.get(assignment["assignee"]["id"])
                if user:
                    assignment["assignee"] = copy.deepcopy(user)
        if inc & {"acknowledgers", "users"}:
            for ack in view["acknowledgements"]:
                user = s.users.get(ack["acknowledger"]["id"])
                if user and ack["acknowledger"]["type"] == "user_reference":
                    ack["acknowledger"] = copy.deepcopy(user)
        return view

    @app.get("/incidents")
    def list_incidents() -> Response:
        s = store()
        if request.args.get("date_range") not in (None, "", "all"):
            raise invalid("date_range must be 'all'")
        since = until = None
        if request.args.get("date_range") != "all":
            since, until = _window(s.clock.now())
        statuses = set(_list_arg("statuses"))
        bad = statuses - {"triggered", "acknowledged", "resolved"}
        if bad:
            raise invalid(f"statuses has invalid values {sorted(bad)}")
        service_ids = set(_list_arg("service_ids"))
        urgencies = set(_list_arg("urgencies"))
        user_ids = set(_list_arg("user_ids"))
        team_ids = set(_list_arg("team_ids"))
        incident_key = request.args.get("incident_key")
        sort_fields = _list_arg("sort_by") or ["created_at"]
        if len(sort_fields) > 2:
            raise invalid("sort_by accepts at most two fields")
        with s.lock:
            items = []
            for incident in s.incidents.values():
                created = parse_time(incident["created_at"])
                if since is not None and not (since <= created < until):
                    continue
                if statuses and incident["status"] not in statuses:
                    continue
                if service_ids and incident["service"]["id"] not in service_ids:
                    continue
                if urgencies and incident["urgency"] not in urgencies:
                    continue
                if team_ids:
                    continue  # no teams in the sandbox account
                if incident_key and incident["incident_key"] != incident_key:
                    continue
                if user_ids and not any(a["assignee"]["id"] in user_ids
                                        for a in incident["assignments"]):
                    continue
                items.append(incident)
            for field in reversed(sort_fields):
                name, _, direction = field.partition(":")
                if name not in ("incident_number", "created_at", "resolved_at", "urgency"):
                    raise invalid(f"sort_by field {name!r} is not supported")
                if direction not in ("", "asc", "desc"):
                    raise invalid(f"sort_by direction {direction!r} must be asc or desc")
                items.sort(key=lambda i, n=name: _sort_key_time(i[n]) if n == "resolved_at"
                           else i[n], reverse=direction == "desc")
            inc = include()
            return _page("incidents", items, lambda i: incident_out(i, inc))

    @app.get("/incidents/<id>")
    def get_incident(id: str) -> Response:
        s = store()
        with s.lock:
            incident = s.incidents.get(id) or next(
                (i for i in s.incidents.values() if str(i["incident_number"]) == id), None)
            if incident is None:
                raise not_found()
            return _json({"incident": incident_out(incident, include())})

    @app.put("/incidents/<id>")
    def update_incident(id: str) -> Response:
        """Acknowledge or resolve one incident (PUT /incidents/{id}), as the From header's user."""
        s = store()
        body = request.get_json(silent=True) or {}
        change = body.get("incident")
        if not isinstance(change, dict) or change.get("type") not in ("incident", "incident_reference"):
            raise invalid("incident.type must be 'incident' or 'incident_reference'")
        status = change.get("status")
        if status not in (None, "acknowledged", "resolved"):
            raise invalid(f"incident.status {status!r} is not supported by the sandbox")
        with s.lock:
            incident = s.incidents.get(id)
            if incident is None:
                raise not_found()
            user = requester(s)
            if status == "resolved":
                s.resolve(id, s.clock.now(), user["id"])
            elif status == "acknowledged":
                s.acknowledge(id, s.clock.now(), user["id"])
            return _json({"incident": incident_out(s.incidents[id], include())})

    @app.get("/incidents/<id>/notes")
    def list_notes(id: str) -> Response:
        s = store()
        with s.lock:
            if id not in s.incidents:
                raise not_found()
            return _json({"notes": copy.deepcopy(s.notes.get(id, []))})

    @app.post("/incidents/<id>/notes")
    def create_note(id: str) -> Response:
        s = store()
        with s.lock:
            if id not in s.incidents:
                raise not_found()
            user = requester(s)
            note = (request.get_json(silent=True) or {}).get("note") or {}
            if not isinstance(note, dict) or not note.get("content"):
                raise invalid("note.content is required")
            created = s.add_note(id, str(note["content"]), s.clock.now(), user["id"])
            return _json({"note": copy.deepcopy(created)}, 201)

    def requester(s: PagerDutyStore) -> dict:
        """The user named by the `From` header, which PagerDuty requires on writes."""
        sender = request.headers.get("From")
        if not sender:
            raise ApiError(400, "The action requires a 'from' header", 2011)
        user = next((u for u in s.users.values() if u["email"].lower() == sender.lower()), None)
        if user is None:
            raise invalid("Requester User Not Found")
        return user

    # ------------------------------------------------------------------ log entries

    def log_entries_out(entries: list[dict]) -> Response:
        s, inc = store(), include()
        overview = _bool_arg("is_overview")
        items = [e for e in entries if not (overview and e["type"] in NON_OVERVIEW_TYPES)]
        # Newest first; within one second, the later recorded first (stable sort of the
        # reversed insertion order).
        items.reverse()
        items.sort(key=lambda e: e["created_at"], reverse=True)

        def expand(entry: dict) -> dict:
            view = copy.deepcopy(entry)
            if "incidents" in inc and view["incident"]["id"] in s.incidents:
                view["incident"] = copy.deepcopy(s.incidents[view["incident"]["id"]])
            if "services" in inc and view["service"]["id"] in s.services:
                view["service"] = s.service_view(s.services[view["service"]["id"]])
            return view

        return _page("log_entries", items, expand)

    @app.get("/log_entries")
    def list_log_entries() -> Response:
        s = store()
        since, until = _window(s.clock.now())
        if _list_arg("team_ids"):
            return _page("log_entries", [])
        with s.lock:
            entries = [e for e in s.log_entries.values()
                       if since <= parse_time(e["created_at"]) < until]
            return log_entries_out(entries)

    @app.get("/incidents/<id>/log_entries")
    def incident_log_entries(id: str) -> Response:
        s = store()
        since, until = _window(s.clock.now(), default_months=None)
        with s.lock:
            if id not in s.incidents:
                raise not_found()
            entries = [e for e in s.log_entries.values() if e["incident"]["id"] == id
                       and (since is None or since <= parse_time(e["created_at"]) < until)]
            return log_entries_out(entries)

    # ------------------------------------------------------------------ directory

    @app.get("/priorities")
    def list_priorities() -> Response:
        s = store()
        with s.lock:
            # Most to least severe, as PagerDuty lists them.
            items = sorted(s.priorities.values(), key=lambda p: p["order"], reverse=True)
            return _page("priorities", copy.deepcopy(items))

    @app.get("/users")
    def list_users() -> Response:
        s = store()
        with s.lock:
            items = _query_filter(list(s.users.values()), "name", "email")
            items.sort(key=lambda u: u["name"].lower())
            return _page("users", copy.deepcopy(items))

    @app.get("/users/<id>")
    def get_user(id: str) -> Response:
        s = store()
        with s.lock:
            if id not in s.users:
                raise not_found()
            return _json({"user": copy.deepcopy(s.users[id])})

    @app.get("/escalation_policies")
    def list_escalation_policies() -> Response:
        s = store()
        with s.lock:
            items = _query_filter(list(s.escalation_policies.values()), "name")
            user_ids = set(_list_arg("user_ids"))
            if user_ids:
                items = [p for p in items if any(t["id"] in user_ids for r in p["escalation_rules"]
                                                 for t in r["targets"])]
            items.sort(key=lambda p: p["name"].lower())
            return _page("escalation_policies", [s.escalation_policy_view(p) for p in items])

    @app.get("/escalation_policies/<id>")
    def get_escalation_policy(id: str) -> Response:
        s = store()
        with s.lock:
            policy = s.escalation_policies.get(id)
            if policy is None:
                raise not_found()
            return _json({"escalation_policy": s.escalation_policy_view(policy)})

    # ------------------------------------------------------------------ schedules & on-call

    @app.get("/schedules")
    def list_schedules() -> Response:
        s = store()
        with s.lock:
            items = _query_filter(list(s.schedules.values()), "name")
            items.sort(key=lambda i: i["name"].lower())
            out = []
            for schedule in items:
                view = s.schedule_base_view(schedule)
                view.pop("schedule_layers")  # the list shows schedules, not their layers
                out.append(view)
            return _page("schedules", out)

    @app.get("/schedules/<id>")
    def get_schedule(id: str) -> Response:
        s = store()
        since, until = _time_arg("since"), _time_arg("until")
        since = since or s.clock.now()
        until = until or since + dt.timedelta(weeks=2)
        if until < since:
            raise ApiError(400, "Invalid Query Date Range", 2005, ["until must be after since"])
        with s.lock:
            schedule = s.schedules.get(id)
            if schedule is None:
                raise not_found()
            view = s.schedule_base_view(schedule)
            return _json({"schedule": render(view, s.schedule_overrides.get(id, []),
                                             since, until)})

    @app.get("/oncalls")
    def list_oncalls() -> Response:
        s = store()
        now = s.clock.now()
        since, until = _time_arg("since") or now, _time_arg("until") or now
        if until < since:
            raise ApiError(400, "Invalid Query Date Range", 2005, ["until must be after since"])
        if add_months(since, 3) < until:
            raise ApiError(400, "Invalid Query Date Range", 2005,
                           ["The search range cannot exceed 3 months."])
        policy_ids = set(_list_arg("escalation_policy_ids"))
        schedule_ids = set(_list_arg("schedule_ids"))
        user_ids = set(_list_arg("user_ids"))
        earliest = _bool_arg("earliest")
        # Render wide enough that shifts show their true start and end, not the query window.
        pad = dt.timedelta(days=35)
        with s.lock:
            oncalls = []
            for policy in s.escalation_policies.values():
                if policy_ids and policy["id"] not in policy_ids:
                    continue
                policy_ref = s.ref("escalation_policy", policy["id"])
                for level, rule in enumerate(policy["escalation_rules"], start=1):
                    for target in rule["targets"]:
                        if target["type"] == "user_reference":
                            if schedule_ids and "null" not in schedule_ids:
                                continue
                            shifts = [(None, None, s.ref("user", target["id"]), None)]
                        else:
                            schedule = s.schedules.get(target["id"])
                            if schedule is None or (schedule_ids and target["id"] not in schedule_ids):
                                continue
                            entries = final_for(schedule, s.schedule_overrides.get(schedule["id"], []),
                                                since - pad, until + pad)
                            shifts = [(st, en, user, s.ref("schedule", schedule["id"]))
                                      for st, en, user in entries
                                      if st <= until and en > since]
                        for start, end, user, schedule_ref in shifts:
                            if user_ids and user["id"] not in user_ids:
                                continue
                            oncalls.append({
                                "escalation_policy": policy_ref,
                                "escalation_level": level,
                                "schedule": schedule_ref,
                                "user": user,
                                "start": iso(start),
                                "end": iso(end),
                            })
            if earliest:
                seen, kept = set(), []
                for oncall in sorted(oncalls, key=lambda o: _sort_key_time(o["start"])):
                    key = (oncall["escalation_policy"]["id"], oncall["escalation_level"],
                           oncall["user"]["id"])
                    if key not in seen:
                        seen.add(key)
                        kept.append(oncall)
                oncalls = kept
            oncalls.sort(key=lambda o: (o["escalation_policy"]["id"], o["escalation_level"],
                                        _sort_key_time(o["start"])))
            return _page("oncalls", oncalls)

    # ------------------------------------------------------------------ maintenance windows

    @app.get("/maintenance_windows")
    def list_maintenance_windows() -> Response:
        s = store()
        now = s.clock.now()
        which = request.args.get("filter") or "all"
        if which not in ("past", "future", "ongoing", "open", "all"):
            raise invalid("filter must be one of past, future, ongoing, open, all")
        service_ids = set(_list_arg("service_ids"))
        with s.lock:
            items = []
            for window in _query_filter(list(s.maintenance_windows.values()), "description"):
                start, end = parse_time(window["start_time"]), parse_time(window["end_time"])
                state = {"past": end <= now, "future": start > now, "ongoing": start <= now < end,
                         "open": end > now, "all": True}[which]
                if not state:
                    continue
                if service_ids and not any(x["id"] in service_ids for x in window["services"]):
                    continue
                items.append(window)
            items.sort(key=lambda w: w["start_time"])
            return _page("maintenance_windows", copy.deepcopy(items))

    @app.get("/maintenance_windows/<id>")
    def get_maintenance_window(id: str) -> Response:
        s = store()
        with s.lock:
            if id not in s.maintenance_windows:
                raise not_found()
            return _json({"maintenance_window": copy.deepcopy(s.maintenance_windows[id])})

    @app.post("/maintenance_windows")
    def create_maintenance_window() -> Response:
        s = store()
        body = request.get_json(silent=True) or {}
        window = body.get("maintenance_window")
        if not isinstance(window, dict):
            raise invalid("maintenance_window is required")
        try:
            start, end = parse_time(window["start_time"]), parse_time(window["end_time"])
        except (KeyError, TypeError, ValueError):
            raise invalid("start_time and end_time must be ISO 8601 date-times") from None
        services = window.get("services") or []
        if not services:
            raise invalid("services must contain at least one service")
        with s.lock:
            user = requester(s)
            try:
                created = s.add_maintenance_window(
                    start, end, [x.get("id") for x in services],
                    description=window.get("description") or "", created_by=user["id"])
            except PagerDutyError as exc:
                raise invalid(str(exc)) from None
            return _json({"maintenance_window": copy.deepcopy(created)}, 201)

    @app.delete("/maintenance_windows/<id>")
    def delete_maintenance_window(id: str) -> Response:
        s = store()
        now = s.clock.now()
        with s.lock:
            window = s.maintenance_windows.get(id)
            if window is None:
                raise not_found()
            start, end = parse_time(window["start_time"]), parse_time(window["end_time"])
            if end <= now:
                raise ApiError(405, "The maintenance window can't be deleted because it has "
                               "already ended.", 2001)
            if start <= now:
                window["end_time"] = iso(now)  # an ongoing window is ended, not erased
            else:
                del s.maintenance_windows[id]
            return Response(status=204)

    # ------------------------------------------------------------------ Events API v2

    @app.post("/v2/enqueue")
    def enqueue() -> Response:
        s = store()
        try:
            event = json.loads(request.get_data(as_text=True) or "null")
        except json.JSONDecodeError:
            event = None
        now = s.clock.now()
        if not isinstance(event, dict):
            record_event(s, {"raw": request.get_data(as_text=True)}, now, accepted=False)
            return _json({"status": "invalid event", "message": "Event object is invalid",
                          "errors": ["Request body is not a JSON object"]}, 400)
        if event.get("routing_key") in events_gate.revoked_tokens:
            record_event(s, event, now, accepted=False)
            return _json({"status": "invalid event", "message": "Event object is invalid",
                          "errors": ["Invalid routing key"]}, 400)
        try:
            answer = s.enqueue_event(event, now)
        except PagerDutyError as exc:
            record_event(s, event, now, accepted=False)
            return _json({"status": "invalid event", "message": "Event object is invalid",
                          "errors": str(exc).split("; ")}, 400)
        record_event(s, event, now, accepted=True, dedup_key=answer["dedup_key"])
        return _json(answer, 202)

    @app.post("/v2/change/enqueue")
    def change_enqueue() -> Response:
        s = store()
        event = request.get_json(silent=True)
        if not isinstance(event, dict) or not (event.get("payload") or {}).get("summary"):
            return _json({"status": "invalid event", "message": "Event object is invalid",
                          "errors": ["'payload.summary' is missing or blank"]}, 400)
        record_event(s, event, s.clock.now(), accepted=True, kind="change")
        return _json({"status": "success", "message": "Change event processed"}, 202)

    def record_event(s: PagerDutyStore, event: dict, at: dt.datetime, *, accepted: bool,
                     dedup_key: str | None = None, kind: str = "alert") -> None:
        record = {"received_at": iso(at), "kind": kind, "accepted": accepted,
                  "dedup_key": dedup_key, "event": event}
        with s.lock:
            s.events.append(record)
        app.config["EVENT_SINK"](record)

    app.config["EVENT_SINK"] = lambda record: None
    return app

