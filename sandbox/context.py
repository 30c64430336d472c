"""`SeedContext`: everything a scenario's `seed(ctx)` may use. Documented in sandbox/README.md."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox import ACCOUNT_ID, DEFAULT_REGION
from sandbox import aws as aws_helpers
from sandbox.timeutil import UTC, add_months

if TYPE_CHECKING:
    from estate_ops.config import Estate, Plan

    from sandbox.pagerduty_store import PagerDutyStore
    from sandbox.slack import SlackStore
    from sandbox.statuspage import StatuspageStore


@dataclass
class SeedContext:
    reference_month: dt.date
    """First day of the month the reports are about (default: the previous calendar month)."""
    seed: int
    estate: Estate
    plan: Plan
    state_dir: Path
    now: dt.datetime
    """Sandbox "now" (aware UTC): fixed by `--now`, else the real time at start."""
    aws_url: str
    pagerduty: PagerDutyStore
    slack: SlackStore
    pagerduty_routing_key: str
    statuspage: StatuspageStore | None = None
    """The Statuspage stand-in's page (None when the estate has no `statuspage` section)."""
    scenario: str = "base"
    """The scenario being seeded (set by the registry before each `seed`)."""
    _clients: dict = field(default_factory=dict, repr=False)

    # --------------------------------------------------------------- time

    @property
    def start(self) -> dt.datetime:
        """The reference month's first instant, 00:00 UTC on its first day."""
        return dt.datetime(self.reference_month.year, self.reference_month.month, 1, tzinfo=UTC)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the reference month (exclusive end)."""
        return add_months(self.start, 1)

    @property
    def contract_bounds(self):
        """The reference month as the contract counts it (plan.yaml `contract_month_timezone`):
        what a monthly report covers. `start`/`end` stay the UTC month, the grid of daily data."""
        from estate_ops.domain.periods import Month

        return self.plan.month_bounds(Month.of(self.reference_month))

    # --------------------------------------------------------------- randomness

    def rng(self, name: str | None = None) -> random.Random:
        """A fresh RNG seeded with "<seed>:<name>" (name defaults to the current scenario):
        the same seed and name give the same history on every run and after every reset."""
        return random.Random(f"{self.seed}:{name or self.scenario}")

    # --------------------------------------------------------------- AWS

    @property
    def account_id(self) -> str:
        return ACCOUNT_ID

    def aws_client(self, service: str, region: str = DEFAULT_REGION) -> Any:
        """A boto3 client on the sandbox's moto backends (credentials testing/testing).

        Served in-process by moto (same backends and response code as the server, without
        the HTTP round trip: seeding runs on every reset). Cached per (service, region)."""
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = aws_helpers.in_process_client(service, region)
        return self._clients[key]

    def moto_backend(self, service: str, region: str = DEFAULT_REGION) -> Any:
        """moto's in-process backend (e.g. "rds", "s3", "cloudwatch", "logs", "route53"),
        for what the API cannot set. See sandbox.aws for helpers."""
        return aws_helpers.backend(service, region)

    aws = aws_helpers
    """`sandbox.aws`: helpers such as `add_db_snapshot`, `set_replication_status`."""
