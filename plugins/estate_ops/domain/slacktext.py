"""Text from outside in a Slack message stays text (issue 14 §2).

Pure. Slack mrkdwn reads `<!channel>`, `<!here>`, `<@U…>`, `<#C…>` and `<url|label>` as mentions
and links, and `&` starts an entity. Every piece of outside text (finding summaries, resources and
kinds, incident titles, service and endpoint names, notes, engineer names, tags, window reasons)
goes through `slack_escape` where a message is built; estate-ops' own markup (`*bold*`, our
`<https://...|Report>` links) is added around the escaped parts, never escaped itself.
"""

from __future__ import annotations

from typing import Any


def slack_escape(text: Any) -> str:
    """`&` -> `&amp;`, `<` -> `&lt;`, `>` -> `&gt;` (Slack's three control characters); any value as text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
