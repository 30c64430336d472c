"""The plan and the estate as validated data: the shipped files load, and every kind of bad file
gets one clear message naming the file, the key path and what was expected."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from estate_ops import config
from estate_ops.config import ConfigError, load_config

PLAN = yaml.safe_load(config.DEFAULT_PLAN_PATH.read_text())
ESTATE = yaml.safe_load(config.DEFAULT_ESTATE_PATH.read_text())
# The shipped files as text, for what only text can say (a key twice, an alias, a number as written).
PLAN_TEXT = config.DEFAULT_PLAN_PATH.read_text()
ESTATE_TEXT = config.DEFAULT_ESTATE_PATH.read_text()


@pytest.fixture
def files(tmp_path, monkeypatch):
    """Write (plan, estate) dicts to tmp files and point ESTATE_OPS_PLAN/ESTATE_OPS_ESTATE at them."""

    def write(plan=PLAN, estate=ESTATE, *, plan_text=None, estate_text=None):
        plan_file, estate_file = tmp_path / "plan.yaml", tmp_path / "estate.yaml"
        plan_file.write_text(plan_text if plan_text is not None else yaml.safe_dump(plan))
        estate_file.write_text(estate_text if estate_text is not None else yaml.safe_dump(estate))
        monkeypatch.setenv("ESTATE_OPS_PLAN", str(plan_file))
        monkeypatch.setenv("ESTATE_OPS_ESTATE", str(estate_file))
        return plan_file, estate_file

    yield write
    config.clear_cache()


def replaced(text: str, old: str, new: str) -> str:
    """`text` with its one `old` replaced by `new` (so a row cannot silently edit nothing)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, fragment: str, nth: int = 1) -> int:
    """The line number of the `nth` line of `text` that starts with `fragment`."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith(fragment)]
    return lines[nth - 1]


def edited(data: dict, path: str, value=..., *, delete: bool = False) -> dict:
    """A deep copy of `data` with the value at dotted `path` replaced or deleted."""
    copy = yaml.safe_load(yaml.safe_dump(data))
    node = copy
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parts[:-1]:
        node = node[part]
    if delete:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return copy


def test_shipped_files_load_with_the_plans_figures():
    plan, estate = load_config()
    assert plan.plan.version == "1.0.0"
    assert plan.availability.target_percent == Decimal("99.9")
    assert (plan.severities["P0"].response_minutes, plan.severities["P0"].resolution_minutes) == (15, 240)
    assert plan.severities["P3"].resolution == "next_release"
    assert (plan.recovery.rpo_minutes, plan.recovery.rto_minutes) == (60, 240)
    assert {k: (t.hours_per_month, t.monthly_fee) for k, t in plan.tiers.items()} == {
        "basic": (20, Decimal("5000.00")), "standard": (40, Decimal("10000.00")), "premium": (80, Decimal("18000.00"))}
    assert plan.backups.logs.retention_days == 365 and plan.backups.database.retention_days == 30
    assert estate.reports_bucket and estate.databases and estate.health_checks
    assert plan.monitoring.severity_tag == "severity" and plan.monitoring.insufficient_data_hours == 24
    assert set(plan.monitoring.required_alarms) == {"route53_health_check", "load_balancer", "target_group",
                                                    "rds_instance"}
    assert {"resource_unmonitored", "alarm_missing", "alarm_not_paging", "alarm_not_in_slack",
            "alarm_actions_disabled", "alarm_topic_unconfirmed"} <= set(plan.finding_severities)
    assert estate.monitoring.load_balancers and estate.monitoring.load_balancers[0].target_groups


def test_endpoints_are_route53_checks_by_default_and_an_alb_target_group_is_named_by_its_dimensions(files):
    rows = [{"id": "0b6a7a4e-0000-4000-8000-0000000000aa", "name": "api"},
            {"kind": "alb_target_group", "name": "web-targets", "critical": False,
             "load_balancer": "app/other-web/0123456789abcdef", "target_group": "targetgroup/web/fedcba9876543210"}]
    files(estate=edited(ESTATE, "health_checks", rows))
    estate = load_config()[1]
    r53, alb = estate.health_checks
    assert (r53.kind, r53.id, r53.load_balancer, r53.target_group) == ("route53_health_check", rows[0]["id"], None, None)
    assert alb.kind == "alb_target_group" and not alb.critical
    assert alb.id == "app/other-web/0123456789abcdef/targetgroup/web/fedcba9876543210"
    assert estate.route53_health_checks == [r53]


def test_an_estate_without_a_monitoring_section_has_no_load_balancers(files):
    files(estate=edited(ESTATE, "monitoring", delete=True))
    assert load_config()[1].monitoring.load_balancers == []


def test_an_estate_without_a_status_page_loads_without_one(files):
    files(estate=edited(ESTATE, "statuspage", delete=True))
    _, estate = load_config()
    assert estate.statuspage is None


def test_status_page_components_of_services_in_order_once(files):
    files(estate=edited(ESTATE, "statuspage.components.PLEGWEB", ["cmpweb0legacy", "cmpapi0legacy"]))
    _, estate = load_config()
    assert estate.statuspage.components_of(["PLEGWEB", "PLEGAPI"]) == ["cmpweb0legacy", "cmpapi0legacy"]
    assert estate.statuspage.components_of(["PNOPE"]) == []


def test_client_tier_follows_its_changes():
    _, estate = load_config()
    contoso = next(c for c in estate.clients if c.tier_changes)
    change = contoso.tier_changes[0]
    assert contoso.tier_on(change.effective - dt.timedelta(days=1)) == contoso.tier
    assert contoso.tier_on(change.effective) == change.tier


BAD_PLANS = [
    # (id, plan, expected message fragments)
    ("unknown key", edited(PLAN, "availability.target_pct", "99.9"), ["availability.target_pct", "unknown key"]),
    ("wrong type", edited(PLAN, "recovery.rpo_minutes", "an hour"), ["recovery.rpo_minutes", "integer"]),
    ("tier without hours", edited(PLAN, "tiers.basic.hours_per_month", delete=True),
     ["tiers.basic.hours_per_month", "Field required"]),
    ("severity without target", edited(PLAN, "severities.P1.response_minutes", delete=True),
     ["severities.P1.response_minutes", "Field required"]),
    ("severity missing", edited(PLAN, "severities.P2", delete=True), ["severities", "missing ['P2']"]),
    ("two resolution targets", edited(PLAN, "severities.P3.resolution_minutes", 60),
     ["severities.P3", "exactly one of resolution_minutes"]),
    ("log retention not allowed by CloudWatch", edited(PLAN, "backups.logs.retention_days", 366),
     ["backups.logs.retention_days", "366"]),
    ("db retention out of RDS range", edited(PLAN, "backups.database.retention_days", 40),
     ["backups.database.retention_days", "less than or equal to 35"]),
    ("unknown category", edited(PLAN, "tiers.basic.includes", ["bug_fix", "gardening"]),
     ["tiers.basic.includes[1]", "gardening"]),
    ("fee with fractions of cents", edited(PLAN, "tiers.basic.monthly_fee", "5000.001"),
     ["tiers.basic.monthly_fee", "decimal places"]),
    ("severity routed twice", edited(PLAN, "alert_routing.slack", ["P1", "P2", "P3"]),
     ["alert_routing", "exactly once"]),
    ("bad time zone", edited(PLAN, "plan.timezone", "Eastern"), ["plan.timezone", "IANA"]),
    ("window ends before it starts", edited(PLAN, "availability.maintenance.local_end", "01:00"),
     ["availability.maintenance", "must be after"]),
    ("empty protect tags", edited(PLAN, "retention_pruning.protect_tags", []),
     ["retention_pruning.protect_tags", "at least 1"]),
    ("a protect tag of only separators", edited(PLAN, "retention_pruning.protect_tags", ["legal-hold", " - "]),
     ["retention_pruning.protect_tags: tag names must not be blank or only separators"]),
    # A file says exactly one thing: a key twice is an error naming both lines (YAML keeps the last).
    ("two retention_pruning blocks", PLAN_TEXT + "\nretention_pruning:\n  keep_newest_manual_snapshots: 0\n",
     ["retention_pruning: the key 'retention_pruning' is given twice",
      f"at line {line_of(PLAN_TEXT, 'retention_pruning:')} and at line {len(PLAN_TEXT.splitlines()) + 2}"]),
    ("a key twice in a block", replaced(PLAN_TEXT, "  rpo_minutes: 60\n", "  rpo_minutes: 60\n  rpo_minutes: 600\n"),
     ["recovery.rpo_minutes: the key 'rpo_minutes' is given twice",
      f"at line {line_of(PLAN_TEXT, '  rpo_minutes:')} and at line {line_of(PLAN_TEXT, '  rpo_minutes:') + 1}"]),
    ("a key twice in a flow mapping", replaced(PLAN_TEXT, "P0: {name: Critical,", "P0: {name: Critical, name: Low,"),
     ["severities.P0.name: the key 'name' is given twice", f"line {line_of(PLAN_TEXT, '  P0:')}"]),
    # Aliases are refused where they are, before anything is expanded.
    ("an alias", replaced(PLAN_TEXT, "  slack: [P2, P3]", "  slack: &low [P2, P3]\n  pagerduty_too: *low"),
     [f"line {line_of(PLAN_TEXT, '  slack:') + 1}, column 18: the alias *low is not accepted"]),
    ("billion laughs", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
                       + "".join(f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")),
     ["line 2, column 8: the alias *a is not accepted"]),
    ("nested too deeply", "plan: " + "[" * 5_000 + "]" * 5_000 + "\n", ["nested too deeply"]),
    # Numbers are bounded, and an integer of thousands of digits never reaches int().
    ("integer of thousands of digits", replaced(PLAN_TEXT, "rpo_minutes: 60", "rpo_minutes: " + "9" * 5_000),
     ["recovery.rpo_minutes: a whole number more than 0 and at most 525600",
      f"got an integer of 5,000 digits at line {line_of(PLAN_TEXT, '  rpo_minutes:')}"]),
    ("negative integer of thousands of digits",
     replaced(PLAN_TEXT, "keep_newest_manual_snapshots: 7", "keep_newest_manual_snapshots: -" + "1" * 4_301),
     ["retention_pruning.keep_newest_manual_snapshots: a whole number at least 0 and at most 10000",
      "an integer of 4,301 digits"]),
    ("integer of thousands of digits where text belongs",
     replaced(PLAN_TEXT, 'version: "1.0.0"', "version: " + "7" * 5_000),
     ["plan.version: Input should be a valid string (got an integer of 5,000 digits at line 6)"]),
    ("integer beyond its range", edited(PLAN, "recovery.rto_minutes", 10**15),
     ["recovery.rto_minutes", "less than or equal to 525600"]),
    ("hours beyond a year", edited(PLAN, "postmortem.within_hours", 8_761),
     ["postmortem.within_hours", "less than or equal to 8760"]),
    ("too many deletions allowed", edited(PLAN, "retention_pruning.max_deletions_per_run", 10_001),
     ["retention_pruning.max_deletions_per_run", "less than or equal to 10000"]),
    # Money and percentages are plain decimals: no exponent, inf or nan, bounded digits.
    ("fee in exponent form", edited(PLAN, "tiers.basic.monthly_fee", "1e999999"),
     ["tiers.basic.monthly_fee: a plain decimal number at least 0 and at most 999999999 with at most 2 decimal",
      "no exponent", "got '1e999999'"]),
    ("fee written as a YAML float with an exponent",
     replaced(PLAN_TEXT, 'monthly_fee: "5000.00"', "monthly_fee: 1.0e+999999"),
     ["tiers.basic.monthly_fee: a plain decimal number", "got '1.0e+999999'"]),
    ("fee infinite", replaced(PLAN_TEXT, 'monthly_fee: "10000.00"', "monthly_fee: .inf"),
     ["tiers.standard.monthly_fee: a plain decimal number", "got '.inf'"]),
    ("fee not a number", edited(PLAN, "tiers.premium.monthly_fee", "NaN"),
     ["tiers.premium.monthly_fee: a plain decimal number", "got 'NaN'"]),
    ("fee of thousands of digits", replaced(PLAN_TEXT, 'monthly_fee: "5000.00"', "monthly_fee: " + "9" * 5_000),
     ["tiers.basic.monthly_fee: a plain decimal number", "got an integer of 5,000 digits"]),
    ("fee of too many digits as text", edited(PLAN, "tiers.basic.monthly_fee", "1" * 5_000 + ".00"),
     ["tiers.basic.monthly_fee: a plain decimal number", "(5,003 characters)"]),
    ("fee above its range", edited(PLAN, "tiers.basic.monthly_fee", "1000000000.00"),
     ["tiers.basic.monthly_fee", "less than or equal to 999999999"]),
    ("fee negative", edited(PLAN, "tiers.basic.monthly_fee", "-5.00"),
     ["tiers.basic.monthly_fee", "greater than or equal to 0"]),
    ("fee a boolean", edited(PLAN, "tiers.basic.monthly_fee", True),
     ["tiers.basic.monthly_fee: a plain decimal number", "got True"]),
    ("percentage in exponent form", edited(PLAN, "availability.target_percent", "9.99e1"),
     ["availability.target_percent: a plain decimal number more than 0 and at most 100", "got '9.99e1'"]),
    ("fraction infinite", edited(PLAN, "retention_pruning.max_fraction_per_database", "Infinity"),
     ["retention_pruning.max_fraction_per_database: a plain decimal number at least 0 and at most 1"]),
    # monitoring (issue 16): the required-alarm table and its thresholds.
    ("unknown resource kind for required alarms", edited(PLAN, "monitoring.required_alarms.elasticache",
                                                         PLAN["monitoring"]["required_alarms"]["rds_instance"]),
     ["monitoring.required_alarms.elasticache", "route53_health_check"]),
    ("required alarm with an unknown comparison",
     edited(PLAN, "monitoring.required_alarms.rds_instance.0.comparison", "Above"),
     ["monitoring.required_alarms.rds_instance[0].comparison", "GreaterThanThreshold", "Above"]),
    ("required alarm with a statistic CloudWatch lacks",
     edited(PLAN, "monitoring.required_alarms.target_group.1.statistic", "p999"),
     ["monitoring.required_alarms.target_group[1].statistic", "pattern", "p999"]),
    ("required alarm with an unknown severity",
     edited(PLAN, "monitoring.required_alarms.route53_health_check.0.severity", "critical"),
     ["monitoring.required_alarms.route53_health_check[0].severity", "'P0', 'P1', 'P2' or 'P3'"]),
    ("required alarm named twice", edited(PLAN, "monitoring.required_alarms.rds_instance.1.name", "cpu"),
     ["monitoring.required_alarms", "rds_instance: required alarm names must be unique, repeated ['cpu']"]),
    ("insufficient-data threshold of zero", edited(PLAN, "monitoring.insufficient_data_hours", 0),
     ["monitoring.insufficient_data_hours", "greater than 0"]),
    ("blank severity tag key", edited(PLAN, "monitoring.severity_tag", ""), ["monitoring.severity_tag", "pattern"]),
    # key metrics (issue 15): thresholds in their metric's unit, one per metric, each breach with a severity.
    ("latency threshold in milliseconds",
     edited(PLAN, "monitoring.key_metrics.thresholds.latency_p99.unit", "milliseconds"),
     ["monitoring.key_metrics.thresholds", "latency_p99.unit: latency_p99 is measured in 'seconds'",
      "'milliseconds'"]),
    ("error rate as a fraction",
     edited(PLAN, "monitoring.key_metrics.thresholds.error_rate.unit", "fraction"),
     ["error_rate.unit: error_rate is measured in 'percent'", "'fraction'"]),
    ("hit rate over 100 percent", edited(PLAN, "monitoring.key_metrics.thresholds.cache_hit_rate.limit", "190"),
     ["cache_hit_rate.limit: a percentage is at most 100"]),
    ("threshold for an unknown metric",
     edited(PLAN, "monitoring.key_metrics.thresholds.latency_p999",
            PLAN["monitoring"]["key_metrics"]["thresholds"]["latency_p99"]),
     ["monitoring.key_metrics.thresholds", "unknown metrics ['latency_p999']"]),
    ("metric without a threshold", edited(PLAN, "monitoring.key_metrics.thresholds.error_rate", delete=True),
     ["a threshold for every key metric, missing ['error_rate']"]),
    ("threshold with an unknown direction",
     edited(PLAN, "monitoring.key_metrics.thresholds.error_rate.direction", "below"),
     ["monitoring.key_metrics.thresholds.error_rate.direction", "'at_most' or 'at_least'"]),
    ("threshold written as a float exponent",
     edited(PLAN, "monitoring.key_metrics.thresholds.latency_p50.limit", "3e-1"),
     ["monitoring.key_metrics.thresholds.latency_p50.limit", "a plain decimal number"]),
    ("breach without a severity", edited(PLAN, "finding_severities.error_rate_breached", delete=True),
     ["finding_severities: a severity for each key-metric breach, missing ['error_rate_breached']"]),
    ("no monitoring section", edited(PLAN, "monitoring", delete=True), ["monitoring", "Field required"]),
    ("drill timeout of zero", edited(PLAN, "monitoring.drill.pagerduty_timeout_minutes", 0),
     ["monitoring.drill.pagerduty_timeout_minutes", "greater than 0"]),
    ("drill polling every second", edited(PLAN, "monitoring.drill.poll_seconds", 1),
     ["monitoring.drill.poll_seconds", "greater than or equal to 5"]),
]

BAD_ESTATES = [
    ("unknown key", edited(ESTATE, "aws.regoin", "us-east-1"), ["aws.regoin", "unknown key"]),
    ("bad account id", edited(ESTATE, "aws.account_id", "12345"), ["aws.account_id", "pattern"]),
    ("bad bucket name", edited(ESTATE, "reports_bucket", "Reports_Bucket"), ["reports_bucket", "pattern"]),
    ("health check id not a UUID", edited(ESTATE, "health_checks.0.id", "api-check"), ["health_checks[0].id"]),
    # health_checks: an availability endpoint is a Route 53 health check (default) or an ALB target group.
    ("unknown endpoint kind", edited(ESTATE, "health_checks.3.kind", "alb"),
     ["health_checks[3].kind", "'route53_health_check' or 'alb_target_group'", "got 'alb'"]),
    ("ALB endpoint without its target group", edited(ESTATE, "health_checks.3.target_group", delete=True),
     ["health_checks[3].target_group", "kind alb_target_group needs its target_group dimension value"]),
    ("ALB endpoint without its load balancer", edited(ESTATE, "health_checks.3.load_balancer", delete=True),
     ["health_checks[3].load_balancer", "needs its load_balancer dimension value", "app/<name>/<16 hex digits>"]),
    ("ALB endpoint's load balancer as a full ARN",
     edited(ESTATE, "health_checks.3.load_balancer",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/legacy-web/5d1c0a8f3e2b4c6d"),
     ["health_checks[3].load_balancer", "pattern"]),
    ("ALB endpoint given an id", edited(ESTATE, "health_checks.3.id", "api-targets"),
     ["health_checks[3].id", "its id is derived from them", "'api-targets'"]),
    ("Route 53 check given a target group",
     edited(ESTATE, "health_checks.0.target_group", "targetgroup/legacy-api/7a3e9c1b5d2f4e6a"),
     ["health_checks[0].target_group", "only an endpoint of kind alb_target_group has a target_group"]),
    ("Route 53 check without an id", edited(ESTATE, "health_checks.0.id", delete=True),
     ["health_checks[0].id", "a Route 53 health check id", "(none given)"]),
    ("ALB endpoint twice", edited(ESTATE, "health_checks", ESTATE["health_checks"] + [dict(ESTATE["health_checks"][3])]),
     ["health_checks: ids must be unique", "app/legacy-web/5d1c0a8f3e2b4c6d/targetgroup/legacy-api/"]),
    ("unknown tier", edited(ESTATE, "clients.0.tier", "gold"), ["clients[0].tier", "unknown tier 'gold'"]),
    ("unknown severity in priority map", edited(ESTATE, "pagerduty.priority_map.PPRIP00", "P5"),
     ["pagerduty.priority_map.PPRIP00", "'P0', 'P1', 'P2' or 'P3'"]),
    ("duplicate database ids", edited(ESTATE, "databases.1.id", ESTATE["databases"][0]["id"]),
     ["databases: ids must be unique"]),
    ("bad release date", edited(ESTATE, "pagerduty.releases", ["2026-13-01"]), ["pagerduty.releases[0]"]),
    ("bad regex", edited(ESTATE, "pagerduty.postmortem_note_pattern", "post(mortem"),
     ["pagerduty.postmortem_note_pattern", "regular expression"]),
    ("missing section", edited(ESTATE, "slack", delete=True), ["slack", "Field required"]),
    ("two clients lists", ESTATE_TEXT + "\nclients: []\n",
     ["clients: the key 'clients' is given twice",
      f"at line {line_of(ESTATE_TEXT, 'clients:')} and at line {len(ESTATE_TEXT.splitlines()) + 2}"]),
    ("a client's tier twice", replaced(ESTATE_TEXT, "    tier: basic\n", "    tier: basic\n    tier: premium\n"),
     ["clients[0].tier: the key 'tier' is given twice",
      f"at line {line_of(ESTATE_TEXT, '    tier: basic')} and at line {line_of(ESTATE_TEXT, '    tier: basic') + 1}"]),
    ("an alias", replaced(ESTATE_TEXT, "    replica_bucket: legacy-documents-replica",
                          "    replica_bucket: &replica legacy-documents-replica")
     + "\nextra_replicas: [*replica]\n",
     [f"line {len(ESTATE_TEXT.splitlines()) + 2}, column 18: the alias *replica is not accepted"]),
    # A log archive expires what it holds: never a document bucket or its replica (kept indefinitely).
    ("log archive is a document bucket", edited(ESTATE, "logs.archive_bucket", ESTATE["documents"][0]["bucket"]),
     [f"logs.archive_bucket: {ESTATE['documents'][0]['bucket']!r} is also documents[0].bucket"]),
    ("log archive is a document replica",
     edited(ESTATE, "logs.archive_bucket", ESTATE["documents"][0]["replica_bucket"]),
     [f"logs.archive_bucket: {ESTATE['documents'][0]['replica_bucket']!r} is also documents[0].replica_bucket",
      "kept indefinitely"]),
    # monitoring.load_balancers: CloudWatch's dimension values, as the end of each ARN.
    ("load balancer given as a full ARN",
     edited(ESTATE, "monitoring.load_balancers.0.load_balancer",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/legacy-web/5d1c0a8f3e2b4c6d"),
     ["monitoring.load_balancers[0].load_balancer", "pattern"]),
    ("target group by name only", edited(ESTATE, "monitoring.load_balancers.0.target_groups", ["legacy-api"]),
     ["monitoring.load_balancers[0].target_groups", "targetgroup/<name>/<16 hex digits>", "legacy-api"]),
    ("target group twice", edited(ESTATE, "monitoring.load_balancers.0.target_groups",
                                  [ESTATE["monitoring"]["load_balancers"][0]["target_groups"][0]] * 2),
     ["monitoring.load_balancers[0].target_groups", "must be unique"]),
    ("load balancer twice", edited(ESTATE, "monitoring.load_balancers",
                                   [yaml.safe_load(yaml.safe_dump(lb)) for lb in ESTATE["monitoring"]["load_balancers"] * 2]),
     ["monitoring.load_balancers", "load balancers must be unique"]),
    ("unknown monitoring key", edited(ESTATE, "monitoring.alb", []), ["monitoring.alb", "unknown key"]),
    # monitoring.canaries (alert_route_drill): one alarm per route, on the estate's own service.
    ("canary on a service the estate does not have", edited(ESTATE, "monitoring.canaries.pagerduty.service", "PNOPE"),
     ["monitoring.canaries.pagerduty.service: 'PNOPE' is not one of pagerduty.services ['PLEGAPI', 'PLEGWEB']"]),
    ("one canary for both routes", edited(ESTATE, "monitoring.canaries.slack.alarm",
                                          ESTATE["monitoring"]["canaries"]["pagerduty"]["alarm"]),
     ["monitoring.canaries", "the two routes need two canary alarms"]),
    ("canary without a channel", edited(ESTATE, "monitoring.canaries.slack.channel", delete=True),
     ["monitoring.canaries.slack.channel", "Field required"]),
    ("drill incident resolved as nobody", edited(ESTATE, "monitoring.canaries.pagerduty.resolve_as", delete=True),
     ["monitoring.canaries.pagerduty.resolve_as", "Field required"]),
    ("drill incident resolved as a name, not an email",
     edited(ESTATE, "monitoring.canaries.pagerduty.resolve_as", "Morgan Reyes"),
     ["monitoring.canaries.pagerduty.resolve_as", "pattern"]),
    # statuspage: the page id and, per PagerDuty service of the estate, its component ids.
    ("status page for a service the estate does not have", edited(ESTATE, "statuspage.components.PNOPE", ["cmpx00001"]),
     ["statuspage.components: ['PNOPE'] are not pagerduty.services ['PLEGAPI', 'PLEGWEB']"]),
    ("status page id with a slash", edited(ESTATE, "statuspage.page_id", "../pages"),
     ["statuspage.page_id", "pattern"]),
    ("a service without components", edited(ESTATE, "statuspage.components.PLEGAPI", []),
     ["statuspage.components", "PLEGAPI: give at least one status-page component id"]),
    ("a component id with markup", edited(ESTATE, "statuspage.components.PLEGWEB", ["<b>x</b>"]),
     ["statuspage.components.PLEGWEB[0]", "pattern"]),
    ("unknown statuspage key", edited(ESTATE, "statuspage.pageid", "x"), ["statuspage.pageid", "unknown key"]),
    ("max_connections of zero", edited(ESTATE, "databases.0.max_connections", 0),
     ["databases[0].max_connections", "greater than 0"]),
    ("cache id with capitals", edited(ESTATE, "monitoring.caches", ["Legacy_Sessions"]),
     ["monitoring.caches", "ElastiCache cluster ids", "Legacy_Sessions"]),
    ("sentry without projects", edited(ESTATE, "monitoring.sentry.projects", []),
     ["monitoring.sentry.projects", "at least 1"]),
    ("sentry project slug with a slash", edited(ESTATE, "monitoring.sentry.projects", ["../admin"]),
     ["monitoring.sentry.projects", "project slugs", "../admin"]),
    ("mixpanel without a weekly report", edited(ESTATE, "monitoring.mixpanel.reports.wau", delete=True),
     ["monitoring.mixpanel.reports.wau", "Field required"]),
    ("mixpanel residency unknown", edited(ESTATE, "monitoring.mixpanel.residency", "mars"),
     ["monitoring.mixpanel.residency", "'us', 'eu' or 'in'"]),
    ("canary alarm name with a newline", edited(ESTATE, "monitoring.canaries.slack.alarm", "canary\nslack"),
     ["monitoring.canaries.slack.alarm", "pattern"]),
    # monitoring.custom_kpis (issue 15): CloudWatch's statistics and units, a threshold in the KPI's unit.
    ("KPI threshold in another unit", edited(ESTATE, "monitoring.custom_kpis.0.threshold.unit", "Milliseconds"),
     ["monitoring.custom_kpis[0]", "threshold.unit", "'Milliseconds'"]),
    ("KPI statistic not CloudWatch's", edited(ESTATE, "monitoring.custom_kpis.0.statistic", "Median"),
     ["monitoring.custom_kpis[0].statistic", "'Median'"]),
    ("KPI percentile of 100", edited(ESTATE, "monitoring.custom_kpis.0.statistic", "p100"),
     ["monitoring.custom_kpis[0].statistic", "'p100'"]),
    ("KPI percentile of 0", edited(ESTATE, "monitoring.custom_kpis.0.statistic", "p0"),
     ["monitoring.custom_kpis[0].statistic", "'p0'"]),
    ("KPI percentile with two decimals", edited(ESTATE, "monitoring.custom_kpis.0.statistic", "p99.99"),
     ["monitoring.custom_kpis[0].statistic", "'p99.99'"]),
    ("KPI unit unknown", edited(ESTATE, "monitoring.custom_kpis.0.unit", "seconds"),
     ["monitoring.custom_kpis[0].unit", "'seconds'"]),
    ("KPI percentage over 100", edited(ESTATE, "monitoring.custom_kpis.1.threshold.limit", "101"),
     ["monitoring.custom_kpis[1]", "threshold.limit", "101"]),
    ("KPI name twice", edited(ESTATE, "monitoring.custom_kpis.1.name", ESTATE["monitoring"]["custom_kpis"][0]["name"]),
     ["monitoring.custom_kpis", "must be unique", ESTATE["monitoring"]["custom_kpis"][0]["name"]]),
    ("KPI named like a cache", edited(ESTATE, "monitoring.custom_kpis.1.name", ESTATE["monitoring"]["caches"][0]),
     ["custom_kpis", ESTATE["monitoring"]["caches"][0]]),
    ("KPI named like a database", edited(ESTATE, "monitoring.custom_kpis.1.name", ESTATE["databases"][0]["id"]),
     ["monitoring.custom_kpis", ESTATE["databases"][0]["id"]]),
    ("KPI name not a slug", edited(ESTATE, "monitoring.custom_kpis.0.name", "Checkout Duration"),
     ["monitoring.custom_kpis[0].name", "pattern"]),
    ("KPI without a threshold", edited(ESTATE, "monitoring.custom_kpis.0.threshold", delete=True),
     ["monitoring.custom_kpis[0].threshold", "Field required"]),
    ("KPI threshold direction unknown", edited(ESTATE, "monitoring.custom_kpis.0.threshold.direction", "below"),
     ["monitoring.custom_kpis[0].threshold.direction", "'at_most' or 'at_least'"]),
]


@pytest.mark.parametrize("name,plan,fragments", BAD_PLANS, ids=[r[0] for r in BAD_PLANS])
def test_bad_plan_is_named(files, name, plan, fragments):
    plan_file, _ = files(plan_text=plan) if isinstance(plan, str) else files(plan=plan)
    with pytest.raises(ConfigError) as err:
        load_config()
    message = str(err.value)
    assert message.startswith(str(plan_file)), message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("name,estate,fragments", BAD_ESTATES, ids=[r[0] for r in BAD_ESTATES])
def test_bad_estate_is_named(files, name, estate, fragments):
    _, estate_file = files(estate_text=estate) if isinstance(estate, str) else files(estate=estate)
    with pytest.raises(ConfigError) as err:
        load_config()
    message = str(err.value)
    assert message.startswith(str(estate_file)), message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("text,fragment", [
    ("plan: [unclosed", "not valid YAML at line 1"),
    ("- just\n- a list\n", "expected a mapping at the top level, got list"),
    ("", "expected a mapping at the top level, got NoneType"),
])
def test_malformed_plan_file(files, text, fragment):
    plan_file, _ = files(plan_text=text)
    with pytest.raises(ConfigError, match=str(plan_file)) as err:
        load_config()
    assert fragment in str(err.value)


def test_a_billion_laughs_is_refused_before_it_is_expanded(files):
    laughs = next(plan for name, plan, _ in BAD_PLANS if name == "billion laughs")
    files(plan_text=laughs)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="alias"):
            load_config()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # expanded, the nine levels would be 9**9 (387 million) strings


def test_numbers_with_a_point_are_read_as_written(files):
    text = replaced(replaced(PLAN_TEXT, 'monthly_fee: "5000.00"', "monthly_fee: 5000.50"),
                    'max_fraction_per_database: "0.20"', "max_fraction_per_database: 0.00001")
    files(plan_text=text)
    plan, _ = load_config()
    # as decimals of what was written: not the floats 5000.5 and 1e-05
    assert str(plan.tiers["basic"].monthly_fee) == "5000.50"
    assert str(plan.retention_pruning.max_fraction_per_database) == "0.00001"


def test_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(ConfigError, match=r"nowhere.yaml: file not found"):
        load_config()


def test_unquoted_impossible_date_is_named(files):
    # YAML would parse an unquoted date itself and fail with a bare ValueError.
    text = yaml.safe_dump(edited(ESTATE, "pagerduty.releases", delete=True)).replace(
        "\npagerduty:\n", "\npagerduty:\n  releases: [2026-10-13, 2026-13-01]\n", 1)  # the top-level key
    _, estate_file = files(estate_text=text)
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert f"{estate_file}: pagerduty.releases[1]" in str(raised.value)
    assert "2026-13-01" in str(raised.value)


def test_non_utf8_file(files, tmp_path):
    plan_file, _ = files()
    plan_file.write_bytes(b"plan:\n  name: \xff\xfe\n")
    config.clear_cache()
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config()


def test_edited_file_is_read_again(files):
    plan_file, _ = files()
    assert load_config()[0].recovery.rpo_minutes == 60
    plan_file.write_text(yaml.safe_dump(edited(PLAN, "recovery.rpo_minutes", 30)))
    import os
    os.utime(plan_file, ns=(1, 2))  # a different mtime even within the filesystem's resolution
    assert load_config()[0].recovery.rpo_minutes == 30


def test_default_paths_are_the_shipped_files(monkeypatch):
    monkeypatch.delenv("ESTATE_OPS_PLAN", raising=False)
    monkeypatch.delenv("ESTATE_OPS_ESTATE", raising=False)
    assert config.plan_path() == Path(config.PROJECT_ROOT / "include" / "plan.yaml")


# ------------------------------------------------------------------ custom KPIs (issue 15)


def test_kpi_units_are_cloudwatchs_standard_units():
    import botocore.session

    model = botocore.session.get_session().get_service_model("cloudwatch")
    assert set(config.CLOUDWATCH_UNITS) == set(model.shape_for("StandardUnit").enum)


@pytest.mark.parametrize("statistic", ["Sum", "Average", "Minimum", "Maximum", "SampleCount", "p50", "p99.9", "p1"])
def test_a_kpi_takes_cloudwatchs_statistics(files, statistic):
    files(estate=edited(ESTATE, "monitoring.custom_kpis.0.statistic", statistic))
    assert load_config()[1].monitoring.custom_kpis[0].statistic == statistic


def test_a_kpi_may_read_an_aws_namespace(files):
    files(estate=edited(ESTATE, "monitoring.custom_kpis.0.namespace", "AWS/ApplicationELB"))
    assert load_config()[1].monitoring.custom_kpis[0].namespace == "AWS/ApplicationELB"


def test_a_percent_kpi_of_exactly_100_loads(files):
    files(estate=edited(ESTATE, "monitoring.custom_kpis.1.threshold.limit", "100"))
    kpi = load_config()[1].monitoring.custom_kpis[1]
    assert kpi.unit == "Percent" and kpi.threshold.limit == Decimal(100)


def test_kpis_need_a_breach_severity_in_the_plan(files):
    plan = edited(PLAN, "finding_severities.custom_kpi_breached", delete=True)
    _, estate_file = files(plan=plan)
    with pytest.raises(ConfigError, match="custom_kpi_breached") as err:
        load_config()
    assert str(err.value).startswith(str(estate_file))
    # without KPIs the plan needs no such severity
    files(plan=plan, estate=edited(ESTATE, "monitoring.custom_kpis", delete=True))
    assert load_config()[1].monitoring.custom_kpis == []
