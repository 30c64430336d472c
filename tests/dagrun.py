"""Running a project DAG end to end in-process with dag.test(), as a user's `airflow dags test` would."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from devtools.localenv import ROOT


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def run_dag(dag_id: str, logical_date: dt.datetime, conf: dict[str, Any] | None = None):
    """Run `dag_id` once for `logical_date`; returns the DagRun (state, task instances)."""
    dag = load_dag(dag_id)
    return dag.test(logical_date=logical_date, run_conf=conf or {})


def answer_awaiting_input(dag_id: str, option: str, responder: dict[str, str]) -> dict[str, Any] | None:
    """Answer a task of `dag_id` awaiting human input with `option`, writing what the HITL REST
    endpoint writes; returns what was asked (subject, body, options), or None if nothing waits."""
    from airflow._shared.timezones import timezone
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalar(select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.state == TaskInstanceState.AWAITING_INPUT))
        if ti is None:
            return None
        detail = session.scalar(select(HITLDetail).where(HITLDetail.ti_id == ti.id))
        asked = {"subject": detail.subject, "body": detail.body, "options": list(detail.options)}
        detail.responded_by = dict(responder)
        detail.responded_at = timezone.utcnow()
        detail.chosen_options = [option]
        detail.params_input = {}
        session.add(detail)
        handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)
        return asked


def respond_when_asked(dag_id: str, option: str, *, timeout: float = 120.0,
                       responder: dict[str, str] | None = None) -> tuple[threading.Thread, dict]:
    """A thread that answers the first HITL request of `dag_id` with `option`, as the UI would."""
    # Everything the thread needs is imported and configured here, in the main thread: importing
    # Airflow's models (SQLAlchemy configures mappers lazily) from two threads at once deadlocks.
    # (What run_dag and answer_awaiting_input import.)
    from airflow._shared.timezones import timezone  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401
    from airflow.models import import_all_models
    from airflow.models.hitl import HITLDetail  # noqa: F401
    from airflow.models.taskinstance import TaskInstance  # noqa: F401
    from airflow.models.trigger import handle_event_submit  # noqa: F401
    from airflow.triggers.base import TriggerEvent  # noqa: F401
    from airflow.utils.session import create_session  # noqa: F401
    from airflow.utils.state import TaskInstanceState  # noqa: F401
    from sqlalchemy.orm import configure_mappers

    load_dag(dag_id)
    import_all_models()
    configure_mappers()
    seen: dict = {}

    def answer() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            asked = answer_awaiting_input(dag_id, option, responder or {"id": "approver", "name": "Test Approver"})
            if asked is not None:
                seen.update(asked)
                return
            time.sleep(0.5)
        seen["timed_out"] = True

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread, seen


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
            for ti in dag_run.get_task_instances()}
