"""The Slack stand-in, through the provider's real SlackHook (slack_sdk WebClient + base_url)."""

from __future__ import annotations

import json

import pytest
import requests
from slack_sdk.errors import SlackApiError


@pytest.fixture
def slack_hook(sbx, monkeypatch):
    from airflow.providers.slack.hooks.slack import SlackHook

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT",
                       sbx.airflow_connections_env()["AIRFLOW_CONN_SLACK_API_DEFAULT"])
    return SlackHook(slack_conn_id="slack_api_default")


def test_post_message_through_slack_hook_is_recorded(sbx, slack_hook):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*P2* backup late"}}]
    response = slack_hook.call("chat.postMessage",
                               json={"channel": "#legacy-ops", "text": "backup late",
                                     "blocks": blocks})
    assert response["ok"] is True and response["channel"].startswith("C")
    [message] = sbx.slack_messages()
    assert message["channel_name"] == "#legacy-ops"
    assert message["channel"] == response["channel"]
    assert message["text"] == "backup late"
    assert message["blocks"] == blocks
    assert message["ts"] == response["ts"]


def test_channel_by_id_and_hook_connection_test(sbx, slack_hook):
    assert slack_hook.test_connection()[0] is True
    channel_id = slack_hook.get_channel_id("legacy-ops")
    slack_hook.client.chat_postMessage(channel=channel_id, text="by id")
    assert [(m["text"], m["channel_name"]) for m in sbx.slack_messages()] == [("by id",
                                                                              "#legacy-ops")]


def test_provider_slack_notifier(sbx, slack_hook):
    from airflow.providers.slack.notifications.slack import SlackNotifier

    SlackNotifier(slack_conn_id="slack_api_default", channel="#legacy-ops",
                  text="P3: invoice run failed").notify({})
    assert [m["text"] for m in sbx.slack_messages()] == ["P3: invoice run failed"]


def test_unknown_channel_is_channel_not_found(sbx, slack_hook):
    with pytest.raises(SlackApiError) as raised:
        slack_hook.call("chat.postMessage", json={"channel": "#nope", "text": "x"})
    assert raised.value.response["error"] == "channel_not_found"
    assert sbx.slack_messages() == []


def test_removed_channel_is_channel_not_found(sbx, slack_hook):
    sbx.remove("slack_channel", "#legacy-ops")
    with pytest.raises(SlackApiError) as raised:
        slack_hook.call("chat.postMessage", json={"channel": "#legacy-ops", "text": "x"})
    assert raised.value.response["error"] == "channel_not_found"


def test_bad_token_is_invalid_auth_and_revoked_is_token_revoked(sbx, slack_hook, monkeypatch):
    from airflow.providers.slack.hooks.slack import SlackHook

    conn = json.loads(sbx.airflow_connections_env()["AIRFLOW_CONN_SLACK_API_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_BAD", json.dumps({**conn, "password": "xoxb-wrong"}))
    with pytest.raises(SlackApiError) as raised:
        SlackHook(slack_conn_id="slack_bad").call("auth.test")
    assert raised.value.response["error"] == "invalid_auth"
    assert slack_hook.call("auth.test")["ok"] is True
    sbx.revoke_token(api="slack")
    with pytest.raises(SlackApiError) as raised:
        slack_hook.call("auth.test")
    assert raised.value.response["error"] == "token_revoked"


def test_missing_token_is_not_authed(sbx):
    body = requests.post(sbx.slack_url + "/api/auth.test", timeout=10).json()
    assert body == {"ok": False, "error": "not_authed"}


def test_conversations_list_and_info(sbx, slack_hook):
    channels = slack_hook.call("conversations.list")["channels"]
    assert {c["name"] for c in channels} == {"legacy-ops", "general"}
    legacy = next(c for c in channels if c["name"] == "legacy-ops")
    info = slack_hook.call("conversations.info", params={"channel": legacy["id"]})
    assert info["channel"]["id"] == legacy["id"]
    with pytest.raises(SlackApiError) as raised:
        slack_hook.call("conversations.info", params={"channel": "C000NOPE"})
    assert raised.value.response["error"] == "channel_not_found"


def test_conversations_list_pages_with_cursor(sbx):
    headers = {"Authorization": f"Bearer {sbx.slack_token}"}
    first = requests.get(sbx.slack_url + "/api/conversations.list", params={"limit": 1},
                         headers=headers, timeout=10).json()
    assert len(first["channels"]) == 1 and first["response_metadata"]["next_cursor"]
    second = requests.get(sbx.slack_url + "/api/conversations.list",
                          params={"limit": 1, "cursor": first["response_metadata"]["next_cursor"]},
                          headers=headers, timeout=10).json()
    assert second["response_metadata"]["next_cursor"] == ""
    assert first["channels"][0]["id"] != second["channels"][0]["id"]


def test_rate_limited_is_429_with_retry_after(sbx):
    sbx.simulate_rate_limit(1, api="slack", reset_seconds=7)
    headers = {"Authorization": f"Bearer {sbx.slack_token}"}
    limited = requests.post(sbx.slack_url + "/api/chat.postMessage", headers=headers,
                            json={"channel": "#legacy-ops", "text": "x"}, timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert limited.json() == {"ok": False, "error": "ratelimited"}
    ok = requests.post(sbx.slack_url + "/api/chat.postMessage", headers=headers,
                       json={"channel": "#legacy-ops", "text": "x"}, timeout=10)
    assert ok.json()["ok"] is True


def test_form_encoded_post_and_no_text(sbx):
    url = sbx.slack_url + "/api/chat.postMessage"
    form = requests.post(url, data={"token": sbx.slack_token, "channel": "legacy-ops",
                                    "blocks": json.dumps([{"type": "divider"}])}, timeout=10)
    assert form.json()["ok"] is True
    assert sbx.slack_messages()[0]["blocks"] == [{"type": "divider"}]
    empty = requests.post(url, data={"token": sbx.slack_token, "channel": "legacy-ops"},
                          timeout=10)
    assert empty.json() == {"ok": False, "error": "no_text"}
    counts = sbx.request_counts()["paths"]["slack"]
    assert counts["POST /api/chat.postMessage"] == 2
