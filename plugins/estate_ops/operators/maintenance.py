"""Announce or cancel planned maintenance (plan §1.1: 2-6 AM ET, 48 h notice).

Announcing records `maintenance/windows/<id>.json` (announced_at = the run's time), creates a
PagerDuty maintenance window on the estate's services so alerts are held during it, and tells
Slack, and posts a scheduled maintenance on the estate's status-page components (when the estate
has a status page). A window that cannot qualify (outside the local maintenance hours, or under 48 h ahead) is
refused with every broken rule and by how much — unless `record_anyway` is ticked: then it is
recorded, and the Slack notice says it does not qualify. Cancelling marks the record cancelled
(kept for audit), deletes the PagerDuty window and the status-page maintenance, and tells Slack.

Idempotent: a retried or rerun run reuses its window id, finds its PagerDuty window by the id in
the description and its status-page maintenance by the record's `statuspage_incident_id` or the
window id in the maintenance's metadata, rewrites the same record bytes and posts each Slack notice
once.
"""

from __future__ import annotations

import re
from typing import Any

from airflow.sdk import BaseOperator

ACTIONS = ("announce", "cancel")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class MaintenanceRefused(ValueError):
    pass


def window_key(window_id: str) -> str:
    return f"maintenance/windows/{window_id}.json"


class MaintenanceWindowOperator(BaseOperator):
    """Reads the trigger form (params): action, date, start, duration_minutes, reason, announced_by,
    window_id, record_anyway."""

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.operators import run_as_of

        plan, estate = load_config()
        params = dict(context.get("params") or {})
        action = str(params.get("action") or "announce").strip()
        if action not in ACTIONS:
            raise MaintenanceRefused(f"action must be one of {ACTIONS}, got {action!r}")
        person = str(params.get("announced_by") or "").strip()
        if not EMAIL.match(person):
            raise MaintenanceRefused(f"announced_by must be the email of a PagerDuty user (it is the From of "
                                     f"the PagerDuty request), got {person!r}")
        store = ArtifactStore.for_estate(estate)
        router = SeverityRouter(plan, estate, store)
        when = run_as_of(context)
        if action == "cancel":
            result = self._cancel(estate, store, router, str(params.get("window_id") or "").strip(), person, when)
        else:
            result = self._announce(plan, estate, store, router, params, person, when, context["dag_run"].run_id)
        if result.get("key"):
            from estate_ops.reports.publish import write_run_manifest

            record = store.get_json(result["key"])
            write_run_manifest(store, self.dag_id, result["window_id"], [result["key"]], {
                "window": {"value": result["window_id"], "unit": ""},
                "status": {"value": record.get("status"), "unit": ""},
                "qualifies": {"value": record.get("qualifies_as_announced"), "unit": ""}})
        return result

    # ------------------------------------------------------------------ announce

    def _announce(self, plan, estate, store, router, params, person, when, run_id) -> dict[str, Any]:
        from estate_ops.domain.maintenance import (
            MaintenanceWindow,
            announcement_problems,
            format_minutes,
            window_from_form,
            window_id,
        )
        from estate_ops.hooks.pagerduty import PagerDutyRestHook
        from estate_ops.operators.availability import load_windows

        tz, rule = plan.timezone, plan.availability.maintenance
        reason = str(params.get("reason") or "").strip()
        if not reason:
            raise MaintenanceRefused("reason is required: say what the maintenance is for")
        start, end = window_from_form(day=params.get("date") or "", start=params.get("start") or rule.local_start,
                                      duration_minutes=params.get("duration_minutes") or 240, tz=tz)
        wid = window_id(start, tz, run_id)
        window = MaintenanceWindow(wid, start, end, reason, when, person, "scheduled")
        problems = announcement_problems(window, rule, tz)
        record_anyway = params.get("record_anyway") in (True, "true", "True", "1", 1)
        if problems and not record_anyway:
            raise MaintenanceRefused(
                f"maintenance window {start.astimezone(tz):%Y-%m-%d %H:%M %Z} - {end.astimezone(tz):%H:%M %Z} "
                f"cannot qualify: {'; '.join(problems)}. Nothing was recorded; tick record_anyway to record it "
                "as non-qualifying.")
        key = window_key(wid)
        existing = store.get_json(key) if store.exists(key) else None
        if existing is None:
            twin = next((w for w in load_windows(store) if w.status == "scheduled" and w.start == start
                         and w.end == end), None)
            if twin is not None:
                self.log.info("window %s already announced as %s: nothing to do", wid, twin.id)
                return {"window_id": twin.id, "action": "announce", "status": "already_announced"}

        pd = PagerDutyRestHook(estate.pagerduty.conn_id)
        services = [s.id for s in estate.pagerduty.services]
        pd_id = (existing or {}).get("pagerduty_window_id")
        if not pd_id:
            found = pd.maintenance_windows(wid)
            pd_id = found[0]["id"] if found else pd.create_maintenance_window(
                start, end, services, f"{reason} [estate-ops {wid}]", person)["id"]
        record = {**window.as_record(), **(existing or {}),
                  "local_date": start.astimezone(tz).date(), "local_start": f"{start.astimezone(tz):%H:%M}",
                  "timezone": tz.key, "duration_minutes": window.minutes,
                  "qualifies_as_announced": not problems, "problems": problems,
                  "pagerduty_window_id": pd_id, "pagerduty_services": services}
        record.update(self._statuspage_announce(estate, tz, window, services, existing or {}))
        store.put_json(key, record)
        local = f"{start.astimezone(tz):%a %Y-%m-%d %H:%M} - {end.astimezone(tz):%H:%M %Z}"
        from estate_ops.domain.slacktext import slack_escape as e

        text = (f":wrench: *Planned maintenance* {local} ({format_minutes(window.minutes)}): {e(reason)}\n"
                f"Announced by {e(person)} at {when:%Y-%m-%d %H:%M} UTC, "
                f"{format_minutes((start - when).total_seconds() / 60)} ahead. Window `{e(wid)}`; "
                f"PagerDuty alerts held on {e(', '.join(services))}.")
        if record.get("statuspage_url"):
            text += f" <{record['statuspage_url']}|Status page> maintenance scheduled."
        if problems:
            text += ("\n:warning: *Does not qualify* as planned maintenance under the plan (it will count "
                     f"against availability): {e('; '.join(problems))}.")
        else:
            text += "\nQualifies as planned maintenance: excluded from availability."
        posted = router.post_slack_once(f"maintenance_announce/{wid}/announce", text)
        return {"window_id": wid, "action": "announce", "key": key, "qualifies": not problems,
                "problems": problems, "pagerduty_window_id": pd_id,
                "statuspage_incident_id": record.get("statuspage_incident_id"), "slack_posted": posted}

    @staticmethod
    def _statuspage_announce(estate, tz, window, services, existing) -> dict[str, Any]:
        """The window's scheduled maintenance on the status page, made once: found by the record's
        id, else by the window id in its metadata, else created. {} without a status page."""
        if estate.statuspage is None:
            return {}
        from estate_ops.domain.statuspage import maintenance_notice, marked
        from estate_ops.hooks.statuspage import StatuspageHook

        settings = estate.statuspage
        hook = StatuspageHook(settings.page_id, settings.conn_id)
        sp_id = existing.get("statuspage_incident_id")
        incident = hook.incident(sp_id) if sp_id else None
        if incident is None:
            # Statuspage's `q` does not search metadata: the upcoming maintenances are few.
            incident = next(iter(marked(hook.scheduled_maintenances(), "window_id", window.id)), None)
        component_ids = settings.components_of(services)
        if incident is None:
            names = {c["id"]: c["name"] for c in hook.components()}
            missing = [c for c in component_ids if c not in names]
            if missing:
                from estate_ops.hooks.statuspage import StatuspageNotFoundError

                raise StatuspageNotFoundError(f"page {settings.page_id!r} has no component {', '.join(missing)} "
                                              "(estate.yaml statuspage.components): nothing was posted")
            name, body = maintenance_notice(window.start, window.end, window.reason, tz,
                                            [names[c] for c in component_ids])
            incident = hook.create_scheduled_maintenance(
                name=name, body=body, scheduled_for=window.start, scheduled_until=window.end,
                component_ids=component_ids, metadata={"window_id": window.id})
        link = str(incident.get("shortlink") or "")
        return {"statuspage_incident_id": incident["id"], "statuspage_components": component_ids,
                "statuspage_url": link if re.fullmatch(r"https://[^\s<>|]+", link) else settings.web_url}

    # ------------------------------------------------------------------ cancel

    def _cancel(self, estate, store, router, wid, person, when) -> dict[str, Any]:
        from estate_ops.domain.maintenance import MaintenanceWindow
        from estate_ops.hooks.pagerduty import PagerDutyRestHook

        if not wid:
            raise MaintenanceRefused("window_id is required to cancel (the id in the announcement, e.g. "
                                     "mw-20261105-0200-1a2b3c)")
        key = window_key(wid)
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$", wid) or not store.exists(key):
            raise MaintenanceRefused(f"no maintenance window {wid!r}: s3://{store.bucket}/{key} does not exist")
        record = store.get_json(key)
        window = MaintenanceWindow.from_record(record, f"s3://{store.bucket}/{key}")
        pd_result = record.get("pagerduty_delete")
        if record.get("pagerduty_window_id") and not pd_result:
            pd_result = PagerDutyRestHook(estate.pagerduty.conn_id).delete_maintenance_window(
                record["pagerduty_window_id"])
        if record.get("status") != "cancelled":
            record.update({"status": "cancelled", "cancelled_at": when, "cancelled_by": person})
        record["pagerduty_delete"] = pd_result
        if record.get("statuspage_incident_id") and not record.get("statuspage_delete") and estate.statuspage:
            from estate_ops.hooks.statuspage import StatuspageHook

            record["statuspage_delete"] = StatuspageHook(estate.statuspage.page_id, estate.statuspage.conn_id
                                                         ).delete_incident(record["statuspage_incident_id"])
        store.put_json(key, record)
        from estate_ops.domain.slacktext import slack_escape as e

        text = (f":x: *Maintenance cancelled*: window `{e(wid)}` ({window.start:%Y-%m-%d %H:%M} - "
                f"{window.end:%H:%M} UTC, {e(window.reason)}) was cancelled by {e(record['cancelled_by'])}. "
                f"PagerDuty window: {e(pd_result or 'none')}; status page: "
                f"{e(record.get('statuspage_delete') or 'none')}.")
        posted = router.post_slack_once(f"maintenance_announce/{wid}/cancel", text)
        return {"window_id": wid, "action": "cancel", "key": key, "pagerduty": pd_result,
                "statuspage": record.get("statuspage_delete"), "slack_posted": posted}
