"""PagerDuty: the REST API v2 (reading incidents, schedules...) and the Events API v2 (paging).

Both build on the PagerDuty provider's hooks. The connection's host, when set, is the base URL
(the sandbox, or a regional endpoint); otherwise the library's default PagerDuty URL is used.

Reading lists follows PagerDuty's rules (DESIGN.md §6): classic paging with `limit=100`; a time
range whose records would need `offset + limit` past 10,000 is split by time; `since`/`until`
are always sent with an explicit offset and span at most 6 months per request; a 429 waits for
`ratelimit-reset`; a 5xx is retried with exponential backoff. Every HTTP request, retries
included, is counted in `calls` so a benchmark can report it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pagerduty
from airflow.providers.pagerduty.hooks.pagerduty import PagerdutyHook
from airflow.providers.pagerduty.hooks.pagerduty_events import (
    PagerdutyEventsHook,
    prepare_event_data,
)

log = logging.getLogger(__name__)

PAGE_LIMIT = 100  # PagerDuty's maximum page size
MAX_RECORD_INDEX = 10_000  # offset + limit may not pass this
MAX_WINDOW = dt.timedelta(days=180)  # since/until may span at most 6 months; 180 days always fits
MAX_5XX_RETRIES = 4
MAX_429_WAITS = 20
MAX_RESET_WAIT_SECONDS = 120.0


class PagerDutyAuthError(RuntimeError):
    """PagerDuty answered 401: the connection's token is wrong or revoked."""


class PagerDutyNotFoundError(LookupError):
    """An object estate.yaml names does not exist in PagerDuty."""


class PagerDutyApiError(RuntimeError):
    """PagerDuty answered an error status that retrying does not cure."""


class _Retryable(Exception):
    def __init__(self, response: Any) -> None:
        super().__init__(response.status_code)
        self.response = response


class _CountingClient(pagerduty.RestApiV2Client):
    """The library's client, reporting every response to the hook before the library's own retry
    logic sees it: the hook counts it, waits for `ratelimit-reset` on 429, backs off on 5xx."""

    def __init__(self, token: str, *, base_url: str | None, on_response: Callable[[Any], None]) -> None:
        super().__init__(token, base_url=base_url)
        self._on_response = on_response

    def postprocess(self, response: Any, suffix: str | None = None) -> None:
        super().postprocess(response, suffix)
        self._on_response(response)


def iso_utc(value: dt.datetime) -> str:
    """`since`/`until` with an explicit offset: PagerDuty reads a bare time in the account's zone."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: PagerDuty times must carry an offset")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def six_month_windows(since: dt.datetime, until: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """[since, until) cut into consecutive windows PagerDuty accepts (at most 180 days each)."""
    windows = []
    start = since
    while start < until:
        end = min(start + MAX_WINDOW, until)
        windows.append((start, end))
        start = end
    return windows


def _base_url(host: str | None) -> str | None:
    if not host:
        return None
    return host if "://" in host else f"https://{host}"


class PagerDutyRestHook(PagerdutyHook):
    """REST API v2 client over the provider's hook; `calls` counts every request made."""

    def __init__(self, pagerduty_conn_id: str = "pagerduty_default") -> None:
        super().__init__(pagerduty_conn_id=pagerduty_conn_id)
        self.pagerduty_conn_id = pagerduty_conn_id
        self.base_url = _base_url(self.get_connection(pagerduty_conn_id).host)
        self.calls = 0  # every HTTP request, retries included
        self.throttled = 0  # 429 answers waited out
        self.retried = 0  # 5xx answers retried
        self.sleep: Callable[[float], None] = time.sleep  # replaced in tests

    def client(self) -> pagerduty.RestApiV2Client:
        if getattr(self, "_client", None) is None:
            self._client = _CountingClient(self.token, base_url=self.base_url, on_response=self._on_response)
        return self._client

    def _on_response(self, response: Any) -> None:
        # Every response counts, also of requests made through `client()` directly (counted
        # here: do not count them again). 429 and 5xx leave the library's own retry loop (it
        # retries 429 without limit and ignores ratelimit-reset) as _Retryable, for the caller
        # (`_send`, `_write`) to wait and retry by PagerDuty's rules.
        self.calls += 1
        status = response.status_code
        if status == 401:
            raise PagerDutyAuthError(
                f"PagerDuty rejected the token of connection {self.pagerduty_conn_id!r} (401): it is wrong or "
                "revoked; put a valid REST API token in the connection's password")
        if status == 429 or status >= 500:
            raise _Retryable(response)

    def _send(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """One GET, waiting out 429s (per `ratelimit-reset`) and retrying 5xx with backoff."""
        waits = server_errors = 0
        while True:
            try:
                return self.client().get(path, params=params or {})
            except _Retryable as retry:
                response = retry.response
            if response.status_code == 429:
                waits += 1
                if waits > MAX_429_WAITS:
                    raise PagerDutyApiError(f"GET {path}: still rate limited (429) after {MAX_429_WAITS} waits")
                self.throttled += 1
                wait = _reset_seconds(response.headers.get("ratelimit-reset"))
                log.warning("PagerDuty rate limit (429) on GET %s: waiting %.1f s for ratelimit-reset", path, wait)
                self.sleep(wait)
                continue
            server_errors += 1
            if server_errors > MAX_5XX_RETRIES:
                raise PagerDutyApiError(f"GET {path}: PagerDuty answered {response.status_code} "
                                        f"{_error_text(response)} {server_errors} times")
            self.retried += 1
            wait = 2.0 ** (server_errors - 1)
            log.warning("PagerDuty %s on GET %s: retrying in %.0f s", response.status_code, path, wait)
            self.sleep(wait)

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GET; raises PagerDutyApiError with PagerDuty's message on an error status."""
        response = self._send(path, params)
        if not response.is_success:
            raise PagerDutyApiError(f"GET {path}: PagerDuty answered {response.status_code} {_error_text(response)}")
        return response.json()

    def get_object(self, path: str, key: str, what: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET one object; a 404 is PagerDutyNotFoundError naming `what` (e.g. the estate.yaml key)."""
        response = self._send(path, params)
        if response.status_code == 404:
            raise PagerDutyNotFoundError(f"PagerDuty has no {what} (GET {path} answered 404): check estate.yaml")
        if not response.is_success:
            raise PagerDutyApiError(f"GET {path}: PagerDuty answered {response.status_code} {_error_text(response)}")
        return response.json()[key]

    def iter_window(self, path: str, key: str, params: dict[str, Any], since: dt.datetime,
                    until: dt.datetime) -> Iterator[dict[str, Any]]:
        """Every record of a classic-paged list over [since, until), each once (by id).

        The range is cut into windows of at most 6 months; a window whose records would need
        `offset + limit` past 10,000 (PagerDuty refuses those pages) is split by time until each
        part fits. `total=true` on a window's first page says how many it holds, so the split
        happens before paging, not after 100 wasted pages.
        """
        seen: set[str] = set()
        for start, end in six_month_windows(since, until):
            for record in self._page_window(path, key, params, start, end):
                rid = record.get("id")
                if rid is None or rid not in seen:
                    if rid is not None:
                        seen.add(rid)
                    yield record

    def _page_window(self, path: str, key: str, params: dict[str, Any], since: dt.datetime,
                     until: dt.datetime) -> Iterator[dict[str, Any]]:
        query = {**params, "since": iso_utc(since), "until": iso_utc(until), "limit": PAGE_LIMIT}
        first = self.get(path, {**query, "offset": 0, "total": "true"})
        total = first.get("total")
        yield from first.get(key, [])
        if not first.get("more"):
            return
        if isinstance(total, int) and total > MAX_RECORD_INDEX:
            parts = math.ceil(total / (MAX_RECORD_INDEX * 0.9))
            yield from self._split(path, key, params, since, until, parts)
            return
        offset = int(first.get("limit") or PAGE_LIMIT)
        while True:
            if offset + PAGE_LIMIT > MAX_RECORD_INDEX:
                # `total` was not given and the window holds more than 10,000: halve it.
                yield from self._split(path, key, params, since, until, 2)
                return
            page = self.get(path, {**query, "offset": offset})
            items = page.get(key, [])
            yield from items
            if not page.get("more") or not items:
                return
            offset += len(items)

    def _split(self, path: str, key: str, params: dict[str, Any], since: dt.datetime, until: dt.datetime,
               parts: int) -> Iterator[dict[str, Any]]:
        span = (until - since) / parts
        if span < dt.timedelta(seconds=1):
            raise PagerDutyApiError(f"GET {path}: more than {MAX_RECORD_INDEX} records between "
                                    f"{iso_utc(since)} and {iso_utc(until)}: cannot split the time range further")
        log.info("GET %s: more than %d records in %s..%s, splitting the range in %d", path, MAX_RECORD_INDEX,
                 iso_utc(since), iso_utc(until), parts)
        bounds = [since + span * i for i in range(parts)] + [until]
        # Whole seconds: PagerDuty reads since/until to the second.
        bounds = [bounds[0]] + [b.replace(microsecond=0) for b in bounds[1:-1]] + [bounds[-1]]
        for start, end in itertools.pairwise(bounds):
            if end > start:
                yield from self._page_window(path, key, params, start, end)

    # ------------------------------------------------------------------ what the reports read

    def incidents(self, service_ids: list[str], since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
        """Incidents of these services created in [since, until), any status."""
        params = {"service_ids[]": list(service_ids), "time_zone": "UTC", "sort_by": "created_at"}
        return list(self.iter_window("/incidents", "incidents", params, since, until))

    def log_entries(self, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
        """The account's log entries in [since, until) in bulk (overview: no notification noise),
        with channels so a note's text is there: one request per 100 entries, not per incident."""
        params = {"time_zone": "UTC", "is_overview": "true", "include[]": ["channels"]}
        return list(self.iter_window("/log_entries", "log_entries", params, since, until))

    def open_incidents(self, service_ids: list[str]) -> list[dict[str, Any]]:
        """These services' triggered or acknowledged incidents, whenever they were created: one page
        of 100 (plenty for an alert-route drill's service or the status-page sync; `more` is not
        followed)."""
        if isinstance(service_ids, str):  # list("PLEGAPI") would ask for seven one-letter services
            raise TypeError(f"open_incidents takes a list of service ids, not the string {service_ids!r}")
        return self.get("/incidents", {"service_ids[]": list(service_ids),
                                       "statuses[]": ["triggered", "acknowledged"],
                                       "date_range": "all", "limit": 100})["incidents"]

    def incident_notes(self, incident_id: str) -> list[dict[str, Any]]:
        return self.get(f"/incidents/{incident_id}/notes").get("notes", [])

    def service(self, service_id: str, what: str) -> dict[str, Any]:
        return self.get_object(f"/services/{service_id}", "service", what)

    def rendered_schedule(self, schedule_id: str, since: dt.datetime, until: dt.datetime, what: str) -> dict[str, Any]:
        """`GET /schedules/{id}?since&until`: layers, overrides and the final schedule rendered."""
        return self.get_object(f"/schedules/{schedule_id}", "schedule", what,
                               {"since": iso_utc(since), "until": iso_utc(until), "time_zone": "UTC"})

    def escalation_policy(self, policy_id: str, what: str) -> dict[str, Any]:
        return self.get_object(f"/escalation_policies/{policy_id}", "escalation_policy", what)


    def exists(self, path: str) -> tuple[bool, str]:
        """(True, name) when GET `path` answers, (False, why) on 404; other errors raise."""
        response = self._send(path)  # counted; a 401 raises PagerDutyAuthError
        if response.status_code == 404:
            return False, "PagerDuty answers 404: no such object"
        response.raise_for_status()
        body = response.json()
        obj = next(iter(body.values())) if len(body) == 1 else body
        return True, str(obj.get("name") or obj.get("summary") or "found")

    def resolve_incident(self, incident_id: str, from_email: str, resolution: str) -> str:
        """`PUT /incidents/{id}` status resolved, as `from_email` (a PagerDuty user: the From header
        PagerDuty requires on writes). "resolved", or "not_found" when the incident is gone. Resolving
        a resolved incident changes nothing, so a rerun is harmless."""
        body = {"incident": {"type": "incident_reference", "status": "resolved", "resolution": resolution}}
        response = self._write("PUT", f"/incidents/{incident_id}", json=body, headers={"From": from_email},
                               outcomes={404: "not_found"})
        return response if isinstance(response, str) else "resolved"

    # --- maintenance windows (availability: alerts held during announced maintenance)

    def _write(self, method: str, path: str, *, outcomes: dict[int, str] | None = None, **kwargs: Any) -> Any:
        """One POST/PUT/DELETE, waiting out 429s (a rejected request changed nothing). A 2xx returns
        the response; a status in `outcomes` returns its word ("not_found"); any other raises
        PagerDutyApiError naming the request (and its From user) and PagerDuty's answer."""
        for _ in range(MAX_429_WAITS + 1):
            try:
                response = self.client().request(method, path, **kwargs)
            except _Retryable as retry:
                response = retry.response
                if response.status_code == 429:
                    self.throttled += 1
                    self.sleep(_reset_seconds(response.headers.get("ratelimit-reset")))
                    continue
            if response.status_code in (outcomes or {}):
                return (outcomes or {})[response.status_code]
            if not response.is_success:
                sender = kwargs.get("headers", {}).get("From")
                raise PagerDutyApiError(f"{method} {path}{f' (From {sender})' if sender else ''}: PagerDuty "
                                        f"answered {response.status_code} {_error_text(response)}")
            return response
        raise PagerDutyApiError(f"{method} {path}: still rate limited (429) after {MAX_429_WAITS} waits")

    def maintenance_windows(self, query: str) -> list[dict[str, Any]]:
        """Every maintenance window whose description contains `query` (all states)."""
        found, offset = [], 0
        while True:
            page = self.get("/maintenance_windows", {"query": query, "filter": "all", "limit": 100,
                                                     "offset": offset})
            found.extend(page.get("maintenance_windows", []))
            if not page.get("more"):
                return found
            offset += len(page.get("maintenance_windows", [])) or 100

    def create_maintenance_window(self, start: dt.datetime, end: dt.datetime, service_ids: list[str],
                                  description: str, from_email: str) -> dict[str, Any]:
        """POST /maintenance_windows; `from_email` must be a PagerDuty user's email (the From header)."""
        body = {"maintenance_window": {"type": "maintenance_window", "start_time": iso_utc(start),
                                       "end_time": iso_utc(end), "description": description,
                                       "services": [{"id": s, "type": "service_reference"} for s in service_ids]}}
        return self._write("POST", "/maintenance_windows", json=body, headers={"From": from_email}).json()[
            "maintenance_window"]

    def delete_maintenance_window(self, window_id: str) -> str:
        """DELETE one window: "deleted" (an ongoing one is ended now), "not_found", or "already_ended"."""
        outcome = self._write("DELETE", f"/maintenance_windows/{window_id}",
                              outcomes={404: "not_found", 405: "already_ended"})
        return outcome if isinstance(outcome, str) else "deleted"


def _reset_seconds(header: str | None) -> float:
    """Seconds to wait from a `ratelimit-reset` header (seconds until the window resets)."""
    try:
        return min(max(float(header), 0.5), MAX_RESET_WAIT_SECONDS) if header is not None else 60.0
    except ValueError:
        return 60.0


def _error_text(response: Any) -> str:
    try:
        error = response.json().get("error") or {}
        return f"{error.get('message', '')} {error.get('errors', '')}".strip()
    except (ValueError, AttributeError):  # not JSON: say what came back
        return response.text[:200]


class PagerDutyEventsV2Hook(PagerdutyEventsHook):
    """Events API v2 over the provider's hook, honouring the connection's host as base URL."""

    def __init__(self, pagerduty_events_conn_id: str = "pagerduty_events_default") -> None:
        super().__init__(pagerduty_events_conn_id=pagerduty_events_conn_id)
        self.base_url = _base_url(self.get_connection(pagerduty_events_conn_id).host)

    def send_event(self, summary: str, severity: str, source: str = "estate-ops", action: str = "trigger",
                   dedup_key: str | None = None, custom_details: Any | None = None, **kwargs: Any) -> str:
        data = prepare_event_data(summary=summary, severity=severity, source=source, action=action,
                                  dedup_key=dedup_key, custom_details=custom_details, **kwargs)
        client = pagerduty.EventsApiV2Client(self.integration_key, base_url=self.base_url)
        return client.send_event(**data)
