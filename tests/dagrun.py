"""Running a project DAG end to end in-process with dag.test(), as a user's `airflow dags test` would."""

from __future__ import annotations

import datetime as dt
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


def task_states(dag_run) -> dict[str, str]:
    return {ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
            for ti in dag_run.get_task_instances()}
