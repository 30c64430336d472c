"""Alarm notifications, delivered as AWS delivers them (moto changes an alarm's state and stops there).

When an alarm's state changes (SetAlarmState, in the sandbox the only way it changes) and its actions
are enabled, CloudWatch publishes a notification to each SNS topic of the new state's actions
(AlarmActions for ALARM, OKActions for OK, InsufficientDataActions), and SNS delivers it to each
*confirmed* subscription:

- PagerDuty's CloudWatch integration (`https://events.pagerduty.com/integration/<key>/enqueue`):
  an Events API v2 event on the service whose routing key is `<key>`: trigger on ALARM, resolve on
  OK, deduplicated on the alarm's ARN (one incident per alarm until it resolves);
- AWS Chatbot (`https://global.sns-api.chatbot.amazonaws.com`): a Chatbot-style message in the Slack
  channel of each enabled Chatbot channel configuration that lists the topic (sandbox/chatbot.py),
  none when no configuration does (Chatbot has nowhere to post it);
- anything else (email, other https endpoints): recorded nowhere, as the sandbox has no inbox.

Recorded like the stand-ins' own API calls (the .jsonl files, `GET /_sandbox/pagerduty/events` and
`/slack/messages`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sandbox.timeutil import iso

PAGERDUTY_HOSTS = ("events.pagerduty.com", "events.eu.pagerduty.com")
_INTEGRATION_PATH = re.compile(r"^/integration/([A-Za-z0-9]+)/enqueue/?$")
CHATBOT_HOST = "global.sns-api.chatbot.amazonaws.com"
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
                "us-west-2": "US West (Oregon)", "eu-west-1": "Europe (Ireland)"}
_ACTIONS = {"ALARM": "alarm_actions", "OK": "ok_actions", "INSUFFICIENT_DATA": "insufficient_data_actions"}


def notification(alarm: Any, region: str, account_id: str, old_state: str, when: dt.datetime) -> dict[str, Any]:
    """The JSON CloudWatch publishes to SNS for an alarm's state change (the fields receivers read)."""
    return {"AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": account_id,
            "NewStateValue": alarm.state_value, "NewStateReason": alarm.state_reason,
            "StateChangeTime": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "Region": REGION_NAMES.get(region, region), "AlarmArn": alarm.alarm_arn, "OldStateValue": old_state,
            "Trigger": {"MetricName": alarm.metric_name, "Namespace": alarm.namespace,
                        "Dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions or []]}}


def deliver(alarm: Any, region: str, account_id: str, old_state: str, *, sns: Any, pagerduty: Any, slack: Any,
            event_sink: Callable[[dict], None], message_sink: Callable[[dict], None],
            now: dt.datetime) -> int:
    """Deliver one state change to every confirmed subscription of its topics; returns how many."""
    if not alarm.actions_enabled or alarm.state_value == old_state:
        return 0
    message = notification(alarm, region, account_id, old_state, now)
    delivered = 0
    for topic_arn in getattr(alarm, _ACTIONS.get(alarm.state_value, ""), None) or []:
        topic = sns.topics.get(topic_arn)
        if topic is None:
            continue
        for sub in [s for s in sns.subscriptions.values() if s.topic.arn == topic_arn]:
            if getattr(sub, "sandbox_pending", False) or sub.protocol != "https":
                continue
            parts = urlsplit(sub.endpoint)
            match = _INTEGRATION_PATH.match(parts.path)
            if parts.hostname in PAGERDUTY_HOSTS and match:
                _to_pagerduty(match.group(1), message, pagerduty, event_sink, now)
                delivered += 1
            elif parts.hostname == CHATBOT_HOST:
                from sandbox.chatbot import CHATBOT

                for channel in CHATBOT.channels_for_topic(topic_arn):  # none: Chatbot has nowhere to post
                    delivered += _to_slack(channel, message, slack, message_sink)
    return delivered


def _to_pagerduty(routing_key: str, message: dict[str, Any], store: Any, sink: Callable[[dict], None],
                  now: dt.datetime) -> None:
    from sandbox.pagerduty_store import PagerDutyError

    alarm_state = message["NewStateValue"]
    event = {"routing_key": routing_key, "event_action": "trigger" if alarm_state == "ALARM" else "resolve",
             "dedup_key": message["AlarmArn"], "client": "AWS CloudWatch",
             "payload": {"summary": f'{alarm_state}: "{message["AlarmName"]}" in {message["Region"]}',
                         "source": message["AlarmArn"], "severity": "critical", "custom_details": message}}
    try:
        answer = store.enqueue_event(event, now)
        record = {"received_at": iso(now), "kind": "alert", "accepted": True, "dedup_key": answer["dedup_key"],
                  "event": event}
    except PagerDutyError:
        record = {"received_at": iso(now), "kind": "alert", "accepted": False, "dedup_key": None, "event": event}
    with store.lock:
        store.events.append(record)
    sink(record)


def _to_slack(channel_ref: str, message: dict[str, Any], store: Any, sink: Callable[[dict], None]) -> int:
    channel = store.find_channel(channel_ref)
    if channel is None or channel["is_archived"]:
        return 0  # Chatbot cannot post: the notification is lost, as in AWS
    icon = ":rotating_light:" if message["NewStateValue"] == "ALARM" else ":white_check_mark:"
    text = (f"{icon} *CloudWatch Alarm | {message['AlarmName']} | {message['Region']} | Account: "
            f"{message['AWSAccountId']}*\n{message['NewStateValue']}: {message['NewStateReason']}")
    ts = store.next_ts()
    record = {"received_at": iso(store.clock.now()), "channel": channel["id"], "channel_name": "#" + channel["name"],
              "ts": ts, "text": text, "blocks": None, "attachments": None, "thread_ts": None,
              "args": {"via": "aws-chatbot", "notification": json.dumps(message, sort_keys=True)}}
    with store.lock:
        store.messages.append(record)
    sink(record)
    return 1
