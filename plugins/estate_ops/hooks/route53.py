"""Route 53: the estate's health checks (a global service; their metrics live in us-east-1)."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.exceptions import ClientError

from estate_ops.hooks.aws import ADAPTIVE_RETRIES, is_not_found


class HealthChecksHook(AwsBaseHook):
    def __init__(self, aws_conn_id: str = "aws_default", **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, client_type="route53", region_name="us-east-1", **kwargs)

    def health_check(self, health_check_id: str) -> dict[str, Any] | None:
        """The health check's description, or None when Route 53 does not know the id."""
        try:
            return self.conn.get_health_check(HealthCheckId=health_check_id)["HealthCheck"]
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
