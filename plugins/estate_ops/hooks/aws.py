"""What every estate-ops AWS hook shares: botocore's adaptive retries and readable AWS errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

# Adaptive mode adds client-side rate limiting to standard retries: the right answer to RDS's
# ~12 requests/s account throttle and CloudWatch's GetMetricData limits.
ADAPTIVE_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10})


def parse_aws_timestamp(text: str) -> dt.datetime:
    """botocore's timestamp parser, without dateutil for what AWS sends: ISO 8601 with an offset.

    botocore parses every timestamp with dateutil (about 0.1 ms each): a listing of 10,000 snapshots
    has 30,000 of them. An aware ISO 8601 string is read by `datetime.fromisoformat` to the same
    instant; anything else (epoch seconds, no offset, other formats) goes to botocore's own parser,
    so the result is what botocore would return.
    """
    try:
        value = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        value = None
    if value is None or value.utcoffset() is None:
        from botocore.utils import parse_timestamp

        return parse_timestamp(text)
    return value


def use_fast_timestamps(session: Any) -> Any:
    """Make the clients of a boto3 (or botocore) session parse timestamps with `parse_aws_timestamp`."""
    core = getattr(session, "_session", session)  # boto3.Session wraps a botocore session
    get_component = getattr(core, "get_component", None)
    if get_component is not None:
        get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_aws_timestamp)
    return session

NOT_FOUND_CODES = frozenset({
    "404", "NoSuchBucket", "NoSuchKey", "NotFound", "DBInstanceNotFound", "DBInstanceNotFoundFault",
    "DBSnapshotNotFound", "DBSnapshotNotFoundFault", "NoSuchHealthCheck", "ResourceNotFoundException",
})


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


def is_access_denied(exc: ClientError) -> bool:
    # SNS says AuthorizationError where the other services say AccessDenied.
    return error_code(exc) in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                               "403")


def describe_error(exc: ClientError, action: str) -> str:
    """One line naming the IAM action when access is denied, else AWS's own code and message."""
    if is_access_denied(exc):
        return f"access denied: the IAM policy must allow {action} (include/iam/estate-ops-policy.json)"
    error = exc.response.get("Error", {})
    return f"{action} failed: {error.get('Code', '?')}: {error.get('Message', exc)}"


class AwsUnreachableError(RuntimeError):
    pass


@contextmanager
def translate_connection_errors(what: str) -> Iterator[None]:
    """Turn "cannot reach / cannot sign" into one line naming the endpoint and the connection."""
    try:
        yield
    except EndpointConnectionError as exc:
        raise AwsUnreachableError(f"{what}: endpoint {exc.kwargs.get('endpoint_url')} does not answer") from exc
    except NoCredentialsError as exc:
        raise AwsUnreachableError(f"{what}: no AWS credentials in the connection or environment") from exc


@dataclass
class AwsCall:
    """The IAM action of the AWS call in flight (set `action` before each call) and, after an
    `access_denied_as_finding` block, the access-denied line, or None."""

    action: str
    error: str | None = None


@contextmanager
def access_denied_as_finding(conn_id: str, action: str) -> Iterator[AwsCall]:
    """AWS calls of a verification, where AccessDenied is a finding, not a crash.

    An access-denied error (see `is_access_denied`) ends the block and sets `call.error` to a line
    naming `call.action`; any other AWS error raises as is, and cannot-reach / cannot-sign raises
    `AwsUnreachableError` naming the connection. Whatever the block assigned before the denial is
    left as it was, so set defaults before the block.
    """
    call = AwsCall(action)
    try:
        with translate_connection_errors(f"AWS (connection {conn_id!r})"):
            yield call
    except ClientError as exc:
        if not is_access_denied(exc):
            raise
        call.error = describe_error(exc, call.action)
