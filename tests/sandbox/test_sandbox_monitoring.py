"""The monitoring scenario and the moto behaviours it needs (sandbox/aws.py): DescribeAlarms pages
and honours AlarmTypes, composite alarms exist, a pending subscription is listed as AWS lists it.
Seeded in-process (no servers)."""

from __future__ import annotations

import datetime as dt

import pytest

from sandbox.scenarios.monitoring import TOPICS
from sandbox.server import seed_month

NOW = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return seed_month(dt.date(2026, 10, 1), tmp_path_factory.mktemp("seed"), NOW, seed=20251126)


def _pages(cloudwatch, **kwargs):
    pages, token = [], None
    while True:
        page = cloudwatch.describe_alarms(**kwargs, **({"NextToken": token} if token else {}))
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            return pages


def test_describe_alarms_pages_by_max_records_in_name_order(ctx):
    cloudwatch = ctx.aws_client("cloudwatch")
    pages = _pages(cloudwatch, AlarmTypes=["MetricAlarm", "CompositeAlarm"], MaxRecords=5)
    names = [a["AlarmName"] for p in pages for a in p["MetricAlarms"] + p["CompositeAlarms"]]
    assert all(len(p["MetricAlarms"]) + len(p["CompositeAlarms"]) <= 5 for p in pages)
    assert len(pages) == -(-len(names) // 5) and len(set(names)) == len(names)
    assert [a["AlarmName"] for a in pages[0]["MetricAlarms"] + pages[0]["CompositeAlarms"]] == sorted(names)[:5]


def test_composite_alarms_only_when_asked_for(ctx):
    cloudwatch = ctx.aws_client("cloudwatch")
    default = [a for p in _pages(cloudwatch) for a in p["CompositeAlarms"]]
    asked = [a for p in _pages(cloudwatch, AlarmTypes=["CompositeAlarm"]) for a in p["CompositeAlarms"]]
    assert default == [] and [a["AlarmName"] for a in asked] == [f"{ctx.estate.databases[0].id}-critical"]
    assert asked[0]["AlarmRule"] == f'ALARM("{ctx.estate.databases[0].id}-free_storage")'


def test_a_pending_subscription_is_listed_as_pending_confirmation(ctx):
    sns = ctx.aws_client("sns")
    arns = {t["TopicArn"].rsplit(":", 1)[1]: t["TopicArn"] for t in sns.list_topics()["Topics"]}
    pending = sns.list_subscriptions_by_topic(TopicArn=arns[TOPICS[2]])["Subscriptions"]
    assert [s["SubscriptionArn"] for s in pending] == ["PendingConfirmation"]
    confirmed = sns.list_subscriptions_by_topic(TopicArn=arns[TOPICS[0]])["Subscriptions"]
    assert [s["SubscriptionArn"].startswith("arn:aws:sns:") for s in confirmed] == [True]


def test_alarm_states_date_from_the_sandbox_clock(ctx):
    alarms = [a for p in _pages(ctx.aws_client("cloudwatch")) for a in p["MetricAlarms"]]
    assert {a["StateUpdatedTimestamp"].astimezone(dt.UTC) for a in alarms} == {NOW - dt.timedelta(days=3)}
    # The last health check has no alarm at all.
    watched = {d["Value"] for a in alarms for d in a["Dimensions"] if d["Name"] == "HealthCheckId"}
    assert ctx.estate.route53_health_checks[-1].id not in watched and ctx.estate.route53_health_checks[0].id in watched
