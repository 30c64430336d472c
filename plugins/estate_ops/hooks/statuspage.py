"""Atlassian Statuspage REST API v1 over the HTTP provider's `HttpHook` (no Statuspage provider).

Connection `statuspage_default` (HTTP): host = the API base URL (`https://api.statuspage.io/v1`,
or the sandbox's), password = the API key, sent as `Authorization: OAuth <key>`. Lists page with
`page`/`per_page` (100 a page, until a short page). Statuspage allows 1 request/s per key, measured
on a 60-second rolling window (60 requests in any 60 s), and answers 420 or 429 beyond it. The hook
keeps to that window itself (`RateWindow`: before a 61st request within 60 s it sleeps until the
oldest leaves the window; monotonic clock and sleeper injectable), and should a 420/429 still come
(another client on the same key) it waits (`Retry-After`, else `X-RateLimit-Reset`, else 1 s)
and retries, as the PagerDuty hook waits for `ratelimit-reset`; a 5xx is retried with exponential
backoff. A rejected request changed nothing, so a write is retried the same way. Every HTTP
request, retries included, is counted in `calls`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from airflow.providers.http.hooks.http import HttpHook

log = logging.getLogger(__name__)

PER_PAGE = 100  # Statuspage's largest page
MAX_PAGES = 1_000  # a list longer than this is a server that never ends its list
MAX_THROTTLE_WAITS = 20
MAX_5XX_RETRIES = 4
MAX_WAIT_SECONDS = 60.0
THROTTLED = (420, 429)
RATE_LIMIT_REQUESTS = 60  # Statuspage: 1 request/s per key, measured on a 60-second rolling window
RATE_LIMIT_WINDOW_SECONDS = 60.0
METADATA_NAMESPACE = "estate_ops"  # incidents' `metadata` key under which estate-ops marks what it made


class StatuspageAuthError(RuntimeError):
    """Statuspage answered 401 (wrong or revoked key) or 403 (the key may not do this)."""


class StatuspageNotFoundError(LookupError):
    """The page, component or incident named does not exist on Statuspage."""


class StatuspageApiError(RuntimeError):
    """Statuspage answered an error status that retrying does not cure."""


def iso_utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: Statuspage times must carry an offset")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> dt.datetime | None:
    """A Statuspage timestamp (ISO 8601 with an offset or Z) as aware UTC; None stays None."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"Statuspage time without an offset: {value!r}")
    return parsed.astimezone(dt.UTC)


def _wait_seconds(response: Any) -> float:
    for header in ("Retry-After", "X-RateLimit-Reset"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds > 1e9:  # an epoch timestamp rather than seconds
            seconds = seconds - time.time()
        return min(max(seconds, 1.0), MAX_WAIT_SECONDS)
    return 1.0


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:300]
    return str(body)[:300]


class RateWindow:
    """At most `limit` requests in any `window` seconds: `wait()` before each request sleeps until
    the oldest of the last `limit` requests has left the window (nothing when there is room)."""

    def __init__(self, limit: int = RATE_LIMIT_REQUESTS, window: float = RATE_LIMIT_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sent: deque[float] = deque(maxlen=limit)
        self.waited = 0.0  # seconds slept for pacing, in total

    def wait(self, sleep: Callable[[float], None]) -> float:
        """Sleep as long as needed for one more request, record it, and return the seconds slept."""
        slept = 0.0
        if len(self.sent) == self.limit:
            slept = self.sent[0] + self.window - self.clock()
            if slept > 0:
                sleep(slept)
                self.waited += slept
            else:
                slept = 0.0
        self.sent.append(self.clock())
        return slept


class StatuspageHook(HttpHook):
    """Statuspage v1 for one page; `calls` counts every request, `throttled` the 420/429 waited out."""

    conn_name_attr = "http_conn_id"
    default_conn_name = "statuspage_default"
    hook_name = "Statuspage"

    def __init__(self, page_id: str, statuspage_conn_id: str = default_conn_name) -> None:
        super().__init__(method="GET", http_conn_id=statuspage_conn_id)
        self.statuspage_conn_id = statuspage_conn_id
        self.page_id = page_id
        self.calls = 0
        self.throttled = 0
        self.retried = 0
        self.sleep: Callable[[float], None] = time.sleep  # replaced in tests
        self.pace = RateWindow()  # its clock replaced in tests
        self._key: str | None = None

    # ------------------------------------------------------------------ transport

    def _headers(self) -> dict[str, str]:
        if self._key is None:
            key = self.get_connection(self.statuspage_conn_id).password
            if not key:
                raise StatuspageAuthError(f"connection {self.statuspage_conn_id!r} has no password: put the "
                                          "Statuspage API key there")
            self._key = key
        return {"Authorization": f"OAuth {self._key}", "Accept": "application/json"}

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json: dict[str, Any] | None = None, what: str | None = None,
                missing_ok: bool = False) -> Any:
        """One request, waiting out 420/429 and retrying 5xx. A 404 raises StatuspageNotFoundError
        naming `what` (or returns None with `missing_ok`); 401/403 name the connection."""
        throttles = server_errors = 0
        while True:
            self.method = method
            self.pace.wait(self.sleep)
            self.calls += 1
            response = self.run(path, data=params if method == "GET" else None, headers=self._headers(),
                                extra_options={"check_response": False},
                                **({"json": json} if json is not None else {}))
            status = response.status_code
            if status in THROTTLED:
                throttles += 1
                if throttles > MAX_THROTTLE_WAITS:
                    raise StatuspageApiError(f"{method} {path}: still rate limited ({status}) after "
                                             f"{MAX_THROTTLE_WAITS} waits")
                self.throttled += 1
                wait = _wait_seconds(response)
                log.warning("Statuspage rate limit (%s) on %s %s: waiting %.1f s", status, method, path, wait)
                self.sleep(wait)
                continue
            if status >= 500:
                server_errors += 1
                if server_errors > MAX_5XX_RETRIES:
                    raise StatuspageApiError(f"{method} {path}: Statuspage answered {status} "
                                             f"{_error_text(response)} {server_errors} times")
                self.retried += 1
                self.sleep(2.0 ** (server_errors - 1))
                continue
            break
        if status == 401:
            raise StatuspageAuthError(
                f"Statuspage rejected the API key of connection {self.statuspage_conn_id!r} (401): it is wrong or "
                "revoked; put a valid key in the connection's password")
        if status == 403:
            raise StatuspageAuthError(
                f"the API key of connection {self.statuspage_conn_id!r} may not {method} {path} (403): give the "
                f"key's user write access to page {self.page_id!r}")
        if status == 404:
            if missing_ok:
                return None
            raise StatuspageNotFoundError(f"Statuspage has no {what or path} ({method} {path} answered 404): check "
                                          "estate.yaml statuspage")
        if not 200 <= status < 300:
            raise StatuspageApiError(f"{method} {path}: Statuspage answered {status} {_error_text(response)}")
        return response.json() if response.content else {}

    def iter_list(self, path: str, params: dict[str, Any] | None = None, what: str | None = None
                  ) -> Iterator[dict[str, Any]]:
        """Every record of a `page`/`per_page` list, each once (by id), until a short page."""
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            items = self.request("GET", path, params={**(params or {}), "page": page, "per_page": PER_PAGE},
                                 what=what)
            if not isinstance(items, list):
                raise StatuspageApiError(f"GET {path}: expected a JSON list, got {type(items).__name__}")
            for item in items:
                if item.get("id") not in seen:
                    seen.add(item.get("id"))
                    yield item
            if len(items) < PER_PAGE:
                return
        raise StatuspageApiError(f"GET {path}: more than {MAX_PAGES} pages")

    # ------------------------------------------------------------------ reading

    @property
    def _page(self) -> str:
        return f"/pages/{self.page_id}"

    def page(self) -> dict[str, Any]:
        return self.request("GET", self._page, what=f"page {self.page_id!r} (estate.yaml statuspage.page_id)")

    def components(self) -> list[dict[str, Any]]:
        return list(self.iter_list(f"{self._page}/components", what=f"page {self.page_id!r}"))

    def check_components(self, component_ids: list[str]) -> None:
        """StatuspageNotFoundError naming every id of `component_ids` the page does not have."""
        known = {c["id"] for c in self.components()}
        missing = sorted(set(component_ids) - known)
        if missing:
            raise StatuspageNotFoundError(f"page {self.page_id!r} has no component {', '.join(missing)} "
                                          "(estate.yaml statuspage.components)")

    def incidents(self, query: str | None = None) -> list[dict[str, Any]]:
        """Every incident of the page (realtime and scheduled), newest first; `q` filters by text."""
        params = {"q": query} if query else {}
        return list(self.iter_list(f"{self._page}/incidents", params, what=f"page {self.page_id!r}"))

    def incidents_since(self, since: dt.datetime) -> list[dict[str, Any]]:
        """The page's incidents created at or after `since`: pages newest first, and stops after the
        first page that reaches back before `since`."""
        found: list[dict[str, Any]] = []
        path = f"{self._page}/incidents"
        for page in range(1, MAX_PAGES + 1):
            items = self.request("GET", path, params={"page": page, "per_page": PER_PAGE}, what=f"page {self.page_id!r}")
            if not isinstance(items, list):
                raise StatuspageApiError(f"GET {path}: expected a JSON list, got {type(items).__name__}")
            seen = {i.get("id") for i in found}
            found.extend(i for i in items if i.get("id") not in seen
                         and (parse_time(i.get("created_at")) or since) >= since)
            if len(items) < PER_PAGE or any((parse_time(i.get("created_at")) or since) < since for i in items):
                return found
        raise StatuspageApiError(f"GET {path}: more than {MAX_PAGES} pages")

    def scheduled_maintenances(self) -> list[dict[str, Any]]:
        """The page's upcoming scheduled maintenances (`/incidents/scheduled`)."""
        return list(self.iter_list(f"{self._page}/incidents/scheduled", what=f"page {self.page_id!r}"))

    def unresolved_incidents(self) -> list[dict[str, Any]]:
        """The page's unresolved realtime incidents (`/incidents/unresolved`): one request while
        fewer than 100 are open."""
        return list(self.iter_list(f"{self._page}/incidents/unresolved",
                                   what=f"page {self.page_id!r} (estate.yaml statuspage.page_id)"))

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.request("GET", f"{self._page}/incidents/{incident_id}", missing_ok=True)

    # ------------------------------------------------------------------ writing

    def create_scheduled_maintenance(self, *, name: str, body: str, scheduled_for: dt.datetime,
                                     scheduled_until: dt.datetime, component_ids: list[str],
                                     metadata: dict[str, Any]) -> dict[str, Any]:
        """POST a scheduled maintenance (status `scheduled`) on these components."""
        payload = {"incident": {
            "name": name, "status": "scheduled", "body": body, "impact_override": "maintenance",
            "scheduled_for": iso_utc(scheduled_for), "scheduled_until": iso_utc(scheduled_until),
            "scheduled_auto_in_progress": True, "scheduled_auto_completed": True,
            "component_ids": list(component_ids),
            "components": {cid: "under_maintenance" for cid in component_ids},
            "metadata": {METADATA_NAMESPACE: metadata}, "deliver_notifications": True}}
        return self.request("POST", f"{self._page}/incidents", json=payload,
                            what=f"page {self.page_id!r} or one of components {component_ids}")

    def create_incident(self, *, name: str, body: str, status: str, impact: str,
                        components: dict[str, str], metadata: dict[str, Any]) -> dict[str, Any]:
        """POST a realtime incident on these components (id -> component status), marked with
        `metadata.estate_ops`."""
        payload = {"incident": {
            "name": name, "status": status, "body": body, "impact_override": impact,
            "component_ids": list(components), "components": dict(components),
            "metadata": {METADATA_NAMESPACE: metadata}, "deliver_notifications": True}}
        return self.request("POST", f"{self._page}/incidents", json=payload,
                            what=f"page {self.page_id!r} or one of components {sorted(components)}")

    def update_incident(self, incident_id: str, *, status: str, body: str,
                        components: dict[str, str]) -> dict[str, Any]:
        """PATCH an incident: a new update with this status and body, the components' statuses."""
        payload = {"incident": {"status": status, "body": body, "component_ids": list(components),
                                "components": dict(components), "deliver_notifications": True}}
        return self.request("PATCH", f"{self._page}/incidents/{incident_id}", json=payload,
                            what=f"incident {incident_id!r} of page {self.page_id!r}")

    def delete_incident(self, incident_id: str) -> str:
        """DELETE an incident (a cancelled maintenance): "deleted", or "not_found" when already gone."""
        found = self.request("DELETE", f"{self._page}/incidents/{incident_id}", missing_ok=True)
        return "not_found" if found is None else "deleted"
