"""Monitoring audit rules (domain/monitoring.py): required-alarm matching, severity tags, endpoint
classification, routes and coverage, on hand-built alarms and topics."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from estate_ops.config import load_config
from estate_ops.domain.monitoring import (
    Alarm,
    MetricRef,
    Resource,
    Subscription,
    Topic,
    alarm_severity,
    audit_day,
    audit_monitoring,
    chatbot_channels,
    classify_endpoint,
    composite_references,
    estate_resources,
    topics_to_follow,
)
from estate_ops.domain.periods import PeriodError
from hypothesis import given
from hypothesis import strategies as st

ACCOUNT = "123456789012"
REGION = "us-east-1"
DAY = dt.date(2026, 11, 2)
AS_OF = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
PD_URL = "https://events.pagerduty.com/integration/R0SANDBOXR0UT1NGKEY0000000000001/enqueue"
CHATBOT_URL = "https://global.sns-api.chatbot.amazonaws.com"
HC = Resource("route53_health_check", "hc-1", "api", (("HealthCheckId", "hc-1"),))
OTHER_HC = Resource("route53_health_check", "hc-2", "web", (("HealthCheckId", "hc-2"),))
PAGER_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:pager"
SLACK_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:slack"


@pytest.fixture(scope="module")
def plan():
    return load_config()[0]


def topic(arn, *subs):
    return Topic(arn, tuple(Subscription(p, e, c) for p, e, c in subs))


TOPICS = {PAGER_TOPIC: topic(PAGER_TOPIC, ("https", PD_URL, True)),
          SLACK_TOPIC: topic(SLACK_TOPIC, ("https", CHATBOT_URL, True))}


def health_alarm(name="api-health", resource=HC, severity="P1", actions=(PAGER_TOPIC,), **kw):
    tags = {"severity": severity} if severity else {}
    return Alarm(name=name, arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}", kind="metric",
                 actions_enabled=kw.pop("actions_enabled", True), alarm_actions=tuple(actions),
                 comparison=kw.pop("comparison", "LessThanThreshold"),
                 metrics=(MetricRef.of("AWS/Route53", kw.pop("metric", "HealthCheckStatus"), kw.pop("stat", "Minimum"),
                                       dict(resource.dimensions)),), tags=tags, **kw)


def composite(name, rule, severity="P1", actions=(PAGER_TOPIC,), actions_enabled=True):
    return Alarm(name=name, arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}", kind="composite",
                 actions_enabled=actions_enabled, alarm_actions=tuple(actions), rule=rule,
                 tags={"severity": severity} if severity else {})


def audit(plan, alarms, resources=(HC,), topics=TOPICS):
    return audit_monitoring(plan, "Test estate", ACCOUNT, list(resources), alarms, topics, DAY, AS_OF)


def kinds(result):
    return sorted((f.kind, f.resource) for f in result.findings)


# ------------------------------------------------------------------ endpoint classification


@pytest.mark.parametrize("protocol,endpoint,expected", [
    ("https", PD_URL, "pagerduty"),
    ("https", "https://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue/", "pagerduty"),
    ("https", "https://events.eu.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue", "pagerduty"),
    ("https", "https://events.pagerduty.com/x-ere/R0123456789abcdef0123456789abcdef", "pagerduty"),
    ("HTTPS", "HTTPS://EVENTS.PAGERDUTY.COM/integration/0123456789abcdef0123456789abcdef/enqueue", "pagerduty"),
    ("http", "http://events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue", "unknown"),
    ("https", "https://events.pagerduty.com/v2/enqueue", "unknown"),  # no integration key in the URL
    ("https", "https://events.pagerduty.com.evil.example/integration/0123456789abcdef0123456789abcdef/enqueue",
     "unknown"),
    ("https", "https://user:pw@events.pagerduty.com/integration/0123456789abcdef0123456789abcdef/enqueue", "unknown"),
    ("https", "https://events.pagerduty.com:8443/integration/0123456789abcdef0123456789abcdef/enqueue", "unknown"),
    ("https", CHATBOT_URL, "slack"),
    ("https", CHATBOT_URL + "/", "slack"),
    ("https", "https://global.sns-api.chatbot.amazonaws.com/somewhere", "unknown"),
    ("https", "https://hooks.slack.com/services/T000/B000/XXXX", "unknown"),  # a webhook: SNS cannot post to it
    ("email", "ops@legacy.example", "email"),
    ("email-json", "ops@legacy.example", "email"),
    ("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue", "unknown"),
    ("lambda", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", "unknown"),
    ("sms", "+15555550100", "unknown"),
    ("https", "https://[::1/", "unknown"),  # not a URL
    ("https", "", "unknown"),
])
def test_classify_endpoint(protocol, endpoint, expected):
    assert classify_endpoint(protocol, endpoint) == expected


def test_a_pending_confirmation_is_not_a_route():
    assert Subscription.from_api({"SubscriptionArn": "PendingConfirmation", "Protocol": "https",
                                  "Endpoint": PD_URL}).confirmed is False
    assert Subscription.from_api({"SubscriptionArn": f"{PAGER_TOPIC}:abc", "Protocol": "https",
                                  "Endpoint": PD_URL}).confirmed is True


# ------------------------------------------------------------------ severity tag


@pytest.mark.parametrize("tags,key,expected", [
    ({"severity": "P1"}, "severity", ("P1", None)),
    ({"severity": " P0 "}, "severity", ("P0", None)),
    ({"Severity": "P1"}, "severity", (None, "no 'severity' tag")),
    ({}, "severity", (None, "no 'severity' tag")),
    ({"severity": "high"}, "severity", (None, "tag 'severity' is 'high', not one of P0-P3")),
    ({"severity": "p1"}, "severity", (None, "tag 'severity' is 'p1', not one of P0-P3")),
    ({"sev": "P2"}, "sev", ("P2", None)),
])
def test_alarm_severity(tags, key, expected):
    assert alarm_severity(tags, key) == expected


# ------------------------------------------------------------------ required alarms


def test_a_well_routed_required_alarm_leaves_nothing_to_say(plan):
    result = audit(plan, [health_alarm()])
    assert result.findings == []
    assert result.report["headline"]["status"]["value"] == "green"
    assert result.report["items"]["resources"][0]["covered"] is True
    assert result.report["figures"]["P1_routed_percent"]["value"] == 100


def test_an_alarm_on_another_resource_does_not_count(plan):
    result = audit(plan, [health_alarm(resource=OTHER_HC)], resources=(HC,))
    assert kinds(result) == [("resource_unmonitored", "hc-1")]


def test_an_alarm_on_another_metric_or_statistic_or_direction_does_not_count(plan):
    for alarm in (health_alarm(metric="HealthCheckPercentageHealthy"), health_alarm(stat="Average"),
                  health_alarm(comparison="GreaterThanThreshold")):
        assert kinds(audit(plan, [alarm])) == [("alarm_missing", "hc-1/health_check_failing")], alarm


def test_the_same_direction_of_comparison_counts(plan):
    assert audit(plan, [health_alarm(comparison="LessThanOrEqualToThreshold")]).findings == []


def test_a_composite_alarm_over_a_matching_metric_alarm_counts(plan):
    child = health_alarm(severity=None, actions=())
    parent = composite("api-down", 'ALARM("api-health") AND NOT ALARM("maintenance")')
    result = audit(plan, [child, parent])
    assert result.findings == []
    rows = {r["alarm"]: r for r in result.report["items"]["alarms"]}
    assert rows["api-health"]["status"] == "via_composite" and rows["api-health"]["routed"] is True
    assert rows["api-down"]["routed"] is True


def test_a_composite_that_only_negates_the_alarm_does_not_count(plan):
    child = health_alarm(severity=None, actions=())
    parent = composite("api-up", 'NOT ALARM("api-health")')
    assert ("alarm_missing", "hc-1/health_check_failing") in kinds(audit(plan, [child, parent]))


def test_a_matching_alarm_that_notifies_nobody_is_missing(plan):
    result = audit(plan, [health_alarm(actions=())])
    assert ("alarm_missing", "hc-1/health_check_failing") in kinds(result)
    assert ("alarm_not_paging", "api-health") in kinds(result)
    assert "notify nobody" in next(f.summary for f in result.findings if f.kind == "alarm_missing")


def test_a_required_alarm_tagged_with_another_severity(plan):
    result = audit(plan, [health_alarm(severity="P3", actions=(SLACK_TOPIC,))])
    assert kinds(result) == [("alarm_severity_mismatch", "api-health")]


@pytest.mark.parametrize("rule,names", [
    ('ALARM("a") OR ALARM(b)', {"a", "b"}),
    (f"ALARM(arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:c) AND OK(d)", {"c"}),
    ('NOT ALARM("a") AND (ALARM("b") OR INSUFFICIENT_DATA("e"))', {"b"}),
    ("TRUE", set()),
    (None, set()),
])
def test_composite_references(rule, names):
    assert composite_references(rule) == names


# ------------------------------------------------------------------ routes and other findings


def test_a_p1_alarm_whose_topic_has_only_a_pending_subscription(plan):
    pending = {PAGER_TOPIC: topic(PAGER_TOPIC, ("https", PD_URL, False))}
    result = audit(plan, [health_alarm()], topics=pending)
    assert kinds(result) == [("alarm_not_paging", "api-health"), ("alarm_topic_unconfirmed", PAGER_TOPIC)]
    assert "1 pending confirmation" in next(f.summary for f in result.findings if f.kind == "alarm_topic_unconfirmed")


def test_a_p2_alarm_routed_to_pagerduty_instead_of_slack(plan):
    alarm = health_alarm(name="api-slow", severity="P2", metric="HealthCheckPercentageHealthy")
    result = audit(plan, [health_alarm(), alarm])
    assert kinds(result) == [("alarm_not_in_slack", "api-slow")]
    assert result.findings[0].severity == "P2"
    assert result.findings[0].details["reaches"] == ["pagerduty"]


def test_email_only_does_not_page(plan):
    email = f"arn:aws:sns:{REGION}:{ACCOUNT}:email"
    topics = {email: topic(email, ("email", "ops@legacy.example", True))}
    result = audit(plan, [health_alarm(actions=(email,))], topics=topics)
    assert kinds(result) == [("alarm_not_paging", "api-health")]
    assert result.report["headline"]["status"]["value"] == "red"


def test_actions_disabled(plan):
    result = audit(plan, [health_alarm(actions_enabled=False)])
    assert kinds(result) == [("alarm_actions_disabled", "api-health"), ("alarm_missing", "hc-1/health_check_failing")]


def test_insufficient_data_longer_than_the_threshold(plan):
    hours = plan.monitoring.insufficient_data_hours
    stuck = health_alarm(state="INSUFFICIENT_DATA", state_since=AS_OF - dt.timedelta(hours=hours, minutes=1))
    fresh = health_alarm(name="web-health", resource=OTHER_HC, state="INSUFFICIENT_DATA",
                         state_since=AS_OF - dt.timedelta(hours=hours))
    result = audit(plan, [stuck, fresh], resources=(HC, OTHER_HC))
    assert kinds(result) == [("alarm_insufficient_data", "api-health")]


def test_a_topic_in_another_region_or_account(plan):
    west = f"arn:aws:sns:us-west-2:{ACCOUNT}:pager"
    theirs = f"arn:aws:sns:{REGION}:999999999999:pager"
    alarms = [health_alarm(actions=(west,)), health_alarm(name="web-health", resource=OTHER_HC, actions=(theirs,))]
    # Neither is read: CloudWatch cannot publish to the one, the other is not ours to read.
    assert topics_to_follow(alarms, ACCOUNT) == []
    result = audit(plan, alarms, resources=(HC, OTHER_HC), topics={west: TOPICS[PAGER_TOPIC]})
    assert kinds(result) == [("alarm_not_paging", "api-health"), ("alarm_not_paging", "web-health"),
                             ("alarm_topic_foreign", theirs), ("alarm_topic_foreign", west)]


def test_a_topic_that_does_not_exist(plan):
    result = audit(plan, [health_alarm()], topics={PAGER_TOPIC: Topic(PAGER_TOPIC, exists=False)})
    assert ("alarm_topic_unconfirmed", PAGER_TOPIC) in kinds(result)


def test_missing_severity_is_a_finding_and_never_guessed(plan):
    result = audit(plan, [health_alarm(severity=None)])
    assert kinds(result) == [("alarm_severity_missing", "api-health")]
    row = result.report["items"]["alarms"][0]
    assert row["severity"] is None and row["routed"] is False
    assert result.report["inputs"]["alarms_untagged"] == 1


def test_alarms_outside_the_estate_are_counted_not_judged(plan):
    stranger = health_alarm(name="someone-elses", resource=Resource("route53_health_check", "x", "x",
                                                                   (("HealthCheckId", "x"),)), severity=None)
    result = audit(plan, [health_alarm(), stranger])
    assert result.findings == []
    assert result.report["inputs"]["alarms_described"] == 2 and result.report["inputs"]["alarms_on_estate"] == 1


def test_each_topic_is_followed_once_however_many_alarms_name_it():
    alarms = [health_alarm(name=f"a{i}", actions=(PAGER_TOPIC, SLACK_TOPIC)) for i in range(5)]
    assert topics_to_follow(alarms, ACCOUNT) == sorted([PAGER_TOPIC, SLACK_TOPIC])


@pytest.mark.parametrize("param,expected", [(None, DAY), ("", DAY), ("2026-11-01", dt.date(2026, 11, 1)),
                                            ("2026-11-02", DAY)])
def test_audit_day(param, expected):
    assert audit_day(AS_OF, param) == expected


@pytest.mark.parametrize("param,message", [("2026-11-03", "after the run's day 2026-11-02"),
                                           ("02/11/2026", "date must be YYYY-MM-DD, got '02/11/2026'")])
def test_audit_day_refuses(param, message):
    with pytest.raises(PeriodError, match=re.escape(message)):
        audit_day(AS_OF, param)


def test_estate_resources_name_the_cloudwatch_dimensions():
    _plan, estate = load_config()
    resources = estate_resources(estate)
    lb = estate.monitoring.load_balancers[0]
    tg = next(r for r in resources if r.kind == "target_group")
    assert dict(tg.dimensions) == {"LoadBalancer": lb.load_balancer, "TargetGroup": lb.target_groups[0]}
    assert {r.kind for r in resources} == {"route53_health_check", "load_balancer", "target_group", "rds_instance"}
    assert len(resources) == len(estate.route53_health_checks) + 1 + len(lb.target_groups) + len(estate.databases)


def test_hostile_alarm_names_are_whole_in_the_json_and_escaped_and_bounded_where_rendered(plan):
    from estate_ops.alerting import SeverityRouter
    from estate_ops.reports.render import render_html

    name = "<!channel> & <script>alert(1)</script>" + "x" * 2000
    result = audit(plan, [health_alarm(name=name, severity=None)])
    assert result.findings[0].resource == name
    html = render_html(result.report).decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "full text in report.json" in html and name not in html
    slack = SeverityRouter.findings_text(result.findings, "monitoring_audit")
    assert "<!channel>" not in slack and "&lt;!channel&gt; &amp; &lt;script&gt;" in slack


# ------------------------------------------------------------------ property


_subscription = st.tuples(st.sampled_from(["https", "email", "sqs"]),
                          st.sampled_from([PD_URL, CHATBOT_URL, "ops@legacy.example", "https://example.com/"]),
                          st.booleans())


@given(severity=st.sampled_from(["P0", "P1", "P2", "P3"]), subs=st.lists(_subscription, max_size=4),
       enabled=st.booleans())
def test_an_alarm_counts_as_routed_exactly_when_a_confirmed_subscription_reaches_its_destination(
        severity, subs, enabled):
    plan = load_config()[0]
    wanted = "pagerduty" if severity in plan.alert_routing.pagerduty else "slack"
    topics = {PAGER_TOPIC: topic(PAGER_TOPIC, *subs)}
    result = audit(plan, [health_alarm(severity=severity, actions_enabled=enabled)], topics=topics)
    reaches = {classify_endpoint(p, e) for p, e, confirmed in subs if confirmed}
    row = result.report["items"]["alarms"][0]
    assert row["routed"] == (enabled and wanted in reaches)
    route_kinds = {f.kind for f in result.findings} & {"alarm_not_paging", "alarm_not_in_slack"}
    assert bool(route_kinds) == (enabled and wanted not in reaches)
    assert all(f.severity == plan.finding_severities[f.kind] for f in result.findings)


def test_a_missing_required_alarm_is_as_severe_as_what_it_would_have_said(plan):
    db = Resource("rds_instance", "db-1", "db-1", (("DBInstanceIdentifier", "db-1"),))
    connections = Alarm(name="db-1-connections", arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:db-1-connections",
                        kind="metric", actions_enabled=True, alarm_actions=(SLACK_TOPIC,),
                        comparison="GreaterThanThreshold", tags={"severity": "P2"},
                        metrics=(MetricRef.of("AWS/RDS", "DatabaseConnections", "Maximum", dict(db.dimensions)),))
    result = audit(plan, [connections], resources=(db,))
    assert sorted((f.kind, f.resource, f.severity) for f in result.findings) == [
        ("alarm_missing", "db-1/free_storage", "P1"), ("alarm_missing_minor", "db-1/cpu", "P2")]
    row = result.report["items"]["resources"][0]
    assert (row["present"], row["required"], row["covered"]) == (1, 3, False)


def test_insufficient_data_details_are_plain_json(plan):
    import json

    stuck = health_alarm(state="INSUFFICIENT_DATA", state_since=AS_OF - dt.timedelta(days=3))
    [finding] = audit(plan, [stuck]).findings
    assert json.loads(json.dumps(finding.details)) == {"since": (AS_OF - dt.timedelta(days=3)).isoformat(),
                                                        "hours": 72}


# ------------------------------------------------------------------ AWS Chatbot channel configurations


def _config(name, topics, state="ENABLED", channel=None):
    return {"ConfigurationName": name, "SlackChannelId": f"C{name.upper()}", "SlackChannelName": channel or name,
            "SnsTopicArns": list(topics), "State": state}


def test_chatbot_channels_map_each_topic_to_the_enabled_configurations_listing_it():
    other = f"arn:aws:sns:us-west-2:{ACCOUNT}:other"
    configs = [_config("legacy-ops", [SLACK_TOPIC, other]), _config("oncall", [SLACK_TOPIC]),
               _config("old", [PAGER_TOPIC], state="DISABLED"), _config("empty", [])]
    assert chatbot_channels(configs) == {SLACK_TOPIC: ["legacy-ops", "oncall"], other: ["legacy-ops"]}
    assert chatbot_channels([]) == {}


# A P3 alarm on one topic, its subscription and Chatbot's configurations varied: the route it reaches.
CHATBOT_REGIONAL = "https://us-east-2.sns-api.chatbot.amazonaws.com"
SUB = f"arn:aws:sns:{REGION}:{ACCOUNT}:sub"


@pytest.mark.parametrize("subscription,configs,reaches,unconfirmed", [
    (("https", CHATBOT_URL, True), [], ["slack"], False),  # Chatbot's endpoint
    (("https", CHATBOT_REGIONAL, True), [], ["unknown"], False),  # an endpoint we do not know, no configuration
    (("https", CHATBOT_REGIONAL, True), [_config("legacy-ops", [SUB])], ["slack", "unknown"], False),  # listed
    (("https", CHATBOT_REGIONAL, True), [_config("legacy-ops", [SUB], state="DISABLED")], ["unknown"], False),
    (("https", CHATBOT_REGIONAL, True), [_config("legacy-ops", [SLACK_TOPIC])], ["unknown"], False),  # another topic
    (("https", CHATBOT_URL, False), [_config("legacy-ops", [SUB])], [], True),  # pending: relays nothing
    (("email", "ops@legacy.example", True), [], ["email"], False),
    (("https", PD_URL, True), [], ["pagerduty"], False),
    (("sqs", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q", True), [], ["unknown"], False),
], ids=["chatbot-endpoint", "unknown-endpoint", "configuration-lists-topic", "configuration-disabled",
        "configuration-lists-another-topic", "configuration-but-pending", "email", "pagerduty", "sqs"])
def test_a_topic_reaches_slack_by_chatbots_endpoint_or_a_configuration_listing_it(
        plan, subscription, configs, reaches, unconfirmed):
    alarm = health_alarm(name="api-slow", severity="P3", metric="HealthCheckPercentageHealthy", actions=(SUB,))
    result = audit_monitoring(plan, "Test estate", ACCOUNT, [HC], [health_alarm(), alarm],
                              {**TOPICS, SUB: topic(SUB, subscription)}, DAY, AS_OF, chatbot_channels(configs))
    [row] = [r for r in result.report["items"]["topics"] if r["topic"] == SUB]
    assert row["destinations"] == reaches
    assert row["slack_channels"] == ([c["SlackChannelName"] for c in configs
                                      if c["State"] == "ENABLED" and SUB in c["SnsTopicArns"]])
    expected = ([("alarm_topic_unconfirmed", SUB)] if unconfirmed else []) + (
        [] if "slack" in reaches else [("alarm_not_in_slack", "api-slow")])
    assert sorted(expected) == [k for k in kinds(result) if k[1] in ("api-slow", SUB)]
