"""The monitoring audit's hooks against botocore's Stubber: every page is asked for as AWS wants
(both alarm types, 100 a page, NextToken / PaginationToken followed), a missing IAM permission names
the action, and a topic that does not exist is None."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from estate_ops.hooks.cloudwatch import CloudWatchAlarmsHook, CloudWatchError
from estate_ops.hooks.sns import SnsError, SnsTopicsHook

TOPIC = "arn:aws:sns:us-east-1:123456789012:pager"


def _client(service):
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def alarms_hook():
    hook = CloudWatchAlarmsHook(aws_conn_id="aws_default", region_name="us-east-1")
    hook.__dict__["conn"] = _client("cloudwatch")  # cached properties: the hook uses the stubbed clients
    hook.__dict__["tagging_conn"] = _client("resourcegroupstaggingapi")
    return hook


def _alarm(name):
    return {"AlarmName": name, "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"}


def test_describe_alarms_asks_for_both_types_and_follows_next_token(alarms_hook):
    asked = {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"], "MaxRecords": 100}
    with Stubber(alarms_hook.conn) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [_alarm(f"m{i}") for i in range(99)],
                                              "CompositeAlarms": [_alarm("c0")], "NextToken": "t1"}, asked)
        stub.add_response("describe_alarms", {"MetricAlarms": [_alarm("m99")], "CompositeAlarms": []},
                          {**asked, "NextToken": "t1"})
        metric, composite = alarms_hook.describe_alarms()
        stub.assert_no_pending_responses()
    assert [a["AlarmName"] for a in composite] == ["c0"] and len(metric) == 100
    assert alarms_hook.calls["cloudwatch:DescribeAlarms"] == 2


def test_alarm_tags_come_100_alarms_a_page(alarms_hook):
    asked = {"ResourceTypeFilters": ["cloudwatch:alarm"], "ResourcesPerPage": 100, "TagsPerPage": 500}
    arn = _alarm("m0")["AlarmArn"]
    with Stubber(alarms_hook.tagging_conn) as stub:
        stub.add_response("get_resources", {"ResourceTagMappingList": [
            {"ResourceARN": arn, "Tags": [{"Key": "severity", "Value": "P1"}]}], "PaginationToken": "p2"},
            {**asked, "PaginationToken": ""})
        stub.add_response("get_resources", {"ResourceTagMappingList": [], "PaginationToken": ""},
                          {**asked, "PaginationToken": "p2"})
        tags = alarms_hook.alarm_tags()
        stub.assert_no_pending_responses()
    assert tags == {arn: {"severity": "P1"}} and alarms_hook.calls["tag:GetResources"] == 2


@pytest.mark.parametrize("method,client,operation,action", [
    ("describe_alarms", "conn", "describe_alarms", "cloudwatch:DescribeAlarms"),
    ("alarm_tags", "tagging_conn", "get_resources", "tag:GetResources"),
])
def test_a_missing_permission_names_the_action(alarms_hook, method, client, operation, action):
    with Stubber(getattr(alarms_hook, client)) as stub:
        stub.add_client_error(operation, "AccessDenied", "not authorized", 403)
        with pytest.raises(CloudWatchError, match=f"the IAM policy must allow {action} "):
            getattr(alarms_hook, method)()


@pytest.fixture
def sns_hook():
    hook = SnsTopicsHook(aws_conn_id="aws_default", region_name="us-east-1")
    hook.__dict__["conn"] = _client("sns")
    return hook


def _subscription(i, arn=None):
    return {"SubscriptionArn": arn or f"{TOPIC}:{i:04d}", "Protocol": "https", "Endpoint": f"https://x/{i}",
            "TopicArn": TOPIC, "Owner": "123456789012"}


def test_subscriptions_follow_next_token(sns_hook):
    with Stubber(sns_hook.conn) as stub:
        stub.add_response("list_subscriptions_by_topic",
                          {"Subscriptions": [_subscription(i) for i in range(100)], "NextToken": "n2"},
                          {"TopicArn": TOPIC})
        stub.add_response("list_subscriptions_by_topic",
                          {"Subscriptions": [_subscription(100, "PendingConfirmation")]},
                          {"TopicArn": TOPIC, "NextToken": "n2"})
        found = sns_hook.subscriptions(TOPIC)
        stub.assert_no_pending_responses()
    assert len(found) == 101 and found[-1]["SubscriptionArn"] == "PendingConfirmation" and sns_hook.calls == 2


def test_a_topic_that_does_not_exist_is_none(sns_hook):
    with Stubber(sns_hook.conn) as stub:
        stub.add_client_error("list_subscriptions_by_topic", "NotFound", "Topic does not exist", 404)
        assert sns_hook.subscriptions(TOPIC) is None


def test_a_missing_sns_permission_names_the_action(sns_hook):
    with Stubber(sns_hook.conn) as stub:
        stub.add_client_error("list_subscriptions_by_topic", "AuthorizationError", "not authorized", 403)
        with pytest.raises(SnsError, match="the IAM policy must allow sns:ListSubscriptionsByTopic "):
            sns_hook.subscriptions(TOPIC)


def test_a_missing_set_alarm_state_permission_names_the_action(alarms_hook):
    with Stubber(alarms_hook.conn) as stub:
        stub.add_client_error("set_alarm_state", "AccessDenied", "not authorized", 403)
        with pytest.raises(CloudWatchError, match="the IAM policy must allow cloudwatch:SetAlarmState "):
            alarms_hook.set_alarm_state("estate-ops-canary-pagerduty", "ALARM", "drill")


def test_the_drill_asks_for_one_alarm_by_name_and_for_the_alarms_on_its_metric(alarms_hook):
    raw = {**_alarm("canary"), "Namespace": "EstateOps/Canary", "MetricName": "Canary-pagerduty", "Dimensions": []}
    with Stubber(alarms_hook.conn) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [raw], "CompositeAlarms": []},
                          {"AlarmNames": ["canary"], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
        stub.add_response("describe_alarms_for_metric", {"MetricAlarms": [_alarm("canary"), _alarm("other")]},
                          {"Namespace": "EstateOps/Canary", "MetricName": "Canary-pagerduty", "Dimensions": []})
        assert alarms_hook.alarm("canary") == raw
        assert alarms_hook.alarms_on_metric(raw) == ["canary", "other"]


@pytest.fixture
def chatbot_hook():
    from estate_ops.hooks.chatbot import ChatbotHook

    hook = ChatbotHook(aws_conn_id="aws_default")
    hook.__dict__["conn"] = boto3.client("chatbot", region_name="us-east-2", aws_access_key_id="x",
                                         aws_secret_access_key="x")
    return hook


def _chat_config(i):
    return {"SlackTeamName": "t", "SlackTeamId": "T1", "SlackChannelId": f"C{i}", "SlackChannelName": f"c{i}",
            "ChatConfigurationArn": f"arn:aws:chatbot::123456789012:chat-configuration/slack-channel/c{i}",
            "IamRoleArn": "arn:aws:iam::123456789012:role/chatbot", "SnsTopicArns": [TOPIC]}


def test_chatbot_configurations_come_100_a_page_following_next_token(chatbot_hook):
    assert chatbot_hook.region_name == "us-east-2"  # Chatbot's API is not in every region: its console's
    with Stubber(chatbot_hook.conn) as stub:
        stub.add_response("describe_slack_channel_configurations",
                          {"SlackChannelConfigurations": [_chat_config(i) for i in range(100)], "NextToken": "n2"},
                          {"MaxResults": 100})
        stub.add_response("describe_slack_channel_configurations",
                          {"SlackChannelConfigurations": [_chat_config(100)]}, {"MaxResults": 100, "NextToken": "n2"})
        found = chatbot_hook.slack_channel_configurations()
        stub.assert_no_pending_responses()
    assert len(found) == 101 and chatbot_hook.calls == 2


def test_a_missing_chatbot_permission_names_the_action(chatbot_hook):
    from estate_ops.hooks.chatbot import ChatbotError

    with Stubber(chatbot_hook.conn) as stub:
        stub.add_client_error("describe_slack_channel_configurations", "AccessDeniedException", "not authorized", 403)
        with pytest.raises(ChatbotError, match="the IAM policy must allow chatbot:DescribeSlackChannelConfigurations "):
            chatbot_hook.slack_channel_configurations()


@pytest.mark.parametrize("operation,method,action", [
    ("describe_alarms", lambda h: h.alarm("canary"), "cloudwatch:DescribeAlarms"),
    ("describe_alarms_for_metric", lambda h: h.alarms_on_metric(
        {"Namespace": "EstateOps/Canary", "MetricName": "Canary-pagerduty", "Dimensions": []}),
     "cloudwatch:DescribeAlarmsForMetric"),
])
def test_the_drills_canary_checks_name_a_missing_permission(alarms_hook, operation, method, action):
    with Stubber(alarms_hook.conn) as stub:
        stub.add_client_error(operation, "AccessDenied", "not authorized", 403)
        with pytest.raises(CloudWatchError, match=f"the IAM policy must allow {action} "):
            method(alarms_hook)
