"""estate_preflight end to end with dag.test() against the sandbox: healthy, a resource missing,
a connection missing (the run fails and nothing is written)."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.config import load_estate

from tests.dagrun import run_dag, task_states
from tests.reports_bucket import keys, read_json, versions

DAY = dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC)
REPORT = "preflight/2026-11-02/report.json"


def test_healthy_estate_twice_is_identical(sandbox):
    first = run_dag("estate_preflight", DAY)
    assert first.state == "success", task_states(first)
    report = read_json(sandbox, REPORT)
    estate = load_estate()
    expected = (len(estate.databases) + 2 + 2 * len(estate.documents) + len(estate.logs.group_prefixes)
                + len(estate.route53_health_checks) + len(estate.pagerduty.services) + 3 + 1
                + 1 + sum(len(ids) for ids in estate.statuspage.components.values()))
    assert report["headline"]["resources_checked"]["value"] == expected
    assert report["headline"]["resources_missing"]["value"] == 0
    assert report["findings"] == []
    assert keys(sandbox, "preflight/2026-11-02/") == ["preflight/2026-11-02/report.html", REPORT,
                                                      "preflight/2026-11-02/report.pdf"]
    before = versions(sandbox, "preflight/")

    second = run_dag("estate_preflight", DAY)
    assert second.state == "success"
    after = versions(sandbox, "preflight/")
    assert after == before  # nothing rewritten
    assert sandbox.slack_messages() == [] and sandbox.pagerduty_events() == []


def test_missing_resources_are_reported_and_routed_once(sandbox):
    estate = load_estate()
    sandbox.remove("rds_instance", estate.databases[1].id)
    sandbox.remove("pagerduty_schedule", estate.pagerduty.schedules.secondary)
    component = estate.statuspage.components["PLEGWEB"][0]
    sandbox.remove("statuspage_component", component)
    run = run_dag("estate_preflight", DAY)
    assert run.state == "success", task_states(run)
    report = read_json(sandbox, REPORT)
    missing = {(c["kind"], c["resource"]) for c in report["items"]["checks"] if not c["ok"]}
    assert missing == {("rds_instance", estate.databases[1].id),
                       ("pagerduty_schedule", estate.pagerduty.schedules.secondary),
                       ("statuspage_component", component)}
    assert {f["kind"] for f in report["findings"]} == {"preflight_missing"}
    messages = sandbox.slack_messages()
    assert len(messages) == 1
    assert estate.databases[1].id in messages[0]["text"]
    assert estate.pagerduty.schedules.secondary in messages[0]["text"]
    assert component in messages[0]["text"]

    run_dag("estate_preflight", DAY)
    assert len(sandbox.slack_messages()) == 1  # a rerun does not repeat the alert


def test_missing_connection_fails_clearly_and_writes_nothing(sandbox, monkeypatch, capfd):
    monkeypatch.delenv("AIRFLOW_CONN_PAGERDUTY_DEFAULT")
    run = run_dag("estate_preflight", DAY)
    states = task_states(run)
    assert run.state == "failed"
    assert states["check_pagerduty"] == "failed" and states["publish_report"] == "upstream_failed"
    assert "Airflow connection 'pagerduty_default' (estate.yaml pagerduty.conn_id) is not defined" in capfd.readouterr().out
    assert keys(sandbox, "preflight/") == []


@pytest.mark.parametrize("env", ["ESTATE_OPS_ESTATE"])
def test_bad_config_fails_before_any_aws_call(sandbox, monkeypatch, tmp_path, capfd, env):
    bad = tmp_path / "estate.yaml"
    bad.write_text("estate: {name: x}\n")
    monkeypatch.setenv(env, str(bad))
    run = run_dag("estate_preflight", DAY)
    assert run.state == "failed"
    assert f"{bad}: aws: Field required" in capfd.readouterr().out
    monkeypatch.delenv(env)
    assert keys(sandbox, "preflight/") == []
