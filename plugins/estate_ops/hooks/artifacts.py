"""The reports bucket: every artifact estate-ops writes, under the DESIGN.md §4 layout.

Writes are idempotent: an object whose bytes are already stored (same SHA-256, kept in the
object's metadata) is not written again, so a rerun for the same period changes nothing, not
even the object's version or LastModified. `put_if_absent` is an atomic create (S3 conditional
write) for things that must never be written twice, such as an invoice number. Every object is
stored with the Content-Type of its extension, so a browser shows an HTML report or a PDF as is.

`object_url(key)` is where a person opens an object: the S3 console for an AWS account, or the
object's path-style URL at the connection's `endpoint_url` (an S3-compatible endpoint: the
sandbox serves such a GET to a browser, sandbox/README.md).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote, urlencode

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from estate_ops.domain.serialize import canonical_json

CONTENT_TYPES = {
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
}


def content_type_for(key: str) -> str:
    for suffix, content_type in CONTENT_TYPES.items():
        if key.endswith(suffix):
            return content_type
    return "application/octet-stream"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class ArtifactStore:
    """Reads and writes the reports bucket through the Amazon provider's S3Hook."""

    def __init__(self, bucket: str, aws_conn_id: str = "aws_default", region_name: str | None = None) -> None:
        self.bucket = bucket
        self.hook = S3Hook(aws_conn_id=aws_conn_id, region_name=region_name)
        self._client = None

    @classmethod
    def for_estate(cls, estate: Any) -> ArtifactStore:
        return cls(estate.reports_bucket, aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)

    @property
    def client(self):
        if self._client is None:
            self._client = self.hook.get_conn()
        return self._client

    def object_url(self, key: str) -> str:
        """A URL that opens `key` for a person (no request is made here)."""
        endpoint = self.hook.conn_config.get_service_endpoint_url("s3")
        if endpoint:
            return f"{endpoint.rstrip('/')}/{quote(self.bucket)}/{quote(key)}"
        from airflow.providers.amazon.aws.links.base_aws import BaseAwsLink

        meta = self.client.meta
        domain = BaseAwsLink.get_aws_domain(meta.partition) or "aws.amazon.com"
        query = urlencode({"region": meta.region_name, "prefix": key}, safe="/", quote_via=quote)
        return f"https://{meta.region_name}.console.{domain}/s3/object/{quote(self.bucket)}?{query}"

    # ------------------------------------------------------------------ writing

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        """Store `data` at `key`; False when the same bytes were already there (nothing written)."""
        digest = _sha256(data)
        if self.stored_sha256(key) == digest:
            return False
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type or content_type_for(key),
            Metadata={"sha256": digest},
        )
        return True

    def put_json(self, key: str, data: Any) -> bool:
        return self.put_bytes(key, canonical_json(data), "application/json")

    def put_if_absent(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        """Create `key` only if no object exists there (atomic); False when it already existed."""
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type or content_type_for(key),
                Metadata={"sha256": _sha256(data)},
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    # ------------------------------------------------------------------ reading

    def stored_sha256(self, key: str) -> str | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return head.get("Metadata", {}).get("sha256")

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; KeyError (naming bucket and key) when it does not exist."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _is_missing(exc):
                raise KeyError(f"s3://{self.bucket}/{key} does not exist") from None
            raise

    def get_versioned(self, key: str) -> tuple[bytes, str | None]:
        """The object's bytes and S3 version id (None when the bucket is not versioned); KeyError when absent."""
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise KeyError(f"s3://{self.bucket}/{key} does not exist") from None
            raise
        version = obj.get("VersionId")
        return obj["Body"].read(), (None if version in (None, "null") else version)

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def list_keys(self, prefix: str) -> list[str]:
        """Every key under `prefix`, following continuation tokens, sorted."""
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)
