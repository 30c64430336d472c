"""Mixpanel (user analytics, plan §2.2-2.3): saved Insights reports through the Query API, over
the HTTP provider's HttpHook (no Mixpanel provider exists).

Connection `mixpanel_default` (HTTP): login/password = a service account's username and secret
(Basic auth), extra `{"project_id": <id>}`; host optional (else the residency's Query API host,
estate.yaml monitoring.mixpanel.residency). `project_id` goes on every call. The Query API allows
60 queries an hour and 5 at once: the report asks each saved report once per run. A 429 waits
(`Retry-After`, else a minute) and is retried. A report id that does not exist is named.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from airflow.providers.http.hooks.http import HttpHook

log = logging.getLogger(__name__)

QUERY_HOSTS = {"us": "https://mixpanel.com", "eu": "https://eu.mixpanel.com", "in": "https://in.mixpanel.com"}
MAX_429_WAITS = 5
MAX_WAIT_SECONDS = 120.0


class MixpanelError(RuntimeError):
    """Mixpanel answered an error that retrying does not cure."""


class MixpanelAuthError(MixpanelError):
    """401/403: the service account is wrong, or not a member of the project."""


class MixpanelReportNotFound(MixpanelError, LookupError):
    """A saved report id estate.yaml names does not exist in the project."""


class _QueryApiHttpHook(HttpHook):
    """HttpHook sends a connection's unknown extra keys as headers: project_id is a parameter."""

    def _configure_session_from_extra(self, session: Any, connection: Any, extra_options: dict[str, Any]) -> Any:
        session = super()._configure_session_from_extra(session, connection, extra_options)
        session.headers.pop("project_id", None)
        return session


class MixpanelHook:
    def __init__(self, mixpanel_conn_id: str = "mixpanel_default", *, residency: str = "us",
                 project_id: int | None = None) -> None:
        self.conn_id = mixpanel_conn_id
        self.http = _QueryApiHttpHook(method="GET", http_conn_id=mixpanel_conn_id)
        conn = self.http.get_connection(mixpanel_conn_id)
        if not conn.host:
            # No host in the connection: the residency's Query API host.
            self.http.base_url, self.http._base_url_initialized = QUERY_HOSTS[residency], True
        extra_project = (conn.extra_dejson or {}).get("project_id")
        self.project_id = project_id if project_id is not None else extra_project
        if self.project_id is None:
            raise MixpanelError(f"connection {mixpanel_conn_id!r} has no project_id in its extra and estate.yaml "
                                "monitoring.mixpanel.project_id was not given")
        if not conn.login or not conn.password:
            raise MixpanelAuthError(f"connection {mixpanel_conn_id!r} needs the service account's username "
                                    "(login) and secret (password)")
        self.calls = 0
        self.throttled = 0
        self.sleep: Callable[[float], None] = time.sleep  # replaced in tests

    def insights(self, bookmark_id: int, what: str) -> dict[str, Any]:
        """A saved Insights report as Mixpanel computes it now; `what` names it (the estate.yaml key)."""
        params = {"project_id": self.project_id, "bookmark_id": bookmark_id}
        waits = 0
        while True:
            response = self.http.run("/api/query/insights", data=params, extra_options={"check_response": False})
            self.calls += 1
            status = response.status_code
            if status == 429:
                waits += 1
                if waits > MAX_429_WAITS:
                    raise MixpanelError(f"Mixpanel Query API: still rate limited (429) after {MAX_429_WAITS} waits")
                self.throttled += 1
                try:
                    wait = float(response.headers.get("Retry-After", 60))
                except ValueError:
                    wait = 60.0
                wait = min(max(wait, 0.5), MAX_WAIT_SECONDS)
                log.warning("Mixpanel rate limit (429): waiting %.1f s", wait)
                self.sleep(wait)
                continue
            error = _error_text(response)
            if status in (401, 403):
                raise MixpanelAuthError(f"Mixpanel refused the service account of connection {self.conn_id!r} "
                                        f"for project {self.project_id} ({status}): {error}")
            if status == 404 or (status == 400 and "bookmark" in error.lower()):
                raise MixpanelReportNotFound(f"Mixpanel project {self.project_id} has no saved report {bookmark_id} "
                                             f"({what}): {error}")
            if not 200 <= status < 300:
                raise MixpanelError(f"Mixpanel Query API answered {status} for report {bookmark_id} ({what}): {error}")
            return response.json()


def _error_text(response: Any) -> str:
    try:
        body = response.json()
        return str(body.get("error") or body)[:300]
    except (ValueError, AttributeError):
        return response.text[:300]
