"""Test session set-up: a project-local Airflow (SQLite, this checkout's dags/ and plugins/).

The environment is set before Airflow is imported anywhere. The metadata DB is migrated once
into a template and copied per session (and per xdist worker), so every session starts clean
without paying for a migration each time.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from devtools.localenv import ROOT, airflow_environment, prepare_home

# One metadata DB per test session (and per xdist worker): concurrent sessions in the same
# checkout must not share an SQLite file. Workers inherit the session id from the controller.
_SESSION = os.environ.setdefault("ESTATE_OPS_TEST_SESSION", str(os.getpid()))
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEST_ROOT = ROOT / ".airflow-test"
AIRFLOW_HOME = TEST_ROOT / f"session-{_SESSION}" / _WORKER
os.environ.update(airflow_environment(AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")

pytest_plugins = ["tests.sandbox_fixtures"] if (ROOT / "tests" / "sandbox_fixtures.py").exists() else []


def _template_db() -> Path:
    """A migrated metadata DB for this Airflow version and pools file, built once."""
    import airflow

    stamp = f"{airflow.__version__}-{(ROOT / 'include' / 'pools.json').stat().st_mtime_ns if (ROOT / 'include' / 'pools.json').exists() else 0}"
    template_home = TEST_ROOT / "template"
    TEST_ROOT.mkdir(parents=True, exist_ok=True)
    with open(TEST_ROOT / "template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_file = template_home / "stamp"
        if not (stamp_file.exists() and stamp_file.read_text() == stamp):
            shutil.rmtree(template_home, ignore_errors=True)
            prepare_home(template_home, airflow_environment(template_home))
            stamp_file.write_text(stamp)
    return template_home / "airflow.db"


def _remove_finished_sessions() -> None:
    for home in TEST_ROOT.glob("session-*"):
        pid = home.name.removeprefix("session-")
        if pid.isdigit() and pid != _SESSION and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(home, ignore_errors=True)


def pytest_configure(config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        _remove_finished_sessions()
    if hasattr(config, "workerinput") or os.environ.get("PYTEST_XDIST_WORKER") is None:
        AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_template_db(), AIRFLOW_HOME / "airflow.db")


# ----------------------------------------------------------------------------- IAM policy check
# Every AWS call made from estate_ops code during the run is recorded; at the end the run fails
# if include/iam/estate-ops-policy.json does not allow one of them (devtools/iam.py).

from devtools.iam import RECORDED_ACTIONS, record_estate_ops_aws_calls

record_estate_ops_aws_calls()


def pytest_sessionfinish(session, exitstatus) -> None:
    import json

    from devtools.iam import load_policy, not_allowed

    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    (AIRFLOW_HOME / "aws-calls.json").write_text(json.dumps(sorted(RECORDED_ACTIONS), indent=1))
    missing = not_allowed(RECORDED_ACTIONS, load_policy())
    if missing:
        print(f"\nIAM policy check FAILED: estate-ops called AWS actions that "
              f"include/iam/estate-ops-policy.json does not allow: {missing}")
        session.exitstatus = 1
    elif RECORDED_ACTIONS:
        print(f"\nIAM policy check: all {len(RECORDED_ACTIONS)} AWS actions called are allowed by the policy")
