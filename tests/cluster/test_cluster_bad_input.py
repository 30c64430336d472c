"""Bad input on the native cluster: a component started wrong says so clearly in its log, and a
restart of that component (with the mistake fixed) recovers without losing the runs in flight.

- A worker whose broker is unreachable exits at start naming the broker's address; the run it
  would have taken waits queued (the UI shows it queued: Airflow has no place for a worker's
  start-up error) and succeeds once the worker is restarted with the right broker.
- A worker without an AIRFLOW_CONN_* variable still runs tasks: in Airflow 3 a task asks the API
  server for connections it does not find itself. Missing from the whole deployment (worker and
  API server), the task fails with estate-ops' MissingConnectionError, which the task log in the
  UI shows (read here through the same REST endpoint); with both restarted with it, the retry of
  the same run succeeds.
- A scheduler on an unmigrated database stops with Airflow's "Database migration required"
  error; after `airflow db migrate` the same command starts and reports healthy.

The worker tests replace both workers by one misconfigured worker and trigger estate_preflight
for a day of their own; the two normal workers (and the API server) are back afterwards whatever
happened.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time

import pytest

from devtools.cluster import VENV_BIN, _free_port
from tests.cluster.test_cluster import task_instances, trigger, wait_for_runs

pytestmark = pytest.mark.slow

DAG = "estate_preflight"


def log_text(cluster, name: str) -> str:
    return (cluster.logs / f"{name}.log").read_text(errors="replace")


def wait_for_log(cluster, name: str, pattern: str, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log_text(cluster, name))
        if match:
            return match.group(0)
        time.sleep(1)
    raise AssertionError(f"{pattern!r} not in {name}.log after {timeout:.0f}s:\n{log_text(cluster, name)[-3000:]}")


def wait_for_workers(cluster, names: set[str], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not names <= cluster.workers_answering():
        assert time.monotonic() < deadline, f"workers {names} not answering"
        time.sleep(1)


@contextlib.contextmanager
def one_worker(cluster, env: dict[str, str]):
    """worker-1 alone, with `env`; the normal two workers again afterwards."""
    for name in cluster.worker_names():
        cluster.stop_component(name)
    (cluster.logs / "worker-1.log").write_text("")  # this test's log only
    cluster.start_component("worker-1", env)
    try:
        yield
    finally:
        for name in cluster.worker_names():
            cluster.stop_component(name)
        for name in cluster.worker_names():
            cluster.start_component(name)
        wait_for_workers(cluster, set(cluster.worker_names()))


def test_worker_that_cannot_reach_the_broker_logs_it_and_a_restart_runs_the_queued_run(cluster):
    env = cluster.environment("worker-1")
    closed = _free_port()
    env["AIRFLOW__CELERY__BROKER_URL"] = f"redis://127.0.0.1:{closed}/0"
    with one_worker(cluster, env):
        rid = trigger(cluster, DAG, "2026-11-03T06:00:00+00:00", {})
        # The worker stops at once, naming the broker's address (its URL is masked in logs).
        wait_for_log(cluster, "worker-1", rf"OperationalError: Error 111 connecting to 127\.0\.0\.1:{closed}\. "
                                          r"Connection refused")
        deadline = time.monotonic() + 60
        while cluster.processes["worker-1"].poll() is None:
            assert time.monotonic() < deadline, "the worker without a broker keeps running"
            time.sleep(1)
        # Nothing ran: the run waits in the queue, it is not failed or lost.
        time.sleep(5)
        assert cluster.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{rid}")["state"] in ("queued", "running")
        assert all(t["state"] in (None, "scheduled", "queued") for t in task_instances(cluster, DAG, rid))
        cluster.stop_component("worker-1")
        cluster.start_component("worker-1")  # fixed: the cluster's own broker
        assert wait_for_runs(cluster, {DAG: rid}) == {DAG: "success"}


def restart_api_server(cluster, env: dict[str, str] | None = None) -> None:
    cluster.stop_component("api-server")
    cluster.start_component("api-server", env)
    cluster.wait_api(time.monotonic() + 180)


def test_worker_without_a_connection_still_gets_it_from_the_api_server(cluster):
    """Airflow 3: a task asks the API server for connections it does not find in its own
    environment, so a worker started without AIRFLOW_CONN_AWS_DEFAULT runs the DAG fine."""
    env = {k: v for k, v in cluster.environment("worker-1").items() if k != "AIRFLOW_CONN_AWS_DEFAULT"}
    with one_worker(cluster, env):
        rid = trigger(cluster, DAG, "2026-11-04T06:00:00+00:00", {})
        assert wait_for_runs(cluster, {DAG: rid}) == {DAG: "success"}


def test_connection_missing_from_the_deployment_fails_clearly_and_a_restart_recovers_the_run(cluster):
    """Missing from the worker and the API server: the task fails naming the connection and how
    to add it; restarting both with it, the retry of the same run succeeds."""
    def without(name: str) -> dict[str, str]:
        return {k: v for k, v in cluster.environment(name).items() if k != "AIRFLOW_CONN_AWS_DEFAULT"}

    restart_api_server(cluster, without("api-server"))
    restored = False
    try:
        with one_worker(cluster, without("worker-1")):
            rid = trigger(cluster, DAG, "2026-11-05T06:00:00+00:00", {})
            deadline = time.monotonic() + 300
            failed = []
            while not failed:
                assert time.monotonic() < deadline, task_instances(cluster, DAG, rid)
                failed = [t for t in task_instances(cluster, DAG, rid)
                          if t["task_id"] == "check_aws" and t["state"] in ("up_for_retry", "failed")]
                time.sleep(1)
            ti = failed[0]
            log = cluster.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{rid}/taskInstances/{ti['task_id']}/logs/"
                                     f"{ti['try_number']}?full_content=true")
            text = str(log)
            assert "Airflow connection 'aws_default'" in text and "is not defined" in text, text[-3000:]
            restart_api_server(cluster)
            restored = True
            cluster.stop_component("worker-1")
            cluster.start_component("worker-1")
            assert wait_for_runs(cluster, {DAG: rid}) == {DAG: "success"}
    finally:
        if not restored:
            restart_api_server(cluster)


def test_scheduler_started_before_the_migration_says_so_and_starts_after_it(cluster):
    """On a database of its own (the cluster's is migrated): the scheduler refuses to start and
    names the missing migrations; after `airflow db migrate` the same command starts."""
    admin = cluster.postgres.connect()
    try:
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS airflow_unmigrated")
            cur.execute("CREATE DATABASE airflow_unmigrated OWNER airflow")
    finally:
        admin.close()
    env = cluster.environment("scheduler-unmigrated")
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[0] + "/airflow_unmigrated")
    env["AIRFLOW__DATABASE__MIGRATION_WAIT_TIMEOUT"] = "5"
    env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(_free_port())
    log = cluster.logs / "scheduler-unmigrated.log"
    with log.open("wb") as out:
        first = subprocess.run([str(VENV_BIN / "airflow"), "scheduler"], check=False, env=env, stdout=out,
                               stderr=subprocess.STDOUT, timeout=300)
    text = log.read_text(errors="replace")
    assert first.returncode != 0
    assert "Database migration required. Please run `airflow db migrate`." in text, text[-3000:]
    subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=600)
    process = cluster._spawn("scheduler-unmigrated", [str(VENV_BIN / "airflow"), "scheduler"], env)
    try:
        port = env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]
        deadline = time.monotonic() + 180
        import urllib.request

        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the scheduler did not become healthy after the migration"
            time.sleep(1)
    finally:
        cluster.stop_component("scheduler-unmigrated")
