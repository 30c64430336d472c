"""IncidentSlaReportOperator bad input: each row a broken input, the clear error it gets, and
proof that nothing was written, routed or posted."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from airflow.sdk import DAG
from estate_ops.config import DEFAULT_ESTATE_PATH, load_estate
from estate_ops.domain.incidents import IncidentDataError
from estate_ops.domain.periods import PeriodError
from estate_ops.hooks.pagerduty import (
    PagerDutyAuthError,
    PagerDutyNotFoundError,
    PagerDutyRestHook,
)
from estate_ops.hooks.statuspage import StatuspageAuthError, StatuspageNotFoundError
from estate_ops.operators.incidents import IncidentSlaReportOperator

LOGICAL = dt.datetime(2026, 11, 1, 11, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pd_sandbox(sandbox_session):
    """Reset once for the module: the rows below change nothing in the sandbox for good, except
    the revoked token, which resets again after itself."""
    sandbox_session.reset()
    return sandbox_session


@pytest.fixture
def sandbox(pd_sandbox):
    return pd_sandbox


def _operator(month=None):
    with DAG("incident_sla_report", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)):
        return IncidentSlaReportOperator(task_id="report_incident_sla", month=month)


def _written(sandbox):
    s3 = sandbox.boto3_client("s3")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=load_estate().reports_bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(k for k in keys if k.startswith(("incidents/", "runs/incident_sla_report", "alerts/")))


def _estate_with(tmp_path, monkeypatch, change):
    data = yaml.safe_load(DEFAULT_ESTATE_PATH.read_text())
    change(data["pagerduty"])
    # The status page maps the estate's services (a renamed service keeps its components).
    services = [s["id"] for s in data["pagerduty"]["services"]]
    data["statuspage"]["components"] = dict(zip(services, data["statuspage"]["components"].values(), strict=True))
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(path))


def _revoke(sandbox, tmp_path, monkeypatch):
    sandbox.revoke_token("pagerduty")


def _unknown_service(sandbox, tmp_path, monkeypatch):
    _estate_with(tmp_path, monkeypatch, lambda pd: pd["services"][1].update(id="PNOSVC1"))


def _wrong_status_page(sandbox, tmp_path, monkeypatch):
    data = yaml.safe_load(DEFAULT_ESTATE_PATH.read_text())
    data["statuspage"]["page_id"] = "nosuchpage1"
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(path))


def _revoke_status_page(sandbox, tmp_path, monkeypatch):
    sandbox.revoke_token("statuspage")


def _unknown_schedule(sandbox, tmp_path, monkeypatch):
    _estate_with(tmp_path, monkeypatch, lambda pd: pd["schedules"].update(secondary="PNOSCH1"))


def _unknown_policy(sandbox, tmp_path, monkeypatch):
    _estate_with(tmp_path, monkeypatch, lambda pd: pd.update(escalation_policy="PNOPOL1"))


def _malformed_created_at(sandbox, tmp_path, monkeypatch):
    real = PagerDutyRestHook.incidents

    def incidents(self, *args, **kwargs):
        records = real(self, *args, **kwargs)
        records[3] = {**records[3], "id": "PBADTIME", "created_at": "31/10/2026 10:00"}
        return records

    monkeypatch.setattr(PagerDutyRestHook, "incidents", incidents)


def _malformed_log_entry(sandbox, tmp_path, monkeypatch):
    real = PagerDutyRestHook.log_entries

    def log_entries(self, *args, **kwargs):
        records = real(self, *args, **kwargs)
        ack = next(i for i, e in enumerate(records) if e["type"] == "acknowledge_log_entry")
        records[ack] = {**records[ack], "id": "RBADTIME", "created_at": "not a time"}
        return records

    monkeypatch.setattr(PagerDutyRestHook, "log_entries", log_entries)


@pytest.mark.parametrize("breakage,month,error,message", [
    (_revoke, None, PagerDutyAuthError, r"connection 'pagerduty_default' \(401\): it is wrong or revoked"),
    (_unknown_service, None, PagerDutyNotFoundError,
     r"no service 'PNOSVC1' \(estate.yaml pagerduty.services\[1\]\) \(GET /services/PNOSVC1 answered 404\)"),
    (_unknown_schedule, None, PagerDutyNotFoundError,
     r"no schedule 'PNOSCH1' \(estate.yaml pagerduty.schedules.secondary\)"),
    (_unknown_policy, None, PagerDutyNotFoundError,
     r"no escalation policy 'PNOPOL1' \(estate.yaml pagerduty.escalation_policy\)"),
    (_malformed_created_at, None, IncidentDataError,
     r"incident PBADTIME created_at: expected an ISO 8601 date-time, got '31/10/2026 10:00'"),
    (_malformed_log_entry, None, IncidentDataError,
     r"log entry RBADTIME created_at: expected an ISO 8601 date-time, got 'not a time'"),
    (_wrong_status_page, None, StatuspageNotFoundError, r"Statuspage has no page 'nosuchpage1'"),
    (_revoke_status_page, None, StatuspageAuthError, r"connection 'statuspage_default' \(401\)"),
    (None, "2026-13", PeriodError, r"month must be YYYY-MM \(e.g. 2026-10\), got '2026-13'"),
    (None, "2099-01", PeriodError, r"month 2099-01 has not ended yet"),
], ids=["revoked-token", "unknown-service", "unknown-schedule", "unknown-policy", "malformed-created-at",
        "malformed-log-entry", "wrong-status-page", "revoked-status-page-key", "bad-month", "month-not-over"])
def test_bad_input_fails_clearly_and_writes_nothing(sandbox, tmp_path, monkeypatch, breakage, month, error, message):
    before, slack_before = _written(sandbox), sandbox.slack_messages()
    if breakage:
        breakage(sandbox, tmp_path, monkeypatch)
    try:
        with pytest.raises(error, match=message):
            _operator(month).execute({"logical_date": LOGICAL, "params": {}})
        assert _written(sandbox) == before
        assert sandbox.slack_messages() == slack_before
    finally:
        if breakage in (_revoke, _revoke_status_page):
            sandbox.reset()


def test_resolved_before_created_is_reported_as_an_anomaly_not_a_percentage(sandbox, monkeypatch):
    real = PagerDutyRestHook.incidents

    def incidents(self, *args, **kwargs):
        records = real(self, *args, **kwargs)
        i = next(i for i, r in enumerate(records) if r["status"] == "resolved" and (r["priority"] or {}).get("id") == "PPRIP00")
        records[i] = {**records[i], "resolved_at": "2026-09-01T00:00:00Z"}
        return records

    monkeypatch.setattr(PagerDutyRestHook, "incidents", incidents)
    result = _operator("2026-10").execute({"logical_date": LOGICAL, "params": {}})
    s3 = sandbox.boto3_client("s3")
    import json

    report = json.loads(s3.get_object(Bucket=load_estate().reports_bucket, Key="incidents/2026-10/report.json")["Body"].read())
    assert result["period"] == "2026-10"
    assert len(report["items"]["anomalies"]) == 1 and "before it was created" in report["items"]["anomalies"][0]["problem"]
    anomaly_id = report["items"]["anomalies"][0]["id"]
    assert anomaly_id not in {r["id"] for r in report["items"]["incidents"]}
    p0 = next(r for r in report["items"]["per_severity"] if r["severity"] == "P0")
    assert p0["incidents"] == 3  # the scenario has four P0s; the anomaly is left out
    assert any("inconsistent times" in w for w in report["warnings"])
