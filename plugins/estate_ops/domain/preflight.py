"""Preflight: does every resource estate.yaml names exist and answer? Pure report building."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from estate_ops.domain.findings import Finding, sort_findings


@dataclass(frozen=True)
class Check:
    area: str  # aws | pagerduty | slack | statuspage
    kind: str  # rds_instance, bucket, log_group_prefix, health_check, pagerduty_service, ...
    resource: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_preflight_report(checks: list[Check], plan: Any, estate_name: str, day: dt.date) -> tuple[dict, list[Finding]]:
    """The report and one `preflight_missing` finding per failed check."""
    ordered = sorted(checks, key=lambda c: (c.area, c.kind, c.resource))
    failed = [c for c in ordered if not c.ok]
    findings = sort_findings([
        Finding.of(plan, "preflight_missing", f"{c.kind}:{c.resource}", f"{c.kind} {c.resource}: {c.detail}",
                   day.isoformat(), area=c.area)
        for c in failed
    ])
    by_area: dict[str, dict[str, int]] = {}
    for c in ordered:
        counts = by_area.setdefault(c.area, {"checked": 0, "missing": 0})
        counts["checked"] += 1
        counts["missing"] += not c.ok
    report = {
        "kind": "preflight",
        "title": f"Preflight — {estate_name}",
        "period": {"date": day.isoformat()},
        "plan_version": plan.plan.version,
        "headline": {
            "resources_checked": {"value": len(ordered), "unit": "resources"},
            "resources_missing": {"value": len(failed), "unit": "resources"},
            "status": {"value": "ready" if not failed else "not ready", "unit": ""},
        },
        "inputs": {f"{area}_checked": counts["checked"] for area, counts in sorted(by_area.items())},
        "figures": {f"{area}_missing": {"value": counts["missing"], "unit": "resources"}
                    for area, counts in sorted(by_area.items())},
        "items": {"checks": [c.as_dict() for c in ordered]},
        "findings": [f.as_dict() for f in findings],
        "warnings": [],
    }
    return report, findings
