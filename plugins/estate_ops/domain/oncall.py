"""On-call (plan §3.1): schedule coverage, weekly primary rotation, escalation Tech Lead -> PM -> Sponsor.

Pure: takes rendered PagerDuty schedules and an escalation policy as plain dicts (wire format,
`GET /schedules/{id}?since&until` and `GET /escalation_policies/{id}`) and returns plain data.
Coverage is computed here from `final_schedule.rendered_schedule_entries`, not taken from
PagerDuty's rounded percentage, and rounded down so a schedule with a gap never shows 100 %.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from estate_ops.domain.findings import Finding
from estate_ops.domain.incidents import parse_time


@dataclass(frozen=True)
class Gap:
    start: dt.datetime
    end: dt.datetime

    @property
    def minutes(self) -> Decimal:
        return (Decimal(int((self.end - self.start).total_seconds())) / 60).quantize(Decimal("0.1"))

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "length_min": self.minutes,
                "length_hours": (self.minutes / 60).quantize(Decimal("0.01"))}


def final_entries(schedule: Mapping[str, Any]) -> list[tuple[dt.datetime, dt.datetime, str]]:
    sid = schedule.get("id")
    final = schedule.get("final_schedule")
    if not isinstance(final, Mapping) or not isinstance(final.get("rendered_schedule_entries"), list):
        raise TypeError(f"schedule {sid}: the answer has no final_schedule.rendered_schedule_entries "
                         "(was it fetched with since/until?)")
    entries = []
    for i, e in enumerate(final["rendered_schedule_entries"]):
        where = f"schedule {sid} final_schedule entry {i}"
        start, end = parse_time(e.get("start"), f"{where} start"), parse_time(e.get("end"), f"{where} end")
        if end < start:
            raise ValueError(f"{where}: ends {end.isoformat()} before it starts {start.isoformat()}")
        entries.append((start, end, str((e.get("user") or {}).get("id") or "")))
    return sorted(entries)


def coverage(entries: list[tuple[dt.datetime, dt.datetime, str]], since: dt.datetime,
             until: dt.datetime) -> tuple[Decimal, list[Gap]]:
    """Percentage of [since, until) with someone on call, and every uncovered stretch."""
    gaps: list[Gap] = []
    cursor = since
    for start, end, user in sorted(entries):
        if not user or end <= cursor:
            continue
        start = max(start, since)
        if start > cursor:
            gaps.append(Gap(cursor, min(start, until)))
        cursor = max(cursor, min(end, until))
        if cursor >= until:
            break
    if cursor < until:
        gaps.append(Gap(cursor, until))
    gaps = [g for g in gaps if g.end > g.start]
    total = Decimal(int((until - since).total_seconds()))
    uncovered = Decimal(sum(int((g.end - g.start).total_seconds()) for g in gaps))
    percent = ((total - uncovered) * 100 / total).quantize(Decimal("0.01"), rounding=ROUND_DOWN) if total else Decimal(0)
    return percent, gaps


def rotation_problems(schedule: Mapping[str, Any], since: dt.datetime, until: dt.datetime,
                      rotation_days: int) -> list[str]:
    """Why the schedule does not rotate every `rotation_days` among at least two people (empty: it does)."""
    turn = rotation_days * 86400
    problems = []
    active = []
    for layer in schedule.get("schedule_layers") or []:
        start = parse_time(layer.get("start"), f"schedule {schedule.get('id')} layer start")
        end = parse_time(layer["end"], f"schedule {schedule.get('id')} layer end") if layer.get("end") else None
        if start < until and (end is None or end > since):
            active.append(layer)
    if not active:
        return ["no layer is active in the period"]
    for layer in active:
        name = layer.get("name") or layer.get("id")
        length = int(layer.get("rotation_turn_length_seconds") or 0)
        if length != turn:
            problems.append(f"layer {name!r} hands off every {length / 86400:g} days, the plan says {rotation_days}")
        if len(layer.get("users") or []) < 2:
            problems.append(f"layer {name!r} has {len(layer.get('users') or [])} user(s): nobody rotates")
    return problems


def escalation_levels(policy: Mapping[str, Any], primary: str, secondary: str,
                      roles: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Each expected level beside what the policy has: level 1 the primary schedule, level 2 the
    secondary, then one level per role (user id from estate.yaml) in the plan's order."""
    expected = [("primary schedule", "schedule", primary), ("secondary schedule", "schedule", secondary)]
    expected += [(role, "user", user_id) for role, user_id in roles]
    rules = policy.get("escalation_rules") or []
    rows = []
    for level in range(1, max(len(expected), len(rules)) + 1):
        rule = rules[level - 1] if level <= len(rules) else None
        actual = [(str(t.get("type", "")).replace("_reference", ""), t.get("id"))
                  for t in (rule or {}).get("targets") or []]
        actual_text = ", ".join(f"{k} {i}" for k, i in actual) or "—"
        if level > len(expected):
            rows.append({"level": level, "expected": "—", "actual": actual_text, "ok": False,
                         "problem": "a level the plan does not have"})
            continue
        role, kind, wanted = expected[level - 1]
        if wanted is None:
            problem = f"estate.yaml pagerduty.escalation_roles has no {role}"
        elif rule is None:
            problem = "the policy has no such level"
        elif actual != [(kind, wanted)]:
            problem = f"expected {kind} {wanted} only"
        else:
            problem = ""
        rows.append({"level": level, "expected": f"{role}: {kind} {wanted}", "actual": actual_text,
                     "ok": not problem, "problem": problem})
    return rows


def build_oncall_section(plan: Any, schedules: Mapping[str, Mapping[str, Any]], policy: Mapping[str, Any],
                         *, primary: str, secondary: str, escalation_roles: Mapping[str, str],
                         since: dt.datetime, until: dt.datetime, period: str) -> dict[str, Any]:
    """Report pieces (headline, figures, items, inputs) and findings for the on-call checks.

    `schedules` maps "primary"/"secondary" to the rendered schedule of that role.
    """
    findings: list[Finding] = []
    figures: dict[str, Any] = {}
    headline: dict[str, Any] = {}
    gap_rows: list[dict[str, Any]] = []
    required = plan.on_call.required_coverage_percent
    roles_needed = ["primary"] + (["secondary"] if plan.on_call.secondary_required else [])
    for role in roles_needed:
        schedule = schedules[role]
        sid = schedule.get("id") or (primary if role == "primary" else secondary)
        percent, gaps = coverage(final_entries(schedule), since, until)
        figures[f"{role}_coverage"] = {"value": percent, "unit": "%"}
        headline[f"{role}_on_call_coverage"] = {"value": percent, "unit": "%"}
        for gap in gaps:
            gap_rows.append({"schedule": sid, "role": role, **gap.as_dict()})
        if percent < required:
            for gap in gaps:
                findings.append(Finding.of(
                    plan, "oncall_coverage_gap", f"{sid}@{gap.start:%Y-%m-%dT%H:%MZ}",
                    f"{role} on-call schedule {sid} has nobody on call {gap.start:%Y-%m-%d %H:%M} – "
                    f"{gap.end:%Y-%m-%d %H:%M} UTC ({gap.minutes} min)", period,
                    schedule=sid, start=gap.start, end=gap.end))
    rotation = rotation_problems(schedules["primary"], since, until, plan.on_call.primary_rotation_days)
    for problem in rotation:
        findings.append(Finding.of(plan, "oncall_rotation_wrong", primary,
                                   f"primary schedule {primary}: {problem}", period))
    roles = [(role, escalation_roles.get(role)) for role in plan.on_call.escalation]
    levels = escalation_levels(policy, primary, secondary, roles)
    policy_id = str(policy.get("id") or "")
    for row in levels:
        if not row["ok"]:
            findings.append(Finding.of(plan, "escalation_mismatch", f"{policy_id}/level-{row['level']}",
                                       f"escalation policy {policy_id} level {row['level']}: {row['problem']} "
                                       f"(has {row['actual']})", period))
    figures["escalation_mismatches"] = {"value": sum(not r["ok"] for r in levels), "unit": "levels"}
    return {
        "headline": headline,
        "figures": figures,
        "inputs": {"schedules": len(schedules), "escalation_levels": len(policy.get("escalation_rules") or [])},
        "items": {
            "oncall_gaps": sorted(gap_rows, key=lambda r: (r["role"], r["start"])),
            "rotation": [{"schedule": primary, "problem": p} for p in rotation],
            "escalation_levels": levels,
        },
        "findings": findings,
        "warnings": [],
    }
