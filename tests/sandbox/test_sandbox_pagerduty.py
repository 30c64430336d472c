"""The PagerDuty stand-in: PagerDuty's wire format (OpenAPI), paging, errors, limits, events."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import requests

from tests.sandbox.pd_openapi import validate_response

EMAIL = "morgan.reyes@legacy.example"  # the tech lead base seeds (a real user, for From:)


@pytest.fixture
def pd(sbx):
    """A requests session on the stand-in, authenticated as PagerDuty expects."""
    session = requests.Session()
    session.verify = sbx.ca_bundle
    session.headers.update({
        "Authorization": f"Token token={sbx.pagerduty_token}",
        "Accept": "application/vnd.pagerduty+json;version=2",
    })
    base = sbx.pagerduty_url

    class Client:
        url = base

        # verify= per request: requests lets REQUESTS_CA_BUNDLE override session.verify.
        def get(self, path, **params):
            return session.get(base + path, params=params, timeout=10, verify=sbx.ca_bundle)

        def post(self, path, body, **headers):
            return session.post(base + path, json=body, headers=headers, timeout=10,
                                verify=sbx.ca_bundle)

        def put(self, path, body, **headers):
            return session.put(base + path, json=body, headers=headers, timeout=10, verify=sbx.ca_bundle)

        def delete(self, path, **headers):
            return session.delete(base + path, headers=headers, timeout=10, verify=sbx.ca_bundle)

        def event(self, action, dedup_key, summary="disk full", routing_key=None):
            body = {"routing_key": routing_key or sbx.pagerduty_routing_key,
                    "event_action": action, "dedup_key": dedup_key}
            if action == "trigger":
                body["payload"] = {"summary": summary, "source": "db-1", "severity": "critical"}
            return requests.post(base + "/v2/enqueue", json=body, verify=sbx.ca_bundle,
                                 timeout=10)

    return Client()


@pytest.fixture
def history(pd):
    """Incidents in every state, a note, and a maintenance window, made through the APIs."""
    for n in range(3):
        assert pd.event("trigger", f"k{n}", summary=f"problem {n}").status_code == 202
    assert pd.event("acknowledge", "k1").status_code == 202
    assert pd.event("acknowledge", "k2").status_code == 202
    assert pd.event("resolve", "k2").status_code == 202
    incidents = pd.get("/incidents").json()["incidents"]
    note = pd.post(f"/incidents/{incidents[0]['id']}/notes",
                   {"note": {"content": "Post-mortem: https://wiki.example/pm/1"}}, From=EMAIL)
    assert note.status_code == 201, note.text
    now = dt.datetime.now(dt.UTC)
    window = pd.post("/maintenance_windows", {"maintenance_window": {
        "type": "maintenance_window", "start_time": (now + dt.timedelta(days=2)).isoformat(),
        "end_time": (now + dt.timedelta(days=2, hours=4)).isoformat(),
        "description": "Database upgrade",
        "services": [{"id": "PLEGAPI", "type": "service_reference"}]}}, From=EMAIL)
    assert window.status_code == 201, window.text
    return {"incidents": incidents, "window": window.json()["maintenance_window"]}


# ---------------------------------------------------------------------- wire format


def test_every_served_endpoint_matches_the_openapi_document(pd, history, sbx):
    incident_id = history["incidents"][0]["id"]
    window_id = history["window"]["id"]
    calls = [
        ("/services", "/services", {}),
        ("/services", "/services", {"include[]": "escalation_policies"}),
        ("/services/{id}", "/services/PLEGAPI", {}),
        ("/incidents", "/incidents", {}),
        ("/incidents", "/incidents", {"include[]": ["services", "first_trigger_log_entries",
                                                    "assignees", "acknowledgers",
                                                    "escalation_policies"]}),
        ("/incidents/{id}", f"/incidents/{incident_id}", {}),
        ("/incidents/{id}/notes", f"/incidents/{incident_id}/notes", {}),
        ("/incidents/{id}/log_entries", f"/incidents/{incident_id}/log_entries", {}),
        ("/log_entries", "/log_entries", {}),
        ("/log_entries", "/log_entries", {"include[]": ["incidents", "services"],
                                          "is_overview": "true"}),
        ("/priorities", "/priorities", {}),
        ("/users", "/users", {}),
        ("/schedules", "/schedules", {}),
        ("/schedules/{id}", "/schedules/PSCHPRI", {"since": "2026-10-01T00:00:00Z",
                                                   "until": "2026-11-01T00:00:00Z"}),
        ("/oncalls", "/oncalls", {}),
        ("/oncalls", "/oncalls", {"since": "2026-10-01T00:00:00Z",
                                  "until": "2026-11-01T00:00:00Z"}),
        ("/escalation_policies", "/escalation_policies", {}),
        ("/escalation_policies/{id}", "/escalation_policies/PESCPOL", {}),
        ("/maintenance_windows", "/maintenance_windows", {}),
    ]
    for spec_path, path, params in calls:
        response = pd.get(path, **params)
        assert response.status_code == 200, (path, response.text)
        validate_response(spec_path, "get", 200, response.json())
    validate_response("/maintenance_windows", "post", 201,
                      {"maintenance_window": history["window"]})
    for spec_path, path in [("/incidents/{id}", "/incidents/PNOPE00"),
                            ("/schedules/{id}", "/schedules/PNOPE00")]:
        response = pd.get(path)
        assert response.status_code == 404
        validate_response(spec_path, "get", 404, response.json())
    assert pd.delete(f"/maintenance_windows/{window_id}").status_code == 204


def test_put_incident_resolves_as_the_from_user_in_the_documents_shape(pd, history):
    open_one = next(i for i in history["incidents"] if i["status"] == "triggered")
    body = {"incident": {"type": "incident_reference", "status": "resolved", "resolution": "drill"}}
    without_from = pd.put(f"/incidents/{open_one['id']}", body)
    assert without_from.status_code == 400 and "from" in without_from.text.lower()
    assert pd.get(f"/incidents/{open_one['id']}").json()["incident"]["status"] == "triggered"
    resolved = pd.put(f"/incidents/{open_one['id']}", body, From=EMAIL)
    assert resolved.status_code == 200, resolved.text
    validate_response("/incidents/{id}", "put", 200, resolved.json())
    incident = resolved.json()["incident"]
    assert incident["status"] == "resolved" and incident["last_status_change_by"]["type"] == "user_reference"
    missing = pd.put("/incidents/PNOPE00", body, From=EMAIL)
    assert missing.status_code == 404
    validate_response("/incidents/{id}", "put", 404, missing.json())


def test_errors_match_the_openapi_document(pd, sbx):
    bad_window = pd.get("/incidents", since="2026-01-01T00:00:00Z", until="2026-10-01T00:00:00Z")
    assert bad_window.status_code == 400
    validate_response("/incidents", "get", 400, bad_window.json())
    unauthenticated = requests.get(pd.url + "/incidents", verify=sbx.ca_bundle, timeout=10)
    assert unauthenticated.status_code == 401
    validate_response("/incidents", "get", 401, unauthenticated.json())
    sbx.simulate_rate_limit(1)
    limited = pd.get("/incidents")
    assert limited.status_code == 429
    validate_response("/incidents", "get", 429, limited.json())


def test_incident_lifecycle_is_pagerdutys(pd, history):
    by_key = {i["incident_key"]: i for i in pd.get("/incidents").json()["incidents"]}
    triggered, acknowledged, resolved = by_key["k0"], by_key["k1"], by_key["k2"]
    assert [triggered["status"], acknowledged["status"], resolved["status"]] == [
        "triggered", "acknowledged", "resolved"]
    assert triggered["priority"] is None and triggered["resolved_at"] is None
    assert acknowledged["acknowledgements"] and acknowledged["assignments"]
    # Resolution empties acknowledgements and assignments: ack time lives in the log entries.
    assert resolved["acknowledgements"] == [] and resolved["assignments"] == []
    assert resolved["resolved_at"] is not None
    entries = pd.get(f"/incidents/{resolved['id']}/log_entries").json()["log_entries"]
    assert [e["type"] for e in entries] == [
        "resolve_log_entry", "acknowledge_log_entry", "assign_log_entry", "trigger_log_entry"]
    assert resolved["first_trigger_log_entry"]["id"] == entries[-1]["id"]
    notes = pd.get(f"/incidents/{by_key['k0']['id']}/notes").json()["notes"]
    assert notes[0]["content"].startswith("Post-mortem: ")


def test_incidents_filters_and_sorting(pd, history):
    def ids(**params):
        return [i["incident_key"] for i in pd.get("/incidents", **params).json()["incidents"]]

    assert ids() == ["k0", "k1", "k2"]
    assert ids(sort_by="incident_number:desc") == ["k2", "k1", "k0"]
    assert ids(**{"statuses[]": ["triggered", "acknowledged"]}) == ["k0", "k1"]
    assert ids(**{"service_ids[]": "PLEGWEB"}) == []
    assert ids(**{"service_ids[]": "PLEGAPI"}) == ["k0", "k1", "k2"]
    assert ids(date_range="all", incident_key="k1") == ["k1"]
    # A window that ended before the incidents were created.
    assert ids(since="2026-09-01T00:00:00Z", until="2026-10-01T00:00:00Z") == []


# ---------------------------------------------------------------------- paging


@pytest.fixture
def thirty_incidents(pd):
    for n in range(30):
        assert pd.event("trigger", f"page-{n:02d}", summary=f"incident {n}").status_code == 202


def test_classic_paging(pd, thirty_incidents):
    first = pd.get("/incidents").json()
    assert (len(first["incidents"]), first["limit"], first["offset"], first["more"],
            first["total"]) == (25, 25, 0, True, None)
    rest = pd.get("/incidents", offset=25, total="true").json()
    assert (len(rest["incidents"]), rest["more"], rest["total"]) == (5, False, 30)
    keys = [i["incident_key"] for i in first["incidents"] + rest["incidents"]]
    assert keys == [f"page-{n:02d}" for n in range(30)]


def test_limit_over_100_is_clamped_and_echoed(pd, thirty_incidents):
    body = pd.get("/incidents", limit=500).json()
    assert body["limit"] == 100 and len(body["incidents"]) == 30 and body["more"] is False


def test_offset_plus_limit_over_10000_is_refused_like_pagerduty(pd):
    assert pd.get("/incidents", offset=9900, limit=100).status_code == 200
    refused = pd.get("/incidents", offset=9901, limit=100)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 2002
    assert "Offset+limit exceeds maximum allowed value of 10000" in refused.json()["error"]["errors"][0]


def test_paging_through_the_pagerduty_library(sbx, thirty_incidents, monkeypatch):
    import pagerduty

    monkeypatch.setenv("SSL_CERT_FILE", sbx.ca_bundle)
    client = pagerduty.RestApiV2Client(sbx.pagerduty_token, base_url=sbx.pagerduty_url)
    assert len(list(client.iter_all("incidents", page_size=7))) == 30
    assert client.get_total("incidents") == 30


@pytest.mark.parametrize("params", [
    {"since": "2026-01-01T00:00:00Z", "until": "2026-08-01T00:00:00Z"},
    {"until": "2026-10-01T00:00:00Z", "since": "2026-03-31T00:00:00Z"},
])
def test_windows_over_six_months_are_refused(pd, params):
    for path in ("/incidents", "/log_entries"):
        response = pd.get(path, **params)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == 2005


def test_six_months_exactly_is_accepted(pd):
    assert pd.get("/incidents", since="2026-04-01T00:00:00Z",
                  until="2026-10-01T00:00:00Z").status_code == 200


def test_bad_paging_arguments_are_400(pd):
    for params in ({"limit": "x"}, {"limit": 0}, {"offset": -1}):
        assert pd.get("/incidents", **params).status_code == 400


# ---------------------------------------------------------------------- auth and limits


def test_401_without_token_with_wrong_token_and_after_revocation(pd, sbx):
    url = pd.url + "/services"
    assert requests.get(url, verify=sbx.ca_bundle, timeout=10).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Token token=nope"},
                         verify=sbx.ca_bundle, timeout=10)
    assert wrong.status_code == 401
    assert wrong.json() == {"error": {"message": "Authentication failed", "code": 2006}}
    assert pd.get("/services").status_code == 200
    sbx.revoke_token()
    assert pd.get("/services").status_code == 401


def test_simulated_429_carries_ratelimit_headers_then_clears(pd, sbx):
    sbx.simulate_rate_limit(2, reset_seconds=3)
    for _ in range(2):
        response = pd.get("/incidents")
        assert response.status_code == 429
        assert response.headers["ratelimit-reset"] == "3"
        assert response.headers["ratelimit-remaining"] == "0"
        assert int(response.headers["ratelimit-limit"]) > 0
    assert pd.get("/incidents").status_code == 200


def test_per_minute_budget(pd, sbx):
    sbx.simulate_rate_limit(per_minute=3)
    codes = [pd.get("/services").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert 1 <= int(pd.get("/services").headers["ratelimit-reset"]) <= 60


def test_request_counts_per_path_and_route(pd, history, sbx):
    sbx.clear_request_counts()
    incident_id = history["incidents"][0]["id"]
    pd.get("/incidents")
    pd.get("/incidents")
    pd.get(f"/incidents/{incident_id}/log_entries")
    counts = sbx.request_counts()
    assert counts["paths"]["pagerduty"]["GET /incidents"] == 2
    assert counts["routes"]["pagerduty"]["GET /incidents/{id}/log_entries"] == 1
    assert counts["totals"]["pagerduty"] == 3


# ---------------------------------------------------------------------- events API


def test_events_dedup_like_pagerduty(pd, sbx):
    assert pd.event("trigger", "dedup-1").json() == {
        "status": "success", "message": "Event processed", "dedup_key": "dedup-1"}
    pd.event("trigger", "dedup-1", summary="again")
    assert len(pd.get("/incidents").json()["incidents"]) == 1
    pd.event("resolve", "dedup-1")
    pd.event("trigger", "dedup-1", summary="it is back")  # a resolved alert opens anew
    assert [i["status"] for i in pd.get("/incidents").json()["incidents"]] == ["resolved",
                                                                              "triggered"]
    events = sbx.pagerduty_events()
    assert [e["event"]["event_action"] for e in events] == ["trigger", "trigger", "resolve",
                                                            "trigger"]
    assert all(e["accepted"] for e in events)


def test_invalid_events_are_400_and_recorded(pd, sbx):
    assert pd.event("trigger", "x", routing_key="R" * 32).status_code == 400
    no_payload = requests.post(pd.url + "/v2/enqueue", json={
        "routing_key": sbx.pagerduty_routing_key, "event_action": "trigger"},
        verify=sbx.ca_bundle, timeout=10)
    assert no_payload.status_code == 400
    assert no_payload.json()["status"] == "invalid event"
    assert [e["accepted"] for e in sbx.pagerduty_events()] == [False, False]


def test_events_through_the_pagerduty_library(sbx, monkeypatch):
    import pagerduty

    monkeypatch.setenv("SSL_CERT_FILE", sbx.ca_bundle)
    client = pagerduty.EventsApiV2Client(sbx.pagerduty_routing_key,
                                         base_url=sbx.pagerduty_url)
    assert client.trigger("backup missed", "legacy-prod-db", dedup_key="backup:x") == "backup:x"
    assert sbx.pagerduty_events()[0]["event"]["payload"]["summary"] == "backup missed"


# ---------------------------------------------------------------------- schedules


def test_schedule_renders_weekly_rotation_with_full_coverage(pd):
    schedule = pd.get("/schedules/PSCHPRI", since="2026-10-01T00:00:00Z",
                      until="2026-11-01T00:00:00Z").json()["schedule"]
    final = schedule["final_schedule"]
    assert final["rendered_coverage_percentage"] == 100.0
    entries = final["rendered_schedule_entries"]
    assert entries[0]["start"] == "2026-10-01T00:00:00Z"
    assert entries[-1]["end"] == "2026-11-01T00:00:00Z"
    # Hand-offs are Mondays 09:00 New York (13:00 UTC in October, EDT).
    assert [e["start"] for e in entries[1:]] == [
        "2026-10-05T13:00:00Z", "2026-10-12T13:00:00Z", "2026-10-19T13:00:00Z",
        "2026-10-26T13:00:00Z"]
    users = [e["user"]["id"] for e in entries]
    assert all(a != b for a, b in itertools.pairwise(users))


def test_hand_off_keeps_local_time_across_dst(pd):
    schedule = pd.get("/schedules/PSCHPRI", since="2026-10-30T00:00:00Z",
                      until="2026-11-10T00:00:00Z").json()["schedule"]
    starts = [e["start"] for e in schedule["final_schedule"]["rendered_schedule_entries"][1:]]
    assert starts == ["2026-11-02T14:00:00Z", "2026-11-09T14:00:00Z"]  # 09:00 EST


def test_primary_and_secondary_never_the_same_person(pd):
    def who(schedule_id):
        body = pd.get(f"/schedules/{schedule_id}", since="2026-10-01T00:00:00Z",
                      until="2026-11-01T00:00:00Z").json()
        return [(e["start"], e["user"]["id"])
                for e in body["schedule"]["final_schedule"]["rendered_schedule_entries"]]

    primary, secondary = who("PSCHPRI"), who("PSCHSEC")
    assert [s for s, _ in primary] == [s for s, _ in secondary]
    assert all(p != s for (_, p), (_, s) in zip(primary, secondary))


def test_oncalls_now_follow_the_escalation_policy(pd, sbx):
    oncalls = pd.get("/oncalls").json()
    assert oncalls["limit"] == 25
    levels = {o["escalation_level"]: o for o in oncalls["oncalls"]}
    assert sorted(levels) == [1, 2, 3, 4, 5]
    assert levels[1]["schedule"]["id"] == "PSCHPRI"
    assert levels[2]["schedule"]["id"] == "PSCHSEC"
    assert [levels[n]["user"]["id"] for n in (3, 4, 5)] == ["PUSRTL1", "PUSRPM1", "PUSRSP1"]
    assert levels[3]["start"] is None and levels[3]["schedule"] is None
    # The fixed now, 2026-11-02T12:00Z, is inside the shift that ends at that day's hand-off.
    assert levels[1]["start"] == "2026-10-26T13:00:00Z"
    assert levels[1]["end"] == "2026-11-02T14:00:00Z"


def test_escalation_policy_levels(pd):
    policy = pd.get("/escalation_policies/PESCPOL").json()["escalation_policy"]
    targets = [[(t["type"], t["id"]) for t in rule["targets"]]
               for rule in policy["escalation_rules"]]
    assert targets == [[("schedule_reference", "PSCHPRI")], [("schedule_reference", "PSCHSEC")],
                       [("user_reference", "PUSRTL1")], [("user_reference", "PUSRPM1")],
                       [("user_reference", "PUSRSP1")]]
    assert {s["id"] for s in policy["services"]} == {"PLEGAPI", "PLEGWEB"}


def test_priorities_most_severe_first_and_ids_from_the_estate(pd):
    priorities = pd.get("/priorities").json()["priorities"]
    assert [p["id"] for p in priorities] == ["PPRIP00", "PPRIP01", "PPRIP02", "PPRIP03",
                                             "PPRIP05"]


# ---------------------------------------------------------------------- maintenance windows


def test_maintenance_windows_need_from_and_delete_like_pagerduty(pd, history):
    body = {"maintenance_window": {"start_time": "2030-01-01T07:00:00Z",
                                   "end_time": "2030-01-01T11:00:00Z",
                                   "services": [{"id": "PLEGAPI", "type": "service_reference"}]}}
    missing_from = pd.post("/maintenance_windows", body)
    assert missing_from.status_code == 400 and missing_from.json()["error"]["code"] == 2011
    unknown_service = pd.post("/maintenance_windows", {"maintenance_window": {
        **body["maintenance_window"], "services": [{"id": "PNOPE00"}]}}, From=EMAIL)
    assert unknown_service.status_code == 400
    window_id = history["window"]["id"]
    assert pd.get("/maintenance_windows", filter="future").json()["maintenance_windows"][0][
        "id"] == window_id
    assert pd.delete(f"/maintenance_windows/{window_id}").status_code == 204
    assert pd.get(f"/maintenance_windows/{window_id}").status_code == 404


def test_removed_resources_are_missing(pd, sbx):
    sbx.remove("pagerduty_schedule", "PSCHSEC")
    assert pd.get("/schedules/PSCHSEC").status_code == 404
    assert {o["escalation_level"] for o in pd.get("/oncalls").json()["oncalls"]} == {1, 3, 4, 5}
