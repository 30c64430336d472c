"""pruning.*: retention pruning of 10,000 snapshots over 20 databases in the sandbox.

The sandbox is started with an estate of 20 databases and `SANDBOX_RETENTION_BULK` (500 manual
snapshots per database spread over 120 days, green verification statuses), then one manual run
with confirm_over_cap goes through plan -> settings + delete -> report, driving the operators
directly (no scheduler, no metadata DB).

Each task runs in a process of its own, forked as Airflow 3 forks a task from its worker (one that
has imported Airflow, WORKER_PRELOAD, not estate_ops or boto3): the deletions in the plan's mapped
tasks (at most PRUNE_TASKS), side by side with apply_settings as the DAG runs them, so each task's
peak RSS is its own; a process that only imports the same modules gives the baseline. (A fresh
interpreter per task, as this benchmark started them until 2026-12-02, adds Airflow's import, about
3 s a task on this machine, to each of the three steps.)

Figures: RDS calls made against the minimum (DescribeDBSnapshots pages of 100 — the bulk
scenario makes the sandbox page as AWS does — + one DescribeDBInstances page + one
DeleteDBSnapshot per planned snapshot), the S3 calls of the whole run per deletion (goal <= 0.05), wall
time per step, and peak memory. Beside Cloud Custodian 0.9.53 (its own venv, made by the benchmark):
BENCH_PRUNING_ROUNDS (default 2) rounds of each tool alternating ours, Custodian, Custodian, ours,
each on the sandbox reset to its seeded state, so that a machine shared with others weighs on both
alike; each tool's best round is compared, and every round must delete the same set. Beside the
ratio, what the gap is made of: the bare listing both tools make, Custodian's fixed cost (a policy
that matches nothing), and our plan + delete (the work Custodian does, without our report) against it.
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

# BENCH_PRUNING_SIZE="<databases>:<snapshots per database>" runs a reduced estate (default 20:500).
DATABASES, PER_DATABASE = (int(x) for x in os.environ.get("BENCH_PRUNING_SIZE", "20:500").split(":"))
# The crash-rerun figures: the first delete task is killed after this many AWS answers
# (BENCH_PRUNING_CRASH=0 skips it).
CRASH_AFTER = int(os.environ.get("BENCH_PRUNING_CRASH_AFTER", "1000"))
# Rounds per tool, alternating (BENCH_PRUNING_ROUNDS=1: one run of each).
ROUNDS = max(1, int(os.environ.get("BENCH_PRUNING_ROUNDS", "2")))
SPREAD_DAYS = 120
NOW = "2026-11-02T12:00:00Z"
LOGICAL_DATE = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


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


def _context(xcoms: dict, run_id: str = "manual__bench") -> dict:
    ti = _TI()
    ti.values.update({tuple(k.split("|")) if "|" in k else (k, None): v for k, v in xcoms.items()})
    return {"logical_date": LOGICAL_DATE, "run_id": run_id, "ti": ti,
            "dag_run": SimpleNamespace(run_type="manual", run_after=LOGICAL_DATE),
            "params": {"dry_run": False, "databases": "", "confirm_over_cap": True}}


def _step(step: str, arg: dict) -> dict:
    """One task of the run, as a worker process runs it."""
    from estate_ops.operators import retention as ops

    if step == "baseline":  # the imports and hooks a task has before it does anything
        from estate_ops.hooks.artifacts import ArtifactStore  # noqa: F401
        from estate_ops.hooks.rds import RdsBackupsHook  # noqa: F401

        return {}
    context = _context(arg.get("xcoms", {}), arg.get("run_id", "manual__bench"))
    if step == "killed_delete":
        _kill_after_answers(arg["kill_after"])
        step = "delete"
    if step == "plan":
        batches = ops.PlanRetentionPruningOperator(task_id="plan").execute(context)
        return {"batches": batches, "plan_key": context["ti"].values[("plan", "plan_key")]}
    if step == "settings":
        return {"result": ops.ApplyRetentionSettingsOperator(task_id="apply_settings",
                                                             plan_key=arg["plan_key"]).execute(context)}
    if step == "delete":
        return {"result": ops.PruneRdsSnapshotsOperator(task_id="delete_snapshots", batch=arg["batch"]).execute(context)}
    result = ops.PublishRetentionReportOperator(task_id="report", plan_key=arg["plan_key"], plan_task_id="plan",
                                                act_task_ids=["apply_settings", "delete_snapshots"]).execute(context)
    return {"deleted": result["deleted"]}


def _kill_after_answers(k: int) -> None:
    """The crash: this worker SIGKILLs itself right after AWS's k-th answer to DeleteDBSnapshot, before
    that answer is written down (nothing in memory survives: no flush, no finally)."""
    import signal
    import threading

    from estate_ops.hooks.rds import RdsBackupsHook

    original, lock, answers = RdsBackupsHook.delete_manual_snapshot, threading.Lock(), []

    def delete(self, snapshot_id):
        outcome = original(self, snapshot_id)
        with lock:
            answers.append(snapshot_id)
            print("ANSWER " + snapshot_id, flush=True)
            if len(answers) >= k:
                os.kill(os.getpid(), signal.SIGKILL)
        return outcome

    RdsBackupsHook.delete_manual_snapshot = delete


def _child(step: str, arg_json: str) -> None:
    import json

    started = time.perf_counter()
    outcome = _step(step, json.loads(arg_json))
    outcome["seconds"] = time.perf_counter() - started
    outcome["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("BENCH " + json.dumps(outcome, default=str))


# What a worker has imported before it forks a task: Airflow 3's LocalExecutor workers are forked
# from the scheduler, and the supervisor forks each task process from its worker (os.fork), so a
# task starts with Airflow imported; it imports the DAG's modules (estate_ops, boto3, providers).
WORKER_PRELOAD = ["airflow.sdk", "airflow.sdk.execution_time.task_runner"]
_WORKERS: dict[str, object] = {}


def _workers(env: dict[str, str]):
    """A forkserver started with `env` that has imported WORKER_PRELOAD: each step is a process
    forked from it, as a task is forked from a worker."""
    import multiprocessing
    from multiprocessing import forkserver

    key = repr(sorted(env.items()))
    if key not in _WORKERS:
        forkserver._forkserver._stop()  # one environment per forkserver: the previous run's goes
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(WORKER_PRELOAD)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)  # the forkserver (and so every task) inherits this environment
        try:
            forkserver.ensure_running()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        _WORKERS.clear()
        _WORKERS[key] = context
    return _WORKERS[key]


def _forked_step(step: str, arg_json: str, sender) -> None:
    import json

    preloaded = all(name in sys.modules for name in WORKER_PRELOAD)
    quiet = os.open(os.devnull, os.O_WRONLY)  # the task's log lines are not the benchmark's output
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    if str(ROOT / "plugins") not in sys.path:
        sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    started = time.perf_counter()
    try:
        outcome = _step(step, json.loads(arg_json))
    except BaseException as error:
        import traceback

        sender.send({"error": "".join(traceback.format_exception(error))[-3000:]})
        raise
    outcome["seconds"] = time.perf_counter() - started
    outcome["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outcome["preloaded"] = preloaded
    sender.send(json.loads(json.dumps(outcome, default=str)))


def _in_child(env: dict[str, str], step: str, arg: dict | None = None) -> dict:
    """One step in a process forked from a worker that has imported Airflow (`_workers`)."""
    import json

    context = _workers(env)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_forked_step, args=(step, json.dumps(arg or {}), sender))
    process.start()
    sender.close()
    try:
        outcome = receiver.recv()
    except EOFError:
        outcome = {"error": "the process died without an answer"}
    process.join()
    if "error" in outcome or process.exitcode:
        raise RuntimeError(f"pruning step {step} failed ({process.exitcode}):\n{outcome.get('error', '')}")
    if not outcome.pop("preloaded"):
        raise RuntimeError(f"pruning step {step}: the worker had not imported {WORKER_PRELOAD}")
    return outcome


def _run_pruning(env: dict[str, str], run_id: str = "manual__bench") -> dict:
    """plan -> settings beside one process per mapped delete task (PRUNE_TASKS of them) -> report."""
    steps: dict[str, dict] = {}
    started = time.perf_counter()
    steps["plan"] = plan = _in_child(env, "plan", {"run_id": run_id})
    times = {"plan": time.perf_counter() - started}
    started = time.perf_counter()
    # apply_settings and the mapped delete tasks all follow plan in the DAG: they run side by side
    with ThreadPoolExecutor(max_workers=1 + len(plan["batches"])) as pool:
        settings = pool.submit(_in_child, env, "settings", {"plan_key": plan["plan_key"], "run_id": run_id})
        deletes = list(pool.map(lambda b: _in_child(env, "delete", {"batch": b, "run_id": run_id}), plan["batches"]))
        steps["settings"] = settings.result()
    times["delete"] = time.perf_counter() - started
    started = time.perf_counter()
    xcoms = {"plan": plan["batches"], "plan|plan_key": plan["plan_key"],
             "apply_settings": steps["settings"]["result"], "delete_snapshots": [d["result"] for d in deletes]}
    steps["report"] = _in_child(env, "report", {"plan_key": plan["plan_key"], "xcoms": xcoms, "run_id": run_id})
    times["report"] = time.perf_counter() - started
    return {"times": times, "deleted": steps["report"]["deleted"], "plan_rss": plan["peak_rss_mib"],
            "delete_rss": max(d["peak_rss_mib"] for d in deletes), "report_rss": steps["report"]["peak_rss_mib"],
            "delete_task_seconds": max(d["seconds"] for d in deletes)}


def _crash_and_rerun(handle, env: dict[str, str], planned: set[str], bucket: str) -> dict:
    """On the sandbox as seeded: plan, then the first delete task is SIGKILLed after CRASH_AFTER answers
    (the other never starts), then a rerun of the day finishes. Checked against the listing and the
    day's audit JSONL: every planned snapshot deleted, each line once."""
    import json
    import subprocess

    plan = _in_child(env, "plan", {"run_id": "manual__crashed"})
    code = "import sys; from bench.pruning import _child; _child('killed_delete', sys.stdin.read())"
    arg = {"batch": plan["batches"][0], "run_id": "manual__crashed", "kill_after": CRASH_AFTER}
    done = subprocess.run([sys.executable, "-c", code], env=env, input=json.dumps(arg), capture_output=True,
                          text=True, check=False)
    if done.returncode != -9:
        raise RuntimeError(f"the killed delete task was not killed ({done.returncode}):\n{done.stderr[-3000:]}")
    answered = {line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("ANSWER ")}
    # The calls the killed worker had in flight are still being answered by the sandbox (moto's listing
    # and its deletes are not thread-safe with each other): let them land before listing.
    time.sleep(2)
    gone_at_kill = planned - _snapshot_ids(handle)
    handle.clear_request_counts()
    started = time.perf_counter()
    rerun = _run_pruning(env, run_id="manual__rerun")
    seconds = time.perf_counter() - started
    sent = handle.request_counts()["paths"].get("aws", {}).get("rds:DeleteDBSnapshot", 0)
    lines = [json.loads(x) for x in handle.boto3_client("s3").get_object(
        Bucket=bucket, Key=f"retention/audit/{LOGICAL_DATE.date()}.jsonl")["Body"].read().splitlines()]
    deletions = [x for x in lines if x["kind"] == "delete_db_snapshot"]
    targets = [x["target"] for x in deletions]
    return {"answered_before_kill": len(answered), "gone_at_kill": len(gone_at_kill), "rerun_delete_calls": sent,
            "settled_on_rerun": sum("settled on rerun" in x["detail"] for x in deletions),
            "deleted_after_rerun": rerun["deleted"], "left_after_rerun": len(planned & _snapshot_ids(handle)),
            "audit_lines": len(targets), "audit_duplicates": len(targets) - len(set(targets)),
            "audit_missing": len(planned - set(targets)), "rerun_seconds": seconds}


C7N_VENV = Path("/tmp/c7n-venv")
C7N_VERSION = "0.9.53"


def _custodian_venv() -> None:
    """Cloud Custodian in a venv of its own (made once, before anything is timed)."""
    import subprocess

    if not (C7N_VENV / "bin" / "custodian").exists():
        subprocess.run([sys.executable, "-m", "venv", str(C7N_VENV)], check=True)
        subprocess.run([str(C7N_VENV / "bin" / "pip"), "install", "-q", f"c7n=={C7N_VERSION}"], check=True)


def _custodian(handle, folder: Path, *, start_only: bool = False) -> dict:
    """Cloud Custodian (`_custodian_venv`) on the sandbox as seeded: rds-snapshot, manual, older
    than 30 days at the sandbox's now (its clock is fixed, so the age is a date), action delete.
    `start_only`: a policy that reads one page of DB instances and matches none, for Custodian's
    fixed cost (its start, its session, its output)."""
    import subprocess

    from sandbox import runner

    cutoff = (dt.datetime.fromisoformat(NOW).replace(hour=0, minute=0, second=0)
              - dt.timedelta(days=30)).isoformat()
    if start_only:
        policy = {"policies": [{"name": "start-only", "resource": "rds", "filters": [
            {"type": "value", "key": "DBInstanceIdentifier", "value": "matches-none"}]}]}
    else:
        policy = {"policies": [{"name": "prune-manual-snapshots", "resource": "rds-snapshot", "filters": [
            {"type": "value", "key": "SnapshotType", "value": "manual"},
            {"type": "value", "key": "SnapshotCreateTime", "op": "less-than", "value_type": "date", "value": cutoff}],
            "actions": ["delete"]}]}
    (folder / "c7n.yml").write_text(yaml.safe_dump(policy))
    env = dict(os.environ, AWS_ENDPOINT_URL=handle.aws_url, AWS_ACCESS_KEY_ID=runner.AWS_ACCESS_KEY,
               AWS_SECRET_ACCESS_KEY=runner.AWS_SECRET_KEY, AWS_DEFAULT_REGION=handle.region,
               AWS_CA_BUNDLE=handle.ca_bundle)
    done = subprocess.run([str(C7N_VENV / "bin" / "custodian"), "run", "-s", str(folder / "c7n-out"),
                           "--cache-period", "0", "--region", handle.region, str(folder / "c7n.yml")], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"custodian failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {}


def _in_order(order: list[str], rounds: dict[str, list[dict]]):
    """(tool, round) in the order the rounds ran."""
    taken = {tool: iter(runs) for tool, runs in rounds.items()}
    return [(tool, next(taken[tool])) for tool in order]


def _snapshot_ids(handle) -> set[str]:
    rds = handle.boto3_client("rds")
    return {s["DBSnapshotIdentifier"] for p in rds.get_paginator("describe_db_snapshots").paginate(
        PaginationConfig={"PageSize": 100}) for s in p["DBSnapshots"]}


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
            started = time.perf_counter()
            before = _snapshot_ids(handle)
            # The listing both tools make (101 pages), bare: the floor under both plan steps (timed once,
            # before the rounds: the machine's speed drifts between rounds).
            listing_seconds = time.perf_counter() - started
            listed = len(before)
            baseline = _in_child(env, "baseline")
            # Rounds in the order ours, Custodian, Custodian, ours (one pair per ROUNDS, each on the
            # sandbox reset to its seeded state): a machine that slows down or speeds up during the run
            # weighs on both tools alike, and each tool's best round is compared.
            order = ["ours", "custodian", "custodian", "ours"] * (ROUNDS // 2) + ["ours", "custodian"] * (ROUNDS % 2)
            if os.environ.get("BENCH_PRUNING_CUSTODIAN", "1") != "1":
                order = ["ours"] * ROUNDS
            else:
                _custodian_venv()
                started = time.perf_counter()
                _custodian(handle, folder, start_only=True)
                custodian_start = time.perf_counter() - started
            rounds: dict[str, list[dict]] = {"ours": [], "custodian": []}
            for tool in order:
                if rounds["ours"] or rounds["custodian"]:
                    handle.reset()  # the sandbox as seeded again: the same estate for every round
                    assert _snapshot_ids(handle) == before
                handle.clear_request_counts()
                started = time.perf_counter()
                outcome = _run_pruning(env) if tool == "ours" else _custodian(handle, folder)
                outcome["seconds"] = time.perf_counter() - started
                if tool == "ours" and not rounds["ours"]:  # the calls of one run (every round makes the same)
                    calls = handle.request_counts()["totals"], handle.request_counts()["paths"].get("aws", {})
                outcome["deleted_ids"] = before - _snapshot_ids(handle)
                rounds[tool].append(outcome)
            ours = rounds["ours"][0]["deleted_ids"]
            same_every_round = all(r["deleted_ids"] == ours for r in rounds["ours"] + rounds["custodian"])
            outcome = min(rounds["ours"], key=lambda r: r["seconds"])
            wall = outcome["seconds"]
            custodian = min(rounds["custodian"], key=lambda r: r["seconds"]) if rounds["custodian"] else None
            crash = None
            if os.environ.get("BENCH_PRUNING_CRASH", "1") == "1":
                handle.reset()
                assert _snapshot_ids(handle) == before
                crash = _crash_and_rerun(handle, env, ours, yaml.safe_load(estate.read_text())["reports_bucket"])
        finally:
            handle.stop()
            from multiprocessing import forkserver

            forkserver._forkserver._stop()
            _WORKERS.clear()

    calls = calls[1]
    deleted = outcome["deleted"]
    pages_on_aws = math.ceil(listed / 100)
    describe_pages = calls.get("rds:DescribeDBSnapshots", 0)
    rds_calls = sum(v for k, v in calls.items() if k.startswith("rds:"))
    # on AWS: DescribeDBSnapshots pages of 100, one DescribeDBInstances page, one delete per snapshot
    minimum = pages_on_aws + 1 + deleted
    s3_calls = sum(v for k, v in calls.items() if k.startswith("s3:"))
    times = outcome["times"]
    compared = []
    if custodian is not None:
        ratio = wall / custodian["seconds"]
        compared = [
            record("pruning.custodian_snapshots_deleted", len(custodian["deleted_ids"]), "snapshots"),
            record("pruning.custodian_wall_seconds", round(custodian["seconds"], 1), "s"),
            record("pruning.wall_vs_custodian", round(ratio, 2), "x", "<= 1.0", ratio <= 1.0),
            record("pruning.same_deletions_as_custodian", same_every_round, "bool", "== True", same_every_round),
            # What the gap is made of: Custodian's fixed cost (beside our report, which it does not
            # write) and the work both tools do (list, decide, delete).
            record("pruning.custodian_start_seconds", round(custodian_start, 1), "s"),
            record("pruning.plan_and_delete_vs_custodian", round((times["plan"] + times["delete"]) / custodian["seconds"], 2),
                   "x"),
        ]
    rounds_seen = [record(f"pruning.round_{i + 1}_{tool}_seconds", round(r["seconds"], 1), "s")
                   for i, (tool, r) in enumerate(_in_order(order, rounds))]
    crashed = []
    if crash is not None:
        k = min(CRASH_AFTER, deleted)
        crashed = [
            record("pruning.crash_killed_after_answers", crash["answered_before_kill"], "deletions", f"== {k}",
                   crash["answered_before_kill"] == k),
            # gone when the worker died: its k answers, and the calls in flight in its other threads
            record("pruning.crash_gone_at_kill", crash["gone_at_kill"], "snapshots", f">= {k}", crash["gone_at_kill"] >= k),
            record("pruning.crash_rerun_delete_calls", crash["rerun_delete_calls"], "calls",
                   f"== {deleted - crash['gone_at_kill']}", crash["rerun_delete_calls"] == deleted - crash["gone_at_kill"]),
            # what the worker had not written down, found gone in the rerun's listing: recorded, no call
            record("pruning.crash_settled_on_rerun", crash["settled_on_rerun"], "snapshots"),
            record("pruning.crash_deleted_after_rerun", crash["deleted_after_rerun"], "snapshots", f"== {deleted}",
                   crash["deleted_after_rerun"] == deleted),
            record("pruning.crash_left_after_rerun", crash["left_after_rerun"], "snapshots", "== 0",
                   crash["left_after_rerun"] == 0),
            record("pruning.crash_audit_lines", crash["audit_lines"], "lines", f"== {deleted}",
                   crash["audit_lines"] == deleted),
            record("pruning.crash_audit_duplicates_or_missing", crash["audit_duplicates"] + crash["audit_missing"],
                   "lines", "== 0", crash["audit_duplicates"] + crash["audit_missing"] == 0),
            record("pruning.crash_rerun_seconds", round(crash["rerun_seconds"], 1), "s"),
        ]
    return [
        record("pruning.snapshots_listed", listed, "snapshots"),
        record("pruning.snapshots_deleted", deleted, "snapshots"),
        record("pruning.describe_pages", describe_pages, "calls", f"== {pages_on_aws}", describe_pages == pages_on_aws),
        record("pruning.rds_calls", rds_calls, "calls"),
        record("pruning.rds_calls_minimum", minimum, "calls"),
        record("pruning.rds_calls_vs_minimum", round(rds_calls / minimum, 3), "x", "<= 1.0", rds_calls <= minimum),
        record("pruning.s3_calls", s3_calls, "calls"),
        record("pruning.s3_calls_per_deletion", round(s3_calls / max(deleted, 1), 4), "calls", "<= 0.05",
               s3_calls / max(deleted, 1) <= 0.05),
        record("pruning.wall_seconds", round(wall, 1), "s"),
        record("pruning.listing_seconds", round(listing_seconds, 1), "s"),
        record("pruning.plan_seconds", round(times["plan"], 1), "s"),
        record("pruning.delete_seconds", round(times["delete"], 1), "s"),
        record("pruning.report_seconds", round(times["report"], 1), "s"),
        record("pruning.deletions_per_second", round(deleted / max(times["delete"], 1e-9), 1), "/s"),
        record("pruning.slowest_delete_task_seconds", round(outcome["delete_task_seconds"], 1), "s"),
        record("pruning.baseline_task_rss_mib", round(baseline["peak_rss_mib"], 1), "MiB"),
        record("pruning.plan_task_peak_rss_mib", round(outcome["plan_rss"], 1), "MiB", "<= 512",
               outcome["plan_rss"] <= 512),
        record("pruning.delete_task_peak_rss_mib", round(outcome["delete_rss"], 1), "MiB", "<= 256",
               outcome["delete_rss"] <= 256),
        record("pruning.report_task_peak_rss_mib", round(outcome["report_rss"], 1), "MiB", "<= 512",
               outcome["report_rss"] <= 512),
        *compared,
        *rounds_seen,
        *crashed,
    ]
