"""A test estate for the backups tests: the sandbox estate plus what the backups scenario seeds
outside estate.yaml (sandbox/scenarios/backups.py) and a database that does not exist."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import yaml
from estate_ops.config import DEFAULT_ESTATE_PATH, clear_cache

STALE_DB = "legacy-analytics-db"  # restorable time 3 h stale
SHORT_RETENTION_DB = "legacy-reporting-db"  # 7-day retention
HEALTHY_DB = "legacy-prod-db"
GHOST_DB = "legacy-ghost-db"  # named in the estate, not in AWS
CONTRACTS = {"bucket": "legacy-contracts", "replica_bucket": "legacy-contracts-replica", "replica_region": "us-west-2"}


def backups_estate(path: Path, *, extra_databases: tuple[str, ...] = (STALE_DB, GHOST_DB),
                   extra_documents: tuple[dict, ...] = (CONTRACTS,), **overrides) -> Path:
    data = yaml.safe_load(DEFAULT_ESTATE_PATH.read_text(encoding="utf-8"))
    template = data["databases"][0]
    for db_id in extra_databases:
        data["databases"].append({**template, "id": db_id, "critical": False})
    data["documents"].extend(dict(d) for d in extra_documents)
    data.update(overrides)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@contextlib.contextmanager
def using_estate(path: Path) -> Iterator[Path]:
    """ESTATE_OPS_ESTATE=path for the block (the project reads it at every load_config)."""
    saved = os.environ.get("ESTATE_OPS_ESTATE")
    os.environ["ESTATE_OPS_ESTATE"] = str(path)
    clear_cache()
    try:
        yield path
    finally:
        if saved is None:
            os.environ.pop("ESTATE_OPS_ESTATE", None)
        else:
            os.environ["ESTATE_OPS_ESTATE"] = saved
        clear_cache()
