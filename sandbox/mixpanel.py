"""The Mixpanel Query API stand-in: `GET /api/query/insights?project_id=&bookmark_id=` (a saved
Insights report), as Mixpanel answers it.

- Auth: a service account by HTTP Basic (`MIXPANEL_USER:MIXPANEL_SECRET`); 401
  `{"error": "Unable to authenticate request", "status": "error"}`; a project the account is not
  in: 403.
- `project_id` is required on every call (400 without it); an unknown `bookmark_id` is 400
  `{"error": "bookmark <id> not found", "status": "error"}`.
- A simulated limit answers 429 `{"error": "...rate limit...", "status": "error"}` with Retry-After.
- The answer: `{"computed_at", "date_range": {"from_date", "to_date"}, "headers", "meta",
  "series": {"<metric>": {"<ISO date>": value}}}`: DAU per day over the last 90 days, WAU per ISO
  week (Mondays) over the last 16 weeks, MAU per month over the last 6 months, relative to the
  sandbox's now, from estate.yaml monitoring.mixpanel.reports.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from sandbox.state import Gate, RequestCounter
from sandbox.timeutil import Clock

MIXPANEL_USER = "estate-ops.sandbox.mp-service-account"
MIXPANEL_SECRET = "sandbox-mixpanel-secret"
MIXPANEL_CREDENTIALS = f"{MIXPANEL_USER}:{MIXPANEL_SECRET}"


class MixpanelStore:
    def __init__(self, project_id: int, clock: Clock) -> None:
        self.project_id = project_id
        self.clock = clock
        self.reports: dict[int, dict[str, Any]] = {}  # bookmark id -> {"metric", "unit", "values"}

    @classmethod
    def seeded(cls, estate: Any, seed: int, clock: Clock) -> MixpanelStore | None:
        settings = estate.monitoring.mixpanel
        if settings is None:
            return None
        store = cls(settings.project_id, clock)
        rng = random.Random(f"{seed}/mixpanel")
        today = clock.anchor.date()
        days = [today - dt.timedelta(days=n) for n in range(90, 0, -1)]
        daily = {d: rng.randint(800, 1200) - (300 if d.weekday() >= 5 else 0) for d in days}
        mondays = sorted({d - dt.timedelta(days=d.weekday()) for d in days})[-16:]
        weekly = {m: rng.randint(2500, 3200) for m in mondays}
        months = sorted({d.replace(day=1) for d in days})
        monthly = {m: rng.randint(6000, 7500) for m in months}
        store.reports[settings.reports.dau] = {"metric": "Unique users [Daily]", "unit": "day", "values": daily}
        store.reports[settings.reports.wau] = {"metric": "Unique users [Weekly]", "unit": "week", "values": weekly}
        store.reports[settings.reports.mau] = {"metric": "Unique users [Monthly]", "unit": "month",
                                               "values": monthly}
        return store


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers or {})


def _error(message: str, status: int, headers: dict | None = None) -> Response:
    return _json({"request": request.full_path, "error": message, "status": "error"}, status, headers)


def create_app(get_store: Callable[[], MixpanelStore | None], gate: Gate, counter: RequestCounter) -> Flask:
    app = Flask("sandbox.mixpanel")

    @app.before_request
    def _gatekeeper() -> Response | None:
        if request.path.startswith("/_sandbox/"):
            return None
        counter.count("mixpanel", request.method, request.path, request.url_rule.rule if request.url_rule else None)
        limited = gate.check_rate()
        if limited is not None:
            return _error("Query rate limit exceeded: 60 queries per hour", 429, {"Retry-After": str(limited[2])})
        auth = request.headers.get("Authorization", "")
        try:
            credentials = base64.b64decode(auth[len("Basic "):]).decode() if auth.startswith("Basic ") else ""
        except ValueError:
            credentials = ""
        if not gate.token_ok(credentials):
            return _error("Unable to authenticate request", 401)
        return None

    @app.get("/api/query/insights")
    def insights() -> Response:
        store = get_store()
        project = request.args.get("project_id")
        if not project:
            return _error("project_id is required for service account authentication", 400)
        if store is None or project != str(store.project_id):
            return _error(f"service account is not a member of project {project}", 403)
        try:
            bookmark = int(request.args.get("bookmark_id", ""))
        except ValueError:
            return _error("bookmark_id: an integer is required", 400)
        report = store.reports.get(bookmark)
        if report is None:
            return _error(f"bookmark {bookmark} not found", 400)
        values = report["values"]
        keys = sorted(values)
        series = {f"{k.isoformat()}T00:00:00+00:00": v for k, v in sorted(values.items())}
        return _json({
            "computed_at": store.clock.now().astimezone(dt.UTC).isoformat(),
            "date_range": {"from_date": f"{keys[0].isoformat()}T00:00:00+00:00",
                           "to_date": f"{keys[-1].isoformat()}T23:59:59+00:00"},
            "headers": ["$metric"],
            "meta": {"min_sampling_factor": 1, "is_segmentation_limit_hit": False, "unit": report["unit"]},
            "series": {report["metric"]: series},
        })

    @app.errorhandler(404)
    def _not_found(_err: Exception) -> Response:
        return _error("Not found", 404)

    return app
