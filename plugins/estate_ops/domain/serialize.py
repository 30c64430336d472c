"""Canonical JSON: the same data always gives the same bytes (idempotent artifacts).

Decimals are written as strings so money and percentages keep every digit; datetimes must be
aware and are written in UTC ISO 8601.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from enum import Enum
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise TypeError(f"naive datetime {value.isoformat()} cannot be written: times are UTC-aware")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.as_dict() if hasattr(value, "as_dict") else dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "model_dump"):  # pydantic models
        return value.model_dump(mode="json")
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def canonical_json(data: Any) -> bytes:
    """Sorted keys, two-space indent, UTF-8, trailing newline; floats are refused for money's sake."""
    text = json.dumps(data, default=_default, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def json_data(data: Any) -> Any:
    """`data` as JSON reads it back: what `canonical_json(data)` holds, as plain Python values.

    With json's C encoder (the indented `canonical_json` runs the pure-Python one): for the many small
    records a run normalises, e.g. one per deletion.
    """
    return json.loads(json.dumps(data, default=_default, ensure_ascii=False, allow_nan=False))
