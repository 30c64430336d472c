"""Planned maintenance (plan §1.1): "2-6 AM ET, with 48hr notice".

A window record (`maintenance/windows/<id>.json`, DESIGN.md §4) says when maintenance runs and
when it was announced. Whether it qualifies is decided here, the same way at announcement time
(to refuse or warn) and when availability is measured (to exclude minutes):

- a cancelled window never qualifies (its record is kept for audit);
- notice: `announced_at <= start - notice_hours` (exactly 48 h qualifies, 47 h 59 min does not);
- only the part of the window inside 02:00-06:00 ET of a local day is excluded; the rest of the
  window counts like any other time. On the spring-forward day that local window is 3 hours.

Pure: no Airflow, no boto3.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from estate_ops.domain.periods import UTC, local_window_utc

STATUSES = ("scheduled", "cancelled")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class WindowError(ValueError):
    """A maintenance window record or request is not valid."""


def format_minutes(minutes: float) -> str:
    """`125` -> "2 h 5 min"; negative values keep their sign."""
    sign = "-" if minutes < 0 else ""
    whole = round(abs(minutes))
    hours, mins = divmod(whole, 60)
    return f"{sign}{hours} h {mins} min" if hours else f"{sign}{mins} min"


def _aware(value: Any, where: str, name: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)  # 3.11 reads a trailing Z
        except ValueError:
            raise WindowError(f"{where}: {name} must be an ISO 8601 date-time with an offset, got {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise WindowError(f"{where}: {name} must be a date-time, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise WindowError(f"{where}: {name} {value.isoformat()} has no time zone offset")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class MaintenanceWindow:
    id: str
    start: dt.datetime  # UTC
    end: dt.datetime  # UTC, exclusive
    reason: str
    announced_at: dt.datetime
    announced_by: str
    status: str = "scheduled"

    def __post_init__(self) -> None:
        where = f"maintenance window {self.id!r}"
        if not _ID.match(str(self.id)):
            raise WindowError(f"{where}: id must be 1-80 letters, digits, '.', '_' or '-'")
        for name in ("start", "end", "announced_at"):
            object.__setattr__(self, name, _aware(getattr(self, name), where, name))
        if self.end <= self.start:
            raise WindowError(f"{where}: end {self.end:%Y-%m-%d %H:%M} UTC is not after start "
                              f"{self.start:%Y-%m-%d %H:%M} UTC")
        if self.status not in STATUSES:
            raise WindowError(f"{where}: status must be one of {STATUSES}, got {self.status!r}")

    @classmethod
    def from_record(cls, record: Mapping[str, Any], source: str = "window record") -> MaintenanceWindow:
        """A window from its JSON record; a bad record names `source` and the field."""
        if not isinstance(record, Mapping):
            raise WindowError(f"{source}: expected a JSON object, got {type(record).__name__}")
        missing = [k for k in ("id", "start", "end", "announced_at") if not record.get(k)]
        if missing:
            raise WindowError(f"{source}: missing field(s) {missing}")
        try:
            return cls(id=str(record["id"]), start=record["start"], end=record["end"],
                       reason=str(record.get("reason") or ""), announced_at=record["announced_at"],
                       announced_by=str(record.get("announced_by") or ""),
                       status=str(record.get("status") or "scheduled"))
        except WindowError as exc:
            raise WindowError(f"{source}: {exc}") from None

    def as_record(self) -> dict[str, Any]:
        return {"id": self.id, "start": self.start, "end": self.end, "reason": self.reason,
                "announced_at": self.announced_at, "announced_by": self.announced_by, "status": self.status}

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class WindowRuling:
    """What the plan makes of one window: which instants are excluded, and why (or why not)."""

    window: MaintenanceWindow
    notice_minutes: int  # how long before the start it was announced
    notice_ok: bool
    allowed_parts: tuple[tuple[dt.datetime, dt.datetime], ...]  # window ∩ 02:00-06:00 ET, UTC
    excluded_parts: tuple[tuple[dt.datetime, dt.datetime], ...]  # allowed_parts if it qualifies, else ()
    qualifies: str  # yes | partly | no
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        w = self.window
        return {
            "id": w.id, "start": w.start, "end": w.end, "status": w.status, "reason": w.reason,
            "announced_at": w.announced_at, "announced_by": w.announced_by,
            "notice": format_minutes(self.notice_minutes), "qualifies": self.qualifies,
            "why": "; ".join(self.reasons),
        }


def allowed_parts(window: MaintenanceWindow, rule: Any, tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
    """The window's intersection with the plan's local maintenance hours of each local day it touches."""
    start_t, end_t = dt.time.fromisoformat(rule.local_start), dt.time.fromisoformat(rule.local_end)
    parts = []
    day = window.start.astimezone(tz).date() - dt.timedelta(days=1)
    last = window.end.astimezone(tz).date() + dt.timedelta(days=1)
    while day <= last:
        lo, hi = local_window_utc(day, start_t, end_t, tz)
        lo, hi = max(lo, window.start), min(hi, window.end)
        if lo < hi:
            parts.append((lo, hi))
        day += dt.timedelta(days=1)
    return parts


def rule_window(window: MaintenanceWindow, rule: Any, tz: ZoneInfo) -> WindowRuling:
    """Decide whether `window` is excluded from availability, in whole, in part or not at all.

    `rule` is plan.yaml `availability.maintenance` (local_start, local_end, notice_hours).
    """
    notice = window.start - window.announced_at
    notice_minutes = int(notice.total_seconds() // 60)
    required = dt.timedelta(hours=rule.notice_hours)
    notice_ok = notice >= required
    parts = allowed_parts(window, rule, tz)
    inside = sum((hi - lo for lo, hi in parts), dt.timedelta())
    outside = (window.end - window.start) - inside
    hours = f"{rule.local_start}-{rule.local_end} {tz.key}"
    reasons: list[str] = []
    if window.status == "cancelled":
        reasons.append("cancelled: a cancelled window excludes nothing")
    if notice_ok:
        reasons.append(f"announced {format_minutes(notice_minutes)} ahead (>= {rule.notice_hours} h)")
    else:
        short = (required - notice).total_seconds() / 60
        reasons.append(f"announced {format_minutes(notice_minutes)} ahead, {format_minutes(short)} short of "
                       f"the {rule.notice_hours} h notice")
    if not parts:
        reasons.append(f"entirely outside {hours}")
    elif outside > dt.timedelta():
        reasons.append(f"{format_minutes(outside.total_seconds() / 60)} outside {hours} count as normal time")
    else:
        reasons.append(f"inside {hours}")
    if window.status == "cancelled" or not notice_ok or not parts:
        qualifies, excluded = "no", ()
    else:
        qualifies, excluded = ("yes" if outside == dt.timedelta() else "partly"), tuple(parts)
    return WindowRuling(window, notice_minutes, notice_ok, tuple(parts), excluded, qualifies, tuple(reasons))


def announcement_problems(window: MaintenanceWindow, rule: Any, tz: ZoneInfo) -> list[str]:
    """Why `window` cannot qualify as announced: each rule broken and by how much ([] = it qualifies).

    The window must lie within local_start-local_end on its own local date (the date of its
    start in `tz`) and be announced at least notice_hours ahead.
    """
    problems = []
    start_t, end_t = dt.time.fromisoformat(rule.local_start), dt.time.fromisoformat(rule.local_end)
    local_day = window.start.astimezone(tz).date()
    lo, hi = local_window_utc(local_day, start_t, end_t, tz)
    if window.start < lo:
        early = (lo - window.start).total_seconds() / 60
        problems.append(f"starts {format_minutes(early)} before {rule.local_start} {tz.key} "
                        f"on {local_day} (starts {window.start.astimezone(tz):%H:%M %Z})")
    if window.end > hi:
        late = (window.end - hi).total_seconds() / 60
        problems.append(f"ends {format_minutes(late)} after {rule.local_end} {tz.key} on {local_day} "
                        f"(ends {window.end.astimezone(tz):%Y-%m-%d %H:%M %Z})")
    notice = window.start - window.announced_at
    required = dt.timedelta(hours=rule.notice_hours)
    if notice <= dt.timedelta():
        problems.append(f"starts {format_minutes(-notice.total_seconds() / 60)} before this announcement "
                        f"({window.announced_at:%Y-%m-%d %H:%M} UTC): the plan requires {rule.notice_hours} h notice")
    elif notice < required:
        short = (required - notice).total_seconds() / 60
        problems.append(f"announced {format_minutes(notice.total_seconds() / 60)} ahead: the plan requires "
                        f"{rule.notice_hours} h notice ({format_minutes(short)} short)")
    return problems


def window_from_form(*, day: str, start: str, duration_minutes: Any, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC start and end of a window given as a local date, a local HH:MM start and a duration."""
    try:
        local_day = dt.date.fromisoformat(str(day).strip())
    except ValueError:
        raise WindowError(f"date must be YYYY-MM-DD (the local date in {tz.key}), got {day!r}") from None
    if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", str(start).strip()):
        raise WindowError(f"start must be HH:MM in {tz.key} (e.g. 02:00), got {start!r}")
    try:
        minutes = int(str(duration_minutes).strip())
    except ValueError:
        raise WindowError(f"duration must be a whole number of minutes, got {duration_minutes!r}") from None
    if minutes <= 0:
        raise WindowError(f"duration must be more than 0 minutes (end after start), got {minutes}")
    if minutes > 7 * 24 * 60:
        raise WindowError(f"duration must be at most one week (10080 minutes), got {minutes}")
    local_start = dt.datetime.combine(local_day, dt.time.fromisoformat(str(start).strip()), tzinfo=tz)
    begin = local_start.astimezone(UTC)
    return begin, begin + dt.timedelta(minutes=minutes)


def window_id(start: dt.datetime, tz: ZoneInfo, run_key: str) -> str:
    """A stable id: the local start plus a short digest of the announcing run (a retry reuses it)."""
    digest = hashlib.sha256(run_key.encode()).hexdigest()[:6]
    return f"mw-{start.astimezone(tz):%Y%m%d-%H%M}-{digest}"
