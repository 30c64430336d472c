"""Findings: what a job found that a person must hear about, with the plan's severity.

A finding's dedup key is stable for the same problem in the same period, so a rerun neither
pages twice (PagerDuty dedups on it) nor posts to Slack twice (the router's ledger keys on it).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

_UNSAFE = re.compile(r"[^A-Za-z0-9._:=+-]+")


class _PlanLike(Protocol):
    def finding_severity(self, kind: str) -> str: ...


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of plan.yaml `finding_severities`
    severity: str  # P0..P3
    resource: str  # what it is about: a database id, a bucket, a health check, an incident...
    summary: str  # one line a person can act on
    period: str  # the period it belongs to (YYYY-MM or YYYY-MM-DD): part of the dedup key
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: _PlanLike, kind: str, resource: str, summary: str, period: str, **details: Any) -> Finding:
        """A finding whose severity comes from the plan's mapping, never from the caller."""
        return cls(kind, plan.finding_severity(kind), resource, summary, period, details)

    @property
    def dedup_key(self) -> str:
        return "estate-ops/" + "/".join(_UNSAFE.sub("_", part) for part in (self.kind, self.resource, self.period))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "dedup_key": self.dedup_key}


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then stable by kind and resource, so reports list them the same way."""
    return sorted(findings, key=lambda f: (f.severity, f.kind, f.resource, f.period))
