"""Start and drive a sandbox from Python (the demo, the tests, the benchmarks).

    with start_sandbox(tmp_path / "sandbox", reference_month="2026-10") as sbx:
        os.environ.update(sbx.airflow_connections_env())
        ...
        sbx.slack_messages()

The sandbox runs as a separate process (`python -m sandbox`), so its moto backends, threads
and ports never mix with the caller's. Only the standard library is imported here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from sandbox import (
    AWS_ACCESS_KEY,
    AWS_SECRET_KEY,
    LOG_FILE,
    PAGERDUTY_EVENTS_FILE,
    READY_FILE,
    SLACK_MESSAGES_FILE,
)
from sandbox.processes import group_alive as _group_alive
from sandbox.processes import pid_alive as _pid_alive
from sandbox.processes import tail as _tail
from sandbox.processes import wait_until as _wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]


class SandboxError(RuntimeError):
    """The sandbox did not start, or a control call failed."""


@dataclass
class SandboxHandle:
    aws_url: str
    pagerduty_url: str
    slack_url: str
    state_dir: Path
    reference_month: str
    """YYYY-MM."""
    now: str
    pid: int
    info: dict[str, Any] = field(repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ connections

    @property
    def region(self) -> str:
        return self.info["region"]

    @property
    def pagerduty_token(self) -> str:
        return self.info["pagerduty_token"]

    @property
    def pagerduty_routing_key(self) -> str:
        return self.info["pagerduty_routing_key"]

    @property
    def slack_token(self) -> str:
        return self.info["slack_token"]

    @property
    def statuspage_url(self) -> str:
        """The Statuspage stand-in's API base URL (`.../statuspage/v1`, on the Slack port)."""
        return self.info["statuspage_url"]

    @property
    def statuspage_key(self) -> str:
        return self.info["statuspage_key"]

    @property
    def ca_bundle(self) -> str:
        """PEM bundle (public roots + the sandbox CA) to verify the https PagerDuty stand-in."""
        return self.info["ca_bundle"]

    def airflow_connections_env(self) -> dict[str, str]:
        """Environment variables that point Airflow's default connections at this sandbox."""
        return {
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
                "conn_type": "aws", "login": AWS_ACCESS_KEY, "password": AWS_SECRET_KEY,
                "extra": {"region_name": self.region, "endpoint_url": self.aws_url}}),
            "AIRFLOW_CONN_PAGERDUTY_DEFAULT": json.dumps({
                "conn_type": "pagerduty", "host": self.pagerduty_url,
                "password": self.pagerduty_token}),
            "AIRFLOW_CONN_PAGERDUTY_EVENTS_DEFAULT": json.dumps({
                "conn_type": "pagerduty_events", "host": self.pagerduty_url,
                "password": self.pagerduty_routing_key}),
            # Sentry (host = base URL, password = the token) and Mixpanel (service account, project id in extra).
            "AIRFLOW_CONN_SENTRY_DEFAULT": json.dumps({
                "conn_type": "http", "host": self.info["sentry_url"], "password": self.info["sentry_token"]}),
            "AIRFLOW_CONN_MIXPANEL_DEFAULT": json.dumps({
                "conn_type": "http", "host": self.info["mixpanel_url"], "login": self.info["mixpanel_user"],
                "password": self.info["mixpanel_secret"],
                "extra": {"project_id": self.info["mixpanel_project_id"]}}),
            "AIRFLOW_CONN_SLACK_API_DEFAULT": json.dumps({
                "conn_type": "slack", "password": self.slack_token,
                "extra": {"base_url": self.slack_url + "/api/"}}),
            "AIRFLOW_CONN_STATUSPAGE_DEFAULT": json.dumps({
                "conn_type": "http", "host": self.statuspage_url, "password": self.statuspage_key}),
            # Restore drills (sandbox/postgres.py): the scratch instance's endpoint replaces the
            # host and port; the database is the restored instance's DBName.
            "AIRFLOW_CONN_RESTORE_DRILL_DB": json.dumps({
                "conn_type": "postgres", "host": "127.0.0.1", "login": "drill",
                "password": "sandbox-drill-password"}),
            "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            # The PagerDuty stand-in is https with a sandbox CA (the pagerduty library insists
            # on https): trust it. The bundle also holds the public roots.
            "SSL_CERT_FILE": self.info["ca_bundle"],
            "REQUESTS_CA_BUNDLE": self.info["ca_bundle"],
            # The estate with its tier changes and release dates dated for the reference month.
            "ESTATE_OPS_ESTATE": self.info["estate_file"],
        }

    def boto3_client(self, service: str, region: str | None = None) -> Any:
        import boto3

        return boto3.client(service, region_name=region or self.region, endpoint_url=self.aws_url,
                            aws_access_key_id=AWS_ACCESS_KEY, aws_secret_access_key=AWS_SECRET_KEY)

    # ------------------------------------------------------------------ what was sent

    def slack_messages(self) -> list[dict[str, Any]]:
        """Every chat.postMessage since the last reset, oldest first."""
        return _read_jsonl(self.state_dir / SLACK_MESSAGES_FILE)

    def pagerduty_events(self) -> list[dict[str, Any]]:
        """Every Events API v2 event since the last reset (`event` is the body as sent)."""
        return _read_jsonl(self.state_dir / PAGERDUTY_EVENTS_FILE)

    def request_counts(self) -> dict[str, Any]:
        """{"paths": {api: {"GET /incidents": n}}, "routes": {...}, "totals": {api: n}};
        api is "pagerduty", "slack" or "aws" (keyed "<service>:<action>")."""
        return self._control("GET", "/requests")

    def clear_request_counts(self) -> None:
        self._control("DELETE", "/requests")

    # ------------------------------------------------------------------ steering

    def reset(self) -> float:
        """Back to the pristine seeded state; returns the seconds the sandbox took."""
        return self._control("POST", "/reset")["seconds"]

    def simulate_rate_limit(self, next_n: int = 0, *, per_minute: int | None = None,
                            reset_seconds: int = 2, api: str = "pagerduty") -> None:
        """The next `next_n` requests (or those over `per_minute`) to `api` ("pagerduty",
        "events", "slack", "sentry" or "mixpanel") answer 429 with the service's rate-limit headers."""
        self._control("POST", "/rate_limit", {"api": api, "next": next_n,
                                              "per_minute": per_minute,
                                              "reset_seconds": reset_seconds})

    def clear_rate_limits(self) -> None:
        self._control("DELETE", "/rate_limit")

    def throttle_aws(self, service: str, count: int = 1, action: str | None = None) -> None:
        """The next `count` calls to an AWS service (optionally one action, e.g.
        "DescribeDBSnapshots") fail with AWS's throttling error."""
        self._control("POST", "/aws/throttle", {"service": service, "count": count,
                                                "action": action})

    def revoke_token(self, api: str = "pagerduty", token: str | None = None) -> list[str]:
        """Revoke the stand-in's token (all of them by default): later calls get 401
        (PagerDuty) or `token_revoked` (Slack)."""
        return self._control("POST", "/revoke_token", {"api": api, "token": token})["revoked"]

    def remove(self, kind: str, id: str, region: str | None = None) -> None:
        """Make a resource missing. Kinds: pagerduty_{service,incident,schedule,
        escalation_policy,user,priority,maintenance_window}, slack_channel, rds_instance,
        rds_snapshot, rds_subnet_group, s3_bucket, log_group, health_check, statuspage_component,
        statuspage_incident."""
        self._control("POST", "/remove", {"kind": kind, "id": id, "region": region})

    # ------------------------------------------------------------------ lifecycle

    def open_pagerduty_incident(self, service_id: str, priority_id: str | None, title: str) -> dict[str, Any]:
        """A triggered incident created at the sandbox's now, with this priority."""
        return self._control("POST", "/pagerduty/incident",
                             {"service_id": service_id, "priority_id": priority_id, "title": title})

    def resolve_pagerduty_incident(self, incident_id: str) -> dict[str, Any]:
        return self._control("POST", "/pagerduty/incident", {"resolve": incident_id})

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _pid_alive(self.pid)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait, then SIGKILL if need be; then end anything the sandbox started and
        left behind in its process group (it runs in a session of its own). Idempotent."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
            _close_log(self.process)
        elif _pid_alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            _wait_until(lambda: not _pid_alive(self.pid), timeout)
        _end_process_group(self.pid)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ plumbing

    def _control(self, method: str, path: str, body: dict | None = None) -> Any:
        url = f"{self.info['control_url']}{path}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise SandboxError(f"{method} {path}: {exc.code} {exc.read().decode()}") from None
        except urllib.error.URLError as exc:
            raise SandboxError(f"{method} {path}: sandbox unreachable ({exc.reason})") from None


def start_sandbox(state_dir: str | os.PathLike, *, reference_month: str | dt.date | None = None,
                  now: str | dt.datetime | None = None, ports: str | Mapping[str, int] = "auto",
                  host: str | None = None, tls_names: Iterable[str] = (),
                  extra_args: Iterable[str] = (), timeout: float = 90.0,
                  python: str | None = None) -> SandboxHandle:
    """Start `python -m sandbox` and return once it is listening and seeded.

    `ports`: "auto" (free ports) or {"aws": p, "pagerduty": p, "slack": p}. `host`: the
    address every server binds (`--host`, default 127.0.0.1); `tls_names`: names the PagerDuty
    certificate is also valid for (`--tls-name`). The process exits by itself if this process
    dies. Raises SandboxError with the log's tail on failure.
    """
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    ready = state_dir / READY_FILE
    ready.unlink(missing_ok=True)
    args = [python or sys.executable, "-m", "sandbox", "--state-dir", str(state_dir),
            "--parent-pid", str(os.getpid())]
    if reference_month is not None:
        args += ["--reference-month", reference_month if isinstance(reference_month, str)
                 else reference_month.strftime("%Y-%m")]
    if now is not None:
        args += ["--now", now if isinstance(now, str) else now.isoformat()]
    if ports == "auto":
        args += ["--ports", "auto"]
    else:
        args += ["--ports", "fixed"] + [f"--{name}-port={port}" for name, port in dict(ports).items()]
    if host is not None:
        args += ["--host", host]
    for name in tls_names:
        args += ["--tls-name", name]
    args += list(extra_args)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    log_path = state_dir / LOG_FILE
    log = log_path.open("ab")
    process = subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process._sandbox_log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _close_log(process)
            raise SandboxError(f"sandbox exited with {process.returncode} before it was ready:\n"
                               + _tail(log_path))
        info = _read_ready(ready)
        if info is not None and info.get("pid") == process.pid:
            return SandboxHandle(
                aws_url=info["aws_url"], pagerduty_url=info["pagerduty_url"],
                slack_url=info["slack_url"], state_dir=state_dir,
                reference_month=info["reference_month"], now=info["now"], pid=process.pid,
                info=info, process=process)
        time.sleep(0.05)
    process.kill()
    process.wait(5)
    _close_log(process)
    raise SandboxError(f"sandbox not ready after {timeout:.0f}s:\n" + _tail(log_path))


def _read_ready(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _close_log(process: subprocess.Popen) -> None:
    log = getattr(process, "_sandbox_log", None)
    if log is not None and not log.closed:
        log.close()


def _end_process_group(pgid: int) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if not _group_alive(pgid):
            return
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        _wait_until(lambda: not _group_alive(pgid), grace)
