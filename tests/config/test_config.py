"""The plan and the estate as validated data: the shipped files load, and every kind of bad file
gets one clear message naming the file, the key path and what was expected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from estate_ops import config
from estate_ops.config import ConfigError, load_config

PLAN = yaml.safe_load(config.DEFAULT_PLAN_PATH.read_text())
ESTATE = yaml.safe_load(config.DEFAULT_ESTATE_PATH.read_text())


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
]

BAD_ESTATES = [
    ("unknown key", edited(ESTATE, "aws.regoin", "us-east-1"), ["aws.regoin", "unknown key"]),
    ("bad account id", edited(ESTATE, "aws.account_id", "12345"), ["aws.account_id", "pattern"]),
    ("bad bucket name", edited(ESTATE, "reports_bucket", "Reports_Bucket"), ["reports_bucket", "pattern"]),
    ("health check id not a UUID", edited(ESTATE, "health_checks.0.id", "api-check"), ["health_checks[0].id"]),
    ("unknown tier", edited(ESTATE, "clients.0.tier", "gold"), ["clients[0].tier", "unknown tier 'gold'"]),
    ("unknown severity in priority map", edited(ESTATE, "pagerduty.priority_map.PPRIP00", "P5"),
     ["pagerduty.priority_map.PPRIP00", "'P0', 'P1', 'P2' or 'P3'"]),
    ("duplicate database ids", edited(ESTATE, "databases.1.id", ESTATE["databases"][0]["id"]),
     ["databases: ids must be unique"]),
    ("bad release date", edited(ESTATE, "pagerduty.releases", ["2026-13-01"]), ["pagerduty.releases[0]"]),
    ("bad regex", edited(ESTATE, "pagerduty.postmortem_note_pattern", "post(mortem"),
     ["pagerduty.postmortem_note_pattern", "regular expression"]),
    ("missing section", edited(ESTATE, "slack", delete=True), ["slack", "Field required"]),
]


@pytest.mark.parametrize("name,plan,fragments", BAD_PLANS, ids=[r[0] for r in BAD_PLANS])
def test_bad_plan_is_named(files, name, plan, fragments):
    plan_file, _ = files(plan=plan)
    with pytest.raises(ConfigError) as err:
        load_config()
    message = str(err.value)
    assert message.startswith(str(plan_file)), message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("name,estate,fragments", BAD_ESTATES, ids=[r[0] for r in BAD_ESTATES])
def test_bad_estate_is_named(files, name, estate, fragments):
    _, estate_file = files(estate=estate)
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


def test_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(tmp_path / "nowhere.yaml"))
    with pytest.raises(ConfigError, match=r"nowhere.yaml: file not found"):
        load_config()


def test_unquoted_impossible_date_is_named(files):
    # YAML would parse an unquoted date itself and fail with a bare ValueError.
    text = yaml.safe_dump(edited(ESTATE, "pagerduty.releases", delete=True)).replace(
        "pagerduty:\n", "pagerduty:\n  releases: [2026-10-13, 2026-13-01]\n", 1)
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
