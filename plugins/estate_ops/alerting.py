"""The plan's alert rule applied to this project: P0/P1 page through PagerDuty, P2/P3 go to Slack.

Each finding is sent once per dedup key: the router keeps a ledger in the reports bucket
(`alerts/sent/<dedup key>.json`, `hooks/ledgers.py` AlertLedger), so a rerun for the same period pages nobody again and posts
nothing twice. PagerDuty would deduplicate a repeated trigger too (same `dedup_key`), but a
resolved incident would be reopened; the ledger prevents that as well.

`failure_callback(severity)` is every DAG's `on_failure_callback`: a failed task becomes a
`dag_failure` finding of the DAG's severity and is routed by the same rule. It never raises.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from estate_ops.domain.findings import Finding, sort_findings
from estate_ops.hooks.ledgers import AlertLedger

log = logging.getLogger(__name__)

# Events API v2 payload severities for the contract's P0/P1.
PAGERDUTY_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
SLACK_ICON = {"P0": ":red_circle:", "P1": ":red_circle:", "P2": ":large_orange_circle:", "P3": ":large_blue_circle:"}


class SeverityRouter:
    def __init__(self, plan: Any, estate: Any, store: Any, *, pagerduty_hook: Any = None, slack_hook: Any = None) -> None:
        self.plan = plan
        self.estate = estate
        self.store = store
        self.ledger = AlertLedger(store)
        self._pagerduty = pagerduty_hook
        self._slack = slack_hook

    @property
    def pagerduty(self):
        if self._pagerduty is None:
            from estate_ops.hooks.pagerduty import PagerDutyEventsV2Hook

            self._pagerduty = PagerDutyEventsV2Hook(self.estate.pagerduty.events_conn_id)
        return self._pagerduty

    @property
    def slack(self):
        if self._slack is None:
            from estate_ops.hooks.slack import SlackMessageHook

            self._slack = SlackMessageHook(self.estate.slack.conn_id)
        return self._slack

    def channel_for(self, severity: str) -> str:
        return "pagerduty" if severity in self.plan.alert_routing.pagerduty else "slack"

    def route(self, findings: Iterable[Finding], *, source: str) -> list[dict[str, Any]]:
        """Send each finding not sent before; returns one record per finding with what happened.

        P2/P3 findings of one call go out as a single Slack message (one line each), so a report
        with twenty small findings is one message, not twenty.
        """
        records: list[dict[str, Any]] = []
        to_slack: list[Finding] = []
        for finding in sort_findings(list(findings)):
            channel = self.channel_for(finding.severity)
            record = {"dedup_key": finding.dedup_key, "severity": finding.severity, "channel": channel}
            if self.ledger.sent(self.ledger.finding_key(finding.dedup_key)):
                records.append({**record, "status": "already_sent"})
                continue
            if channel == "pagerduty":
                self.pagerduty.send_event(
                    summary=f"[{finding.severity}] {finding.summary}"[:1024],
                    severity=PAGERDUTY_SEVERITY[finding.severity],
                    source=source,
                    dedup_key=finding.dedup_key,
                    custom_details={**finding.details, "kind": finding.kind, "resource": finding.resource,
                                    "period": finding.period},
                )
                self._record(finding, channel)
            else:
                to_slack.append(finding)
            records.append({**record, "status": "sent"})
        if to_slack:
            self.slack.post(self.estate.slack.channel, self.findings_text(to_slack, source))
            for finding in to_slack:
                self._record(finding, "slack")
        return records

    def post_slack_once(self, summary_id: str, text: str, *, covers: Iterable[str] = ()) -> bool:
        """Post a summary (not a finding) to the estate's channel once per `summary_id`.

        `summary_id` names the summary and its period (e.g. "availability_report/2026-10"): a
        rerun for the same period posts nothing. `covers` are other summaries this one stands for
        (a lower threshold crossed on the same day): they are recorded as sent with it. Returns
        whether it posted.
        """
        key = self.ledger.summary_key(summary_id)
        if self.ledger.sent(key):
            return False
        self.slack.post(self.estate.slack.channel, text)
        self.ledger.record(key, {"summary_id": summary_id, "text": text})
        for other in covers:
            self.ledger.record(self.ledger.summary_key(other), {"summary_id": other, "covered_by": summary_id})
        return True

    def summary_sent(self, summary_id: str) -> bool:
        return self.ledger.sent(self.ledger.summary_key(summary_id))

    @staticmethod
    def findings_text(findings: list[Finding], source: str) -> str:
        from estate_ops.domain.slacktext import slack_escape as e

        lines = [f"*estate-ops / {e(source)}*: {len(findings)} finding(s)"]
        lines += [f"{SLACK_ICON[f.severity]} {f.severity} `{e(f.kind)}` {e(f.resource)}: {e(f.summary)}"
                  for f in findings]
        return "\n".join(lines)

    def _record(self, finding: Finding, channel: str) -> None:
        self.ledger.record(self.ledger.finding_key(finding.dedup_key),
                           {"finding": finding.as_dict(), "channel": channel, "sent_at": dt.datetime.now(dt.UTC)})


def router_from_config() -> SeverityRouter:
    from estate_ops.config import load_config
    from estate_ops.hooks.artifacts import ArtifactStore

    plan, estate = load_config()
    return SeverityRouter(plan, estate, ArtifactStore.for_estate(estate))


def failure_callback(severity: str) -> Callable[[dict[str, Any]], None]:
    """An on_failure_callback that routes the failure as a finding of `severity`."""

    def _on_failure(context: dict[str, Any]) -> None:
        try:
            ti = context.get("task_instance") or context.get("ti")
            dag_id = getattr(ti, "dag_id", "unknown_dag")
            task_id = getattr(ti, "task_id", "unknown_task")
            run_id = getattr(ti, "run_id", None) or str(context.get("run_id", "unknown_run"))
            error = context.get("exception")
            finding = Finding(
                kind="dag_failure",
                severity=severity,
                resource=f"{dag_id}.{task_id}",
                summary=f"task {dag_id}.{task_id} failed in run {run_id}: {error}"[:500],
                period=run_id,
                details={"dag_id": dag_id, "task_id": task_id, "run_id": run_id, "error": str(error)[:2000]},
            )
            router_from_config().route([finding], source=dag_id)
        except Exception:  # a failing alert must not hide the task's own failure
            log.exception("estate-ops could not route the failure alert")

    return _on_failure
