"""CloudWatch Logs: the estate's log groups and their retention (over the provider's AwsLogsHook)."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook

from estate_ops.hooks.aws import ADAPTIVE_RETRIES


class LogGroupsHook(AwsLogsHook):
    def __init__(self, aws_conn_id: str = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)

    def log_groups(self, prefix: str) -> list[dict[str, Any]]:
        """Every log group whose name starts with `prefix` (DescribeLogGroups pages at 50)."""
        groups: list[dict[str, Any]] = []
        paginator = self.conn.get_paginator("describe_log_groups")
        for page in paginator.paginate(logGroupNamePrefix=prefix):
            groups.extend(page.get("logGroups", []))
        return groups

    def put_retention_policy(self, log_group: str, days: int) -> tuple[str, str]:
        """Set a log group's retention; returns (outcome, detail) with outcome "applied",
        "already_gone" (the group was deleted since the plan) or "failed"."""
        from botocore.exceptions import ClientError

        from estate_ops.hooks.aws import describe_error, is_not_found

        try:
            self.conn.put_retention_policy(logGroupName=log_group, retentionInDays=days)
        except ClientError as exc:
            if is_not_found(exc):
                return "already_gone", f"log group {log_group} no longer exists"
            return "failed", describe_error(exc, "logs:PutRetentionPolicy")
        return "applied", f"retention set to {days} days"
