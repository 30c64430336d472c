"""Sentry (error tracking, plan §2.2): event counts (`stats_v2`) and issues, over the HTTP
provider's HttpHook (no Sentry provider exists).

Connection `sentry_default` (HTTP): host = the Sentry base URL (e.g. https://sentry.io), password
= an auth token, sent as `Authorization: Bearer <token>`.

- Paging: the issues list answers 100 at a time with a `Link` header; the `rel="next"` part's
  `cursor` is passed back until its `results="false"`.
- Rate limits: every answer carries `X-Sentry-Rate-Limit-Limit/-Remaining/-Reset` (Reset: epoch
  seconds). When Remaining reaches 0 the next request waits until Reset; a 429 waits until Reset
  (at most MAX_RESET_WAIT_SECONDS) and is retried, up to MAX_429_WAITS times.
- A 403 is a token without the endpoint's scope: SentryScopeError names it.
- `calls` counts every request, retries included (for bench/).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from airflow.providers.http.hooks.http import HttpHook

log = logging.getLogger(__name__)

PAGE_LIMIT = 100  # Sentry's largest issues page
MAX_429_WAITS = 20
MAX_RESET_WAIT_SECONDS = 60.0
# The scope each endpoint needs (Sentry's API reference).
STATS_SCOPE = "org:read"
ISSUES_SCOPE = "event:read"

_LINK_PART = re.compile(r'<(?P<url>[^>]*)>\s*;\s*rel="(?P<rel>\w+)"\s*;\s*results="(?P<results>true|false)"'
                        r'\s*;\s*cursor="(?P<cursor>[^"]*)"')


class SentryError(RuntimeError):
    """Sentry answered an error that retrying does not cure."""


class SentryAuthError(SentryError):
    """401: the token is wrong or revoked."""


class SentryScopeError(SentryError):
    """403: the token lacks the scope the endpoint needs."""


class SentryNotFoundError(SentryError, LookupError):
    """404: an organisation estate.yaml names does not exist (or the token cannot see it)."""


def next_cursor(link_header: str | None) -> str | None:
    """The cursor of the `rel="next"` part of a Sentry `Link` header, None when its results="false"."""
    for part in _LINK_PART.finditer(link_header or ""):
        if part["rel"] == "next":
            return part["cursor"] if part["results"] == "true" else None
    return None


def iso_z(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: Sentry times must be aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SentryHook:
    """Sentry's REST API (`/api/0/`) through HttpHook."""

    def __init__(self, sentry_conn_id: str = "sentry_default") -> None:
        self.conn_id = sentry_conn_id
        self.http = HttpHook(method="GET", http_conn_id=sentry_conn_id)
        self.calls = 0
        self.throttled = 0
        self.sleep: Callable[[float], None] = time.sleep  # replaced in tests
        self.clock: Callable[[], float] = time.time
        self._wait_until: float | None = None

    def _token(self) -> str:
        token = self.http.get_connection(self.conn_id).password
        if not token:
            raise SentryAuthError(f"connection {self.conn_id!r} has no password: put a Sentry auth token there")
        return token

    def _reset_wait(self, response: Any) -> float:
        try:
            wait = float(response.headers["X-Sentry-Rate-Limit-Reset"]) - self.clock()
        except (KeyError, ValueError):
            wait = float(response.headers.get("Retry-After", 1) or 1)
        return min(max(wait, 0.5), MAX_RESET_WAIT_SECONDS)

    def get(self, path: str, params: Sequence[tuple[str, Any]], *, scope: str, what: str) -> Any:
        """One GET answered 2xx (429s waited out); errors name `what` and, on 403, `scope`."""
        waits = 0
        while True:
            if self._wait_until is not None:
                wait = min(self._wait_until - self.clock(), MAX_RESET_WAIT_SECONDS)
                self._wait_until = None
                if wait > 0:
                    log.info("Sentry rate limit exhausted: waiting %.1f s for X-Sentry-Rate-Limit-Reset", wait)
                    self.sleep(wait)
            response = self.http.run(path, data=list(params), headers={"Authorization": f"Bearer {self._token()}"},
                                     extra_options={"check_response": False})
            self.calls += 1
            status = response.status_code
            if status == 429:
                waits += 1
                if waits > MAX_429_WAITS:
                    raise SentryError(f"GET {path}: still rate limited (429) after {MAX_429_WAITS} waits")
                self.throttled += 1
                wait = self._reset_wait(response)
                log.warning("Sentry rate limit (429) on GET %s: waiting %.1f s", path, wait)
                self.sleep(wait)
                continue
            if response.headers.get("X-Sentry-Rate-Limit-Remaining") == "0":
                try:
                    self._wait_until = float(response.headers["X-Sentry-Rate-Limit-Reset"])
                except (KeyError, ValueError):
                    self._wait_until = None
            if status == 401:
                raise SentryAuthError(f"Sentry rejected the token of connection {self.conn_id!r} (401): it is "
                                      "wrong or revoked")
            if status == 403:
                raise SentryScopeError(f"the token of connection {self.conn_id!r} lacks the scope {scope!r} that "
                                       f"GET {path} ({what}) needs: add {scope} to the token")
            if status == 404:
                raise SentryNotFoundError(f"Sentry has no {what} (GET {path} answered 404): check estate.yaml")
            if not 200 <= status < 300:
                raise SentryError(f"GET {path} ({what}): Sentry answered {status} {response.text[:200]}")
            return response

    def stats_v2(self, organization: str, start: dt.datetime, end: dt.datetime, *, interval: str = "1h",
                 group_by: Sequence[str] = ("outcome", "category")) -> dict[str, Any]:
        """Event counts (`sum(quantity)`) grouped by outcome and category over [start, end)."""
        params = [("field", "sum(quantity)"), *[("groupBy", g) for g in group_by],
                  ("start", iso_z(start)), ("end", iso_z(end)), ("interval", interval)]
        return self.get(f"/api/0/organizations/{organization}/stats_v2/", params, scope=STATS_SCOPE,
                        what=f"organization {organization!r} (estate.yaml monitoring.sentry.organization)").json()

    def issues(self, organization: str, query: str, start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
        """Every issue matching `query` seen in [start, end), following the `Link` cursor."""
        path = f"/api/0/organizations/{organization}/issues/"
        base = [("query", query), ("start", iso_z(start)), ("end", iso_z(end)), ("limit", PAGE_LIMIT)]
        cursor: str | None = None
        while True:
            params = base + ([("cursor", cursor)] if cursor else [])
            response = self.get(path, params, scope=ISSUES_SCOPE,
                                what=f"organization {organization!r} (estate.yaml monitoring.sentry.organization)")
            yield from response.json()
            cursor = next_cursor(response.headers.get("Link"))
            if cursor is None:
                return
