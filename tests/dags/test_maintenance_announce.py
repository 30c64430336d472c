"""maintenance_announce end to end with dag.test() against the sandbox: announce twice, cancel twice.

One record, one PagerDuty window (then none), one Slack notice per action, identical bytes on
rerun; the cancelled record is kept for audit."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.config import load_config
from estate_ops.hooks.pagerduty import PagerDutyRestHook

from tests.dagrun import run_dag, task_states

ANNOUNCED = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
CANCELLED = dt.datetime(2026, 11, 3, 9, 30, tzinfo=dt.UTC)
FORM = {"action": "announce", "date": "2026-11-05", "start": "02:00", "duration_minutes": 240,
        "reason": "kernel patching", "announced_by": "avery.chen@legacy.example", "record_anyway": False}


def _ours(sandbox) -> dict[str, bytes]:
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="maintenance/windows/").get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys if "mw-sbx" not in k}


def _status_page_maintenances(wid: str) -> list[dict]:
    from estate_ops.domain.statuspage import marked
    from estate_ops.hooks.statuspage import StatuspageHook

    settings = load_config()[1].statuspage
    return marked(StatuspageHook(settings.page_id, settings.conn_id).incidents(), "window_id", wid)


def _pd_windows(wid: str) -> list[dict]:
    return PagerDutyRestHook(load_config()[1].pagerduty.conn_id).maintenance_windows(wid)


@pytest.fixture(scope="module")
def runs(sandbox_session):
    sandbox_session.reset()
    out = {"announce": [run_dag("maintenance_announce", ANNOUNCED, FORM) for _ in range(2)]}
    out["after_announce"] = _ours(sandbox_session)
    (key, _), = out["after_announce"].items()
    wid = key.rsplit("/", 1)[1].removesuffix(".json")
    out["wid"] = wid
    out["pd_after_announce"] = _pd_windows(wid)
    out["sp_after_announce"] = _status_page_maintenances(wid)
    out["slack_after_announce"] = sandbox_session.slack_messages()
    cancel = {"action": "cancel", "window_id": wid, "announced_by": "blake.okafor@legacy.example"}
    out["cancel"] = [run_dag("maintenance_announce", CANCELLED, cancel) for _ in range(2)]
    out["after_cancel"] = _ours(sandbox_session)
    out["pd_after_cancel"] = _pd_windows(wid)
    out["sp_after_cancel"] = _status_page_maintenances(wid)
    out["slack_after_cancel"] = sandbox_session.slack_messages()
    return out


def test_all_runs_succeed(runs):
    for run in runs["announce"] + runs["cancel"]:
        assert str(run.state) == "success", task_states(run)


def test_announce_records_one_window_with_the_run_time(runs):
    import json

    (record,) = [json.loads(b) for b in runs["after_announce"].values()]
    assert record["announced_at"] == "2026-11-02T12:00:00Z"
    # 5 Nov 02:00-06:00 EST = 07:00-11:00 UTC; 67 h ahead: qualifies
    assert (record["start"], record["end"]) == ("2026-11-05T07:00:00Z", "2026-11-05T11:00:00Z")
    assert record["qualifies_as_announced"] is True and record["problems"] == []
    assert record["status"] == "scheduled"


def test_announce_holds_pagerduty_alerts_once(runs):
    (window,) = runs["pd_after_announce"]
    assert window["start_time"].startswith("2026-11-05T07:00") and window["end_time"].startswith("2026-11-05T11:00")
    assert sorted(s["id"] for s in window["services"]) == sorted(s.id for s in load_config()[1].pagerduty.services)


def test_one_slack_notice_per_action(runs):
    announced = [m for m in runs["slack_after_announce"] if runs["wid"] in (m.get("text") or "")]
    assert len(announced) == 1 and "Qualifies as planned maintenance" in announced[0]["text"]
    after = [m for m in runs["slack_after_cancel"] if runs["wid"] in (m.get("text") or "")]
    assert len(after) == 2 and "Maintenance cancelled" in after[1]["text"]


def test_cancel_keeps_the_record_and_removes_the_pagerduty_window(runs):
    import json

    (record,) = [json.loads(b) for b in runs["after_cancel"].values()]
    assert record["status"] == "cancelled"
    assert record["cancelled_at"] == "2026-11-03T09:30:00Z"
    assert record["cancelled_by"] == "blake.okafor@legacy.example"
    assert record["announced_at"] == "2026-11-02T12:00:00Z"  # the audit trail survives
    assert record["pagerduty_delete"] == "deleted"
    assert runs["pd_after_cancel"] == []


def test_announce_schedules_one_status_page_maintenance_and_records_its_id(runs):
    import json

    (maintenance,) = runs["sp_after_announce"]  # two runs, one maintenance
    (record,) = [json.loads(b) for b in runs["after_announce"].values()]
    assert record["statuspage_incident_id"] == maintenance["id"]
    assert maintenance["status"] == "scheduled"
    assert (maintenance["scheduled_for"], maintenance["scheduled_until"]) == (record["start"], record["end"])
    estate = load_config()[1]
    expected = estate.statuspage.components_of([s.id for s in estate.pagerduty.services])
    assert [c["id"] for c in maintenance["components"]] == expected == record["statuspage_components"]
    body = maintenance["incident_updates"][0]["body"]
    assert "Thu 05 Nov 2026 02:00-06:00 EST (07:00-11:00 UTC)" in body and "kernel patching" in body


def test_cancel_removes_the_status_page_maintenance(runs):
    import json

    (record,) = [json.loads(b) for b in runs["after_cancel"].values()]
    assert record["statuspage_delete"] == "deleted"  # the second cancel did not try again
    assert runs["sp_after_cancel"] == []
