"""The Sentry and Mixpanel stand-ins' wire formats, spoken to directly (no hook in between)."""

from __future__ import annotations

import base64

import requests

from sandbox.mixpanel import MIXPANEL_CREDENTIALS
from sandbox.sentry import SENTRY_TOKEN

SENTRY_AUTH = {"Authorization": f"Bearer {SENTRY_TOKEN}"}
MIXPANEL_AUTH = {"Authorization": "Basic " + base64.b64encode(MIXPANEL_CREDENTIALS.encode()).decode()}
RANGE = {"start": "2026-10-01T04:00:00Z", "end": "2026-11-01T04:00:00Z"}


def test_sentry_answers_with_rate_limit_headers_and_a_link_header(sandbox):
    url = sandbox.info["sentry_url"] + "/api/0/organizations/legacy/issues/"
    response = requests.get(url, params={**RANGE, "query": "is:unresolved"}, headers=SENTRY_AUTH, timeout=10)
    assert response.status_code == 200
    for header in ("Limit", "Remaining", "Reset", "ConcurrentLimit", "ConcurrentRemaining"):
        assert f"X-Sentry-Rate-Limit-{header}" in response.headers
    link = response.headers["Link"]
    assert 'rel="previous"; results="false"; cursor="0:0:1"' in link
    assert 'rel="next"; results="true"; cursor="0:100:0"' in link


def test_sentry_refuses_what_sentry_refuses(sandbox):
    base = sandbox.info["sentry_url"] + "/api/0/organizations/legacy/stats_v2/"
    no_group = requests.get(base, params={**RANGE, "field": "sum(quantity)"}, headers=SENTRY_AUTH, timeout=10)
    assert no_group.status_code == 400 and "groupBy" in no_group.json()["detail"]
    unauthenticated = requests.get(base, params={**RANGE, "field": "sum(quantity)", "groupBy": "outcome"}, timeout=10)
    assert unauthenticated.status_code == 401 and unauthenticated.json() == {"detail": "Invalid token"}


def test_sentry_429_carries_the_real_headers(sandbox):
    sandbox.simulate_rate_limit(next_n=1, reset_seconds=3, api="sentry")
    url = sandbox.info["sentry_url"] + "/api/0/organizations/legacy/stats_v2/"
    response = requests.get(url, params={**RANGE, "field": "sum(quantity)", "groupBy": "outcome"},
                            headers=SENTRY_AUTH, timeout=10)
    assert response.status_code == 429
    assert response.headers["X-Sentry-Rate-Limit-Remaining"] == "0"
    assert int(response.headers["X-Sentry-Rate-Limit-Reset"]) > 0


def test_mixpanel_needs_project_id_on_every_call(sandbox):
    url = sandbox.info["mixpanel_url"] + "/api/query/insights"
    missing = requests.get(url, params={"bookmark_id": 70001}, headers=MIXPANEL_AUTH, timeout=10)
    assert missing.status_code == 400 and "project_id" in missing.json()["error"]
    ok = requests.get(url, params={"bookmark_id": 70001, "project_id": 3141592}, headers=MIXPANEL_AUTH, timeout=10)
    assert ok.status_code == 200 and set(ok.json()) >= {"computed_at", "date_range", "series"}
    no_auth = requests.get(url, params={"bookmark_id": 70001, "project_id": 3141592}, timeout=10)
    assert no_auth.status_code == 401


def test_the_connections_point_at_the_stand_ins(sandbox):
    import json

    env = sandbox.airflow_connections_env()
    sentry = json.loads(env["AIRFLOW_CONN_SENTRY_DEFAULT"])
    mixpanel = json.loads(env["AIRFLOW_CONN_MIXPANEL_DEFAULT"])
    assert sentry["host"] == sandbox.info["sentry_url"] and sentry["password"] == SENTRY_TOKEN
    assert mixpanel["extra"] == {"project_id": 3141592}
    assert f"{mixpanel['login']}:{mixpanel['password']}" == MIXPANEL_CREDENTIALS
