"""The alert-route drill's wait, in the triggerer: look for the canary at its destination every
`poll_seconds` until it is there or the deadline passes. No worker slot is held while waiting.

The lookups are the hooks' own sync calls, run in a thread (`asyncio.to_thread`), as provider
triggers run sync hooks. The event says "delivered" (with when it was first seen and the incident id
or message ts) or "timeout".
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class AlertDeliveryTrigger(BaseTrigger):
    def __init__(self, *, route: str, canary: str, destination: str, baseline: Any, deadline: str,
                 poll_seconds: int, pagerduty_conn_id: str, slack_conn_id: str) -> None:
        super().__init__()
        self.route, self.canary, self.destination, self.baseline = route, canary, destination, baseline
        self.deadline, self.poll_seconds = deadline, poll_seconds
        self.pagerduty_conn_id, self.slack_conn_id = pagerduty_conn_id, slack_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("estate_ops.triggers.monitoring.AlertDeliveryTrigger",
                {"route": self.route, "canary": self.canary, "destination": self.destination,
                 "baseline": self.baseline, "deadline": self.deadline, "poll_seconds": self.poll_seconds,
                 "pagerduty_conn_id": self.pagerduty_conn_id, "slack_conn_id": self.slack_conn_id})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = dt.datetime.fromisoformat(self.deadline)
        while True:
            evidence = await asyncio.to_thread(look_for_delivery, self.route, self.canary, self.destination,
                                               self.baseline, self.pagerduty_conn_id, self.slack_conn_id)
            now = dt.datetime.now(dt.UTC)
            if evidence is not None:
                yield TriggerEvent({"status": "delivered", "seen_at": now.isoformat(), "evidence": evidence})
                return
            if now >= deadline:
                yield TriggerEvent({"status": "timeout", "seen_at": None, "evidence": None})
                return
            await asyncio.sleep(max(0.0, min(self.poll_seconds, (deadline - now).total_seconds())))


def look_for_delivery(route: str, canary: str, destination: str, baseline: Any, pagerduty_conn_id: str,
                      slack_conn_id: str) -> str | None:
    """The incident id (PagerDuty) or message ts (Slack) that shows the canary arrived, or None."""
    from estate_ops.domain.monitoring import (
        PAGERDUTY,
        pagerduty_delivery,
        slack_delivery,
    )

    if route == PAGERDUTY:
        from estate_ops.hooks.pagerduty import PagerDutyRestHook

        incidents = PagerDutyRestHook(pagerduty_conn_id).open_incidents([destination])
        found = pagerduty_delivery(incidents, canary, destination, baseline or [])
        return found["id"] if found else None
    from estate_ops.hooks.slack import SlackMessageHook

    found = slack_delivery(SlackMessageHook(slack_conn_id).recent_messages(destination), canary, baseline)
    return found["ts"] if found else None
