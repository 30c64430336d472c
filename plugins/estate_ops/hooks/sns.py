"""SNS: the subscriptions of a topic (over the Amazon provider's SnsHook), paged with NextToken.

ListSubscriptionsByTopic returns at most 100 subscriptions a page; an unconfirmed subscription is
listed with SubscriptionArn "PendingConfirmation". The monitoring audit calls this once per
distinct topic, however many alarms name it, from the topic's own region.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.sns import SnsHook
from botocore.exceptions import ClientError

from estate_ops.hooks.aws import (
    ADAPTIVE_RETRIES,
    describe_error,
    is_not_found,
    translate_connection_errors,
)

TOPIC_NOT_FOUND_CODES = ("NotFound", "NotFoundException")


class SnsError(RuntimeError):
    pass


class SnsTopicsHook(SnsHook):
    """`calls` counts ListSubscriptionsByTopic requests (pages)."""

    def __init__(self, aws_conn_id: str = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.calls = 0

    def subscriptions(self, topic_arn: str) -> list[dict[str, Any]] | None:
        """Every subscription of `topic_arn` as SNS lists it, or None when the topic does not exist."""
        action = "sns:ListSubscriptionsByTopic"
        found: list[dict[str, Any]] = []
        with translate_connection_errors(f"SNS (connection {self.aws_conn_id!r})"):
            pages = self.conn.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
            try:
                for page in pages:
                    self.calls += 1
                    found.extend(page.get("Subscriptions", []))
            except ClientError as exc:
                if is_not_found(exc) or exc.response.get("Error", {}).get("Code") in TOPIC_NOT_FOUND_CODES:
                    return None
                raise SnsError(describe_error(exc, action)) from exc
        return found
