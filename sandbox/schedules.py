"""Rendering of on-call schedules, as PagerDuty's `GET /schedules/{id}?since&until` does.

Pure functions over wire-format schedule layers: no HTTP, no store.

- A layer's turn k runs from `rotation_virtual_start + k * turn_length` for one turn length and
  belongs to `users[k mod len(users)]`, clipped to the layer's `start`/`end`. When the turn
  length is whole days, hand-offs keep their wall-clock time in the schedule's time zone across
  DST changes (a weekly Monday 09:00 hand-off stays at 09:00 local), as PagerDuty does.
- The final schedule takes, at each instant, the override if any, else the last layer that
  has someone on call (later layers take precedence).
- Coverage is the percentage of the window with someone on call.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.timeutil import UTC, iso, parse_time

Entry = tuple[dt.datetime, dt.datetime, dict[str, Any]]  # start, end, user reference


def layer_entries(layer: dict[str, Any], time_zone: str, since: dt.datetime,
                  until: dt.datetime) -> list[Entry]:
    users = [u["user"] for u in layer["users"]]
    if not users:
        return []
    start = max(parse_time(layer["start"]), since)
    end = min(parse_time(layer["end"]), until) if layer.get("end") else until
    if start >= end:
        return []
    virtual_start = parse_time(layer["rotation_virtual_start"])
    turn = int(layer["rotation_turn_length_seconds"])
    boundary = _boundary_function(virtual_start, turn, ZoneInfo(time_zone))
    k = math.floor((start - virtual_start).total_seconds() / turn)
    # The estimate can be off by one around DST changes: settle on the turn containing `start`.
    while boundary(k) > start:
        k -= 1
    while boundary(k + 1) <= start:
        k += 1
    entries = []
    while boundary(k) < end:
        entries.append((max(boundary(k), start), min(boundary(k + 1), end), users[k % len(users)]))
        k += 1
    return entries


def _boundary_function(virtual_start: dt.datetime, turn_seconds: int, zone: ZoneInfo):
    if turn_seconds % 86400:
        return lambda k: virtual_start + dt.timedelta(seconds=turn_seconds * k)
    local = virtual_start.astimezone(zone).replace(tzinfo=None)
    days = turn_seconds // 86400

    def boundary(k: int) -> dt.datetime:
        return (local + dt.timedelta(days=days * k)).replace(tzinfo=zone).astimezone(UTC)

    return boundary


def final_entries(layers: list[list[Entry]], overrides: list[Entry], since: dt.datetime,
                  until: dt.datetime) -> list[Entry]:
    """The final schedule: overrides over the last layer over earlier layers."""
    ranked = [entries for entries in layers] + [overrides]
    cuts = {since, until}
    for entries in ranked:
        for start, end, _ in entries:
            cuts.update(t for t in (start, end) if since <= t <= until)
    points = sorted(cuts)
    result: list[Entry] = []
    for seg_start, seg_end in itertools.pairwise(points):
        user = None
        for entries in reversed(ranked):
            user = next((u for s, e, u in entries if s <= seg_start and seg_end <= e), None)
            if user is not None:
                break
        if user is None:
            continue
        if result and result[-1][2]["id"] == user["id"] and result[-1][1] == seg_start:
            result[-1] = (result[-1][0], seg_end, user)
        else:
            result.append((seg_start, seg_end, user))
    return result


def coverage_percent(entries: list[Entry], since: dt.datetime, until: dt.datetime) -> float:
    total = (until - since).total_seconds()
    if total <= 0:
        return 0.0
    covered = sum((min(e, until) - max(s, since)).total_seconds() for s, e, _ in entries
                  if e > since and s < until)
    return round(100.0 * covered / total, 2)


def wire_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    return [{"start": iso(s), "end": iso(e), "user": u} for s, e, u in entries]


def render(schedule: dict[str, Any], overrides: list[dict[str, Any]], since: dt.datetime,
           until: dt.datetime) -> dict[str, Any]:
    """`schedule` (a copy) with rendered layers, `overrides_subschedule` and `final_schedule`."""
    zone = schedule["time_zone"]
    per_layer = []
    for layer in schedule["schedule_layers"]:
        entries = layer_entries(layer, zone, since, until)
        per_layer.append(entries)
        layer["rendered_schedule_entries"] = wire_entries(entries)
        layer["rendered_coverage_percentage"] = coverage_percent(entries, since, until)
    override_entries = [
        (max(parse_time(o["start"]), since), min(parse_time(o["end"]), until), o["user"])
        for o in overrides
        if parse_time(o["end"]) > since and parse_time(o["start"]) < until
    ]
    final = final_entries(per_layer, override_entries, since, until)
    schedule["overrides_subschedule"] = {
        "name": "Overrides",
        "rendered_schedule_entries": wire_entries(sorted(override_entries, key=lambda e: e[0])),
        "rendered_coverage_percentage": coverage_percent(override_entries, since, until),
    }
    schedule["final_schedule"] = {
        "name": "Final Schedule",
        "rendered_schedule_entries": wire_entries(final),
        "rendered_coverage_percentage": coverage_percent(final, since, until),
    }
    return schedule


def final_for(schedule: dict[str, Any], overrides: list[dict[str, Any]], since: dt.datetime,
              until: dt.datetime) -> list[Entry]:
    """Final entries only (for /oncalls), unclipped shift bounds within a padded window."""
    rendered = render({**schedule, "schedule_layers": [dict(l) for l in schedule["schedule_layers"]]},
                      overrides, since, until)
    return [(parse_time(e["start"]), parse_time(e["end"]), e["user"])
            for e in rendered["final_schedule"]["rendered_schedule_entries"]]
