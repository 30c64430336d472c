"""CloudWatch metrics: GetMetricData with as few calls as AWS allows, and ListMetrics.

GetMetricData takes at most 500 queries per request and returns at most 100,800 data points per
response (the rest behind NextToken). `pack_queries` fills each request up to both limits
(queries sharing a time range and period go together; a query longer than 100,800 points is
split in time), so collecting N points in Q queries costs max(ceil(Q/500), ceil(N/100,800))
calls, and `fetch_metric_data` follows NextToken whenever AWS pages anyway.

Route 53 health-check metrics live in us-east-1 whatever the estate's region; ALB metrics
(AWS/ApplicationELB) in the load balancer's region. One request reaches one region.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from estate_ops.hooks.aws import (
    ADAPTIVE_RETRIES,
    describe_error,
    translate_connection_errors,
)

MAX_QUERIES_PER_CALL = 500
MAX_POINTS_PER_CALL = 100_800


class CloudWatchError(RuntimeError):
    pass


@dataclass(frozen=True)
class MetricQuery:
    id: str  # unique; GetMetricData Ids must start with a lower-case letter
    namespace: str
    metric: str
    dimensions: dict[str, str] = field(hash=False)
    stat: str
    period: int  # seconds
    start: dt.datetime
    end: dt.datetime

    @property
    def points(self) -> int:
        return math.ceil((self.end - self.start).total_seconds() / self.period)

    def as_api(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "MetricStat": {
                "Metric": {"Namespace": self.namespace, "MetricName": self.metric,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(self.dimensions.items())]},
                "Period": self.period,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


@dataclass(frozen=True)
class MetricCall:
    start: dt.datetime
    end: dt.datetime
    queries: tuple[MetricQuery, ...]

    @property
    def points(self) -> int:
        return sum(q.points for q in self.queries)


def _cut(query: MetricQuery, points: int) -> list[MetricQuery]:
    """`query` in the fewest period-aligned pieces of at most `points` points, of equal length (the
    last may be shorter): queries of one length cut alike share their pieces' time ranges."""
    if query.points <= points:
        return [query]
    pieces_wanted = math.ceil(query.points / points)
    step = dt.timedelta(seconds=query.period * math.ceil(query.points / pieces_wanted))
    pieces, lo = [], query.start
    while lo < query.end:
        hi = min(lo + step, query.end)
        pieces.append(replace(query, start=lo, end=hi))
        lo = hi
    return pieces


def _first_fit_decreasing(members: list[MetricQuery]) -> list[list[MetricQuery]]:
    bins: list[list[MetricQuery]] = []
    loads: list[int] = []
    for query in sorted(members, key=lambda q: (-q.points, q.id)):
        for i, members_in_bin in enumerate(bins):
            if len(members_in_bin) < MAX_QUERIES_PER_CALL and loads[i] + query.points <= MAX_POINTS_PER_CALL:
                members_in_bin.append(query)
                loads[i] += query.points
                break
        else:
            bins.append([query])
            loads.append(query.points)
    return bins


def _balanced(members: list[MetricQuery], k: int) -> list[list[MetricQuery]] | None:
    """`members` in exactly `k` requests, each query to the least loaded request with room for one
    more query; None when that does not fit (worst-fit decreasing: it balances points and counts)."""
    heap = [(0, i) for i in range(k)]
    bins: list[list[MetricQuery]] = [[] for _ in range(k)]
    for query in sorted(members, key=lambda q: (-q.points, q.id)):
        if not heap:
            return None
        load, i = heapq.heappop(heap)
        if load + query.points > MAX_POINTS_PER_CALL:
            return None  # the least loaded request has no room: none has
        bins[i].append(query)
        if len(bins[i]) < MAX_QUERIES_PER_CALL:
            heapq.heappush(heap, (load + query.points, i))
    return bins


def _pack_range(members: list[MetricQuery]) -> list[list[MetricQuery]]:
    """Queries sharing one time range in as few requests as found: first-fit decreasing, or the
    fewest requests (from the lower bound up) that worst-fit decreasing fills, whichever is fewer."""
    best = _first_fit_decreasing(members)
    for k in range(minimum_calls(members), len(best)):
        bins = _balanced(members, k)
        if bins is not None:
            return bins
    return best


def _plan(queries: Iterable[MetricQuery], piece_points: int) -> list[MetricCall]:
    groups: dict[tuple[dt.datetime, dt.datetime], list[MetricQuery]] = defaultdict(list)
    for query in queries:
        for piece in _cut(query, piece_points):
            groups[(piece.start, piece.end)].append(piece)
    calls: list[MetricCall] = []
    for (start, end), members in sorted(groups.items()):
        calls.extend(MetricCall(start, end, tuple(b)) for b in _pack_range(members))
    return calls


# How many piece lengths `pack_queries` tries beyond keeping queries whole (each a full packing).
PIECE_CANDIDATES = 3


def _piece_lengths(queries: list[MetricQuery]) -> list[int]:
    """The piece lengths (points) that promise the fewest requests for the long queries: cutting
    each query of `n` points into s equal pieces of L points puts floor(100,800 / L) of one range in
    a request, so the long ones cost about s * ceil(count / floor(100,800 / L)); the best few s."""
    longest = max(q.points for q in queries)
    estimates = []
    for pieces in range(2, 129):
        length = math.ceil(longest / pieces)
        long_ones = sum(1 for q in queries if q.points > length)
        per_request = min(MAX_QUERIES_PER_CALL, MAX_POINTS_PER_CALL // length)
        estimates.append((pieces * math.ceil(long_ones / per_request), length))
    return [length for _, length in sorted(estimates)[:PIECE_CANDIDATES]]


def pack_queries(queries: Iterable[MetricQuery]) -> list[MetricCall]:
    """Group queries into as few GetMetricData requests as the limits allow.

    One request has one StartTime/EndTime, so queries are grouped by time range and each group
    packed under 500 queries and 100,800 points per request (`_pack_range`). A query longer than
    one response is split in time. Queries of more than a quarter of a response pack badly whole
    (two of 43,260 points fill a request to 86 %): the plans that cut them into equal pieces of
    the few most promising lengths (`_piece_lengths`: 35 pieces of 1,236 points put 81 in a
    request, 99.3 % full) are packed too, and the one needing fewest requests is taken.
    """
    queries = list(queries)
    best = _plan(queries, MAX_POINTS_PER_CALL)
    if any(q.points > MAX_POINTS_PER_CALL // 4 for q in queries):
        for length in _piece_lengths(queries):
            plan = _plan(queries, length)
            if len(plan) < len(best):
                best = plan
    return best


def minimum_calls(queries: Sequence[MetricQuery]) -> int:
    points = sum(q.points for q in queries)
    return max(math.ceil(len(queries) / MAX_QUERIES_PER_CALL), math.ceil(points / MAX_POINTS_PER_CALL))


def fetch_metric_data(client: Any, queries: Sequence[MetricQuery]) -> dict[str, tuple[list[dt.datetime], list[float]]]:
    """Every query's (timestamps, values), ascending by time; pieces of a split query are joined.

    Follows NextToken; a query id repeated, or a result id AWS did not send, is an error.
    Returns a dict keyed by query id; a query without datapoints maps to ([], []).
    """
    ids = [q.id for q in queries]
    if len(set(ids)) != len(ids):
        raise CloudWatchError("GetMetricData query ids must be unique")
    points: dict[str, dict[dt.datetime, float]] = {q.id: {} for q in queries}
    for call in pack_queries(queries):
        token = None
        while True:
            kwargs: dict[str, Any] = {"MetricDataQueries": [q.as_api() for q in call.queries],
                                      "StartTime": call.start, "EndTime": call.end,
                                      "ScanBy": "TimestampAscending"}
            if token:
                kwargs["NextToken"] = token
            answer = client.get_metric_data(**kwargs)
            for result in answer.get("MetricDataResults", []):
                if result["Id"] not in points:
                    raise CloudWatchError(f"GetMetricData returned an unknown query id {result['Id']!r}")
                if result.get("StatusCode") == "Forbidden":
                    raise CloudWatchError(f"GetMetricData: access to {result['Id']} is forbidden")
                series = points[result["Id"]]
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    series[stamp.astimezone(dt.UTC)] = float(value)
            token = answer.get("NextToken")
            if not token:
                break
    return {qid: (sorted(s), [s[t] for t in sorted(s)]) for qid, s in points.items()}


class CloudWatchMetricsHook(AwsBaseHook):
    """CloudWatch in one region (us-east-1 for Route 53 metrics); `calls` counts GetMetricData requests."""

    def __init__(self, aws_conn_id: str = "aws_default", region_name: str = "us-east-1", **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, client_type="cloudwatch", region_name=region_name, **kwargs)
        self.calls = 0

    def get_metric_data(self, queries: Sequence[MetricQuery]) -> dict[str, tuple[list[dt.datetime], list[float]]]:
        hook = self

        class _Counting:
            def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
                hook.calls += 1
                return hook.conn.get_metric_data(**kwargs)

        with translate_connection_errors(f"CloudWatch (connection {self.aws_conn_id!r})"):
            try:
                return fetch_metric_data(_Counting(), queries)
            except ClientError as exc:
                raise CloudWatchError(describe_error(exc, "cloudwatch:GetMetricData")) from exc

    def metric_dimension_values(self, namespace: str, metric: str, dimension: str) -> set[str]:
        """The values of `dimension` CloudWatch has `metric` for (data in the last two weeks)."""
        return {values[0] for values in self.metric_dimension_tuples(namespace, metric, (dimension,))}

    def metric_dimension_tuples(self, namespace: str, metric: str, dimensions: Sequence[str], *,
                                exact: bool = False) -> set[tuple[str, ...]]:
        """The value tuples of `dimensions` (in that order) of every `metric` CloudWatch has with all of
        them (data in the last two weeks), e.g. (LoadBalancer, TargetGroup) pairs. `exact`: only the
        metrics with exactly those dimensions (in CloudWatch a metric with one more dimension is
        another metric, e.g. a custom KPI published per Service and per Service + Region)."""
        found: set[tuple[str, ...]] = set()
        with translate_connection_errors(f"CloudWatch (connection {self.aws_conn_id!r})"):
            try:
                for page in self.conn.get_paginator("list_metrics").paginate(Namespace=namespace, MetricName=metric):
                    for m in page.get("Metrics", []):
                        values = {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}
                        if exact and set(values) != set(dimensions):
                            continue
                        if all(name in values for name in dimensions):
                            found.add(tuple(values[name] for name in dimensions))
            except ClientError as exc:
                raise CloudWatchError(describe_error(exc, "cloudwatch:ListMetrics")) from exc
        return found


# --------------------------------------------------------------------------- alarms

# DescribeAlarms returns at most 100 alarms a page; the Resource Groups Tagging API 100 resources.
MAX_ALARMS_PER_PAGE = 100
MAX_TAGGED_PER_PAGE = 100
# A GetResources page also ends at TagsPerPage tags (100 to 500; a page of 100 alarms with a few tags
# each would otherwise end early): the most, so that ResourcesPerPage decides.
MAX_TAGS_PER_PAGE = 500
ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]  # without AlarmTypes, composite alarms are left out


class CloudWatchAlarmsHook(AwsBaseHook):
    """Every alarm of one region (metric and composite) and their tags, in as few calls as AWS allows:
    DescribeAlarms at 100 a page, and every alarm's tags from the Resource Groups Tagging API at 100
    alarms a page (one ListTagsForResource per alarm would be 2,000 calls for 2,000 alarms).

    `calls` counts requests per IAM action, for the benchmark and the task log."""

    def __init__(self, aws_conn_id: str = "aws_default", region_name: str = "us-east-1", **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, client_type="cloudwatch", region_name=region_name, **kwargs)
        self._tagging_kwargs = kwargs
        self.calls: dict[str, int] = defaultdict(int)

    def describe_alarms(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(metric alarms, composite alarms) as DescribeAlarms returns them, every page followed."""
        metric: list[dict[str, Any]] = []
        composite: list[dict[str, Any]] = []
        action = "cloudwatch:DescribeAlarms"
        with translate_connection_errors(f"CloudWatch (connection {self.aws_conn_id!r})"):
            token = None
            while True:
                kwargs: dict[str, Any] = {"AlarmTypes": ALARM_TYPES, "MaxRecords": MAX_ALARMS_PER_PAGE}
                if token:
                    kwargs["NextToken"] = token
                try:
                    self.calls[action] += 1
                    page = self.conn.describe_alarms(**kwargs)
                except ClientError as exc:
                    raise CloudWatchError(describe_error(exc, action)) from exc
                metric.extend(page.get("MetricAlarms", []))
                composite.extend(page.get("CompositeAlarms", []))
                token = page.get("NextToken")
                if not token:
                    return metric, composite

    @cached_property
    def tagging_conn(self) -> Any:
        """The Resource Groups Tagging API client of the same connection and region."""
        return AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="resourcegroupstaggingapi",
                           region_name=self.region_name, **self._tagging_kwargs).conn

    def alarm_tags(self) -> dict[str, dict[str, str]]:
        """Alarm ARN -> its tags, for every tagged alarm of the region (an alarm absent has none)."""
        tags: dict[str, dict[str, str]] = {}
        action = "tag:GetResources"
        with translate_connection_errors(f"Resource Groups Tagging API (connection {self.aws_conn_id!r})"):
            token = ""
            while True:
                try:
                    self.calls[action] += 1
                    page = self.tagging_conn.get_resources(ResourceTypeFilters=["cloudwatch:alarm"],
                                                      ResourcesPerPage=MAX_TAGGED_PER_PAGE,
                                                      TagsPerPage=MAX_TAGS_PER_PAGE, PaginationToken=token)
                except ClientError as exc:
                    raise CloudWatchError(describe_error(exc, action)) from exc
                for mapping in page.get("ResourceTagMappingList", []):
                    tags[mapping["ResourceARN"]] = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
                token = page.get("PaginationToken") or ""
                if not token:
                    return tags

    # ------------------------------------------------------------------ the route drill's canaries

    def alarm(self, name: str) -> dict[str, Any] | None:
        """One alarm by name (metric or composite, as DescribeAlarms gives it), or None."""
        action = "cloudwatch:DescribeAlarms"
        with translate_connection_errors(f"CloudWatch (connection {self.aws_conn_id!r})"):
            try:
                self.calls[action] += 1
                page = self.conn.describe_alarms(AlarmNames=[name], AlarmTypes=ALARM_TYPES)
            except ClientError as exc:
                raise CloudWatchError(describe_error(exc, action)) from exc
        found = page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
        return found[0] if found else None

    def alarms_on_metric(self, raw: dict[str, Any]) -> list[str]:
        """The names of every alarm on the metric `raw` (a metric alarm) watches, itself included."""
        action = "cloudwatch:DescribeAlarmsForMetric"
        kwargs: dict[str, Any] = {"Namespace": raw.get("Namespace"), "MetricName": raw.get("MetricName"),
                                  "Dimensions": raw.get("Dimensions") or []}
        with translate_connection_errors(f"CloudWatch (connection {self.aws_conn_id!r})"):
            try:
                self.calls[action] += 1
                page = self.conn.describe_alarms_for_metric(**kwargs)
            except ClientError as exc:
                raise CloudWatchError(describe_error(exc, action)) from exc
        return sorted(a["AlarmName"] for a in page.get("MetricAlarms", []))

    def set_alarm_state(self, name: str, state: str, reason: str) -> None:
        """SetAlarmState: the alarm acts as if its metric had crossed (ALARM) or come back (OK)."""
        action = "cloudwatch:SetAlarmState"
        with translate_connection_errors(f"CloudWatch (connection {self.aws_conn_id!r})"):
            try:
                self.calls[action] += 1
                self.conn.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason[:1023])
            except ClientError as exc:
                raise CloudWatchError(describe_error(exc, action)) from exc


# --------------------------------------------------------------------------- key metrics (#15)

LATENCY_STATS = ("p50", "p95", "p99")


def key_metric_queries(load_balancers: Sequence[tuple[str, Sequence[str]]], databases: Sequence[str],
                       caches: Sequence[str], start: dt.datetime, end: dt.datetime, *,
                       days: Sequence[tuple[dt.datetime, dt.datetime, int]] | None = None,
                       resolution: int = 60,
                       custom: Sequence[tuple[str, str, dict[str, str], str]] = ()) -> list[MetricQuery]:
    """Every GetMetricData query of one period of the key-metrics report, to go through
    `pack_queries` together (queries of one time range share requests up to AWS's limits).

    Percentiles (TargetResponseTime p50/p95/p99, DatabaseConnections p95, a custom KPI's pXX) are
    asked for the whole period in one datapoint (Period = the period's length) and per day: one
    query per segment of `days` (`MetricsPeriod.day_segments`: runs of days of one length, so each
    bucket is one contract day even across a DST change), from the segment's start to `end`, ids
    `<base>_day0`, `<base>_day1`, ... (`domain.metrics.day_series` joins the segments' own days). `days` None: [start, end) in 86,400 s days.
    CloudWatch computes each from the raw samples, nothing is averaged. Counts (RequestCount, the
    two 5XX, CacheHits/Misses) are Sums at `resolution` seconds: sums add up to days and the
    period, and a minute without a RequestCount datapoint is a minute of no data.
    Ids: `<kind><index>_<figure>` (kind lb, tg, db, cc, kpi).
    """
    from estate_ops.domain.metrics import single_period_seconds

    whole = single_period_seconds(start, end)
    if days is None:
        if whole % 86_400:
            raise ValueError(f"{start} .. {end} is not whole days of 86,400 s: pass its day segments")
        days = [(start, end, 86_400)]
    queries: list[MetricQuery] = []

    def add(qid: str, namespace: str, metric: str, dims: dict[str, str], stat: str, period: int) -> None:
        queries.append(MetricQuery(qid, namespace, metric, dims, stat, period, start, end))

    def add_daily(qid: str, namespace: str, metric: str, dims: dict[str, str], stat: str) -> None:
        # A segment's buckets need only start at its first midnight: asked to the period's end,
        # the first segment shares the period's time range (and requests); the buckets past a
        # segment's end are not its days and `day_series` drops them.
        for k, (lo, _hi, seconds) in enumerate(days):
            queries.append(MetricQuery(f"{qid}{k}", namespace, metric, dims, stat, seconds, lo, end))

    def latency(prefix: str, dims: dict[str, str]) -> None:
        for stat in LATENCY_STATS:
            add(f"{prefix}_{stat}_period", "AWS/ApplicationELB", "TargetResponseTime", dims, stat, whole)
            add_daily(f"{prefix}_{stat}_day", "AWS/ApplicationELB", "TargetResponseTime", dims, stat)

    tg_index = 0
    for i, (lb, target_groups) in enumerate(load_balancers):
        dims = {"LoadBalancer": lb}
        latency(f"lb{i}", dims)
        add(f"lb{i}_requests", "AWS/ApplicationELB", "RequestCount", dims, "Sum", resolution)
        add(f"lb{i}_target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dims, "Sum", resolution)
        add(f"lb{i}_elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", dims, "Sum", resolution)
        for tg in target_groups:
            tg_dims = {"LoadBalancer": lb, "TargetGroup": tg}
            latency(f"tg{tg_index}", tg_dims)
            add(f"tg{tg_index}_requests", "AWS/ApplicationELB", "RequestCount", tg_dims, "Sum", resolution)
            add(f"tg{tg_index}_target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", tg_dims, "Sum",
                resolution)
            tg_index += 1
    for i, db in enumerate(databases):
        dims = {"DBInstanceIdentifier": db}
        add(f"db{i}_max_period", "AWS/RDS", "DatabaseConnections", dims, "Maximum", whole)
        add(f"db{i}_p95_period", "AWS/RDS", "DatabaseConnections", dims, "p95", whole)
        add_daily(f"db{i}_max_day", "AWS/RDS", "DatabaseConnections", dims, "Maximum")
    for i, cache in enumerate(caches):
        dims = {"CacheClusterId": cache}
        add(f"cc{i}_hits", "AWS/ElastiCache", "CacheHits", dims, "Sum", resolution)
        add(f"cc{i}_misses", "AWS/ElastiCache", "CacheMisses", dims, "Sum", resolution)
    for i, (namespace, metric, dims, stat) in enumerate(custom):
        add(f"kpi{i}_period", namespace, metric, dict(dims), stat, whole)
        add_daily(f"kpi{i}_day", namespace, metric, dict(dims), stat)
    return queries
