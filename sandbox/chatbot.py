"""AWS Chatbot in the sandbox: Slack channel configurations and `DescribeSlackChannelConfigurations`.

moto has no Chatbot. The AWS middleware (sandbox/aws.py) hands it every request signed for the
`chatbot` service, and this answers the one operation estate-ops calls in Chatbot's own wire format
(rest-json: `POST /describe-slack-channel-configurations`, JSON body with `MaxResults` 1-100,
`NextToken`, `ChatConfigurationArn`); any other Chatbot operation is answered as unknown. Scenarios add
configurations with `add_slack_channel_configuration`; alarm delivery (sandbox/alarm_delivery.py) posts
a topic's notifications to the channel of each enabled configuration that lists the topic, as Chatbot
does, and nowhere when none does. `reset()` (part of the sandbox's reset) forgets them all.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from sandbox import ACCOUNT_ID

DESCRIBE_PATH = "/describe-slack-channel-configurations"
MAX_RESULTS = 100
SLACK_TEAM = {"SlackTeamId": "T0SANDBOX1", "SlackTeamName": "legacy-sandbox"}


class ChatbotStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.configurations: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self.lock:
            self.configurations.clear()

    def add_slack_channel_configuration(self, name: str, channel_id: str, channel_name: str,
                                        topic_arns: Iterable[str], *, state: str = "ENABLED") -> dict[str, Any]:
        config = {**SLACK_TEAM, "SlackChannelId": channel_id, "SlackChannelName": channel_name,
                  "ChatConfigurationArn": f"arn:aws:chatbot::{ACCOUNT_ID}:chat-configuration/slack-channel/{name}",
                  "IamRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/chatbot-{name}", "SnsTopicArns": list(topic_arns),
                  "ConfigurationName": name, "LoggingLevel": "ERROR", "GuardrailPolicyArns": [
                      "arn:aws:iam::aws:policy/ReadOnlyAccess"], "UserAuthorizationRequired": False, "State": state}
        with self.lock:
            self.configurations.append(config)
        return config

    def channels_for_topic(self, topic_arn: str) -> list[str]:
        """The Slack channel ids of the enabled configurations listing `topic_arn`."""
        with self.lock:
            return [c["SlackChannelId"] for c in self.configurations
                    if c["State"] == "ENABLED" and topic_arn in c["SnsTopicArns"]]

    def describe(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        max_results = body.get("MaxResults", MAX_RESULTS)
        if not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
            return 400, {"__type": "InvalidParameterException",
                         "Message": f"MaxResults must be between 1 and {MAX_RESULTS}"}
        with self.lock:
            items = [dict(c) for c in self.configurations
                     if body.get("ChatConfigurationArn") in (None, c["ChatConfigurationArn"])]
        token = body.get("NextToken")
        start = 0
        if token:
            try:
                start = int(str(token).removeprefix("sandbox-"))
            except ValueError:
                return 400, {"__type": "InvalidRequestException", "Message": "NextToken is invalid"}
        answer: dict[str, Any] = {"SlackChannelConfigurations": items[start:start + max_results]}
        if start + max_results < len(items):
            answer["NextToken"] = f"sandbox-{start + max_results}"
        return 200, answer


CHATBOT = ChatbotStore()


def handle(environ: dict, start_response: Any) -> list[bytes]:
    """One Chatbot API request, in its rest-json wire format."""
    request_id = str(uuid.uuid4())
    if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == DESCRIBE_PATH:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        status, answer = (CHATBOT.describe(body) if isinstance(body, dict)
                          else (400, {"__type": "InvalidRequestException", "Message": "the body is not JSON"}))
    else:
        status, answer = 404, {"__type": "UnknownOperationException",
                               "Message": "the sandbox's Chatbot serves DescribeSlackChannelConfigurations only"}
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if status != 200:
        headers.append(("x-amzn-ErrorType", answer["__type"]))
    start_response(f"{status} {'OK' if status == 200 else 'Error'}", headers)
    return [json.dumps(answer).encode()]
