"""The retention audit's records in the sandbox's real S3 API: what `load_records` reads back."""

from __future__ import annotations

import pytest
from estate_ops.config import load_estate
from estate_ops.domain import retention as R
from estate_ops.hooks.artifacts import ArtifactStore
from estate_ops.hooks.ledgers import (
    AuditWriter,
    load_records,
    record_key_result,
    record_prefix,
)


@pytest.fixture
def store(sandbox):
    return ArtifactStore.for_estate(load_estate())


def _action(snapshot_id: str) -> dict:
    return R.PlannedAction("delete_db_snapshot", snapshot_id, "older than 30 days", db_id="db-a").as_dict()


def _written_day(store, day: str) -> tuple[list[dict], list[str]]:
    """Three intents in one bundle, two results in another, and one of each in the older layout
    (one object per record): what a run that died after two answers leaves."""
    actions = [_action(f"db-a-snap-{i}") for i in range(3)]
    writer = AuditWriter(store, day, "db-a", "manual__t", 1)
    writer.write_intents([(a, None) for a in actions])
    for a in actions[:2]:
        writer.write(a, None, R.RESULT_DELETED, "DeleteDBSnapshot accepted")
    writer.flush()
    old = _action("db-a-snap-old")
    prefix = record_prefix(day, "db-a")
    store.put_json(f"{prefix}{old['action_id']}~started.json", {"intent": old})
    store.put_json(f"{prefix}{old['action_id']}~deleted.json", {"record": {"action_id": old["action_id"]}})
    return actions, [a["action_id"] for a in [*actions[:2], old]]


def test_results_only_returns_every_result_and_reads_no_intent_bundle(sandbox, store):
    day = "2031-01-07"
    _, answered = _written_day(store, day)
    sandbox.clear_request_counts()
    results = load_records(store, day, ["db-a"], results_only=True)
    gets = [p for p in sandbox.request_counts()["paths"].get("aws", {}) if p.startswith("s3:GET /")]
    assert sorted(record_key_result(k) for k in results) == sorted((a, R.RESULT_DELETED) for a in answered)
    assert not [p for p in gets if "_intents~" in p]
    assert [p for p in gets if "_results~" in p]
    assert not [p for p in gets if p.endswith("~started.json")]  # the older layout's intent: not wanted, not read


def test_without_results_only_the_intents_are_read_too(store):
    day = "2031-01-08"
    actions, answered = _written_day(store, day)
    everything = load_records(store, day, ["db-a"])
    started = sorted(record_key_result(k)[0] for k in everything if record_key_result(k)[1] == "started")
    assert started == sorted([a["action_id"] for a in actions] + [answered[-1]])
    assert len(everything) == len(started) + len(answered)
