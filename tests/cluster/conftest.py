"""One native cluster (devtools/cluster.py) for the tests in this folder: started on first use,
against the session's sandbox (reference month 2026-10, now 2026-11-02T12:00:00Z), and always
stopped after the last test of this folder, with a check that no process of it is left."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.cluster import Cluster, tagged_processes

# Faster recovery than production's defaults, so the killed-worker test takes seconds, not
# minutes: a task whose worker died is failed (then retried) after this long without heartbeat.
TEST_OVERRIDES = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    # Scheduled runs would use the machine's date, not the sandbox's fixed "now": the tests
    # trigger every run themselves.
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    # The sandbox estate issues invoices without approval; the tests exercise the approval step
    # (REST API in the cluster test, Required Actions in the browser test).
    "ESTATE_OPS_INVOICE_APPROVAL": "required",
}


# Package scope: the stack stops after the last test of tests/cluster/, not at the end of the
# whole session (an idle scheduler and dag-processor would slow every test after them).
@pytest.fixture(scope="package")
def cluster(sandbox_session, tmp_path_factory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    # One task slot per worker: two tasks that run at once are on two different workers.
    stack = Cluster(root, workers=2, concurrency=1, sandbox=sandbox_session, extra_env=TEST_OVERRIDES)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        left = tagged_processes(root)
        assert left == [], f"cluster processes left running: {left}"
