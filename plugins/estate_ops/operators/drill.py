"""The restore drill (plan §4.2, RPO < 1 h, RTO < 4 h): plan, sweep leftovers, restore a scratch
instance, wait, verify its data, delete it, and publish what was measured.

Thin: hook calls -> domain decision. Each step returns plain JSON-able data through XCom;
`PublishRestoreDrillOperator` turns the steps into the drill report, statuses and alerts.

Drill steps record their failure as the XCom `error` before raising, so the drill report can say
which step failed and why, while Airflow still sees the task fail (and teardown still runs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from estate_ops.links import ReportPublisher
from estate_ops.operators import run_as_of

UTC = dt.UTC


class DrillStepError(RuntimeError):
    """A drill step failed; the message says which database, which step and why."""


class _DrillStep(BaseOperator):
    """Shared by the drill steps: the target dict, and the error recorded before raising."""

    template_fields = ("target",)
    step = "?"

    def __init__(self, *, target: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    def execute(self, context: Any) -> Any:
        try:
            return self.run(context)
        except Exception as exc:
            context["ti"].xcom_push(key="error", value=f"{type(exc).__name__}: {exc}"[:2000])
            raise

    def run(self, context: Any) -> Any:  # pragma: no cover - each step defines it
        raise NotImplementedError

    def rds_hook(self):
        from estate_ops.config import load_config
        from estate_ops.hooks.rds import RdsBackupsHook

        _plan, estate = load_config()
        return RdsBackupsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)


class PlanRestoreDrillOperator(BaseOperator):
    """Which databases to drill (all of estate.yaml, or the one picked in the form), each with
    its unique scratch instance id. An unknown database id fails here, before anything exists."""

    template_fields = ("database", "tolerance_percent")

    def __init__(self, *, database: str = "all", tolerance_percent: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.tolerance_percent = tolerance_percent

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from estate_ops.config import load_config
        from estate_ops.domain.drill import (
            DrillInputError,
            parse_tolerance,
            scratch_instance_id,
        )

        _plan, estate = load_config()
        if self.tolerance_percent not in (None, ""):
            parse_tolerance(self.tolerance_percent)  # a bad form value fails here, before any restore
        wanted = (self.database or "all").strip()
        known = [db.id for db in estate.databases]
        if wanted != "all" and wanted not in known:
            raise DrillInputError(f"database {wanted!r} is not in estate.yaml databases; expected one of {known} "
                                  "or 'all'")
        as_of = run_as_of(context)
        run_tag = context["run_id"]
        return [{"db_id": db.id, "scratch_id": scratch_instance_id(db.id, as_of), "conn_id": db.drill_conn_id,
                 "subnet_group": db.drill_subnet_group, "run_tag": run_tag[:256]}
                for db in estate.databases if wanted in ("all", db.id)]


class SweepLeftoverDrillInstancesOperator(BaseOperator):
    """Delete drill instances left by earlier runs that crashed before their teardown: found by
    their drill tag (and scratch name), never anything else."""

    def execute(self, context: Any) -> list[str]:
        from estate_ops.config import load_config
        from estate_ops.domain.drill import leftover_drill_instances
        from estate_ops.hooks.rds import RdsBackupsHook

        _plan, estate = load_config()
        hook = RdsBackupsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        leftovers = leftover_drill_instances(hook.describe_instances(), context["run_id"][:256])
        for scratch_id in leftovers:
            outcome = hook.delete_scratch_instance(scratch_id)
            self.log.warning("deleted leftover drill instance %s (%s)", scratch_id, outcome)
        return leftovers


class RestoreScratchInstanceOperator(_DrillStep):
    """Setup: record the source's row counts and restore it to its latest restorable time into a
    private, drill-tagged scratch instance."""

    step = "restore"

    def __init__(self, *, sql_path: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sql_path = sql_path

    def run(self, context: Any) -> dict[str, Any]:
        from estate_ops.domain.drill import (
            DRILL_RUN_TAG_KEY,
            DRILL_SOURCE_TAG_KEY,
            DRILL_TAG_KEY,
            DRILL_TAG_VALUE,
            read_table_counts,
        )
        from estate_ops.hooks.connections import require_connection
        from estate_ops.hooks.rds import RestoredDatabaseHook

        target = self.target
        db_id = target["db_id"]
        require_connection(target["conn_id"], f"databases[{db_id}].drill_conn_id")
        queries = load_restore_checks(self.sql_path)
        hook = self.rds_hook()
        source = hook.describe_instance(db_id)
        if source is None:
            raise DrillStepError(f"database {db_id} named in estate.yaml does not exist: nothing to restore")
        target_time = source.get("LatestRestorableTime")
        if target_time is None:
            raise DrillStepError(f"database {db_id} has no LatestRestorableTime: automated backups are off")
        endpoint = source.get("Endpoint") or {}
        counts_rows = RestoredDatabaseHook(target["conn_id"], endpoint.get("Address"), endpoint.get("Port", 5432),
                                           source.get("DBName")).run_queries({"table_counts": queries["table_counts"]})
        source_counts = read_table_counts(counts_rows["table_counts"])
        tags = [{"Key": DRILL_TAG_KEY, "Value": DRILL_TAG_VALUE},
                {"Key": DRILL_RUN_TAG_KEY, "Value": target["run_tag"]},
                {"Key": DRILL_SOURCE_TAG_KEY, "Value": db_id}]
        requested_at = dt.datetime.now(UTC)
        restored = hook.restore_scratch_instance(
            source_id=db_id, scratch_id=target["scratch_id"], restore_time=target_time,
            subnet_group=target["subnet_group"], instance_class=source.get("DBInstanceClass"), tags=tags)
        self.log.info("restore of %s to %s requested as %s (status %s)", db_id, target_time,
                      target["scratch_id"], restored.get("DBInstanceStatus"))
        return {"requested_at": requested_at.isoformat(), "target_time": target_time.astimezone(UTC).isoformat(),
                "source_counts": source_counts}


class WaitForScratchInstanceOperator(_DrillStep):
    """Until the scratch instance is available: the RDS `db_instance_available` waiter, run by the
    triggerer (deferrable), so a four-hour restore holds no worker slot. Times out at the RTO."""

    step = "wait"

    def __init__(self, *, deferrable: bool = True, waiter_delay: int = 30, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay

    def run(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config

        plan, estate = load_config()
        hook = self.rds_hook()
        instance = hook.describe_instance(self.target["scratch_id"])
        if instance is None:
            raise DrillStepError(f"scratch instance {self.target['scratch_id']} does not exist")
        if instance.get("DBInstanceStatus") == "available":
            return self._available(instance)
        attempts = max(1, plan.recovery.rto_minutes * 60 // self.waiter_delay)
        if not self.deferrable:
            hook.wait_for_db_instance_state(self.target["scratch_id"], "available", check_interval=self.waiter_delay,
                                            max_attempts=attempts)
            return self._available(hook.describe_instance(self.target["scratch_id"]))
        from airflow.providers.amazon.aws.triggers.rds import RdsDbAvailableTrigger

        self.defer(
            trigger=RdsDbAvailableTrigger(db_identifier=self.target["scratch_id"], waiter_delay=self.waiter_delay,
                                          waiter_max_attempts=attempts, aws_conn_id=estate.aws.conn_id,
                                          region_name=estate.aws.region, response={}, db_type="instance"),
            method_name="execute_complete",
            timeout=dt.timedelta(minutes=plan.recovery.rto_minutes),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            if (event or {}).get("status") not in (None, "success"):
                raise DrillStepError(f"scratch instance {self.target['scratch_id']} did not become available: {event}")
            return self._available(self.rds_hook().describe_instance(self.target["scratch_id"]))
        except Exception as exc:
            context["ti"].xcom_push(key="error", value=f"{type(exc).__name__}: {exc}"[:2000])
            raise

    def _available(self, instance: dict[str, Any] | None) -> dict[str, Any]:
        if instance is None:
            raise DrillStepError(f"scratch instance {self.target['scratch_id']} vanished while restoring")
        endpoint = instance.get("Endpoint") or {}
        if not endpoint.get("Address"):
            raise DrillStepError(f"scratch instance {self.target['scratch_id']} is available but has no endpoint")
        if instance.get("PubliclyAccessible"):
            raise DrillStepError(f"scratch instance {self.target['scratch_id']} is publicly accessible: refusing to "
                                 "connect; teardown deletes it")
        return {"available_at": dt.datetime.now(UTC).isoformat(), "address": endpoint["Address"],
                "port": int(endpoint.get("Port") or 5432), "dbname": instance.get("DBName")}


class VerifyRestoredDataOperator(_DrillStep):
    """Run include/sql/restore_checks.sql on the scratch instance: tables, row counts, newest
    updated_at. Records when the data was verified (the end of the measured RTO)."""

    step = "verify"
    template_fields = ("target", "endpoint")

    def __init__(self, *, endpoint: Any, sql_path: str | None = None, statement_timeout_seconds: int = 300,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.sql_path = sql_path
        self.statement_timeout_seconds = statement_timeout_seconds

    def run(self, context: Any) -> dict[str, Any]:
        from estate_ops.domain.drill import read_newest_updated_at, read_table_counts
        from estate_ops.hooks.connections import require_connection
        from estate_ops.hooks.rds import RestoredDatabaseHook

        require_connection(self.target["conn_id"], f"databases[{self.target['db_id']}].drill_conn_id")
        queries = load_restore_checks(self.sql_path)
        hook = RestoredDatabaseHook(self.target["conn_id"], self.endpoint["address"], self.endpoint["port"],
                                    self.endpoint.get("dbname"),
                                    statement_timeout_seconds=self.statement_timeout_seconds)
        rows = hook.run_queries({name: queries[name] for name in ("table_counts", "newest_updated_at")})
        counts = read_table_counts(rows["table_counts"])
        newest = read_newest_updated_at(rows["newest_updated_at"])
        verified_at = dt.datetime.now(UTC)
        self.log.info("%s: %d tables, newest updated_at %s", self.target["scratch_id"], len(counts), newest)
        return {"verified_at": verified_at.isoformat(), "restored_counts": counts,
                "newest_updated_at": newest.isoformat() if newest else None}


class DeleteScratchInstanceOperator(_DrillStep):
    """Teardown: delete the scratch instance without a final snapshot, whatever happened before.
    Refuses to delete anything that is not tagged and named as a drill instance."""

    step = "teardown"

    def run(self, context: Any) -> dict[str, Any]:
        from estate_ops.domain.drill import is_drill_instance

        hook = self.rds_hook()
        scratch_id = self.target["scratch_id"]
        instance = hook.describe_instance(scratch_id)
        if instance is None:
            outcome = "gone"
        elif not is_drill_instance(instance):
            raise DrillStepError(f"{scratch_id} exists but is not tagged as a restore drill: not deleting it")
        else:
            outcome = hook.delete_scratch_instance(scratch_id)
        self.log.info("teardown of %s: %s", scratch_id, outcome)
        return {"deleted_at": dt.datetime.now(UTC).isoformat(), "outcome": outcome}


def load_restore_checks(sql_path: str | None = None) -> dict[str, str]:
    """The named queries of include/sql/restore_checks.sql (or `sql_path`)."""
    from pathlib import Path

    from estate_ops.config import PROJECT_ROOT
    from estate_ops.domain.drill import DrillInputError, parse_named_queries

    path = Path(sql_path) if sql_path else PROJECT_ROOT / "include" / "sql" / "restore_checks.sql"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DrillInputError(f"{path}: cannot read the restore checks ({exc.strerror})") from None
    return parse_named_queries(text, str(path))


def estate_database_ids() -> list[str]:
    """The database ids of estate.yaml for the drill form's suggestions, read cheaply at parse time
    (no validation: a bad file fails the run's plan step with the full error, not the parse)."""
    import os
    from pathlib import Path

    import yaml

    # estate_ops.config's path rule, without importing its pydantic models at parse time.
    path = Path(os.environ.get("ESTATE_OPS_ESTATE") or Path(__file__).resolve().parents[3] / "include" / "estate.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return [str(db["id"]) for db in data.get("databases") or [] if isinstance(db, dict) and "id" in db]
    except (OSError, yaml.YAMLError, AttributeError, TypeError):
        return []


# --------------------------------------------------------------------------- publish


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
        keys += self.publish_report(context, store, prefix, report, name="drill")
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
