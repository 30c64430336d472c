"""The IAM policy check: which IAM action each AWS API call needs, and whether the policy allows it.

tests/conftest.py records every AWS call estate-ops code makes during the test suite (a wrapper
around botocore's `_make_api_call`, counting only calls made from `plugins/estate_ops`) and
fails the run if the policy in include/iam/estate-ops-policy.json does not allow one, so the
policy stays exact as the project grows.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

from devtools.localenv import ROOT

POLICY_FILE = ROOT / "include" / "iam" / "estate-ops-policy.json"

# botocore signing names that differ from the IAM service prefix.
IAM_PREFIX = {"monitoring": "cloudwatch", "tagging": "tag"}
# API operations whose IAM action has another name (S3 mostly).
IAM_ACTION = {
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "ListBuckets"): "ListAllMyBuckets",
    ("s3", "GetBucketReplication"): "GetReplicationConfiguration",
    ("s3", "PutBucketReplication"): "PutReplicationConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "PutLifecycleConfiguration",
    ("s3", "GetObjectAttributes"): "GetObjectAttributes",
    ("s3", "DeleteObjects"): "DeleteObject",
}


def iam_action(signing_name: str, operation: str) -> str:
    prefix = IAM_PREFIX.get(signing_name, signing_name)
    return f"{prefix}:{IAM_ACTION.get((prefix, operation), operation)}"


def allowed_actions(policy: dict) -> list[str]:
    patterns: list[str] = []
    for statement in policy["Statement"]:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement["Action"]
        patterns.extend([actions] if isinstance(actions, str) else actions)
    return patterns


def not_allowed(actions: set[str], policy: dict) -> list[str]:
    """The actions no Allow statement of `policy` matches (IAM matching is case-insensitive)."""
    patterns = [p.lower() for p in allowed_actions(policy)]
    return sorted(a for a in actions if not any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns))


def load_policy(path: Path = POLICY_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


ESTATE_OPS_CODE = str(ROOT / "plugins" / "estate_ops")
RECORDED_ACTIONS: set[str] = set()


def record_estate_ops_aws_calls() -> None:
    """Record the IAM action of every AWS call made from estate_ops code (idempotent)."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call
    if getattr(original, "estate_ops_recorder", False):
        return

    def recording(self, operation_name, api_params):
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.startswith(ESTATE_OPS_CODE):
                RECORDED_ACTIONS.add(iam_action(self.meta.service_model.signing_name, operation_name))
                break
            frame = frame.f_back
        return original(self, operation_name, api_params)

    recording.estate_ops_recorder = True
    botocore.client.BaseClient._make_api_call = recording
