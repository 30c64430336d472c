"""support_invoicing end to end with dag.test() against the sandbox: approve path and reject path, each
run twice. The human's answer is recorded from a thread exactly as the HITL REST endpoint does it
(airflow/api_fastapi/core_api/routes/public/hitl.py: set the response on the HITLDetail row, then
handle_event_submit resumes the task parked in AWAITING_INPUT)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from tests.dagrun import respond_when_asked as _respond_when_asked
from tests.dagrun import run_dag
from tests.reports_bucket import digests

DAG_ID = "support_invoicing"
LOGICAL_DATE = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
CONF = {"month": "2026-10"}


def respond_when_asked(option: str, *, timeout: float = 120.0) -> tuple[threading.Thread, dict]:
    return _respond_when_asked(DAG_ID, option, timeout=timeout)


def task_states(dag_run) -> dict[str, str]:
    """Every task's state in the run, read from the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_run.dag_id,
                                                         TaskInstance.run_id == dag_run.run_id))
        return {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}


def invoice_slack_messages(handle) -> list[dict]:
    return [m for m in handle.slack_messages() if "Support invoices for 2026-10" in str(m)]


@pytest.fixture(scope="module")
def approved(sandbox_session):
    mp = pytest.MonkeyPatch()
    mp.setenv("ESTATE_OPS_INVOICE_APPROVAL", "required")
    sandbox_session.reset()
    try:
        thread, seen = respond_when_asked("Approve")
        first = run_dag(DAG_ID, LOGICAL_DATE, CONF)
        thread.join(5)
        # dag.test() replaces a run of the same logical date: read the states before the next run.
        first_states = task_states(first)
        after_first = digests(sandbox_session)
        slack_after_first = invoice_slack_messages(sandbox_session)
        second = run_dag(DAG_ID, LOGICAL_DATE, CONF)  # everything issued: no approval is asked
        after_second = digests(sandbox_session)
        yield {"first": first, "second": second, "seen": seen, "first_states": first_states,
               "second_states": task_states(second), "after_first": after_first,
               "after_second": after_second, "slack_after_first": slack_after_first,
               "slack_after_second": invoice_slack_messages(sandbox_session), "handle": sandbox_session}
    finally:
        mp.undo()


def test_approve_path_issues_one_numbered_invoice_per_client(approved):
    states = approved["first_states"]
    assert str(approved["first"].state) == "success", states
    assert states["approve_invoices"] == "success"
    assert (states["issue_invoices"], states["record_rejection"]) == ("success", "skipped")
    keys = approved["after_first"]
    for client in ("northwind", "contoso", "fabrikam"):
        documents = sorted(k for k in keys if k.startswith(f"invoices/2026-10/{client}/INV-2026-"))
        assert len(documents) == 3, documents
        assert {k.rsplit(".", 1)[1] for k in documents} == {"json", "csv", "pdf"}
    numbers = sorted(k.rsplit("/", 1)[1] for k in keys if k.startswith("invoices/numbers/"))
    assert numbers == ["INV-2026-0001.json", "INV-2026-0002.json", "INV-2026-0003.json"]
    assert "invoices/2026-10/rejected.csv" in keys


def test_the_approver_saw_each_draft_summary(approved):
    seen = approved["seen"]
    assert not seen.get("timed_out"), "the DAG never asked for approval"
    assert seen["options"] == ["Approve", "Reject"]
    body = seen["body"]
    for name in ("Northwind Estates Ltd", "Contoso Property Group", "Fabrikam Land Trust"):
        assert name in body
    assert "overage" in body and "out of scope" in body
    # The seeded bad rows all name northwind (or no valid client): shown on northwind's line only.
    northwind_line = next(line for line in body.splitlines() if "northwind" in line)
    assert "rejected row(s)" in northwind_line
    fabrikam_line = next(line for line in body.splitlines() if "fabrikam" in line)
    assert "rejected" not in fabrikam_line
    # The channel was told a decision is waiting, once.
    waiting = [m for m in approved["handle"].slack_messages() if "waiting for a decision" in str(m)]
    assert len(waiting) == 1


def test_second_run_changes_nothing_and_posts_nothing(approved):
    assert str(approved["second"].state) == "success", approved["second_states"]
    assert approved["second_states"]["issue_invoices"] == "success"
    assert approved["after_second"] == approved["after_first"]
    assert len(approved["slack_after_first"]) == 1
    assert len(approved["slack_after_second"]) == 1


@pytest.fixture(scope="module")
def rejected(sandbox_session):
    mp = pytest.MonkeyPatch()
    mp.setenv("ESTATE_OPS_INVOICE_APPROVAL", "required")
    sandbox_session.reset()
    try:
        runs, snapshots = [], []
        for _ in range(2):
            thread, _seen = respond_when_asked("Reject")
            run = run_dag(DAG_ID, LOGICAL_DATE, CONF)
            thread.join(5)
            runs.append((str(run.state), task_states(run)))
            snapshots.append(digests(sandbox_session))
        yield {"runs": runs, "snapshots": snapshots, "slack": invoice_slack_messages(sandbox_session),
               "waiting": [m for m in sandbox_session.slack_messages() if "waiting for a decision" in str(m)]}
    finally:
        mp.undo()


def test_reject_path_issues_nothing_twice(rejected):
    for state, states in rejected["runs"]:
        assert state == "success", states
        assert states["record_rejection"] == "success", states
        assert states["issue_invoices"] == "skipped", states
    first, second = rejected["snapshots"]
    assert first == second
    assert not [k for k in first if k.startswith(("invoices/numbers/", "invoices/ledger/"))]
    assert not [k for k in first if "/INV-" in k or "/CN-" in k]
    assert rejected["slack"] == []
    assert len(rejected["waiting"]) == 1  # the same drafts are announced once, not per run
