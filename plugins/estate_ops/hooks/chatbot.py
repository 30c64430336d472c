"""AWS Chatbot: the Slack channel configurations and the SNS topics each relays to Slack.

`DescribeSlackChannelConfigurations` (boto3 client `chatbot`), paged with `NextToken`, 100 a page
(its maximum). Chatbot's API answers only in a few regions (us-east-2, us-west-2, eu-west-1,
ap-southeast-1: estate.yaml `aws.chatbot_region`, default us-east-2, where its console lives); a
configuration lists topics of any region. A configuration that is not ENABLED relays nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from estate_ops.hooks.aws import (
    ADAPTIVE_RETRIES,
    describe_error,
    translate_connection_errors,
)

CHATBOT_API_REGION = "us-east-2"  # default: Chatbot's console region; its API is in few regions
PAGE_SIZE = 100  # DescribeSlackChannelConfigurations' MaxResults maximum


class ChatbotError(RuntimeError):
    pass


class ChatbotHook(AwsBaseHook):
    """`calls` counts DescribeSlackChannelConfigurations requests (pages)."""

    def __init__(self, aws_conn_id: str = "aws_default", region_name: str = CHATBOT_API_REGION,
                 **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, client_type="chatbot", **kwargs)
        self.calls = 0

    def slack_channel_configurations(self) -> list[dict[str, Any]]:
        """Every Slack channel configuration of the account, as Chatbot lists them."""
        found: list[dict[str, Any]] = []
        with translate_connection_errors(f"AWS Chatbot (connection {self.aws_conn_id!r})"):
            pages = self.conn.get_paginator("describe_slack_channel_configurations").paginate(
                PaginationConfig={"PageSize": PAGE_SIZE})
            try:
                for page in pages:
                    self.calls += 1
                    found.extend(page.get("SlackChannelConfigurations", []))
            except ClientError as exc:
                raise ChatbotError(describe_error(exc, "chatbot:DescribeSlackChannelConfigurations")) from exc
        return found
