"""AWS in the sandbox: moto in server mode, in this process, plus what moto cannot do alone.

- `AwsServer` runs moto's `ThreadedMotoServer` with a thin WSGI layer in front that counts
  requests per service and action, and can answer with AWS's own throttling errors (to test
  adaptive retries) when a throttle is simulated. It also lets a browser open an object: an
  unsigned path-style GET/HEAD of `/<bucket>/<key>` is answered as the sandbox's own account
  reads it (as the S3 console shows an object to a signed-in user), so a task's "Report" link
  opens the report. S3 itself, like AWS, refuses anonymous reads of private objects. Its
  dispatcher remembers which backend serves a host, which moto works out again for every request.
- `install_moto_patches()` teaches moto a few behaviours the project relies on and moto lacks:
  an object's `ReplicationStatus`, a settable `LatestRestorableTime`, and a GetMetricData that
  runs in linear time.
- The `set_*`/`add_*` helpers let scenarios set, through moto's backends, what the API cannot
  (snapshot create times, replication status, restorable time, fixed health-check ids).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

from sandbox import ACCOUNT_ID, AWS_ACCESS_KEY, net
from sandbox.state import RequestCounter

# Signing names in the credential scope -> the names boto3 users know.
_SERVICE_NAMES = {"monitoring": "cloudwatch"}
_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
# What a browser's GET of an object is read as (moto checks no signature; the account is the key's).
_BROWSER_READ_AUTHORIZATION = (f"AWS4-HMAC-SHA256 Credential={AWS_ACCESS_KEY}/20260101/us-east-1/s3/aws4_request, "
                               "SignedHeaders=host, Signature=browser")
_NOT_OBJECTS = ("/moto-api/", "/_sandbox/")


# ---------------------------------------------------------------------- the server


class AwsThrottle:
    """Simulated AWS throttling: the next N matching requests fail as AWS fails them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[dict[str, Any]] = []

    def add(self, service: str, count: int, action: str | None = None) -> None:
        with self._lock:
            self._rules.append({"service": service, "action": action, "remaining": count})

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, service: str, action: str) -> bool:
        with self._lock:
            for rule in self._rules:
                if rule["service"] == service and rule["action"] in (None, action) \
                        and rule["remaining"] > 0:
                    rule["remaining"] -= 1
                    return True
            return False


class _AwsMiddleware:
    """Counts each AWS request as "<service>:<action>" and applies simulated throttling."""

    def __init__(self, app: Any, counter: RequestCounter, throttle: AwsThrottle) -> None:
        self.app, self.counter, self.throttle = app, counter, throttle

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        if _is_browser_object_read(environ):
            environ["HTTP_AUTHORIZATION"] = _BROWSER_READ_AUTHORIZATION
        service, action, protocol = self._identify(environ)
        self.counter.count("aws", None, f"{service}:{action}")
        if service and self.throttle.take(service, action):
            status, headers, body = _throttle_response(service, protocol,
                                                       environ.get("CONTENT_TYPE", ""))
            start_response(status, headers)
            return [body]
        if service == "chatbot":  # moto has no Chatbot: the sandbox serves what estate-ops calls
            from sandbox import chatbot

            return chatbot.handle(environ, start_response)
        return self.app(environ, start_response)

    @staticmethod
    def _identify(environ: dict) -> tuple[str, str, str]:
        """(service, action, wire protocol) of a request."""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        match = _CREDENTIAL.search(auth) or _CREDENTIAL.search(
            "Credential=" + parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0])
        service = _SERVICE_NAMES.get(match.group(2), match.group(2)) if match else "unknown"
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:  # awsJson (Logs; CloudWatch as boto3 calls it today)
            return service, target.rsplit(".", 1)[-1], "json"
        path = environ.get("PATH_INFO", "")
        if "/operation/" in path:  # smithy-rpc-v2-cbor
            return service, path.rsplit("/", 1)[-1], "cbor"
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" in query:
            return service, query["Action"][0], "query"
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            # Query-protocol APIs (RDS, STS) post their action in the form body: read it and
            # put the bytes back for moto.
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
            if action:
                return service, action, "query"
        return service, f"{environ['REQUEST_METHOD']} {path}", "rest"


def _is_browser_object_read(environ: dict) -> bool:
    """An unsigned path-style GET/HEAD of an object (`/<bucket>/<key>`), as a browser sends it."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or environ.get("HTTP_AUTHORIZATION"):
        return False
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if {"X-Amz-Signature", "Signature", "X-Amz-Credential"} & set(query):
        return False
    path = environ.get("PATH_INFO", "")
    bucket, _, key = path.lstrip("/").partition("/")
    return bool(bucket and key) and not path.startswith(_NOT_OBJECTS)


def _cbor_text_map(items: dict[str, str]) -> bytes:
    """A CBOR map of short text strings: all a throttling error body needs."""
    def text(value: str) -> bytes:
        raw = value.encode()
        head = bytes([0x60 + len(raw)]) if len(raw) < 24 else bytes([0x78, len(raw)])
        return head + raw
    return bytes([0xA0 + len(items)]) + b"".join(text(k) + text(v) for k, v in items.items())


def _throttle_response(service: str, protocol: str, content_type: str) -> tuple[str, list, bytes]:
    """AWS's own throttling error, in the wire protocol the request used."""
    request_id = str(uuid.uuid4())
    code = "ThrottlingException" if service == "logs" else "Throttling"
    if protocol == "json":
        body = f'{{"__type":"{code}","message":"Rate exceeded"}}'.encode()
        headers = [("Content-Type", content_type or "application/x-amz-json-1.1"),
                   ("x-amzn-RequestId", request_id)]
        if service == "cloudwatch":  # a former query service: says the query error code too
            headers.append(("x-amzn-query-error", "Throttling;Sender"))
        return "400 Bad Request", headers, body
    if protocol == "cbor":
        body = _cbor_text_map({"__type": code, "message": "Rate exceeded"})
        return "400 Bad Request", [("Content-Type", "application/cbor"),
                                   ("smithy-protocol", "rpc-v2-cbor"),
                                   ("x-amzn-RequestId", request_id)], body
    if service == "s3":
        body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                b"<Message>Please reduce your request rate.</Message></Error>")
        return "503 Slow Down", [("Content-Type", "application/xml")], body
    body = ('<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>'
            f"<Message>Rate exceeded</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>").encode()
    return "400 Bad Request", [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host. moto works it out again for every
    request, under its one dispatch lock: a listing of moto's package folder and then its 183 URL
    patterns. The answer never changes while the server runs, and every request of every client
    queued behind that lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_of: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backend_of:  # called with self.lock held
            self._backend_of[host] = super().get_backend_for_host(host)
        return self._backend_of[host]


class AwsServer(ThreadedMotoServer):
    """moto's threaded server, with request counting and simulated throttling in front."""

    def __init__(self, port: int, counter: RequestCounter, throttle: AwsThrottle,
                 host: str = net.DEFAULT_HOST) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self.counter, self.throttle = counter, throttle

    def _server_entry(self) -> None:
        app = _AwsMiddleware(_Dispatcher(create_backend_app), self.counter,
                             self.throttle)
        try:
            self._server = net.make_server("aws", self._ip_address, self._port, app,
                                           threaded=True, request_handler=MotoRequestHandler)
        except OSError as exc:  # e.g. the port is taken: report it instead of hanging start()
            self._start_error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        self._start_error: OSError | None = None
        super().start()
        if self._start_error is not None:
            raise self._start_error

    def stop(self) -> None:
        if self._server is not None:
            super().stop()

    @property
    def url(self) -> str:
        return net.url("http", self._ip_address, self.get_host_and_port()[1])


def in_process_client(service: str, region: str) -> Any:
    """A boto3 client whose calls moto serves in this thread, without HTTP: the same backends
    and the same response code as the server, minus the round trip (seeding makes dozens of
    calls on every reset). Not counted, never throttled."""
    import boto3
    from moto.core.botocore_stubber import BotocoreStubber

    client = boto3.client(service, region_name=region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    stubber = BotocoreStubber()
    stubber.enabled = True
    client.meta.events.register("before-send", stubber)
    return client


# ---------------------------------------------------------------------- moto patches


def install_moto_patches() -> None:
    """Idempotent. Only ever called inside the sandbox process."""
    from moto.rds.models import DBCluster, DBInstance
    from moto.s3.models import FakeKey

    if getattr(FakeKey, "_sandbox_patched", False):
        return

    original_response_dict = FakeKey.response_dict

    def response_dict(self: FakeKey) -> dict[str, Any]:
        headers = original_response_dict.fget(self)
        status = getattr(self, "sandbox_replication_status", None)
        if status:
            headers["x-amz-replication-status"] = status
        return headers

    FakeKey.response_dict = property(response_dict)
    FakeKey._sandbox_patched = True

    def latest_restorable_time(self: Any) -> dt.datetime:
        from moto.core.utils import utcnow
        return getattr(self, "sandbox_latest_restorable_time", None) or utcnow()

    DBInstance.latest_restorable_time = property(latest_restorable_time)
    DBCluster.latest_restorable_time = property(latest_restorable_time)
    _install_fast_get_metric_data()
    _install_fast_list_metrics()
    _install_paged_describe_alarms()
    _install_pending_subscriptions()
    _install_alarm_state_listeners()


# Called as listener(alarm, region, account_id, old_state) after an alarm's state is set
# (sandbox.server delivers the notification: sandbox/alarm_delivery.py).
ALARM_STATE_LISTENERS: list[Any] = []


def _install_alarm_state_listeners() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.set_alarm_state
    if getattr(original, "_sandbox_listened", False):
        return

    def set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
        old_state = self.alarms[alarm_name].state_value if alarm_name in self.alarms else None
        original(self, alarm_name, reason, reason_data, state_value)
        for listener in ALARM_STATE_LISTENERS:
            listener(self.alarms[alarm_name], self.region_name, self.account_id, old_state)

    set_alarm_state._sandbox_listened = True  # type: ignore[attr-defined]
    CloudWatchBackend.set_alarm_state = set_alarm_state


# DescribeAlarms: AWS's default and largest page.
DESCRIBE_ALARMS_DEFAULT_RECORDS, DESCRIBE_ALARMS_MAX_RECORDS = 50, 100


def _install_paged_describe_alarms() -> None:
    """DescribeAlarms as AWS answers it: `AlarmTypes` decides which types come back (metric alarms
    only when it is absent), in name order, `MaxRecords` (default 50, at most 100) a page with a
    NextToken. moto returns every alarm of both types in one page whatever is asked."""
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    original = CloudWatchResponse.describe_alarms
    if getattr(original, "_sandbox_paged", False):
        return

    def describe_alarms(self: Any) -> Any:
        answer = original(self).result
        types = self._get_param("AlarmTypes") or ["MetricAlarm"]
        alarms = [("MetricAlarms", a) for a in answer["MetricAlarms"] if "MetricAlarm" in types]
        alarms += [("CompositeAlarms", a) for a in answer["CompositeAlarms"] if "CompositeAlarm" in types]
        alarms.sort(key=lambda item: item[1].name)
        size = min(int(self._get_param("MaxRecords") or DESCRIBE_ALARMS_DEFAULT_RECORDS), DESCRIBE_ALARMS_MAX_RECORDS)
        start = int(self._get_param("NextToken") or 0)
        page = alarms[start:start + size]
        result: dict[str, Any] = {"MetricAlarms": [a for k, a in page if k == "MetricAlarms"],
                                  "CompositeAlarms": [a for k, a in page if k == "CompositeAlarms"]}
        if start + size < len(alarms):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    describe_alarms._sandbox_paged = True  # type: ignore[attr-defined]
    CloudWatchResponse.describe_alarms = describe_alarms


def _install_pending_subscriptions() -> None:
    """A subscription marked pending (`set_subscription_pending`) is listed as AWS lists one that
    was never confirmed: SubscriptionArn "PendingConfirmation". moto confirms every subscription."""
    from moto.core.responses import ActionResult
    from moto.sns.responses import SNSResponse

    original = SNSResponse.list_subscriptions_by_topic
    if getattr(original, "_sandbox_pending", False):
        return

    def list_subscriptions_by_topic(self: Any) -> Any:
        answer = original(self).result
        listed = []
        for sub in answer["Subscriptions"]:
            if getattr(sub, "sandbox_pending", False):
                listed.append({"SubscriptionArn": "PendingConfirmation", "Owner": sub.attributes["Owner"],
                               "Protocol": sub.protocol, "Endpoint": sub.endpoint, "TopicArn": sub.topic.arn})
            else:
                listed.append(sub)
        return ActionResult({**answer, "Subscriptions": listed})

    list_subscriptions_by_topic._sandbox_pending = True  # type: ignore[attr-defined]
    SNSResponse.list_subscriptions_by_topic = list_subscriptions_by_topic


def set_subscription_pending(sns: Any, subscription_arn: str) -> None:
    """Make a subscription unconfirmed, as an https endpoint that never answered SNS's confirmation."""
    subscription = sns.subscriptions[subscription_arn]
    subscription.sandbox_pending = True
    subscription.attributes["PendingConfirmation"] = "true"


def set_alarm_state_time(cloudwatch: Any, alarm_name: str, state: str, since: dt.datetime) -> None:
    """An alarm's state and when it entered it (moto stamps the real clock; PutMetricAlarm cannot set it)."""
    alarm = cloudwatch.alarms[alarm_name]
    alarm.state_value = state
    alarm.state_updated_timestamp = _utc(since)
    alarm.configuration_updated_timestamp = _utc(since)


def put_composite_alarm(cloudwatch: Any, name: str, rule: str, *, alarm_actions: list[str],
                        ok_actions: list[str] | None = None, actions_enabled: bool = True,
                        description: str = "", tags: list[dict[str, str]] | None = None) -> None:
    """A composite alarm through moto's backend (moto's API does not implement PutCompositeAlarm;
    its backend stores one as an alarm with a rule, and DescribeAlarms lists it as composite)."""
    cloudwatch.put_metric_alarm(
        name=name, namespace=None, metric_name=None, metric_data_queries=None, comparison_operator=None,
        evaluation_periods=None, datapoints_to_alarm=None, period=None, threshold=None, statistic=None,
        extended_statistic=None, description=description, dimensions=[], alarm_actions=alarm_actions,
        ok_actions=ok_actions or [], insufficient_data_actions=[], unit=None, actions_enabled=actions_enabled,
        treat_missing_data=None, evaluate_low_sample_count_percentile=None, threshold_metric_id=None,
        rule=rule, tags=tags or [])


_RESET_PROPERLY = {"s3", "s3tables", "s3control"}


_PERCENTILE = re.compile(r"p(100|[0-9]{1,2}(?:\.[0-9]{1,3})?)")


def _percentile_of(data: list, q: float) -> float:
    """The q-th percentile of raw samples (a datum with StatisticValues counts its Min and Max)."""
    import numpy as np

    samples: list[float] = []
    for md in data:
        if getattr(md, "value", None) is not None:
            samples.append(float(md.value))
    return float(np.percentile(np.asarray(samples, dtype=float), q)) if samples else float("nan")


def _install_fast_list_metrics() -> None:
    """ListMetrics in linear time, one entry per metric. moto compares every datum with every metric
    kept so far, and its dimension comparison never finds two metrics of two or more dimensions the
    same (an ALB target group's `LoadBalancer` + `TargetGroup`), so it lists every datum of them: a
    month of 5-minute samples took a minute. Here a metric is (namespace, name, dimensions), as in
    CloudWatch; the filters are moto's own (`MetricDatumBase.filter` without the duplicate scan)."""
    from moto.cloudwatch.models import CloudWatchBackend

    if getattr(CloudWatchBackend.get_filtered_metrics, "_sandbox_fast", False):
        return

    def get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]) -> list:
        seen: set[tuple] = set()
        found = []
        for md in self.get_all_metrics():
            key = (md.namespace, md.name, tuple(sorted((d.name, d.value) for d in md.dimensions)))
            if key in seen or not md.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
                continue
            seen.add(key)
            found.append(md)
        return found

    get_filtered_metrics._sandbox_fast = True
    CloudWatchBackend.get_filtered_metrics = get_filtered_metrics


def _install_fast_get_metric_data() -> None:
    """GetMetricData in linear time. moto rescans every datapoint of the range for every
    period of every query (a day of 1-minute data for three health checks: ~6 M comparisons
    per query), which makes realistic health histories unaffordable. Same answers for MetricStat
    queries: data grouped once, by period; anything with an Expression goes to moto's own code.
    """
    from collections import defaultdict
    from datetime import timedelta

    from moto.cloudwatch.models import CloudWatchBackend, Statistics

    original = CloudWatchBackend.get_metric_data
    if getattr(original, "_sandbox_fast", False):
        return

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: dt.datetime,
                        end_time: dt.datetime, scan_by: str = "TimestampAscending") -> list:
        start, end = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
        if start >= end or any("Expression" in q for q in queries):
            return original(self, queries, start_time, end_time, scan_by)
        # The range's data indexed once by (metric name, dimensions): each query reads its own
        # datapoints, not every datapoint of the range.
        by_metric: dict[tuple, list] = defaultdict(list)
        for md in self.get_all_metrics():
            if start <= md.timestamp < end:
                key = (md.name, tuple(sorted((d.name, d.value) for d in md.dimensions)))
                by_metric[key].append(md)
        results = []
        for query in queries:
            stat_query = query["MetricStat"]
            metric = stat_query["Metric"]
            period = int(stat_query["Period"])
            dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            stat, unit = stat_query["Stat"], stat_query.get("Unit")
            buckets: dict[int, list] = defaultdict(list)
            # moto's own matching: with dimensions, namespace is not compared.
            if dimensions:
                candidates = by_metric.get((metric["MetricName"], dimensions), [])
            else:
                candidates = [md for (name, _), mds in by_metric.items() if name == metric["MetricName"]
                              for md in mds if md.namespace == metric["Namespace"]]
            for md in candidates:
                if unit and md.unit != unit:
                    continue
                buckets[int((md.timestamp - start).total_seconds()) // period].append(md)
            values, timestamps = [], []
            percentile = _PERCENTILE.fullmatch(stat)
            for index in sorted(buckets):
                stats = Statistics([stat], start + timedelta(seconds=index * period))
                stats.metric_data = buckets[index]
                if percentile:
                    # moto computes no extended statistics: the true percentile of the bucket's
                    # raw samples (numpy's linear interpolation), as CloudWatch computes it from
                    # the samples it holds, never from shorter periods.
                    values.append(_percentile_of(buckets[index], float(percentile[1])))
                else:
                    values.append(stats.get_statistics_for_type(stat))
                timestamps.append(stats.timestamp)
            if scan_by == "TimestampDescending":
                values.reverse()
                timestamps.reverse()
            if query.get("ReturnData", True):
                results.append({"id": query["Id"],
                                "label": query.get("Label") or f"{metric['MetricName']} {stat}",
                                "values": values, "timestamps": timestamps,
                                "status_code": "Complete"})
        return results

    get_metric_data._sandbox_fast = True
    CloudWatchBackend.get_metric_data = get_metric_data


def reset_moto() -> None:
    """Forget every resource in every moto backend (and re-seed moto's id generator).

    Lighter than moto's own reset, which re-initialises every region's backend only to drop
    it right after (seconds, EC2 first): dropping the backends is enough, moto recreates them
    on first use. Only S3 has something to release (each object's value is a temporary
    file, and the global bucket-name registry), so only S3 runs its own reset.
    """
    from moto.core.base_backend import BackendDict, backend_lock
    from moto.core.model_instances import reset_model_data
    from moto.moto_api._internal import mock_random

    from sandbox.chatbot import CHATBOT

    CHATBOT.reset()
    with backend_lock:
        for backends in BackendDict._instances:
            if getattr(backends, "service_name", None) in _RESET_PROPERLY:
                for account_backends in backends.values():
                    account_backends.reset()
            backends.clear()
        BackendDict._instances.clear()
    reset_model_data()
    mock_random.seed(0)


def backend(service: str, region: str = "us-east-1", account_id: str = ACCOUNT_ID) -> Any:
    """moto's backend object for a service (global services ignore the region)."""
    from moto.backends import get_backend

    backends = get_backend(service)[account_id]
    if service in ("s3", "route53", "iam", "organizations"):
        return backends["global"] if "global" in backends else backends["aws"]
    return backends[region]


# ---------------------------------------------------------------------- seeding helpers


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
    # moto stores naive-UTC or aware-UTC depending on the model; RDS uses aware UTC.
    return value.astimezone(dt.UTC)


def remove_bucket(s3: Any, name: str) -> bool:
    """Drop a bucket whatever it holds (a test making it "missing"), as moto's own delete would:
    also from the global name registry, releasing its objects' temporary files."""
    from moto.s3.models import FakeKey, s3_backends

    bucket = s3.buckets.pop(name, None)
    s3_backends.bucket_accounts.pop(name, None)
    if bucket is None:
        return False
    for key in bucket.keys.values():
        if isinstance(key, FakeKey):
            key.dispose()
    return True


def rekey_health_check(route53: Any, old_id: str, new_id: str) -> None:
    """Give a health check the id an estate names (the API always generates one)."""
    check = route53.health_checks.pop(old_id)
    check.id = new_id
    route53.health_checks[new_id] = check


def set_db_instance_create_time(rds: Any, db_id: str, when: dt.datetime) -> None:
    instance = rds.databases[db_id]
    instance.created = _utc(when)
    instance.instance_create_time = _utc(when)


def set_latest_restorable_time(rds: Any, db_id: str, when: dt.datetime | None) -> None:
    """What DescribeDBInstances reports as LatestRestorableTime (None: moto's "now")."""
    rds.databases[db_id].sandbox_latest_restorable_time = _utc(when) if when else None


def set_snapshot_time(rds: Any, snapshot_id: str, when: dt.datetime) -> None:
    snapshot = rds.database_snapshots[snapshot_id]
    snapshot.created = _utc(when)
    snapshot.original_snapshot_create_time = _utc(when)


def add_db_snapshot(rds: Any, db_id: str, when: dt.datetime, *, snapshot_type: str = "automated",
                    snapshot_id: str | None = None,
                    tags: list[dict[str, str]] | None = None) -> Any:
    """A snapshot of `db_id` taken at `when`. Automated ones get AWS's `rds:<db>-<time>` id."""
    when = _utc(when)
    if snapshot_id is None:
        if snapshot_type != "automated":
            raise ValueError("manual snapshots need a snapshot_id")
        snapshot_id = f"rds:{db_id}-{when:%Y-%m-%d-%H-%M}"
    if snapshot_type == "automated":
        snapshot = rds.create_auto_snapshot(db_id, snapshot_id)
    else:
        snapshot = rds.create_db_snapshot(db_id, snapshot_id, snapshot_type="manual", tags=tags)
    if tags and snapshot_type == "automated":
        snapshot.tags = tags
    set_snapshot_time(rds, snapshot.db_snapshot_identifier, when)
    return snapshot


def set_replication_status(s3: Any, bucket: str, key: str, status: str,
                           version_id: str | None = None) -> None:
    """An object's ReplicationStatus (PENDING, COMPLETED, FAILED, REPLICA) in HEAD/GET."""
    if status not in ("PENDING", "COMPLETED", "FAILED", "REPLICA"):
        raise ValueError(f"not an S3 replication status: {status!r}")
    obj = s3.get_object(bucket, key, version_id=version_id)
    obj.sandbox_replication_status = status


def set_object_time(s3: Any, bucket: str, key: str, when: dt.datetime,
                    version_id: str | None = None) -> None:
    """An object's LastModified."""
    obj = s3.get_object(bucket, key, version_id=version_id)
    obj.last_modified = _utc(when).replace(tzinfo=None)
