"""Sentry and Mixpanel hooks (hooks/sentry.py, hooks/mixpanel.py) against the sandbox's stand-ins:
Link-header paging to results="false", rate-limit headers and 429 waits, scopes, bad report ids."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from estate_ops.hooks.mixpanel import (
    MixpanelAuthError,
    MixpanelHook,
    MixpanelReportNotFound,
)
from estate_ops.hooks.sentry import (
    SentryAuthError,
    SentryHook,
    SentryNotFoundError,
    SentryScopeError,
    next_cursor,
)

from sandbox.sentry import SENTRY_ORG_ONLY_TOKEN

OCT_START = dt.datetime(2026, 10, 1, 4, tzinfo=dt.UTC)  # ET month bounds
OCT_END = dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC)
ORG = "legacy"


def sentry_hook() -> SentryHook:
    hook = SentryHook()
    hook.waits = []
    hook.sleep = hook.waits.append  # record the waits instead of sleeping
    return hook


def mixpanel_hook(**kw) -> MixpanelHook:
    hook = MixpanelHook(**kw)
    hook.waits = []
    hook.sleep = hook.waits.append
    return hook


@pytest.fixture
def conn_env(monkeypatch):
    """Replace one AIRFLOW_CONN_* for a test, from the sandbox's definition."""
    def edit(name: str, **changes):
        conn = json.loads(os.environ[name]) | changes
        monkeypatch.setenv(name, json.dumps(conn))
    return edit


# ------------------------------------------------------------------ Link header

@pytest.mark.parametrize("header,expected", [
    (('<https://s/api/0/x/?&cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
     '<https://s/api/0/x/?&cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"'), "0:100:0"),
    (('<https://s/x/?cursor=0:0:1>; rel="previous"; results="true"; cursor="0:0:1", '
     '<https://s/x/?cursor=0:200:0>; rel="next"; results="false"; cursor="0:200:0"'), None),
    ("", None), (None, None),
])
def test_next_cursor_follows_results_true_only(header, expected):
    assert next_cursor(header) == expected


# ------------------------------------------------------------------ Sentry

def test_issues_are_paged_by_the_link_header_until_results_false(sandbox):
    hook = sentry_hook()
    sandbox.clear_request_counts()
    issues = list(hook.issues(ORG, "is:unresolved", OCT_START - dt.timedelta(days=31), OCT_END))
    ids = [i["id"] for i in issues]
    assert len(ids) == len(set(ids)) > 100  # more than one page, none twice
    pages = -(-len(ids) // 100)
    assert hook.calls == pages
    assert sandbox.request_counts()["totals"]["sentry"] == pages
    assert all(i["status"] == "unresolved" for i in issues)
    assert all(OCT_START - dt.timedelta(days=31) <= dt.datetime.fromisoformat(i["lastSeen"]) < OCT_END
               for i in issues)


def test_a_429_waits_for_the_reset_header_and_retries(sandbox):
    hook = sentry_hook()
    sandbox.simulate_rate_limit(next_n=2, reset_seconds=5, api="sentry")
    issues = list(hook.issues(ORG, "is:unresolved", OCT_START, OCT_END))
    assert issues and hook.throttled == 2
    assert len(hook.waits) == 2 and all(0.5 <= w <= 6 for w in hook.waits)


def test_remaining_zero_waits_before_the_next_request(sandbox):
    hook = sentry_hook()
    sandbox.simulate_rate_limit(per_minute=1, reset_seconds=1, api="sentry")
    hook.stats_v2(ORG, OCT_START, OCT_END)  # answered with X-Sentry-Rate-Limit-Remaining: 0
    assert hook.waits == []
    sandbox.clear_rate_limits()  # the window has reset by the time the hook has waited
    sandbox.clear_request_counts()
    hook.stats_v2(ORG, OCT_START, OCT_END)
    assert len(hook.waits) == 1 and 0 < hook.waits[0] <= 1.5  # waited for Reset before sending
    assert hook.throttled == 0 and sandbox.request_counts()["totals"]["sentry"] == 1


def test_stats_v2_counts_by_outcome_and_category(sandbox):
    stats = sentry_hook().stats_v2(ORG, OCT_START, OCT_END)
    hours = int((OCT_END - OCT_START).total_seconds() // 3600)
    assert len(stats["intervals"]) == hours
    by = {(g["by"]["outcome"], g["by"]["category"]): g for g in stats["groups"]}
    assert {("accepted", "error"), ("filtered", "error"), ("accepted", "transaction")} <= set(by)
    group = by[("accepted", "error")]
    assert group["totals"]["sum(quantity)"] == sum(group["series"]["sum(quantity)"]) > 0


def test_a_token_without_the_issues_scope_is_named(sandbox, conn_env):
    conn_env("AIRFLOW_CONN_SENTRY_DEFAULT", password=SENTRY_ORG_ONLY_TOKEN)
    hook = sentry_hook()
    hook.stats_v2(ORG, OCT_START, OCT_END)  # org:read is enough here
    with pytest.raises(SentryScopeError, match="lacks the scope 'event:read'"):
        list(hook.issues(ORG, "is:unresolved", OCT_START, OCT_END))


def test_a_wrong_token_and_an_unknown_organisation(sandbox, conn_env):
    with pytest.raises(SentryNotFoundError, match="organization 'nope'.*monitoring.sentry.organization"):
        sentry_hook().stats_v2("nope", OCT_START, OCT_END)
    conn_env("AIRFLOW_CONN_SENTRY_DEFAULT", password="sntrys_wrong")
    with pytest.raises(SentryAuthError, match="401"):
        sentry_hook().stats_v2(ORG, OCT_START, OCT_END)


# ------------------------------------------------------------------ Mixpanel

def test_a_saved_report_is_one_query_with_the_project_id(sandbox):
    hook = mixpanel_hook()
    sandbox.clear_request_counts()
    report = hook.insights(70001, "monitoring.mixpanel.reports.dau")
    (series,) = report["series"].values()
    assert len(series) == 90 and all(isinstance(v, int) for v in series.values())
    paths = sandbox.request_counts()["paths"]["mixpanel"]
    assert paths == {"GET /api/query/insights": 1} and hook.calls == 1


def test_mixpanel_429_waits_for_retry_after(sandbox):
    hook = mixpanel_hook()
    sandbox.simulate_rate_limit(next_n=1, reset_seconds=7, api="mixpanel")
    hook.insights(70002, "monitoring.mixpanel.reports.wau")
    assert hook.throttled == 1 and hook.waits == [7.0] and hook.calls == 2


def test_a_report_id_that_does_not_exist_is_named(sandbox):
    with pytest.raises(MixpanelReportNotFound, match=r"no saved report 99 \(monitoring.mixpanel.reports.mau\)"):
        mixpanel_hook().insights(99, "monitoring.mixpanel.reports.mau")


def test_a_wrong_secret_or_project(sandbox, conn_env):
    with pytest.raises(MixpanelAuthError, match="project 1 "):
        mixpanel_hook(project_id=1).insights(70001, "dau")
    conn_env("AIRFLOW_CONN_MIXPANEL_DEFAULT", password="wrong")
    with pytest.raises(MixpanelAuthError, match="401"):
        mixpanel_hook().insights(70001, "dau")
