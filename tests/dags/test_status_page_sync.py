"""status_page_sync end to end with dag.test() against the sandbox, twice: an open P0 incident is
drafted, asked in Required Actions (answered from a thread as the HITL REST endpoint answers),
published once with its PagerDuty reference; the second run finds nothing new, asks nothing, posts
nothing and writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.dagrun import respond_when_asked, run_dag, task_states
from tests.reports_bucket import digests

DAG_ID = "status_page_sync"
LOGICAL_DATE = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def _ours(pd_id: str) -> list[dict]:
    from estate_ops.config import load_estate
    from estate_ops.domain.statuspage import PD_INCIDENT_KEY, marked
    from estate_ops.hooks.statuspage import StatuspageHook

    settings = load_estate().statuspage
    return marked(StatuspageHook(settings.page_id, settings.conn_id).incidents(), PD_INCIDENT_KEY, pd_id)


@pytest.fixture(scope="module")
def runs(sandbox_session):
    sandbox_session.reset()
    incident = sandbox_session.open_pagerduty_incident("PLEGWEB", "PPRIP01", "<!here> checkout broken")
    thread, seen = respond_when_asked(DAG_ID, "Approve")
    first = run_dag(DAG_ID, LOGICAL_DATE)
    thread.join(5)
    first_states = task_states(first)
    after_first, slack_first = digests(sandbox_session), sandbox_session.slack_messages()
    second = run_dag(DAG_ID, LOGICAL_DATE + dt.timedelta(minutes=5))
    return {"incident": incident, "seen": seen, "first": first, "first_states": first_states,
            "after_first": after_first, "slack_first": slack_first, "second": second,
            "second_states": task_states(second), "after_second": digests(sandbox_session),
            "slack_second": sandbox_session.slack_messages(), "published": _ours(incident["id"])}


def test_first_run_asks_once_and_publishes_the_approved_draft(runs):
    assert str(runs["first"].state) == "success", runs["first_states"]
    assert runs["first_states"] == {"plan_sync": "success", "ask_to_publish[0]": "success"}
    seen = runs["seen"]
    assert not seen.get("timed_out") and seen["options"] == ["Approve", "Reject"]
    assert "!here" not in seen["subject"] + seen["body"] and "checkout" not in seen["body"]
    [published] = runs["published"]
    assert published["name"] in seen["subject"] and published["status"] == "investigating"
    asks = [m for m in runs["slack_first"] if runs["incident"]["id"] in m.get("text", "")]
    assert len(asks) == 1 and "<!here>" not in asks[0]["text"]
    key = f"statuspage/decisions/{runs['incident']['id']}/open.json"
    assert key in runs["after_first"]


def test_second_run_finds_nothing_new_and_changes_nothing(runs):
    assert str(runs["second"].state) == "success", runs["second_states"]
    assert runs["second_states"]["plan_sync"] == "success"
    assert "ask_to_publish[0]" not in runs["second_states"]
    assert runs["after_second"] == runs["after_first"]
    assert runs["slack_second"] == runs["slack_first"]
    assert len(runs["published"]) == 1
