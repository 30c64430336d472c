"""Preflight: check every configured resource exists and answers, then report and route.

`CheckEstateResourcesOperator(area=...)` checks one area (aws, pagerduty, slack, statuspage) and returns its
checks; `PublishPreflightOperator` turns them into `preflight/YYYY-MM-DD/report.{json,html,pdf}`
and routes what is missing. A connection that is not defined or an endpoint that does not answer
fails the check task with a message naming it: nothing is written for that run.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher

AREAS = ("aws", "pagerduty", "slack", "statuspage")


class CheckEstateResourcesOperator(BaseOperator):
    template_fields = ()

    def __init__(self, *, area: str, **kwargs: Any) -> None:
        if area not in AREAS:
            raise ValueError(f"area must be one of {AREAS}, got {area!r}")
        super().__init__(**kwargs)
        self.area = area

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from estate_ops.config import load_config
        from estate_ops.hooks.connections import require_connection

        _plan, estate = load_config()
        checker = {"aws": _check_aws, "pagerduty": _check_pagerduty, "slack": _check_slack,
                   "statuspage": _check_statuspage}[self.area]
        conn_ids = {"aws": [("aws.conn_id", estate.aws.conn_id)],
                    "pagerduty": [("pagerduty.conn_id", estate.pagerduty.conn_id)],
                    "slack": [("slack.conn_id", estate.slack.conn_id)],
                    "statuspage": [("statuspage.conn_id", estate.statuspage.conn_id)] if estate.statuspage else [],
                    }[self.area]
        for where, conn_id in conn_ids:
            require_connection(conn_id, where)
        checks = checker(estate)
        for check in checks:
            self.log.info("%s %s %s: %s", "OK  " if check.ok else "MISS", check.kind, check.resource, check.detail)
        return [c.as_dict() for c in checks]


class PublishPreflightOperator(ReportPublisher, BaseOperator):
    def __init__(self, *, check_task_ids: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_task_ids = check_task_ids

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.preflight import Check, build_preflight_report
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        day = context["logical_date"].date()
        checks = [Check(**c) for task_id in self.check_task_ids
                  for c in context["ti"].xcom_pull(task_ids=task_id) or []]
        report, findings = build_preflight_report(checks, plan, estate.estate.name, day)
        store = ArtifactStore.for_estate(estate)
        keys = self.publish_report(context, store, f"preflight/{day.isoformat()}", report)
        routed = SeverityRouter(plan, estate, store).route(findings, source=self.dag_id)
        write_run_manifest(store, self.dag_id, day.isoformat(), keys, report["headline"])
        return {"artifacts": keys, "missing": len(findings), "routed": routed}


def _check_aws(estate: Any) -> list:
    from estate_ops.domain.preflight import Check
    from estate_ops.hooks.aws import translate_connection_errors
    from estate_ops.hooks.logs import LogGroupsHook
    from estate_ops.hooks.rds import RdsBackupsHook
    from estate_ops.hooks.route53 import HealthChecksHook
    from estate_ops.hooks.s3 import BucketsHook

    conn_id, region = estate.aws.conn_id, estate.aws.region
    checks: list[Check] = []
    with translate_connection_errors(f"AWS (connection {conn_id!r})"):
        rds = RdsBackupsHook(aws_conn_id=conn_id, region_name=region)
        for db in estate.databases:
            found = rds.describe_instance(db.id)
            checks.append(Check("aws", "rds_instance", db.id, found is not None,
                                f"status {found['DBInstanceStatus']}" if found else "no such DB instance"))
        buckets = BucketsHook(aws_conn_id=conn_id, region_name=region)
        wanted = [(estate.reports_bucket, None), (estate.logs.archive_bucket, None)]
        for doc in estate.documents:
            wanted += [(doc.bucket, None), (doc.replica_bucket, doc.replica_region)]
        for bucket, expected_region in wanted:
            found_region = buckets.bucket_region(bucket)
            if found_region is None:
                checks.append(Check("aws", "bucket", bucket, False, "no such bucket"))
            elif expected_region and found_region != expected_region:
                checks.append(Check("aws", "bucket", bucket, False,
                                    f"in {found_region}, estate.yaml says {expected_region}"))
            else:
                checks.append(Check("aws", "bucket", bucket, True, f"in {found_region}"))
        logs = LogGroupsHook(aws_conn_id=conn_id, region_name=region)
        for prefix in estate.logs.group_prefixes:
            groups = logs.log_groups(prefix)
            checks.append(Check("aws", "log_group_prefix", prefix, bool(groups),
                                f"{len(groups)} log group(s)" if groups else "no log group has this prefix"))
        route53 = HealthChecksHook(aws_conn_id=conn_id)
        for hc in estate.route53_health_checks:
            found = route53.health_check(hc.id)
            checks.append(Check("aws", "health_check", hc.id, found is not None,
                                f"{hc.name}: {found['HealthCheckConfig'].get('Type')}" if found
                                else f"{hc.name}: Route 53 does not know this id"))
    return checks


def _check_pagerduty(estate: Any) -> list:
    from estate_ops.domain.preflight import Check
    from estate_ops.hooks.pagerduty import PagerDutyRestHook

    pd = PagerDutyRestHook(estate.pagerduty.conn_id)
    wanted = [("pagerduty_service", f"/services/{s.id}", s.id) for s in estate.pagerduty.services]
    wanted += [("pagerduty_schedule", f"/schedules/{sid}", sid)
               for sid in (estate.pagerduty.schedules.primary, estate.pagerduty.schedules.secondary)]
    wanted.append(("pagerduty_escalation_policy", f"/escalation_policies/{estate.pagerduty.escalation_policy}",
                   estate.pagerduty.escalation_policy))
    return [Check("pagerduty", kind, rid, *pd.exists(path)) for kind, path, rid in wanted]


def _check_slack(estate: Any) -> list:
    from estate_ops.domain.preflight import Check
    from estate_ops.hooks.slack import SlackMessageHook

    slack = SlackMessageHook(estate.slack.conn_id)
    return [Check("slack", "slack_channel", estate.slack.channel, *slack.channel_exists(estate.slack.channel))]


def _check_statuspage(estate: Any) -> list:
    """The page and every component `statuspage.components` names (none without a status page)."""
    from estate_ops.domain.preflight import Check
    from estate_ops.hooks.statuspage import StatuspageHook

    settings = estate.statuspage
    if settings is None:
        return []
    hook = StatuspageHook(settings.page_id, settings.conn_id)
    page = hook.request("GET", f"/pages/{settings.page_id}", missing_ok=True)
    checks = [Check("statuspage", "statuspage_page", settings.page_id, page is not None,
                    str(page.get("name") or "found") if page else "Statuspage answers 404: no such page")]
    if page is None:
        return checks
    names = {c["id"]: c.get("name") or "found" for c in hook.components()}
    for service, ids in settings.components.items():
        for cid in ids:
            checks.append(Check("statuspage", "statuspage_component", cid, cid in names,
                                f"{names[cid]} (for {service})" if cid in names
                                else f"not a component of page {settings.page_id} (for {service})"))
    return checks
