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
