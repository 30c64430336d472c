"""What every estate-ops DAG shares: owner, retries with backoff, failure alerts, tags.

Imported by DAG files at parse time, so it stays light: nothing heavy at module level.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

OWNER = "estate-ops"
ET = "America/New_York"
# YYYY-MM, or empty (= the calendar month before the run, as `domain.periods.report_month` reads it).
MONTH_PATTERN = r"^(\d{4}-(0[1-9]|1[0-2]))?$"


def default_args(failure_severity: str) -> dict[str, Any]:
    """Retries with exponential backoff, and a failure routed by the plan's severity rule.

    `failure_severity` is how bad it is when this DAG fails (DESIGN.md §5): a backup job that
    cannot run is P1, an invoice run that fails is P3.
    """
    from estate_ops.alerting import failure_callback

    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
        "on_failure_callback": failure_callback(failure_severity),
    }


# The month's outputs the service review waits for (issue #18): each monthly DAG's last task emits
# its asset, and `service_review` runs when all of them have (a URI would load every provider).
MONTH_CLOSE_ASSETS = ("estate_ops_availability_month", "estate_ops_incidents_month", "estate_ops_invoices_month")


def month_close_asset(name: str) -> Any:
    from airflow.sdk import Asset

    if name not in MONTH_CLOSE_ASSETS:
        raise KeyError(f"{name!r} is not one of {MONTH_CLOSE_ASSETS}")
    return Asset(name=name)


def tags(*area: str) -> list[str]:
    return ["estate-ops", *area]


def month_param(description: str) -> Any:
    """The `month` param of a monthly DAG's manual run: YYYY-MM, or empty for the calendar month
    before the run (`domain.periods.report_month`). `description` says what the DAG does with it."""
    from airflow.sdk import Param

    return Param(None, type=["null", "string"], pattern=MONTH_PATTERN, title="Month (YYYY-MM)",
                 description=description)
