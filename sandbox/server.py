"""Process wiring: start moto and the two stand-ins on one host (loopback unless `--host`), seed,
serve, reset, stop."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer

from sandbox import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    PAGERDUTY_EVENTS_FILE,
    PAGERDUTY_ROUTING_KEY,
    PAGERDUTY_TOKEN,
    READY_FILE,
    SLACK_MESSAGES_FILE,
    SLACK_TOKEN,
    STATUSPAGE_KEY,
    STATUSPAGE_READONLY_KEY,
    aws,
    control,
    mixpanel,
    net,
    pagerduty,
    sentry,
    slack,
    statuspage,
)
from sandbox.context import SeedContext
from sandbox.pagerduty_store import PagerDutyStore
from sandbox.slack import SlackStore
from sandbox.state import Gate, RequestCounter
from sandbox.timeutil import Clock, iso
from sandbox.tls import TlsFiles, make_tls_files

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORTS = {"aws": 5100, "pagerduty": 5101, "slack": 5102, "sentry": 5103, "mixpanel": 5104}
# PagerDuty documents 960 REST requests per minute per token, 120 events per minute per key.
PAGERDUTY_RATE_LIMIT = 960
EVENTS_RATE_LIMIT = 120
SLACK_RATE_LIMIT = 50
STATUSPAGE_RATE_LIMIT = 60  # about 1 request/s per key
MIXPANEL_RATE_LIMIT = 60  # the Query API's 60 queries an hour

log = logging.getLogger("sandbox")


def use_project_plugins() -> None:
    """Make `estate_ops` importable as Airflow makes it (plugins/ on sys.path)."""
    plugins = str(REPO_ROOT / "plugins")
    if plugins not in sys.path:
        sys.path.insert(0, plugins)


def load_estate_config(dated_for: dt.date | None = None, state_dir: Path | None = None) -> tuple[Any, Any]:
    """The project's plan and estate, read the way the project reads them.

    With `dated_for` and `state_dir`, the estate is first written dated for that month
    (sandbox/estate.py) and ESTATE_OPS_ESTATE of this process points at the dated copy (the
    sandbox is its own process; `seed_month` restores the variable)."""
    use_project_plugins()
    from estate_ops.config import estate_path, load_config

    if dated_for is not None and state_dir is not None:
        from sandbox.estate import write_dated_estate

        os.environ["ESTATE_OPS_ESTATE"] = str(write_dated_estate(estate_path(), dated_for, state_dir))
    return load_config()


def seed_month(reference_month: dt.date, state_dir: Path, now: dt.datetime, seed: int,
               scenarios: list[str] | None = None) -> SeedContext:
    """Seed every scenario for `reference_month` in this process, without servers: moto's
    in-process backends and fresh PagerDuty/Slack stores. Returns the seeded context (its
    stores and `moto_backend(...)` hold what a started sandbox would serve). For tests that
    check what the scenarios seed for many months."""
    from sandbox import scenarios as registry

    saved = os.environ.get("ESTATE_OPS_ESTATE")
    try:
        plan, estate = load_estate_config(reference_month, state_dir)
    finally:
        if saved is None:
            os.environ.pop("ESTATE_OPS_ESTATE", None)
        else:
            os.environ["ESTATE_OPS_ESTATE"] = saved
    aws.install_moto_patches()
    aws.reset_moto()
    clock = Clock(now)
    ctx = SeedContext(reference_month=reference_month, seed=seed, estate=estate, plan=plan,
                      state_dir=state_dir, now=clock.anchor, aws_url="http://127.0.0.1:0",
                      pagerduty=PagerDutyStore("https://127.0.0.1:0", estate.pagerduty.web_url, clock),
                      slack=SlackStore(clock), pagerduty_routing_key=PAGERDUTY_ROUTING_KEY,
                      statuspage=statuspage.new_store(estate, clock))
    registry.run_all(ctx, scenarios)
    return ctx


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    reference_month: dt.date
    now: dt.datetime | None
    seed: int
    ports: dict[str, int]
    scenarios: list[str] | None = None
    ca_dir: Path | None = None
    host: str = net.DEFAULT_HOST
    """Every server binds it; URLs advertise 127.0.0.1 for a wildcard (0.0.0.0, ::)."""
    tls_names: tuple[str, ...] = ()
    """DNS names / IP addresses the PagerDuty certificate is also valid for (besides 127.0.0.1,
    localhost and the advertised host)."""


def _mounted(app: Any) -> Any:
    """`app` under a DispatcherMiddleware prefix, routing on the full path (its routes name the
    prefix, as Statuspage's do)."""

    def wsgi(environ: dict, start_response: Any) -> Any:
        environ = {**environ, "PATH_INFO": environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                   "SCRIPT_NAME": ""}
        return app(environ, start_response)

    return wsgi


class _JsonlSink:
    """Appends records to a JSON-lines file, one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.truncate()

    def __call__(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def truncate(self) -> None:
        with self._lock:
            self.path.write_text("", encoding="utf-8")


class Sandbox:
    """The running sandbox: servers, stores, the seeded state, and its reset."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.plan, self.estate = load_estate_config(settings.reference_month, settings.state_dir)
        self.clock = Clock(settings.now)
        self.counter = RequestCounter()
        self.aws_throttle = aws.AwsThrottle()
        self.pagerduty_gate = Gate({PAGERDUTY_TOKEN}, PAGERDUTY_RATE_LIMIT)
        self.events_gate = Gate({PAGERDUTY_ROUTING_KEY}, EVENTS_RATE_LIMIT)
        self.slack_gate = Gate({SLACK_TOKEN}, SLACK_RATE_LIMIT)
        self.statuspage_gate = Gate({STATUSPAGE_KEY, STATUSPAGE_READONLY_KEY}, STATUSPAGE_RATE_LIMIT)
        self.statuspage_store: statuspage.StatuspageStore | None = None
        self.sentry_gate = Gate(set(sentry.TOKEN_SCOPES), sentry.RATE_LIMIT)
        self.mixpanel_gate = Gate({mixpanel.MIXPANEL_CREDENTIALS}, MIXPANEL_RATE_LIMIT)
        self.sentry_store: sentry.SentryStore | None = None
        self.mixpanel_store: mixpanel.MixpanelStore | None = None
        self.pagerduty_store: PagerDutyStore | None = None
        self.slack_store: SlackStore | None = None
        self.seed_timings: dict[str, float] = {}
        self.last_reset_seconds: float | None = None
        self._reset_lock = threading.Lock()
        self._boto_clients: dict = {}
        self._servers: list[BaseWSGIServer] = []
        self._threads: list[threading.Thread] = []
        self.aws_server: aws.AwsServer | None = None
        self.tls: TlsFiles | None = None
        self.urls: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        state_dir = self.settings.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / READY_FILE).unlink(missing_ok=True)
        self.events_sink = _JsonlSink(state_dir / PAGERDUTY_EVENTS_FILE)
        self.messages_sink = _JsonlSink(state_dir / SLACK_MESSAGES_FILE)

        aws.install_moto_patches()
        self.aws_server = aws.AwsServer(self.settings.ports["aws"], self.counter, self.aws_throttle,
                                        host=self.settings.host)
        self.aws_server.start()
        self.urls["aws"] = self.aws_server.url

        pd_app = pagerduty.create_app(lambda: self.pagerduty_store, self.pagerduty_gate,
                                      self.events_gate, self.counter)
        pd_app.config["EVENT_SINK"] = self.events_sink
        pd_app.register_blueprint(control.blueprint(self))
        slack_app = slack.create_app(lambda: self.slack_store, self.slack_gate, self.counter)
        slack_app.config["MESSAGE_SINK"] = self.messages_sink
        slack_app.register_blueprint(control.blueprint(self))
        # The Statuspage stand-in shares the (plain http) Slack port, under /statuspage/v1.
        statuspage_app = statuspage.create_app(lambda: self.statuspage_store, self.statuspage_gate, self.counter)
        slack_app.wsgi_app = DispatcherMiddleware(slack_app.wsgi_app, {"/statuspage": _mounted(statuspage_app)})
        # HTTPS for PagerDuty: its client library refuses plain http base URLs.
        names = [net.advertised_host(self.settings.host), *self.settings.tls_names]
        self.tls = (make_tls_files(state_dir, self.settings.ca_dir, names=names)
                    if self.settings.ca_dir else make_tls_files(state_dir, names=names))
        self.urls["pagerduty"] = self._serve("pagerduty", pd_app,
                                             self.settings.ports["pagerduty"], self.tls)
        self.urls["slack"] = self._serve("slack", slack_app, self.settings.ports["slack"])
        self.urls["statuspage"] = self.urls["slack"] + statuspage.PREFIX
        # Sentry and Mixpanel (plain http: HttpHook takes the scheme from the connection's host).
        sentry_app = sentry.create_app(lambda: self.sentry_store, self.sentry_gate, self.counter)
        sentry_app.register_blueprint(control.blueprint(self))
        mixpanel_app = mixpanel.create_app(lambda: self.mixpanel_store, self.mixpanel_gate, self.counter)
        mixpanel_app.register_blueprint(control.blueprint(self))
        self.urls["sentry"] = self._serve("sentry", sentry_app, self.settings.ports.get("sentry", 0))
        self.urls["mixpanel"] = self._serve("mixpanel", mixpanel_app, self.settings.ports.get("mixpanel", 0))

        aws.ALARM_STATE_LISTENERS.append(self._deliver_alarm_notification)

        # Same moto id generator state as after a reset, so start and reset seed identically.
        aws.reset_moto()
        self.seed()
        self._write_ready_file()

    def _deliver_alarm_notification(self, alarm: Any, region: str, account_id: str, old_state: str | None) -> None:
        """CloudWatch -> SNS -> PagerDuty / Slack, as AWS delivers an alarm's state change."""
        from sandbox import alarm_delivery

        if self.pagerduty_store is None or self.slack_store is None:
            return  # seeding: nothing listens yet
        alarm_delivery.deliver(alarm, region, account_id, old_state or "", sns=aws.backend("sns", region),
                               pagerduty=self.pagerduty_store, slack=self.slack_store, event_sink=self.events_sink,
                               message_sink=self.messages_sink, now=self.clock.now())

    def _serve(self, what: str, app: Any, port: int, tls: TlsFiles | None = None) -> str:
        server = net.make_server(what, self.settings.host, port, app, threaded=True,
                                 ssl_context=tls.server_context() if tls else None)
        thread = threading.Thread(target=server.serve_forever, name=f"serve-{server.port}",
                                  daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        return net.url("https" if tls else "http", self.settings.host, server.port)

    def stop(self) -> None:
        started = time.perf_counter()
        # Each shutdown waits out its server's poll interval: do them side by side.
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers]
        if self.aws_server is not None:
            stoppers.append(threading.Thread(target=self.aws_server.stop))
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers + self._threads:
            stopper.join(timeout=5)
        log.info("servers stopped in %.2fs", time.perf_counter() - started)
        (self.settings.state_dir / READY_FILE).unlink(missing_ok=True)

    # ------------------------------------------------------------------ state

    def _new_context(self) -> SeedContext:
        pd_store = PagerDutyStore(self.urls["pagerduty"], self.estate.pagerduty.web_url, self.clock)
        slack_store = SlackStore(self.clock)
        return SeedContext(
            reference_month=self.settings.reference_month, seed=self.settings.seed,
            estate=self.estate, plan=self.plan, state_dir=self.settings.state_dir,
            now=self.clock.anchor, aws_url=self.urls["aws"], pagerduty=pd_store,
            slack=slack_store, pagerduty_routing_key=PAGERDUTY_ROUTING_KEY,
            statuspage=statuspage.new_store(self.estate, self.clock),
            _clients=self._boto_clients)

    def seed(self) -> None:
        from sandbox import scenarios

        ctx = self._new_context()
        self.seed_timings = scenarios.run_all(ctx, self.settings.scenarios)
        sentry_store = sentry.SentryStore.seeded(self.estate, self.settings.reference_month, self.settings.seed,
                                                 self.urls["sentry"])
        mixpanel_store = mixpanel.MixpanelStore.seeded(self.estate, self.settings.seed, self.clock)
        # Publish the new stores only once fully seeded; seeding's own AWS calls do not count.
        self.pagerduty_store, self.slack_store = ctx.pagerduty, ctx.slack
        self.statuspage_store = ctx.statuspage
        self.sentry_store, self.mixpanel_store = sentry_store, mixpanel_store
        self.counter.clear()

    def reset(self) -> float:
        """Back to the pristine seeded state; returns the seconds it took."""
        started = time.perf_counter()
        with self._reset_lock:
            aws.reset_moto()
            self.aws_throttle.clear()
            for gate in (self.pagerduty_gate, self.events_gate, self.slack_gate, self.statuspage_gate,
                         self.sentry_gate, self.mixpanel_gate):
                gate.reset()
            self.clock.restart()
            self.events_sink.truncate()
            self.messages_sink.truncate()
            self.seed()
        self.last_reset_seconds = round(time.perf_counter() - started, 3)
        log.info("reset in %.3fs", self.last_reset_seconds)
        return self.last_reset_seconds

    def info(self) -> dict[str, Any]:
        from sandbox import scenarios

        return {
            "pid": os.getpid(),
            "aws_url": self.urls["aws"],
            "pagerduty_url": self.urls["pagerduty"],
            "slack_url": self.urls["slack"],
            "statuspage_url": self.urls["statuspage"],
            "sentry_url": self.urls["sentry"],
            "mixpanel_url": self.urls["mixpanel"],
            "sentry_token": sentry.SENTRY_TOKEN,
            "mixpanel_user": mixpanel.MIXPANEL_USER,
            "mixpanel_secret": mixpanel.MIXPANEL_SECRET,
            "mixpanel_project_id": self.estate.monitoring.mixpanel.project_id if self.estate.monitoring.mixpanel else None,
            # Also served on the PagerDuty port; the Slack one is plain http, simpler to call.
            "control_url": self.urls["slack"] + "/_sandbox",
            "ca_file": str(self.tls.ca_file) if self.tls else None,
            "ca_bundle": str(self.tls.ca_bundle) if self.tls else None,
            "state_dir": str(self.settings.state_dir),
            "reference_month": self.settings.reference_month.strftime("%Y-%m"),
            # The estate dated for the reference month (sandbox/estate.py): point ESTATE_OPS_ESTATE here.
            "estate_file": os.environ["ESTATE_OPS_ESTATE"],
            "now": iso(self.clock.anchor),
            "seed": self.settings.seed,
            "account_id": ACCOUNT_ID,
            "region": DEFAULT_REGION,
            "pagerduty_token": PAGERDUTY_TOKEN,
            "pagerduty_routing_key": PAGERDUTY_ROUTING_KEY,
            "slack_token": SLACK_TOKEN,
            "statuspage_key": STATUSPAGE_KEY,
            "scenarios": [s for s in scenarios.available_scenarios()
                          if self.settings.scenarios is None or s == "base"
                          or s in self.settings.scenarios],
            "seed_seconds": self.seed_timings,
        }

    def _write_ready_file(self) -> None:
        path = self.settings.state_dir / READY_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.info(), indent=2), encoding="utf-8")
        tmp.replace(path)  # atomic: a reader never sees half a file
