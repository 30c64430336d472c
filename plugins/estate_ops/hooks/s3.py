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
