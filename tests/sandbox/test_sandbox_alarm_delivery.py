"""The sandbox delivers an alarm's state change as AWS does (sandbox/alarm_delivery.py): ALARM to
PagerDuty as an Events API trigger on the routing key's service and to Slack as a Chatbot message,
OK as a resolve; nothing through a pending subscription or with actions disabled."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from sandbox import SLACK_TOKEN


def _set(sandbox, name, state):
    sandbox.boto3_client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state,
                                                       StateReason=f"drill: {state}")


def _history(sandbox, channel):
    data = urllib.parse.urlencode({"channel": channel, "token": SLACK_TOKEN}).encode()
    with urllib.request.urlopen(f"{sandbox.slack_url}/api/conversations.history", data=data) as answer:
        return json.loads(answer.read())


def test_alarm_pages_and_ok_resolves(sandbox):
    name = "legacy-api-health_check_failing"
    _set(sandbox, name, "ALARM")
    events = sandbox.pagerduty_events()
    assert [(e["event"]["event_action"], e["accepted"]) for e in events] == [("trigger", True)]
    assert events[0]["event"]["payload"]["custom_details"]["AlarmName"] == name
    _set(sandbox, name, "ALARM")  # no change of state: no notification
    _set(sandbox, name, "OK")
    events = sandbox.pagerduty_events()
    assert [e["event"]["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == events[1]["dedup_key"] == events[0]["event"]["payload"]["source"]


def test_a_slack_routed_alarm_posts_a_chatbot_message_readable_in_history(sandbox):
    name = "legacy-api-target_5xx"
    _set(sandbox, name, "ALARM")
    messages = sandbox.slack_messages()
    assert len(messages) == 1 and name in messages[0]["text"] and messages[0]["channel_name"] == "#legacy-ops"
    history = _history(sandbox, "#legacy-ops")
    assert history["ok"] and [m["ts"] for m in history["messages"]] == [messages[0]["ts"]]
    assert sandbox.pagerduty_events() == []


def test_nothing_through_a_pending_subscription_or_with_actions_disabled(sandbox):
    _set(sandbox, "legacy-reporting-db-free_storage", "ALARM")
    _set(sandbox, "legacy-reporting-db-cpu", "ALARM")
    assert sandbox.pagerduty_events() == [] and sandbox.slack_messages() == []
