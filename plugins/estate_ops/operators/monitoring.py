"""Monitoring audit (plan §2.1): the estate's CloudWatch alarms exist, are on, and reach the right people.

`AuditMonitoringOperator` reads every alarm (metric and composite) with its tags in each region the
estate's alarms live in (the estate's, and us-east-1 for Route 53 health checks), follows each SNS
topic those alarms name to its subscriptions once, hands it all to `domain.monitoring.audit_monitoring`,
writes `monitoring/YYYY-MM-DD/audit.{json,html}` and the run manifest, and routes the findings (P0/P1
page, P2/P3 one Slack message; once per dedup key, so a rerun sends nothing).
A missing IAM permission fails the task with a line naming the action.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of

ROUTE53_METRICS_REGION = "us-east-1"  # Route 53 health-check metrics, so their alarms, live only there


class AuditMonitoringOperator(ReportPublisher, BaseOperator):
    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.monitoring import (
            audit_day,
            audit_monitoring,
            estate_alarms,
            estate_resources,
        )
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.hooks.connections import require_connection
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        as_of = run_as_of(context)
        day = audit_day(as_of, (context.get("params") or {}).get("date"))
        require_connection(estate.aws.conn_id, "aws.conn_id")
        resources = estate_resources(estate)
        regions = sorted({estate.aws.region} | ({ROUTE53_METRICS_REGION} if estate.health_checks else set()))
        alarms, calls = read_alarms(estate.aws.conn_id, regions)
        topics, calls["sns:ListSubscriptionsByTopic"] = read_topics(
            estate.aws.conn_id, estate_alarms(alarms, resources), estate.aws.account_id)
        self.log.info("AWS calls: %s (%d alarms, %d topics followed)", dict(calls), len(alarms), len(topics))

        result = audit_monitoring(plan, estate.estate.name, estate.aws.account_id, resources, alarms, topics,
                                  day, as_of)
        store = ArtifactStore.for_estate(estate)
        keys = self.publish_report(context, store, f"monitoring/{day.isoformat()}", result.report, name="audit",
                                   pdf=False)
        routed = SeverityRouter(plan, estate, store).route(result.findings, source=self.dag_id)
        write_run_manifest(store, self.dag_id, day.isoformat(), keys, result.report["headline"],
                           status="findings" if result.findings else "ok")
        return {"artifacts": keys, "findings": len(result.findings), "routed": routed, "calls": dict(calls)}


def read_alarms(conn_id: str, regions: list[str]) -> tuple[list[Any], dict[str, int]]:
    """Every alarm of `regions` (both types) with its tags, and the AWS calls made per action."""
    from collections import Counter

    from estate_ops.domain.monitoring import Alarm
    from estate_ops.hooks.cloudwatch import CloudWatchAlarmsHook

    alarms, calls = [], Counter()
    for region in regions:
        hook = CloudWatchAlarmsHook(aws_conn_id=conn_id, region_name=region)
        metric, composite = hook.describe_alarms()
        tags = hook.alarm_tags() if metric or composite else {}
        alarms += [Alarm.from_api(raw, "metric", tags.get(raw["AlarmArn"], {})) for raw in metric]
        alarms += [Alarm.from_api(raw, "composite", tags.get(raw["AlarmArn"], {})) for raw in composite]
        calls.update(hook.calls)
    return alarms, calls


def read_topics(conn_id: str, alarms: list[Any], account_id: str) -> tuple[dict[str, Any], int]:
    """Each distinct SNS topic the alarms name (this account's, in the alarm's region) with its
    subscriptions, read once from the topic's region; and the ListSubscriptionsByTopic calls made."""
    from estate_ops.domain.monitoring import (
        Subscription,
        Topic,
        arn_part,
        topics_to_follow,
    )
    from estate_ops.hooks.sns import SnsTopicsHook

    hooks: dict[str, SnsTopicsHook] = {}
    topics: dict[str, Topic] = {}
    for arn in topics_to_follow(alarms, account_id):
        region = arn_part(arn, "region") or ""
        if region not in hooks:
            hooks[region] = SnsTopicsHook(aws_conn_id=conn_id, region_name=region)
        hook = hooks[region]
        subscriptions = hook.subscriptions(arn)
        topics[arn] = Topic(arn, tuple(Subscription.from_api(s) for s in subscriptions or ()),
                            exists=subscriptions is not None)
    return topics, sum(h.calls for h in hooks.values())
