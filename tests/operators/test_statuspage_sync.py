"""status_page_sync against the sandbox (PagerDuty, Statuspage, Slack and S3 stand-ins): an open P0/P1
incident is drafted once from the template (never its title), asked in Required Actions (HITL),
published with the PagerDuty reference (so link_incidents links it explicitly), rejected for good,
paged once when nobody answers; its resolve is proposed the same way; a run with nothing new reads
one page of each and writes nothing; bad input is named and nothing is published twice.

The HITL wait itself is Airflow's (the task parks in AWAITING_INPUT, resumed by the Required Actions
API or the scheduler's timeout sweep): here `execute` is shown to park with the severity's response
time, and the answer is given as Airflow gives it, by calling `execute_complete` with its event.
"""

from __future__ import annotations

import datetime as dt
import json
import types
import uuid

import pytest
from airflow.sdk.exceptions import TaskAwaitingInput
from estate_ops.config import load_config
from estate_ops.domain import statuspage as sp
from estate_ops.hooks.statuspage import (
    StatuspageAuthError,
    StatuspageHook,
    StatuspageNotFoundError,
)
from estate_ops.operators.statuspage import (
    PlanStatusPageSyncOperator,
    StatusPageApprovalOperator,
    record_key,
)

HOSTILE = "<!channel> DB down <https://evil.example|click> " + "x" * 1000
P0, P1 = "PPRIP00", "PPRIP01"


@pytest.fixture
def hitl(monkeypatch):
    """Required Action requests written (Airflow writes them through the task runner's API)."""
    import airflow.providers.standard.operators.hitl as hitl_module

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.legacy.example")

    asked = []
    monkeypatch.setattr(hitl_module, "upsert_hitl_detail", lambda **kw: asked.append(kw))
    return asked


def _settings():
    return load_config()[1]


def _plan() -> list[dict]:
    from airflow.sdk import DAG

    with DAG("status_page_sync_test", schedule=None):
        op = PlanStatusPageSyncOperator(task_id="plan_sync")
    return op.execute({})


def _op(draft: dict) -> tuple[StatusPageApprovalOperator, dict]:
    from airflow.sdk import DAG

    with DAG("status_page_sync", schedule=None):
        op = StatusPageApprovalOperator(task_id="ask_to_publish", draft=draft)
    ti = types.SimpleNamespace(id=uuid.uuid4(), dag_id="status_page_sync", run_id="scheduled__t",
                               task_id="ask_to_publish", map_index=0)
    return op, {"task": op, "task_instance": ti, "ti": ti}


def _ask(draft: dict) -> tuple[StatusPageApprovalOperator, dict, TaskAwaitingInput]:
    op, ctx = _op(draft)
    with pytest.raises(TaskAwaitingInput) as parked:
        op.execute(ctx)
    return op, ctx, parked.value


def _answer(op, ctx, chosen: str) -> dict:
    return op.execute_complete(ctx, {"chosen_options": [chosen], "params_input": {},
                                     "responded_at": dt.datetime.now(dt.UTC),
                                     "responded_by_user": {"id": "u-avery", "name": "Avery Chen"}})


TIMEOUT = {"error": "The Human-in-the-loop response timeout has passed without a response.", "error_type": "timeout"}


def _bucket(sandbox) -> dict[str, str]:
    s3 = sandbox.boto3_client("s3")
    bucket = _settings().reports_bucket
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return found


def _record(sandbox, pd_id: str, stage: str) -> dict | None:
    s3 = sandbox.boto3_client("s3")
    try:
        body = s3.get_object(Bucket=_settings().reports_bucket, Key=record_key(pd_id, stage))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def _page_incidents() -> list[dict]:
    settings = _settings().statuspage
    return StatuspageHook(settings.page_id, settings.conn_id).incidents()


def _ours(pd_id: str) -> list[dict]:
    return sp.marked(_page_incidents(), sp.PD_INCIDENT_KEY, pd_id)


def _open(sandbox, priority=P0, service="PLEGAPI", title=HOSTILE) -> dict:
    return sandbox.open_pagerduty_incident(service, priority, title)


def _published(sandbox, hitl, priority=P0) -> tuple[dict, dict]:
    incident = _open(sandbox, priority)
    [draft] = _plan()
    op, ctx, _ = _ask(draft)
    return incident, _answer(op, ctx, "Approve")


# ----------------------------------------------------------------------------- the happy path


@pytest.mark.parametrize(("priority", "severity", "minutes"), [(P0, "P0", 15), (P1, "P1", 60)])
def test_draft_approve_publishes_with_the_reference_and_links_explicitly(sandbox, hitl, priority, severity, minutes):
    plan, estate = load_config()
    incident = _open(sandbox, priority)
    [draft] = _plan()
    assert (draft["stage"], draft["pd_incident_id"], draft["severity"]) == ("open", incident["id"], severity)
    assert draft["component_ids"] == estate.statuspage.components["PLEGAPI"]
    assert draft["response_minutes"] == plan.severities[severity].response_minutes == minutes
    # The raw title reaches neither the draft nor the request shown to the person.
    for text in (draft["name"], draft["body"]):
        assert "channel" not in text and "evil" not in text and "xxxx" not in text and "DB down" not in text
    op, ctx, parked = _ask(draft)
    assert parked.timeout == dt.timedelta(minutes=minutes) and parked.method_name == "execute_complete"
    [request] = hitl
    assert request["options"] == ["Approve", "Reject"] and draft["name"] in request["subject"]
    assert "channel" not in request["body"] + request["subject"]
    asked = _record(sandbox, incident["id"], "open")
    assert asked["state"] == "asked" and asked["required_action"].endswith(
        "/dags/status_page_sync/runs/scheduled__t/tasks/ask_to_publish/required_actions?map_index=0")
    [message] = [m for m in sandbox.slack_messages() if incident["id"] in m.get("text", "")]
    assert asked["required_action"] in message["text"] and "<!channel>" not in message["text"]

    result = _answer(op, ctx, "Approve")
    [published] = _ours(incident["id"])
    assert result["state"] == "published" and result["status_incident_id"] == published["id"]
    assert published["name"] == draft["name"] and published["status"] == "investigating"
    assert {c["id"] for c in published["components"]} == set(draft["component_ids"])
    assert published["metadata"]["estate_ops"]["pagerduty_url"] == draft["pd_url"]
    assert _record(sandbox, incident["id"], "open")["responded_by"] == "Avery Chen"
    # The incident SLA report's rule links it by explicit reference (not by component and time).
    pd = sp.PdIncident(incident["id"], incident["incident_number"], severity, "PLEGAPI",
                       dt.datetime.fromisoformat(incident["created_at"]), None, draft["pd_url"])
    status = sp.parse_status_incident(published, estate.statuspage.web_url)
    link = sp.link_incidents([pd], [status], estate.statuspage.components, dt.datetime.now(dt.UTC) +
                             dt.timedelta(days=400))[incident["id"]]
    assert (link.status.id, link.rule) == (published["id"], sp.EXPLICIT)
    # The next run finds it linked: nothing to ask.
    assert _plan() == []


def test_nothing_new_reads_one_page_of_each_and_writes_nothing(sandbox, hitl):
    _open(sandbox, "PPRIP02")  # a P2 is not the status page's business
    before = _bucket(sandbox)
    sandbox.clear_request_counts()
    assert _plan() == []
    counts = sandbox.request_counts()["routes"]
    assert sum(counts.get("pagerduty", {}).values()) == 1 == counts["pagerduty"]["GET /incidents"]
    assert counts["statuspage"] == {"GET /statuspage/v1/pages/<page_id>/incidents/<kind>": 1}
    assert _bucket(sandbox) == before and hitl == []


def test_reject_is_recorded_and_never_asked_again(sandbox, hitl):
    incident = _open(sandbox, P1)
    [draft] = _plan()
    op, ctx, _ = _ask(draft)
    assert _answer(op, ctx, "Reject")["state"] == "rejected"
    assert _record(sandbox, incident["id"], "open")["state"] == "rejected"
    assert _ours(incident["id"]) == []
    before = _bucket(sandbox)
    assert _plan() == [] and _plan() == []
    # A retried ask task does not ask again either.
    op, ctx = _op(draft)
    assert op.execute(ctx)["state"] == "rejected"
    assert len(hitl) == 1 and _bucket(sandbox) == before


def test_no_answer_in_time_pages_p1_once(sandbox, hitl):
    incident = _open(sandbox, P0)
    [draft] = _plan()
    op, ctx, _ = _ask(draft)
    assert op.execute_complete(ctx, TIMEOUT)["state"] == "timed_out"
    op2, ctx2 = _op(draft)  # the same answer resumed twice (a rerun) pages nobody again
    op2.execute_complete(ctx2, TIMEOUT)
    pages = [e for e in sandbox.pagerduty_events() if "status_page_not_updated" in (e.get("dedup_key") or "")]
    assert len(pages) == 1
    assert pages[0]["event"]["payload"]["severity"] == "error"  # P1
    assert incident["id"] in pages[0]["dedup_key"] and "channel" not in json.dumps(pages[0]["event"])
    assert _record(sandbox, incident["id"], "open")["state"] == "timed_out"
    assert _plan() == [] and _ours(incident["id"]) == []


def test_resolve_is_proposed_once_the_incident_resolves(sandbox, hitl):
    incident, published = _published(sandbox, hitl)
    assert _plan() == []  # still open: nothing to resolve yet
    sandbox.resolve_pagerduty_incident(incident["id"])
    [draft] = _plan()
    assert (draft["stage"], draft["status_incident_id"]) == ("resolved", published["status_incident_id"])
    assert draft["name"].startswith("Resolved") and "channel" not in draft["body"]
    op, ctx, parked = _ask(draft)
    assert parked.timeout == dt.timedelta(minutes=15)
    assert _answer(op, ctx, "Approve")["state"] == "published"
    [resolved] = _ours(incident["id"])
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert resolved["incident_updates"][0]["body"] == draft["body"]  # newest first
    assert _plan() == []


def test_a_person_posted_first_nothing_is_asked(sandbox, hitl):
    """A status-page incident on the service's component, open during the incident, is its link."""
    estate = _settings()
    incident = _open(sandbox, P1)
    settings = estate.statuspage
    StatuspageHook(settings.page_id, settings.conn_id).create_incident(
        name="Investigating", body="We are looking into it", status="investigating", impact="major",
        components={settings.components["PLEGAPI"][0]: "partial_outage"}, metadata={})
    assert _plan() == [] and hitl == []
    assert _record(sandbox, incident["id"], "open") is None


# ----------------------------------------------------------------------------- bad input


def test_component_missing_from_the_page_is_named_and_nothing_is_asked(sandbox, hitl):
    component = _settings().statuspage.components["PLEGAPI"][0]
    _open(sandbox, P0)
    sandbox.remove("statuspage_component", component)
    before = _bucket(sandbox)
    with pytest.raises(StatuspageNotFoundError, match=rf"no component {component}.*statuspage.components.PLEGAPI"):
        _plan()
    assert _bucket(sandbox) == before and hitl == []
    assert not [m for m in sandbox.slack_messages() if "status-page update" in m.get("text", "")]


def test_wrong_page_id_is_named(sandbox, hitl, tmp_path, monkeypatch):
    from estate_ops.config import estate_path

    text = estate_path().read_text().replace(_settings().statuspage.page_id, "wrongpage000")
    (tmp_path / "estate.yaml").write_text(text)
    monkeypatch.setenv("ESTATE_OPS_ESTATE", str(tmp_path / "estate.yaml"))
    _open(sandbox, P0)
    before = _bucket(sandbox)
    with pytest.raises(StatuspageNotFoundError, match="page 'wrongpage000'.*statuspage.page_id"):
        _plan()
    assert _bucket(sandbox) == before and hitl == []


def test_key_without_write_access_is_named_then_the_approval_is_published_once(sandbox, hitl, monkeypatch):
    from sandbox import STATUSPAGE_READONLY_KEY

    incident = _open(sandbox, P0)
    [draft] = _plan()
    op, ctx, _ = _ask(draft)
    conn = json.loads(sandbox.airflow_connections_env()["AIRFLOW_CONN_STATUSPAGE_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_STATUSPAGE_DEFAULT", json.dumps({**conn, "password": STATUSPAGE_READONLY_KEY}))
    with pytest.raises(StatuspageAuthError, match="connection 'statuspage_default' may not POST.*write access"):
        _answer(op, ctx, "Approve")
    assert _ours(incident["id"]) == []
    assert _record(sandbox, incident["id"], "open")["state"] == "approved"  # the answer is not lost
    monkeypatch.setenv("AIRFLOW_CONN_STATUSPAGE_DEFAULT", json.dumps(conn))
    retry, retry_ctx = _op(draft)  # the task's retry publishes without asking again
    assert retry.execute(retry_ctx)["state"] == "published"
    assert len(_ours(incident["id"])) == 1 and len(hitl) == 1


def test_rate_limit_storm_publishes_once(sandbox, hitl):
    incident = _open(sandbox, P0)
    [draft] = _plan()
    op, ctx, _ = _ask(draft)
    sandbox.simulate_rate_limit(next_n=3, reset_seconds=1, api="statuspage")
    assert _answer(op, ctx, "Approve")["state"] == "published"
    sandbox.simulate_rate_limit(next_n=2, reset_seconds=1, api="statuspage")
    again, again_ctx = _op(draft)  # the answer resumed twice: found by its metadata, not made again
    again.execute_complete(again_ctx, {"chosen_options": ["Approve"], "params_input": {},
                                       "responded_at": dt.datetime.now(dt.UTC), "responded_by_user": None})
    assert len(_ours(incident["id"])) == 1
