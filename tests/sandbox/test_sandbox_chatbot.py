"""The sandbox's AWS Chatbot (moto has none): DescribeSlackChannelConfigurations in its wire format,
paged by MaxResults (at most 100) with NextToken, and the monitoring scenario's configuration."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.chatbot import ChatbotStore

TOPIC = "arn:aws:sns:us-east-1:123456789012:legacy-alerts-slack"


def test_the_store_pages_by_max_results_and_lists_enabled_channels_per_topic():
    store = ChatbotStore()
    for i in range(205):
        store.add_slack_channel_configuration(f"c{i}", f"C{i:04d}", f"chan-{i}", [TOPIC] if i % 2 else [],
                                              state="DISABLED" if i == 1 else "ENABLED")
    seen, token, pages = [], None, 0
    while True:
        status, page = store.describe({"MaxResults": 100, **({"NextToken": token} if token else {})})
        assert status == 200 and len(page["SlackChannelConfigurations"]) <= 100
        pages += 1
        seen += [c["ConfigurationName"] for c in page["SlackChannelConfigurations"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == [f"c{i}" for i in range(205)]
    assert store.channels_for_topic(TOPIC) == [f"C{i:04d}" for i in range(3, 205, 2)]  # c1 is disabled
    assert store.describe({"MaxResults": 101})[0] == 400 and store.describe({"NextToken": "x"})[0] == 400


def test_the_sandbox_serves_the_scenarios_configuration_over_the_wire(sandbox):
    from estate_ops.hooks.chatbot import ChatbotHook

    hook = ChatbotHook(aws_conn_id="aws_default")
    [config] = hook.slack_channel_configurations()
    assert config["SnsTopicArns"] == [TOPIC] and config["SlackChannelName"] == "legacy-ops"
    assert config["State"] == "ENABLED" and hook.calls == 1
    client = sandbox.boto3_client("chatbot", "us-east-2")  # botocore checks no maximum: the sandbox does
    with pytest.raises(ClientError, match="InvalidParameterException"):
        client.describe_slack_channel_configurations(MaxResults=101)
