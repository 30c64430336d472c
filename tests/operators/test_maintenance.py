"""The maintenance operator against the sandbox: refusals say which rule and by how much and leave no
trace (no record, no PagerDuty window, no Slack); `record_anyway` records a non-qualifying window
and says so; a retried run reuses its window."""

from __future__ import annotations

import datetime as dt
import json
import types
from pathlib import Path

import pytest
from estate_ops.config import load_config
from estate_ops.domain.maintenance import WindowError
from estate_ops.hooks.pagerduty import PagerDutyRestHook
from estate_ops.operators.maintenance import (
    MaintenanceRefused,
    MaintenanceWindowOperator,
)

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
BASE = {"action": "announce", "date": "2026-11-05", "start": "02:00", "duration_minutes": 240, "reason": "patching",
        "announced_by": "avery.chen@legacy.example", "record_anyway": False, "window_id": None}


def run(params, logical=NOW, run_id="manual__t1"):
    from airflow.sdk import DAG

    with DAG("maintenance_announce_test", schedule=None):
        op = MaintenanceWindowOperator(task_id="m")
    ctx = {"logical_date": logical, "params": {**BASE, **params},
           "dag_run": types.SimpleNamespace(run_id=run_id, run_after=logical)}
    return op.execute(ctx)


def our_records(sandbox) -> dict[str, dict]:
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="maintenance/windows/").get("Contents", [])]
    return {k: json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys if "mw-sbx" not in k}


def status_page_maintenances() -> list[dict]:
    """The status page's incidents estate-ops marked as a maintenance window's."""
    from estate_ops.hooks.statuspage import StatuspageHook

    settings = load_config()[1].statuspage
    return [i for i in StatuspageHook(settings.page_id, settings.conn_id).incidents()
            if not str(((i.get("metadata") or {}).get("estate_ops") or {}).get("window_id", "mw-sbx")
                       ).startswith("mw-sbx")]  # not the sandbox's seeded ones


def pd_windows() -> list[dict]:
    return PagerDutyRestHook(load_config()[1].pagerduty.conn_id).maintenance_windows("estate-ops mw-2")


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        # 5 Nov 02:00 EST = 07:00 UTC; announced 47 h before
        ({}, MaintenanceRefused, None),
        ({"start": "05:00", "duration_minutes": 120}, MaintenanceRefused,
         r"cannot qualify: ends 1 h 0 min after 06:00 America/New_York on 2026-11-05"),
        ({"start": "01:30", "duration_minutes": 60}, MaintenanceRefused, r"starts 30 min before 02:00"),
        ({"duration_minutes": -30}, WindowError, r"duration must be more than 0 minutes \(end after start\)"),
        ({"date": "05/11/2026"}, WindowError, "date must be YYYY-MM-DD"),
        ({"announced_by": "Avery"}, MaintenanceRefused, "announced_by must be the email of a PagerDuty user"),
        ({"reason": " "}, MaintenanceRefused, "reason is required"),
        ({"action": "cancel", "window_id": "mw-nope"}, MaintenanceRefused, "no maintenance window 'mw-nope'"),
        ({"action": "postpone"}, MaintenanceRefused, "action must be one of"),
    ],
    ids=["47h-notice", "past-six", "before-two", "end-before-start", "bad-date", "not-an-email", "no-reason",
         "cancel-unknown", "bad-action"],
)
def test_refusals_leave_no_trace(sandbox, params, error, message):
    logical = dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC) if not params else NOW
    if message is None:
        message = r"announced 47 h 0 min ahead: the plan requires 48 h notice \(1 h 0 min short\).*record_anyway"
    with pytest.raises(error, match=message):
        run(params, logical=logical)
    assert our_records(sandbox) == {}
    assert pd_windows() == []
    assert status_page_maintenances() == []
    assert sandbox.slack_messages() == []


def test_record_anyway_records_a_non_qualifying_window_and_says_so(sandbox):
    late = dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC)  # 47 h ahead
    result = run({"record_anyway": True}, logical=late)
    assert result["qualifies"] is False
    (record,) = our_records(sandbox).values()
    assert record["qualifies_as_announced"] is False
    assert record["problems"] == ["announced 47 h 0 min ahead: the plan requires 48 h notice (1 h 0 min short)"]
    (message,) = sandbox.slack_messages()
    assert "Does not qualify" in message["text"] and "1 h 0 min short" in message["text"]
    assert len(pd_windows()) == 1  # alerts are held all the same: the maintenance still happens


def test_a_retried_run_reuses_its_window_and_pagerduty_window(sandbox):
    first = run({})
    again = run({})  # the same run id: a retry
    assert first["window_id"] == again["window_id"]
    assert first["pagerduty_window_id"] == again["pagerduty_window_id"]
    assert first["statuspage_incident_id"] == again["statuspage_incident_id"]
    assert [m["id"] for m in status_page_maintenances()] == [first["statuspage_incident_id"]]
    assert len(our_records(sandbox)) == 1 and len(pd_windows()) == 1
    assert len(sandbox.slack_messages()) == 1
    other = run({}, run_id="manual__t2")  # another run for the same window: already announced
    assert other == {"window_id": first["window_id"], "action": "announce", "status": "already_announced"}
    assert len(our_records(sandbox)) == 1 and len(sandbox.slack_messages()) == 1


def test_pagerduty_429_on_create_is_waited_out_and_creates_one_window(sandbox):
    hook = PagerDutyRestHook(load_config()[1].pagerduty.conn_id)
    waits: list[float] = []
    hook.sleep = waits.append
    sandbox.simulate_rate_limit(1, reset_seconds=1)
    start = dt.datetime(2026, 11, 5, 7, tzinfo=dt.UTC)
    created = hook.create_maintenance_window(start, start + dt.timedelta(hours=4), ["PLEGAPI"],
                                             "rate limited [estate-ops mw-2-429]", "avery.chen@legacy.example")
    sandbox.clear_rate_limits()
    assert waits == [1.0] and hook.throttled == 1
    assert [w["id"] for w in pd_windows()] == [created["id"]]
    assert hook.delete_maintenance_window(created["id"]) == "deleted"
    assert hook.delete_maintenance_window(created["id"]) == "not_found"


def test_outside_text_in_the_announcement_and_cancellation_is_escaped(sandbox):
    result = run({"reason": "<!here> patching & <https://evil|click>"})
    run({"action": "cancel", "window_id": result["window_id"]}, run_id="manual__t3")
    announce, cancel = (m["text"] for m in sandbox.slack_messages())
    for text in (announce, cancel):
        assert "&lt;!here&gt; patching &amp; &lt;https://evil|click&gt;" in text, text
        assert "<!here>" not in text and "<https://evil" not in text
    assert announce.startswith(":wrench: *Planned maintenance*") and cancel.startswith(":x: *Maintenance cancelled*")
    # the record keeps the original text
    (record,) = our_records(sandbox).values()
    assert record["reason"] == "<!here> patching & <https://evil|click>"


def test_status_page_maintenance_made_but_not_recorded_is_found_not_made_again(sandbox, monkeypatch):
    """A run that created the maintenance and then failed before writing the record: the retry finds
    it by the window id in its metadata."""
    from estate_ops.hooks.artifacts import ArtifactStore

    real_put = ArtifactStore.put_json
    monkeypatch.setattr(ArtifactStore, "put_json", lambda *a, **k: (_ for _ in ()).throw(OSError("bucket down")))
    with pytest.raises(OSError, match="bucket down"):
        run({})
    (made,) = status_page_maintenances()
    monkeypatch.setattr(ArtifactStore, "put_json", real_put)
    result = run({})
    assert result["statuspage_incident_id"] == made["id"]
    assert [m["id"] for m in status_page_maintenances()] == [made["id"]]


def test_status_page_rate_limit_is_waited_out_and_one_maintenance_made(sandbox):
    sandbox.simulate_rate_limit(1, reset_seconds=1, api="statuspage")
    result = run({})
    assert [m["id"] for m in status_page_maintenances()] == [result["statuspage_incident_id"]]


def test_reason_reaches_the_public_page_without_markup(sandbox):
    result = run({"reason": "<script>alert(1)</script> [click](https://evil) `x`\n\u202edb upgrade"})
    (maintenance,) = status_page_maintenances()
    assert maintenance["id"] == result["statuspage_incident_id"]
    body = maintenance["incident_updates"][0]["body"]
    assert "Reason: scriptalert(1)/script click(https://evil) x db upgrade." in body
    for bad in ("<", ">", "[", "`", "\n", "\u202e"):
        assert bad not in body and bad not in maintenance["name"]


def test_a_component_missing_from_the_page_is_named_and_nothing_is_posted(sandbox, tmp_path, monkeypatch):
    import os

    import yaml
    from estate_ops import config

    estate = yaml.safe_load(Path(os.environ["ESTATE_OPS_ESTATE"]).read_text())
    estate["statuspage"]["components"]["PLEGWEB"] = ["cmpgone00001"]
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(estate))
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(path))
    config.clear_cache()
    try:
        with pytest.raises(LookupError, match="has no component cmpgone00001.*statuspage.components"):
            run({})
        assert our_records(sandbox) == {} and status_page_maintenances() == []
        assert sandbox.slack_messages() == []
    finally:
        config.clear_cache()
