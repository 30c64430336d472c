"""Slack: posting estate-ops messages through the Slack provider's hook (Web API)."""

from __future__ import annotations

from typing import Any

from airflow.providers.slack.hooks.slack import SlackHook


class SlackScopeError(RuntimeError):
    """The token lacks a scope a call needs."""


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

    def recent_messages(self, channel: str, limit: int = 100) -> list[dict[str, Any]]:
        """The channel's newest messages (conversations.history, newest first). A token without the
        history scope is named: Slack answers missing_scope with the scope it needed."""
        from slack_sdk.errors import SlackApiError

        channel_id = self.channel_id(channel)
        try:
            page = self.client.conversations_history(channel=channel_id, limit=limit)
        except SlackApiError as exc:
            data = exc.response.data if exc.response is not None else {}
            if data.get("error") == "missing_scope":
                raise SlackScopeError(f"the Slack token of connection {self.slack_conn_id!r} lacks the "
                                      f"{data.get('needed') or 'channels:history'} scope that conversations.history "
                                      f"needs (to read {channel})") from exc
            raise
        return list(page.get("messages") or [])

    def channel_id(self, channel: str) -> str:
        """The id of `channel` (a name with or without '#', or an id) as conversations.list shows it."""
        found, detail = self.channel_exists(channel)
        if not found:
            raise LookupError(f"Slack channel {channel!r}: {detail}")
        return detail.removeprefix("channel id ")
