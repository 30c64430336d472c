"""Starting, resetting and stopping the sandbox: the pristine state comes back, nothing is left
running, failures say why."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from sandbox.processes import free_port as _free_port
from sandbox.runner import REPO_ROOT, SandboxError, start_sandbox

BASE_ONLY = ["--scenarios", ""]


def _get(handle, path, **params):
    response = requests.get(handle.pagerduty_url + path, params=params, timeout=30,
                            verify=handle.ca_bundle,
                            headers={"Authorization": f"Token token={handle.pagerduty_token}"})
    response.raise_for_status()
    return response.json()


def fingerprint(handle) -> dict:
    """What the sandbox holds, without wall-clock timestamps moto stamps on its own."""
    month = {"since": "2026-09-01T00:00:00Z", "until": "2026-12-01T00:00:00Z", "limit": 100}
    pd = {
        key: [(r["id"], r.get("summary")) for r in _get(handle, f"/{key}", **month)[key]]
        for key in ("services", "users", "priorities", "schedules", "escalation_policies",
                    "maintenance_windows")
    }
    pd["incidents"] = [(i["id"], i["status"], i["created_at"], i["incident_key"])
                       for i in _get(handle, "/incidents", date_range="all", limit=100)["incidents"]]
    pd["log_entries"] = _get(handle, "/log_entries", **month)["log_entries"]
    s3 = handle.boto3_client("s3")
    rds = handle.boto3_client("rds")
    aws = {
        "buckets": {b["Name"]: sorted((o["Key"], o["ETag"]) for o in s3.list_objects_v2(
            Bucket=b["Name"]).get("Contents", [])) for b in s3.list_buckets()["Buckets"]},
        "instances": sorted((d["DBInstanceIdentifier"], d["BackupRetentionPeriod"],
                             d["DeletionProtection"])
                            for d in rds.describe_db_instances()["DBInstances"]),
        "snapshots": sorted((s["DBSnapshotIdentifier"], s["SnapshotCreateTime"].isoformat())
                            for s in rds.describe_db_snapshots()["DBSnapshots"]),
        "log_groups": sorted((g["logGroupName"], g.get("retentionInDays"))
                             for g in handle.boto3_client("logs").describe_log_groups()["logGroups"]),
        "health_checks": sorted(c["Id"] for c in
                                handle.boto3_client("route53").list_health_checks()["HealthChecks"]),
    }
    channels = requests.get(handle.slack_url + "/api/conversations.list", timeout=10,
                            headers={"Authorization": f"Bearer {handle.slack_token}"}).json()
    state = {"pagerduty": pd, "aws": aws, "slack": sorted(c["id"] for c in channels["channels"])}
    # `self` links carry the port, which differs between two sandboxes.
    return json.loads(json.dumps(state).replace(handle.pagerduty_url, "https://pagerduty"))


def _mutate(handle) -> None:
    """A test's worth of changes, through every door."""
    requests.post(handle.pagerduty_url + "/v2/enqueue", verify=handle.ca_bundle, timeout=10, json={
        "routing_key": handle.pagerduty_routing_key, "event_action": "trigger",
        "dedup_key": "mutation", "payload": {"summary": "x", "source": "y", "severity": "error"}})
    requests.post(handle.slack_url + "/api/chat.postMessage", timeout=10,
                  headers={"Authorization": f"Bearer {handle.slack_token}"},
                  json={"channel": "#legacy-ops", "text": "hello"})
    s3 = handle.boto3_client("s3")
    bucket = s3.list_buckets()["Buckets"][0]["Name"]
    s3.put_object(Bucket=bucket, Key="test/leftover.json", Body=b"{}")
    s3.create_bucket(Bucket="a-test-made-this")
    rds = handle.boto3_client("rds")
    db = rds.describe_db_instances()["DBInstances"][0]["DBInstanceIdentifier"]
    rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier="test-manual")
    handle.remove("log_group", handle.boto3_client("logs").describe_log_groups()[
        "logGroups"][0]["logGroupName"])
    handle.remove("slack_channel", "#general")
    handle.throttle_aws("rds", 5)
    handle.simulate_rate_limit(5)
    handle.revoke_token(api="slack")


def test_reset_restores_the_pristine_seeded_state(sandbox):
    """The full sandbox (every scenario): reset is deterministic and undoes everything."""
    pristine = fingerprint(sandbox)
    _mutate(sandbox)
    assert sandbox.pagerduty_events() and sandbox.slack_messages()
    sandbox.reset()
    assert fingerprint(sandbox) == pristine
    assert sandbox.pagerduty_events() == [] and sandbox.slack_messages() == []
    # Limits, throttles and revocations are gone too; the counts start from zero.
    assert sandbox.request_counts()["totals"].get("pagerduty", 0) >= 0
    sandbox.clear_request_counts()
    sandbox.boto3_client("rds").describe_db_instances()
    _get(sandbox, "/services")
    counts = sandbox.request_counts()
    assert counts["totals"] == {"aws": 1, "pagerduty": 1}
    assert requests.post(sandbox.slack_url + "/api/auth.test", timeout=10, headers={
        "Authorization": f"Bearer {sandbox.slack_token}"}).json()["ok"] is True


def test_start_and_reset_seed_the_same_state(sandbox_session, tmp_path):
    """A fresh start equals a reset: nothing depends on what ran before."""
    sandbox_session.reset()
    after_reset = fingerprint(sandbox_session)
    with start_sandbox(tmp_path / "second", reference_month="2026-10",
                       now="2026-11-02T12:00:00Z") as second:
        assert fingerprint(second) == after_reset


def test_ready_file_names_everything(sbx):
    ready = json.loads((sbx.state_dir / "ready.json").read_text())
    assert ready["pid"] == sbx.pid
    assert {ready["aws_url"], ready["pagerduty_url"], ready["slack_url"]} == {
        sbx.aws_url, sbx.pagerduty_url, sbx.slack_url}
    assert ready["pagerduty_url"].startswith("https://127.0.0.1:")
    assert ready["aws_url"].startswith("http://127.0.0.1:")
    assert ready["reference_month"] == "2026-10" and ready["now"] == "2026-11-02T12:00:00Z"
    assert ready["scenarios"] == ["base"]
    info = requests.get(ready["control_url"] + "/info", timeout=10).json()
    assert info["pid"] == sbx.pid


def test_connection_env_is_what_airflow_expects(sbx):
    env = sbx.airflow_connections_env()
    aws = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert aws == {"conn_type": "aws", "login": "testing", "password": "testing",
                   "extra": {"region_name": "us-east-1", "endpoint_url": sbx.aws_url}}
    assert json.loads(env["AIRFLOW_CONN_PAGERDUTY_DEFAULT"]) == {
        "conn_type": "pagerduty", "host": sbx.pagerduty_url, "password": sbx.pagerduty_token}
    assert json.loads(env["AIRFLOW_CONN_PAGERDUTY_EVENTS_DEFAULT"])["password"] == \
        sbx.pagerduty_routing_key
    assert json.loads(env["AIRFLOW_CONN_SLACK_API_DEFAULT"])["extra"] == {
        "base_url": sbx.slack_url + "/api/"}
    assert json.loads(env["AIRFLOW_CONN_STATUSPAGE_DEFAULT"]) == {
        "conn_type": "http", "host": sbx.slack_url + "/statuspage/v1", "password": sbx.statuspage_key}
    assert requests.get(sbx.statuspage_url + "/pages/nosuchpage", timeout=10,
                        headers={"Authorization": f"OAuth {sbx.statuspage_key}"}).status_code == 404
    assert requests.get(sbx.statuspage_url + "/pages/nosuchpage", timeout=10).json() == {
        "error": "Could not authenticate"}
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert Path(env["SSL_CERT_FILE"]).read_text().count("BEGIN CERTIFICATE") >= 2


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_fixed_ports_and_stop_leaves_nothing_running(tmp_path):
    ports = {"aws": _free_port(), "pagerduty": _free_port(), "slack": _free_port()}
    handle = start_sandbox(tmp_path / "fixed", ports=ports, extra_args=BASE_ONLY)
    try:
        assert handle.aws_url == f"http://127.0.0.1:{ports['aws']}"
        assert handle.pagerduty_url == f"https://127.0.0.1:{ports['pagerduty']}"
        assert handle.slack_url == f"http://127.0.0.1:{ports['slack']}"
        assert all(_listening(p) for p in ports.values())
    finally:
        handle.stop()
    assert not handle.alive()
    with pytest.raises(ProcessLookupError):
        os.killpg(handle.pid, 0)  # nothing left in the sandbox's process group
    assert not any(_listening(p) for p in ports.values())
    assert not (handle.state_dir / "ready.json").exists()
    handle.stop()  # idempotent


def test_sigterm_stops_cleanly(tmp_path):
    handle = start_sandbox(tmp_path / "term", extra_args=BASE_ONLY)
    os.kill(handle.pid, signal.SIGTERM)
    assert handle.process.wait(30) == 0
    assert "stopped" in (handle.state_dir / "sandbox.log").read_text()
    handle.stop()


def test_sandbox_exits_when_its_parent_is_killed(tmp_path):
    """Even if the test runner is SIGKILLed (no stop(), no atexit), the sandbox goes away."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from sandbox.runner import start_sandbox
        handle = start_sandbox({str(tmp_path / "orphan")!r}, extra_args={BASE_ONLY!r})
        print(handle.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=REPO_ROOT)
    try:
        sandbox_pid = int(parent.stdout.readline())
        os.kill(sandbox_pid, 0)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(sandbox_pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(sandbox_pid, signal.SIGKILL)
            pytest.fail("the sandbox outlived its parent")
    finally:
        parent.kill()
        parent.stdout.close()


def test_bad_arguments_fail_with_the_log_tail(tmp_path):
    with pytest.raises(SandboxError, match="expected YYYY-MM"):
        start_sandbox(tmp_path / "bad", reference_month="October")


def test_busy_port_fails_with_the_reason(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError, match=f"Port {port} is in use"):
            start_sandbox(tmp_path / "busy", extra_args=BASE_ONLY,
                          ports={"aws": _free_port(), "pagerduty": port, "slack": _free_port()})


def test_unknown_scenario_is_refused(tmp_path):
    with pytest.raises(SandboxError, match="unknown scenario"):
        start_sandbox(tmp_path / "unknown", extra_args=["--scenarios", "availabilty"])
