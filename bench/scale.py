"""Scale-out: wall time of the same DAG runs on the native cluster with 2 Celery workers and with 1.

One cluster (devtools/cluster.py) for an estate 10x the sandbox's default (include/estate.yaml
with every database, document store and health check repeated ten times under new ids; the
sandbox seeds whatever the estate names). The workload is every DAG of tests/cluster/
test_cluster.py's waves for the reference month (one run each; the daily DAGs for
SCALE_DAYS days ending on the 2nd of November, default 1). It runs once with both workers, then
the sandbox is reset, the runs deleted, worker-2 stopped, and the same runs go again on worker-1
alone. Each worker has SCALE_CONCURRENCY task slots (default 2).

    .venv/bin/python -m bench.run scale
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import record
from devtools.cluster import Cluster
from devtools.localenv import ROOT

FACTOR = 10
DAILY = ("estate_preflight", "availability_collect", "backup_verification", "retention_pruning")


def scaled_estate(path: Path, factor: int = FACTOR) -> Path:
    estate = yaml.safe_load((ROOT / "include" / "estate.yaml").read_text())
    base = copy.deepcopy(estate)
    estate["databases"] = [{**db, "id": f"{db['id']}-{i:02d}" if i else db["id"]}
                           for i in range(factor) for db in base["databases"]]
    estate["documents"] = [{**d, "bucket": f"{d['bucket']}-{i:02d}" if i else d["bucket"],
                            "replica_bucket": f"{d['replica_bucket']}-{i:02d}" if i else d["replica_bucket"]}
                           for i in range(factor) for d in base["documents"]]
    checks = []
    for i in range(factor):
        for n, h in enumerate(base["health_checks"]):
            hid = h["id"] if i == 0 else f"{h['id'][:-4]}{i:02d}{n:02d}"
            checks.append({**h, "id": hid, "name": f"{h['name']}-{i:02d}" if i else h["name"]})
    estate["health_checks"] = checks
    path.write_text(yaml.safe_dump(estate, sort_keys=False))
    return path


def workload(days: int) -> list[list[tuple[str, str, dict]]]:
    from tests.cluster.test_cluster import WAVES

    waves = [list(w) for w in WAVES]
    for wave, original in zip(waves, WAVES, strict=True):
        for dag_id, logical, conf in original:
            if dag_id in DAILY:
                for offset in range(1, days):
                    earlier = dt.datetime.fromisoformat(logical) - dt.timedelta(days=offset)
                    wave.append((dag_id, earlier.isoformat(), conf))
    return waves


def run_waves(cluster: Cluster, waves) -> tuple[float, dict[str, str]]:
    from tests.cluster.test_cluster import trigger, wait_for_runs

    started = time.perf_counter()
    states: dict[str, str] = {}
    for wave in waves:
        # One DAG may have several runs in a wave (several days): wait per run.
        runs = [(dag_id, trigger(cluster, dag_id, logical, conf)) for dag_id, logical, conf in wave]
        for dag_id, rid in runs:
            states[f"{dag_id}/{rid}"] = wait_for_runs(cluster, {dag_id: rid}, timeout=3600)[dag_id]
    return time.perf_counter() - started, states


def delete_runs(cluster: Cluster, waves) -> None:
    from tests.cluster.test_cluster import run_id

    for wave in waves:
        for dag_id, logical, _ in wave:
            with contextlib.suppress(Exception):  # not there
                cluster.api("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{run_id(logical)}")
    # The invoices of the approved run live in the bucket; the reset below removes them.


def run() -> list[dict]:
    days = int(os.environ.get("SCALE_DAYS", "1"))
    concurrency = int(os.environ.get("SCALE_CONCURRENCY", "2"))
    tmp = Path(tempfile.mkdtemp(prefix="estate-ops-bench-scale-"))
    estate = scaled_estate(tmp / "estate-10x.yaml")
    saved = os.environ.get("ESTATE_OPS_ESTATE")
    os.environ["ESTATE_OPS_ESTATE"] = str(estate)  # the sandbox and every component inherit it
    cluster = Cluster(tmp / "cluster", workers=2, concurrency=concurrency,
                      extra_env={"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                                 "ESTATE_OPS_ESTATE": str(estate)})
    waves = workload(days)
    runs = sum(len(w) for w in waves)
    try:
        cluster.start()
        two, states_two = run_waves(cluster, waves)
        delete_runs(cluster, waves)
        cluster.sandbox.reset()
        cluster.stop_component("worker-2")
        one, states_one = run_waves(cluster, waves)
    finally:
        cluster.stop()
        if saved is None:
            os.environ.pop("ESTATE_OPS_ESTATE", None)
        else:
            os.environ["ESTATE_OPS_ESTATE"] = saved
    failed = sorted({k for k, v in {**states_two, **states_one}.items() if v != "success"})
    speedup = one / two if two else None
    print(f"   {runs} runs, estate x{FACTOR}, {concurrency} slot(s) per worker: 1 worker {one:.1f} s, "
          f"2 workers {two:.1f} s, speed-up {speedup:.2f}x; failed runs: {failed or 'none'}")
    return [
        record(f"scale.{runs}_runs_estate_x{FACTOR}_1_worker_seconds", round(one, 1), "s"),
        record(f"scale.{runs}_runs_estate_x{FACTOR}_2_workers_seconds", round(two, 1), "s"),
        record("scale.speedup_2_workers_vs_1", round(speedup, 2), "x", ">= 1.3", speedup >= 1.3),
        record("scale.failed_runs", len(failed), "runs", "== 0", not failed),
    ]
