"""`make demo`: the whole plan, end to end, against the sandbox on loopback.

Prepares a project-local Airflow (.airflow/: SQLite, LocalExecutor, pools), starts the seeded
sandbox, points the connections at it (environment variables), runs every DAG of the project
once with `airflow dags test` for the reference month, stops the sandbox, copies everything the
runs wrote to the reports bucket into demo-output/ (same layout as the bucket) and prints a
table: DAG, final state, artifacts, headline figures, then every report and page 1 of one PDF per
report kind as a PNG (demo-output/pages/<kind>-page1.png, pdftoppm) to look at. Exits non-zero if
any DAG failed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.localenv import ROOT, VENV_BIN, airflow_environment, prepare_home

HOME = ROOT / ".airflow"
OUTPUT = ROOT / "demo-output"
STATE_DIR = ROOT / ".sandbox" / "demo"


@dataclass
class DemoRun:
    dag_id: str
    # (reference month's first day, now) -> the run's conf
    conf: Callable[[dt.date, dt.datetime], dict[str, Any]] = field(default=lambda month, now: {})
    # (reference month's first day, now) -> the period its manifest is written under
    period: Callable[[dt.date, dt.datetime], str] = field(default=lambda month, now: month.strftime("%Y-%m"))


def _last_day(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _month_conf(month: dt.date, now: dt.datetime) -> dict[str, Any]:
    # The sandbox's month, named: a run's default (the month before its date) can be one whose
    # last UTC day is still going on at `now` (an ET month ends at 04:00/05:00 UTC on the 1st).
    return {"month": month.strftime("%Y-%m")}


# The order a support engineer would run them in. DAGs in dags/ not listed here run last with no conf.
DEMO_RUNS = [
    DemoRun("estate_preflight", period=lambda month, now: now.date().isoformat()),
    DemoRun("availability_collect", conf=lambda month, now: {"date": _last_day(month).isoformat()},
            period=lambda month, now: _last_day(month).isoformat()),
    DemoRun("maintenance_announce",
            conf=lambda month, now: {"date": (now + dt.timedelta(days=5)).date().isoformat(), "start": "02:00",
                                     "duration_minutes": 240, "reason": "Demo: database minor version upgrade",
                                     "announced_by": "morgan.reyes@legacy.example", "action": "announce"},
            # its manifest is per window: runs/maintenance_announce/mw-YYYYMMDD-HHMM-<hash>.json
            period=lambda month, now: f"mw-{(now + dt.timedelta(days=5)).date():%Y%m%d}-"),
    DemoRun("availability_report", conf=_month_conf),
    DemoRun("incident_sla_report", conf=_month_conf),
    DemoRun("backup_verification", period=lambda month, now: now.date().isoformat()),
    DemoRun("restore_drill", period=lambda month, now: now.date().isoformat()),
    DemoRun("monitoring_audit", period=lambda month, now: now.date().isoformat()),
    DemoRun("alert_route_drill", period=lambda month, now: now.date().isoformat()),
    # The seeded backlog is over the 20 % cap, which a scheduled run refuses (P2); the demo confirms
    # it as a support engineer would from the form, so the run shows real deletions.
    DemoRun("retention_pruning", conf=lambda month, now: {"confirm_over_cap": True},
            period=lambda month, now: now.date().isoformat()),
    DemoRun("support_invoicing", conf=_month_conf),
    # The reference month as it stood on its 20th: the clients' hours so far against their tiers.
    DemoRun("support_hours_watch", conf=lambda month, now: {"date": month.replace(day=20).isoformat()},
            period=lambda month, now: month.replace(day=20).isoformat()),
    # The reference month's key metrics (the weekly task is skipped for a month period).
    DemoRun("key_metrics_report", conf=lambda month, now: {"period": month.strftime("%Y-%m")}),
    # The month close, last: it quotes the reports above, and the reference month's backup
    # verifications and drills the sandbox seeds (sandbox/backup_history.py; the demo's own
    # backup_verification and restore_drill run today, after that month), so the reviews are complete.
    DemoRun("service_review", conf=_month_conf),
]


def _dag_ids() -> list[str]:
    present = sorted(p.stem for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
    ordered = [r.dag_id for r in DEMO_RUNS if r.dag_id in present]
    return ordered + [d for d in present if d not in ordered]


def _run_dag(dag_id: str, logical_date: dt.datetime, conf: dict, env: dict, log_dir: Path) -> tuple[str, float]:
    log_file = log_dir / f"{dag_id}.log"
    args = [str(VENV_BIN / "airflow"), "dags", "test", dag_id, logical_date.isoformat()]
    if conf:
        args += ["--conf", json.dumps(conf)]
    start = time.monotonic()
    with log_file.open("w") as log:
        result = subprocess.run(args, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, check=False)
    took = time.monotonic() - start
    text = log_file.read_text(errors="replace")
    if result.returncode != 0 or "state=failed" in text or "DagRun Finished" in text and "state=success" not in text:
        return "failed", took
    return "success", took


def _headline(manifest: dict | None) -> str:
    from estate_ops.reports.render import shown

    if not manifest:
        return "—"
    parts = []
    for name, figure in (manifest.get("headline") or {}).items():
        value = shown(figure.get("value") if isinstance(figure, dict) else figure)
        unit = (figure.get("unit") or "") if isinstance(figure, dict) else ""
        parts.append(f"{name.replace('_', ' ')}: {value}{(' ' + unit) if unit and unit != '%' else unit}")
    return "; ".join(parts[:3]) or "—"


def main() -> int:
    from sandbox.runner import start_sandbox

    OUTPUT.mkdir(exist_ok=True)
    log_dir = OUTPUT / "logs"
    log_dir.mkdir(exist_ok=True)
    print("Preparing Airflow in .airflow/ (SQLite metadata DB, LocalExecutor, pools) ...", flush=True)
    env = prepare_home(HOME, airflow_environment(HOME))
    print("Starting the sandbox (moto server, PagerDuty and Slack stand-ins) on loopback ...", flush=True)
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    rows = []
    # One instant for the sandbox and every run: the sandbox seeds the month a run at `now`
    # reports on (the project's report_month), so the two cannot disagree even at midnight.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with start_sandbox(STATE_DIR, now=now) as sandbox:
        env.update(sandbox.airflow_connections_env())
        env["ESTATE_OPS_INVOICE_APPROVAL"] = "off"  # no human in the demo loop; see README
        month = dt.date.fromisoformat(f"{sandbox.reference_month}-01")
        print(f"Reference month {sandbox.reference_month}; running every DAG once with `airflow dags test`:\n",
              flush=True)
        runs = {r.dag_id: r for r in DEMO_RUNS}
        for dag_id in _dag_ids():
            run = runs.get(dag_id, DemoRun(dag_id))
            print(f"  {dag_id:<24} ...", end=" ", flush=True)
            state, took = _run_dag(dag_id, now, run.conf(month, now), env, log_dir)
            print(f"{state} ({took:.0f} s)", flush=True)
            rows.append((dag_id, state, run.period(month, now)))
        store = _bucket_reader(sandbox)
        copied = _copy_bucket(store, OUTPUT)
        table = []
        for dag_id, state, period in rows:
            manifest = store.manifest(dag_id, period)
            artifacts = len(manifest["artifacts"]) if manifest else 0
            table.append((dag_id, state, artifacts, _headline(manifest)))
    _print_table(table)
    month_line = _month_bounds_line(OUTPUT, sandbox.reference_month)
    print(f"\n{month_line}")
    reports = sorted(p for p in OUTPUT.rglob("*") if p.suffix in (".html", ".pdf") and "logs" not in p.parts)
    print(f"\n{copied} artifacts copied from the reports bucket into {OUTPUT}/ (same layout as the bucket).")
    print("Reports:")
    for path in reports:
        print(f"  {path.relative_to(ROOT)}")
    pages = first_pages([p for p in reports if p.suffix == ".pdf"], OUTPUT, OUTPUT / "pages")
    if pages:
        print("Page 1 of each kind of report:")
        for path in pages:
            print(f"  {path.relative_to(ROOT)}")
    print(f"Logs of each run: {log_dir.relative_to(ROOT)}/<dag_id>.log")
    failed = [r[0] for r in table if r[1] != "success"]
    if month_line.startswith("FAILED"):
        failed.append("month bounds")
    if failed:
        print(f"\nFAILED: {', '.join(failed)} (see their logs)")
        return 1
    return 0


def _month_bounds_line(output: Path, month: str) -> str:
    """Every monthly report of the demo covers the same minutes (one contract month), or FAILED."""
    sources = {"availability": output / f"availability/{month}/report.json",
               "incidents": output / f"incidents/{month}/report.json",
               "metrics": output / f"metrics/{month}/report.json"}
    sources |= {f"invoice {p.stem}": p for p in sorted((output / f"invoices/{month}/_drafts").glob("*.json"))}
    bounds = {}
    for name, path in sources.items():
        if path.exists():
            period = json.loads(path.read_text())["period"]
            period = period.get("bounds", period)
            bounds[name] = (period["start"], period["end"], period["timezone"])
    if not bounds:
        return f"FAILED: no monthly report of {month} was written"
    if len(set(bounds.values())) != 1:
        return f"FAILED: the monthly reports disagree on {month}'s bounds: {bounds}"
    start, end, zone = next(iter(bounds.values()))
    return f"Month {month} ({zone}): {start} to {end} UTC in all {len(bounds)} monthly reports ({', '.join(bounds)})"


def report_kind(pdf: Path, root: Path) -> str:
    """The kind of report a PDF under `root` is, from its place in the bucket's layout."""
    parts = pdf.relative_to(root).parts
    if parts[:2] == ("backups", "drills"):
        return "drill"
    return "invoice" if parts[0] == "invoices" else parts[0]


def first_pages(pdfs: list[Path], root: Path, target: Path) -> list[Path]:
    """Page 1 of the first PDF of each kind of report, as `target/<kind>-page1.png` (pdftoppm from
    poppler-utils; none without it, and it says so)."""
    if not shutil.which("pdftoppm"):
        print("(pdftoppm not found: scripts/system-deps.sh installs poppler-utils for the page images)")
        return []
    chosen: dict[str, Path] = {}
    for pdf in sorted(pdfs):
        chosen.setdefault(report_kind(pdf, root), pdf)
    target.mkdir(parents=True, exist_ok=True)
    pages = []
    for kind, pdf in sorted(chosen.items()):
        stem = target / f"{kind}-page1"
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
                       check=True, capture_output=True)
        pages.append(stem.with_suffix(".png"))
    return pages


class _bucket_reader:
    """Reads the sandbox's reports bucket with plain boto3 (the demo is not estate-ops code)."""

    def __init__(self, sandbox) -> None:
        from estate_ops.config import load_estate

        self.bucket = load_estate().reports_bucket
        self.s3 = sandbox.boto3_client("s3")

    def keys(self) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def manifest(self, dag_id: str, period: str) -> dict | None:
        """The run manifest runs/<dag_id>/<period>.json (or the first whose period starts so)."""
        keys = [k for k in self.keys() if k.startswith(f"runs/{dag_id}/{period}")]
        return json.loads(self.get(keys[0])) if keys else None


def _copy_bucket(store: _bucket_reader, target: Path) -> int:
    keys = store.keys()
    for key in keys:
        path = target / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(store.get(key))
    return len(keys)


def _print_table(rows: list[tuple]) -> None:
    headers = ("DAG", "state", "artifacts", "headline")
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(3)]
    print()
    print(f"{headers[0]:<{widths[0]}}  {headers[1]:<{widths[1]}}  {headers[2]:>{widths[2]}}  {headers[3]}")
    print("-" * (sum(widths) + 16 + 40))
    for dag_id, state, artifacts, headline in rows:
        print(f"{dag_id:<{widths[0]}}  {state:<{widths[1]}}  {artifacts:>{widths[2]}}  {headline}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "plugins"))
    sys.exit(main())
