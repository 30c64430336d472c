"""PagerDutyRestHook against the PagerDuty stand-in: classic paging, splitting past 10,000
records, the 6-month cap, 429 waits for ratelimit-reset, 5xx backoff, clear errors, counting."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from estate_ops.hooks.pagerduty import (
    MAX_RECORD_INDEX,
    PagerDutyApiError,
    PagerDutyAuthError,
    PagerDutyNotFoundError,
    PagerDutyRestHook,
    _reset_seconds,
    six_month_windows,
)

UTC = dt.UTC
OCT_START = dt.datetime(2026, 10, 1, tzinfo=UTC)
OCT_END = dt.datetime(2026, 11, 1, tzinfo=UTC)
SERVICES = ["PLEGAPI", "PLEGWEB"]


def _recording_hook():
    hook = PagerDutyRestHook()
    hook.waits = []
    hook.sleep = hook.waits.append  # record the waits instead of sleeping
    return hook


@pytest.fixture(scope="module")
def pd_sandbox(sandbox_session):
    """The shared sandbox, reset once for this module (a reset costs seconds): the tests here
    only read, except the revoked token, which resets again after itself."""
    sandbox_session.reset()
    return sandbox_session


@pytest.fixture
def sandbox(pd_sandbox):
    pd_sandbox.clear_rate_limits()
    return pd_sandbox


@pytest.fixture
def hook(sandbox):
    return _recording_hook()


@pytest.fixture
def offline_hook(sandbox_session):
    """A hook whose client a test replaces: the sandbox only provides the connection."""
    return _recording_hook()


def _pd_requests(sandbox, route):
    return sandbox.request_counts()["routes"].get("pagerduty", {}).get(route, 0)


def test_pages_of_100_and_every_request_counted(sandbox, hook):
    sandbox.clear_request_counts()
    entries = hook.log_entries(OCT_START, OCT_END)
    assert len(entries) > 100  # the seeded month needs several pages
    assert len({e["id"] for e in entries}) == len(entries)
    assert hook.calls == math.ceil(len(entries) / 100)
    assert _pd_requests(sandbox, "GET /log_entries") == hook.calls
    assert all(OCT_START.isoformat()[:10] <= e["created_at"][:10] < "2026-11-01" for e in entries)


def test_incidents_are_those_created_in_the_window(sandbox, hook):
    incidents = hook.incidents(SERVICES, OCT_START, OCT_END)
    titles = {i["title"] for i in incidents}
    assert "Late September incident" not in titles and "Early November incident" not in titles
    assert {i["service"]["id"] for i in incidents} <= set(SERVICES)


def test_429_waits_for_ratelimit_reset_then_succeeds(sandbox, hook):
    sandbox.simulate_rate_limit(next_n=2, reset_seconds=3)
    sandbox.clear_request_counts()
    incidents = hook.incidents(SERVICES, OCT_START, OCT_END)
    assert incidents
    assert hook.waits == [3.0, 3.0] and hook.throttled == 2
    # the two refused requests are counted too: every call is
    assert hook.calls == _pd_requests(sandbox, "GET /incidents") == 3


def test_revoked_token_is_a_clear_error_naming_the_connection(sandbox, hook):
    sandbox.revoke_token("pagerduty")
    try:
        with pytest.raises(PagerDutyAuthError, match="connection 'pagerduty_default' \\(401\\).*revoked"):
            hook.incidents(SERVICES, OCT_START, OCT_END)
    finally:
        sandbox.reset()


@pytest.mark.parametrize("call,what", [
    (lambda h: h.rendered_schedule("PNOSUCH", OCT_START, OCT_END, "schedule 'PNOSUCH' (estate.yaml x)"),
     "schedule 'PNOSUCH'"),
    (lambda h: h.service("PNOSVC", "service 'PNOSVC' (estate.yaml y)"), "service 'PNOSVC'"),
    (lambda h: h.escalation_policy("PNOPOL", "escalation policy 'PNOPOL' (estate.yaml z)"), "escalation policy"),
])
def test_unknown_ids_are_clear_errors(sandbox, hook, call, what):
    with pytest.raises(PagerDutyNotFoundError, match=f"PagerDuty has no {what}.*404"):
        call(hook)


def test_existing_get_and_exists_still_work(sandbox, hook):
    assert hook.exists("/services/PLEGAPI") == (True, "Legacy API")
    assert hook.exists("/services/PNOPE")[0] is False
    assert hook.get("/priorities")["priorities"]
    assert hook.calls == 3


def test_rendered_schedule_has_the_final_schedule(sandbox, hook):
    schedule = hook.rendered_schedule("PSCHPRI", OCT_START, OCT_END, "primary")
    entries = schedule["final_schedule"]["rendered_schedule_entries"]
    assert entries[0]["start"] == "2026-10-01T00:00:00Z" and entries[-1]["end"] == "2026-11-01T00:00:00Z"


class _Response:
    def __init__(self, status, headers=None, body=None):
        self.status_code = status
        self.headers = headers or {}
        self._body = body or {}
        self.is_success = 200 <= status < 300
        self.text = str(self._body)

    def json(self):
        return self._body


class _ScriptedClient:
    """Replays answers through the hook's response callback, as the real client's postprocess does."""

    def __init__(self, hook, answers):
        self.hook, self.answers, self.requests = hook, list(answers), []

    def get(self, path, params=None):
        self.requests.append((path, dict(params or {})))
        response = self.answers.pop(0)
        self.hook._on_response(response)
        return response


def test_5xx_is_retried_with_exponential_backoff(offline_hook):
    ok = _Response(200, body={"priorities": [], "more": False})
    offline_hook._client = _ScriptedClient(offline_hook, [_Response(502), _Response(503), _Response(500), ok])
    assert offline_hook.get("/priorities") == {"priorities": [], "more": False}
    assert offline_hook.waits == [1.0, 2.0, 4.0] and offline_hook.retried == 3 and offline_hook.calls == 4


def test_every_response_is_counted_and_429_5xx_leave_the_library_retry_loop(offline_hook):
    from estate_ops.hooks.pagerduty import _Retryable

    offline_hook._on_response(_Response(201))  # e.g. a POST made through client() by another method
    for status in (429, 500, 503):
        with pytest.raises(_Retryable):
            offline_hook._on_response(_Response(status, {"ratelimit-reset": "1"}))
    with pytest.raises(PagerDutyAuthError):
        offline_hook._on_response(_Response(401))
    assert offline_hook.calls == 5


def test_5xx_gives_up_with_the_status_after_the_retries(offline_hook):
    offline_hook._client = _ScriptedClient(offline_hook, [_Response(503, body={"error": {"message": "Service Unavailable"}})] * 5)
    with pytest.raises(PagerDutyApiError, match="503 Service Unavailable.*5 times"):
        offline_hook.get("/priorities")


def test_since_until_are_explicit_utc_and_split_at_six_months(offline_hook):
    windows = six_month_windows(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC))
    assert len(windows) == 2 and all(end - start <= dt.timedelta(days=180) for start, end in windows)
    assert windows[0][1] == windows[1][0]
    answer = _Response(200, body={"incidents": [], "more": False, "total": 0, "limit": 100})
    offline_hook._client = _ScriptedClient(offline_hook, [answer, answer])
    offline_hook.incidents(SERVICES, dt.datetime(2026, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
                   dt.datetime(2026, 12, 1, tzinfo=UTC))
    (_, first), (_, second) = offline_hook._client.requests
    assert first["since"] == "2026-01-01T10:00:00Z" and first["offset"] == 0 and first["limit"] == 100
    assert first["until"] == second["since"] and second["until"] == "2026-12-01T00:00:00Z"


def test_without_total_a_full_window_is_halved_before_offset_passes_10000(offline_hook):
    page = [{"id": f"X{i}"} for i in range(100)]
    # The server ignores total=true; 100 full pages then the hook must split instead of offset 10,000.
    answers = [_Response(200, body={"items": page, "more": True, "limit": 100})] * 100
    answers += [_Response(200, body={"items": [{"id": "A"}], "more": False, "limit": 100}),
                _Response(200, body={"items": [{"id": "B"}], "more": False, "limit": 100})]
    offline_hook._client = _ScriptedClient(offline_hook, answers)
    out = list(offline_hook.iter_window("/x", "items", {}, OCT_START, OCT_END))
    offsets = [p["offset"] for _, p in offline_hook._client.requests]
    assert max(offsets) + 100 <= MAX_RECORD_INDEX
    assert [p["since"] for _, p in offline_hook._client.requests[-2:]] == ["2026-10-01T00:00:00Z", "2026-10-16T12:00:00Z"]
    assert [r["id"] for r in out][-2:] == ["A", "B"] and len(out) == 102  # duplicates dropped


def test_reset_header_parsing():
    assert _reset_seconds("7") == 7.0
    assert _reset_seconds(None) == 60.0 and _reset_seconds("soon") == 60.0
    assert _reset_seconds("0") == 0.5 and _reset_seconds("9999") == 120.0


# ------------------------------------------------------------------ past 10,000 in the stand-in


@pytest.fixture(scope="module")
def bulk_sandbox(tmp_path_factory):
    """A sandbox of its own whose month holds 2,200 incidents (about 11,700 log entries)."""
    import os

    from sandbox.runner import start_sandbox

    os.environ["SANDBOX_INCIDENTS_BULK"] = "2200"
    try:
        handle = start_sandbox(tmp_path_factory.mktemp("bulk"), reference_month="2026-10",
                               now="2026-11-02T12:00:00Z", ports="auto", extra_args=["--scenarios", "incidents"])
    finally:
        del os.environ["SANDBOX_INCIDENTS_BULK"]
    saved = {k: os.environ.get(k) for k in handle.airflow_connections_env()}
    os.environ.update(handle.airflow_connections_env())
    yield handle
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    handle.stop()


@pytest.mark.slow
def test_past_10000_log_entries_the_range_is_split_by_time_with_429s_on_the_way(bulk_sandbox):
    hook = _recording_hook()
    bulk_sandbox.simulate_rate_limit(next_n=1, reset_seconds=1)
    bulk_sandbox.clear_request_counts()
    entries = hook.log_entries(OCT_START, OCT_END)
    assert len(entries) > MAX_RECORD_INDEX
    assert len({e["id"] for e in entries}) == len(entries)
    assert hook.throttled == 1 and hook.waits == [1.0]
    # Nothing is lost: every incident of the month has its trigger entry.
    incidents = hook.incidents(SERVICES, OCT_START, OCT_END)
    assert len(incidents) == 2200
    triggered = {e["incident"]["id"] for e in entries if e["type"] == "trigger_log_entry"}
    assert {i["id"] for i in incidents} <= triggered
    # Near the minimum: one wasted first page per split, a few at most.
    pages = math.ceil(len(entries) / 100) + math.ceil(len(incidents) / 100)
    assert hook.calls - hook.throttled <= pages + 5
    assert bulk_sandbox.request_counts()["totals"]["pagerduty"] == hook.calls
