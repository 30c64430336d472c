"""The Airflow UI in a real browser: Playwright driving Debian's Chromium (headless; Playwright's
own browser download does not work here) against the native cluster of tests/cluster/conftest.py.

Log in; trigger maintenance_announce from its form and see the run succeed and the window in the
sandbox bucket; find availability_report's summary in its task log; approve a draft invoice from
Required Actions and see it issued. A screenshot of every step goes to test-output/browser/.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devtools.cluster import PASSWORD, USER
from devtools.localenv import ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REASON = "browser test: database minor version upgrade"
ANNOUNCER = "avery.chen@legacy.example"
INVOICE_LOGICAL = "2026-11-03T12:00:00+00:00"  # another run than the cluster test's
WAIT = 600


@pytest.fixture(scope="module")
def page(cluster):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/system-deps.sh"
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    profile = Path(tempfile.mkdtemp(prefix="estate-ops-chromium-"))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_for_text(page, pattern: str, timeout: float = 60.0, reload_every: float = 0.0) -> str:
    """Wait until the page's text matches `pattern` (reloading now and then if asked)."""
    deadline = time.monotonic() + timeout
    last_reload = time.monotonic()
    while True:
        text = page.inner_text("body")
        if re.search(pattern, text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} not on {page.url} after {timeout:.0f}s; the page says:\n{text[:2000]}")
        if reload_every and time.monotonic() - last_reload > reload_every:
            page.reload(wait_until="networkidle")
            last_reload = time.monotonic()
        page.wait_for_timeout(1000)


def latest_run(cluster, dag_id: str) -> dict:
    runs = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=1")["dag_runs"]
    return runs[0] if runs else {}


def wait_run_state(cluster, dag_id: str, run_id: str, states: set[str], timeout: float = WAIT) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        if state in states:
            return state
        time.sleep(1)
    raise AssertionError(f"{dag_id} {run_id} not in {states} after {timeout:.0f}s")


def test_log_in(page, cluster):
    page.goto(cluster.api_url + "/", wait_until="networkidle")
    wait_for_text(page, "Sign into Airflow")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "01-login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/(?!auth/).*"))
    wait_for_text(page, "Dags")
    shot(page, "02-home")
    assert "/auth/login" not in page.url


def reports_bucket_objects(cluster, prefix: str) -> dict[str, bytes]:
    from estate_ops.config import load_estate

    s3 = cluster.sandbox.boto3_client("s3")
    bucket = load_estate().reports_bucket
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in p.get("Contents", [])}


def test_announce_maintenance_from_the_trigger_form(page, cluster):
    # The form's logical date is "now": the window must be >= 48 h ahead and 02:00-06:00 ET.
    day = (dt.datetime.now(ZoneInfo("America/New_York")) + dt.timedelta(days=7)).date().isoformat()
    before = latest_run(cluster, "maintenance_announce").get("dag_run_id")
    page.goto(cluster.api_url + "/dags/maintenance_announce", wait_until="networkidle")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    wait_for_text(page, "Trigger Dag - maintenance_announce")
    # The form's labels are not tied to their inputs (for= does not match the input's id), so
    # the fields are found by the param names the form gives them.
    for param, value in (("date", day), ("start", "03:00"), ("duration_minutes", "90"), ("reason", REASON),
                         ("announced_by", ANNOUNCER)):
        dialog.locator(f"input[name='element_{param}']").fill(value)
    shot(page, "03-maintenance-form")
    dialog.get_by_role("button", name=re.compile(r"^Trigger$")).click()
    deadline = time.monotonic() + 60
    while latest_run(cluster, "maintenance_announce").get("dag_run_id") == before:
        assert time.monotonic() < deadline, "the form did not create a run"
        time.sleep(1)
    run = latest_run(cluster, "maintenance_announce")
    assert run["conf"]["reason"] == REASON and run["conf"]["date"] == day, run["conf"]
    assert run["conf"]["duration_minutes"] == 90 and run["conf"]["start"] == "03:00", run["conf"]
    shot(page, "04-maintenance-triggered")
    state = wait_run_state(cluster, "maintenance_announce", run["dag_run_id"], {"success", "failed"})
    page.goto(f"{cluster.api_url}/dags/maintenance_announce/runs/{run['dag_run_id']}", wait_until="networkidle")
    wait_for_text(page, r"\bSuccess\b" if state == "success" else r"\bFailed\b", reload_every=5)
    shot(page, "05-maintenance-run")
    assert state == "success"
    # The window is in the sandbox bucket, as the form said.
    records = [json.loads(body) for body in reports_bucket_objects(cluster, "maintenance/windows/").values()]
    ours = [r for r in records if REASON in json.dumps(r)]
    assert len(ours) == 1, records
    assert day in json.dumps(ours[0]) and ANNOUNCER in json.dumps(ours[0])


def test_availability_report_summary_is_in_the_task_log(page, cluster):
    run = latest_run(cluster, "availability_report")
    if run.get("state") != "success":  # run alone, without the cluster test before it
        cluster.api("PATCH", "/api/v2/dags/availability_report", {"is_paused": False})
        run = cluster.api("POST", "/api/v2/dags/availability_report/dagRuns",
                          {"logical_date": "2026-11-01T11:00:00+00:00", "conf": {"month": "2026-10"}})
        assert wait_run_state(cluster, "availability_report", run["dag_run_id"], {"success", "failed"}) == "success"
    page.goto(f"{cluster.api_url}/dags/availability_report/runs/{run['dag_run_id']}/tasks/availability_report",
              wait_until="networkidle")
    text = wait_for_text(page, r"2026-10: composite [\d.]+ % \([^)]*\); \d+ finding", timeout=90, reload_every=10)
    shot(page, "06-availability-report-log")
    logged = re.search(r"2026-10: composite ([\d.]+) %", text).group(1)
    report = json.loads(reports_bucket_objects(cluster, "availability/2026-10/report.json")
                        ["availability/2026-10/report.json"])
    assert logged == str(report["headline"]["composite_availability"]["value"])


def test_approve_a_draft_invoice_from_required_actions(page, cluster):
    dag_id = "support_invoicing"
    cluster.sandbox.reset()  # no invoice issued yet for 2026-10: the run asks for approval
    cluster.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    run = cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                      {"logical_date": INVOICE_LOGICAL, "conf": {"month": "2026-10"}})
    run_id = run["dag_run_id"]
    deadline = time.monotonic() + WAIT
    while not any(t["state"] == "awaiting_input" for t in cluster.api(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]):
        state = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
        assert state in ("running", "queued"), f"the run ended ({state}) without asking for approval"
        assert time.monotonic() < deadline, "no approval was asked"
        time.sleep(2)
    assert not [k for k in reports_bucket_objects(cluster, "invoices/2026-10/") if re.search(r"/\w+/[^/]+\.pdf$", k)]
    page.goto(cluster.api_url + "/required_actions", wait_until="networkidle")
    wait_for_text(page, re.escape(run_id), reload_every=5)
    shot(page, "07-required-actions")
    # Earlier runs' answered requests are listed too: pick this run's row.
    row = page.get_by_role("row").filter(has_text=run_id)
    row.get_by_text(re.compile(r"Approve \d+ support invoice\(s\) for 2026-10")).click()
    wait_for_text(page, "Draft invoices for 2026-10")
    approve = page.get_by_role("button", name="Approve", exact=True)
    shot(page, "08-invoice-approval")
    approve.click()
    state = wait_run_state(cluster, dag_id, run_id, {"success", "failed"})
    page.goto(f"{cluster.api_url}/dags/{dag_id}/runs/{run_id}", wait_until="networkidle")
    wait_for_text(page, r"\bSuccess\b" if state == "success" else r"\bFailed\b", reload_every=5)
    shot(page, "09-invoice-run")
    assert state == "success"
    hitl = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve_invoices/-1/hitlDetails")
    assert hitl["chosen_options"] == ["Approve"] and hitl["responded_by_user"]["name"] == USER, hitl
    issued = [k for k in reports_bucket_objects(cluster, "invoices/2026-10/") if re.search(r"/\w+/[^/]+\.pdf$", k)]
    assert issued, "no invoice PDF issued after the approval"
