"""monitoring.*: one day's monitoring audit of 2,000 alarms notifying 200 SNS topics, against moto
in-process (`mock_aws`, no HTTP: the figures are the project's own cost, not a server's), with the
sandbox's moto patches (DescribeAlarms pages at MaxRecords and honours AlarmTypes; moto alone
returns everything in one page). Runs in a child process so the mock stays there.

The alarms sit on 500 databases (four each: the three plan.yaml requires and one more); one
database in twenty has a composite alarm (over its connections alarm) in place of its free-storage
alarm, so the audit has findings to make (50: a missing alarm and a severity mismatch each). Each
topic has two subscriptions, and one has 250 (so ListSubscriptionsByTopic pages). The operator's own readers run
(`read_alarms`, `read_topics`), then `audit_monitoring`.

- monitoring.describe_alarms_pages against ceil(alarms / 100); monitoring.tag_pages (alarm tags
  through tag:GetResources) against ceil(alarms / 100): one ListTagsForResource per alarm would
  be 2,000 calls;
- monitoring.list_subscriptions_calls against the sum over distinct topics of
  ceil(subscriptions / 100) (each topic read once however many alarms name it);
- monitoring.chatbot_pages (AWS Chatbot's Slack channel configurations, 250 of them, answered in the
  child as Chatbot answers: moto has no Chatbot) against ceil(configurations / 100);
- monitoring.wall_seconds / cpu_seconds: reading and auditing everything in one process;
- monitoring.drill_*: the alert-route drill against the sandbox, per route (bench/monitoring_drill.py).
Goal: every call count at its minimum.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

from bench.common import record
from devtools.localenv import ROOT

ALARMS, TOPICS, SUBSCRIPTIONS_PER_TOPIC, BIG_TOPIC_SUBSCRIPTIONS = 2_000, 200, 2, 250
CHATBOT_CONFIGURATIONS = 250  # AWS Chatbot Slack channel configurations, 100 a page
COMPOSITE_EVERY = 20

_CHILD = r'''
import collections, datetime as dt, json, os, sys, time
sys.path[:0] = [ROOT, ROOT + "/plugins"]
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                   "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "login": "testing", "password": "testing",
                                                           "extra": {"region_name": "us-east-1"}})})
import boto3, botocore.client
from moto import mock_aws

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.timezone.utc)
ACCOUNT = "123456789012"
calls = collections.Counter()
counting = False
original = botocore.client.BaseClient._make_api_call
canned = {}  # operations moto lacks, answered here
def counted(self, operation, params):
    if counting:
        calls[operation] += 1
    if operation in canned:
        return canned[operation](params)
    return original(self, operation, params)
botocore.client.BaseClient._make_api_call = counted

with mock_aws():
    from sandbox.aws import install_moto_patches, put_composite_alarm, backend
    install_moto_patches()
    sns = boto3.client("sns", region_name="us-east-1")
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    topics = [sns.create_topic(Name=f"bench-topic-{i:03d}")["TopicArn"] for i in range(TOPICS)]
    subscriptions = {}
    for i, arn in enumerate(topics):
        count = BIG_TOPIC_SUBSCRIPTIONS if i == 0 else SUBSCRIPTIONS_PER_TOPIC
        for k in range(count):
            endpoint = ("https://events.pagerduty.com/integration/R0BENCH%023d%08d/enqueue" % (i, k)) if k % 2 == 0 \
                else "https://global.sns-api.chatbot.amazonaws.com"
            if k >= 2:
                endpoint = f"ops-{k}@bench.example"
            sns.subscribe(TopicArn=arn, Protocol="email" if "@" in endpoint else "https", Endpoint=endpoint)
        subscriptions[arn] = count
    metrics = [("DatabaseConnections", "Maximum", "GreaterThanThreshold", "P2"),
               ("FreeStorageSpace", "Minimum", "LessThanThreshold", "P1"),
               ("CPUUtilization", "Average", "GreaterThanThreshold", "P2"),
               ("ReadLatency", "p99", "GreaterThanThreshold", "P3")]
    databases = ALARMS // len(metrics)
    cw_backend = backend("cloudwatch", "us-east-1")
    made = 0
    for d in range(databases):
        db = f"bench-db-{d:04d}"
        for m, (metric, stat, comparison, severity) in enumerate(metrics):
            topic = topics[(d * len(metrics) + m) % TOPICS]
            name = f"{db}-{metric}"
            composite = d % COMPOSITE_EVERY == 0 and metric == "FreeStorageSpace"
            statistic = {"ExtendedStatistic": stat} if stat.startswith("p") else {"Statistic": stat}
            if composite:
                put_composite_alarm(cw_backend, name, f'ALARM("{db}-{metrics[0][0]}")', alarm_actions=[topic],
                                    tags=[{"Key": "severity", "Value": severity}])
            else:
                cw.put_metric_alarm(AlarmName=name, Namespace="AWS/RDS", MetricName=metric, **statistic,
                                    ComparisonOperator=comparison, Threshold=1, Period=60, EvaluationPeriods=1,
                                    Dimensions=[{"Name": "DBInstanceIdentifier", "Value": db}], ActionsEnabled=True,
                                    AlarmActions=[topic], OKActions=[topic],
                                    Tags=[{"Key": "severity", "Value": severity}])
            made += 1

    from estate_ops.config import load_config
    from estate_ops.domain.monitoring import Resource, audit_monitoring, estate_alarms
    from estate_ops.operators.monitoring import read_alarms, read_chatbot, read_topics

    # moto has no Chatbot: its API answers here, in its own response shape, paged at MaxResults.
    configurations = [{"SlackTeamId": "T1", "SlackTeamName": "bench", "SlackChannelId": f"C{i:04d}",
                       "SlackChannelName": f"bench-{i}", "IamRoleArn": "arn:aws:iam::%s:role/chatbot" % ACCOUNT,
                       "ChatConfigurationArn": "arn:aws:chatbot::%s:chat-configuration/slack-channel/c%d" % (ACCOUNT, i),
                       "SnsTopicArns": [topics[i % TOPICS]], "State": "ENABLED"} for i in range(CHATBOT_CONFIGURATIONS)]
    def chatbot_answer(params):
        start = int(params.get("NextToken") or 0)
        size = params.get("MaxResults", 100)
        page = {"SlackChannelConfigurations": configurations[start:start + size]}
        if start + size < len(configurations):
            page["NextToken"] = str(start + size)
        return page
    canned["DescribeSlackChannelConfigurations"] = chatbot_answer

    plan, _estate = load_config()
    resources = [Resource("rds_instance", f"bench-db-{d:04d}", f"bench-db-{d:04d}",
                          (("DBInstanceIdentifier", f"bench-db-{d:04d}"),)) for d in range(databases)]
    counting = True
    started, cpu_started = time.perf_counter(), time.process_time()
    alarms, by_action = read_alarms("aws_default", ["us-east-1"])
    scoped = estate_alarms(alarms, resources)
    topic_map, sns_calls = read_topics("aws_default", scoped, ACCOUNT)
    chatbot, _chatbot_calls = read_chatbot("aws_default", "us-east-2")
    result = audit_monitoring(plan, "bench", ACCOUNT, resources, alarms, topic_map, NOW.date(), NOW, chatbot)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    counting = False
    named = {t for a in scoped for t in (*a.alarm_actions, *a.ok_actions)}
    print(json.dumps({"alarms": len(alarms), "made": made, "calls": dict(calls), "topics": len(topic_map),
                      "subscription_pages_minimum": sum(-(-subscriptions[t] // 100) for t in named),
                      "findings": len(result.findings), "chatbot_topics": len(chatbot), "wall": wall, "cpu": cpu}))
'''


def run() -> list[dict]:
    code = (f"ROOT = {str(ROOT)!r}\nALARMS, TOPICS = {ALARMS}, {TOPICS}\n"
            f"SUBSCRIPTIONS_PER_TOPIC, BIG_TOPIC_SUBSCRIPTIONS = {SUBSCRIPTIONS_PER_TOPIC}, {BIG_TOPIC_SUBSCRIPTIONS}\n"
            f"COMPOSITE_EVERY = {COMPOSITE_EVERY}\nCHATBOT_CONFIGURATIONS = {CHATBOT_CONFIGURATIONS}\n" + _CHILD)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"monitoring benchmark child failed:\n{result.stderr[-4000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"   AWS calls by operation: {figures['calls']}; {figures['alarms']} alarms read, "
          f"{figures['topics']} topics followed, {figures['findings']} findings")
    alarms = figures["alarms"]
    pages_minimum = math.ceil(alarms / 100)
    describe = figures["calls"].get("DescribeAlarms", 0)
    tags = figures["calls"].get("GetResources", 0)
    subscriptions = figures["calls"].get("ListSubscriptionsByTopic", 0)
    sub_minimum = figures["subscription_pages_minimum"]
    chatbot = figures["calls"].get("DescribeSlackChannelConfigurations", 0)
    chatbot_minimum = math.ceil(CHATBOT_CONFIGURATIONS / 100)
    from bench import monitoring_drill

    return [
        record("monitoring.alarms", alarms, "alarms", f"== {ALARMS}", alarms == ALARMS),
        record("monitoring.describe_alarms_pages", describe, "calls", f"== {pages_minimum}", describe == pages_minimum),
        record("monitoring.tag_pages", tags, "calls", f"== {pages_minimum}", tags == pages_minimum),
        record("monitoring.list_subscriptions_calls", subscriptions, "calls", f"== {sub_minimum}",
               subscriptions == sub_minimum),
        record("monitoring.chatbot_pages", chatbot, "calls", f"== {chatbot_minimum}", chatbot == chatbot_minimum),
        record("monitoring.distinct_topics", figures["topics"], "topics", f"== {TOPICS}", figures["topics"] == TOPICS),
        record("monitoring.wall_seconds", round(figures["wall"], 2), "s"),
        record("monitoring.cpu_seconds", round(figures["cpu"], 2), "s"),
        *monitoring_drill.run(),  # the weekly drill against the sandbox: requests and latency per route
    ]
