"""PagerDuty operators: the monthly incident response SLA report (plan §1.2, §3).

`IncidentSlaReportOperator` reads, for the month: the incidents of the estate's services, the
account's log entries in bulk (first acknowledgements, post-mortem notes), the rendered primary
and secondary schedules and the escalation policy; post-mortem objects under `postmortems/` in
the reports bucket. The domain computes everything; this writes
`incidents/YYYY-MM/report.{json,html,pdf}` with charts, routes findings once and posts one Slack
summary per month.

The report is as of the run's logical time (never later than now): a rerun of the same run
reads the same history and writes the same bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of


class IncidentSlaReportOperator(ReportPublisher, BaseOperator):
    """Measure a month of incident response against the plan and publish the report.

    :param month: YYYY-MM to report; None/"" = the calendar month before the run (or the
        DAG run's `month` param).
    """

    template_fields = ("month",)

    def __init__(self, *, month: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.month = month

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.incidents import (
            build_incident_report,
            log_facts,
            settings_from_estate,
            slack_summary,
        )
        from estate_ops.domain.oncall import build_oncall_section
        from estate_ops.domain.periods import report_month
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.hooks.connections import require_connection
        from estate_ops.hooks.pagerduty import PagerDutyRestHook
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        pd_settings = estate.pagerduty
        as_of = min(run_as_of(context), dt.datetime.now(dt.UTC))  # a future logical date judges as of now
        param = self.month if self.month not in (None, "", "None") else (context.get("params") or {}).get("month")
        month = report_month(as_of, param, tz=plan.contract_month_timezone)
        bounds = plan.month_bounds(month)
        as_of = max(as_of, bounds.end)  # a manual run for an old month: as of now (capped by report_month)
        as_of = min(as_of, dt.datetime.now(dt.UTC))
        since, until = bounds.start, bounds.end
        period = str(month)
        self.log.info("incident SLA for %s, as of %s", bounds.describe(), as_of.isoformat())

        require_connection(pd_settings.conn_id, "pagerduty.conn_id")
        pd = PagerDutyRestHook(pd_settings.conn_id)
        # Every configured id must exist: an unknown one is a configuration error, not an empty month.
        for i, service in enumerate(pd_settings.services):
            pd.service(service.id, f"service {service.id!r} (estate.yaml pagerduty.services[{i}])")
        schedules = {
            role: pd.rendered_schedule(sid, since, until, f"schedule {sid!r} (estate.yaml pagerduty.schedules.{role})")
            for role, sid in (("primary", pd_settings.schedules.primary),
                              ("secondary", pd_settings.schedules.secondary))
        }
        policy = pd.escalation_policy(
            pd_settings.escalation_policy,
            f"escalation policy {pd_settings.escalation_policy!r} (estate.yaml pagerduty.escalation_policy)")
        incidents = pd.incidents([s.id for s in pd_settings.services], since, until)
        # One bulk read of the period's log entries (to as_of: acknowledgements and notes that came
        # after the month's end still count for the month's incidents).
        facts = log_facts(pd.log_entries(since, as_of))
        self.log.info("%d incidents, %d log entries", len(incidents), facts.entries_read)

        status_page = None
        if estate.statuspage is not None:
            from estate_ops.domain.statuspage import StatusPageInput
            from estate_ops.hooks.statuspage import StatuspageHook

            sp_settings = estate.statuspage
            require_connection(sp_settings.conn_id, "statuspage.conn_id")
            sp = StatuspageHook(sp_settings.page_id, sp_settings.conn_id)
            # A status-page incident opened a little before its PagerDuty incident still counts.
            status_page = StatusPageInput(sp.incidents_since(since - dt.timedelta(days=1)),
                                          sp_settings.components, sp_settings.web_url)
            self.log.info("%d status-page incidents (%d Statuspage calls)", len(status_page.incidents), sp.calls)

        settings = settings_from_estate(estate)
        store = ArtifactStore.for_estate(estate)
        incident_ids = {i.get("id") for i in incidents}
        bucket_evidence = _bucket_evidence(store, incident_ids)
        missing_notes = _incidents_needing_note_check(plan, settings, incidents, facts, bucket_evidence, as_of)
        if missing_notes:
            # The log entry of a note may carry a shortened text: read the notes themselves before
            # calling a post-mortem missing (only for incidents with no evidence found so far).
            facts = _with_notes(facts, {iid: pd.incident_notes(iid) for iid in sorted(missing_notes)})

        oncall = build_oncall_section(
            plan, schedules, policy, primary=pd_settings.schedules.primary,
            secondary=pd_settings.schedules.secondary, escalation_roles=pd_settings.escalation_roles,
            since=since, until=until, period=period)
        report, findings = build_incident_report(
            plan, settings, month, as_of, incidents, facts, bucket_evidence, oncall=oncall,
            extra_findings=oncall["findings"], estate_name=estate.estate.name, api_calls=None,
            status_page=status_page)

        charts = _charts(report)
        prefix = f"incidents/{period}"
        keys = self.publish_report(context, store, prefix, report, charts=charts)
        router = SeverityRouter(plan, estate, store)
        routed = router.route(findings, source=self.dag_id)
        router.post_slack_once(f"{self.dag_id}/{period}", slack_summary(report))
        write_run_manifest(store, self.dag_id, period, keys, report["headline"])
        self.log.info("PagerDuty API calls: %d (%d throttled, %d retried)", pd.calls, pd.throttled, pd.retried)
        return {"period": period, "artifacts": keys, "findings": len(findings), "routed": routed,
                "pagerduty_calls": pd.calls}


def _bucket_evidence(store: Any, incident_ids: set[str]) -> list:
    """Objects under postmortems/<incident_id>/ for this month's incidents, with their time."""
    from estate_ops.domain.incidents import Evidence

    evidence = []
    for key in store.list_keys("postmortems/"):
        parts = key.split("/")
        if len(parts) < 2 or parts[1] not in incident_ids or key.endswith("/"):
            continue
        head = store.client.head_object(Bucket=store.bucket, Key=key)
        evidence.append(Evidence(parts[1], head["LastModified"].astimezone(dt.UTC), "bucket", key))
    return evidence


def _incidents_needing_note_check(plan: Any, settings: Any, incidents: list[dict], facts: Any,
                                  bucket_evidence: list, as_of: dt.datetime) -> set[str]:
    from estate_ops.domain.incidents import note_evidence, parse_incident

    have = {e.incident_id for e in bucket_evidence} | {e.incident_id for e in
                                                       note_evidence(facts.notes, settings.postmortem_note_pattern)}
    required = set(plan.postmortem.required_for)
    wanted = set()
    for raw in incidents:
        inc = parse_incident(raw)
        severity = settings.priority_map.get(inc.priority_id or "")
        if (severity in required and inc.resolved_at is not None and inc.resolved_at <= as_of
                and inc.id not in have):
            wanted.add(inc.id)
    return wanted


def _with_notes(facts: Any, notes_by_incident: dict[str, list[dict]]) -> Any:
    from estate_ops.domain.incidents import LogFacts, parse_time

    notes = {k: list(v) for k, v in facts.notes.items()}
    for incident_id, notes_list in notes_by_incident.items():
        for note in notes_list:
            at = parse_time(note.get("created_at"), f"incident {incident_id} note {note.get('id')} created_at")
            notes.setdefault(incident_id, []).append((at, str(note.get("content") or "")))
    return LogFacts(facts.first_ack, notes, facts.entries_read)


def _charts(report: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    """Response and resolution distributions per severity, each against its target."""
    from estate_ops.reports.render import figure_png, new_figure

    rows = report["items"]["incidents"]
    charts = {}
    for metric, file_name, title in (("response", "response.png", "Time to respond per severity"),
                                     ("resolution", "resolution.png", "Time to resolve per severity")):
        fig = new_figure(10, 4.5)
        ax = fig.add_subplot(1, 1, 1)
        labels = []
        for position, severity in enumerate(("P0", "P1", "P2", "P3"), start=1):
            points = [(float(r[f"{metric}_min"]), r[metric]) for r in rows
                      if r["severity"] == severity and r[f"{metric}_min"] is not None]
            values = [v for v, _ in points]
            met = [v for v, state in points if state == "met"]
            late = [v for v, state in points if state != "met"]
            ax.scatter([position] * len(met), [max(v, 0.1) for v in met], s=14, color="#2b8a3e", alpha=0.7,
                       label="met" if position == 1 else None)
            ax.scatter([position] * len(late), [max(v, 0.1) for v in late], s=18, color="#c92a2a", alpha=0.8,
                       marker="x", label="breached" if position == 1 else None)
            target = report["targets"][severity]["response_min" if metric == "response" else "resolution"]
            if isinstance(target, int):
                ax.hlines(target, position - 0.35, position + 0.35, colors="#1d2433", linestyles="dashed")
                labels.append(f"{severity}\n(target {target} min, n={len(values)})")
            else:
                labels.append(f"{severity}\n(next release, n={len(values)})")
        ax.set_yscale("log")
        ax.set_xticks(range(1, 5), labels)
        ax.set_xlim(0.4, 4.6)
        ax.set_ylabel("minutes (log scale)")
        ax.set_title(f"{title} — {report['period']['month']} (dashes: target)")
        ax.legend(loc="upper left")
        charts[title] = (file_name, figure_png(fig))
    if report["items"].get("timeline"):
        charts[TIMELINE_CHART] = ("timeline.png", _timeline_chart(report))
    return charts


TIMELINE_CHART = "Incident timeline: the five steps of plan §3.2"
STEP_STYLE = {"detect": ("o", "#1d2433"), "triage": ("s", "#1971c2"), "communicate": ("D", "#e8590c"),
              "resolve": ("^", "#2b8a3e"), "review": ("*", "#862e9c")}


def _timeline_chart(report: dict[str, Any]) -> bytes:
    """One line per P0/P1 incident: each step's minutes after detection (symlog); a step that never
    happened is absent from its line."""
    from estate_ops.reports.render import figure_png, new_figure

    rows = report["items"]["timeline"]
    incidents = list(dict.fromkeys(r["id"] for r in rows))
    labels = {r["id"]: f"{r['severity']} #{r['incident']}" for r in rows}
    fig = new_figure(10, max(3.0, 0.35 * len(incidents) + 1.5))
    ax = fig.add_subplot(1, 1, 1)
    for step, (marker, color) in STEP_STYLE.items():
        points = [(float(r["minutes_after_detect"]), incidents.index(r["id"])) for r in rows
                  if r["step"] == step and r["minutes_after_detect"] is not None]
        ax.scatter([p[0] for p in points], [p[1] for p in points], marker=marker, color=color, s=36, label=step)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yticks(range(len(incidents)), [labels[i] for i in incidents])
    ax.invert_yaxis()
    ax.set_xlabel("minutes after detection (symlog)")
    ax.set_title(f"Detect, triage, communicate, resolve, review — {report['period']['month']}")
    ax.legend(loc="lower right", fontsize=8)
    return figure_png(fig)
