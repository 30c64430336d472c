"""Reading the sandbox's reports bucket in tests: what a run wrote, and whether a rerun changed it."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _bucket() -> str:
    from estate_ops.config import load_estate

    return load_estate().reports_bucket


def read_bytes(handle, key: str) -> bytes:
    return handle.boto3_client("s3").get_object(Bucket=_bucket(), Key=key)["Body"].read()


def read_json(handle, key: str) -> Any:
    return json.loads(read_bytes(handle, key))


def keys(handle, prefix: str = "") -> list[str]:
    s3 = handle.boto3_client("s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=prefix):
        found += [obj["Key"] for obj in page.get("Contents", [])]
    return sorted(found)


def digests(handle, prefix: str = "") -> dict[str, str]:
    """SHA-256 of every object under `prefix`: equal before and after a rerun = nothing changed."""
    return {key: hashlib.sha256(read_bytes(handle, key)).hexdigest() for key in keys(handle, prefix)}


def versions(handle, prefix: str = "") -> dict[str, tuple]:
    """(ETag, LastModified) of every object: equal after a rerun = not even rewritten."""
    s3 = handle.boto3_client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (obj["ETag"], obj["LastModified"])
    return found
