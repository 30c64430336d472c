from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from estate_ops.config import load_plan
from estate_ops.domain.findings import Finding, sort_findings
from estate_ops.domain.serialize import canonical_json, json_data
from hypothesis import given
from hypothesis import strategies as st


def test_finding_severity_comes_from_the_plan():
    plan = load_plan()
    assert Finding.of(plan, "backup_missed", "db", "x", "2026-10-01").severity == "P1"
    assert Finding.of(plan, "pruning_refused", "db", "x", "2026-10-01").severity == "P2"
    with pytest.raises(KeyError, match="no severity in plan.yaml"):
        Finding.of(plan, "not_a_kind", "db", "x", "2026-10")


@given(st.text(min_size=1), st.text(min_size=1))
def test_dedup_key_is_stable_and_safe(resource, period):
    a = Finding("backup_missed", "P1", resource, "one summary", period)
    b = Finding("backup_missed", "P1", resource, "another summary", period, {"x": 1})
    assert a.dedup_key == b.dedup_key  # the summary and details do not change which alert it is
    assert all(c.isalnum() or c in "._:=+-/_" for c in a.dedup_key)


def test_dedup_key_differs_by_period_and_resource():
    keys = {Finding("k", "P1", r, "s", p).dedup_key for r in ("a", "b") for p in ("2026-10", "2026-11")}
    assert len(keys) == 4


def test_sort_findings_most_severe_first():
    fs = [Finding("k", s, "r", "x", "p") for s in ("P3", "P0", "P2", "P1")]
    assert [f.severity for f in sort_findings(fs)] == ["P0", "P1", "P2", "P3"]


def test_canonical_json_is_order_independent_and_exact():
    a = canonical_json({"b": Decimal("0.10"), "a": dt.datetime(2026, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))})
    b = canonical_json({"a": dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC), "b": Decimal("0.10")})
    assert a == b
    assert json.loads(a) == {"a": "2026-01-01T10:00:00Z", "b": "0.10"}


@pytest.mark.parametrize("value,error", [
    (dt.datetime(2026, 1, 1), "naive datetime"),
    (float("nan"), "Out of range float"),
    (object(), "cannot write object"),
])
def test_canonical_json_refuses(value, error):
    with pytest.raises((TypeError, ValueError), match=error):
        canonical_json({"v": value})


def test_json_data_is_what_canonical_json_reads_back():
    value = {"b": Decimal("0.10"), "a": dt.datetime(2026, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
             "day": dt.date(2026, 1, 2), "ids": {"z", "x"}, "text": "Zoë → ☃", "n": [1, None, True],
             "nested": {"when": dt.datetime(2026, 3, 1, tzinfo=dt.UTC), "gap": dt.timedelta(minutes=90)}}
    assert json_data(value) == json.loads(canonical_json(value))
    assert json_data(value)["a"] == "2026-01-01T10:00:00Z" and json_data(value)["ids"] == ["x", "z"]


@pytest.mark.parametrize("value,error", [
    (dt.datetime(2026, 1, 1), "naive datetime"),
    (float("nan"), "Out of range float"),
    (object(), "cannot write object"),
])
def test_json_data_refuses_what_canonical_json_refuses(value, error):
    with pytest.raises((TypeError, ValueError), match=error):
        json_data({"v": value})
