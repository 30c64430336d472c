"""RDS: instances, snapshots and restores of the estate's databases (over the provider's RdsHook)."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from botocore.exceptions import ClientError

from estate_ops.hooks.aws import ADAPTIVE_RETRIES, is_not_found


class RdsBackupsHook(RdsHook):
    def __init__(self, aws_conn_id: str = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)

    def describe_instance(self, db_instance_id: str) -> dict[str, Any] | None:
        """The instance's description, or None when it does not exist."""
        try:
            response = self.conn.describe_db_instances(DBInstanceIdentifier=db_instance_id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return response["DBInstances"][0]
