"""`make cluster` / `make cluster-stop` as a user runs them: the CLI of devtools/cluster.py in its
own processes. (tests/cluster/ drives the same stack in-process through `Cluster`.)"""

from __future__ import annotations

import json
import subprocess
import urllib.request

from devtools.cluster import AIRFLOW_COMPONENTS, tagged_processes
from devtools.localenv import ROOT, VENV_BIN


def cluster_cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "python"), "-m", "devtools.cluster", *args], check=False, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_start_returns_healthy_with_the_ui_address_and_stop_leaves_nothing_running(tmp_path):
    root = tmp_path / "cluster"
    try:
        started = cluster_cli("start", "--dir", str(root), timeout=900)
        assert started.returncode == 0, started.stdout + started.stderr
        state = json.loads((root / "cluster.json").read_text())
        assert f"estate-ops cluster is up: {state['api_url']}" in started.stdout
        assert "admin / admin" in started.stdout

        status = cluster_cli("status", "--dir", str(root), timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        for name in (*AIRFLOW_COMPONENTS, "worker-1", "worker-2"):
            assert any(line.startswith(name) and line.rstrip().endswith("up")
                       for line in status.stdout.splitlines()), (name, status.stdout)
        with urllib.request.urlopen(f"{state['api_url']}/api/v2/monitor/health", timeout=10) as response:
            health = json.loads(response.read())
        assert {part: health[part]["status"] for part in ("metadatabase", "scheduler", "triggerer",
                                                         "dag_processor")} == dict.fromkeys(
            ("metadatabase", "scheduler", "triggerer", "dag_processor"), "healthy")
    finally:
        stopped = cluster_cli("stop", "--dir", str(root), timeout=300)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert tagged_processes(root) == []
    assert cluster_cli("status", "--dir", str(root), timeout=60).stdout.strip() == "not running"
