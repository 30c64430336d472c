"""The severity router against the sandbox: P0/P1 page once through PagerDuty Events v2 with a
stable dedup key; P2/P3 go to Slack as one message; a rerun sends nothing again."""

from __future__ import annotations

import pytest
from estate_ops.alerting import SeverityRouter, failure_callback
from estate_ops.config import load_config
from estate_ops.domain.findings import Finding
from estate_ops.hooks.artifacts import ArtifactStore


@pytest.fixture
def router(sandbox):
    plan, estate = load_config()
    return SeverityRouter(plan, estate, ArtifactStore.for_estate(estate))


def _finding(kind, resource, period="2026-10"):
    return Finding.of(load_config()[0], kind, resource, f"{kind} on {resource}", period)


def test_p1_pages_once_with_a_stable_dedup_key(sandbox, router):
    finding = _finding("backup_missed", "legacy-prod-db")
    first = router.route([finding], source="test")
    assert [r["status"] for r in first] == ["sent"] and first[0]["channel"] == "pagerduty"
    events = sandbox.pagerduty_events()
    assert len(events) == 1
    assert events[0]["dedup_key"] == finding.dedup_key
    assert events[0]["event"]["event_action"] == "trigger" and events[0]["event"]["payload"]["severity"] == "error"

    again = router.route([_finding("backup_missed", "legacy-prod-db")], source="test")
    assert [r["status"] for r in again] == ["already_sent"]
    assert len(sandbox.pagerduty_events()) == 1
    assert sandbox.slack_messages() == []


def test_p3_goes_to_slack_once(sandbox, router):
    router.route([_finding("log_retention_wrong", "/legacy/app")], source="test")
    messages = sandbox.slack_messages()
    assert len(messages) == 1
    assert messages[0]["channel_name"].lstrip("#") == load_config()[1].slack.channel.lstrip("#")
    assert "log_retention_wrong" in messages[0]["text"] and "/legacy/app" in messages[0]["text"]
    router.route([_finding("log_retention_wrong", "/legacy/app")], source="test")
    assert len(sandbox.slack_messages()) == 1
    assert sandbox.pagerduty_events() == []


def test_many_slack_findings_are_one_message(sandbox, router):
    router.route([_finding("incident_sla_breach", f"Q{i}") for i in range(5)], source="test")
    messages = sandbox.slack_messages()
    assert len(messages) == 1 and messages[0]["text"].count("`incident_sla_breach`") == 5


def test_a_new_period_alerts_again(sandbox, router):
    router.route([_finding("backup_missed", "db", "2026-10-01")], source="test")
    router.route([_finding("backup_missed", "db", "2026-10-02")], source="test")
    assert len({e["dedup_key"] for e in sandbox.pagerduty_events()}) == 2


def test_summary_posts_once(sandbox, router):
    assert router.post_slack_once("test_dag/2026-10", "summary") is True
    assert router.post_slack_once("test_dag/2026-10", "summary") is False
    assert [m["text"] for m in sandbox.slack_messages()] == ["summary"]


def test_failure_callback_routes_by_the_dags_severity(sandbox):
    class TI:
        dag_id, task_id, run_id = "backup_verification", "verify", "manual__2026-11-02"

    failure_callback("P1")({"task_instance": TI(), "exception": RuntimeError("boom")})
    events = sandbox.pagerduty_events()
    assert len(events) == 1 and "boom" in events[0]["event"]["payload"]["summary"]
    failure_callback("P3")({"task_instance": TI(), "exception": RuntimeError("boom")})
    assert len(sandbox.pagerduty_events()) == 1  # same run, same task: already sent


def test_failure_callback_never_raises(monkeypatch):
    monkeypatch.setenv("ESTATE_OPS_ESTATE", "/nonexistent/estate.yaml")
    failure_callback("P1")({"task_instance": None, "exception": RuntimeError("boom")})


HOSTILE = "<!channel> & <https://evil|click>"
ESCAPED = "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"


def test_outside_text_in_a_slack_finding_is_escaped(sandbox, router):
    plan = load_config()[0]
    finding = Finding.of(plan, "log_retention_wrong", "<#C0123|general>", HOSTILE, "2026-10")
    incident = Finding.of(plan, "incident_sla_breach", "PD123", "incident <!here> DB down was late", "2026-10")
    router.route([finding, incident], source="test")
    (message,) = sandbox.slack_messages()
    text = message["text"]
    assert ESCAPED in text and "&lt;#C0123|general&gt;" in text and "incident &lt;!here&gt; DB down" in text
    assert "<!" not in text and "<#" not in text and "<https" not in text
    assert text.startswith("*estate-ops / test*")  # our own markup is untouched


def test_slack_escape_escapes_only_slacks_three_control_characters():
    from estate_ops.domain.slacktext import slack_escape

    assert slack_escape(HOSTILE) == ESCAPED
    assert slack_escape("a *b* `c` _d_ ~e~ :x:") == "a *b* `c` _d_ ~e~ :x:"
    assert slack_escape("&amp;") == "&amp;amp;"  # outside text is never trusted to be escaped already
    assert slack_escape(None) == "None"
