"""estate-ops on Airflow's distributed stack (devtools/cluster.py): PostgreSQL, Redis, api-server,
scheduler, dag-processor, triggerer and two Celery workers, against the sandbox.

Every DAG is unpaused and triggered through the REST API (/api/v2, JWT from /auth/token) with the
logical dates and params of its dag.test() tests, in two waves (the second wave reads what the
first wrote: retention reads the backup status, the availability report reads the collected day
and the maintenance windows). The same waves then run with dag.test() against a reset of the same
sandbox, and the buckets must hold the same keys with the same bytes - except what records how a
particular run went (measured drill times, ids PagerDuty assigns, the deployment's UI link, when
each retention action happened: see NOT_BYTE_COMPARED and without_wall_clock). After the first
wave, backup_verification runs again from scratch and one worker is killed while it runs a mapped
task: the run completes on the other worker and nothing is written twice or lost.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest

from tests import reports_bucket
from tests.dagrun import answer_awaiting_input, load_dag, task_states

pytestmark = pytest.mark.slow

MONTH = "2026-10"
MAINTENANCE_FORM = {"action": "announce", "date": "2026-11-05", "start": "02:00", "duration_minutes": 240,
                    "reason": "kernel patching", "announced_by": "avery.chen@legacy.example",
                    "record_anyway": False}
# (dag_id, logical date, conf): the dates of each DAG's own dag.test() tests.
# backup_verification runs alone first, so its mapped tasks meet two idle one-slot workers.
WAVES = [
    [
        ("backup_verification", "2026-11-02T12:00:00+00:00", {}),
    ],
    [
        ("estate_preflight", "2026-11-02T06:00:00+00:00", {}),
        ("availability_collect", "2026-11-01T01:00:00+00:00", {}),
        ("restore_drill", "2026-11-02T12:00:00+00:00", {}),
        ("incident_sla_report", "2026-11-01T11:00:00+00:00", {"month": MONTH}),
        ("support_invoicing", "2026-11-02T12:00:00+00:00", {"month": MONTH}),
        ("maintenance_announce", "2026-11-02T12:00:00+00:00", MAINTENANCE_FORM),
    ],
    [
        ("availability_report", "2026-11-01T11:00:00+00:00", {"month": MONTH}),
        ("retention_pruning", "2026-11-02T12:00:00+00:00", {"confirm_over_cap": True}),
        ("monitoring_audit", "2026-11-02T06:30:00+00:00", {}),
        ("support_hours_watch", "2026-11-02T12:00:00+00:00", {"date": "2026-10-20"}),
        ("key_metrics_report", "2026-11-02T11:00:00+00:00", {"period": MONTH}),
    ],
]
# DAGs this test does not trigger, and where they are tested end to end instead.
NOT_TRIGGERED = {
    "alert_route_drill": "its artifacts are measured delivery latencies; tests/operators/test_monitoring_drill.py "
                         "and tests/dags run it with dag.test()",
    "status_page_sync": "with no open P0/P1 incident in the sandbox it asks nothing; with one it waits for a "
                        "person in Required Actions: tests/dags/test_status_page_sync.py answers it",
    "service_review": "asset-scheduled on the monthly reports (it stays paused here, so the assets this test's "
                      "runs emit start nothing); tests/dags/test_service_review.py",
}
MAPPED_DAG = "backup_verification"
APPROVER = {"id": "admin", "name": "admin"}  # what the REST API records for the admin user
RUN_TIMEOUT = 900


def run_id(logical: str) -> str:
    return f"manual__{logical}"


def bucket_snapshot(sandbox) -> dict[str, bytes]:
    return {key: reports_bucket.read_bytes(sandbox, key) for key in reports_bucket.keys(sandbox)}


# --------------------------------------------------------------------------- the cluster side


def trigger(cluster, dag_id: str, logical: str, conf: dict) -> str:
    cluster.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    run = cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                      {"dag_run_id": run_id(logical), "logical_date": logical, "conf": conf})
    return run["dag_run_id"]


def task_instances(cluster, dag_id: str, rid: str) -> list[dict]:
    return cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{rid}/taskInstances?limit=200")["task_instances"]


def approve_waiting(cluster, dag_id: str, rid: str) -> bool:
    """Answer "Approve" to any human-in-the-loop request of the run, as the UI's form does."""
    answered = False
    for ti in task_instances(cluster, dag_id, rid):
        if ti["state"] == "awaiting_input":
            cluster.api("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{rid}/taskInstances/{ti['task_id']}/"
                                 f"{ti['map_index']}/hitlDetails", {"chosen_options": ["Approve"]})
            answered = True
    return answered


def wait_for_runs(cluster, runs: dict[str, str], timeout: float = RUN_TIMEOUT, on_poll=None) -> dict[str, str]:
    """{dag_id: run_id} -> {dag_id: final state}; approves invoices on the way."""
    states: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(states) < len(runs):
        for dag_id, rid in runs.items():
            if dag_id in states:
                continue
            state = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{rid}")["state"]
            if state in ("success", "failed"):
                states[dag_id] = state
            elif dag_id == "support_invoicing":
                approve_waiting(cluster, dag_id, rid)
        if on_poll is not None:
            on_poll()
        if time.monotonic() > deadline:
            pending = {d: cluster.api("GET", f"/api/v2/dags/{d}/dagRuns/{r}")["state"]
                       for d, r in runs.items() if d not in states}
            raise AssertionError(f"runs not finished after {timeout:.0f}s: {pending}")
        time.sleep(1)
    return states


def failed_tasks(cluster, dag_id: str, rid: str) -> list[str]:
    return [f"{t['task_id']}[{t['map_index']}]={t['state']}" for t in task_instances(cluster, dag_id, rid)
            if t["state"] != "success"]


def kill_worker_during_mapped_task(cluster, victim: str = "worker-2") -> dict:
    """Run backup_verification again from scratch (the run deleted and triggered anew with the same
    logical date, so its tries start at 1 and the first retry comes within a minute; a clear
    would start at try 2 and back off for minutes) and SIGKILL `victim` as soon as it runs one of
    its mapped tasks; wait for the run, then start the worker again."""
    logical, conf = next((lg, cf) for d, lg, cf in WAVES[0] if d == MAPPED_DAG)
    rid = run_id(logical)
    cluster.api("DELETE", f"/api/v2/dags/{MAPPED_DAG}/dagRuns/{rid}")
    # The mapped verify_database tasks take a second or two: throttled RDS calls (retried with
    # backoff by the hook, the result unchanged) keep them running long enough to be caught.
    cluster.sandbox.throttle_aws("rds", count=8)
    trigger(cluster, MAPPED_DAG, logical, conf)
    killed: dict = {}
    deadline = time.monotonic() + RUN_TIMEOUT
    while not killed and time.monotonic() < deadline:
        for ti in task_instances(cluster, MAPPED_DAG, rid):
            if ti["map_index"] >= 0 and ti["state"] == "running" and ti["hostname"] == victim:
                cluster.stop_component(victim, kill=True)
                killed = {"task_id": ti["task_id"], "map_index": ti["map_index"],
                          "try_number": ti["try_number"]}
                break
        else:
            if cluster.api("GET", f"/api/v2/dags/{MAPPED_DAG}/dagRuns/{rid}")["state"] in ("success", "failed"):
                break
            time.sleep(0.2)
    state = wait_for_runs(cluster, {MAPPED_DAG: rid})[MAPPED_DAG]
    cluster.sandbox._control("DELETE", "/aws/throttle")  # no public helper to lift it
    after = next(t for t in task_instances(cluster, MAPPED_DAG, rid)
                 if killed and t["task_id"] == killed["task_id"] and t["map_index"] == killed["map_index"]) \
        if killed else None
    if killed:
        cluster.start_component(victim)
    end = time.monotonic() + 180
    while victim not in cluster.workers_answering() and time.monotonic() < end:
        time.sleep(1)
    return {"killed": killed, "after": after, "state": state, "failed": failed_tasks(cluster, MAPPED_DAG, rid)}


@pytest.fixture(scope="module")
def campaign(cluster):
    sandbox = cluster.sandbox
    sandbox.reset()
    out: dict = {"runs": {}, "states": {}, "failed": {}, "wall_clock_from": dt.datetime.now(dt.UTC)}
    started = time.monotonic()
    for wave in WAVES:
        if wave is WAVES[0]:
            # Throttled RDS calls (retried with backoff, results unchanged) keep each
            # verify_database task busy for seconds: its sibling has to go to the other worker.
            sandbox.throttle_aws("rds", count=8)
        runs = {dag_id: trigger(cluster, dag_id, logical, conf) for dag_id, logical, conf in wave}
        out["runs"].update(runs)
        states = wait_for_runs(cluster, runs)
        sandbox._control("DELETE", "/aws/throttle")  # no public helper to lift it
        out["states"].update(states)
        for dag_id, state in states.items():
            if state != "success":
                out["failed"][dag_id] = failed_tasks(cluster, dag_id, runs[dag_id])
        if wave is WAVES[0]:
            out["after_first_wave"] = bucket_snapshot(sandbox)
            out["slack_before_kill"] = len(sandbox.slack_messages())
            out["pages_before_kill"] = len(sandbox.pagerduty_events())
            out["mapped"] = task_instances(cluster, MAPPED_DAG, runs[MAPPED_DAG])
            out["kill"] = kill_worker_during_mapped_task(cluster)
            out["after_kill"] = bucket_snapshot(sandbox)
            out["slack_after_kill"] = len(sandbox.slack_messages())
            out["pages_after_kill"] = len(sandbox.pagerduty_events())
    out["cluster"] = bucket_snapshot(sandbox)
    out["seconds"] = time.monotonic() - started
    return out


# --------------------------------------------------------------------------- the dag.test() side


def respond_when_asked(dag_id: str, option: str, stop: threading.Event) -> threading.Thread:
    """Answer the run's human-in-the-loop request as the REST API does (tests/dags/
    test_support_invoicing.py), with the identity the REST API records for the admin user."""

    def answer() -> None:
        while not stop.is_set():
            answer_awaiting_input(dag_id, option, APPROVER)
            time.sleep(0.5)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def dag_test_side(campaign, cluster, request):
    """The same waves with dag.test(), in order, against a reset of the cluster's sandbox."""
    sandbox = cluster.sandbox
    sandbox.reset()
    states = {}
    mp = pytest.MonkeyPatch()
    mp.setenv("ESTATE_OPS_INVOICE_APPROVAL", cluster.extra_env.get("ESTATE_OPS_INVOICE_APPROVAL", ""))
    request.addfinalizer(mp.undo)
    for wave in WAVES:
        for dag_id, logical, conf in wave:
            stop = threading.Event()
            thread = respond_when_asked(dag_id, "Approve", stop) if dag_id == "support_invoicing" else None
            try:
                # run_after = the logical date gives the run the cluster run's id
                # (manual__<logical date>): some artifacts carry it (a maintenance window's id).
                when = dt.datetime.fromisoformat(logical)
                run = load_dag(dag_id).test(logical_date=when, run_after=when, run_conf=conf)
            finally:
                stop.set()
                if thread is not None:
                    thread.join(5)
            states[dag_id] = (str(run.state), task_states(run))
    return {"states": states, "bucket": bucket_snapshot(sandbox), "wall_clock_to": dt.datetime.now(dt.UTC)}


# --------------------------------------------------------------------------- tests


def test_every_dag_run_triggered_through_the_rest_api_succeeds(campaign):
    expected = {dag_id for wave in WAVES for dag_id, _, _ in wave}
    from devtools.localenv import ROOT

    assert expected | set(NOT_TRIGGERED) == {p.stem for p in (ROOT / "dags").glob("*.py")}, \
        "a DAG is neither triggered by this test nor listed in NOT_TRIGGERED"
    assert not expected & set(NOT_TRIGGERED)
    assert campaign["states"] == {dag_id: "success" for dag_id in expected}, campaign["failed"]


def test_mapped_tasks_of_one_run_ran_on_both_workers(campaign):
    mapped = [ti for ti in campaign["mapped"] if ti["map_index"] >= 0]
    assert len([ti for ti in mapped if ti["task_id"] == "verify_database"]) >= 2
    assert {ti["hostname"] for ti in mapped} == {"worker-1", "worker-2"}, \
        [(ti["task_id"], ti["map_index"], ti["hostname"]) for ti in mapped]


def test_killing_a_worker_mid_run_neither_loses_nor_duplicates_anything(campaign):
    kill = campaign["kill"]
    assert kill["killed"], "worker-2 never ran a mapped task of the re-run: nothing was killed"
    assert kill["state"] == "success", kill["failed"]
    after = kill["after"]
    # The killed try failed on worker-2; a later try ran to success on the surviving worker.
    assert after["state"] == "success"
    assert after["try_number"] > kill["killed"]["try_number"]
    assert after["hostname"] == "worker-1"
    before, after = campaign["after_first_wave"], campaign["after_kill"]
    dump_differences("before-vs-after-kill", before, after,
                     sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))
    assert (sorted(set(after) - set(before)), sorted(set(before) - set(after))) == ([], [])
    differing = sorted(k for k in before if before[k] != after[k])
    assert differing == [], "\n".join(f"{k}:\n{first_difference(before[k], after[k])}" for k in differing[:5])
    assert campaign["slack_after_kill"] == campaign["slack_before_kill"]
    assert campaign["pages_after_kill"] == campaign["pages_before_kill"]


def test_cluster_artifacts_equal_the_dag_test_artifacts(campaign, dag_test_side):
    assert {d: s for d, (s, _) in dag_test_side["states"].items()} == {d: "success" for d in campaign["states"]}, \
        dag_test_side["states"]
    window = (campaign["wall_clock_from"], dag_test_side["wall_clock_to"])
    cluster = without_wall_clock(campaign["cluster"], *window)
    local = without_wall_clock(dag_test_side["bucket"], *window)
    dump_differences("cluster-vs-dag-test", cluster, local,
                     sorted(k for k in set(cluster) | set(local) if cluster.get(k) != local.get(k)))
    assert (sorted(set(cluster) - set(local)), sorted(set(local) - set(cluster))) == ([], [])
    differing = sorted(k for k in cluster if cluster[k] != local[k])
    assert differing == [], "\n".join(f"{k}:\n{first_difference(cluster[k], local[k])}" for k in differing[:5])


def first_difference(a: bytes, b: bytes, width: int = 160) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"  cluster: {a[max(0, at - 60):at + width]!r}\n  dag.test: {b[max(0, at - 60):at + width]!r}"


def dump_differences(label: str, a: dict[str, bytes], b: dict[str, bytes], keys: list[str]) -> None:
    """Both versions of each differing artifact under test-output/cluster/<label>/ (git-ignored),
    to diff by hand."""
    from devtools.localenv import ROOT

    for side, snapshot in (("a", a), ("b", b)):
        for key in (k for k in keys if k in snapshot):
            path = ROOT / "test-output" / "cluster" / label / side / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(snapshot[key])


TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?")
DIGEST_KEY = re.compile(r"^(alerts/sent/summary~retention_pruning~.*~)[0-9a-f]{12}(\.json)$")


# Artifacts whose bytes record how this particular run went, not what the period was: only their
# keys are compared (nothing lost, nothing twice).
NOT_BYTE_COMPARED = {
    "backups/drills/": "a drill reports its measured restore, verify and teardown times (the RTO)",
    "runs/restore_drill/": "the run manifest's headline is the measured RTO",
    "alerts/sent/summary~support_invoicing~": "the approval request links the deployment's UI "
                                              "(a dag.test() run has none)",
}
ORDER_OF_ACTIONS = ("retention/audit/",)
MASKED = [
    # PagerDuty assigns the maintenance window's id.
    (re.compile(rb'("pagerduty_window_id":\s*)"[A-Z0-9]+"'), rb'\1"<assigned by PagerDuty>"'),
    # retention's Slack ledger names a digest of its report, which lists when each action happened.
    (re.compile(rb"(retention_pruning/\d{4}-\d\d-\d\d/)[0-9a-f]{12}"), rb"\1<digest>"),
]


def without_wall_clock(snapshot: dict[str, bytes], start: dt.datetime, end: dt.datetime) -> dict[str, bytes]:
    """The artifacts as compared: every instant of the test's own wall-clock time masked
    (retention's audit records say when each action happened), ids assigned by PagerDuty and
    digests of such reports masked, NOT_BYTE_COMPARED artifacts reduced to their key. Every other
    timestamp (logical dates, the sandbox's history) and byte is kept."""
    low, high = start - dt.timedelta(minutes=1), end + dt.timedelta(minutes=1)

    def mask(match: re.Match) -> bytes:
        text = match.group(0).decode().replace(" ", "T").replace("Z", "+00:00")
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return match.group(0)
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        return b"<wall-clock>" if low <= when <= high else match.group(0)

    out = {}
    masked_json = set()
    for key, body in snapshot.items():
        if key.endswith(".json") and TIMESTAMP.sub(mask, body) != body:
            masked_json.add(key.removesuffix(".json"))
    for key, body in snapshot.items():
        reason = next((why for prefix, why in NOT_BYTE_COMPARED.items() if key.startswith(prefix)), None)
        if reason is None and key.endswith(".pdf") and key.removesuffix(".pdf") in masked_json:
            # A PDF is compressed: it cannot be masked, and it prints what its JSON twin has masked.
            reason = "prints the wall-clock instants its JSON (compared, masked) holds"
        if reason is not None:
            body = f"<not compared: {reason}>".encode()
        elif not body.startswith((b"%PDF", b"\x89PNG", b"PAR1")):
            body = TIMESTAMP.sub(mask, body)
            for pattern, replacement in MASKED:
                body = pattern.sub(replacement, body)
            if key.startswith(ORDER_OF_ACTIONS):
                # An audit log in the order the actions happened: on the cluster, tasks run in
                # parallel. The same lines, in any order.
                body = b"\n".join(sorted(body.splitlines()))
        out[DIGEST_KEY.sub(r"\1<digest>\2", key)] = body
    return out
