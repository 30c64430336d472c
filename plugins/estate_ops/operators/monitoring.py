"""Monitoring audit (plan §2.1): the estate's CloudWatch alarms exist, are on, and reach the right people.

`AuditMonitoringOperator` reads every alarm (metric and composite) with its tags in each region the
estate's alarms live in (the estate's, and us-east-1 for Route 53 health checks), follows each SNS
topic those alarms name to its subscriptions once, reads AWS Chatbot's Slack channel configurations
(which topics Chatbot relays to which channel) once, hands it all to `domain.monitoring.audit_monitoring`,
writes `monitoring/YYYY-MM-DD/audit.{json,html}` and the run manifest, and routes the findings (P0/P1
page, P2/P3 one Slack message; once per dedup key, so a rerun sends nothing).
A missing IAM permission fails the task with a line naming the action.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of

ATTEMPT_KEY = "set_at"  # fire_canary's XCom: when it tried to set the canary (before the call)
CLEANUP_KEY = "cleanup"  # restore_canary's XCom: what it resolved and restored, and what failed
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
        chatbot, calls["chatbot:DescribeSlackChannelConfigurations"] = read_chatbot(
            estate.aws.conn_id, estate.aws.chatbot_region)
        self.log.info("AWS calls: %s (%d alarms, %d topics followed)", dict(calls), len(alarms), len(topics))

        result = audit_monitoring(plan, estate.estate.name, estate.aws.account_id, resources, alarms, topics,
                                  day, as_of, chatbot)
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


def read_chatbot(conn_id: str, region: str) -> tuple[dict[str, list[str]], int]:
    """Each SNS topic's Slack channels by AWS Chatbot's channel configurations, and the calls made."""
    from estate_ops.domain.monitoring import chatbot_channels
    from estate_ops.hooks.chatbot import ChatbotHook

    hook = ChatbotHook(aws_conn_id=conn_id, region_name=region)
    return chatbot_channels(hook.slack_channel_configurations()), hook.calls


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


# --------------------------------------------------------------------------- alert_route_drill
#
# check_canaries (refuse before anything is set) >> per route: fire_canary (SetAlarmState ALARM) >>
# wait_for_delivery (deferred to the triggerer) >> restore_canary (all_done: resolve the incident, canary
# OK, whenever fire_canary tried to set it) >> publish_drill (all_done: report, findings).


def _canaries(estate: Any) -> Any:
    canaries = estate.monitoring.canaries
    if canaries is None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("estate.yaml monitoring.canaries is not set: name one canary alarm per route "
                                   "(pagerduty: {alarm, service}, slack: {alarm, channel}) to drill the routes")
    return canaries


def _canary(estate: Any, route: str) -> tuple[str, str]:
    canary = getattr(_canaries(estate), route)
    return canary.alarm, (canary.service if route == "pagerduty" else canary.channel)


class CheckCanariesOperator(BaseOperator):
    """Refuses, before any alarm is set, a canary that does not exist, is not a metric alarm with
    actions, or shares its metric or a composite with other alarms; returns each route's baseline:
    the canary service's open incidents, the channel's newest message."""

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from estate_ops.config import load_config
        from estate_ops.domain.monitoring import (
            ROUTES,
            CanaryError,
            check_canary,
            composite_references,
        )
        from estate_ops.hooks.cloudwatch import CloudWatchAlarmsHook
        from estate_ops.hooks.connections import require_connection
        from estate_ops.hooks.pagerduty import PagerDutyRestHook
        from estate_ops.hooks.slack import SlackMessageHook

        _plan, estate = load_config()
        require_connection(estate.aws.conn_id, "aws.conn_id")
        require_connection(estate.pagerduty.conn_id, "pagerduty.conn_id")
        require_connection(estate.slack.conn_id, "slack.conn_id")
        cloudwatch = CloudWatchAlarmsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        _metric, composites = cloudwatch.describe_alarms()
        baselines: dict[str, Any] = {}
        for route in ROUTES:
            name, destination = _canary(estate, route)
            raw = cloudwatch.alarm(name)
            try:
                check_canary(route, name, raw, cloudwatch.alarms_on_metric(raw) if raw and not raw.get("AlarmRule") else [],
                             [c["AlarmName"] for c in composites if name in composite_references(c.get("AlarmRule"))])
            except CanaryError as exc:
                raise AirflowFailException(str(exc)) from None  # refused: retrying changes nothing
            if route == "pagerduty":
                baselines[route] = [i["id"] for i in PagerDutyRestHook(estate.pagerduty.conn_id).open_incidents([destination])]
            else:
                newest = SlackMessageHook(estate.slack.conn_id).recent_messages(destination, limit=1)
                baselines[route] = newest[0]["ts"] if newest else None
            self.log.info("canary %s (%s -> %s) checked; baseline %s", name, route, destination, baselines[route])
        return baselines


class FireCanaryOperator(BaseOperator):
    """Sets the route's canary to ALARM; restore_canary sets it back to OK whatever happens next."""

    def __init__(self, *, route: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.route = route

    def execute(self, context: Any) -> str:
        import datetime as dt

        from estate_ops.config import load_config
        from estate_ops.hooks.cloudwatch import CloudWatchAlarmsHook

        _plan, estate = load_config()
        name, _destination = _canary(estate, self.route)
        fired_at = dt.datetime.now(dt.UTC)
        # Said before the call: a SetAlarmState that fails may still have set the alarm, so from
        # here on restore_canary puts it back whatever this task's outcome.
        context["ti"].xcom_push(key=ATTEMPT_KEY, value=fired_at.isoformat())
        CloudWatchAlarmsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region).set_alarm_state(
            name, "ALARM", f"estate-ops alert_route_drill ({context.get('run_id')}): a drill, not an incident")
        self.log.info("canary %s set to ALARM at %s", name, fired_at.isoformat())
        return fired_at.isoformat()


class WaitForAlertDeliveryOperator(BaseOperator):
    """Waits in the triggerer until the canary is seen at its destination or the plan's timeout passes."""

    def __init__(self, *, route: str, fire_task_id: str, check_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.route, self.fire_task_id, self.check_task_id = route, fire_task_id, check_task_id

    def execute(self, context: Any) -> None:
        import datetime as dt

        from estate_ops.config import load_config
        from estate_ops.triggers.monitoring import AlertDeliveryTrigger

        plan, estate = load_config()
        name, destination = _canary(estate, self.route)
        fired_at = dt.datetime.fromisoformat(context["ti"].xcom_pull(task_ids=self.fire_task_id))
        baseline = (context["ti"].xcom_pull(task_ids=self.check_task_id) or {}).get(self.route)
        minutes = getattr(plan.monitoring.drill, f"{self.route}_timeout_minutes")
        self.defer(trigger=AlertDeliveryTrigger(
            route=self.route, canary=name, destination=destination, baseline=baseline,
            deadline=(fired_at + dt.timedelta(minutes=minutes)).isoformat(),
            poll_seconds=plan.monitoring.drill.poll_seconds, pagerduty_conn_id=estate.pagerduty.conn_id,
            slack_conn_id=estate.slack.conn_id), method_name="execute_complete")

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        self.log.info("%s route: %s (%s)", self.route, event["status"], event.get("evidence"))
        return event


class RestoreCanaryOperator(BaseOperator):
    """Cleanup, whatever happened upstream (trigger rule all_done): once fire_canary has tried to set the
    canary, resolve the drill's PagerDuty incident(s) through the REST API (PUT /incidents/{id}, as
    `canaries.pagerduty.resolve_as`), then set the canary back to OK. Each step runs even when the other
    fails; a failure fails the task after both were tried, and is reported by publish_drill."""

    def __init__(self, *, route: str, fire_task_id: str, check_task_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.route, self.fire_task_id, self.check_task_id = route, fire_task_id, check_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowException, AirflowSkipException

        from estate_ops.config import load_config
        from estate_ops.domain.monitoring import PAGERDUTY

        ti = context["ti"]
        if ti.xcom_pull(task_ids=self.fire_task_id, key=ATTEMPT_KEY) is None:
            raise AirflowSkipException("the canary was never set (fire_canary did not run): nothing to clean up")
        _plan, estate = load_config()
        name, destination = _canary(estate, self.route)
        done: dict[str, Any] = {"resolved": [], "restored": False, "errors": []}
        if self.route == PAGERDUTY:
            try:
                done["resolved"] = self._resolve_incidents(context, estate, name, destination)
            except Exception as exc:  # reported; the canary is still set back below
                self.log.exception("resolving the drill incident failed")
                done["errors"].append(f"resolving the drill incident failed: {str(exc)[:300]}")
        try:
            done["restored"] = self._restore(estate, name)
        except Exception as exc:  # reported with the other step's outcome
            self.log.exception("setting the canary back to OK failed")
            done["errors"].append(f"setting canary {name} back to OK failed: {str(exc)[:300]}")
        ti.xcom_push(key=CLEANUP_KEY, value=done)
        if done["errors"]:
            raise AirflowException("; ".join(done["errors"]))
        return done

    def _resolve_incidents(self, context: Any, estate: Any, name: str, service_id: str) -> list[str]:
        """The open incidents on the canary's service naming it that were not open before the drill
        (also one that arrived after the wait gave up), each resolved once."""
        from estate_ops.domain.monitoring import drill_incidents
        from estate_ops.hooks.pagerduty import PagerDutyRestHook

        ti = context["ti"]
        baseline = (ti.xcom_pull(task_ids=self.check_task_id) or {}).get(self.route) or []
        hook = PagerDutyRestHook(estate.pagerduty.conn_id)
        resolved = []
        for incident in drill_incidents(hook.open_incidents([service_id]), name, service_id, baseline):
            outcome = hook.resolve_incident(incident["id"], estate.monitoring.canaries.pagerduty.resolve_as,
                                            f"estate-ops alert_route_drill ({context.get('run_id')}): a drill, "
                                            "resolved by the drill")
            self.log.info("drill incident %s: %s", incident["id"], outcome)
            if outcome == "resolved":
                resolved.append(incident["id"])
        return resolved

    def _restore(self, estate: Any, name: str) -> bool:
        from estate_ops.hooks.cloudwatch import CloudWatchAlarmsHook

        hook = CloudWatchAlarmsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        raw = hook.alarm(name)
        if raw is None or raw.get("StateValue") == "OK":
            self.log.info("canary %s: %s, nothing to restore", name, "absent" if raw is None else "already OK")
            return False
        hook.set_alarm_state(name, "OK", "estate-ops alert_route_drill: drill over")
        self.log.info("canary %s set back to OK", name)
        return True


class PublishRouteDrillOperator(ReportPublisher, BaseOperator):
    """Writes `monitoring/drills/YYYY-MM-DD/drill.{json,html}` and routes an undelivered route (P1
    PagerDuty, P2 Slack), then fails when a route was not delivered or not cleaned up. Nothing is
    published when the canaries were refused (that run failed)."""

    def __init__(self, *, check_task_id: str, fire_task_ids: dict[str, str], wait_task_ids: dict[str, str],
                 restore_task_ids: dict[str, str], **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.check_task_id, self.fire_task_ids, self.wait_task_ids = check_task_id, fire_task_ids, wait_task_ids
        self.restore_task_ids = restore_task_ids

    def execute(self, context: Any) -> dict[str, Any]:
        import datetime as dt

        from airflow.sdk.exceptions import AirflowSkipException

        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.monitoring import (
            ROUTES,
            RouteDrill,
            build_route_drill_report,
        )
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        ti = context["ti"]
        if ti.xcom_pull(task_ids=self.check_task_id) is None:
            raise AirflowSkipException("the canaries were refused (see check_canaries): nothing was drilled")
        as_of = run_as_of(context)
        day = as_of.date()
        drills = []
        for route in ROUTES:
            name, destination = _canary(estate, route)
            fired = ti.xcom_pull(task_ids=self.fire_task_ids[route])
            event = ti.xcom_pull(task_ids=self.wait_task_ids[route]) or {}
            error = (None if event else "the canary could not be set to ALARM (see fire_canary)" if fired is None
                     else "the wait for delivery failed (see wait_for_delivery)")
            cleanup = ti.xcom_pull(task_ids=self.restore_task_ids[route], key=CLEANUP_KEY)
            tried = ti.xcom_pull(task_ids=self.fire_task_ids[route], key=ATTEMPT_KEY) is not None
            cleanup_error = ("; ".join(cleanup["errors"]) or None if cleanup is not None
                             else "the cleanup did not run (see restore_canary)" if tried else None)
            drills.append(RouteDrill(
                route, name, destination, getattr(plan.monitoring.drill, f"{route}_timeout_minutes"),
                fired_at=dt.datetime.fromisoformat(fired) if fired else None,
                seen_at=dt.datetime.fromisoformat(event["seen_at"]) if event.get("seen_at") else None,
                evidence=event.get("evidence"), error=error, cleanup_error=cleanup_error,
                resolved=tuple((cleanup or {}).get("resolved") or ())))
        result = build_route_drill_report(plan, estate.estate.name, day, as_of, drills)
        store = ArtifactStore.for_estate(estate)
        keys = self.publish_report(context, store, f"monitoring/drills/{day.isoformat()}", result.report,
                                   name="drill", pdf=False)
        routed = SeverityRouter(plan, estate, store).route(result.findings, source=self.dag_id)
        write_run_manifest(store, self.dag_id, day.isoformat(), keys, result.report["headline"],
                           status="findings" if result.findings else "ok")
        # The run's state is its last task's: a drill that did not deliver or clean up is a failed run
        # (published and routed first), not a green one with red tasks inside.
        broken = [d.route for d in drills if d.seen_at is None or d.error or d.cleanup_error]
        if broken:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"route drill failed for {', '.join(broken)}: see {keys[0]} and its "
                                       f"{len(result.findings)} finding(s), routed by the plan's rule")
        return {"artifacts": keys, "findings": len(result.findings), "routed": routed}
