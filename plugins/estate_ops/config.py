"""The plan and the estate as validated data.

`load_plan()` and `load_estate()` read `include/plan.yaml` and `include/estate.yaml` (or the files
named by ESTATE_OPS_PLAN / ESTATE_OPS_ESTATE) and validate them with pydantic. A bad file raises
`ConfigError` naming the file, the key path and what was expected, before any task touches AWS.

A file says exactly one thing: a key given twice in one mapping is an error naming both lines (YAML
would keep the last silently), aliases are refused (one value in one place, and no "billion laughs"),
numbers are bounded (an integer of thousands of digits is refused by name, never handed to int()),
and money and percentages are plain decimals (no exponent, inf or nan).
Pure: no Airflow, no boto3.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from estate_ops.domain.metrics import METRIC_UNITS, breach_kind
from estate_ops.domain.periods import Month, MonthBounds, month_bounds

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PLAN_PATH = PROJECT_ROOT / "include" / "plan.yaml"
DEFAULT_ESTATE_PATH = PROJECT_ROOT / "include" / "estate.yaml"

Severity = Literal["P0", "P1", "P2", "P3"]
SEVERITIES: tuple[str, ...] = ("P0", "P1", "P2", "P3")
Category = Literal["bug_fix", "monitoring", "minor_enhancement", "feature_development"]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class ConfigError(ValueError):
    """A configuration file is missing, malformed or does not match its schema."""


# --------------------------------------------------------------------------- bounded numbers


class HugeNumber:
    """What the loader gives for an integer too long to be any setting (never turned into an int:
    Python's int() refuses beyond 4,300 digits, and none of these needs more than a few)."""

    def __init__(self, text: str, line: int) -> None:
        self.digits = len(text.replace("_", "").lstrip("+-"))
        self.line = line

    def __repr__(self) -> str:
        return f"an integer of {self.digits:,} digits at line {self.line}"


def _range_text(ge: Any = None, gt: Any = None, le: Any = None) -> str:
    low = f"at least {ge}" if ge is not None else (f"more than {gt}" if gt is not None else "")
    high = f"at most {le}" if le is not None else ""
    return " and ".join(t for t in (low, high) if t)


def _whole(*, ge: int | None = None, gt: int | None = None, le: int) -> Any:
    """An int field with its allowed range; an over-long integer is refused naming that range."""
    def check(value: Any) -> Any:
        if isinstance(value, HugeNumber):
            raise ValueError(f"a whole number {_range_text(ge, gt, le)}, got {value!r}")  # noqa: TRY004 - pydantic reports ValueError
        return value

    return Annotated[int, BeforeValidator(check), Field(ge=ge, gt=gt, le=le)]


# A plain decimal as a person writes it: digits, an optional point and decimals. No exponent, no inf or
# nan, and few enough digits that no figure grows without bound.
_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]{1,15}(?:\.[0-9]{1,15})?")


def _plain_decimal(*, ge: Any = None, gt: Any = None, le: Any, places: int | None = None) -> Any:
    """A Decimal field (money, a percentage, a fraction) that accepts plain decimals only."""
    expected = (f"a plain decimal number {_range_text(ge, gt, le)}"
                + (f" with at most {places} decimal places" if places is not None else "")
                + " (digits and an optional point, e.g. \"99.9\"; no exponent, inf or nan; at most 15 digits "
                  "either side of the point)")

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            # A float (from Python; YAML gives the text) has lost what was written: 0.1 is not 0.1.
            raise ValueError(f"{expected}, got {value!r}")  # noqa: TRY004 - pydantic reports ValueError
        text = str(value).strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            shown = text if len(text) <= 40 else f"{text[:40]}… ({len(text):,} characters)"
            raise ValueError(f"{expected}, got {shown!r}")
        return Decimal(text)

    return Annotated[Decimal, BeforeValidator(check),
                     Field(ge=ge, gt=gt, le=le, decimal_places=places, allow_inf_nan=False)]


# Generous bounds that no real plan reaches but that keep every figure finite and printable.
MINUTES_PER_YEAR = 525_600
HOURS_PER_YEAR = 8_760
Percent = _plain_decimal(ge=0, le=100)
Minutes = _whole(gt=0, le=MINUTES_PER_YEAR)
Hours = _whole(gt=0, le=HOURS_PER_YEAR)


class _Strict(BaseModel):
    # Unknown keys are errors: a typo must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- plan.yaml


class PlanInfo(_Strict):
    name: str
    version: str
    date: dt.date
    timezone: str
    # The zone whose calendar months every monthly figure covers; absent = `timezone`.
    contract_month_timezone: str | None = None

    @field_validator("timezone", "contract_month_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"an IANA time zone such as America/New_York or UTC, got {value!r}") from exc
        return value


class MaintenanceRule(_Strict):
    local_start: HHMM
    local_end: HHMM
    notice_hours: _whole(ge=0, le=HOURS_PER_YEAR)

    @model_validator(mode="after")
    def _start_before_end(self) -> MaintenanceRule:
        if self.local_end <= self.local_start:
            raise ValueError(f"local_end {self.local_end} must be after local_start {self.local_start}")
        return self


class AvailabilityTerms(_Strict):
    target_percent: _plain_decimal(gt=0, le=100)
    measurement: Literal["monthly"]
    source: Literal["cloudwatch"]
    maintenance: MaintenanceRule
    no_data_policy: Literal["exclude", "down", "up"]
    completeness_warning_percent: Percent
    composite_rule: Literal["any", "all"]


class SeverityTerms(_Strict):
    name: str
    response_minutes: Minutes
    resolution_minutes: Minutes | None = None
    resolution: Literal["next_release"] | None = None

    @model_validator(mode="after")
    def _one_resolution_target(self) -> SeverityTerms:
        if (self.resolution_minutes is None) == (self.resolution is None):
            raise ValueError("exactly one of resolution_minutes or resolution: next_release is required")
        return self


class AlertRouting(_Strict):
    pagerduty: list[Severity]
    slack: list[Severity]

    @model_validator(mode="after")
    def _each_severity_once(self) -> AlertRouting:
        routed = self.pagerduty + self.slack
        if sorted(routed) != sorted(SEVERITIES):
            raise ValueError(f"every severity P0-P3 must be routed exactly once, got {routed}")
        return self


class OnCallTerms(_Strict):
    primary_rotation_days: _whole(gt=0, le=366)
    secondary_required: bool
    escalation: list[str] = Field(min_length=1)
    required_coverage_percent: Percent


class PostmortemTerms(_Strict):
    within_hours: Hours
    required_for: list[Severity]


class CommunicationTerms(_Strict):
    """§3.2 "communicate: update status page": which incidents, and the targets (all defaults)."""

    required_for: list[Severity] = ["P0", "P1"]
    first_update_within: Literal["response_time"] = "response_time"
    resolved_within_minutes: int = Field(default=60, gt=0, le=1440)


class DatabaseBackupTerms(_Strict):
    frequency: list[Literal["daily", "continuous"]]
    retention_days: _whole(ge=1, le=35)  # RDS BackupRetentionPeriod range
    max_snapshot_age_hours: Hours


class DocumentBackupTerms(_Strict):
    frequency: Literal["real_time_replication"]
    retention: Literal["indefinite"]
    max_pending_minutes: Minutes


# CloudWatch Logs accepts only these retention values (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)


class LogBackupTerms(_Strict):
    frequency: Literal["continuous"]
    retention_days: _whole(ge=1, le=max(LOG_RETENTION_DAYS))

    @field_validator("retention_days")
    @classmethod
    def _allowed_by_cloudwatch(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"a CloudWatch Logs retention value {LOG_RETENTION_DAYS}, got {value}")
        return value


class BackupTerms(_Strict):
    database: DatabaseBackupTerms
    documents: DocumentBackupTerms
    logs: LogBackupTerms


class RecoveryTerms(_Strict):
    rpo_minutes: Minutes
    rto_minutes: Minutes


class RetentionPruningTerms(_Strict):
    keep_newest_manual_snapshots: _whole(ge=0, le=10_000)
    protect_tags: list[str] = Field(min_length=1)
    delete_final_snapshots_of_deleted_databases: bool
    max_deletions_per_run: _whole(ge=0, le=10_000)
    max_fraction_per_database: _plain_decimal(ge=0, le=1)
    verification_max_age_hours: Hours

    @field_validator("protect_tags")
    @classmethod
    def _no_blank_tags(cls, value: list[str]) -> list[str]:
        # Tags match whatever their case and separators (domain/retention.protect_tag_key): a name of
        # only separators would match nothing, or every other such name.
        if any(not re.sub(r"[-_\s]", "", tag) for tag in value):
            raise ValueError("tag names must not be blank or only separators (-, _, space)")
        return value


class TierTerms(_Strict):
    name: str
    hours_per_month: _whole(gt=0, le=10_000)
    # Money: a plain decimal of cents at most, below a billion a month.
    monthly_fee: _plain_decimal(ge=0, le=999_999_999, places=2)
    includes: list[Category] = Field(min_length=1)


class InvoicingTerms(_Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    rounding_minutes: _whole(gt=0, le=60)
    overage_rate: Literal["fee_per_included_hour"]
    rollover_default: bool
    approval_required: bool
    payment_terms_days: _whole(ge=0, le=366) = 30
    hours_watch_percent: list[_whole(gt=0, le=1000)] = Field(default=[50, 80, 100], min_length=1)

    @field_validator("hours_watch_percent")
    @classmethod
    def _rising(cls, value: list[int]) -> list[int]:
        if value != sorted(set(value)):
            raise ValueError(f"thresholds rising without repeats, e.g. [50, 80, 100], got {value}")
        return value


# CloudWatch's comparison operators (PutMetricAlarm ComparisonOperator).
COMPARISON_OPERATORS = ("GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                        "LessThanOrEqualToThreshold", "LessThanLowerOrGreaterThanUpperThreshold",
                        "LessThanLowerThreshold", "GreaterThanUpperThreshold")
# CloudWatch statistics: the five simple ones, or a percentile (p0-p100, e.g. p99, p99.9).
STATISTIC = r"^(SampleCount|Average|Sum|Minimum|Maximum|p(100|[0-9]{1,2})(\.[0-9]{1,3})?)$"
# The kinds of estate resource a required alarm can be about (domain/monitoring.py builds their
# CloudWatch dimensions from estate.yaml).
ResourceKind = Literal["route53_health_check", "load_balancer", "target_group", "rds_instance"]


class RequiredAlarm(_Strict):
    """One alarm a kind of resource must have: any enabled alarm on this metric of that resource."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    namespace: str = Field(pattern=r"^[A-Za-z0-9/_.#:-]{1,255}$")
    metric: str = Field(min_length=1, max_length=255)
    statistic: str = Field(pattern=STATISTIC)
    comparison: Literal[COMPARISON_OPERATORS]  # type: ignore[valid-type]
    severity: Severity


class DrillTerms(_Strict):
    """alert_route_drill: how long each route may take to deliver the canary, and how often to look."""

    pagerduty_timeout_minutes: _whole(gt=0, le=240)
    slack_timeout_minutes: _whole(gt=0, le=240)
    poll_seconds: _whole(ge=5, le=3600)


def _repeated(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted (a list's duplicates, for a validator's message)."""
    counts = Counter(names)
    return sorted(n for n, c in counts.items() if c > 1)


class MetricThreshold(_Strict):
    """A key metric's threshold: `limit` in `unit`, which the figure must stay `direction` of."""

    limit: _plain_decimal(ge=0, le=1_000_000)
    direction: Literal["at_most", "at_least"]
    unit: str


class KeyMetricsTerms(_Strict):
    """key_metrics_report (plan §2.3): one threshold per metric of domain/metrics.py METRIC_UNITS,
    each in that metric's unit (a threshold in another unit is refused here, at load)."""

    thresholds: dict[str, MetricThreshold]
    # The bucket (seconds) of the counts (requests, 5XX, cache hits/misses) summed into a period:
    # minutes without data are counted at this grain. CloudWatch serves 60 s for 15 days, 300 s
    # for 63 days, 3600 s beyond: a month reported on the 1st (and its previous month) needs 300 or more.
    count_resolution_seconds: Literal[60, 300, 900, 3600] = 300

    @field_validator("thresholds")
    @classmethod
    def _known_metrics_in_their_units(cls, value: dict[str, MetricThreshold]) -> dict[str, MetricThreshold]:
        unknown = sorted(set(value) - set(METRIC_UNITS))
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; thresholds are for {sorted(METRIC_UNITS)}")
        missing = sorted(set(METRIC_UNITS) - set(value))
        if missing:
            raise ValueError(f"a threshold for every key metric, missing {missing}")
        for name, t in value.items():
            if t.unit != METRIC_UNITS[name]:
                raise ValueError(f"{name}.unit: {name} is measured in {METRIC_UNITS[name]!r}, got {t.unit!r}")
            if t.unit.startswith("percent") and t.limit > 100:
                raise ValueError(f"{name}.limit: a percentage is at most 100, got {t.limit}")
        return value


class MonitoringTerms(_Strict):
    """Plan §2.1 as the monitoring audit applies it (every value a default: the plan names the
    tools and the routes, not the alarms), and §2.3's key-metric thresholds."""

    severity_tag: str = Field(pattern=r"^[\w.:/=+@ -]{1,128}$")
    insufficient_data_hours: Hours
    required_alarms: dict[ResourceKind, list[RequiredAlarm]]
    drill: DrillTerms
    key_metrics: KeyMetricsTerms

    @field_validator("required_alarms")
    @classmethod
    def _unique_names(cls, value: dict[str, list[RequiredAlarm]]) -> dict[str, list[RequiredAlarm]]:
        for kind, alarms in value.items():
            dupes = _repeated(a.name for a in alarms)
            if dupes:
                raise ValueError(f"{kind}: required alarm names must be unique, repeated {dupes}")
        return value


class Plan(_Strict):
    plan: PlanInfo
    availability: AvailabilityTerms
    severities: dict[Severity, SeverityTerms]
    alert_routing: AlertRouting
    finding_severities: dict[str, Severity]
    on_call: OnCallTerms
    postmortem: PostmortemTerms
    communication: CommunicationTerms = CommunicationTerms()
    backups: BackupTerms
    recovery: RecoveryTerms
    retention_pruning: RetentionPruningTerms
    tiers: dict[str, TierTerms] = Field(min_length=1)
    invoicing: InvoicingTerms
    monitoring: MonitoringTerms

    @field_validator("severities")
    @classmethod
    def _all_severities(cls, value: dict[str, SeverityTerms]) -> dict[str, SeverityTerms]:
        missing = [s for s in SEVERITIES if s not in value]
        if missing:
            raise ValueError(f"a target for every severity P0-P3, missing {missing}")
        return value

    @model_validator(mode="after")
    def _every_breach_has_a_severity(self) -> Plan:
        missing = sorted(breach_kind(m) for m in self.monitoring.key_metrics.thresholds
                         if breach_kind(m) not in self.finding_severities)
        if missing:
            raise ValueError(f"finding_severities: a severity for each key-metric breach, missing {missing}")
        return self

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.plan.timezone)

    @property
    def contract_month_timezone(self) -> ZoneInfo:
        return ZoneInfo(self.plan.contract_month_timezone or self.plan.timezone)

    def month_bounds(self, month: Month) -> MonthBounds:
        """The contract month's bounds: the one place every monthly computation takes them from."""
        return month_bounds(month, self.contract_month_timezone)

    def finding_severity(self, kind: str) -> str:
        """The severity of a finding kind; an unknown kind is a programming error, not a guess."""
        try:
            return self.finding_severities[kind]
        except KeyError:
            raise KeyError(f"finding kind {kind!r} has no severity in plan.yaml finding_severities") from None


# --------------------------------------------------------------------------- estate.yaml


class EstateInfo(_Strict):
    name: str
    environment: str


class AwsSettings(_Strict):
    conn_id: str
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    account_id: str = Field(pattern=r"^\d{12}$")
    # default: where the monitoring audit asks AWS Chatbot for its Slack channel configurations (its
    # API answers in us-east-2, us-west-2, eu-west-1 and ap-southeast-1 only).
    chatbot_region: Literal["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"] = "us-east-2"


class Database(_Strict):
    id: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")
    engine: str
    critical: bool = True
    drill_conn_id: str
    drill_subnet_group: str
    # key_metrics_report: connection headroom is measured against this (the engine's parameter
    # group value); without it the database's headroom is no data.
    max_connections: _whole(gt=0, le=1_000_000) | None = None


BUCKET_NAME = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"


class DocumentStore(_Strict):
    bucket: str = Field(pattern=BUCKET_NAME)
    replica_bucket: str = Field(pattern=BUCKET_NAME)
    replica_region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")


class LogSettings(_Strict):
    group_prefixes: list[str] = Field(min_length=1)
    archive_bucket: str = Field(pattern=BUCKET_NAME)


LOAD_BALANCER_DIMENSION = r"^app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$"
TARGET_GROUP_DIMENSION = r"^targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$"
HEALTH_CHECK_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
EndpointKind = Literal["route53_health_check", "alb_target_group"]


class HealthCheck(_Strict):
    """An availability endpoint: a Route 53 health check (`id`; the default kind) or an ALB target
    group (`kind: alb_target_group` with its `load_balancer` and `target_group` dimension values; its
    id is derived, `<load_balancer>/<target_group>`, and is what the health files and report name)."""

    kind: EndpointKind = "route53_health_check"
    load_balancer: str | None = Field(None, pattern=LOAD_BALANCER_DIMENSION, validate_default=True)
    target_group: str | None = Field(None, pattern=TARGET_GROUP_DIMENSION, validate_default=True)
    id: str = Field("", validate_default=True)
    name: str
    critical: bool = True

    @field_validator("load_balancer", "target_group")
    @classmethod
    def _dimension_of_its_kind(cls, value: str | None, info: Any) -> str | None:
        kind = info.data.get("kind")
        example = {"load_balancer": "app/<name>/<16 hex digits>",
                   "target_group": "targetgroup/<name>/<16 hex digits>"}[info.field_name]
        if kind == "alb_target_group" and value is None:
            raise ValueError(f"an endpoint of kind alb_target_group needs its {info.field_name} dimension value "
                             f"({example}, the end of its ARN), got none")
        if kind == "route53_health_check" and value is not None:
            raise ValueError(f"only an endpoint of kind alb_target_group has a {info.field_name}; this one is a "
                             f"Route 53 health check (add kind: alb_target_group, or remove it), got {value!r}")
        return value

    @field_validator("id")
    @classmethod
    def _id_of_its_kind(cls, value: str, info: Any) -> str:
        kind = info.data.get("kind")
        if kind == "alb_target_group":
            if value:
                raise ValueError(f"an alb_target_group endpoint is named by its load_balancer and target_group "
                                 f"(its id is derived from them): remove the id, got {value[:80]!r}")
            lb, tg = info.data.get("load_balancer"), info.data.get("target_group")
            return f"{lb}/{tg}" if lb and tg else ""  # a missing dimension is reported on its own key
        if kind is None:
            return value  # the kind is wrong: reported on its own key
        if not re.fullmatch(HEALTH_CHECK_ID, value):
            raise ValueError(f"a Route 53 health check id (a UUID such as 0b6a7a4e-0000-4000-8000-000000000001), "
                             f"got {value[:80]!r}" + (" (none given)" if not value else ""))
        return value


class PagerDutyService(_Strict):
    id: str
    name: str


class PagerDutySchedules(_Strict):
    primary: str
    secondary: str


class PagerDutySettings(_Strict):
    conn_id: str
    events_conn_id: str
    web_url: str
    services: list[PagerDutyService] = Field(min_length=1)
    schedules: PagerDutySchedules
    escalation_policy: str
    escalation_roles: dict[str, str]
    priority_map: dict[str, Severity]
    postmortem_note_pattern: str
    # P3's "next release": the dates here, or in a YAML file of dates this names (relative to
    # estate.yaml's folder), never both. `load_config` reads the file into `releases`.
    releases: list[dt.date] = []
    releases_file: str | None = None

    @field_validator("postmortem_note_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"a regular expression, got {value!r}: {exc}") from exc
        return value

    @field_validator("releases")
    @classmethod
    def _sorted_releases(cls, value: list[dt.date]) -> list[dt.date]:
        return sorted(value)

    @model_validator(mode="after")
    def _one_source_of_releases(self) -> PagerDutySettings:
        if self.releases and self.releases_file:
            raise ValueError("give the release dates as releases or in releases_file, not both")
        if not self.releases and not self.releases_file:
            raise ValueError("releases (a list of dates) or releases_file (a YAML file of dates) is required")
        return self


class StatuspageSettings(_Strict):
    """The client-facing status page (Atlassian Statuspage): its id and, per PagerDuty service,
    the status-page components an incident or a maintenance of that service affects."""

    conn_id: str = "statuspage_default"
    page_id: str = Field(pattern=r"^[a-z0-9]{6,32}$")
    web_url: str = Field(pattern=r"^https?://\S+$")
    components: dict[str, list[Annotated[str, Field(pattern=r"^[a-z0-9]{6,32}$")]]]

    @field_validator("components")
    @classmethod
    def _each_service_has_components(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if not value:
            raise ValueError("map each PagerDuty service id to its status-page component ids")
        for service, ids in value.items():
            if not ids:
                raise ValueError(f"{service}: give at least one status-page component id")
            if len(set(ids)) != len(ids):
                raise ValueError(f"{service}: component ids must be unique, got {ids}")
        return value

    def components_of(self, service_ids: list[str]) -> list[str]:
        """The components of these services, each once, in the estate's order."""
        seen: list[str] = []
        for service in service_ids:
            for cid in self.components.get(service, []):
                if cid not in seen:
                    seen.append(cid)
        return seen


class SlackSettings(_Strict):
    conn_id: str
    channel: str = Field(pattern=r"^[#@A-Za-z0-9][\w.-]*$")


class TierChange(_Strict):
    effective: dt.date
    tier: str


class Client(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    tier: str
    rollover: bool | None = None
    tier_changes: list[TierChange] = []
    # Printed on its invoices (optional).
    address: str | None = None

    def tier_on(self, day: dt.date) -> str:
        """The tier in force on `day`: the latest change effective on or before it."""
        tier = self.tier
        for change in sorted(self.tier_changes, key=lambda c: c.effective):
            if change.effective <= day:
                tier = change.tier
        return tier


class InvoiceIssuer(_Strict):
    name: str
    address: str | None = None
    email: str | None = None


class EstateInvoicing(_Strict):
    """This deployment's invoicing settings (the plan's terms are in plan.yaml `invoicing`)."""

    issuer: InvoiceIssuer = InvoiceIssuer(name="Legacy Team")
    # Overrides plan.yaml `invoicing.approval_required` for this deployment; the environment
    # variable ESTATE_OPS_INVOICE_APPROVAL (required|off) overrides both.
    approval_required: bool | None = None


class LoadBalancer(_Strict):
    """An Application Load Balancer and its target groups, as CloudWatch names them in the
    `LoadBalancer` and `TargetGroup` dimensions (the last part of their ARNs)."""

    load_balancer: str = Field(pattern=LOAD_BALANCER_DIMENSION)
    target_groups: list[str] = []

    @field_validator("target_groups")
    @classmethod
    def _dimension_values(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not re.fullmatch(TARGET_GROUP_DIMENSION, t)]
        if bad:
            raise ValueError(f"target group dimension values like targetgroup/<name>/<16 hex digits> "
                             f"(the end of the target group's ARN), got {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"target groups must be unique, got {value}")
        return value


ALARM_NAME = r"^[A-Za-z0-9_ .:/#+=@,()-]{1,255}$"


class PagerDutyCanary(_Strict):
    alarm: str = Field(pattern=ALARM_NAME)
    service: str  # the PagerDuty service (pagerduty.services) its incident must appear on
    # the PagerDuty user the drill resolves its incident as (the From header of PUT /incidents/{id})
    resolve_as: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SlackCanary(_Strict):
    alarm: str = Field(pattern=ALARM_NAME)
    channel: str = Field(pattern=r"^[#@A-Za-z0-9][\w.-]*$")  # where AWS Chatbot must post it


class Canaries(_Strict):
    """alert_route_drill: one canary alarm per route, each on a metric no other alarm uses."""

    pagerduty: PagerDutyCanary
    slack: SlackCanary

    @model_validator(mode="after")
    def _two_alarms(self) -> Canaries:
        if self.pagerduty.alarm == self.slack.alarm:
            raise ValueError(f"the two routes need two canary alarms, both are {self.pagerduty.alarm!r}")
        return self


class SentrySettings(_Strict):
    """Sentry (error tracking): the organisation and projects the key-metrics report counts."""

    conn_id: str = "sentry_default"
    organization: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")
    projects: list[str] = Field(min_length=1)

    @field_validator("projects")
    @classmethod
    def _slugs(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,99}", p)]
        if bad:
            raise ValueError(f"project slugs (lower-case letters, digits, - and _), got {bad}")
        return value


class MixpanelReports(_Strict):
    """The saved Insights reports (bookmark ids) that hold daily, weekly and monthly active users."""

    dau: int = Field(gt=0)
    wau: int = Field(gt=0)
    mau: int = Field(gt=0)


class MixpanelSettings(_Strict):
    conn_id: str = "mixpanel_default"
    project_id: int = Field(gt=0)
    residency: Literal["us", "eu", "in"] = "us"
    reports: MixpanelReports


# CloudWatch's StandardUnit values, as botocore's cloudwatch service model lists them (a test
# compares the two): a custom KPI's unit is one of these, exactly as CloudWatch spells it.
CLOUDWATCH_UNITS: tuple[str, ...] = (
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
)
KPI_STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
_KPI_PERCENTILE = re.compile(r"p([0-9]{1,2}(?:\.[0-9])?)")


class KpiThreshold(_Strict):
    """A custom KPI's threshold, in the KPI's own unit (checked by `CustomKpi`). Business figures can
    be large (orders, bytes) or below zero (a balance), so the bounds are wider than a key metric's."""

    limit: _plain_decimal(ge=-999_999_999_999_999, le=999_999_999_999_999)
    direction: Literal["at_most", "at_least"]
    unit: str


class CustomKpi(_Strict):
    """A custom business KPI (plan §2.2, issue 15): one CloudWatch metric (namespace, name, the exact
    dimension set), the statistic reported for the period and per day, and its threshold."""

    # The KPI's name is its resource in the report and in findings (dedup keys): a slug.
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    # CloudWatch's own limits on namespaces (an "AWS/" namespace is fine: a KPI may be an AWS metric).
    namespace: str = Field(pattern=r"^[0-9A-Za-z._/#:-][0-9A-Za-z._/#: -]{0,254}$")
    metric: str = Field(min_length=1, max_length=255)
    dimensions: dict[Annotated[str, Field(min_length=1, max_length=255)],
                     Annotated[str, Field(min_length=1, max_length=1024)]] = Field(default={}, max_length=30)
    statistic: str
    unit: str
    threshold: KpiThreshold

    @field_validator("statistic")
    @classmethod
    def _cloudwatch_statistic(cls, value: str) -> str:
        percentile = _KPI_PERCENTILE.fullmatch(value)
        if value in KPI_STATISTICS or (percentile and 0 < Decimal(percentile[1]) < 100):
            return value
        raise ValueError(f"one of {', '.join(KPI_STATISTICS)} or a percentile pNN / pNN.N between p0 and p100 "
                         f"(exclusive), got {value!r}")

    @field_validator("unit")
    @classmethod
    def _cloudwatch_unit(cls, value: str) -> str:
        if value not in CLOUDWATCH_UNITS:
            raise ValueError(f"a CloudWatch unit ({', '.join(CLOUDWATCH_UNITS)}), got {value!r}")
        return value

    @model_validator(mode="after")
    def _threshold_in_the_kpis_unit(self) -> CustomKpi:
        # A threshold in another unit would compare milliseconds with seconds: refused, never converted.
        if self.threshold.unit != self.unit:
            raise ValueError(f"threshold.unit: the KPI {self.name!r} is measured in {self.unit!r}, "
                             f"got {self.threshold.unit!r}")
        if self.unit == "Percent" and not 0 <= self.threshold.limit <= 100:
            raise ValueError(f"threshold.limit: a percentage is between 0 and 100, got {self.threshold.limit}")
        return self

    def query(self) -> tuple[str, str, dict[str, str], str]:
        """(namespace, metric, dimensions, statistic): what hooks/cloudwatch.py `key_metric_queries` asks."""
        return self.namespace, self.metric, dict(self.dimensions), self.statistic


class EstateMonitoring(_Strict):
    """What the estate's CloudWatch alarms watch beyond health checks and databases, and where the
    key-metrics report reads from (caches, Sentry, Mixpanel)."""

    load_balancers: list[LoadBalancer] = []
    canaries: Canaries | None = None
    # ElastiCache cluster ids (the CacheClusterId dimension) whose hit rate is reported.
    caches: list[str] = []
    sentry: SentrySettings | None = None
    mixpanel: MixpanelSettings | None = None
    # Custom business KPIs (plan §2.2): CloudWatch metrics reported and judged beside the key metrics.
    custom_kpis: list[CustomKpi] = []

    @field_validator("caches")
    @classmethod
    def _cache_ids(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not re.fullmatch(r"[a-z][a-z0-9-]{0,49}", c)]
        if bad:
            raise ValueError(f"ElastiCache cluster ids (lower-case letter first, then letters, digits, -), got {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"caches must be unique, got {value}")
        return value

    @field_validator("custom_kpis")
    @classmethod
    def _unique_kpi_names(cls, value: list[CustomKpi]) -> list[CustomKpi]:
        dupes = _repeated(k.name for k in value)
        if dupes:
            raise ValueError(f"custom KPI names must be unique, repeated {dupes}")
        return value

    @model_validator(mode="after")
    def _kpi_names_are_not_caches(self) -> EstateMonitoring:
        # A KPI's name is its resource in findings, as a cache id is: one name, one thing.
        both = sorted({k.name for k in self.custom_kpis} & set(self.caches))
        if both:
            raise ValueError(f"custom_kpis: names must differ from the caches' ids, both have {both}")
        return self

    @field_validator("load_balancers")
    @classmethod
    def _unique_load_balancers(cls, value: list[LoadBalancer]) -> list[LoadBalancer]:
        dupes = _repeated(lb.load_balancer for lb in value)
        if dupes:
            raise ValueError(f"load balancers must be unique, repeated {dupes}")
        return value


class Estate(_Strict):
    estate: EstateInfo
    aws: AwsSettings
    reports_bucket: str = Field(pattern=BUCKET_NAME)
    databases: list[Database]
    documents: list[DocumentStore]
    logs: LogSettings
    health_checks: list[HealthCheck] = Field(min_length=1)
    pagerduty: PagerDutySettings
    statuspage: StatuspageSettings | None = None  # no status page: nothing is posted or checked
    slack: SlackSettings
    clients: list[Client]
    invoicing: EstateInvoicing = EstateInvoicing()
    monitoring: EstateMonitoring = EstateMonitoring()

    @property
    def route53_health_checks(self) -> list[HealthCheck]:
        """The availability endpoints that are Route 53 health checks (what Route 53 and the
        HealthCheckStatus alarms know); `health_checks` also holds ALB target groups."""
        return [h for h in self.health_checks if h.kind == "route53_health_check"]

    @model_validator(mode="after")
    def _unique_ids(self) -> Estate:
        for label, ids in (
            ("databases", [d.id for d in self.databases]),
            ("health_checks", [h.id for h in self.health_checks]),
            ("clients", [c.id for c in self.clients]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{label}: ids must be unique, repeated {dupes}")
        # A KPI's name is its resource in findings, as a database id is: one name, one thing.
        both = sorted({k.name for k in self.monitoring.custom_kpis} & {d.id for d in self.databases})
        if both:
            raise ValueError(f"monitoring.custom_kpis: names must differ from the databases' ids, both have {both}")
        return self

    @model_validator(mode="after")
    def _canary_service_is_the_estates(self) -> Estate:
        canaries = self.monitoring.canaries
        services = [s.id for s in self.pagerduty.services]
        if canaries is not None and canaries.pagerduty.service not in services:
            raise ValueError(f"monitoring.canaries.pagerduty.service: {canaries.pagerduty.service!r} is not one of "
                             f"pagerduty.services {services}")
        return self

    @model_validator(mode="after")
    def _statuspage_services_are_the_estates(self) -> Estate:
        if self.statuspage is None:
            return self
        services = [s.id for s in self.pagerduty.services]
        unknown = sorted(set(self.statuspage.components) - set(services))
        if unknown:
            raise ValueError(f"statuspage.components: {unknown} are not pagerduty.services {services}")
        return self

    @model_validator(mode="after")
    def _log_archive_is_not_a_document_bucket(self) -> Estate:
        # Log archives expire after a year; documents are kept indefinitely (plan §4.1). Pruning's
        # document guard refuses such a run too, but the estate is wrong before any run.
        archive = self.logs.archive_bucket.lower()
        for i, store in enumerate(self.documents):
            for key, bucket in (("bucket", store.bucket), ("replica_bucket", store.replica_bucket)):
                if bucket.lower() == archive:
                    raise ValueError(
                        f"logs.archive_bucket: {self.logs.archive_bucket!r} is also documents[{i}].{key}; the log "
                        f"archive expires objects after the log retention period and documents are kept "
                        f"indefinitely (plan §4.1): name a bucket of its own")
        return self


# --------------------------------------------------------------------------- loading


def _format_location(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


class _LoadProblem(Exception):
    """What the loader refuses; `_read_yaml` names the file."""


# An integer written with more characters than this is no setting (int64 has 19 digits).
MAX_INTEGER_CHARS = 20


class _TextDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text for pydantic to parse: YAML's own timestamp parsing
    fails on an unquoted 2026-13-01 with a bare ValueError that names neither file nor key.

    It also refuses what would let a file say two things or more than it shows: a key given twice
    in one mapping (YAML keeps the last one silently) and aliases (`*name` repeats a value from
    elsewhere; nested, a few lines expand to billions of values). An integer longer than
    MAX_INTEGER_CHARS becomes a HugeNumber that every field refuses by name. A number with a point
    stays the text it is (`5000.00`, not the float 5000.0; `1.0e+999999` not inf): every field here is
    an int, a Decimal or text, and a Decimal is read from what the person wrote.
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _LoadProblem(
                f"line {event.start_mark.line + 1}, column {event.start_mark.column + 1}: the alias *{event.anchor} "
                f"is not accepted: a configuration file says each value once, where it applies; write it out")
        return super().compose_node(parent, index)

    def construct_document(self, node):
        self._paths = _node_paths(node)
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            self.flatten_mapping(node)
            first: dict[Any, Any] = {}
            for key_node, _value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = first.setdefault(key, key_node)
                except TypeError:
                    continue  # an unhashable key: SafeConstructor says so, with its line
                if earlier is not key_node:
                    path = _format_location((*self._paths.get(node, ()), str(key)))
                    raise _LoadProblem(
                        f"{path}: the key {key!r} is given twice in one mapping, at line {earlier.start_mark.line + 1} "
                        f"and at line {key_node.start_mark.line + 1}; a file says each thing once: keep one")
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        if len(node.value.replace("_", "").lstrip("+-")) > MAX_INTEGER_CHARS:
            return HugeNumber(node.value, node.start_mark.line + 1)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        return self.construct_scalar(node)


_TextDatesLoader.add_constructor("tag:yaml.org,2002:int", _TextDatesLoader.construct_yaml_int)
_TextDatesLoader.add_constructor("tag:yaml.org,2002:float", _TextDatesLoader.construct_yaml_float)


def _node_paths(root: yaml.Node) -> dict[yaml.Node, tuple]:
    """The key path of every mapping and sequence node (for messages), without recursion."""
    paths: dict[yaml.Node, tuple] = {}
    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, MappingNode):
            paths[node] = path
            stack.extend((value, (*path, key.value if isinstance(key, ScalarNode) else "?"))
                         for key, value in node.value)
        elif isinstance(node, SequenceNode):
            paths[node] = path
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return paths


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _read_yaml(path: Path) -> object:
    if not path.exists():
        raise ConfigError(f"{path}: file not found")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_TextDatesLoader)  # a SafeLoader subclass
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except _LoadProblem as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply to be a configuration file") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from exc


def _validate(model: type[BaseModel], path: Path) -> BaseModel:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            lines.append(f"{path}: {_describe(err)}")
        raise ConfigError("\n".join(lines)) from None


def _describe(err: Any) -> str:
    """One pydantic error as `key.path: what was expected (got what)`."""
    where = _format_location(err["loc"])
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    value = err.get("input")
    if err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
        if not err["loc"] and ":" in msg:
            return msg  # a whole-file rule names its own key path
    if err["type"] == "missing" or isinstance(value, dict) or (err["type"] == "value_error" and "got " in msg):
        return f"{where}: {msg}"  # a whole section, or our own message names the value already
    shown = repr(value)
    if len(shown) > 100:
        shown = f"{shown[:100]}… ({len(shown):,} characters)"
    return f"{where}: {msg} (got {shown})"


def _check_cross_references(plan: Plan, estate: Estate, estate_path: Path) -> None:
    if estate.monitoring.custom_kpis and "custom_kpi_breached" not in plan.finding_severities:
        raise ConfigError(f"{estate_path}: monitoring.custom_kpis: plan.yaml finding_severities has no "
                          "custom_kpi_breached (the severity of a KPI past its threshold)")
    for i, client in enumerate(estate.clients):
        for where, tier in [(f"clients[{i}].tier", client.tier)] + [
            (f"clients[{i}].tier_changes[{j}].tier", c.tier) for j, c in enumerate(client.tier_changes)
        ]:
            if tier not in plan.tiers:
                raise ConfigError(
                    f"{estate_path}: {where}: unknown tier {tier!r}; plan.yaml defines {sorted(plan.tiers)}"
                )


def plan_path() -> Path:
    return Path(os.environ.get("ESTATE_OPS_PLAN") or DEFAULT_PLAN_PATH)


def estate_path() -> Path:
    return Path(os.environ.get("ESTATE_OPS_ESTATE") or DEFAULT_ESTATE_PATH)


@lru_cache(maxsize=8)
def _load(plan_file: Path, estate_file: Path, _stamp: tuple) -> tuple[Plan, Estate]:
    plan = _validate(Plan, plan_file)
    estate = _validate(Estate, estate_file)
    _check_cross_references(plan, estate, estate_file)
    return plan, estate  # type: ignore[return-value]


def releases_path(estate: Estate, estate_file: Path) -> Path | None:
    """The releases file estate.yaml names, resolved against its folder; None when inline."""
    name = estate.pagerduty.releases_file
    return (estate_file.parent / name).resolve() if name else None


@lru_cache(maxsize=8)
def _with_releases_file(plan_file: Path, estate_file: Path, stamp: tuple, releases_file: Path,
                        _releases_stamp: int | None) -> tuple[Plan, Estate]:
    plan, estate = _load(plan_file, estate_file, stamp)
    where = f"{estate_file}: pagerduty.releases_file"
    if not releases_file.is_file():
        raise ConfigError(f"{where}: {releases_file} not found (expected a YAML list of release dates)")
    data = _read_yaml(releases_file)
    if isinstance(data, dict) and set(data) == {"releases"}:
        data = data["releases"]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{releases_file}: expected a non-empty YAML list of release dates "
                          f"(YYYY-MM-DD), got {type(data).__name__} (named by {where})")
    try:
        dates = TypeAdapter(list[dt.date]).validate_python(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{releases_file}: {_describe(err)}" for err in exc.errors(include_url=False))) from None
    pagerduty = estate.pagerduty.model_copy(update={"releases": sorted(dates)})
    return plan, estate.model_copy(update={"pagerduty": pagerduty})


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def load_config() -> tuple[Plan, Estate]:
    """Both files, validated together (the estate refers to the plan's tiers), with the releases
    file estate.yaml may name read in."""
    plan_file, estate_file = plan_path(), estate_path()
    # The files' mtimes are part of the cache keys, so an edited file is read again.
    stamp = (_mtime(plan_file), _mtime(estate_file))
    plan, estate = _load(plan_file, estate_file, stamp)
    releases_file = releases_path(estate, estate_file)
    if releases_file is None:
        return plan, estate
    return _with_releases_file(plan_file, estate_file, stamp, releases_file, _mtime(releases_file))


def load_plan() -> Plan:
    return load_config()[0]


def load_estate() -> Estate:
    return load_config()[1]


def clear_cache() -> None:
    """Forget loaded files (tests and long-lived processes that edit them)."""
    _load.cache_clear()
    _with_releases_file.cache_clear()
