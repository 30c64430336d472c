"""The IAM policy file is valid and the call-to-action mapping the suite-wide check uses is right."""

from __future__ import annotations

import pytest

from devtools.iam import iam_action, load_policy, not_allowed


def test_policy_is_a_valid_least_privilege_document():
    policy = load_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)), "statement ids must be unique"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            service, _, name = action.partition(":")
            assert service and name and name != "*" and service != "*", f"{statement['Sid']}: {action} is too broad"


@pytest.mark.parametrize("signing,operation,action", [
    ("s3", "ListObjectsV2", "s3:ListBucket"),
    ("s3", "HeadObject", "s3:GetObject"),
    ("s3", "PutObject", "s3:PutObject"),
    ("monitoring", "GetMetricData", "cloudwatch:GetMetricData"),
    ("rds", "DescribeDBSnapshots", "rds:DescribeDBSnapshots"),
    ("tagging", "GetResources", "tag:GetResources"),
    ("sns", "ListSubscriptionsByTopic", "sns:ListSubscriptionsByTopic"),
])
def test_iam_action_of_an_api_call(signing, operation, action):
    assert iam_action(signing, operation) == action


def test_not_allowed_finds_what_the_policy_lacks():
    policy = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "rds:Describe*"]},
                            {"Effect": "Deny", "Action": "rds:DeleteDBSnapshot"}]}
    assert not_allowed({"s3:GetObject", "rds:DescribeDBSnapshots", "rds:DeleteDBSnapshot", "s3:putobject"},
                       policy) == ["rds:DeleteDBSnapshot", "s3:putobject"]


def test_suite_records_estate_ops_aws_calls_only(monkeypatch):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import EndpointConnectionError
    from estate_ops.hooks.route53 import HealthChecksHook

    from devtools.iam import RECORDED_ACTIONS

    before = set(RECORDED_ACTIONS)
    RECORDED_ACTIONS.discard("route53:GetHealthCheck")
    fast_fail = Config(retries={"max_attempts": 1}, connect_timeout=1)
    client = boto3.client("sts", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="x", aws_secret_access_key="x", config=fast_fail)
    with pytest.raises(EndpointConnectionError):
        client.get_caller_identity()  # from test code, not estate_ops: not recorded
    assert "sts:GetCallerIdentity" not in RECORDED_ACTIONS

    monkeypatch.setenv("AIRFLOW_CONN_IAM_PROBE", '{"conn_type": "aws", "login": "x", "password": "x", '
                       '"extra": {"endpoint_url": "http://127.0.0.1:9"}}')
    hook = HealthChecksHook(aws_conn_id="iam_probe", config=fast_fail)
    with pytest.raises(EndpointConnectionError):
        hook.health_check("0b6a7a4e-0000-4000-8000-000000000001")  # from estate_ops: recorded
    assert "route53:GetHealthCheck" in RECORDED_ACTIONS
    RECORDED_ACTIONS.update(before)
