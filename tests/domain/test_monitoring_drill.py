"""The alert-route drill's rules (domain/monitoring.py, route drill part): which canaries are refused,
what counts as a delivery, and what an undelivered route is."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.config import load_config
from estate_ops.domain.monitoring import (
    CanaryError,
    RouteDrill,
    build_route_drill_report,
    check_canary,
    drill_incidents,
    pagerduty_delivery,
    slack_delivery,
)

AT = dt.datetime(2026, 11, 3, 8, 0, tzinfo=dt.UTC)
CANARY = "estate-ops-canary-pagerduty"
GOOD = {"AlarmName": CANARY, "Namespace": "EstateOps/Canary", "MetricName": "Canary-pagerduty",
        "ActionsEnabled": True, "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:pager"]}


@pytest.mark.parametrize("raw,on_metric,composites,message", [
    (None, [], [], "monitoring.canaries.pagerduty.alarm: CloudWatch has no alarm named"),
    ({**GOOD, "AlarmRule": 'ALARM("x")'}, [], [], "is a composite alarm"),
    ({**GOOD, "ActionsEnabled": False}, [CANARY], [], "actions disabled or none"),
    ({**GOOD, "AlarmActions": []}, [CANARY], [], "actions disabled or none"),
    (GOOD, [CANARY, "api-latency"], [], "which api-latency also watch"),
    (GOOD, [CANARY], ["everything-down"], "composite alarm(s) everything-down fire on"),
])
def test_a_canary_that_cannot_be_drilled_is_refused(raw, on_metric, composites, message):
    with pytest.raises(CanaryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_canary("pagerduty", CANARY, raw, on_metric, composites)


def test_a_good_canary_passes():
    assert check_canary("pagerduty", CANARY, GOOD, [CANARY]) is None


def test_a_pagerduty_delivery_is_a_new_incident_on_the_service_naming_the_canary():
    incidents = [{"id": "OLD", "title": f'ALARM: "{CANARY}"', "service": {"id": "PLEGAPI"}},
                 {"id": "ELSEWHERE", "title": f'ALARM: "{CANARY}"', "service": {"id": "PLEGWEB"}},
                 {"id": "OTHER", "title": "ALARM: api-latency", "service": {"id": "PLEGAPI"}},
                 {"id": "NEW", "title": f'ALARM: "{CANARY}" in US East', "service": {"id": "PLEGAPI"}}]
    assert pagerduty_delivery(incidents, CANARY, "PLEGAPI", known=["OLD"])["id"] == "NEW"
    assert pagerduty_delivery(incidents[:3], CANARY, "PLEGAPI", known=["OLD"]) is None


def test_a_slack_delivery_is_a_message_after_the_baseline_naming_the_canary():
    messages = [{"ts": "100.000002", "text": "estate-ops-canary-slack ALARM"},
                {"ts": "100.000001", "text": "unrelated"},
                {"ts": "99.000001", "text": "estate-ops-canary-slack old"}]
    assert slack_delivery(messages, "estate-ops-canary-slack", "99.000001")["ts"] == "100.000002"
    assert slack_delivery(messages, "estate-ops-canary-slack", "100.000002") is None
    assert slack_delivery(messages, "estate-ops-canary-slack", None)["ts"] == "99.000001"


def test_an_undelivered_route_is_p1_for_pagerduty_and_p2_for_slack():
    plan = load_config()[0]
    drills = [RouteDrill("slack", "estate-ops-canary-slack", "#legacy-ops", 10, fired_at=AT),
              RouteDrill("pagerduty", CANARY, "PLEGAPI", 10, fired_at=AT, error="the wait for delivery failed")]
    result = build_route_drill_report(plan, "Test", AT.date(), AT, drills)
    assert [(f.kind, f.severity) for f in result.findings] == [("alert_route_undelivered_pagerduty", "P1"),
                                                              ("alert_route_undelivered_slack", "P2")]
    assert "not seen within 10 min" in result.findings[1].summary
    assert result.report["headline"]["routes_delivered"]["value"] == 0


def test_latency_is_from_firing_to_first_seen():
    plan = load_config()[0]
    drill = RouteDrill("pagerduty", CANARY, "PLEGAPI", 10, fired_at=AT, seen_at=AT + dt.timedelta(seconds=42),
                       evidence="Q1")
    result = build_route_drill_report(plan, "Test", AT.date(), AT, [drill])
    assert result.findings == [] and result.report["figures"]["pagerduty_latency"] == {"value": 42, "unit": "s"}


def test_finding_details_are_plain_json_for_the_events_api():
    import json

    plan = load_config()[0]
    result = build_route_drill_report(plan, "Test", AT.date(), AT,
                                      [RouteDrill("pagerduty", CANARY, "PLEGAPI", 10, fired_at=AT)])
    assert json.loads(json.dumps(result.findings[0].details))["fired_at"] == AT.isoformat()


def test_a_failed_cleanup_is_its_own_finding_even_when_the_route_delivered():
    plan = load_config()[0]
    drill = RouteDrill("pagerduty", CANARY, "PLEGAPI", 10, fired_at=AT, seen_at=AT + dt.timedelta(seconds=5),
                       evidence="Q1", cleanup_error="resolving the drill incident failed: 503")
    result = build_route_drill_report(plan, "Test", AT.date(), AT, [drill])
    assert [(f.kind, f.severity) for f in result.findings] == [("alert_route_cleanup_failed", "P2")]
    assert "503" in result.findings[0].summary and result.report["items"]["routes"][0]["delivered"]


def test_the_incidents_the_drill_resolves_are_every_new_one_naming_the_canary_on_its_service():
    incidents = [{"id": "OLD", "title": f"ALARM: {CANARY}", "service": {"id": "PLEGAPI"}},
                 {"id": "NEW1", "title": f'ALARM: "{CANARY}" in US East', "service": {"id": "PLEGAPI"}},
                 {"id": "ELSE", "title": f"ALARM: {CANARY}", "service": {"id": "PLEGWEB"}},
                 {"id": "REAL", "title": "ALARM: api-5xx", "service": {"id": "PLEGAPI"}},
                 {"id": "NEW2", "title": f"ALARM: {CANARY} (again)", "service": {"id": "PLEGAPI"}}]
    assert [i["id"] for i in drill_incidents(incidents, CANARY, "PLEGAPI", ["OLD"])] == ["NEW1", "NEW2"]
