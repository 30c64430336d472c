"""Month close (issue #18): one service review per client from the month's reports, and the
evidence pack that lets anyone check the review against the bucket."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of


def read_sources(store: Any, month: Any, clients: list[Any], log: Any) -> tuple[list, list]:
    """(Sources, evidence artifacts) of `month`: each object read once, with its version id; the
    daily and weekly outputs listed once per prefix (not probed day by day)."""
    from estate_ops.domain.reviews import Source, Unreadable, in_place, source_places
    from estate_ops.hooks.ledgers import InvoiceLedger

    wanted = []
    for place in source_places(str(month)):
        if "key" in place:
            wanted.append((place["kind"], place["key"]))
        else:
            wanted += [(place["kind"], k) for k in store.list_keys(place["prefix"]) if in_place(place, k)]
    ledger = InvoiceLedger(store)
    slots = ledger.slots(str(month))
    for client in clients:
        state = ledger.state(str(month), client.id, slots.get(client.id, {}))
        wanted.append(("invoice", state["current_key"] or f"invoices/{month}/_drafts/{client.id}.json"))
    sources, artifacts = [], []
    for kind, key in wanted:
        try:
            body, version = store.get_versioned(key)
        except KeyError:
            continue  # the section says it is missing
        artifacts.append((key, version, body))
        try:
            report = json.loads(body)
        except ValueError as exc:
            report = Unreadable(f"not valid JSON ({exc})")
            log.warning("%s: %s", key, report.reason)
        sources.append(Source(kind, key, report))
    return sources, artifacts


class ServiceReviewOperator(ReportPublisher, BaseOperator):
    """`reviews/YYYY-MM/<client_id>/review.{json,html,pdf}` per client and `reviews/YYYY-MM/evidence.json`."""

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.periods import report_month
        from estate_ops.domain.reviews import build_review, evidence_pack
        from estate_ops.domain.slacktext import slack_escape
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.operators.availability import load_windows
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        now = dt.datetime.now(dt.UTC)
        month = report_month(run_as_of(context), (context.get("params") or {}).get("month"),
                             tz=plan.contract_month_timezone, now=now)
        bounds = plan.month_bounds(month)
        store = ArtifactStore.for_estate(estate)
        sources, artifacts = read_sources(store, month, estate.clients, self.log)
        following = plan.month_bounds(month.next())
        next_windows = [{"id": w.id, "start": w.start, "end": w.end, "reason": w.reason}
                        for w in load_windows(store)
                        if w.status == "scheduled" and following.start <= w.start < following.end]
        # Generated at the month's close, not the clock: a rerun writes the same bytes.
        generated_at = bounds.settled_at
        keys, lines, complete = [], [], 0
        for client in estate.clients:
            review = build_review(
                client={"id": client.id, "name": client.name, "tier": plan.tiers[client.tier_on(month.last_day)].name},
                month=str(month), bounds=bounds.as_dict(), plan_name=plan.plan.name, plan_version=plan.plan.version,
                estate_name=estate.estate.name, generated_at=generated_at, sources=sources,
                days_in_month=len(month.days), next_maintenance=sorted(next_windows, key=lambda w: w["start"]),
                recovery_targets={"rto_minutes": plan.recovery.rto_minutes, "rpo_minutes": plan.recovery.rpo_minutes})
            keys += self.publish_report(context, store, f"reviews/{month}/{client.id}", review, name="review")
            complete += review["complete"]
            lines.append(f"• {slack_escape(client.name)}: " + ("complete" if review["complete"] else
                         "*incomplete* (" + ", ".join(review["incomplete_sections"]) + "): not for sending"))
        evidence_key = f"reviews/{month}/evidence.json"
        store.put_json(evidence_key, evidence_pack(str(month), artifacts))
        keys.append(evidence_key)
        SeverityRouter(plan, estate, store).post_slack_once(
            f"{self.dag_id}/{month}", f"*Service reviews {month}* ({bounds.describe()}):\n" + "\n".join(lines))
        write_run_manifest(store, self.dag_id, str(month), keys,
                           {"reviews": {"value": len(lines), "unit": ""},
                            "complete": {"value": complete, "unit": ""},
                            "artifacts_in_evidence": {"value": len(artifacts), "unit": ""}})
        return {"month": str(month), "reviews": len(lines), "complete": complete, "evidence": evidence_key}
