"""PagerDuty: the REST API v2 (reading incidents, schedules...) and the Events API v2 (paging).

Both build on the PagerDuty provider's hooks. The connection's host, when set, is the base URL
(the sandbox, or a regional endpoint); otherwise the library's default PagerDuty URL is used.
"""

from __future__ import annotations

from typing import Any

import pagerduty
from airflow.providers.pagerduty.hooks.pagerduty import PagerdutyHook
from airflow.providers.pagerduty.hooks.pagerduty_events import PagerdutyEventsHook, prepare_event_data


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
        self.calls = 0

    def client(self) -> pagerduty.RestApiV2Client:
        if getattr(self, "_client", None) is None:
            self._client = pagerduty.RestApiV2Client(self.token, base_url=self.base_url)
        return self._client

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GET; raises pagerduty.HttpError with PagerDuty's message on an error status."""
        self.calls += 1
        return self.client().jget(path, params=params or {})


    def exists(self, path: str) -> tuple[bool, str]:
        """(True, name) when GET `path` answers, (False, why) on 404; other errors raise."""
        self.calls += 1
        response = self.client().get(path)
        if response.status_code == 404:
            return False, "PagerDuty answers 404: no such object"
        if response.status_code == 401:
            raise PagerDutyAuthError(f"PagerDuty rejected the token of connection {self.pagerduty_conn_id!r} (401)")
        response.raise_for_status()
        body = response.json()
        obj = next(iter(body.values())) if len(body) == 1 else body
        return True, str(obj.get("name") or obj.get("summary") or "found")


class PagerDutyAuthError(RuntimeError):
    pass


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
