"""StatuspageHook against the Statuspage stand-in: the OAuth header, page/per_page paging, 420/429
waited out, 5xx retried, clear errors naming the connection, the page or the component."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.config import load_config
from estate_ops.hooks.statuspage import (
    PER_PAGE,
    RATE_LIMIT_REQUESTS,
    RATE_LIMIT_WINDOW_SECONDS,
    RateWindow,
    StatuspageApiError,
    StatuspageAuthError,
    StatuspageHook,
    StatuspageNotFoundError,
    _wait_seconds,
)

UTC = dt.UTC


@pytest.fixture
def sp_sandbox(sandbox_session):
    sandbox_session.clear_rate_limits()
    return sandbox_session


def _hook(page_id: str | None = None) -> StatuspageHook:
    _, estate = load_config()
    hook = StatuspageHook(page_id or estate.statuspage.page_id)
    hook.waits = []
    hook.sleep = hook.waits.append  # record the waits instead of sleeping
    return hook


def _routes(sandbox) -> dict:
    return sandbox.request_counts()["routes"].get("statuspage", {})


def _maintenance(hook: StatuspageHook, n: int, components: list[str]) -> dict:
    start = dt.datetime(2026, 12, 1, 7, tzinfo=UTC) + dt.timedelta(days=n)
    return hook.create_scheduled_maintenance(
        name=f"Maintenance {n}", body="Planned work", scheduled_for=start,
        scheduled_until=start + dt.timedelta(hours=2), component_ids=components,
        metadata={"window_id": f"win-{n}-x"})


def test_page_and_components_with_the_oauth_key(sp_sandbox):
    _, estate = load_config()
    hook = _hook()
    assert hook.page()["id"] == estate.statuspage.page_id
    ids = {c["id"] for c in hook.components()}
    assert ids == {cid for cids in estate.statuspage.components.values() for cid in cids}
    hook.check_components(estate.statuspage.components_of(["PLEGAPI"]))  # no error
    assert hook.calls == 3


def test_lists_page_until_a_short_page(sandbox):
    _, estate = load_config()
    hook = _hook()
    components = estate.statuspage.components_of(["PLEGAPI"])
    before = len(hook.incidents())
    for n in range(PER_PAGE + 5 - before):
        _maintenance(hook, n, components)
    sandbox.clear_request_counts()
    hook.calls = 0
    found = hook.incidents()
    assert len(found) == PER_PAGE + 5 and len({i["id"] for i in found}) == len(found)
    assert hook.calls == 2 == _routes(sandbox)["GET /statuspage/v1/pages/<page_id>/incidents"]
    # A query narrows the list to the marked one.
    marked = hook.incidents("win-7-x")
    assert [i["metadata"]["estate_ops"]["window_id"] for i in marked] == ["win-7-x"]


@pytest.mark.parametrize("status_code", [420, 429])
def test_rate_limit_is_waited_out_then_succeeds(sandbox, status_code):
    hook = _hook()
    sandbox.simulate_rate_limit(next_n=3, reset_seconds=4, api="statuspage")
    assert hook.page()["id"]
    assert hook.throttled == 3 and hook.calls == 4
    assert hook.waits == [4.0, 4.0, 4.0]


def test_a_write_throttled_is_made_once(sandbox):
    _, estate = load_config()
    hook = _hook()
    before = len(hook.scheduled_maintenances())
    sandbox.simulate_rate_limit(next_n=2, reset_seconds=1, api="statuspage")
    created = _maintenance(hook, 1, estate.statuspage.components_of(["PLEGWEB"]))
    assert hook.throttled == 2
    scheduled = hook.scheduled_maintenances()
    assert len(scheduled) == before + 1 and created["id"] in {i["id"] for i in scheduled}
    assert created["scheduled_for"] == "2026-12-02T07:00:00Z" and created["status"] == "scheduled"
    assert [c["id"] for c in created["components"]] == estate.statuspage.components_of(["PLEGWEB"])


def test_a_storm_that_never_ends_is_a_clear_error(sandbox):
    hook = _hook()
    sandbox.simulate_rate_limit(next_n=100, reset_seconds=1, api="statuspage")
    with pytest.raises(StatuspageApiError, match="still rate limited"):
        hook.page()


def test_wrong_page_id_is_named(sp_sandbox):
    with pytest.raises(StatuspageNotFoundError, match="'nosuchpage1'.*statuspage.page_id"):
        _hook("nosuchpage1").page()


def test_unknown_component_is_named(sp_sandbox):
    hook = _hook()
    with pytest.raises(StatuspageNotFoundError, match="no component cmpnope0001"):
        hook.check_components(["cmpnope0001"])
    with pytest.raises(StatuspageNotFoundError, match="cmpnope0001"):
        _maintenance(hook, 1, ["cmpnope0001"])


def test_revoked_key_names_the_connection(sandbox):
    sandbox.revoke_token("statuspage")
    try:
        with pytest.raises(StatuspageAuthError, match="'statuspage_default' \\(401\\)"):
            _hook().page()
    finally:
        sandbox.reset()


def test_cancelling_twice_says_it_is_gone(sandbox):
    _, estate = load_config()
    hook = _hook()
    created = _maintenance(hook, 3, estate.statuspage.components_of(["PLEGAPI"]))
    assert hook.delete_incident(created["id"]) == "deleted"
    assert hook.delete_incident(created["id"]) == "not_found"
    assert hook.incident(created["id"]) is None


def test_server_errors_are_retried_then_named():
    class Answer:
        def __init__(self, status):
            self.status_code, self.headers, self.content, self.text = status, {}, b"{}", "{}"

        def json(self):
            return {"error": "boom"}

    hook = StatuspageHook.__new__(StatuspageHook)
    hook.statuspage_conn_id, hook.page_id, hook._key = "statuspage_default", "p", "k"
    hook.calls = hook.throttled = hook.retried = 0
    hook.pace = RateWindow()
    hook.waits = []
    hook.sleep = hook.waits.append
    hook.run = lambda *a, **k: Answer(503)
    with pytest.raises(StatuspageApiError, match="answered 503 boom 5 times"):
        hook.request("GET", "/pages/p")
    assert hook.waits == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("headers,wait", [
    ({"Retry-After": "3"}, 3.0), ({"X-RateLimit-Reset": "2"}, 2.0), ({}, 1.0),
    ({"Retry-After": "soon"}, 1.0), ({"Retry-After": "0"}, 1.0), ({"Retry-After": "9999"}, 60.0)])
def test_wait_seconds(headers, wait):
    assert _wait_seconds(type("R", (), {"headers": headers})()) == wait


def test_incidents_since_stops_at_the_first_page_reaching_back_before_it(sandbox):
    _, estate = load_config()
    hook = _hook()
    seeded = hook.incidents()
    assert seeded and all(i["created_at"] < "2026-11-01" for i in seeded)  # the reference month's
    for n in range(PER_PAGE + 5):
        _maintenance(hook, n, estate.statuspage.components_of(["PLEGAPI"]))
    hook.calls = 0
    recent = hook.incidents_since(dt.datetime(2026, 11, 1, tzinfo=UTC))
    assert len(recent) == PER_PAGE + 5 and hook.calls == 2  # page 2 reaches into October: no page 3
    since_oct = hook.incidents_since(dt.datetime(2026, 10, 1, tzinfo=UTC))
    assert len(since_oct) == PER_PAGE + 5 + sum(i["created_at"] >= "2026-10-01" for i in seeded)


def test_a_key_without_write_access_is_named_and_nothing_is_posted(sandbox, monkeypatch):
    import json

    from sandbox import STATUSPAGE_READONLY_KEY

    conn = json.loads(sandbox.airflow_connections_env()["AIRFLOW_CONN_STATUSPAGE_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_STATUSPAGE_DEFAULT", json.dumps({**conn, "password": STATUSPAGE_READONLY_KEY}))
    _, estate = load_config()
    hook = _hook()
    before = hook.incidents()  # reading is allowed
    with pytest.raises(StatuspageAuthError, match="'statuspage_default' may not POST .*\\(403\\).*write access"):
        _maintenance(hook, 1, estate.statuspage.components_of(["PLEGAPI"]))
    assert hook.incidents() == before


class FakeClock:
    """A monotonic clock that moves only when slept on (or told to)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_window_allows_statuspage_s_60_per_60_seconds_and_no_more():
    assert (RATE_LIMIT_REQUESTS, RATE_LIMIT_WINDOW_SECONDS) == (60, 60.0)  # 1 request/s, 60 s rolling window
    clock = FakeClock()
    window = RateWindow(clock=clock)
    for _ in range(60):
        window.wait(clock.sleep)
        clock.now += 0.1
    assert clock.slept == []  # a burst of 60 fits the window
    window.wait(clock.sleep)  # the 61st waits until the first is 60 s old
    assert clock.slept == [pytest.approx(54.0)]
    # Whatever the pattern, no 60 s span ever holds more than 60 requests: the 61st after any
    # request is at least 60 s later.
    times = []
    for n in range(300):
        window.wait(clock.sleep)
        times.append(clock.now)
        clock.now += 0.25 if n % 7 else 3.0
    assert all(times[i + 60] - times[i] >= 60.0 - 1e-9 for i in range(len(times) - 60))
    assert any(times[i + 59] - times[i] < 60.0 for i in range(len(times) - 59))  # and it does not over-wait
    assert window.waited == pytest.approx(sum(clock.slept))


def test_the_hook_paces_its_requests_without_sleeping_in_tests(sp_sandbox):
    clock = FakeClock()
    hook = _hook()
    hook.pace = RateWindow(limit=2, window=10.0, clock=clock)
    hook.sleep = clock.sleep
    for _ in range(5):
        hook.page()
    # Two at t=0, then the 3rd waits for the window (t=10) and the 4th goes with it, the 5th at t=20.
    assert clock.slept == [pytest.approx(10.0)] * 2
    assert hook.calls == 5 and hook.throttled == 0
