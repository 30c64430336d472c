"""invoicing.*: time and peak memory from the month's timesheet CSV bytes to the draft invoices.

100,000 entries for 500 clients, then 1,000,000 (rendering excluded: reading, validation,
aggregation and the per-client Decimal lines). Each size runs in a fresh process so its peak
memory is its own; the input bytes are generated before the clock starts. Goal: the 1M time is at
most 11 x the 100k time (validation and aggregation are vectorised, so the cost stays linear).
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import record
from devtools.localenv import ROOT

SIZES = (100_000, 1_000_000)
CLIENTS = 500
ROWS_PER_FILE = 100_000
GOAL = 11.0
MONTH = "2026-10"


def _inputs(entries: int, clients: int, seed: int = 7):
    """Synthetic timesheets: `entries` rows over `clients` clients, ~0.5% bad rows, in CSV files."""
    import numpy as np
    import pandas as pd
    from estate_ops.domain.invoicing import ClientTerms
    from estate_ops.domain.timesheets import COLUMNS, TimesheetFile

    rng = np.random.default_rng(seed)
    tiers = np.array(["basic", "standard", "premium"])
    client_ids = np.array([f"client-{i:04d}" for i in range(clients)])
    terms = []
    import datetime as dt

    for i, cid in enumerate(client_ids):
        changes = ((dt.date(2026, 10, 16), "premium"),) if i % 10 == 0 else ()
        terms.append(ClientTerms(cid, f"Client {i}", str(tiers[i % 3]), changes, rollover=i % 4 == 0))
    start = pd.Timestamp("2026-10-01T04:00:00Z").value // 10**9
    span = 31 * 24 * 3600 - 6 * 3600
    starts = start + rng.integers(0, span, entries)
    minutes = rng.choice([10, 20, 35, 47, 60, 75, 95, 120, 185, 240], entries)
    ends = starts + minutes * 60
    utc = pd.to_datetime(starts, unit="s", utc=True)
    end_utc = pd.to_datetime(ends, unit="s", utc=True)
    # Half the rows written in ET (EDT, -04:00 all October), half in UTC.
    et = rng.random(entries) < 0.5
    started = np.where(et, (utc - pd.Timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S-04:00"),
                       utc.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ended = np.where(et, (end_utc - pd.Timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S-04:00"),
                     end_utc.strftime("%Y-%m-%dT%H:%M:%SZ"))
    categories = rng.choice(["bug_fix", "monitoring", "minor_enhancement", "feature_development", "training"],
                            entries, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    frame = pd.DataFrame({
        "entry_id": [f"e{i:08d}" for i in range(entries)],
        "client_id": client_ids[rng.integers(0, clients, entries)],
        "engineer": np.array([f"eng{i:03d}" for i in range(200)])[rng.integers(0, 200, entries)],
        "started_at": started, "ended_at": ended, "category": categories,
        "ticket": [f"T-{i}" for i in rng.integers(1000, 9999, entries)],
        "description": "Routine support work, see ticket",
    })[list(COLUMNS)]
    bad = rng.random(entries) < 0.005
    frame.loc[bad & (rng.random(entries) < 0.5), "started_at"] = "2026-10-05T09:00:00"  # no offset
    frame.loc[bad & (rng.random(entries) >= 0.5), "engineer"] = ""  # missing field
    files = []
    for n, part in enumerate(range(0, entries, ROWS_PER_FILE)):
        data = frame.iloc[part:part + ROWS_PER_FILE].to_csv(index=False, lineterminator="\n").encode("utf-8")
        files.append(TimesheetFile(f"timesheets/{MONTH}/engineers-{n:03d}.csv", data))
    return files, terms


def measure(entries: int, clients: int) -> dict:
    """In this process: build inputs, then time and measure the pipeline up to the drafts."""
    import datetime as dt
    import gc
    import resource
    import time

    from estate_ops.config import load_plan
    from estate_ops.domain.invoicing import build_drafts, rules_from_config
    from estate_ops.domain.periods import Month
    from estate_ops.domain.timesheets import validate_month

    plan = load_plan()
    files, terms = _inputs(entries, clients)
    gc.collect()
    before = _rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    month = Month.parse(MONTH)
    validated = validate_month(files, month, client_ids={t.id for t in terms},
                               now=dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC), tz=plan.timezone)
    drafts = build_drafts(validated.entries, month, rules_from_config(plan), terms, tz=plan.timezone,
                          rollover_in={t.id: 7200 for t in terms if t.rollover},
                          rejected_by_client=validated.rejected_by_client())
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"entries": entries, "accepted": len(validated.entries), "rejected": len(validated.rejected),
            "drafts": len(drafts), "seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3), "peak_rss_mb": round(peak, 1),
            "input_rss_mb": round(before, 1)}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _in_fresh_process(entries: int) -> dict:
    code = ("import json, sys; sys.path[:0] = ['plugins', '.']; from bench.invoicing import measure; "
            f"print(json.dumps(measure({entries}, {CLIENTS})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> list[dict]:
    results = {n: _in_fresh_process(n) for n in SIZES}
    small, large = results[SIZES[0]], results[SIZES[1]]
    ratio = round(large["seconds"] / small["seconds"], 2)
    cpu_ratio = round(large["cpu_seconds"] / small["cpu_seconds"], 2)
    records = []
    for n, r in results.items():
        label = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}m"
        records.append(record(f"invoicing.drafts_{label}_seconds", r["seconds"], "s"))
        records.append(record(f"invoicing.drafts_{label}_cpu_seconds", r["cpu_seconds"], "s"))
        records.append(record(f"invoicing.drafts_{label}_peak_rss", r["peak_rss_mb"], "MB"))
        records.append(record(f"invoicing.drafts_{label}_input_rss", r["input_rss_mb"], "MB"))
    records.append(record("invoicing.time_ratio_1m_over_100k", ratio, "x", f"<= {GOAL}", ratio <= GOAL))
    # CPU time too: on a shared machine wall time also measures the neighbours.
    records.append(record("invoicing.cpu_ratio_1m_over_100k", cpu_ratio, "x", f"<= {GOAL}", cpu_ratio <= GOAL))
    return records


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
