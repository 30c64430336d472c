"""Monitoring audit (plan §2.1): do the estate's alarms exist, are they on, and do they reach the
right people?

Pure: no Airflow, no boto3. The operator reads alarms, their tags and each SNS topic's
subscriptions through hooks and hands them here as plain data; `audit_monitoring` returns the
report and the findings.

The rules, all of them defaults written in plan.yaml `monitoring`:
- Each estate resource (Route 53 health check, ALB, target group, RDS instance) must have every
  alarm `required_alarms` lists for its kind. A row is satisfied by a metric alarm on that metric
  of that very resource (CloudWatch names a metric by its exact dimension set, so an alarm on
  another resource, or on the load balancer instead of its target group, does not count), with
  the same statistic and the same direction of comparison, that notifies: its own actions are
  enabled and it has alarm actions, or an enabled composite alarm with actions fires on it
  (`ALARM(name)` in its rule). A resource with no alarm at all is one `resource_unmonitored`
  finding rather than one per missing row.
- An alarm's severity is its tag (`severity_tag`, values P0-P3); without one it is a finding and
  its route is not judged: a severity is never guessed.
- Routes: each SNS topic in an alarm's actions is followed to its confirmed subscriptions, each
  classified by `classify_endpoint`; a topic an enabled AWS Chatbot Slack channel configuration
  lists reaches Slack too (`chatbot_channels`), when it has a confirmed subscription. A P0/P1 alarm must reach PagerDuty, a P2/P3 alarm Slack
  (plan.yaml `alert_routing`). A pending confirmation is not a route; a topic in another region
  (CloudWatch cannot publish there) or another account (not ours to read) is not followed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from estate_ops.domain.findings import Finding, sort_findings
from estate_ops.domain.periods import PeriodError, utc

SEVERITIES = ("P0", "P1", "P2", "P3")
PAGERDUTY, SLACK, EMAIL, UNKNOWN = "pagerduty", "slack", "email", "unknown"
# PagerDuty's Events integration hosts (US and EU service regions).
PAGERDUTY_EVENT_HOSTS = frozenset({"events.pagerduty.com", "events.eu.pagerduty.com"})
_PAGERDUTY_PATH = re.compile(r"^/(integration/[A-Za-z0-9]{20,64}/enqueue|x-ere/[A-Za-z0-9_-]{20,128})/?$")
# AWS Chatbot subscribes to a topic with this https endpoint (it relays to the configured Slack channel).
CHATBOT_HOSTS = frozenset({"global.sns-api.chatbot.amazonaws.com"})
# A composite alarm fires on another alarm through ALARM(name), ALARM("name") or ALARM(arn); NOT ALARM(...)
# is the opposite and does not count.
_ALARM_REFERENCE = re.compile(r"(?<![A-Za-z_])(NOT\s+)?ALARM\(\s*(\"[^\"]*\"|[^)\s]+)\s*\)")
_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):(?P<service>[\w-]+):(?P<region>[\w-]*):(?P<account>\d*):(?P<rest>.+)$")
ABOVE, BELOW = "above", "below"
_DIRECTIONS = {
    "GreaterThanOrEqualToThreshold": {ABOVE}, "GreaterThanThreshold": {ABOVE}, "GreaterThanUpperThreshold": {ABOVE},
    "LessThanThreshold": {BELOW}, "LessThanOrEqualToThreshold": {BELOW}, "LessThanLowerThreshold": {BELOW},
    "LessThanLowerOrGreaterThanUpperThreshold": {ABOVE, BELOW},
}


# ------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class MetricRef:
    """One metric an alarm watches: a metric alarm's own, or each MetricStat of a metric-math alarm."""

    namespace: str
    metric: str
    statistic: str | None  # Statistic or ExtendedStatistic (p99)
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value) pairs

    @classmethod
    def of(cls, namespace: str, metric: str, statistic: str | None, dimensions: Mapping[str, str]) -> MetricRef:
        return cls(namespace, metric, statistic, tuple(sorted(dimensions.items())))


@dataclass(frozen=True)
class Alarm:
    name: str
    arn: str
    kind: str  # "metric" | "composite"
    actions_enabled: bool
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    state: str = "OK"
    state_since: dt.datetime | None = None
    comparison: str | None = None
    metrics: tuple[MetricRef, ...] = ()
    rule: str | None = None  # a composite alarm's AlarmRule
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def region(self) -> str:
        return arn_part(self.arn, "region") or ""

    @classmethod
    def from_api(cls, raw: Mapping[str, Any], kind: str, tags: Mapping[str, str]) -> Alarm:
        """An alarm as DescribeAlarms returns it (MetricAlarms or CompositeAlarms entry)."""
        metrics: list[MetricRef] = []
        if raw.get("MetricName"):
            metrics.append(MetricRef.of(raw.get("Namespace") or "", raw["MetricName"],
                                        raw.get("Statistic") or raw.get("ExtendedStatistic"),
                                        {d["Name"]: d["Value"] for d in raw.get("Dimensions") or []}))
        for query in raw.get("Metrics") or []:  # metric math: each MetricStat it reads
            stat = query.get("MetricStat")
            if stat:
                metric = stat["Metric"]
                metrics.append(MetricRef.of(metric.get("Namespace") or "", metric.get("MetricName") or "",
                                            stat.get("Stat"),
                                            {d["Name"]: d["Value"] for d in metric.get("Dimensions") or []}))
        since = raw.get("StateUpdatedTimestamp")
        return cls(
            name=raw["AlarmName"], arn=raw["AlarmArn"], kind=kind,
            actions_enabled=bool(raw.get("ActionsEnabled", True)),
            alarm_actions=tuple(raw.get("AlarmActions") or ()), ok_actions=tuple(raw.get("OKActions") or ()),
            state=raw.get("StateValue") or "OK", state_since=utc(since) if since else None,
            comparison=raw.get("ComparisonOperator"), metrics=tuple(metrics), rule=raw.get("AlarmRule"),
            tags=dict(tags))


@dataclass(frozen=True)
class Subscription:
    protocol: str
    endpoint: str
    confirmed: bool  # ListSubscriptionsByTopic says SubscriptionArn "PendingConfirmation" until confirmed

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Subscription:
        arn = raw.get("SubscriptionArn") or ""
        return cls(raw.get("Protocol") or "", raw.get("Endpoint") or "",
                   confirmed=arn.startswith("arn:"))  # "PendingConfirmation" / "Deleted" are not routes


@dataclass(frozen=True)
class Topic:
    arn: str
    subscriptions: tuple[Subscription, ...] = ()
    exists: bool = True


@dataclass(frozen=True)
class Resource:
    """An estate resource as CloudWatch names it: its kind and its metrics' dimensions."""

    kind: str  # a key of plan.yaml monitoring.required_alarms
    id: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


def estate_resources(estate: Any) -> list[Resource]:
    """Every resource of estate.yaml whose alarms the audit checks, with its CloudWatch dimensions."""
    resources = [Resource("route53_health_check", hc.id, hc.name, (("HealthCheckId", hc.id),))
                 for hc in estate.route53_health_checks]
    for lb in estate.monitoring.load_balancers:
        resources.append(Resource("load_balancer", lb.load_balancer, lb.load_balancer,
                                  (("LoadBalancer", lb.load_balancer),)))
        resources += [Resource("target_group", tg, tg, tuple(sorted({"LoadBalancer": lb.load_balancer,
                                                                      "TargetGroup": tg}.items())))
                      for tg in lb.target_groups]
    resources += [Resource("rds_instance", db.id, db.id, (("DBInstanceIdentifier", db.id),)) for db in estate.databases]
    return resources


# ------------------------------------------------------------------------------------- rules


def arn_part(arn: str, part: str) -> str | None:
    match = _ARN.match(arn or "")
    return match.group(part) if match else None


def classify_endpoint(protocol: str, endpoint: str) -> str:
    """Where a subscription delivers: "pagerduty" (an https subscription to PagerDuty's Events
    integration endpoint), "slack" (AWS Chatbot's https endpoint), "email", or "unknown"."""
    protocol = (protocol or "").strip().lower()
    if protocol in ("email", "email-json"):
        return EMAIL
    if protocol != "https":
        return UNKNOWN  # http is not accepted by PagerDuty or Chatbot; sqs/lambda/sms reach no person we know
    try:
        parts = urlsplit(endpoint.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return UNKNOWN
    if parts.scheme.lower() != "https" or parts.username or parts.password or parts.port not in (None, 443):
        return UNKNOWN
    if host in PAGERDUTY_EVENT_HOSTS and _PAGERDUTY_PATH.match(parts.path):
        return PAGERDUTY
    if host in CHATBOT_HOSTS and parts.path in ("", "/"):
        return SLACK
    return UNKNOWN


def chatbot_channels(configurations: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Topic ARN -> the Slack channels AWS Chatbot relays it to: each ENABLED Slack channel
    configuration (DescribeSlackChannelConfigurations) that lists the topic in its SnsTopicArns."""
    channels: dict[str, set[str]] = {}
    for config in configurations:
        if (config.get("State") or "ENABLED") != "ENABLED":
            continue  # a disabled configuration relays nothing
        name = config.get("SlackChannelName") or config.get("SlackChannelId") or config.get("ConfigurationName") or "?"
        for arn in config.get("SnsTopicArns") or ():
            channels.setdefault(arn, set()).add(str(name)[:80])
    return {arn: sorted(names) for arn, names in sorted(channels.items())}


def required_destination(severity: str, alert_routing: Any) -> str:
    """The plan's rule: P0/P1 -> PagerDuty, P2/P3 -> Slack (plan.yaml alert_routing)."""
    return PAGERDUTY if severity in alert_routing.pagerduty else SLACK


def alarm_severity(tags: Mapping[str, str], tag_key: str) -> tuple[str | None, str | None]:
    """(severity, problem): the tag's value when it is P0-P3, else None and what is wrong."""
    if tag_key not in tags:
        return None, f"no {tag_key!r} tag"
    value = str(tags[tag_key]).strip()
    if value not in SEVERITIES:
        return None, f"tag {tag_key!r} is {value[:40]!r}, not one of P0-P3"
    return value, None


def composite_references(rule: str | None) -> set[str]:
    """The alarm names a composite alarm fires on (ALARM(x), not NOT ALARM(x)); an ARN gives its name."""
    names = set()
    for negated, ref in _ALARM_REFERENCE.findall(rule or ""):
        if negated:
            continue
        ref = ref.strip('"')
        names.add(ref.split(":alarm:", 1)[1] if ":alarm:" in ref else ref)
    return names


def comparison_matches(required: str, actual: str | None) -> bool:
    """The same direction: GreaterThanOrEqualToThreshold satisfies GreaterThanThreshold."""
    return bool(actual) and bool(_DIRECTIONS.get(required, set()) & _DIRECTIONS.get(actual, set()))


def matches_requirement(alarm: Alarm, requirement: Any, resource: Resource) -> bool:
    """A metric alarm watching `requirement`'s metric of `resource` (exact dimensions), same statistic
    and direction. A metric-math alarm counts when one of its metrics is that metric."""
    if alarm.kind != "metric" or not comparison_matches(requirement.comparison, alarm.comparison):
        return False
    return any(m.namespace == requirement.namespace and m.metric == requirement.metric
               and m.statistic == requirement.statistic and m.dimensions == resource.dimensions
               for m in alarm.metrics)


def on_resource(alarm: Alarm, resource: Resource) -> bool:
    return any(m.dimensions == resource.dimensions for m in alarm.metrics)


# ------------------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class MonitoringAudit:
    report: dict[str, Any]
    findings: list[Finding]


@dataclass
class _Route:
    destinations: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def audit_monitoring(plan: Any, estate_name: str, account_id: str, resources: Sequence[Resource],
                     alarms: Iterable[Alarm], topics: Mapping[str, Topic], day: dt.date,
                     as_of: dt.datetime, chatbot: Mapping[str, Sequence[str]] | None = None) -> MonitoringAudit:
    """The day's monitoring audit: report (DESIGN.md §4 report keys) and findings.

    `alarms` are every alarm DescribeAlarms returned (both types) with their tags; `topics` the SNS
    topics their actions name that were followed (the operator follows those `topics_to_follow` lists);
    `chatbot` each topic's Slack channels by AWS Chatbot's channel configurations (`chatbot_channels`).
    """
    chatbot = chatbot or {}
    as_of = utc(as_of)
    terms = plan.monitoring
    period = day.isoformat()
    alarms = sorted(alarms, key=lambda a: a.arn)
    findings: list[Finding] = []

    def finding(kind: str, resource: str, summary: str, **details: Any) -> None:
        findings.append(Finding.of(plan, kind, resource, summary, period, **details))

    # Composite alarms fire on metric alarms; a metric alarm wrapped by a notifying composite notifies.
    wrapped_by: dict[str, list[Alarm]] = {}
    for alarm in alarms:
        if alarm.kind == "composite":
            for name in sorted(composite_references(alarm.rule)):
                wrapped_by.setdefault(name, []).append(alarm)

    def notifies_itself(alarm: Alarm) -> bool:
        return alarm.actions_enabled and bool(alarm.alarm_actions)

    def notifying_alarms(alarm: Alarm) -> list[Alarm]:
        """The alarms through which `alarm` firing reaches someone: itself and composites over it."""
        own = [alarm] if notifies_itself(alarm) else []
        return own + [c for c in wrapped_by.get(alarm.name, []) if notifies_itself(c)]

    scoped = estate_alarms(alarms, resources)
    estate_metric_alarms = [a for a in scoped if a.kind == "metric"]

    # ---- required alarms per resource
    resource_rows = []
    for resource in resources:
        required = list(terms.required_alarms.get(resource.kind, []))
        on_it = [a for a in estate_metric_alarms if on_resource(a, resource)]
        present, missing = [], []
        for requirement in required:
            candidates = [a for a in on_it if matches_requirement(a, requirement, resource)]
            via = [n for a in candidates for n in notifying_alarms(a)]
            if via:
                present.append(requirement.name)
                for notifier in via:
                    severity, _ = alarm_severity(notifier.tags, terms.severity_tag)
                    if severity is not None and severity != requirement.severity:
                        finding("alarm_severity_mismatch", notifier.name,
                                f"alarm {notifier.name} stands for {resource.kind} {resource.name}'s required "
                                f"{requirement.name} ({requirement.severity}) but is tagged {severity}",
                                required=requirement.severity, tagged=severity, requirement=requirement.name,
                                resource_id=resource.id)
            else:
                missing.append(requirement.name)
        if not on_it:
            finding("resource_unmonitored", resource.id,
                    f"{resource.kind} {resource.name} has no CloudWatch alarm at all "
                    f"(required: {', '.join(r.name for r in required) or 'none'})",
                    resource_kind=resource.kind, dimensions=dict(resource.dimensions))
        else:
            for name in missing:
                requirement = next(r for r in required if r.name == name)
                candidates = [a.name for a in on_it if matches_requirement(a, requirement, resource)]
                why = (f"alarm(s) {', '.join(candidates)} match but notify nobody (actions disabled or none)"
                       if candidates else f"no alarm on {requirement.namespace} {requirement.metric} "
                                          f"{requirement.statistic} {requirement.comparison}")
                # A required P0/P1 alarm missing is an outage unheard; a P2/P3 one, a warning unsaid.
                kind = "alarm_missing" if requirement.severity in plan.alert_routing.pagerduty else "alarm_missing_minor"
                finding(kind, f"{resource.id}/{name}",
                        f"{resource.kind} {resource.name} lacks its required alarm {name}: {why}",
                        resource_kind=resource.kind, requirement=name, severity_required=requirement.severity)
        resource_rows.append({"resource": resource.id, "name": resource.name, "kind": resource.kind,
                              "alarms": len(on_it), "required": len(required), "present": len(present),
                              "missing": missing, "covered": bool(on_it) and not missing})

    # ---- each alarm: on, with data, tagged, routed
    topic_rows: dict[str, dict[str, Any]] = {}
    for arn in sorted({t for a in scoped for t in (*a.alarm_actions, *a.ok_actions) if _is_sns(t)}):
        topic_rows[arn] = _topic_row(arn, topics.get(arn), account_id, [a for a in scoped
                                                                        if arn in (*a.alarm_actions, *a.ok_actions)],
                                     chatbot.get(arn, ()))
    for row in topic_rows.values():
        if row["problem"] == "foreign":
            finding("alarm_topic_foreign", row["topic"], f"SNS topic {row['topic']} {row['detail']}: "
                    f"alarms {', '.join(row['alarms'])} do not notify through it", alarms=row["alarms"])
        elif row["problem"] == "unconfirmed":
            finding("alarm_topic_unconfirmed", row["topic"], f"SNS topic {row['topic']} {row['detail']}: "
                    f"alarms {', '.join(row['alarms'])} notify nobody through it", alarms=row["alarms"],
                    pending=row["pending"])

    alarm_rows = []
    routed_by_severity = {s: {"alarms": 0, "routed": 0} for s in SEVERITIES}
    untagged = 0
    for alarm in scoped:
        severity, tag_problem = alarm_severity(alarm.tags, terms.severity_tag)
        route = _route(alarm, topic_rows)
        wrapped = [c.name for c in wrapped_by.get(alarm.name, []) if notifies_itself(c)]
        # An alarm without actions of its own under a notifying composite is how composites are
        # meant to be used: the composite's tag, switch and route are what count, judged on their own.
        via_composite = not alarm.alarm_actions and bool(wrapped)
        status, problem, routed = "ok", None, via_composite
        if not alarm.actions_enabled and not via_composite:
            status, problem = "actions_disabled", "actions disabled"
            finding("alarm_actions_disabled", alarm.name,
                    f"alarm {alarm.name} has ActionsEnabled false: it changes state and tells nobody",
                    alarm_arn=alarm.arn)
        if alarm.state == "INSUFFICIENT_DATA" and alarm.state_since is not None:
            hours = (as_of - alarm.state_since).total_seconds() / 3600
            if hours > terms.insufficient_data_hours:
                finding("alarm_insufficient_data", alarm.name,
                        f"alarm {alarm.name} has been in INSUFFICIENT_DATA for {int(hours)} h (more than "
                        f"{terms.insufficient_data_hours} h): it is watching no data",
                        since=alarm.state_since.isoformat(), hours=int(hours))  # details go out as JSON
                problem = problem or "insufficient data"
        if via_composite:
            status = "via_composite"
        elif severity is None:
            untagged += 1
            status = "untagged" if status == "ok" else status
            problem = problem or tag_problem
            finding("alarm_severity_missing", alarm.name,
                    f"alarm {alarm.name} has no valid severity ({tag_problem}); its route cannot be judged",
                    tag_key=terms.severity_tag)
        else:
            wanted = required_destination(severity, plan.alert_routing)
            routed = alarm.actions_enabled and wanted in route.destinations
            routed_by_severity[severity]["alarms"] += 1
            routed_by_severity[severity]["routed"] += routed
            if not routed and alarm.actions_enabled:
                reached = ", ".join(sorted(route.destinations)) or "nobody"
                why = "; ".join(route.problems) or ("it has no alarm actions" if not alarm.alarm_actions else "")
                where = "PagerDuty" if wanted == PAGERDUTY else "Slack"
                finding("alarm_not_paging" if wanted == PAGERDUTY else "alarm_not_in_slack", alarm.name,
                        f"{severity} alarm {alarm.name} does not reach {where} (it reaches {reached}"
                        f"{'; ' + why if why else ''})",
                        severity_tag=severity, reaches=sorted(route.destinations), topics=list(alarm.alarm_actions))
                status, problem = "misrouted", problem or f"does not reach {where}"
        alarm_rows.append({"alarm": alarm.name, "kind": alarm.kind, "severity": severity, "state": alarm.state,
                           "actions_enabled": alarm.actions_enabled, "reaches": sorted(route.destinations),
                           "via_composite": wrapped, "routed": routed, "status": status, "problem": problem})

    findings = sort_findings(_unique(findings))
    covered = sum(r["covered"] for r in resource_rows)
    judged = sum(v["alarms"] for v in routed_by_severity.values())
    routed_total = sum(r["routed"] for r in alarm_rows)
    figures: dict[str, Any] = {
        "resources_fully_covered_percent": _percent(covered, len(resource_rows)),
        "alarms_routed_percent": _percent(routed_total, len(scoped)),
    }
    for severity, counts in routed_by_severity.items():
        figures[f"{severity}_alarms"] = {"value": counts["alarms"], "unit": "alarms"}
        figures[f"{severity}_alarms_routed"] = {"value": counts["routed"], "unit": "alarms"}
        figures[f"{severity}_routed_percent"] = _percent(counts["routed"], counts["alarms"])
    for severity in SEVERITIES:
        required_here = [(r, req) for r in resource_rows for req in terms.required_alarms.get(r["kind"], [])
                         if req.severity == severity]
        met = sum(r["alarms"] > 0 and req.name not in r["missing"] for r, req in required_here)
        figures[f"{severity}_required_alarms_present_percent"] = _percent(met, len(required_here))
    status = "red" if any(f.severity in plan.alert_routing.pagerduty for f in findings) else (
        "amber" if findings else "green")
    report = {
        "kind": "monitoring",
        "title": f"Monitoring audit - {estate_name} - {period}",
        "period": {"date": period, "as_of": as_of},
        "plan_version": plan.plan.version,
        "headline": {
            "status": {"value": status, "unit": None},
            "resources_fully_covered": {"value": covered, "unit": f"of {len(resource_rows)} resources"},
            "alarms_routed": {"value": routed_total, "unit": f"of {len(scoped)} alarms"},
            "findings": {"value": len(findings), "unit": "findings"},
        },
        "inputs": {"resources": len(resource_rows), "alarms_described": len(alarms),
                   "metric_alarms": sum(a.kind == "metric" for a in alarms),
                   "composite_alarms": sum(a.kind == "composite" for a in alarms),
                   "alarms_on_estate": len(scoped), "alarms_untagged": untagged,
                   # judged by their own severity tag and route; the others notify through a composite
                   "alarms_judged_by_own_route": judged,
                   "alarms_via_composite": sum(r["status"] == "via_composite" for r in alarm_rows),
                   "topics": len(topic_rows),
                   "subscriptions": sum(r["confirmed"] + r["pending"] for r in topic_rows.values())},
        "figures": figures,
        "items": {"resources": resource_rows, "alarms": alarm_rows, "topics": list(topic_rows.values())},
        "findings": [f.as_dict() for f in findings],
        "warnings": [],
    }
    return MonitoringAudit(report, findings)


def audit_day(as_of: dt.datetime, param: str | None) -> dt.date:
    """The day an audit is filed under: the `date` param, else the run's own UTC day. AWS shows only
    the configuration of now, so a day after the run's cannot be audited."""
    today = utc(as_of).date()
    if param in (None, ""):
        return today
    try:
        day = dt.date.fromisoformat(str(param))
    except ValueError:
        raise PeriodError(f"date must be YYYY-MM-DD, got {str(param)[:40]!r}") from None
    if day > today:
        raise PeriodError(f"date {day} is after the run's day {today}: the audit sees the configuration of now")
    return day


def estate_alarms(alarms: Iterable[Alarm], resources: Sequence[Resource]) -> list[Alarm]:
    """The alarms about the estate: a metric alarm on one of its resources, or a composite over one."""
    alarms = list(alarms)
    on_estate = {a.name for a in alarms if any(on_resource(a, r) for r in resources)}
    over = {c.name for c in alarms if c.kind == "composite" and composite_references(c.rule) & on_estate}
    return sorted((a for a in alarms if a.name in on_estate | over), key=lambda a: a.arn)


def topics_to_follow(alarms: Iterable[Alarm], account_id: str) -> list[str]:
    """The distinct SNS topics in alarms' actions worth reading: this account's, in the alarm's own
    region (CloudWatch publishes nowhere else). One ListSubscriptionsByTopic walk each, however many
    alarms name it."""
    wanted = set()
    for alarm in alarms:
        for arn in (*alarm.alarm_actions, *alarm.ok_actions):
            if _is_sns(arn) and arn_part(arn, "account") == account_id and arn_part(arn, "region") == alarm.region:
                wanted.add(arn)
    return sorted(wanted)


def _is_sns(arn: str) -> bool:
    return arn_part(arn, "service") == "sns"


def _topic_row(arn: str, topic: Topic | None, account_id: str, alarms: list[Alarm],
               slack_channels: Sequence[str] = ()) -> dict[str, Any]:
    regions = sorted({a.region for a in alarms})
    row: dict[str, Any] = {"topic": arn, "region": arn_part(arn, "region"), "account": arn_part(arn, "account"),
                           "alarms": sorted(a.name for a in alarms), "confirmed": 0, "pending": 0,
                           "destinations": [], "slack_channels": list(slack_channels), "problem": None,
                           "detail": None}
    if row["account"] != account_id:
        row.update(problem="foreign", detail=f"belongs to account {row['account']}, not the estate's {account_id}")
    elif any(region != row["region"] for region in regions):
        row.update(problem="foreign", detail=f"is in {row['region']} but its alarms are in {', '.join(regions)} "
                                             "(CloudWatch publishes only to topics in its own region)")
    elif topic is None or not topic.exists:
        row.update(problem="unconfirmed", detail="does not exist")
    else:
        confirmed = [s for s in topic.subscriptions if s.confirmed]
        destinations = {classify_endpoint(s.protocol, s.endpoint) for s in confirmed}
        if confirmed and slack_channels:
            # A Chatbot channel configuration lists the topic: Chatbot relays it to Slack (through its
            # subscription, whatever endpoint it shows). With no confirmed subscription it relays nothing.
            destinations.add(SLACK)
        row.update(confirmed=len(confirmed), pending=len(topic.subscriptions) - len(confirmed),
                   destinations=sorted(destinations))
        if not confirmed:
            row.update(problem="unconfirmed", detail="has no confirmed subscription"
                       + (f" ({row['pending']} pending confirmation)" if row["pending"] else ""))
    return row


def _route(alarm: Alarm, topic_rows: Mapping[str, dict[str, Any]]) -> _Route:
    route = _Route()
    for arn in alarm.alarm_actions:
        row = topic_rows.get(arn)
        if row is None:
            continue  # not SNS (an Auto Scaling, EC2 or Systems Manager action): no person is told
        route.destinations.update(row["destinations"])
        if row["problem"]:
            route.problems.append(f"topic {arn} {row['detail']}")
    return route


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for f in findings:
        seen.setdefault(f.dedup_key, f)
    return list(seen.values())


def _percent(part: int, whole: int) -> dict[str, Any]:
    if whole == 0:
        return {"value": None, "unit": "%"}
    return {"value": (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP), "unit": "%"}


# ------------------------------------------------------------------------------------- route drill
#
# alert_route_drill proves each route by a real delivery: the route's canary alarm (estate.yaml
# monitoring.canaries) is set to ALARM, and the drill looks for it at the destination. Times are the
# drill's own clock (when it set the alarm, when it first saw the delivery): the destinations' clocks
# are not compared with ours, so a latency is an upper bound within one poll interval.

ROUTES = (PAGERDUTY, SLACK)
LATENCY_NOTE = ("Latency is measured on estate-ops' clock, from setting the alarm to first seeing the delivery: "
                "an upper bound within one poll interval.")


class CanaryError(ValueError):
    """A canary that cannot be drilled: refused before anything is set."""


def check_canary(route: str, name: str, raw: Mapping[str, Any] | None, alarms_on_its_metric: Iterable[str],
                 composites_over_it: Iterable[str] = ()) -> None:
    """Refuse a canary that does not exist, is not a metric alarm with enabled actions, or shares its
    metric (or a composite) with other alarms: setting it to ALARM must page about the drill only."""
    where = f"estate.yaml monitoring.canaries.{route}.alarm"
    if raw is None:
        raise CanaryError(f"{where}: CloudWatch has no alarm named {name!r}: create it (a metric alarm on a "
                          f"metric no other alarm uses, notifying the {route} route's topic) before the drill")
    if raw.get("AlarmRule") is not None:
        raise CanaryError(f"{where}: {name!r} is a composite alarm; a canary is a metric alarm of its own")
    if not raw.get("ActionsEnabled", True) or not raw.get("AlarmActions"):
        raise CanaryError(f"{where}: {name!r} has its actions disabled or none: its ALARM would reach nobody")
    others = sorted(set(alarms_on_its_metric) - {name})
    if others:
        raise CanaryError(f"{where}: {name!r} watches {raw.get('Namespace')} {raw.get('MetricName')}, which "
                          f"{', '.join(others[:5])} also watch: a canary's metric must be its own")
    over = sorted(set(composites_over_it))
    if over:
        raise CanaryError(f"{where}: composite alarm(s) {', '.join(over[:5])} fire on {name!r}: the drill would "
                          "set them off too")


def drill_incidents(incidents: Iterable[Mapping[str, Any]], canary: str, service_id: str,
                    known: Iterable[str]) -> list[Mapping[str, Any]]:
    """The incidents on `service_id`, not open before the drill, whose title names the canary: the
    ones the drill caused (and resolves)."""
    known = set(known)
    return [i for i in incidents if i.get("id") not in known and (i.get("service") or {}).get("id") == service_id
            and canary in (i.get("title") or "")]


def pagerduty_delivery(incidents: Iterable[Mapping[str, Any]], canary: str, service_id: str,
                       known: Iterable[str]) -> Mapping[str, Any] | None:
    """The first incident on `service_id`, not open before the drill, whose title names the canary."""
    found = drill_incidents(incidents, canary, service_id, known)
    return found[0] if found else None


def slack_delivery(messages: Iterable[Mapping[str, Any]], canary: str, after_ts: str | None) -> Mapping[str, Any] | None:
    """The first message after `after_ts` (the channel's newest before the drill) that names the canary."""
    floor = Decimal(after_ts) if after_ts else Decimal(0)
    for message in sorted(messages, key=lambda m: Decimal(m["ts"])):
        if Decimal(message["ts"]) > floor and canary in (message.get("text") or ""):
            return message
    return None


@dataclass(frozen=True)
class RouteDrill:
    route: str  # "pagerduty" | "slack"
    canary: str
    destination: str  # the PagerDuty service id or the Slack channel
    timeout_minutes: int
    fired_at: dt.datetime | None = None
    seen_at: dt.datetime | None = None
    evidence: str | None = None  # the incident id or the message ts
    error: str | None = None  # what went wrong firing or waiting
    cleanup_error: str | None = None  # what went wrong putting the canary back to OK or resolving the incident
    resolved: tuple[str, ...] = ()  # the drill incidents it resolved (PagerDuty route)

    @property
    def latency_seconds(self) -> int | None:
        if self.fired_at is None or self.seen_at is None:
            return None
        return max(0, int((utc(self.seen_at) - utc(self.fired_at)).total_seconds()))


def build_route_drill_report(plan: Any, estate_name: str, day: dt.date, as_of: dt.datetime,
                             drills: Sequence[RouteDrill]) -> MonitoringAudit:
    """The week's drill: per route, delivered or not and how fast; an undelivered route is a finding."""
    period = day.isoformat()
    findings = []
    rows = []
    for drill in sorted(drills, key=lambda d: ROUTES.index(d.route) if d.route in ROUTES else 99):
        delivered = drill.seen_at is not None
        if not delivered:
            why = drill.error or f"not seen within {drill.timeout_minutes} min"
            where = "PagerDuty service" if drill.route == PAGERDUTY else "Slack channel"
            findings.append(Finding.of(
                plan, f"alert_route_undelivered_{drill.route}", drill.canary,
                f"the {drill.route} route did not deliver canary {drill.canary} to {where} {drill.destination} "
                f"({why})", period, route=drill.route, destination=drill.destination,
                fired_at=drill.fired_at.isoformat() if drill.fired_at else None))  # details go out as JSON
        if drill.cleanup_error:
            left = "a canary left in ALARM or a drill incident left open pages people about nothing"
            findings.append(Finding.of(
                plan, "alert_route_cleanup_failed", drill.canary,
                f"the {drill.route} route's drill did not clean up after canary {drill.canary} "
                f"({drill.cleanup_error}): {left}", period, route=drill.route, destination=drill.destination))
        rows.append({"route": drill.route, "canary": drill.canary, "destination": drill.destination,
                     "fired_at": drill.fired_at, "seen_at": drill.seen_at, "latency_seconds": drill.latency_seconds,
                     "timeout_minutes": drill.timeout_minutes, "delivered": delivered, "evidence": drill.evidence,
                     "error": drill.error, "resolved": list(drill.resolved), "cleanup_error": drill.cleanup_error})
    findings = sort_findings(findings)
    figures = {f"{r['route']}_latency": {"value": r["latency_seconds"], "unit": "s"} for r in rows}
    report = {
        "kind": "monitoring_drill",
        "title": f"Alert route drill - {estate_name} - {period}",
        "period": {"date": period, "as_of": utc(as_of)},
        "plan_version": plan.plan.version,
        "headline": {"routes_delivered": {"value": sum(r["delivered"] for r in rows), "unit": f"of {len(rows)} routes"},
                     **{f"{r['route']}_delivered": {"value": "yes" if r["delivered"] else "NO", "unit": None}
                        for r in rows}},
        "inputs": {"routes": len(rows)},
        "figures": figures,
        "items": {"routes": rows},
        "findings": [f.as_dict() for f in findings],
        "warnings": [LATENCY_NOTE],
    }
    return MonitoringAudit(report, findings)
