"""pruning.*: retention pruning of 10,000 snapshots over 20 databases in the sandbox.

The sandbox is started with an estate of 20 databases and `SANDBOX_RETENTION_BULK` (500 manual
snapshots per database spread over 120 days, green verification statuses), then one manual run
with confirm_over_cap goes through plan -> delete (12 databases at a time, as the `rds_api`
pool allows) -> report, driving the operators directly.

The run happens in a child process (as in a worker), so its peak RSS is its own; a child that
only imports the same modules gives the baseline.

Figures: RDS calls made against the minimum (DescribeDBSnapshots pages + one
DescribeDBInstances page + one DeleteDBSnapshot per planned snapshot; moto answers
DescribeDBSnapshots in one page where AWS pages by 100, so both minimums are printed), the S3
calls the audit trail costs per deletion, wall time per step, and peak memory.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import yaml

from bench.common import record
from devtools.localenv import ROOT, airflow_environment

DATABASES = 20
PER_DATABASE = 500
SPREAD_DAYS = 120
NOW = "2026-11-02T12:00:00Z"
LOGICAL_DATE = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
POOL_SLOTS = 12  # include/pools.json rds_api


def _estate_file(folder: Path) -> Path:
    data = yaml.safe_load((ROOT / "include" / "estate.yaml").read_text())
    template = data["databases"][0]
    data["databases"] = [{**template, "id": f"legacy-bench-{i:02d}-db", "critical": i == 0}
                         for i in range(DATABASES)]
    path = folder / "estate.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class _TI:
    def __init__(self) -> None:
        self.values: dict = {}
        self.try_number = 1

    def xcom_push(self, key, value):
        self.values[("plan", key)] = value

    def xcom_pull(self, task_ids, key=None):
        return self.values.get((task_ids, key))


def _run_pruning() -> dict:
    from estate_ops.operators.retention import (
        ApplyRetentionSettingsOperator,
        PlanRetentionPruningOperator,
        PruneRdsSnapshotsOperator,
        PublishRetentionReportOperator,
    )

    ti = _TI()
    context = {"logical_date": LOGICAL_DATE, "run_id": "manual__bench", "ti": ti,
               "dag_run": SimpleNamespace(run_type="manual", run_after=LOGICAL_DATE),
               "params": {"dry_run": False, "databases": "", "confirm_over_cap": True}}
    times = {}
    start = time.perf_counter()
    batches = PlanRetentionPruningOperator(task_id="plan").execute(context)
    ti.values[("plan", None)] = batches
    plan_key = ti.values[("plan", "plan_key")]
    times["plan"] = time.perf_counter() - start

    start = time.perf_counter()
    ti.values[("apply_settings", None)] = ApplyRetentionSettingsOperator(
        task_id="apply_settings", plan_key=plan_key).execute(context)
    with ThreadPoolExecutor(max_workers=POOL_SLOTS) as pool:
        summaries = list(pool.map(
            lambda b: PruneRdsSnapshotsOperator(task_id="delete_snapshots", batch=b).execute(context), batches))
    ti.values[("delete_snapshots", None)] = summaries
    times["delete"] = time.perf_counter() - start

    start = time.perf_counter()
    result = PublishRetentionReportOperator(task_id="report", plan_key=plan_key, plan_task_id="plan",
                                            act_task_ids=["apply_settings", "delete_snapshots"]).execute(context)
    times["report"] = time.perf_counter() - start
    return {"times": times, "deleted": result["deleted"], "summaries": summaries}


def _child(baseline: bool) -> None:
    """In a fresh process: the pruning run (or only its imports, for a baseline); prints JSON."""
    import json

    if baseline:
        from estate_ops.hooks.artifacts import ArtifactStore  # noqa: F401
        from estate_ops.hooks.rds import RdsBackupsHook  # noqa: F401
        from estate_ops.operators import retention  # noqa: F401

        outcome = {}
    else:
        outcome = _run_pruning()
    outcome["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH " + json.dumps(outcome, default=str))


def _in_child(env: dict[str, str], baseline: bool) -> dict:
    import json
    import subprocess

    code = f"from bench.pruning import _child; _child({baseline})"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode or line is None:
        raise RuntimeError(f"pruning child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(line[len("BENCH "):])


def run() -> list[dict]:
    from sandbox.runner import start_sandbox

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        estate = _estate_file(folder)
        sandbox_env = dict(os.environ, ESTATE_OPS_ESTATE=str(estate),
                           SANDBOX_RETENTION_BULK=f"{DATABASES}:{PER_DATABASE}:{SPREAD_DAYS}",
                           MOTO_RDS_SNAPSHOT_LIMIT=str(DATABASES * PER_DATABASE * 2))
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(sandbox_env)  # start_sandbox passes this process's environment on
        try:
            handle = start_sandbox(folder / "sandbox", reference_month="2026-10", now=NOW,
                                   extra_args=("--scenarios", "retention"), timeout=300)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        try:
            # The operators run in a child process as they would in a worker: the project-local
            # Airflow settings, plugins/ on the path, the sandbox's connections.
            env = airflow_environment(folder / "airflow", base=sandbox_env)
            env.update(handle.airflow_connections_env())
            rds = handle.boto3_client("rds")
            listed = sum(len(p["DBSnapshots"]) for p in rds.get_paginator("describe_db_snapshots").paginate(
                PaginationConfig={"PageSize": 100}))
            baseline = _in_child(env, baseline=True)
            handle.clear_request_counts()
            started = time.perf_counter()
            outcome = _in_child(env, baseline=False)
            wall = time.perf_counter() - started
            calls = handle.request_counts()["totals"], handle.request_counts()["paths"].get("aws", {})
        finally:
            handle.stop()

    calls = calls[1]
    deleted = outcome["deleted"]
    pages_on_aws = math.ceil(listed / 100)
    describe_pages = calls.get("rds:DescribeDBSnapshots", 0)
    rds_calls = sum(v for k, v in calls.items() if k.startswith("rds:"))
    # on AWS: DescribeDBSnapshots pages of 100, one DescribeDBInstances page, one delete per snapshot
    minimum = pages_on_aws + 1 + deleted
    minimum_here = describe_pages + 1 + deleted  # moto answers DescribeDBSnapshots in one page
    s3_calls = sum(v for k, v in calls.items() if k.startswith("s3:"))
    times = outcome["times"]
    return [
        record("pruning.snapshots_listed", listed, "snapshots"),
        record("pruning.snapshots_deleted", deleted, "snapshots"),
        record("pruning.describe_pages", describe_pages, "calls", None, None),
        record("pruning.describe_pages_on_aws", pages_on_aws, "calls"),
        record("pruning.rds_calls", rds_calls, "calls"),
        record("pruning.rds_calls_minimum_on_aws", minimum, "calls"),
        record("pruning.rds_calls_vs_minimum", round(rds_calls / minimum_here, 3), "x", "<= 1.0",
               rds_calls <= minimum_here),
        record("pruning.s3_calls_per_deletion", round(s3_calls / max(deleted, 1), 2), "calls", "<= 2.1",
               s3_calls / max(deleted, 1) <= 2.1),
        record("pruning.wall_seconds", round(wall, 1), "s"),
        record("pruning.plan_seconds", round(times["plan"], 1), "s"),
        record("pruning.delete_seconds", round(times["delete"], 1), "s"),
        record("pruning.report_seconds", round(times["report"], 1), "s"),
        record("pruning.deletions_per_second", round(deleted / max(times["delete"], 1e-9), 1), "/s"),
        record("pruning.peak_rss_mib", round(outcome["peak_rss_mib"], 1), "MiB"),
        record("pruning.baseline_rss_mib", round(baseline["peak_rss_mib"], 1), "MiB"),
        record("pruning.peak_rss_over_baseline_mib", round(outcome["peak_rss_mib"] - baseline["peak_rss_mib"], 1),
               "MiB", "<= 512", outcome["peak_rss_mib"] - baseline["peak_rss_mib"] <= 512),
    ]
