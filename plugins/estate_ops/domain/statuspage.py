"""The client-facing status page (plan §3.2 "communicate: update status page"), as pure rules.

- What estate-ops writes on the public page: `maintenance_notice` (a scheduled maintenance).
  Outside text never reaches the page raw: `public_text` keeps it printable, without markup, and
  bounded; a PagerDuty incident's title is never used at all.
- How estate-ops finds what it wrote: every incident it creates carries
  `metadata.estate_ops.<key> = <our id>` (`marked`), so a rerun finds it instead of creating a second.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

METADATA_NAMESPACE = "estate_ops"
PUBLIC_TEXT_LIMIT = 300


def public_text(text: str, limit: int = PUBLIC_TEXT_LIMIT) -> str:
    """Outside text fit for the public page: control and format characters dropped, whitespace
    collapsed, no markup (`<`, `>`, `[`, `]`, backticks removed), at most `limit` characters."""
    kept = "".join(" " if ch.isspace() else ch for ch in str(text)
                   if ch.isspace() or unicodedata.category(ch)[0] != "C")
    kept = re.sub(r"[<>\[\]`]", "", kept)
    kept = re.sub(r"\s+", " ", kept).strip()
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def maintenance_notice(start: dt.datetime, end: dt.datetime, reason: str, tz: ZoneInfo,
                       component_names: Iterable[str]) -> tuple[str, str]:
    """(name, body) of a scheduled maintenance: the window in the plan's zone and in UTC, the
    affected components, the announcer's reason made public-safe."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    names = ", ".join(public_text(n, 80) for n in component_names) or "the service"
    name = f"Planned maintenance: {names}"
    first = f"{local_start:%a %d %b %Y %H:%M}" + (f" {local_start:%Z}" if local_start.tzname() != local_end.tzname()
                                                  else "")
    span = (f"{first}-{local_end:%H:%M %Z} "
            f"({start.astimezone(dt.UTC):%H:%M}-{end.astimezone(dt.UTC):%H:%M} UTC)")
    body = f"Planned maintenance on {names}, {span}. The service may be unavailable during this window."
    why = public_text(reason)
    if why:
        body += f" Reason: {why}."
    return name[:255], body


def marked(incidents: Iterable[dict[str, Any]], key: str, value: str) -> list[dict[str, Any]]:
    """The incidents whose `metadata.estate_ops.<key>` is `value`."""
    found = []
    for incident in incidents:
        ours = (incident.get("metadata") or {}).get(METADATA_NAMESPACE) or {}
        if isinstance(ours, dict) and ours.get(key) == value:
            found.append(incident)
    return found
