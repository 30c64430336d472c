"""`python -m sandbox`: run the sandbox until SIGTERM/SIGINT.

Prints nothing useful to parse: read `<state-dir>/ready.json` (written once every server
listens and seeding is done) for the URLs, pid and credentials.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from sandbox.timeutil import UTC, parse_time

DEFAULT_SEED = 20251126  # the plan's date: any fixed number would do

# moto loads thousands of default AMIs whenever an EC2 backend is made (base seeding makes one
# for the RDS subnets, on every reset); nothing here needs them.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def reference_month_for(now: dt.datetime) -> dt.date:
    """The latest contract month every monthly report can be made for at `now`, by the project's
    own rule (`settled_month`: ended, and its last UTC day collected), so the month the sandbox
    seeds and the month every DAG judges cannot disagree."""
    from sandbox.server import use_project_plugins

    use_project_plugins()
    from estate_ops.config import load_plan
    from estate_ops.domain.periods import settled_month

    return settled_month(now, load_plan().contract_month_timezone).first_day


def _month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}") from None


def _instant(text: str) -> dt.datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time, got {text!r}") from None


def _tls_name(text: str) -> str:
    from sandbox.tls import tls_name

    try:
        return tls_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from sandbox.net import DEFAULT_HOST
    from sandbox.server import DEFAULT_PORTS

    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, default=Path(".sandbox"),
                        help="where ready.json, the event and message logs go (default .sandbox)")
    parser.add_argument("--reference-month", type=_month, default=None,
                        help="YYYY-MM the seeded history is about (default: the month a run at --now reports on)")
    parser.add_argument("--now", type=_instant, default=None,
                        help="the sandbox's current time, ISO 8601 (default: the real time)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="RNG seed of the history")
    parser.add_argument("--host", type=_tls_name, default=DEFAULT_HOST, metavar="ADDRESS",
                        help=f"address every server binds (default {DEFAULT_HOST}); 0.0.0.0 or :: "
                             "for all interfaces (URLs then name 127.0.0.1)")
    parser.add_argument("--tls-name", type=_tls_name, action="append", default=[],
                        metavar="NAME", dest="tls_names",
                        help="DNS name or IP address the PagerDuty certificate is also valid for "
                             "(repeatable), e.g. the name other containers use")
    parser.add_argument("--ports", choices=("auto", "fixed"), default="fixed",
                        help="auto: any free ports; fixed: the --*-port values")
    for name, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=port,
                            help=f"{name} port when --ports fixed (default {port})")
    parser.add_argument("--scenarios", default=None,
                        help="comma-separated area scenarios to seed after base (default: all)")
    parser.add_argument("--ca-dir", type=Path, default=None,
                        help="where the sandbox CA is kept and shared (default <repo>/.sandbox/ca)")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process is gone (set by sandbox.runner)")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    return parser.parse_args(argv)


def _watch_parent(pid: int, stop: threading.Event) -> None:
    # If the test runner is SIGKILLed it cannot stop us: notice and leave on our own.
    while not stop.wait(0.5):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logging.getLogger("sandbox").warning("parent %s is gone: stopping", pid)
            stop.set()
        except PermissionError:
            pass
        if os.getppid() == 1 and pid != 1:
            stop.set()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    from sandbox.net import check_host
    from sandbox.server import DEFAULT_PORTS, Sandbox, Settings

    try:
        check_host(args.host)
    except OSError as exc:
        print(f"python -m sandbox: --host: {exc}", file=sys.stderr)
        return 2
    now = args.now or dt.datetime.now(UTC)
    ports = ({name: 0 for name in DEFAULT_PORTS} if args.ports == "auto" else
             {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS})
    scenarios = [s for s in args.scenarios.split(",") if s] if args.scenarios is not None else None
    if scenarios is not None:
        from sandbox.scenarios import AREAS, available_scenarios

        unknown = [s for s in scenarios if s not in AREAS]
        missing = [s for s in scenarios if s in AREAS and s not in available_scenarios()]
        if unknown or missing:
            print(f"python -m sandbox: unknown scenario(s) {unknown + missing}; "
                  f"available: {available_scenarios()[1:]}", file=sys.stderr)
            return 2
    settings = Settings(
        state_dir=args.state_dir.resolve(),
        reference_month=args.reference_month or reference_month_for(now),
        now=args.now, seed=args.seed, ports=ports,
        scenarios=scenarios,
        ca_dir=args.ca_dir.resolve() if args.ca_dir else None,
        host=args.host, tls_names=tuple(args.tls_names),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid, stop), daemon=True).start()

    sandbox = Sandbox(settings)
    started = time.perf_counter()
    try:
        sandbox.start()
    except OSError as exc:
        logging.getLogger("sandbox").error("cannot start: %s", exc)
        sandbox.stop()
        return 2
    except BaseException:
        sandbox.stop()
        raise
    info = sandbox.info()
    logging.getLogger("sandbox").info(
        "ready in %.2fs: aws %s, pagerduty %s, slack %s (state in %s)",
        time.perf_counter() - started, info["aws_url"], info["pagerduty_url"],
        info["slack_url"], settings.state_dir)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        logging.getLogger("sandbox").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
