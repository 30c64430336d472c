"""CloudWatch: GetMetricData packing (call count = the minimum, against moto), NextToken paging
(botocore Stubber, since moto never pages), and the collection operator's bad-input table."""

from __future__ import annotations

import datetime as dt
import math
import types

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from estate_ops.hooks.cloudwatch import (
    MAX_POINTS_PER_CALL,
    MAX_QUERIES_PER_CALL,
    MetricQuery,
    fetch_metric_data,
    minimum_calls,
    pack_queries,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

UTC = dt.UTC
DAY = dt.datetime(2026, 10, 20, tzinfo=UTC)


def queries(n_checks: int, period: int, days: int = 1) -> list[MetricQuery]:
    return [MetricQuery(f"q{i}_{m}", "AWS/Route53", metric, {"HealthCheckId": f"hc-{i}"}, stat, period, DAY,
                        DAY + dt.timedelta(days=days))
            for i in range(n_checks)
            for m, (metric, stat) in enumerate((("HealthCheckStatus", "Minimum"),
                                                ("HealthCheckPercentageHealthy", "Average")))]


class Counting:
    def __init__(self, client):
        self.client, self.calls, self.requests = client, 0, []

    def get_metric_data(self, **kwargs):
        self.calls += 1
        self.requests.append(kwargs)
        return self.client.get_metric_data(**kwargs)


@pytest.mark.parametrize(
    ("n_checks", "period", "days", "expected_minimum"),
    [
        (3, 60, 1, 1),  # the sandbox estate: 6 queries, 8,640 points
        (300, 60, 1, 9),  # 600 queries x 1,440 = 864,000 points: points bound (8.57 -> 9)
        (300, 300, 1, 2),  # 600 queries x 288: the 500-query bound
        (1, 60, 80, 2),  # one query of 115,200 points: split in time
    ],
)
def test_call_count_against_moto_is_the_minimum(n_checks, period, days, expected_minimum):
    qs = queries(n_checks, period, days)
    if days > 1:
        qs = qs[:1]
    points = sum(q.points for q in qs)
    assert minimum_calls(qs) == expected_minimum == max(math.ceil(len(qs) / 500), math.ceil(points / 100_800))
    with mock_aws():
        client = Counting(boto3.client("cloudwatch", region_name="us-east-1"))
        t0 = DAY.replace(tzinfo=None)
        client.client.put_metric_data(Namespace="AWS/Route53", MetricData=[
            {"MetricName": "HealthCheckStatus", "Dimensions": [{"Name": "HealthCheckId", "Value": "hc-0"}],
             "Timestamp": t0 + dt.timedelta(minutes=m), "Value": 1.0} for m in range(30)])
        result = fetch_metric_data(client, qs)
    assert client.calls == expected_minimum
    for request in client.requests:
        assert len(request["MetricDataQueries"]) <= MAX_QUERIES_PER_CALL
        span = (request["EndTime"] - request["StartTime"]).total_seconds()
        assert sum(span // q["MetricStat"]["Period"] for q in request["MetricDataQueries"]) <= MAX_POINTS_PER_CALL
    # what moto returns for HealthCheckStatus: one value per period start that has data
    stamps, values = result[qs[0].id]
    assert len(stamps) == (30 if period == 60 else 6) and set(values) == {1.0}  # 5-min buckets: 6
    assert stamps == sorted(stamps)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([60, 300, 3600]), st.integers(1, 3)), min_size=1, max_size=1200))
def test_packing_respects_limits_and_stays_within_five_percent_of_the_minimum(specs):
    qs = [MetricQuery(f"q{i}", "AWS/Route53", "HealthCheckStatus", {"HealthCheckId": f"h{i}"}, "Minimum", period,
                      DAY, DAY + dt.timedelta(days=days)) for i, (period, days) in enumerate(specs)]
    calls = pack_queries(qs)
    assert sorted(q.id for c in calls for q in c.queries) == sorted(q.id for q in qs)
    for call in calls:
        assert len(call.queries) <= MAX_QUERIES_PER_CALL and call.points <= MAX_POINTS_PER_CALL
    # one GetMetricData has one time range: the minimum is taken per time range
    by_range: dict = {}
    for q in qs:
        by_range.setdefault((q.start, q.end), []).append(q)
    minimum = sum(minimum_calls(group) for group in by_range.values())
    assert len(calls) <= max(minimum * 1.05, minimum + 1)


def test_next_token_is_followed_and_pages_are_joined():
    client = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    q = queries(1, 60)[:1]
    t1, t2 = DAY, DAY + dt.timedelta(minutes=1)
    with Stubber(client) as stub:
        stub.add_response("get_metric_data", {
            "MetricDataResults": [{"Id": q[0].id, "Timestamps": [t2], "Values": [0.0], "StatusCode": "PartialData"}],
            "NextToken": "page-2"})
        stub.add_response("get_metric_data", {
            "MetricDataResults": [{"Id": q[0].id, "Timestamps": [t1], "Values": [1.0], "StatusCode": "Complete"}]},
            expected_params={"MetricDataQueries": [q[0].as_api()], "StartTime": q[0].start, "EndTime": q[0].end,
                             "ScanBy": "TimestampAscending", "NextToken": "page-2"})
        counting = Counting(client)
        result = fetch_metric_data(counting, q)
        stub.assert_no_pending_responses()
    assert counting.calls == 2
    assert result[q[0].id] == ([t1, t2], [1.0, 0.0])


def test_unknown_result_id_is_an_error():
    fake = types.SimpleNamespace(get_metric_data=lambda **_: {"MetricDataResults": [{"Id": "nope"}]})
    from estate_ops.hooks.cloudwatch import CloudWatchError

    with pytest.raises(CloudWatchError, match="unknown query id 'nope'"):
        fetch_metric_data(fake, queries(1, 60)[:1])


# --------------------------------------------------------------------------- ALB target groups with Route 53 checks


def _endpoints(n_route53: int, n_alb: int) -> list:
    from estate_ops.config import HealthCheck

    checks = [HealthCheck(id=f"0b6a7a4e-0000-4000-8000-{i:012x}", name=f"check-{i}") for i in range(n_route53)]
    checks += [HealthCheck(kind="alb_target_group", name=f"tg-{i}", load_balancer=f"app/lb-{i % 7}/{i:016x}",
                           target_group=f"targetgroup/tg-{i}/{i:016x}") for i in range(n_alb)]
    return checks


class _MotoHook:
    """What RegionalCloudWatch holds per region: get_metric_data through fetch_metric_data, counted."""

    def __init__(self, region: str):
        self.region = region
        self.client = Counting(boto3.client("cloudwatch", region_name=region))

    @property
    def calls(self) -> int:
        return self.client.calls

    def get_metric_data(self, qs):
        return fetch_metric_data(self.client, qs)


def _estate(region: str, checks: list):
    return types.SimpleNamespace(aws=types.SimpleNamespace(region=region, conn_id="aws_default"),
                                 health_checks=checks)


@pytest.mark.parametrize(("n_route53", "n_alb"), [(3, 1), (3, 40), (300, 300)])
def test_both_kinds_are_collected_together_in_the_fewest_calls(n_route53, n_alb):
    from estate_ops.operators.availability import (
        RegionalCloudWatch,
        collect_health_day,
        health_queries,
    )

    checks = _endpoints(n_route53, n_alb)
    alb = checks[n_route53]
    # 2 healthy hosts, then none for minutes 600-611, one for 612-629, and no datapoint for 700-759
    hosts = {m: 0.0 if 600 <= m < 612 else 1.0 if 600 <= m < 630 else 2.0 for m in range(1440) if not 700 <= m < 760}
    with mock_aws():
        regional = RegionalCloudWatch("aws_default", {"us-east-1": _MotoHook("us-east-1")})
        t0 = DAY.replace(tzinfo=None)
        regional["us-east-1"].client.client.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
            {"MetricName": "HealthyHostCount", "Timestamp": t0 + dt.timedelta(minutes=m), "Value": v,
             "Dimensions": [{"Name": "LoadBalancer", "Value": alb.load_balancer},
                            {"Name": "TargetGroup", "Value": alb.target_group}]} for m, v in hosts.items()])
        health, calls = collect_health_day(_estate("us-east-1", checks), DAY.date(), DAY + dt.timedelta(days=2),
                                           cloudwatch=regional)
    qs = health_queries(checks, DAY.date(), 60)
    assert len(qs) == 2 * n_route53 + n_alb  # an ALB target group is one query (HealthyHostCount Minimum)
    assert calls == minimum_calls(qs) == max(math.ceil(len(qs) / 500), math.ceil(len(qs) * 1440 / 100_800))
    row = health.status[health.check_ids.index(alb.id)]
    expected = np.array([np.nan if m not in hosts else float(hosts[m] >= 1) for m in range(1440)])
    np.testing.assert_array_equal(row, expected)
    assert int(np.count_nonzero(row == 0)) == 12
    assert np.isnan(health.percent_healthy[health.check_ids.index(alb.id)]).all()


def test_alb_metrics_are_read_in_the_estates_region_route53_in_us_east_1():
    from estate_ops.operators.availability import (
        RegionalCloudWatch,
        collect_health_day,
        health_queries,
    )

    checks = _endpoints(300, 20)
    with mock_aws():
        hooks = {r: _MotoHook(r) for r in ("us-east-1", "eu-west-1")}
        regional = RegionalCloudWatch("aws_default", hooks)
        _health, calls = collect_health_day(_estate("eu-west-1", checks), DAY.date(), DAY + dt.timedelta(days=2),
                                            cloudwatch=regional)
    qs = health_queries(checks, DAY.date(), 60)
    route53_qs = [q for q in qs if q.namespace == "AWS/Route53"]
    alb_qs = [q for q in qs if q.namespace == "AWS/ApplicationELB"]
    # one request reaches one region: the fewest calls are each region's minimum
    assert hooks["us-east-1"].calls == minimum_calls(route53_qs) == 9
    assert hooks["eu-west-1"].calls == minimum_calls(alb_qs) == 1
    assert calls == 10
    for region, namespace in (("us-east-1", "AWS/Route53"), ("eu-west-1", "AWS/ApplicationELB")):
        assert {q["MetricStat"]["Metric"]["Namespace"] for r in hooks[region].client.requests
                for q in r["MetricDataQueries"]} == {namespace}
