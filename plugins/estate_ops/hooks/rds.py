"""RDS: instances, snapshots and restores of the estate's databases (over the provider's RdsHook)."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from botocore.exceptions import ClientError

from estate_ops.hooks.aws import ADAPTIVE_RETRIES, is_not_found, use_fast_timestamps


class RdsBackupsHook(RdsHook):
    def __init__(self, aws_conn_id: str = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("config", ADAPTIVE_RETRIES)
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)

    def get_session(self, region_name: str | None = None, deferrable: bool = False):
        """The provider's session, whose clients read AWS timestamps without dateutil (a listing of
        10,000 snapshots spent more time parsing dates than waiting for RDS)."""
        return use_fast_timestamps(super().get_session(region_name=region_name, deferrable=deferrable))

    def describe_instance(self, db_instance_id: str) -> dict[str, Any] | None:
        """The instance's description, or None when it does not exist."""
        try:
            response = self.conn.describe_db_instances(DBInstanceIdentifier=db_instance_id)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        return response["DBInstances"][0]

    # ------------------------------------------------------------------ retention pruning

    def iter_db_snapshots(self, *, snapshot_type: str | None = None, db_instance_id: str | None = None,
                          page_size: int = 100):
        """Every DB snapshot, following `Marker` (DescribeDBSnapshots pages 20-100 records).

        Without `snapshot_type` AWS returns manual and automated snapshots. Yields the raw records;
        a generator, so 10,000 snapshots are never a list of pages at once.
        """
        from estate_ops.hooks.aws import describe_error

        if not 20 <= page_size <= 100:
            raise ValueError(f"page_size must be 20..100 (DescribeDBSnapshots MaxRecords), got {page_size}")
        kwargs: dict[str, Any] = {"MaxRecords": page_size}
        if snapshot_type:
            kwargs["SnapshotType"] = snapshot_type
        if db_instance_id:
            kwargs["DBInstanceIdentifier"] = db_instance_id
        marker = None
        while True:
            try:
                page = self.conn.describe_db_snapshots(**kwargs, **({"Marker": marker} if marker else {}))
            except ClientError as exc:
                raise RuntimeError(describe_error(exc, "rds:DescribeDBSnapshots")) from exc
            yield from page.get("DBSnapshots", [])
            marker = page.get("Marker")
            if not marker:
                return

    def db_instance_ids(self) -> set[str]:
        """The ids of every DB instance in the region (DescribeDBInstances pages, up to 100 a page)."""
        ids: set[str] = set()
        for page in self.conn.get_paginator("describe_db_instances").paginate(PaginationConfig={"PageSize": 100}):
            ids.update(i["DBInstanceIdentifier"] for i in page.get("DBInstances", []))
        return ids

    def delete_manual_snapshot(self, snapshot_id: str) -> tuple[str, str]:
        """Delete one manual snapshot; returns (outcome, detail), never raises for AWS answers.

        outcome is "deleted", "already_gone" (it vanished or is already being deleted: someone else
        deleted it between plan and act) or "failed" (AccessDenied, wrong state, throttled past
        every retry...), with a line a person can act on.
        """
        from estate_ops.hooks.aws import describe_error, error_code

        try:
            response = self.conn.delete_db_snapshot(DBSnapshotIdentifier=snapshot_id)
        except ClientError as exc:
            code = error_code(exc)
            if is_not_found(exc):
                return "already_gone", f"{snapshot_id} no longer exists ({code}): deleted elsewhere since the plan"
            message = exc.response.get("Error", {}).get("Message", "")
            if code == "InvalidDBSnapshotState" and "deleting" in message.lower():
                return "already_gone", f"{snapshot_id} is already being deleted ({message})"
            return "failed", describe_error(exc, "rds:DeleteDBSnapshot")
        status = (response.get("DBSnapshot") or {}).get("Status", "deleted")
        return "deleted", f"DeleteDBSnapshot accepted (status {status})"

    # ------------------------------------------------------------------ backups (verification, drills)

    def describe_instances(self) -> list[dict[str, Any]]:
        """Every DB instance in the region with its TagList (DescribeDBInstances, 100 a page)."""
        instances: list[dict[str, Any]] = []
        for page in self.conn.get_paginator("describe_db_instances").paginate(PaginationConfig={"PageSize": 100}):
            instances.extend(page.get("DBInstances", []))
        return instances

    def newest_automated_snapshot(self, db_instance_id: str) -> tuple[dict[str, Any] | None, int]:
        """(the newest automated snapshot or None, how many automated snapshots exist).

        AWS returns snapshots in no promised order, so every page is read (one page per 100).
        """
        newest, count = None, 0
        for snapshot in self.iter_db_snapshots(snapshot_type="automated", db_instance_id=db_instance_id):
            if snapshot.get("DBInstanceIdentifier") != db_instance_id or not snapshot.get("SnapshotCreateTime"):
                continue
            count += 1
            if newest is None or snapshot["SnapshotCreateTime"] > newest["SnapshotCreateTime"]:
                newest = snapshot
        return newest, count

    def restore_scratch_instance(self, *, source_id: str, scratch_id: str, restore_time: Any, subnet_group: str,
                                 instance_class: str | None, tags: list[dict[str, str]]) -> dict[str, Any]:
        """Point-in-time restore of `source_id` into `scratch_id`: private (no public access), in
        `subnet_group`, tagged as a drill, with deletion protection off so teardown can delete it.

        A retried request finds the instance it created before (same tagged id) and returns it,
        only if its drill tags name the same source and run (`check_adoptable`), else raises.
        """
        from estate_ops.domain.drill import DRILL_RUN_TAG_KEY, check_adoptable

        kwargs: dict[str, Any] = {
            "SourceDBInstanceIdentifier": source_id,
            "TargetDBInstanceIdentifier": scratch_id,
            "RestoreTime": restore_time,
            "DBSubnetGroupName": subnet_group,
            "PubliclyAccessible": False,
            "DeletionProtection": False,
            "MultiAZ": False,
            "Tags": tags,
            "CopyTagsToSnapshot": False,
        }
        if instance_class:
            kwargs["DBInstanceClass"] = instance_class
        try:
            return self.conn.restore_db_instance_to_point_in_time(**kwargs)["DBInstance"]
        except ClientError as exc:
            from estate_ops.hooks.aws import error_code

            if error_code(exc) in ("DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"):
                existing = self.describe_instance(scratch_id)
                if existing is not None:
                    check_adoptable(existing, source_id, {t["Key"]: t["Value"] for t in tags}.get(DRILL_RUN_TAG_KEY))
                    return existing
            raise

    def delete_scratch_instance(self, scratch_id: str) -> str:
        """Delete a drill instance without a final snapshot; "deleted", "deleting" or "gone"."""
        from estate_ops.hooks.aws import error_code

        try:
            response = self.conn.delete_db_instance(DBInstanceIdentifier=scratch_id, SkipFinalSnapshot=True,
                                                    DeleteAutomatedBackups=True)
        except ClientError as exc:
            if is_not_found(exc):
                return "gone"
            if error_code(exc) == "InvalidDBInstanceState" and "deleting" in str(exc).lower():
                return "deleting"
            if error_code(exc) == "InvalidParameterCombination" and "deletion protection" in str(exc).lower():
                # A scratch instance must never survive its drill: lift the protection it should
                # not have had (callers only pass drill-tagged instances), then delete.
                self.conn.modify_db_instance(DBInstanceIdentifier=scratch_id, DeletionProtection=False,
                                             ApplyImmediately=True)
                return self.delete_scratch_instance(scratch_id)
            raise
        return "deleted" if (response.get("DBInstance") or {}).get("DBInstanceStatus") != "deleting" else "deleting"


class RestoredDatabaseHook:
    """Runs the drill's SQL checks on a restored instance (PostgreSQL, psycopg2).

    Credentials come from an Airflow connection (`drill_conn_id`); host and port are the scratch
    instance's endpoint, overriding the connection's. The database is the connection's schema
    when set, else the instance's DBName. Every statement has a timeout, so a check that hangs
    fails the step (and teardown still runs).
    """

    def __init__(self, conn_id: str, host: str, port: int, dbname: str | None, *,
                 statement_timeout_seconds: int = 300, connect_timeout_seconds: int = 30) -> None:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        self.conn_id = conn_id
        self.params = {
            "host": host,
            "port": int(port),
            "dbname": conn.schema or dbname or "postgres",
            "user": conn.login,
            "password": conn.password,
            "connect_timeout": connect_timeout_seconds,
            "options": f"-c statement_timeout={int(statement_timeout_seconds * 1000)}",
            "application_name": "estate-ops-restore-drill",
        }
        sslmode = (conn.extra_dejson or {}).get("sslmode")
        if sslmode:
            self.params["sslmode"] = sslmode

    def run_queries(self, queries: dict[str, str]) -> dict[str, list[tuple]]:
        """Each named query's rows, in one read-only session."""
        import psycopg2

        where = f"{self.params['host']}:{self.params['port']}/{self.params['dbname']} (connection {self.conn_id!r})"
        try:
            connection = psycopg2.connect(**self.params)
        except psycopg2.OperationalError as exc:
            raise RestoreCheckError(f"cannot connect to {where}: {str(exc).strip()}") from None
        try:
            connection.set_session(readonly=True, autocommit=True)
            results: dict[str, list[tuple]] = {}
            with connection.cursor() as cursor:
                for name, sql in queries.items():
                    try:
                        cursor.execute(sql)
                    except psycopg2.errors.QueryCanceled:
                        raise RestoreCheckError(f"check {name!r} timed out on {where}") from None
                    except psycopg2.Error as exc:
                        raise RestoreCheckError(f"check {name!r} failed on {where}: {str(exc).strip()}") from None
                    results[name] = cursor.fetchall()
            return results
        finally:
            connection.close()


class RestoreCheckError(RuntimeError):
    """A restore check could not run (connection refused, timeout, SQL error)."""
