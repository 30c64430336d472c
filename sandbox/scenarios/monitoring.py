"""Monitoring scenario (issue 16): the estate's CloudWatch alarms and the SNS topics they notify.

Most of it is well routed: each health check, the load balancer, its target groups and the
databases have the alarms plan.yaml `monitoring.required_alarms` asks for, tagged with the
required severity, notifying a PagerDuty topic (an https subscription to the Events integration
endpoint with the first service's routing key) or a Slack topic (AWS Chatbot's endpoint, with the
Chatbot channel configuration that lists it and names the estate's channel, plus an email). What is wrong, on purpose (each a finding `monitoring_audit` must raise):

- the last health check has no alarm at all (`resource_unmonitored`);
- the second database's free-storage alarm (P1) notifies a topic whose only subscription is
  pending confirmation (`alarm_not_paging`, `alarm_topic_unconfirmed`);
- the last target group's p99 latency alarm (P2) notifies the PagerDuty topic instead of Slack
  (`alarm_not_in_slack`);
- the second database's CPU alarm has its actions disabled (`alarm_actions_disabled`, and so
  its required alarm counts as missing).

The first database's free-storage alarm has no actions of its own: a composite alarm over it pages
(a composite over a matching alarm satisfies the requirement). One alarm watches something outside
the estate (counted, not judged), and so do alert_route_drill's two canaries (estate.yaml
monitoring.canaries: a metric of their own each, notifying the PagerDuty and the Slack topic).
Every alarm has been in its state since three days before now.

moto lacks three behaviours, taught in sandbox/aws.py: DescribeAlarms paging and AlarmTypes,
PutCompositeAlarm (made through the backend), and pending subscriptions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.chatbot import CHATBOT
from sandbox.context import SeedContext
from sandbox.scenarios.base import routing_key_for

CHATBOT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"
PAGERDUTY_ENDPOINT = "https://events.pagerduty.com/integration/{key}/enqueue"
TOPICS = ("legacy-alerts-pagerduty", "legacy-alerts-slack", "legacy-reporting-db-pager")
STATE_AGE = dt.timedelta(days=3)
CANARY_NAMESPACE = "EstateOps/Canary"  # a namespace of its own: no real alarm shares a canary's metric
# Thresholds and periods a careful operator would pick; the audit checks metric, statistic and direction.
THRESHOLDS = {"HealthCheckStatus": 1, "HTTPCode_ELB_5XX_Count": 10, "HTTPCode_Target_5XX_Count": 10,
              "TargetResponseTime": 2.0, "HealthyHostCount": 1, "DatabaseConnections": 180,
              "FreeStorageSpace": 5 * 1024**3, "CPUUtilization": 85}


def seed(ctx: SeedContext) -> None:
    region = ctx.estate.aws.region
    sns = ctx.aws_client("sns", region)
    pager, slack, pending = (sns.create_topic(Name=name, Tags=[{"Key": "estate", "Value": "legacy"}])["TopicArn"]
                             for name in TOPICS)
    sns.subscribe(TopicArn=pager, Protocol="https", ReturnSubscriptionArn=True,
                  Endpoint=PAGERDUTY_ENDPOINT.format(key=routing_key_for(0)))
    sns.subscribe(TopicArn=slack, Protocol="https", Endpoint=CHATBOT_ENDPOINT, ReturnSubscriptionArn=True)
    sns.subscribe(TopicArn=slack, Protocol="email", Endpoint="legacy-ops@legacy.example", ReturnSubscriptionArn=True)
    # The Chatbot channel configuration that subscribed Chatbot's endpoint above: where it posts the topic.
    channel = ctx.slack.find_channel(ctx.estate.slack.channel)
    CHATBOT.add_slack_channel_configuration("legacy-ops-alerts", channel["id"], channel["name"], [slack])
    never_confirmed = sns.subscribe(TopicArn=pending, Protocol="https", ReturnSubscriptionArn=True,
                                    Endpoint=PAGERDUTY_ENDPOINT.format(key=routing_key_for(1)))["SubscriptionArn"]
    ctx.aws.set_subscription_pending(ctx.moto_backend("sns", region), never_confirmed)
    route = route_topic = {"pagerduty": pager, "slack": slack}

    required = ctx.plan.monitoring.required_alarms
    tag_key = ctx.plan.monitoring.severity_tag
    alarms: list[dict[str, Any]] = []
    composites: list[dict[str, Any]] = []

    def alarm(kind: str, requirement: Any, name: str, dimensions: dict[str, str], *, topic: str | None = None,
              actions_enabled: bool = True, region_name: str = region) -> None:
        destination = "pagerduty" if requirement.severity in ctx.plan.alert_routing.pagerduty else "slack"
        topic = topic if topic is not None else route[destination]
        alarms.append({"region": region_name, "kind": kind, "AlarmName": name,
                       "AlarmDescription": f"{requirement.name} ({requirement.severity})",
                       "Namespace": requirement.namespace, "MetricName": requirement.metric,
                       **_statistic(requirement.statistic), "ComparisonOperator": requirement.comparison,
                       "Threshold": THRESHOLDS.get(requirement.metric, 1), "Period": 60, "EvaluationPeriods": 3,
                       "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
                       "ActionsEnabled": actions_enabled, "AlarmActions": [topic] if topic else [],
                       "OKActions": [topic] if topic else [],
                       "Tags": [{"Key": tag_key, "Value": requirement.severity}, {"Key": "estate", "Value": "legacy"}]})

    # Route 53 health-check metrics, and so their alarms, live in us-east-1.
    for check in ctx.estate.route53_health_checks[:-1]:  # the last one has no alarm at all
        for requirement in required.get("route53_health_check", []):
            alarm("route53_health_check", requirement, f"legacy-{check.name}-{requirement.name}",
                  {"HealthCheckId": check.id}, region_name="us-east-1")

    for lb in ctx.estate.monitoring.load_balancers:
        lb_name = lb.load_balancer.split("/")[1]
        for requirement in required.get("load_balancer", []):
            alarm("load_balancer", requirement, f"{lb_name}-{requirement.name}", {"LoadBalancer": lb.load_balancer})
        for i, tg in enumerate(lb.target_groups):
            tg_name = tg.split("/")[1]
            for requirement in required.get("target_group", []):
                misrouted = i == len(lb.target_groups) - 1 and requirement.statistic.startswith("p")
                alarm("target_group", requirement, f"{tg_name}-{requirement.name}",
                      {"LoadBalancer": lb.load_balancer, "TargetGroup": tg},
                      topic=pager if misrouted else None)

    for d, db in enumerate(ctx.estate.databases):
        for requirement in required.get("rds_instance", []):
            name = f"{db.id}-{requirement.name}"
            dims = {"DBInstanceIdentifier": db.id}
            if d == 0 and requirement.severity in ctx.plan.alert_routing.pagerduty:
                # No actions of its own: the composite alarm over it pages.
                alarm("rds_instance", requirement, name, dims, topic="")
                composites.append({"name": f"{db.id}-critical", "rule": f'ALARM("{name}")', "topic": pager,
                                   "severity": requirement.severity})
            elif d == 1 and requirement.severity in ctx.plan.alert_routing.pagerduty:
                alarm("rds_instance", requirement, name, dims, topic=pending)
            elif d == 1 and requirement.name == "cpu":
                alarm("rds_instance", requirement, name, dims, actions_enabled=False)
            else:
                alarm("rds_instance", requirement, name, dims)

    # Someone else's alarm in the same account: counted, not judged.
    alarms.append({"region": region, "kind": "other", "AlarmName": "billing-batch-queue-depth",
                   "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Maximum",
                   "ComparisonOperator": "GreaterThanThreshold", "Threshold": 1000, "Period": 300,
                   "EvaluationPeriods": 1, "Dimensions": [{"Name": "QueueName", "Value": "billing-batch"}],
                   "ActionsEnabled": True, "AlarmActions": [], "OKActions": [], "Tags": []})

    # alert_route_drill's canaries: one per route, each on a metric of its own, notifying the route's topic.
    canaries = ctx.estate.monitoring.canaries
    if canaries is not None:
        for route, canary, severity in (("pagerduty", canaries.pagerduty, "P1"), ("slack", canaries.slack, "P3")):
            alarms.append({"region": region, "kind": "canary", "AlarmName": canary.alarm,
                           "AlarmDescription": f"estate-ops alert_route_drill canary ({route} route): never real",
                           "Namespace": CANARY_NAMESPACE, "MetricName": f"Canary-{route}", "Statistic": "Maximum",
                           "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0, "Period": 60,
                           "EvaluationPeriods": 1, "TreatMissingData": "notBreaching", "Dimensions": [],
                           "ActionsEnabled": True, "AlarmActions": [route_topic[route]],
                           "OKActions": [route_topic[route]],
                           "Tags": [{"Key": tag_key, "Value": severity}, {"Key": "estate-ops", "Value": "canary"}]})

    since = ctx.now - STATE_AGE
    for spec in alarms:
        spec = dict(spec)
        alarm_region = spec.pop("region")
        spec.pop("kind")
        ctx.aws_client("cloudwatch", alarm_region).put_metric_alarm(**spec)
        ctx.aws.set_alarm_state_time(ctx.moto_backend("cloudwatch", alarm_region), spec["AlarmName"], "OK", since)
    cloudwatch = ctx.moto_backend("cloudwatch", region)
    for comp in composites:
        ctx.aws.put_composite_alarm(cloudwatch, comp["name"], comp["rule"], alarm_actions=[comp["topic"]],
                                    ok_actions=[comp["topic"]], description="free storage or worse: page",
                                    tags=[{"Key": tag_key, "Value": comp["severity"]}])
        ctx.aws.set_alarm_state_time(cloudwatch, comp["name"], "OK", since)


def _statistic(statistic: str) -> dict[str, str]:
    """PutMetricAlarm takes a percentile as ExtendedStatistic, the five simple ones as Statistic."""
    return {"ExtendedStatistic": statistic} if statistic.startswith("p") else {"Statistic": statistic}
