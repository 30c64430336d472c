"""Statuspage operators: the status page kept honest while an incident is open (plan §3.2, issue 17 §4).

`PlanStatusPageSyncOperator` reads one PagerDuty page of open incidents of the estate's services and
one Statuspage page of unresolved incidents, and the sync's records in the reports bucket
(`statuspage/decisions/<pd_incident_id>/<stage>.json`, one listing). It returns one draft per
P0/P1 incident (plan.yaml `communication.required_for`) that is open, was never asked about and has
no linked status-page incident (`link_incidents`), and one "resolved" draft per status-page incident
estate-ops published whose PagerDuty incident has resolved (confirmed with one GET). Name and body
come from `include/templates/statuspage.txt.j2` and the components from estate.yaml
`statuspage.components`: never the PagerDuty title. Nothing new: no draft, nothing written.

`StatusPageApprovalOperator` (mapped, one per draft) is an `ApprovalOperator`: it records the
request (`asked`), announces it once in Slack with the link to its Required Action, and waits at
most the severity's response time (plan.yaml `severities.<P>.response_minutes`).
Approve -> `approved`, then published (the PagerDuty incident id and URL in `metadata.estate_ops`,
so the incident SLA report links it by explicit reference) -> `published`. Reject -> `rejected`,
never asked again. No answer in time -> `timed_out` and a P1 finding `status_page_not_updated`,
paged once (SeverityRouter's dedup key). A retried task reads its record first: an approval whose
publishing failed (a key without write access, a 420/429 storm) is published on retry without asking
again, and a publish finds the incident it already made (by the metadata) instead of making a second.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator

TEMPLATE = "statuspage.txt.j2"
ASKED, APPROVED, PUBLISHED, REJECTED, TIMED_OUT = "asked", "approved", "published", "rejected", "timed_out"
DONE = (PUBLISHED, REJECTED, TIMED_OUT)
PREFIX = "statuspage/decisions/"


def record_key(pd_incident_id: str, stage: str) -> str:
    from estate_ops.domain.statuspage import STAGES, valid_pd_id

    if not valid_pd_id(pd_incident_id) or stage not in STAGES:
        raise ValueError(f"not a PagerDuty incident id and stage: {pd_incident_id!r}, {stage!r}")
    return f"{PREFIX}{pd_incident_id}/{stage}.json"


def _decided(keys: list[str]) -> set[tuple[str, str]]:
    found = set()
    for key in keys:
        parts = key[len(PREFIX):].removesuffix(".json").split("/")
        if len(parts) == 2:
            found.add((parts[0], parts[1]))
    return found


def _hooks(estate: Any) -> tuple[Any, Any]:
    from estate_ops.hooks.connections import require_connection
    from estate_ops.hooks.pagerduty import PagerDutyRestHook
    from estate_ops.hooks.statuspage import StatuspageHook

    require_connection(estate.pagerduty.conn_id, "pagerduty.conn_id")
    require_connection(estate.statuspage.conn_id, "statuspage.conn_id")
    return (PagerDutyRestHook(estate.pagerduty.conn_id),
            StatuspageHook(estate.statuspage.page_id, estate.statuspage.conn_id))


class PlanStatusPageSyncOperator(BaseOperator):
    """The drafts to ask about this run (a list for `expand`): see the module docstring."""

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from estate_ops.config import load_config
        from estate_ops.domain import statuspage as sp
        from estate_ops.domain.incidents import parse_incident
        from estate_ops.hooks.artifacts import ArtifactStore

        plan, estate = load_config()
        if estate.statuspage is None:
            self.log.info("estate.yaml has no statuspage section: nothing to keep in sync")
            return []
        settings = estate.statuspage
        pd_hook, sp_hook = _hooks(estate)
        now = dt.datetime.now(dt.UTC)
        required = set(plan.communication.required_for)
        services = [s.id for s in estate.pagerduty.services]
        web = estate.pagerduty.web_url.rstrip("/")
        open_pd, ignored = [], []
        for raw in pd_hook.open_incidents(services):
            incident = parse_incident(raw)
            severity = estate.pagerduty.priority_map.get(incident.priority_id or "")
            if not sp.valid_pd_id(incident.id):
                ignored.append(f"{incident.id[:40]!r} (not a PagerDuty id)")
            elif severity in required:
                open_pd.append(sp.PdIncident(incident.id, incident.number, severity, incident.service_id,
                                             incident.created_at, None, f"{web}/incidents/{incident.id}"))
            elif severity is None:
                ignored.append(f"{incident.id} (priority {incident.priority_id!r} not in pagerduty.priority_map)")
        unresolved = sp_hook.unresolved_incidents()
        store = ArtifactStore.for_estate(estate)
        work = sp.sync_work(open_pd, unresolved, _decided(store.list_keys(PREFIX)), settings.components,
                            settings.web_url, now)
        for pd_id, why in sorted(work.skipped.items()):
            self.log.info("%s: nothing to ask (%s)", pd_id, why)
        if ignored:
            self.log.warning("open incidents not considered: %s", "; ".join(ignored))
        resolved = []
        for pd_id, status_id in work.to_resolve:
            raw = pd_hook.get_object(f"/incidents/{pd_id}", "incident", f"incident {pd_id}")
            incident = parse_incident(raw)
            if raw.get("status") == "resolved" and incident.resolved_at is not None:
                resolved.append((incident, status_id))
        if not work.to_open and not resolved:
            self.log.info("nothing new (%d open P0/P1, %d unresolved on the page; %d PagerDuty and %d "
                          "Statuspage calls)", len(open_pd), len(unresolved), pd_hook.calls, sp_hook.calls)
            return []
        names = {c["id"]: c["name"] for c in sp_hook.components()}
        drafts = [self._draft(plan, estate, names, sp.OPEN, pd.id, pd.number, pd.severity, pd.service_id,
                              pd.created_at, None, pd.link, None) for pd in work.to_open]
        by_id = {str(r["id"]): r for r in unresolved}
        for incident, status_id in resolved:
            ours = (by_id[status_id].get("metadata") or {}).get(sp.METADATA_NAMESPACE) or {}
            severity = ours.get("severity") if ours.get("severity") in required else "P1"
            components = [str(c.get("id")) for c in by_id[status_id].get("components") or []]
            drafts.append(self._draft(plan, estate, names, sp.RESOLVED, incident.id, incident.number, severity,
                                      incident.service_id, incident.created_at, incident.resolved_at,
                                      f"{web}/incidents/{incident.id}", status_id, components or None))
        self.log.info("%d draft(s) to ask about", len(drafts))
        return drafts

    @staticmethod
    def _draft(plan: Any, estate: Any, names: dict[str, str], stage: str, pd_id: str, number: int | None,
               severity: str, service_id: str, created_at: dt.datetime, resolved_at: dt.datetime | None,
               pd_url: str, status_id: str | None, component_ids: list[str] | None = None) -> dict[str, Any]:
        from estate_ops.domain import statuspage as sp
        from estate_ops.hooks.statuspage import StatuspageNotFoundError
        from estate_ops.reports.render import render_text

        settings = estate.statuspage
        if component_ids is None:
            component_ids = settings.components.get(service_id) or []
            if not component_ids:
                raise StatuspageNotFoundError(
                    f"PagerDuty incident {pd_id}: its service {service_id!r} has no components in estate.yaml "
                    "statuspage.components: nothing was asked")
        missing = [c for c in component_ids if c not in names]
        if missing:
            raise StatuspageNotFoundError(
                f"page {settings.page_id!r} has no component {', '.join(missing)} (estate.yaml "
                f"statuspage.components.{service_id}): nothing was asked or published")
        values = sp.draft_values(stage, severity, plan.severities[severity].name, [names[c] for c in component_ids],
                                 created_at, plan.timezone, resolved_at)
        name, body = sp.split_draft(render_text(TEMPLATE, values))
        return {"stage": stage, "pd_incident_id": pd_id, "pd_incident_number": number, "pd_url": pd_url,
                "severity": severity, "service_id": service_id, "component_ids": component_ids,
                "status_incident_id": status_id, "name": name, "body": body,
                "response_minutes": plan.severities[severity].response_minutes,
                "pd_created_at": created_at.isoformat()}


class StatusPageApprovalOperator(ApprovalOperator):
    """Ask a person to publish one draft on the status page (mapped over the plan's drafts)."""

    template_fields = ()  # subject and body are set from the draft, never rendered as Jinja

    def __init__(self, *, draft: dict[str, Any], **kwargs: Any) -> None:
        kwargs.setdefault("subject", "Publish on the status page")
        super().__init__(**kwargs)
        self.draft = draft

    # ------------------------------------------------------------------ asking

    def execute(self, context: Any) -> Any:
        from estate_ops.domain.slacktext import slack_escape as e

        d = self.draft
        store, router = self._store_and_router()
        key = record_key(d["pd_incident_id"], d["stage"])
        record = store.get_json(key) if store.exists(key) else None
        if record and record.get("state") in DONE:
            self.log.info("%s %s already %s: nothing to ask", d["pd_incident_id"], d["stage"], record["state"])
            return record
        if record and record.get("state") == APPROVED:
            self.log.info("approved by %s before; publishing without asking again", record.get("responded_by"))
            return self._publish(store, record)
        verb = "Publish" if d["stage"] == "open" else "Mark resolved"
        self.subject = f"{verb} on the status page: {d['name']}"[:200]
        self.body = (f"**{d['severity']} PagerDuty incident** [{d['pd_incident_id']}]({d['pd_url']})\n\n"
                     f"Components: {', '.join(d['component_ids'])}\n\n**Name:** {d['name']}\n\n**Body:**\n\n"
                     + "\n\n".join(f"> {line}" for line in d["body"].splitlines())
                     + f"\n\nNo answer within {d['response_minutes']} minutes pages P1 'status page not updated'.")
        self.response_timeout = dt.timedelta(minutes=int(d["response_minutes"]))
        link = self._link(context)
        requested = dt.datetime.now(dt.UTC)
        record = {**d, "state": ASKED, "requested_at": requested.isoformat(), "required_action": link,
                  "deadline": (requested + self.response_timeout).isoformat()}
        where = (f"<{link}|Answer in Airflow (Required Actions)>" if link and link.startswith(("https://", "http://"))
                 and not set(link) & set("<>| ") else "Answer in Airflow > Required Actions")
        text = (f":loudspeaker: *{e(d['severity'])} incident {e(d['pd_incident_id'])}*: "
                f"{'publish' if d['stage'] == 'open' else 'resolve'} the status-page update? "
                f"{where} within {d['response_minutes']} min.\n> {e(d['name'])[:250]}")
        router.post_slack_once(f"status_page_sync/{d['pd_incident_id']}/{d['stage']}", text)
        store.put_json(key, record)
        return super().execute(context)

    def _link(self, context: Any) -> str | None:
        try:
            return self.generate_link_to_ui_from_context(context=context)
        except ValueError as exc:  # no api.base_url configured: the message still says where to look
            self.log.warning("no link to the Required Action (%s): set [api] base_url", exc)
            return None

    # ------------------------------------------------------------------ the answer

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        d = self.draft
        store, router = self._store_and_router()
        key = record_key(d["pd_incident_id"], d["stage"])
        record = store.get_json(key) if store.exists(key) else dict(d)
        if record.get("state") in DONE:  # the same answer resumed twice
            return record
        if event.get("error_type") == "timeout":
            return self._timed_out(store, router, key, record)
        answer = super().execute_complete(context=context, event=event)
        chosen = answer["chosen_options"][0]
        by = answer.get("responded_by_user") or {}
        record = {**record, "responded_by": by.get("name") or by.get("id"),
                  "responded_at": _iso(answer.get("responded_at"))}
        if chosen != self.APPROVE:
            store.put_json(key, {**record, "state": REJECTED})
            self.log.info("rejected by %s: recorded, never asked again", record["responded_by"])
            return {**record, "state": REJECTED}
        record = {**record, "state": APPROVED}
        store.put_json(key, record)
        return self._publish(store, record)

    def _timed_out(self, store: Any, router: Any, key: str, record: dict[str, Any]) -> dict[str, Any]:
        from estate_ops.config import load_plan
        from estate_ops.domain.findings import Finding

        d = self.draft
        created = dt.datetime.fromisoformat(d["pd_created_at"])
        period = f"{created.astimezone(load_plan().contract_month_timezone):%Y-%m}"
        finding = Finding.of(
            load_plan(), "status_page_not_updated", f"{d['pd_incident_id']}/{d['stage']}",
            f"{d['severity']} incident {d['pd_incident_id']}: status page not updated ({d['stage']} update not "
            f"answered within {d['response_minutes']} min)", period,
            link=d["pd_url"], required_action=record.get("required_action"))
        router.route([finding], source=self.dag_id)
        record = {**record, "state": TIMED_OUT}
        store.put_json(key, record)
        return record

    def _publish(self, store: Any, record: dict[str, Any]) -> dict[str, Any]:
        from estate_ops.config import load_estate
        from estate_ops.domain import statuspage as sp
        from estate_ops.hooks.statuspage import StatuspageHook

        d = self.draft
        settings = load_estate().statuspage
        hook = StatuspageHook(settings.page_id, settings.conn_id)
        if d["stage"] == sp.OPEN:
            mine = sp.marked(hook.unresolved_incidents(), sp.PD_INCIDENT_KEY, d["pd_incident_id"])
            if mine:
                incident = mine[0]
                self.log.info("already published as %s", incident["id"])
            else:
                hook.check_components(d["component_ids"])
                component_status = sp.IMPACT[d["severity"]][1]
                incident = hook.create_incident(
                    name=d["name"], body=d["body"], status="investigating", impact=sp.IMPACT[d["severity"]][0],
                    components={c: component_status for c in d["component_ids"]},
                    metadata={sp.PD_INCIDENT_KEY: d["pd_incident_id"], sp.PD_URL_KEY: d["pd_url"],
                              "severity": d["severity"]})
        else:
            incident = hook.incident(d["status_incident_id"])
            if incident is None:
                from estate_ops.hooks.statuspage import StatuspageNotFoundError

                raise StatuspageNotFoundError(f"status-page incident {d['status_incident_id']!r} is gone: "
                                              "nothing to resolve")
            if incident.get("status") != "resolved":
                incident = hook.update_incident(d["status_incident_id"], status="resolved", body=d["body"],
                                                components={c: "operational" for c in d["component_ids"]})
        record = {**record, "state": PUBLISHED, "status_incident_id": incident["id"],
                  "status_link": incident.get("shortlink"), "statuspage_calls": hook.calls}
        store.put_json(record_key(d["pd_incident_id"], d["stage"]), record)
        self.log.info("published %s update as status-page incident %s", d["stage"], incident["id"])
        return record

    def _store_and_router(self) -> tuple[Any, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.hooks.artifacts import ArtifactStore

        plan, estate = load_config()
        store = ArtifactStore.for_estate(estate)
        return store, SeverityRouter(plan, estate, store)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)
