"""Airflow connections: a missing one is a clear configuration error, named with where it is used."""

from __future__ import annotations

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException


class MissingConnectionError(RuntimeError):
    pass


def require_connection(conn_id: str, used_by: str) -> None:
    """Raise MissingConnectionError naming the connection, the estate.yaml key and how to add it."""
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise MissingConnectionError(
            f"Airflow connection {conn_id!r} (estate.yaml {used_by}) is not defined: add it in the UI "
            f"(Admin > Connections) or set AIRFLOW_CONN_{conn_id.upper()}"
        ) from None
