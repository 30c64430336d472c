"""A throttling storm on the threaded delete path: `Throttling` injected on a share of the deletes,
in the client's own send step (a botocore `before-send` hook), so botocore's adaptive retries see
AWS's answer and retry as they would. Every third snapshot is throttled twice and then deleted; one
snapshot is throttled on every attempt. The run finishes the rest, names what failed per snapshot
and fails; nothing is reported deleted that the listing afterwards still shows. A rerun after the
storm finishes the day."""

from __future__ import annotations

import threading
import uuid
from urllib.parse import parse_qs

import botocore.retries.adaptive
import botocore.retries.standard
import pytest
from airflow.sdk.exceptions import AirflowFailException
from botocore.awsrequest import AWSResponse
from estate_ops.hooks.aws import ADAPTIVE_RETRIES
from estate_ops.hooks.rds import RdsBackupsHook
from estate_ops.operators.retention import PRUNE_THREADS, PruneRdsSnapshotsOperator

from tests.operators.test_retention import DAY, Run, approved, read_json, snapshot_ids

THROTTLED_TWICE_EVERY = 3  # every third snapshot: two Throttling answers, then AWS's own
ALWAYS = object()


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


class Storm:
    """Answers DeleteDBSnapshot with AWS's Throttling error for the chosen snapshots, `times` times each
    (ALWAYS: every attempt). Thread-safe: the delete threads share the client."""

    def __init__(self, plan: dict[str, object]) -> None:
        self.plan = dict(plan)
        self.sent: dict[str, int] = {}  # DeleteDBSnapshot attempts per snapshot, throttled or not
        self.throttled: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, request, **_):
        body = request.body.decode() if isinstance(request.body, bytes) else (request.body or "")
        snapshot_id = parse_qs(body).get("DBSnapshotIdentifier", [""])[0]
        with self._lock:
            self.sent[snapshot_id] = self.sent.get(snapshot_id, 0) + 1
            times = self.plan.get(snapshot_id, 0)
            if times is not ALWAYS and self.throttled.get(snapshot_id, 0) >= times:
                return None  # on to the sandbox
            self.throttled[snapshot_id] = self.throttled.get(snapshot_id, 0) + 1
        xml = ("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
               f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()
        return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Body(xml))


@pytest.fixture
def storm(monkeypatch):
    """Install a Storm on every RDS hook client made from now on; the retries do not sleep."""
    holder: dict[str, Storm] = {}
    original = RdsBackupsHook.get_client_type

    def get_client_type(self, *args, **kwargs):
        client = original(self, *args, **kwargs)
        if "storm" in holder:
            client.meta.events.register("before-send.rds.DeleteDBSnapshot", holder["storm"])
        return client

    monkeypatch.setattr(RdsBackupsHook, "get_client_type", get_client_type)
    # The retry decisions stay botocore's (attempts, retryable codes, quota); only the waiting goes.
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    monkeypatch.setattr(botocore.retries.adaptive.ClientRateLimiter, "on_sending_request",
                        lambda self, request, **kwargs: None)

    def make(plan: dict[str, object]) -> Storm:
        holder["storm"] = Storm(plan)
        return holder["storm"]

    yield make
    holder.clear()


def both_databases_green(sandbox) -> None:
    """The sandbox's second database is refused (its verification is not green): make it green, so
    two databases delete side by side."""
    import json

    from estate_ops.config import load_config

    estate = load_config()[1]
    for db in estate.databases[:2]:
        status = {"db_id": db.id, "verified_at": "2026-11-02T06:00:00Z", "day": "2026-11-02", "green": True,
                  "findings": []}
        sandbox.boto3_client("s3").put_object(Bucket=estate.reports_bucket, Key=f"backups/status/{db.id}.json",
                                              Body=json.dumps(status).encode())


def audit_results(sandbox) -> dict[str, list[str]]:
    results: dict[str, list[str]] = {}
    for line in read_json(sandbox, f"retention/audit/{DAY}.jsonl"):
        if line["kind"] == "delete_db_snapshot":
            results.setdefault(line["target"], []).append(line["result"])
    return results


def test_a_throttling_storm_on_the_threaded_path_retries_names_what_failed_and_fails_the_run(sandbox, storm):
    both_databases_green(sandbox)
    run = Run(run_id="manual__storm")
    batches = run.plan()
    plan_doc = read_json(sandbox, run.plan_key)
    targets = approved(plan_doc)
    by_db = plan_doc["gate"]["approved"]
    assert len(by_db) >= 2 and len(targets) > 20
    first_db, other_db = sorted(by_db)[:2]
    hopeless = by_db[first_db][len(by_db[first_db]) // 2]  # throttled on all of botocore's attempts
    plan = {sid: 2 for i, sid in enumerate(targets) if i % THROTTLED_TWICE_EVERY == 0}
    plan[hopeless] = ALWAYS
    weather = storm(plan)
    run.settings()
    # The plan's one delete task holds both databases: they run in threads sharing one client.
    [group] = batches
    assert sorted(d["db_id"] for d in group["databases"]) == sorted(by_db) and PRUNE_THREADS >= len(by_db)
    result = PruneRdsSnapshotsOperator(task_id="delete_snapshots", batch=group).execute(run.context)
    run.ti.returns["delete_snapshots"] = [result]

    with pytest.raises(AirflowFailException, match=rf"1 pruning action\(s\) failed.*{hopeless}: .*Throttling"):
        run.report()

    left = snapshot_ids(sandbox)
    results = audit_results(sandbox)
    assert sorted(results) == sorted(targets)  # every planned snapshot has its line, once
    assert all(len(r) == 1 for r in results.values())
    # the retries absorbed the storm: a snapshot throttled twice was sent three times and is gone
    recovered = [sid for sid, times in plan.items() if times == 2 and results[sid] == ["deleted"]]
    assert recovered and all(weather.sent[sid] == 3 and sid not in left for sid in recovered)
    # what still fails is named, with AWS's reason, after every attempt botocore allows
    assert results[hopeless] == ["failed"] and hopeless in left
    # botocore's `max_attempts` counts the retries: the first call and 10 more
    assert weather.sent[hopeless] == weather.throttled[hopeless] == 1 + ADAPTIVE_RETRIES.retries["max_attempts"]
    report = read_json(sandbox, f"retention/{DAY}/report.json")
    assert [(r["target"], "Throttling" in r["detail"]) for r in report["items"]["failed"]] == [(hopeless, True)]
    assert [f["resource"] for f in report["findings"] if f["kind"] == "pruning_action_failed"] == [hopeless]
    # that database stops at the failure (the rest is left for a rerun); the other one finishes
    after = by_db[first_db][by_db[first_db].index(hopeless) + 1:]
    assert after and {results[sid][0] for sid in after} == {"not_attempted"} and set(after) <= left
    assert {results[sid][0] for sid in by_db[other_db]} == {"deleted"}
    # nothing is reported deleted that is still listed, and everything gone is reported deleted
    reported = {r["target"] for r in report["items"]["deleted"]}
    assert reported == {sid for sid, r in results.items() if r == ["deleted"]} == set(targets) - left
    assert report["headline"]["snapshots_deleted"]["value"] == len(set(targets) - left)
    assert result["failed"] == 1 and result["deleted"] == len(reported)


def test_the_rerun_after_a_storm_finishes_the_day(sandbox, storm):
    first = Run(run_id="manual__storm")
    batches = first.plan()
    by_db = read_json(sandbox, first.plan_key)["gate"]["approved"]
    db = min(by_db)
    hopeless = by_db[db][3]
    storm({hopeless: ALWAYS})
    first.settings()
    first.delete(batches)
    with pytest.raises(AirflowFailException, match=hopeless):
        first.report()
    left_after_storm = snapshot_ids(sandbox) & set(approved(read_json(sandbox, first.plan_key)))
    assert hopeless in left_after_storm

    weather = storm({})  # the storm is over
    rerun = Run(run_id="manual__after-storm")
    rerun.all()
    targets = approved(read_json(sandbox, rerun.plan_key))
    assert not snapshot_ids(sandbox) & set(targets)
    assert sorted(weather.sent) == sorted(left_after_storm)  # only what was left is sent, once each
    assert set(weather.sent.values()) == {1}
    report = read_json(sandbox, f"retention/{DAY}/report.json")
    assert report["items"]["failed"] == [] and report["items"]["not_attempted"] == []
    assert {r["target"] for r in report["items"]["deleted"]} == set(targets)
