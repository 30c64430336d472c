"""key_metric_queries (hooks/cloudwatch.py): what one period of the key-metrics report asks
CloudWatch, and how pack_queries packs it."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from estate_ops.config import load_plan
from estate_ops.domain.periods import Month
from estate_ops.hooks.cloudwatch import (
    MAX_POINTS_PER_CALL,
    MAX_QUERIES_PER_CALL,
    MetricQuery,
    _first_fit_decreasing,
    key_metric_queries,
    minimum_calls,
    pack_queries,
)
from hypothesis import given, settings
from hypothesis import strategies as st

LBS = [("app/web/0123456789abcdef", ["targetgroup/api/0123456789abcdef", "targetgroup/web/fedcba9876543210"])]


@pytest.fixture(scope="module")
def october():
    return load_plan().month_bounds(Month(2026, 10))


def test_percentiles_are_asked_for_the_whole_period_and_per_day_never_averaged(october):
    queries = key_metric_queries(LBS, ["db-1"], ["cache-1"], october.start, october.end)
    latency = [q for q in queries if q.metric == "TargetResponseTime"]
    assert {q.stat for q in latency} == {"p50", "p95", "p99"}
    whole = [q for q in latency if q.id.endswith("_period")]
    assert len(whole) == 9 and all(q.points == 1 for q in whole)  # 3 stats x (1 LB + 2 TGs)
    assert all(q.period == october.minutes * 60 for q in whole)
    assert all(q.points == 31 for q in latency if q.id.endswith("_day0"))
    assert not [q for q in queries if q.stat == "Average"]


def test_counts_are_sums_at_the_resolution_and_the_ids_unique(october):
    queries = key_metric_queries(LBS, ["db-1"], ["cache-1"], october.start, october.end, resolution=60,
                                 custom=[("Legacy/Business", "orders", {"Service": "api"}, "Sum")])
    ids = [q.id for q in queries]
    assert len(ids) == len(set(ids)) and all(i[0].islower() for i in ids)
    counts = {q.id: q for q in queries if q.metric in ("RequestCount", "HTTPCode_Target_5XX_Count",
                                                        "HTTPCode_ELB_5XX_Count", "CacheHits", "CacheMisses")}
    assert {"lb0_requests", "lb0_target5xx", "lb0_elb5xx", "tg0_requests", "tg1_target5xx", "cc0_hits",
            "cc0_misses"} <= set(counts)
    assert all(q.stat == "Sum" and q.period == 60 and q.points == october.minutes for q in counts.values())
    assert "tg0_elb5xx" not in counts  # ELB 5XX has no target-group dimension
    db = {q.id: (q.stat, q.points) for q in queries if q.namespace == "AWS/RDS"}
    assert db == {"db0_max_period": ("Maximum", 1), "db0_p95_period": ("p95", 1), "db0_max_day0": ("Maximum", 31)}


def test_a_period_cloudwatch_cannot_take_is_refused():
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="whole number of minutes"):
        key_metric_queries(LBS, [], [], start, start + dt.timedelta(seconds=90))


def test_packed_calls_respect_aws_limits(october):
    lbs = [(f"app/lb{i}/{i:016x}", [f"targetgroup/t{i}-{j}/{j:016x}" for j in range(4)]) for i in range(10)]
    queries = key_metric_queries(lbs, [f"db-{d}" for d in range(5)], ["c"], october.start, october.end,
                                 resolution=3600)
    calls = pack_queries(queries)
    assert sorted(q.id for c in calls for q in c.queries) == sorted(q.id for q in queries)
    assert all(len(c.queries) <= MAX_QUERIES_PER_CALL and c.points <= MAX_POINTS_PER_CALL for c in calls)


# ------------------------------------------------------------------ packing (pack_queries)

T0 = dt.datetime(2026, 10, 1, 4, tzinfo=dt.UTC)


def q(i: int, minutes: int, period: int = 60) -> MetricQuery:
    return MetricQuery(f"q{i}", "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": f"lb{i}"}, "Sum", period,
                       T0, T0 + dt.timedelta(minutes=minutes))


def covered(calls) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
    spans: dict[str, list] = {}
    for call in calls:
        for piece in call.queries:
            assert (piece.start, piece.end) == (call.start, call.end)
            spans.setdefault(piece.id, []).append((piece.start, piece.end))
    return {k: sorted(v) for k, v in spans.items()}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([1, 31, 745, 1440, 30_000, 44_640, 120_000]), min_size=1, max_size=60))
def test_every_query_is_asked_once_within_aws_limits_and_never_in_more_calls_than_first_fit(sizes):
    queries = [q(i, n) for i, n in enumerate(sizes)]
    calls = pack_queries(queries)
    assert all(len(c.queries) <= MAX_QUERIES_PER_CALL and c.points <= MAX_POINTS_PER_CALL for c in calls)
    spans = covered(calls)
    for query in queries:  # pieces tile [start, end) exactly
        pieces = spans[query.id]
        assert pieces[0][0] == query.start and pieces[-1][1] == query.end
        assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert len(calls) >= minimum_calls(queries)
    whole = [x for x in queries if x.points <= MAX_POINTS_PER_CALL]
    if len(whole) == len(queries):  # nothing AWS forces to split: compare with first-fit per time range
        ranges: dict = {}
        for x in queries:
            ranges.setdefault((x.start, x.end), []).append(x)
        assert len(calls) <= sum(len(_first_fit_decreasing(group)) for group in ranges.values())


def test_month_long_minute_queries_are_cut_to_pack_near_the_minimum():
    queries = [q(i, 44_640) for i in range(570)]  # two whole ones fill a request to 89 %
    calls = pack_queries(queries)
    assert len(calls) <= 1.05 * minimum_calls(queries)
    assert len(_first_fit_decreasing(queries)) == 285


def test_queries_that_fit_together_whole_are_not_cut():
    queries = [q(i, 30_000) for i in range(3)]
    calls = pack_queries(queries)
    assert len(calls) == 1 and {p.points for p in calls[0].queries} == {30_000}


def test_day_queries_follow_the_period_s_segments_across_dst():
    from zoneinfo import ZoneInfo

    from estate_ops.domain.metrics import metrics_period

    november = metrics_period("2026-11", ZoneInfo("America/New_York"))  # 1 November: 25 hours
    queries = key_metric_queries(LBS, ["db-1"], [], november.start, november.end, days=november.day_segments(),
                                 resolution=3600)
    p99 = sorted((q for q in queries if q.id.startswith("lb0_p99_day")), key=lambda q: q.start)
    # the 25-hour day's buckets start at the period's start; the EST days' at 2 November 05:00 UTC
    assert [(q.id, q.period, q.start) for q in p99] == [
        ("lb0_p99_day0", 90_000, november.start), ("lb0_p99_day1", 86_400, november.start + dt.timedelta(hours=25))]
    assert all(q.end == november.end for q in p99)
    whole = next(q for q in queries if q.id == "lb0_p99_period")
    assert whole.period == 30 * 86_400 + 3600 and whole.points == 1
    calls = pack_queries(queries)
    # the first segment shares the period's time range: two ranges, two requests
    assert len(calls) == minimum_calls(queries) + 1 == 2
    with pytest.raises(ValueError, match="day segments"):
        key_metric_queries(LBS, [], [], november.start, november.end)
