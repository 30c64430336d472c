"""`make cluster`: Airflow's distributed topology (docker-compose.yaml) as real local processes.

PostgreSQL (metadata DB and Celery result backend), Redis (Celery broker), `airflow api-server`,
`scheduler`, `dag-processor`, `triggerer`, N `airflow celery worker`s with distinct hostnames, and
the seeded sandbox, all on free loopback ports, every component's log in <dir>/logs/.

    python -m devtools.cluster start [--dir .cluster] [--workers 2]   # returns once all is healthy
    python -m devtools.cluster status
    python -m devtools.cluster stop                                    # leaves nothing running

`start` spawns a detached supervisor (`_supervise`) that owns every process and stops them all on
SIGTERM; `<dir>/cluster.json` names it and every component. The Airflow settings are
config/airflow.env (the file docker-compose.yaml reads as env_file) plus only what this
deployment decides - the same kind of keys as x-airflow-common (executor, database, broker,
paths, auth, keys, connections) and the loopback ports that compose gets from its network
(`native_only_settings()`; tests/cluster/test_cluster_settings.py checks both sides).

Tests use `Cluster` in-process (tests/cluster/conftest.py). Only the standard library is imported
at module level: task processes import `component_hostname` from here.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devtools.localenv import POOLS_FILE, ROOT, VENV_BIN, read_env_file
from sandbox.processes import free_port as _free_port
from sandbox.processes import group_alive as _group_alive
from sandbox.processes import pid_alive as _pid_alive
from sandbox.processes import tail as _tail

DEFAULT_DIR = ROOT / ".cluster"
STATE_FILE = "cluster.json"
READY_FILE = "ready.json"
TAG = "ESTATE_OPS_CLUSTER"
"""Every component's environment carries TAG=<cluster dir>: how `stop` finds stragglers."""
HOSTNAME_ENV = "ESTATE_OPS_CLUSTER_HOSTNAME"
USER, PASSWORD = "admin", "admin"
DB_USER = DB_PASSWORD = DB_NAME = "airflow"
# The sandbox defaults of the test fixtures (tests/sandbox_fixtures.py), so `make cluster` shows
# the same history as the tests and the demo.
REFERENCE_MONTH = "2026-10"
FIXED_NOW = "2026-11-02T12:00:00Z"
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def component_hostname() -> str:
    """[core] hostname_callable of the cluster: each worker's task instances record its own name
    (all components share one machine, so the FQDN would not tell the workers apart)."""
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


class ClusterError(RuntimeError):
    """A component did not start or is not healthy; the message names it and quotes its log."""


def tagged_processes(root: Path) -> list[int]:
    """Pids of live processes started for the cluster in `root` (their environment has TAG=root),
    other than this one."""
    marker = f"{TAG}={Path(root).resolve()}".encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except (FileNotFoundError, PermissionError, ProcessLookupError, OSError):
            continue
        if marker in environ + b"\0" and _pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_tagged(root: Path, timeout: float = 10.0) -> list[int]:
    """SIGTERM, then SIGKILL, every process still tagged with this cluster; returns their pids."""
    pids = tagged_processes(root)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
            time.sleep(0.2)
        if not any(_pid_alive(p) for p in pids):
            break
    return pids


def native_only_settings() -> set[str]:
    """Settings the native stack sets that docker-compose.yaml does not: loopback ports and host
    names (compose has them from its network), and worker-process tuning this 2-core stack needs."""
    return {
        "AIRFLOW__API__HOST", "AIRFLOW__API__PORT", "AIRFLOW__API__BASE_URL",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE", "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW",
    }


class Cluster:
    """The processes of one cluster under `root`. Not thread-safe; one owner process."""

    def __init__(self, root: Path = DEFAULT_DIR, *, workers: int = 2, concurrency: int = 2,
                 reference_month: str = REFERENCE_MONTH, now: str = FIXED_NOW, sandbox: Any = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.root = Path(root).resolve()
        self.workers = workers
        self.concurrency = concurrency
        self.reference_month = reference_month
        self.now = now
        self.sandbox = sandbox
        self.owns_sandbox = sandbox is None
        self.extra_env = dict(extra_env or {})
        self.logs = self.root / "logs"
        self.home = self.root / "home"
        self.processes: dict[str, subprocess.Popen] = {}
        self.postgres: Any = None
        self.ports: dict[str, int] = {}
        self._token: str | None = None

    # ------------------------------------------------------------------ settings

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    def worker_names(self) -> list[str]:
        return [f"worker-{i}" for i in range(1, self.workers + 1)]

    def deployment_settings(self) -> dict[str, str]:
        """What this deployment decides, as x-airflow-common does for docker compose."""
        db = f"{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.ports['postgres']}/{DB_NAME}"
        secrets_dir = self.root / "secrets"
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}",
            # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the venv has psycopg2 (as Airflow itself uses).
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{db}",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs / "airflow"),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(secrets_dir / "simple_auth_manager_passwords.json"),
            "AIRFLOW__CORE__FERNET_KEY_CMD": f"cat {secrets_dir / 'fernet_key'}",
            "AIRFLOW__API_AUTH__JWT_SECRET_CMD": f"cat {secrets_dir / 'jwt_secret'}",
            "AIRFLOW__API__SECRET_KEY_CMD": f"cat {secrets_dir / 'api_secret_key'}",
            # native only (native_only_settings)
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.ports["api"]),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports["scheduler_health"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports["trigger_logs"]),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "devtools.cluster.component_hostname",
            # PostgreSQL here allows 50 connections (sandbox/postgres.py): keep every pool small.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "5",
        }

    def environment(self, component: str = "") -> dict[str, str]:
        """The environment of an Airflow component: config/airflow.env, then this deployment's own
        settings (which never repeat a key of the env file), connections, then test overrides."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
        shared = read_env_file()
        env.update(shared)
        own = self.deployment_settings()
        clash = sorted(set(own) & set(shared))
        if clash:
            raise ClusterError(f"config/airflow.env sets {clash}, which the cluster sets itself")
        env.update(own)
        if self.sandbox is not None:
            env.update(self.sandbox.airflow_connections_env())
        pythonpath = [str(ROOT / "plugins"), str(ROOT)]
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            TAG: str(self.root),
            HOSTNAME_ENV: component or "estate-ops",
        })
        env.update(self.extra_env)
        return env

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 420.0) -> Cluster:
        """Start everything and wait until every component is healthy and every DAG is parsed."""
        deadline = time.monotonic() + timeout
        shutil.rmtree(self.root, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.home.mkdir(parents=True)
        (self.logs / "airflow").mkdir()
        self.ports = {name: _free_port() for name in ("api", "redis", "scheduler_health", "trigger_logs")}
        self._write_secrets()
        self._write_state()
        _start_watchdog(self.root, os.getpid())
        try:
            self.postgres = ClusterPostgres(self.root)
            self.postgres.start()
            self.ports["postgres"] = self.postgres.port
            self._write_state()
            self.start_redis()
            if self.sandbox is None:
                from sandbox.runner import start_sandbox

                self.sandbox = start_sandbox(self.root / "sandbox", reference_month=self.reference_month,
                                             now=self.now)
            self.migrate()
            for name in AIRFLOW_COMPONENTS:
                self.start_component(name)
            for name in self.worker_names():
                self.start_component(name)
            self.wait_healthy(deadline)
            self._write_state(ready=True)
        except BaseException:
            self.stop()
            raise
        return self

    def start_redis(self) -> None:
        redis_dir = self.root / "redis"
        redis_dir.mkdir(exist_ok=True)
        self._spawn("redis", ["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(redis_dir)],
                    {**os.environ, TAG: str(self.root)})
        self._wait(lambda: self._redis_ping(), time.monotonic() + 30, "redis")

    def migrate(self) -> None:
        """What compose's airflow-init does: migrate the metadata DB and import the pools."""
        env = self.environment("init")
        for args in (["db", "migrate"], ["pools", "import", str(POOLS_FILE)]):
            with (self.logs / "init.log").open("ab") as log:
                result = subprocess.run([str(VENV_BIN / "airflow"), *args], check=False, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, timeout=600)
            if result.returncode != 0:
                raise ClusterError(f"airflow {' '.join(args)} failed ({result.returncode}):\n"
                                   + _tail(self.logs / "init.log"))

    def command(self, name: str) -> list[str]:
        airflow = str(VENV_BIN / "airflow")
        if name == "api-server":
            return [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.ports["api"]), "--workers", "1"]
        if name in ("scheduler", "dag-processor", "triggerer"):
            return [airflow, name]
        if name.startswith("worker-"):
            return [airflow, "celery", "worker", "--celery-hostname", f"{name}@{socket.gethostname()}",
                    "--concurrency", str(self.concurrency)]
        raise ValueError(f"unknown component {name!r}")

    def start_component(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start (or restart: a running one is stopped first, never left untracked) a component."""
        if name in self.processes:
            self.stop_component(name)
        env = dict(env or self.environment(name))
        if name.startswith("worker-"):
            # Each worker serves its task logs on its own port (the default 8793 is one per host).
            port = self.ports.setdefault(f"{name}_logs", _free_port())
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(port)
        process = self._spawn(name, self.command(name), env)
        self._write_state()
        return process

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.processes[name] = process
        return process

    def stop_component(self, name: str, *, kill: bool = False, timeout: float = 30.0) -> None:
        """SIGTERM (or SIGKILL with kill=True) the component's whole process group."""
        process = self.processes.get(name)
        if process is None:
            return
        for sig in ([signal.SIGKILL] if kill else [signal.SIGTERM, signal.SIGKILL]):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; its children may still be exiting.
            end = time.monotonic() + timeout
            while time.monotonic() < end and _group_alive(process.pid):
                time.sleep(0.2)
            if not _group_alive(process.pid):
                break
        self.processes.pop(name, None)

    def stop(self) -> None:
        """Stop every component (workers first, the database last). Idempotent."""
        # SIGTERM to every Airflow component at once (workers warm-stop in parallel), then give
        # them a shared grace period before SIGKILL; Redis last.
        airflow = [n for n in self.processes if n != "redis"]
        for name in airflow:
            try:
                os.killpg(self.processes[name].pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        end = time.monotonic() + 20
        while time.monotonic() < end and any(_group_alive(self.processes[n].pid) for n in airflow):
            time.sleep(0.3)
        for name in [*airflow, "redis"]:
            with contextlib.suppress(Exception):  # stop the rest whatever one did
                self.stop_component(name, kill=name in airflow, timeout=10)
        if self.sandbox is not None and self.owns_sandbox:
            self.sandbox.stop()
            self.sandbox = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        kill_tagged(self.root)
        (self.root / READY_FILE).unlink(missing_ok=True)
        if (self.root / STATE_FILE).exists():
            (self.root / STATE_FILE).unlink()

    # ------------------------------------------------------------------ health

    def wait_api(self, deadline: float) -> None:
        """The api-server answers and reports the scheduler, dag-processor and triggerer healthy."""
        self._wait(self._api_up, deadline, "api-server")
        self._wait(self._components_healthy, deadline, "scheduler, dag-processor and triggerer (/api/v2/monitor/health)")

    def wait_healthy(self, deadline: float) -> None:
        self.wait_api(deadline)
        self._wait(self._scheduler_health, deadline, "scheduler health check")
        self._wait(lambda: set(self.worker_names()) <= self.workers_answering(), deadline, "celery workers")
        self._wait(self._dags_parsed, deadline, "every DAG parsed")

    def _wait(self, check, deadline: float, what: str) -> None:
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise ClusterError(f"{name} exited with {process.returncode} while waiting for {what}:\n"
                                       + _tail(self.logs / f"{name}.log"))
            with contextlib.suppress(Exception):  # not up yet
                if check():
                    return
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {n}.log\n{_tail(self.logs / f'{n}.log', 10)}" for n in self.processes)
                raise ClusterError(f"timed out waiting for {what}\n{logs}")
            time.sleep(1)

    def _redis_ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def _api_up(self) -> bool:
        with urllib.request.urlopen(f"{self.api_url}/api/v2/version", timeout=5) as response:
            return response.status == 200

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:
            return json.loads(response.read())

    def _components_healthy(self) -> bool:
        health = self.health()
        return all((health.get(k) or {}).get("status") == "healthy"
                   for k in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def _scheduler_health(self) -> bool:
        url = f"http://127.0.0.1:{self.ports['scheduler_health']}/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200

    def workers_answering(self, timeout: float = 2.0) -> set[str]:
        """Names of the Celery workers that answer a ping through the broker."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            replies = app.control.ping(timeout=timeout)
        finally:
            app.close()
        return {name.split("@", 1)[0] for reply in replies for name in reply}

    def _dags_parsed(self) -> bool:
        expected = {p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_")}
        dags = {d["dag_id"] for d in self.api("GET", "/api/v2/dags?limit=100")["dags"]}
        return expected <= dags

    # ------------------------------------------------------------------ REST API

    def token(self) -> str:
        if self._token is None:
            body = json.dumps({"username": USER, "password": PASSWORD}).encode()
            request = urllib.request.Request(f"{self.api_url}/auth/token", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                self._token = json.loads(response.read())["access_token"]
        return self._token

    def api(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> Any:
        """A call to the Airflow REST API as the admin user; raises ClusterError with the answer."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api_url}{path}", data=data, method=method, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token()}"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ClusterError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')[:2000]}") from None
        return json.loads(raw) if raw else None

    # ------------------------------------------------------------------ state file

    def _write_secrets(self) -> None:
        import base64

        directory = self.root / "secrets"
        directory.mkdir(mode=0o700)
        (directory / "fernet_key").write_text(base64.urlsafe_b64encode(os.urandom(32)).decode())
        (directory / "jwt_secret").write_text(secrets.token_urlsafe(64))
        (directory / "api_secret_key").write_text(secrets.token_urlsafe(64))
        (directory / "simple_auth_manager_passwords.json").write_text(json.dumps({USER: PASSWORD}))

    def _write_state(self, ready: bool = False) -> None:
        state = {
            "owner_pid": os.getpid(), "root": str(self.root), "ports": self.ports,
            "api_url": self.api_url if "api" in self.ports else None,
            "components": {name: p.pid for name, p in self.processes.items()},
            "sandbox": self.sandbox.info if self.sandbox is not None else None,
            "user": USER, "password": PASSWORD, "ready": ready,
        }
        tmp = self.root / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.root / STATE_FILE)
        if ready:
            (self.root / READY_FILE).write_text(json.dumps(state, indent=1))


def _start_watchdog(root: Path, owner: int) -> None:
    """A detached process that stops whatever is left of the cluster once its owner is gone,
    however it died (a killed pytest or supervisor runs no finalizer)."""
    subprocess.Popen([sys.executable, "-m", "devtools.cluster", "_watchdog", "--dir", str(root),
                      "--owner", str(owner)], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)


try:
    from sandbox.postgres import SandboxPostgres as _PostgresBase
except ImportError:  # pragma: no cover - the sandbox is part of this repository
    _PostgresBase = object  # type: ignore[assignment,misc]


class ClusterPostgres(_PostgresBase):  # type: ignore[misc,valid-type]
    """The sandbox's PostgreSQL runner (initdb + pg_ctl, as the `postgres` user when root, a
    watchdog that stops it when its owner dies), seeded with Airflow's role and database instead
    of the estate's tables."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, dt.datetime.now(dt.UTC))

    def _seed(self) -> None:
        admin = self.connect()
        try:
            with admin.cursor() as cur:
                cur.execute(f"CREATE ROLE {DB_USER} LOGIN PASSWORD %s", (DB_PASSWORD,))
                cur.execute(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
        finally:
            admin.close()


# --------------------------------------------------------------------------- CLI


def _read_state(root: Path) -> dict | None:
    try:
        return json.loads((root / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def cmd_start(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve()
    state = _read_state(root)
    if state and state.get("ready") and _pid_alive(state["owner_pid"]):
        print(f"estate-ops cluster already running: {state['api_url']} (user {USER} / {PASSWORD})")
        return 0
    if state and _pid_alive(state.get("owner_pid", 0)):
        print("a cluster is starting or stuck in that directory: run `make cluster-stop` first", file=sys.stderr)
        return 1
    kill_tagged(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / READY_FILE).unlink(missing_ok=True)
    supervisor_log = root.parent / f"{root.name}-supervisor.log"
    with supervisor_log.open("wb") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "devtools.cluster", "_supervise", "--dir", str(root), "--workers",
             str(args.workers), "--concurrency", str(args.concurrency), "--reference-month",
             args.reference_month, "--now", args.now],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    print(f"Starting PostgreSQL, Redis, the sandbox, api-server, scheduler, dag-processor, triggerer and "
          f"{args.workers} Celery workers (logs in {root / 'logs'}) ...", flush=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            print(f"the cluster did not start:\n{_tail(supervisor_log, 60)}", file=sys.stderr)
            return 1
        if (root / READY_FILE).exists():
            state = json.loads((root / READY_FILE).read_text())
            print(f"estate-ops cluster is up: {state['api_url']}  (log in as {USER} / {PASSWORD})")
            print(f"Sandbox: AWS {state['sandbox']['aws_url']}, PagerDuty {state['sandbox']['pagerduty_url']}, "
                  f"Slack {state['sandbox']['slack_url']}. Stop it with `make cluster-stop`.")
            return 0
        time.sleep(1)
    print(f"the cluster was not healthy after {args.timeout:.0f}s; stopping it:\n{_tail(supervisor_log, 60)}",
          file=sys.stderr)
    cmd_stop(args)
    return 1


def cmd_supervise(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve()
    # Everything this process starts inherits the tag (the sandbox and PostgreSQL too).
    os.environ[TAG] = str(root)
    stopping = {"now": False}

    def on_signal(signum, frame):
        stopping["now"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    # As `make ui`: a person at the UI approves invoices in Required Actions (the shell may say off).
    approval = {"ESTATE_OPS_INVOICE_APPROVAL": os.environ.get("ESTATE_OPS_INVOICE_APPROVAL", "required")}
    cluster = Cluster(root, workers=args.workers, concurrency=args.concurrency,
                      reference_month=args.reference_month, now=args.now, extra_env=approval)
    try:
        cluster.start()
        print(f"cluster ready at {cluster.api_url}", flush=True)
        while not stopping["now"]:
            for name, process in list(cluster.processes.items()):
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; see {cluster.logs / (name + '.log')}", flush=True)
                    cluster.processes.pop(name)
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
        print("cluster stopped", flush=True)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve()
    state = _read_state(root)
    if state and _pid_alive(state.get("owner_pid", 0)):
        os.kill(state["owner_pid"], signal.SIGTERM)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _pid_alive(state["owner_pid"]):
            time.sleep(0.5)
    if state:
        kill_recorded_groups(root)
    left = kill_tagged(root)
    if state and _pid_alive(state.get("owner_pid", 0)):
        os.kill(state["owner_pid"], signal.SIGKILL)
    (root / STATE_FILE).unlink(missing_ok=True)
    (root / READY_FILE).unlink(missing_ok=True)
    remaining = tagged_processes(root)
    if remaining:
        print(f"still running after stop: {remaining}", file=sys.stderr)
        return 1
    print("estate-ops cluster stopped" + (f" (killed {len(left)} leftover processes)" if left else "")
          + ("" if state else " (it was not running)"))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve()
    state = _read_state(root)
    if not state or not _pid_alive(state.get("owner_pid", 0)):
        print("not running")
        return 1
    for name, pid in state["components"].items():
        print(f"{name:14} pid {pid:7}  {'up' if _pid_alive(pid) else 'DOWN'}")
    print(f"UI: {state['api_url']}  ready: {state['ready']}")
    return 0


def kill_recorded_groups(root: Path) -> None:
    """SIGKILL the process group of every component named in the state file. The tag in the
    environment is not enough on its own: Celery's setproctitle overwrites its /proc environ."""
    state = _read_state(Path(root)) or {}
    for pid in (state.get("components") or {}).values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def cmd_watchdog(args: argparse.Namespace) -> int:
    while _pid_alive(args.owner):
        time.sleep(1)
    kill_recorded_groups(Path(args.dir))
    kill_tagged(Path(args.dir))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "_supervise", "stop", "status", "_watchdog"):
        p = sub.add_parser(name)
        p.add_argument("--dir", default=str(DEFAULT_DIR))
        if name in ("start", "_supervise"):
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
            p.add_argument("--reference-month", default=REFERENCE_MONTH)
            p.add_argument("--now", default=FIXED_NOW)
            p.add_argument("--timeout", type=float, default=480)
        if name == "_watchdog":
            p.add_argument("--owner", type=int, required=True)
    args = parser.parse_args(argv)
    return {"start": cmd_start, "_supervise": cmd_supervise, "stop": cmd_stop, "status": cmd_status,
            "_watchdog": cmd_watchdog}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
