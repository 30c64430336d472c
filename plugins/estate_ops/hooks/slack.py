"""Slack: posting estate-ops messages through the Slack provider's hook (Web API)."""

from __future__ import annotations

from typing import Any

from airflow.providers.slack.hooks.slack import SlackHook


class SlackMessageHook(SlackHook):
    """`chat.postMessage` with blocks and a plain-text fallback; the base URL comes from the connection."""

    def __init__(self, slack_conn_id: str = "slack_api_default") -> None:
        super().__init__(slack_conn_id=slack_conn_id)

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        return dict(response.data)

    def channel_exists(self, channel: str) -> tuple[bool, str]:
        """Whether the bot can see `channel` (a name with or without '#', or an id)."""
        name = channel.lstrip("#")
        cursor = None
        while True:
            page = self.client.conversations_list(types="public_channel,private_channel", limit=200,
                                                  cursor=cursor, exclude_archived=True)
            for conv in page["channels"]:
                if name in (conv.get("name"), conv.get("id")):
                    return True, f"channel id {conv['id']}"
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return False, "no such channel visible to the bot"
