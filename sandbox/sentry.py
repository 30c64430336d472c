"""The Sentry REST API stand-in (`/api/0/`): `organizations/{org}/stats_v2/` and
`organizations/{org}/issues/`, as Sentry answers them.

- Auth: `Authorization: Bearer <token>`; 401 `{"detail": "Invalid token"}`. Each token has scopes:
  SENTRY_TOKEN has org:read, project:read and event:read; SENTRY_ORG_ONLY_TOKEN has org:read only
  (the issues list answers it 403 `{"detail": "You do not have permission to perform this action."}`).
- Every answer carries `X-Sentry-Rate-Limit-Limit/-Remaining/-Reset` (Reset in epoch seconds)
  and `-ConcurrentLimit/-ConcurrentRemaining`; a simulated limit answers 429 with them.
- Issues: 100 a page at most (`limit`), `cursor` "<value>:<offset>:<is_prev>", and a `Link` header
  with `rel="previous"` and `rel="next"` parts each saying `results="true|false"`. `query` knows
  `is:unresolved`/`is:resolved` (the default is is:unresolved, as Sentry's) and `firstSeen:>=ISO`;
  `start`/`end` keep issues last seen in the range.
- stats_v2: `field=sum(quantity)` and `groupBy` required (400 otherwise), `start`/`end`/`interval`
  (1h or 1d), answer `{start, end, intervals, groups: [{by, totals, series}]}`.

The seeded history (`SentryStore.seeded`) covers the reference month and the one before: hourly
accepted/filtered/rate-limited error and transaction counts and ~230 issues (some with hostile
titles), from estate.yaml monitoring.sentry.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request

from sandbox.state import Gate, RequestCounter

SENTRY_TOKEN = "sntrys_sandbox_token"
SENTRY_ORG_ONLY_TOKEN = "sntrys_sandbox_org_read_only"
TOKEN_SCOPES = {SENTRY_TOKEN: {"org:read", "project:read", "event:read"}, SENTRY_ORG_ONLY_TOKEN: {"org:read"}}
# Benchmark mode (bench/metrics.py): SANDBOX_SENTRY_ISSUES=N in the sandbox's environment seeds N issues.
ISSUES_ENV = "SANDBOX_SENTRY_ISSUES"
RATE_LIMIT = 40  # Sentry's usual per-second limit of an org endpoint
NO_PERMISSION = "You do not have permission to perform this action."
HOSTILE_TITLES = ["<!channel> TypeError: cannot read 'x' & <b>bold</b>",
                  "=HYPERLINK(\"http://evil\") in <script>alert(1)</script>",
                  "*bold* _it_ ~strike~ `code` <https://evil.example|click>"]


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class SentryStore:
    def __init__(self, organization: str, base_url: str) -> None:
        self.organization = organization
        self.base_url = base_url
        self.lock = threading.RLock()
        self.projects: dict[str, str] = {}  # slug -> id
        self.issues: list[dict[str, Any]] = []
        # (hour start, outcome, category) -> quantity
        self.counts: dict[tuple[dt.datetime, str, str], int] = {}

    @classmethod
    def seeded(cls, estate: Any, reference_month: dt.date, seed: int, base_url: str) -> SentryStore | None:
        settings = estate.monitoring.sentry
        if settings is None:
            return None
        store = cls(settings.organization, base_url)
        rng = random.Random(f"{seed}/sentry")
        start = dt.datetime(reference_month.year, reference_month.month, 1, tzinfo=dt.UTC)
        first = (start - dt.timedelta(days=1)).replace(day=1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        for i, slug in enumerate(settings.projects):
            store.projects[slug] = str(4500000 + i)
        hour = first
        while hour < following:
            spike = 3 if (hour.day in (14, 15) and hour >= start) else 1  # the 5XX spike
            store.counts[(hour, "accepted", "error")] = rng.randint(20, 60) * spike
            store.counts[(hour, "filtered", "error")] = rng.randint(0, 5)
            store.counts[(hour, "rate_limited", "error")] = rng.randint(0, 2) * spike
            store.counts[(hour, "accepted", "transaction")] = rng.randint(900, 1100)
            hour += dt.timedelta(hours=1)
        span = (following - first).total_seconds()
        for n in range(int(os.environ.get(ISSUES_ENV) or 230)):
            slug = settings.projects[n % len(settings.projects)]
            seen = first + dt.timedelta(seconds=rng.randrange(int(span)))
            last = min(seen + dt.timedelta(hours=rng.randint(0, 200)), following - dt.timedelta(seconds=1))
            issue_id = str(7000000 + n)
            title = HOSTILE_TITLES[n % len(HOSTILE_TITLES)] if n % 50 == 7 else f"Error {n} in {slug}"
            store.issues.append({
                "id": issue_id, "shortId": f"{slug.upper()}-{n + 1:X}", "title": title,
                "culprit": f"app.views.handler{n % 7}", "level": "error",
                "status": "resolved" if n % 5 == 0 else "unresolved",
                "permalink": f"{base_url}/organizations/{settings.organization}/issues/{issue_id}/",
                "firstSeen": _iso(seen), "lastSeen": _iso(last),
                "count": str(rng.randint(1, 500)), "userCount": rng.randint(0, 40),
                "project": {"id": store.projects[slug], "name": slug, "slug": slug},
                "type": "error", "metadata": {"title": title}, "isUnhandled": n % 3 == 0})
        return store


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers or {})


def _limit_headers(limit: int, remaining: int, reset_seconds: int) -> dict[str, str]:
    return {"X-Sentry-Rate-Limit-Limit": str(limit), "X-Sentry-Rate-Limit-Remaining": str(remaining),
            "X-Sentry-Rate-Limit-Reset": str(int(time.time()) + reset_seconds),
            "X-Sentry-Rate-Limit-ConcurrentLimit": "25", "X-Sentry-Rate-Limit-ConcurrentRemaining": "24"}


def _matches(issue: dict[str, Any], query: str) -> bool:
    status = "unresolved"
    for token in query.split():
        if token.startswith("is:"):
            status = token[3:]
        elif token.startswith("firstSeen:>="):
            since = _parse(token[len("firstSeen:>="):])
            if since and _parse(issue["firstSeen"]) < since:
                return False
        elif (token.startswith("project:")
              and issue["project"]["slug"] not in token[len("project:"):].strip("[]").split(",")):
            return False
    return issue["status"] == status


def create_app(get_store: Callable[[], SentryStore | None], gate: Gate, counter: RequestCounter) -> Flask:
    app = Flask("sandbox.sentry")

    @app.before_request
    def _gatekeeper() -> Response | None:
        if request.path.startswith("/_sandbox/"):
            return None
        counter.count("sentry", request.method, request.path, request.url_rule.rule if request.url_rule else None)
        limited = gate.check_rate()
        if limited is not None:
            limit, _remaining, reset = limited
            return _json({"detail": f"You are attempting to use this endpoint too frequently. Limit is {limit} "
                                    "requests in 1 seconds"}, 429, _limit_headers(limit, 0, reset))
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else None
        if not gate.token_ok(token):
            return _json({"detail": "Invalid token"}, 401)
        request.environ["sandbox.scopes"] = TOKEN_SCOPES.get(token or "", set())
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        if request.path.startswith("/api/0/") and response.status_code != 429:
            response.headers.update(_limit_headers(RATE_LIMIT, max(gate.remaining(), 0), 1))
        return response

    def _org(org: str) -> SentryStore | Response:
        store = get_store()
        if store is None or org != store.organization:
            return _json({"detail": "The requested resource does not exist"}, 404)
        return store

    @app.get("/api/0/organizations/<org>/stats_v2/")
    def stats_v2(org: str) -> Response:
        store = _org(org)
        if isinstance(store, Response):
            return store
        if "org:read" not in request.environ["sandbox.scopes"]:
            return _json({"detail": NO_PERMISSION}, 403)
        fields, group_by = request.args.getlist("field"), request.args.getlist("groupBy")
        if fields != ["sum(quantity)"] and fields != ["sum(times_seen)"]:
            return _json({"detail": 'field: at least one of "sum(quantity)" or "sum(times_seen)" is required'}, 400)
        if not group_by or any(g not in ("outcome", "category", "reason", "project") for g in group_by):
            return _json({"detail": "groupBy: one or more of outcome, category, reason, project is required"}, 400)
        interval = request.args.get("interval", "1d")
        step = {"1h": dt.timedelta(hours=1), "1d": dt.timedelta(days=1)}.get(interval)
        start, end = _parse(request.args.get("start")), _parse(request.args.get("end"))
        if step is None or start is None or end is None or end <= start:
            return _json({"detail": "start, end (start < end) and an interval of 1h or 1d are required"}, 400)
        # Sentry aligns the range to the interval.
        start = start.replace(minute=0, second=0, microsecond=0) if step.days == 0 else start.replace(
            hour=0, minute=0, second=0, microsecond=0)
        intervals = []
        t = start
        while t < end:
            intervals.append(t)
            t += step
        groups: dict[tuple, list[int]] = {}
        with store.lock:
            for (hour, outcome, category), quantity in store.counts.items():
                if not start <= hour < end:
                    continue
                by = tuple((g, {"outcome": outcome, "category": category}.get(g, "")) for g in group_by)
                series = groups.setdefault(by, [0] * len(intervals))
                series[int((hour - start) / step)] += quantity
        body = {"start": _iso(start), "end": _iso(intervals[-1] + step), "intervals": [_iso(i) for i in intervals],
                "groups": [{"by": dict(by), "totals": {fields[0]: sum(s)}, "series": {fields[0]: s}}
                           for by, s in sorted(groups.items())]}
        return _json(body)

    @app.get("/api/0/organizations/<org>/issues/")
    def issues(org: str) -> Response:
        store = _org(org)
        if isinstance(store, Response):
            return store
        if "event:read" not in request.environ["sandbox.scopes"]:
            return _json({"detail": NO_PERMISSION}, 403)
        try:
            limit = min(int(request.args.get("limit", 100)), 100)
            value, offset, _prev = (request.args.get("cursor") or "0:0:0").split(":")
            offset = int(offset)
        except ValueError:
            return _json({"detail": "Invalid cursor parameter."}, 400)
        query = request.args.get("query", "is:unresolved")
        start, end = _parse(request.args.get("start")), _parse(request.args.get("end"))
        with store.lock:
            found = [i for i in store.issues if _matches(i, query)
                     and (start is None or _parse(i["lastSeen"]) >= start)
                     and (end is None or _parse(i["lastSeen"]) < end)]
        found.sort(key=lambda i: (i["lastSeen"], i["id"]), reverse=True)
        page = found[offset:offset + limit]
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        url = f"{store.base_url}{request.path}?{urlencode(args)}&cursor="
        prev_cursor, next_cursor = f"{value}:{max(offset - limit, 0)}:1", f"{value}:{offset + limit}:0"
        link = (f'<{url}{prev_cursor}>; rel="previous"; results="{"true" if offset > 0 else "false"}"; '
                f'cursor="{prev_cursor}", '
                f'<{url}{next_cursor}>; rel="next"; results="{"true" if offset + limit < len(found) else "false"}"; '
                f'cursor="{next_cursor}"')
        return _json(page, headers={"Link": link})

    @app.errorhandler(404)
    def _not_found(_err: Exception) -> Response:
        return _json({"detail": "The requested resource does not exist"}, 404)

    return app
