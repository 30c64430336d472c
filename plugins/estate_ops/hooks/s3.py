"""S3: the estate's document buckets, their replicas and the log archive (not the reports bucket,
which is `hooks/artifacts.py`)."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from estate_ops.hooks.aws import ADAPTIVE_RETRIES, error_code, is_not_found


class BucketsHook(S3Hook):
    def __init__(self, aws_conn_id: str = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)

    def bucket_region(self, bucket: str) -> str | None:
        """The bucket's region, or None when it does not exist (HeadBucket answers either way)."""
        try:
            response = self.conn.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if is_not_found(exc) or error_code(exc) == "404":
                return None
            raise
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return response.get("BucketRegion") or headers.get("x-amz-bucket-region") or "us-east-1"

    def lifecycle_rules(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's lifecycle rules ([] when it has none)."""
        try:
            return self.conn.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
        except ClientError as exc:
            if error_code(exc) == "NoSuchLifecycleConfiguration":
                return []
            raise

    def put_lifecycle_rules(self, bucket: str, rules: list[dict[str, Any]]) -> tuple[str, str]:
        """Replace the bucket's lifecycle configuration with `rules` (callers merge, so nothing is
        dropped); returns (outcome, detail) with outcome "applied" or "failed"."""
        from estate_ops.hooks.aws import describe_error

        try:
            self.conn.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        except ClientError as exc:
            return "failed", describe_error(exc, "s3:PutLifecycleConfiguration")
        return "applied", f"lifecycle configuration of s3://{bucket} now has {len(rules)} rule(s)"

    # ------------------------------------------------------------------ backups (verification)

    def versioning_status(self, bucket: str) -> str | None:
        """"Enabled", "Suspended", or None when versioning was never enabled."""
        return self.conn.get_bucket_versioning(Bucket=bucket).get("Status")

    def replication_rules(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's replication rules ([] when it has no replication configuration)."""
        try:
            return self.conn.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"].get("Rules", [])
        except ClientError as exc:
            if error_code(exc) == "ReplicationConfigurationNotFoundError":
                return []
            raise

    def newest_objects(self, bucket: str, count: int, scan_keys: int = 1000) -> list[dict[str, Any]]:
        """The `count` most recently modified objects among the first `scan_keys` listed.

        S3 cannot list by date; one ListObjectsV2 page (1,000 keys) bounds the cost per bucket.
        Buckets whose keys start with a date or an increasing id list their newest objects last,
        so the scan reads pages up to `scan_keys` and keeps the newest it saw.
        """
        seen: list[dict[str, Any]] = []
        paginator = self.conn.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, PaginationConfig={"MaxItems": scan_keys, "PageSize": 1000}):
            seen.extend(page.get("Contents", []))
        seen.sort(key=lambda o: (o["LastModified"], o["Key"]), reverse=True)
        return seen[:count]

    def head_version(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
        """HeadObject (the only place S3 reports `ReplicationStatus`); None when not there."""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id and version_id != "null":
            kwargs["VersionId"] = version_id
        try:
            return self.conn.head_object(**kwargs)
        except ClientError as exc:
            if is_not_found(exc) or error_code(exc) in ("400", "InvalidArgument", "NoSuchVersion"):
                return None
            raise
