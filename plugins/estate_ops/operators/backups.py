"""Publishing backup verification and restore drills: reports, per-database status, alerts.

- `PublishBackupVerificationOperator` gathers every mapped verify task's verdict and writes
  `backups/YYYY-MM-DD/verification.{json,html}`, `backups/status/<db_id>.json` (read by
  `retention_pruning` before it deletes anything) and the run manifest, then routes findings
  (P0/P1 page, P2/P3 one Slack message). A resource whose verify task failed is "not verified":
  a finding, and its status is not green.
- `PublishRestoreDrillOperator` gathers each database's drill steps (times, results, the error
  of a failed step) and writes `backups/drills/YYYY-MM-DD/databases/<db_id>.json` and the day's
  `backups/drills/YYYY-MM-DD/drill.{json,html}`, then routes findings.

Both run with trigger rule all_done: a failed resource or step is reported, never silently lost.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher

STATUS_PREFIX = "backups/status/"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    return [v for v in value if v is not None]


class PublishBackupVerificationOperator(ReportPublisher, BaseOperator):
    def __init__(self, *, verify_task_ids: list[str], **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.verify_task_ids = verify_task_ids

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.backups import (
            Verdict,
            build_verification_report,
            not_verified,
        )
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.operators import run_as_of
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        as_of = run_as_of(context)
        day = as_of.date()
        ti = context["ti"]
        verdicts = [Verdict.from_dict(v) for task_id in self.verify_task_ids
                    for v in _as_list(ti.xcom_pull(task_ids=task_id))]
        seen = {(v.area, v.resource) for v in verdicts}
        expected = [("database", db.id) for db in estate.databases]
        expected += [("documents", d.bucket) for d in estate.documents]
        expected += [("logs", p) for p in estate.logs.group_prefixes] + [("logs", estate.logs.archive_bucket)]
        unverified = [f"{area} {resource}" for area, resource in expected if (area, resource) not in seen]
        for area, resource in expected:
            if (area, resource) not in seen:
                verdicts.append(not_verified(plan, area, resource, day,
                                             "its verification task failed (see the task log)"))
        result = build_verification_report(plan, estate.estate.name, day, as_of, verdicts)
        store = ArtifactStore.for_estate(estate)
        keys = self.publish_report(context, store, f"backups/{day.isoformat()}", result.report, name="verification", pdf=False)
        for db_id, status in sorted(result.statuses.items()):
            key = f"{STATUS_PREFIX}{db_id}.json"
            store.put_json(key, status)
            keys.append(key)
        routed = SeverityRouter(plan, estate, store).route(result.findings, source=self.dag_id)
        write_run_manifest(store, self.dag_id, day.isoformat(), keys, result.report["headline"],
                           status="failed" if unverified else
                           "ok" if result.report["headline"]["status"]["value"] == "green" else "findings")
        if unverified:
            # Everything is written and routed; the run must still show it did not verify everything.
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"not verified (their tasks failed): {', '.join(unverified)}")
        return {"artifacts": keys, "findings": len(result.findings), "routed": routed}


class PublishRestoreDrillOperator(ReportPublisher, BaseOperator):
    """Collects the drill task group's steps per map index (= per database of the plan task)."""

    STEP_TASKS: ClassVar[dict[str, str]] = {"restore": "restore_scratch", "wait": "wait_available", "verify": "verify_data",
                  "teardown": "delete_scratch"}

    def __init__(self, *, plan_task_id: str, group_id: str, tolerance_percent: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.plan_task_id = plan_task_id
        self.group_id = group_id
        self.tolerance_percent = tolerance_percent

    template_fields = ("tolerance_percent",)

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.drill import (
            DEFAULT_ROW_COUNT_TOLERANCE_PERCENT,
            DrillOutcome,
            build_drill_report,
            evaluate_drill,
            parse_tolerance,
        )
        from estate_ops.domain.findings import Finding
        from estate_ops.hooks.artifacts import ArtifactStore
        from estate_ops.operators import run_as_of
        from estate_ops.reports.publish import write_run_manifest

        plan, estate = load_config()
        as_of = run_as_of(context)
        day = as_of.date()
        tolerance = parse_tolerance(self.tolerance_percent) if self.tolerance_percent not in (None, "") \
            else DEFAULT_ROW_COUNT_TOLERANCE_PERCENT
        ti = context["ti"]
        targets = ti.xcom_pull(task_ids=self.plan_task_id)
        if targets is None:  # the plan step failed (bad form input, bad estate): nothing was drilled
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"no drill ran: task {self.plan_task_id} failed (see its log)")
        store = ArtifactStore.for_estate(estate)
        prefix = f"backups/drills/{day.isoformat()}"
        keys: list[str] = []
        findings: list[Finding] = []
        for index, target in enumerate(targets):
            steps = {step: self._pull(ti, task, index) for step, task in self.STEP_TASKS.items()}
            errors = {step: self._pull(ti, task, index, key="error") for step, task in self.STEP_TASKS.items()}
            outcome = DrillOutcome(db_id=target["db_id"], scratch_id=target["scratch_id"])
            restore, wait, verify, teardown = (steps[s] or {} for s in ("restore", "wait", "verify", "teardown"))
            outcome.requested_at = _time(restore.get("requested_at"))
            outcome.target_time = _time(restore.get("target_time"))
            outcome.source_counts = restore.get("source_counts") or {}
            outcome.available_at = _time(wait.get("available_at"))
            outcome.verified_at = _time(verify.get("verified_at"))
            outcome.restored_counts = verify.get("restored_counts") or {}
            outcome.newest_updated_at = _time(verify.get("newest_updated_at"))
            outcome.deleted_at = _time(teardown.get("deleted_at"))
            for step in self.STEP_TASKS:  # in drill order
                if errors[step]:
                    outcome.errors[step] = str(errors[step])
                elif steps[step] is None and (step == "teardown" or not outcome.errors):
                    # Skipped after an earlier failure is not a second failure; a teardown
                    # without a result may have left the instance behind, so it always counts.
                    outcome.errors[step] = "the task did not finish (see its log)"
            figures, db_findings = evaluate_drill(plan, outcome, as_of, day, tolerance)
            figures["findings"] = [f.as_dict() for f in db_findings]
            key = f"{prefix}/databases/{target['db_id']}.json"
            store.put_json(key, figures)
            keys.append(key)
            findings.extend(db_findings)
        # The day's report covers every database drilled that day (a manual drill of one database
        # later the same day adds to it, never erases the others).
        drills = [store.get_json(k) for k in store.list_keys(f"{prefix}/databases/") if k.endswith(".json")]
        all_findings = [Finding(f["kind"], f["severity"], f["resource"], f["summary"], f["period"],
                                dict(f.get("details") or {})) for d in drills for f in d.get("findings", [])]
        report = build_drill_report(plan, estate.estate.name, day, drills, all_findings)
        keys += self.publish_report(context, store, prefix, report, name="drill", pdf=False)
        routed = SeverityRouter(plan, estate, store).route(findings, source=self.dag_id)
        failed = sorted(f.details.get("db_id", f.resource) for f in findings if f.kind == "restore_drill_failed")
        write_run_manifest(store, self.dag_id, day.isoformat(), keys, report["headline"],
                           status="failed" if failed else "ok" if not findings else "findings")
        if failed:
            # Written and routed; the run must still fail, or a drill that never verified looks green.
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"restore drill failed for {', '.join(sorted(set(failed)))}: see "
                                       f"{prefix}/drill.json")
        return {"artifacts": keys, "findings": len(findings), "routed": routed}

    def _pull(self, ti: Any, task: str, index: int, key: str = "return_value") -> Any:
        value = ti.xcom_pull(task_ids=f"{self.group_id}.{task}", map_indexes=index, key=key)
        if isinstance(value, list):  # some Airflow versions wrap a single map index in a list
            value = value[0] if value else None
        return value


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(str(value)).astimezone(dt.UTC)
