"""A real PostgreSQL behind the sandbox's RDS instances, so restore drills run their SQL for real.

moto "restores" an instance at once and with no data behind it. The sandbox therefore runs one
throwaway PostgreSQL cluster (initdb/pg_ctl from /usr/lib/postgresql/*/bin, or the directory in
`ESTATE_OPS_PG_BIN`) on a free loopback port, seeded with an `estate` database of realistic
tables with `created_at`/`updated_at` columns, and patches moto so that:

- every source instance's endpoint (Address/Port/DBName) points at the `estate` database;
- `RestoreDBInstanceToPointInTime` copies it (`CREATE DATABASE <scratch> TEMPLATE estate`),
  removes what was written after the restore time (as a point-in-time restore would), and points
  the restored instance's endpoint at the copy. moto's restore also ignores falsy overrides
  (PubliclyAccessible=False, DeletionProtection=False, MultiAZ=False): they are applied here.

PostgreSQL refuses to run as root: when the sandbox runs as root, the cluster runs as the
`postgres` system user (`runuser`), in a directory it owns under the system temp dir (a pytest
state dir under /tmp/pytest-of-root is not traversable by it); otherwise under the state dir.
Started once per sandbox process, stopped at exit; a reset only drops the restored copies.
Logins: `drill` / `DRILL_PASSWORD` (the `restore_drill_db` connection), password auth on TCP.
"""

from __future__ import annotations

import atexit
import datetime as dt
import glob
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sandbox.processes import free_port as _free_port

log = logging.getLogger("sandbox.postgres")

TEMPLATE_DB = "estate"
DRILL_USER = "drill"
DRILL_PASSWORD = "sandbox-drill-password"
SUPERUSER = "sandbox"
SUPERUSER_PASSWORD = "sandbox-superuser-password"
KEEP_DATABASES = ("postgres", "template0", "template1", TEMPLATE_DB)
INFO_FILE = "postgres.json"

# Table -> rows. Enough to make counts and the newest updated_at meaningful, small enough to
# seed in about a second.
TABLES = {"clients": 400, "properties": 3000, "leases": 6000, "documents": 12000, "payments": 24000}
HISTORY_DAYS = 730
# The newest write is this long before the sandbox's now (a quiet estate at the fixed "now").
NEWEST_WRITE_BEFORE_NOW = dt.timedelta(minutes=2)


class PostgresUnavailable(RuntimeError):
    pass


def find_pg_bin() -> Path:
    candidates = [os.environ.get("ESTATE_OPS_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise PostgresUnavailable("no PostgreSQL binaries (initdb, pg_ctl): install postgresql "
                              "(scripts/system-deps.sh) or set ESTATE_OPS_PG_BIN")


class SandboxPostgres:
    """One PostgreSQL cluster for the sandbox's restored instances."""

    def __init__(self, state_dir: Path, now: dt.datetime) -> None:
        self.state_dir = Path(state_dir)
        self.now = now.astimezone(dt.UTC)
        self.bin = find_pg_bin()
        self.port = _free_port()
        self.as_user = "postgres" if os.geteuid() == 0 else None
        if self.as_user:
            self.root = Path(tempfile.mkdtemp(prefix="estate-ops-sandbox-pg-"))
            shutil.chown(self.root, self.as_user, self.as_user)
        else:
            self.root = self.state_dir / "postgres"
            shutil.rmtree(self.root, ignore_errors=True)
            self.root.mkdir(parents=True)
        self.data = self.root / "data"
        self._lock = threading.Lock()
        self.started = False
        self.ready = threading.Event()
        self.error: str | None = None

    def start_in_background(self) -> None:
        """initdb + seeding take seconds: do them beside the rest of the sandbox's start-up."""

        def run() -> None:
            try:
                self.start()
            except Exception as exc:  # noqa: BLE001 - any failure: warn, the sandbox runs on without it
                self.error = str(exc)
                log.warning("restore drills will have no database behind them: %s", exc)
            finally:
                self.ready.set()

        threading.Thread(target=run, name="sandbox-postgres", daemon=True).start()

    def wait_ready(self, timeout: float = 120.0) -> bool:
        return self.ready.wait(timeout) and self.error is None

    # ------------------------------------------------------------------ process

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:]}")

    def start(self) -> None:
        # The watchdog first: a sandbox that exits during initdb must leave no directory behind.
        self._start_watchdog()
        pwfile = self.root / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self.as_user:
            shutil.chown(pwfile, self.as_user, self.as_user)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--pwfile", str(pwfile), "-E", "UTF8",
                  "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256")
        pwfile.unlink()
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50 -c TimeZone=UTC")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options, "-w",
                  "-t", "60", "start")
        self.started = True
        atexit.register(self.stop)
        self._seed()
        (self.state_dir / INFO_FILE).write_text(json.dumps({
            "host": "127.0.0.1", "port": self.port, "template": TEMPLATE_DB, "user": DRILL_USER,
            "password": DRILL_PASSWORD, "data_dir": str(self.data)}, indent=2))
        log.info("PostgreSQL for restore drills on 127.0.0.1:%s (%s)", self.port, self.data)

    def _start_watchdog(self) -> None:
        """A detached process that stops the cluster once this process is gone, however it died
        (atexit does not run on SIGKILL, nor when the runner gives up waiting and kills us)."""
        import sys

        stop_command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
        if self.as_user:
            stop_command = ["runuser", "-u", self.as_user, "--", *stop_command]
        code = (
            "import os, shutil, subprocess, sys, time\n"
            "pid = int(sys.argv[1])\n"
            "while True:\n"
            "    try:\n"
            "        os.kill(pid, 0)\n"
            "    except ProcessLookupError:\n"
            "        break\n"
            "    time.sleep(0.5)\n"
            "time.sleep(2)  # a pg_ctl start in flight when the sandbox died writes its pid file\n"
            "if os.path.exists(sys.argv[2]):\n"
            "    subprocess.run(sys.argv[4:], capture_output=True, timeout=60)\n"
            "shutil.rmtree(sys.argv[3], ignore_errors=True)\n"
        )
        subprocess.Popen([sys.executable, "-c", code, str(os.getpid()), str(self.data / "postmaster.pid"),
                          str(self.root), *stop_command], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except Exception as exc:  # noqa: BLE001 - at exit: report, never hang the shutdown
            log.warning("could not stop PostgreSQL: %s", exc)
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, dbname=dbname, user=SUPERUSER,
                                      password=SUPERUSER_PASSWORD, connect_timeout=10)
        connection.autocommit = True
        return connection

    # ------------------------------------------------------------------ data

    def _seed(self) -> None:
        admin = self.connect()
        try:
            with admin.cursor() as cur:
                cur.execute(f"CREATE ROLE {DRILL_USER} LOGIN PASSWORD %s", (DRILL_PASSWORD,))
                cur.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        finally:
            admin.close()
        newest = self.now - NEWEST_WRITE_BEFORE_NOW
        conn = self.connect(TEMPLATE_DB)
        with conn.cursor() as cur:
            for table, rows in TABLES.items():
                # Deterministic history: row i was created i/rows of the way through the last
                # HISTORY_DAYS, and last updated a little later (never after `newest`); the newest
                # row is written exactly at `newest`.
                cur.execute(f"""
                    CREATE TABLE {table} (
                        id bigint PRIMARY KEY,
                        name text NOT NULL,
                        created_at timestamptz NOT NULL,
                        updated_at timestamptz NOT NULL)""")
                cur.execute(f"""
                    INSERT INTO {table}
                    SELECT i, '{table[:-1]} ' || i,
                           %(newest)s - (%(rows)s - i) * (%(span)s / %(rows)s),
                           LEAST(%(newest)s, %(newest)s - (%(rows)s - i) * (%(span)s / %(rows)s)
                                 + ((i * 7919) %% 97) * interval '1 hour')
                    FROM generate_series(1, %(rows)s) AS i""",
                            {"newest": newest, "rows": rows, "span": dt.timedelta(days=HISTORY_DAYS)})
            cur.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {DRILL_USER}")
            cur.execute("ANALYZE")
        conn.close()

    def restore_copy(self, name: str, restore_time: dt.datetime | None) -> None:
        """CREATE DATABASE <name> TEMPLATE estate, then drop what came after `restore_time`."""
        with self._lock:
            for attempt in range(50):
                admin = self.connect()
                try:
                    with admin.cursor() as cur:
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
                        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')
                    break
                except Exception as exc:  # the template is busy: a drill is counting its rows
                    if "being accessed by other users" not in str(exc) or attempt == 49:
                        raise
                    time.sleep(0.1)
                finally:
                    admin.close()
        if restore_time is None:
            return
        conn = self.connect(name)
        with conn.cursor() as cur:
            for table in TABLES:
                cur.execute(f"DELETE FROM {table} WHERE created_at > %s", (restore_time,))
                # Rows updated after the restore time are back at their earlier version.
                cur.execute(f"UPDATE {table} SET updated_at = created_at WHERE updated_at > %s", (restore_time,))
        conn.close()

    def drop_copies(self) -> None:
        with self._lock:
            admin = self.connect()
            try:
                with admin.cursor() as cur:
                    cur.execute("SELECT datname FROM pg_database")
                    names = [row[0] for row in cur.fetchall() if row[0] not in KEEP_DATABASES]
                    for name in names:
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                admin.close()


# --------------------------------------------------------------------------- moto wiring

_SERVER: SandboxPostgres | None = None


def ensure_started(state_dir: Path, now: dt.datetime) -> SandboxPostgres | None:
    """The process's PostgreSQL: started in the background on the first call (its port is known
    at once); at later calls (every reset) its restored copies are dropped. None, with a warning,
    when PostgreSQL cannot run here: the sandbox still works, and a drill's verify step fails
    with a clear connection error."""
    global _SERVER
    if _SERVER is not None:
        if _SERVER.wait_ready():
            _SERVER.drop_copies()
            return _SERVER
        return None
    try:
        server = SandboxPostgres(state_dir, now)
    except PostgresUnavailable as exc:
        log.warning("restore drills will have no database behind them: %s", exc)
        return None
    server.start_in_background()
    _SERVER = server
    install_restore_patch()
    return server


def point_at(instance: Any, server: SandboxPostgres, dbname: str) -> None:
    """Make DescribeDBInstances report this PostgreSQL database as the instance's endpoint."""
    instance.sandbox_address = "127.0.0.1"
    instance.port = server.port
    instance.db_name = dbname


def install_restore_patch() -> None:
    """Idempotent; only ever called inside the sandbox process."""
    from moto.rds.models import DBInstance, RDSBackend

    if getattr(RDSBackend, "_sandbox_restore_patched", False):
        return
    original_address = DBInstance.address

    def address(self: Any) -> str:
        return getattr(self, "sandbox_address", None) or original_address.fget(self)

    DBInstance.address = property(address)
    original_restore = RDSBackend.restore_db_instance_to_point_in_time

    def restore(self: Any, source_db_identifier: str, target_db_identifier: str, overrides: dict) -> Any:
        instance = original_restore(self, source_db_identifier, target_db_identifier, overrides)
        # moto skips falsy overrides; AWS applies them (and defaults these to false on restore).
        instance.publicly_accessible = bool(overrides.get("publicly_accessible", False))
        instance.deletion_protection = bool(overrides.get("deletion_protection", False))
        instance.multi_az = bool(overrides.get("multi_az", False))
        if _SERVER is not None and _SERVER.wait_ready():
            when = overrides.get("restore_time")
            if isinstance(when, dt.datetime) and when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            if overrides.get("use_latest_restorable_time"):
                source = self.databases.get(source_db_identifier)
                when = getattr(source, "latest_restorable_time", None)
            _SERVER.restore_copy(target_db_identifier, when)
            point_at(instance, _SERVER, target_db_identifier)
        return instance

    RDSBackend.restore_db_instance_to_point_in_time = restore
    RDSBackend._sandbox_restore_patched = True
