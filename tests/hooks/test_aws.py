"""access_denied_as_finding: a denied AWS call becomes a line naming the IAM action; nothing else is swallowed."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from estate_ops.hooks.aws import AwsUnreachableError, access_denied_as_finding


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "no"}}, "SomeCall")


def test_no_error_leaves_call_error_none():
    with access_denied_as_finding("aws_default", "s3:ListBucket") as call:
        seen = "read"
    assert call.error is None and seen == "read"


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"])
def test_denied_names_the_action_in_flight_and_keeps_what_was_read(code):
    def lifecycle_rules():
        raise _error(code)

    exists, rules = False, None
    with access_denied_as_finding("aws_default", "s3:ListBucket") as call:
        exists = True
        call.action = "s3:GetLifecycleConfiguration"
        rules = lifecycle_rules()
    assert exists and rules is None
    assert call.error == ("access denied: the IAM policy must allow s3:GetLifecycleConfiguration "
                          "(include/iam/estate-ops-policy.json)")


@pytest.mark.parametrize("error", [_error("Throttling"), _error("NoSuchBucket"), RuntimeError("access denied: x")])
def test_other_errors_raise_as_they_are(error):
    with pytest.raises(type(error)) as raised, access_denied_as_finding("aws_default", "s3:ListBucket"):
        raise error
    assert raised.value is error


def test_unreachable_endpoint_names_the_connection():
    expected = r"AWS \(connection 'aws_sbx'\): endpoint http://x:1 does not answer"
    with pytest.raises(AwsUnreachableError, match=expected), access_denied_as_finding("aws_sbx", "rds:X"):
        raise EndpointConnectionError(endpoint_url="http://x:1")
