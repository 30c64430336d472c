"""Retention pruning, in four steps: plan, (gate inside plan), act, report.

- `PlanRetentionPruningOperator` lists what exists, asks `domain.retention` what may go and why,
  runs the document guard and the gate, and writes `retention/YYYY-MM-DD/plan.json`. It changes
  nothing in AWS. It returns the databases with deletions to do in at most `PRUNE_TASKS` groups (for
  mapping) and pushes the XCom key `plan_key` (the plan's key in the reports bucket).
- `ApplyRetentionSettingsOperator` sets log-group retention and the log archive's lifecycle rule.
- `PruneRdsSnapshotsOperator` deletes a group of databases' approved snapshots (mapped per group,
  `PRUNE_THREADS` databases at a time, each holding that many slots of the `rds_api` pool, with
  botocore's adaptive retries).
- `PublishRetentionReportOperator` rebuilds `retention/audit/YYYY-MM-DD.jsonl` from the day's
  action records, writes `retention/YYYY-MM-DD/report.{json,html,pdf}`, routes refusals and failures,
  and posts the Slack summary once per outcome.

The audit trail lives under `retention/audit/records/YYYY-MM-DD/<group>/` in bundles (see
`hooks/ledgers.py`): before a batch of deletions (up to `intent_batch`, 500) one object names their
intents; the results are buffered and written as one object every `flush_every` results or
`flush_seconds` (30), and at the end. A rerun skips every action with a terminal result (deleted, already
gone, applied), so none is done or recorded twice. An intent without any result means the run died
between asking AWS and writing down the answer: the rerun's plan lists what still exists, and an
in-flight snapshot that is no longer listed is recorded "deleted (settled on rerun)" without another
call; one still listed is deleted again (AWS's "not found" or "already deleting" then confirms it).
The day's JSONL is rebuilt from those records, the same lines however many runs the day took. The
plan hands each database's deletions to its mapped task in a small file,
`retention/YYYY-MM-DD/batches/<db_id>.json`, with the in-flight snapshots no longer listed.

Dry runs change nothing and write their plan and report under `retention/YYYY-MM-DD/dry-run/`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from airflow.sdk import BaseOperator

from estate_ops.hooks.ledgers import (
    ESTATE_GROUP,
    AuditWriter,
    load_records,
    record_key_result,
    record_keys,
)
from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of

SOURCE = "retention_pruning"


# --------------------------------------------------------------------------- shared helpers


def run_params(context: Any) -> dict[str, Any]:
    params = dict(context.get("params") or {})
    return {"dry_run": bool(params.get("dry_run", False)),
            "databases": (params.get("databases") or "").strip(),
            "confirm_over_cap": bool(params.get("confirm_over_cap", False))}


def plan_prefix(day: str, dry_run: bool) -> str:
    return f"retention/{day}/dry-run" if dry_run else f"retention/{day}"


def plan_key_day(key: str) -> tuple[str, bool]:
    """(day, dry_run) of a plan key `plan_prefix(day, dry_run)/plan.json`; ValueError for another key."""
    import re

    found = re.fullmatch(r"retention/(\d{4}-\d{2}-\d{2})(/dry-run)?/plan\.json", key)
    if not found:
        raise ValueError(f"{key!r} is not a retention plan's key (retention/YYYY-MM-DD[/dry-run]/plan.json)")
    return found[1], bool(found[2])


# --------------------------------------------------------------------------- plan (and gate)


class PlanRetentionPruningOperator(BaseOperator):
    """List, decide, guard, gate; write the plan. Changes nothing in AWS."""

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from concurrent.futures import ThreadPoolExecutor

        from airflow.sdk.exceptions import AirflowFailException

        from estate_ops.config import load_config
        from estate_ops.domain import retention as R
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.hooks.aws import translate_connection_errors
        from estate_ops.hooks.logs import LogGroupsHook
        from estate_ops.hooks.rds import RdsBackupsHook
        from estate_ops.hooks.s3 import BucketsHook

        plan, estate = load_config()
        params = run_params(context)
        reference = run_as_of(context)
        day = reference.date()
        try:
            policy = R.PruningPolicy.from_plan(plan)
            scope = R.select_databases([d.id for d in estate.databases], params["databases"])
        except R.RetentionInputError as exc:
            raise AirflowFailException(str(exc)) from None
        run_type = getattr(context.get("dag_run"), "run_type", "")
        manual_run = getattr(run_type, "value", run_type) == "manual"
        self.log.info("run type %s, params %s", run_type, params)
        if params["confirm_over_cap"] and not manual_run:
            self.log.warning("confirm_over_cap is honoured only in manual runs: ignored")
        confirm = params["confirm_over_cap"] and manual_run

        conn_id, region = estate.aws.conn_id, estate.aws.region
        store = ArtifactStore.for_estate(estate)
        day_text = day.isoformat()
        with translate_connection_errors(f"AWS (connection {conn_id!r})"), ThreadPoolExecutor(max_workers=8) as pool:
            rds = RdsBackupsHook(aws_conn_id=conn_id, region_name=region)
            logs = LogGroupsHook(aws_conn_id=conn_id, region_name=region)
            buckets = BucketsHook(aws_conn_id=conn_id, region_name=region)
            # The snapshot listing is one page after another (each needs the last one's Marker) and
            # waits on RDS most of the time: it starts first, and the other clients are made (about
            # 0.4 s of CPU each) and the plan's other reads go on beside it instead of before or after it.
            rds.conn  # noqa: B018 - each client made once, before the threads that share it start
            listing = pool.submit(lambda: [R.Snapshot.from_aws(item) for item in rds.iter_db_snapshots()])
            for hook in (logs, buckets):
                hook.conn  # noqa: B018
            store.client  # noqa: B018
            instances = pool.submit(rds.db_instance_ids)
            groups_read = pool.submit(lambda: [g for prefix in estate.logs.group_prefixes for g in logs.log_groups(prefix)])
            rules_read = pool.submit(buckets.lifecycle_rules, estate.logs.archive_bucket)
            earlier_read = pool.submit(_settled_today, store, day_text, scope) if not params["dry_run"] else None
            existing, listed = instances.result(), listing.result()
            groups, rules = groups_read.result(), rules_read.result()
            earlier = earlier_read.result() if earlier_read else []

        # Snapshots of databases that no longer exist are shown too (kept, with why: their final
        # snapshot, or not in estate.yaml); other systems' snapshots are only counted.
        in_scope = [s for s in listed if s.db_id in scope or (not params["databases"] and s.db_id not in existing)]
        decisions = R.plan_snapshots(in_scope, estate_db_ids=[d.id for d in estate.databases],
                                     existing_db_ids=existing, day=day, policy=policy)
        log_actions, log_groups = R.plan_log_retention(groups, policy.log_retention_days)
        lifecycle, warnings = R.plan_lifecycle(estate.logs.archive_bucket, rules, policy.log_retention_days)
        snapshot_actions = [R.snapshot_action(d) for d in decisions if d.delete]
        setting_actions = log_actions + ([lifecycle] if lifecycle else [])

        # The document guard sees every action before anything happens, in dry runs too.
        try:
            R.document_guard(snapshot_actions + setting_actions,
                             [(d.bucket, d.replica_bucket) for d in estate.documents])
        except R.DocumentGuardError as exc:
            raise AirflowFailException(str(exc)) from None

        # The day's plan: what is listed now plus what earlier runs of the day already settled
        # (`earlier`, read above), so a rerun writes the same plan and only the unfinished part is left to do.
        snapshot_entries = {d.snapshot.snapshot_id: d.as_dict() for d in decisions}
        actions = {a.action_id: a.as_dict() for a in snapshot_actions + setting_actions}
        log_entries = {g["log_group"]: g for g in log_groups}
        for obj in earlier:
            action, entry = obj["action"], obj.get("entry")
            actions.setdefault(action["action_id"], action)
            if action["kind"] == "delete_db_snapshot" and entry:
                snapshot_entries.setdefault(entry["snapshot_id"], entry)
            elif action["kind"] == "put_log_retention" and entry:
                log_entries[entry["log_group"]] = entry
        all_decisions = [_decision_from_entry(R, e) for e in snapshot_entries.values()]
        all_decisions.sort(key=lambda d: (d.snapshot.db_id, d.snapshot.created_at or dt.datetime.max.replace(
            tzinfo=dt.UTC), d.snapshot.snapshot_id))

        candidates_of = sorted({d.snapshot.db_id for d in all_decisions if d.delete})
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda db_id: _verification_status(R, store, db_id), candidates_of))
        refusals = {db_id: R.verification_refusal(db_id, status, reference, policy.verification_max_age_hours)
                    for db_id, status in zip(candidates_of, statuses, strict=True)}
        done = {obj["action"]["target"] for obj in earlier
                if obj["settled"] and obj["action"]["kind"] == "delete_db_snapshot"}
        result = R.gate(all_decisions, refusals, policy, confirm_over_cap=confirm, done=done)

        plan_doc = {
            "kind": "retention_plan",
            "day": day_text,
            "dry_run": params["dry_run"],
            "scope": {"databases": scope, "filter": params["databases"] or None},
            "policy": policy.as_dict(),
            "cutoff": R.cutoff_for(day, policy.retention_days),
            "snapshots": [d.as_dict() for d in all_decisions],
            "log_groups": [log_entries[k] for k in sorted(log_entries)],
            "actions": [actions[k] for k in sorted(actions)],
            "gate": result.as_dict(),
            "warnings": warnings,
            # Counts of the day, not of this listing: snapshots deleted by an earlier run of the day
            # still count, so a rerun writes the same plan.
            "inputs": {"snapshots_in_scope": len(all_decisions), "snapshots_outside_scope": len(listed) - len(in_scope),
                       "db_instances": len(existing), "log_groups": len(log_entries)},
        }
        key = f"{plan_prefix(day_text, params['dry_run'])}/plan.json"
        to_delete = [] if params["dry_run"] else sorted(
            db for db, ds in result.approved.items() if any(d.snapshot.snapshot_id not in done for d in ds))
        self.log.info("plan %s: %d candidate(s), %d protected, refused %s, cap %s, databases to act on %s",
                      key, sum(d.delete for d in all_decisions), sum(not d.delete for d in all_decisions),
                      sorted(result.refused), result.cap_breaches or "ok", to_delete)
        # Each database's deletions go to their own small file: a mapped task reads its share,
        # not a plan of 10,000 snapshots.
        listed_ids = {s.snapshot_id for s in listed}
        in_flight = {obj["action"]["target"] for obj in earlier
                     if not obj["answered"] and obj["action"]["kind"] == "delete_db_snapshot"}
        writes = {key: plan_doc}
        batches = []
        for db in to_delete:
            ids = set(plan_doc["gate"]["approved"][db])
            batch_key = f"retention/{day_text}/batches/{db}.json"
            writes[batch_key] = {
                "day": day_text, "db_id": db, "plan_key": key,
                "actions": [a for a in plan_doc["actions"] if a["kind"] == "delete_db_snapshot" and a["target"] in ids],
                "entries": {sid: snapshot_entries[sid] for sid in sorted(ids)},
                "gone_in_flight": sorted((ids & in_flight) - listed_ids),
            }
            batches.append({"db_id": db, "batch_key": batch_key})
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda item: store.put_json(*item), writes.items()))
        context["ti"].xcom_push(key="plan_key", value=key)
        return group_batches(batches, {db: len(plan_doc["gate"]["approved"][db]) for db in to_delete})


def _settled_today(store: Any, day: str, scope: list[str]) -> list[dict[str, Any]]:
    """The day's actions an earlier run finished or was in the middle of, as {action, entry}.

    A finished action keeps its place in the day's plan although its snapshot is gone; an intent
    without a result (the run died right after asking AWS) is planned again so the rerun settles it.
    """
    from estate_ops.domain.retention import TERMINAL_RESULTS

    objects = load_records(store, day, [*scope, ESTATE_GROUP])
    terminal = {k for k in objects if record_key_result(k)[1] in TERMINAL_RESULTS}
    settled = {record_key_result(k)[0] for k in terminal}
    intents = {k for k in objects if record_key_result(k)[1] == "started" and record_key_result(k)[0] not in settled}
    answered = {record_key_result(k)[0] for k in objects if record_key_result(k)[1] != "started"}
    return [{"action": o.get("action") or o["intent"], "entry": o.get("entry"), "settled": k in terminal,
             "answered": record_key_result(k)[0] in answered}
            for k, o in objects.items() if k in terminal or k in intents]


def _decision_from_entry(R: Any, entry: dict[str, Any]):
    return R.SnapshotDecision(R.Snapshot.from_dict(entry), entry["action"] == "delete", tuple(entry["reasons"]),
                              entry["why"])


def _verification_status(R: Any, store: Any, db_id: str):
    key = f"backups/status/{db_id}.json"
    try:
        data = store.get_json(key)
    except KeyError:
        return None
    except json.JSONDecodeError as exc:
        return f"s3://{store.bucket}/{key}: not JSON ({exc})"
    try:
        return R.parse_verification_status(db_id, data, f"s3://{store.bucket}/{key}")
    except R.RetentionInputError as exc:
        return str(exc)


# --------------------------------------------------------------------------- act


class _ActOnPlan(BaseOperator):
    """Shared by the two acting operators: read the plan, find what is still to do."""

    def _load(self, context: Any, plan_key: str):
        from estate_ops.config import load_config
        from estate_ops.hooks.artifacts import ArtifactStore

        plan, estate = load_config()
        store = ArtifactStore.for_estate(estate)
        return plan, estate, store, store.get_json(plan_key)

    def _writer(self, context: Any, store: Any, day: str, group: str) -> AuditWriter:
        ti = context["ti"]
        return AuditWriter(store, day, group, context["run_id"], int(getattr(ti, "try_number", 1) or 1))


# How the deletions are spread: at most PRUNE_TASKS mapped tasks, each deleting PRUNE_THREADS databases
# at a time, one thread per database and one call at a time per database; the DAG gives each task
# PRUNE_THREADS slots of the rds_api pool (12, include/pools.json). One task of 6: the deletions are
# bound by RDS's side (its ~12 requests/s account throttle on AWS; the sandbox's one server process),
# and 1x3 ... 2x6 callers measured the same wall time at 20 x 500 (bench/pruning.py); each further task
# costs a worker's process start (~2 s of CPU importing Airflow, competing with the deletions on a busy
# worker) and a client of its own, whose adaptive rate limiter would not see the other's throttling;
# 6 slots leave half the pool to backup verification and drills.
PRUNE_TASKS = 1
PRUNE_THREADS = 6


def group_batches(batches: list[dict[str, Any]], sizes: dict[str, int], tasks: int = PRUNE_TASKS) -> list[dict[str, Any]]:
    """Databases' batches in at most `tasks` groups of about equal deletions (largest first)."""
    groups: list[list[dict[str, Any]]] = [[] for _ in range(min(tasks, len(batches)))]
    load = [0] * len(groups)
    for b in sorted(batches, key=lambda b: (-sizes[b["db_id"]], b["db_id"])):
        i = load.index(min(load))
        groups[i].append(b)
        load[i] += sizes[b["db_id"]]
    return [{"databases": sorted(g, key=lambda b: b["db_id"])} for g in groups if g]


def _read_batch(store: Any, item: dict[str, Any]) -> dict[str, Any]:
    """The plan's file of one database's deletions (`item`: {db_id, batch_key}), checked to be its own."""
    db_id = item["db_id"]
    batch = store.get_json(item["batch_key"])
    if batch["db_id"] != db_id or any(a["db_id"] != db_id for a in batch["actions"]):
        raise RuntimeError(f"{item['batch_key']} is not a batch of {db_id}: nothing deleted")
    return batch


class PruneRdsSnapshotsOperator(_ActOnPlan):
    """Delete the approved snapshots of a group of databases, `threads` databases at a time: per
    database the batch's intents in one object before its calls, the results in bundles (every
    `flush_every` or `flush_seconds`, and at the end)."""

    template_fields = ("batch",)

    def __init__(self, *, batch: dict[str, Any], threads: int = PRUNE_THREADS, intent_batch: int = 500,
                 flush_every: int = 500, flush_seconds: float = 30.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.threads = threads
        self.intent_batch, self.flush_every, self.flush_seconds = intent_batch, flush_every, flush_seconds

    def execute(self, context: Any) -> dict[str, Any]:
        from concurrent.futures import ThreadPoolExecutor

        from estate_ops.config import load_config
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.hooks.aws import translate_connection_errors
        from estate_ops.hooks.rds import RdsBackupsHook

        # {"databases": [{db_id, batch_key}, ...]}, or one database's {db_id, batch_key}
        items = self.batch.get("databases", [self.batch])
        estate = load_config()[1]
        store = ArtifactStore.for_estate(estate)
        rds = RdsBackupsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        with translate_connection_errors(f"AWS (connection {estate.aws.conn_id!r})"), \
                ThreadPoolExecutor(max_workers=max(1, min(self.threads, len(items)))) as pool:
            store.client  # noqa: B018 - each client made once, before the threads that share it
            reads = pool.map(lambda item: _read_batch(store, item), items)
            rds.conn  # noqa: B018 - made while the threads read their batches
            batches = list(reads)
            summaries = list(pool.map(lambda batch: self._prune_database(context, store, rds, batch), batches))
        if "databases" not in self.batch:
            return summaries[0]
        total = {k: sum(s[k] for s in summaries) for k in summaries[0] if k != "db_id"}
        return {"db_ids": [s["db_id"] for s in summaries], **total, "databases": summaries}

    def _prune_database(self, context: Any, store: Any, rds: Any, batch: dict[str, Any]) -> dict[str, Any]:
        db_id = batch["db_id"]
        writer = self._writer(context, store, batch["day"], db_id)
        writer.flush_every, writer.flush_seconds = self.flush_every, self.flush_seconds
        try:
            summary = self._prune(store, rds, writer, batch)
        finally:
            writer.flush()  # what was answered is written down, whatever stopped the loop
        self.log.info("%s: %s", db_id, summary)
        return summary

    def _prune(self, store: Any, rds: Any, writer: AuditWriter, batch: dict[str, Any]) -> dict[str, Any]:
        from estate_ops.domain import retention as R

        db_id, day, actions, entries = batch["db_id"], batch["day"], batch["actions"], batch["entries"]
        records = load_records(store, day, [db_id])
        done = {record_key_result(k)[0] for k in records if record_key_result(k)[1] in R.TERMINAL_RESULTS}
        intents = {record_key_result(k)[0] for k in records if record_key_result(k)[1] == "started"}
        # In flight when an earlier run died (an intent, no result) and no longer listed by this run's
        # plan: that run's DeleteDBSnapshot went through. Recorded without asking AWS again.
        gone = set(batch.get("gone_in_flight", []))
        todo = [a for a in actions if a["action_id"] not in done]
        summary = {"db_id": db_id, "planned": len(actions), "done_before": len(actions) - len(todo),
                   "deleted": 0, "already_gone": 0, "failed": 0, "not_attempted": 0, "settled_on_rerun": 0}
        self.log.info("%s: %d approved, %d already settled by an earlier run, %d to delete",
                      db_id, len(actions), summary["done_before"], len(todo))
        stop_reason = None
        for start in range(0, len(todo), self.intent_batch):
            chunk = todo[start:start + self.intent_batch]
            if not stop_reason:
                writer.write_intents([(a, entries.get(a["target"])) for a in chunk
                                      if a["action_id"] not in intents])
            for action in chunk:
                entry = entries.get(action["target"])
                resumed = action["action_id"] in intents
                if resumed and action["target"] in gone:
                    writer.write(action, entry, R.RESULT_DELETED,
                                 "deleted (settled on rerun): DeleteDBSnapshot was sent by an earlier attempt of "
                                 "this day, which died before writing its answer; the snapshot is no longer listed")
                    summary["deleted"] += 1
                    summary["settled_on_rerun"] += 1
                    continue
                if stop_reason:
                    writer.write(action, entry, "not_attempted", stop_reason)
                    summary["not_attempted"] += 1
                    continue
                outcome, detail = rds.delete_manual_snapshot(action["target"])
                if outcome == R.RESULT_ALREADY_GONE and resumed:
                    outcome, detail = R.RESULT_DELETED, (f"confirmed on rerun: DeleteDBSnapshot was sent by an "
                                                         f"earlier attempt of this day ({detail})")
                writer.write(action, entry, outcome, detail)
                summary[outcome] += 1
                if outcome == R.RESULT_FAILED:
                    self.log.error("%s: %s", action["target"], detail)
                    # Denied or still throttled after every adaptive retry: the next call would be
                    # too, so stop this database here (a rerun picks the rest up).
                    if detail.startswith("access denied") or "Throttl" in detail:
                        stop_reason = f"not attempted: stopped after {action['target']} failed ({detail})"
        return summary


class ApplyRetentionSettingsOperator(_ActOnPlan):
    """Log-group retention and the log archive's lifecycle rule, as the plan says (never in a dry run)."""

    template_fields = ("plan_key",)

    def __init__(self, *, plan_key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan_key = plan_key

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.domain import retention as R
        from estate_ops.hooks.aws import translate_connection_errors
        from estate_ops.hooks.logs import LogGroupsHook
        from estate_ops.hooks.s3 import BucketsHook

        _plan, estate, store, plan_doc = self._load(context, self.plan_key)
        if plan_doc.get("dry_run"):
            self.log.info("dry run: no setting changed")
            return {"applied": 0, "dry_run": True}
        day = plan_doc["day"]
        keys = record_keys(store, day, ESTATE_GROUP)
        done = {record_key_result(k)[0] for k in keys if record_key_result(k)[1] in R.TERMINAL_RESULTS}
        todo = [a for a in plan_doc["actions"] if a["kind"] in ("put_log_retention", "ensure_bucket_lifecycle")
                and a["action_id"] not in done]
        entries = {g["log_group"]: g for g in plan_doc["log_groups"]}
        writer = self._writer(context, store, day, ESTATE_GROUP)
        counts = {"applied": 0, "already_gone": 0, "failed": 0}
        with translate_connection_errors(f"AWS (connection {estate.aws.conn_id!r})"):
            logs = LogGroupsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
            buckets = BucketsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
            for action in todo:
                if action["kind"] == "put_log_retention":
                    outcome, detail = logs.put_retention_policy(action["target"], action["details"]["to"])
                    entry = entries.get(action["target"])
                else:
                    outcome, detail = buckets.put_lifecycle_rules(action["target"], action["details"]["rules"])
                    entry = None
                writer.write(action, entry, outcome, detail)
                counts[outcome] += 1
        writer.write_summary()
        return counts


# --------------------------------------------------------------------------- report


class PublishRetentionReportOperator(ReportPublisher, BaseOperator):
    """Rebuild the day's audit JSONL, publish the report, route refusals and failures, post once."""

    template_fields = ("plan_key",)

    def __init__(self, *, plan_key: str, plan_task_id: str, act_task_ids: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan_key = plan_key
        self.plan_task_id = plan_task_id
        self.act_task_ids = act_task_ids

    def _unfinished_upstream(self, context: Any) -> list[str]:
        """Acting tasks that did not finish (a crash, a kill): their results so far are reported, and
        the run must still fail so that a person reruns it."""
        ti = context["ti"]
        batches = ti.xcom_pull(task_ids=self.plan_task_id) or []
        missing = []
        for task_id in self.act_task_ids:
            returned = ti.xcom_pull(task_ids=task_id)
            if task_id.startswith("delete"):
                done = [r for r in (list(returned) if returned is not None else []) if r]
                if len(done) < len(batches):
                    missing.append(f"{task_id} ({len(batches) - len(done)} of {len(batches)} database(s) unfinished)")
            elif returned is None:
                missing.append(task_id)
        return missing

    def execute(self, context: Any) -> dict[str, Any]:
        from concurrent.futures import ThreadPoolExecutor

        from airflow.sdk.exceptions import AirflowFailException

        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain import retention as R
        from estate_ops.domain.findings import Finding, sort_findings
        from estate_ops.domain.serialize import canonical_json
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.reports import render
        from estate_ops.reports.publish import write_run_manifest

        if not self.plan_key or self.plan_key == "None":
            raise AirflowFailException("no plan was written (the plan task failed, see its log): nothing was "
                                       "changed and there is nothing to report")
        plan, estate = load_config()
        store = ArtifactStore.for_estate(estate)
        try:
            day, dry_run = plan_key_day(self.plan_key)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None
        render.load_printer_in_background()
        store.client  # noqa: B018 - one client, made before the threads that share it
        with ThreadPoolExecutor(max_workers=2) as pool:  # the 10 MB plan and the day's results side by side
            plan_read = pool.submit(store.get_json, self.plan_key)
            objects = {} if dry_run else load_records(store, day, results_only=True)
            plan_doc = plan_read.result()
        if (plan_doc["day"], plan_doc["dry_run"]) != (day, dry_run):
            raise AirflowFailException(f"{self.plan_key} is the plan of {plan_doc['day']} (dry run "
                                       f"{plan_doc['dry_run']}), not what its key says: nothing reported")
        records = [o["record"] for o in objects.values()]
        keys: list[str] = []
        if not dry_run:
            audit_key = f"retention/audit/{day}.jsonl"
            store.put_bytes(audit_key, R.audit_jsonl(records))
            keys.append(audit_key)

        findings = []
        gate_doc = plan_doc["gate"]
        for db_id, why in gate_doc["refused"].items():
            findings.append(Finding.of(plan, "pruning_refused", db_id, f"snapshots of {db_id} not pruned: {why}",
                                       day, reason="verification"))
        if gate_doc["held_by_cap"]:
            findings.append(Finding.of(plan, "pruning_refused", "caps",
                                       "nothing deleted: " + "; ".join(gate_doc["cap_breaches"])
                                       + " (a manual run with confirm_over_cap proceeds)", day,
                                       reason="cap", breaches=gate_doc["cap_breaches"]))
        report = R.build_report(plan_doc, records, [], plan_version=plan.plan.version,
                                estate_name=estate.estate.name)
        for row in report["items"]["failed"]:
            findings.append(Finding.of(plan, "pruning_action_failed", row["target"],
                                       f"{row['kind']} {row['target']} failed: {row['detail']}", day))
        findings = sort_findings(findings)
        report["findings"] = [f.as_dict() for f in findings]
        if dry_run:
            report["title"] += " (dry run: nothing changed)"
        prefix = plan_prefix(day, dry_run)
        keys += self.publish_report(context, store, prefix, report)
        keys.append(self.plan_key)
        router = SeverityRouter(plan, estate, store)
        routed = [] if dry_run else router.route(findings, source=SOURCE)
        # One Slack summary per distinct outcome of the day: a rerun that changes nothing is silent,
        # a later run that deletes what an earlier one was refused is announced.
        digest = hashlib.sha256(canonical_json(report)).hexdigest()[:12]
        posted = router.post_slack_once(f"{SOURCE}/{day}{'/dry-run' if dry_run else ''}/{digest}",
                                        R.slack_summary(report, dry_run=dry_run))
        if not dry_run:
            write_run_manifest(store, SOURCE, day, keys, report["headline"],
                               status="failed" if report["items"]["failed"] else "ok")
        failed = report["items"]["failed"]
        unfinished = self._unfinished_upstream(context)
        if unfinished:
            raise AirflowFailException(f"report published from what was recorded, but {', '.join(unfinished)} did "
                                       "not finish: rerun the DAG for this day to finish (nothing is repeated)")
        if failed:
            raise AirflowFailException(
                f"{len(failed)} pruning action(s) failed and are recorded as failed in "
                f"retention/audit/{day}.jsonl: " + "; ".join(f"{r['target']}: {r['detail']}" for r in failed[:5]))
        return {"artifacts": keys, "routed": routed, "slack_posted": posted,
                "deleted": report["headline"]["snapshots_deleted"]["value"]}
