"""Thin operators over the hooks, one module per plan area (the same name as its DAG files,
`domain/` module, templates and tests: preflight, availability, maintenance, incidents, backups,
drill, monitoring, retention, invoicing, reviews).

`run_as_of` is here because every area needs the same answer to "which instant does this run
judge by"; it imports nothing heavy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def run_as_of(context: Any) -> dt.datetime:
    """The instant a run judges by, in UTC: its logical date (a scheduled run's trigger time), or,
    for a manual run without one (Airflow 3), when it was due. Fixed per run, so reruns judge alike."""
    when = context.get("logical_date")
    if when is None and context.get("dag_run") is not None:
        when = context["dag_run"].run_after
    if when is None:
        raise ValueError("the task context has neither a logical_date nor a dag_run.run_after")
    return when.astimezone(dt.UTC)
