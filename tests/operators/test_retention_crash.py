"""Crash anywhere, rerun finishes: the delete step runs in a worker process that is SIGKILLed after k
AWS answers (before it writes the k-th answer down, so nothing in memory survives: no flush, no
finally), then a rerun of the day's DAG finishes. Checked against the listing and against a run of
the same day that never crashed: every planned snapshot deleted once, none recorded twice or lost,
the same audit JSONL apart from times, run ids and the detail of the ones settled on rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from estate_ops.hooks.rds import RdsBackupsHook

from tests.operators.test_retention import DAY, Run, approved, read_json, snapshot_ids

# The worker: the delete step for every batch of the plan, with the hook patched to SIGKILL the
# process after `kill_after` answers from AWS (0: right after the first batch's intents are written).
WORKER = textwrap.dedent("""
    import datetime as dt, json, os, signal, sys
    from types import SimpleNamespace
    from estate_ops.hooks import ledgers
    from estate_ops.hooks.rds import RdsBackupsHook
    from estate_ops.operators.retention import PruneRdsSnapshotsOperator

    arg = json.loads(sys.stdin.read())
    kill_after, answers = arg["kill_after"], []

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    original_delete = RdsBackupsHook.delete_manual_snapshot
    def delete(self, snapshot_id):
        outcome = original_delete(self, snapshot_id)
        answers.append(snapshot_id)
        print("ANSWER " + snapshot_id, flush=True)
        if len(answers) >= kill_after:
            die()  # AWS acted; the answer is not written down
        return outcome
    RdsBackupsHook.delete_manual_snapshot = delete

    if kill_after == 0:
        original_intents = ledgers.AuditWriter.write_intents
        def write_intents(self, items):
            key = original_intents(self, items)
            die()
            return key
        ledgers.AuditWriter.write_intents = write_intents

    class TI:
        try_number = 1
    when = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    context = {"logical_date": when, "run_id": "manual__crashed", "ti": TI(),
               "dag_run": SimpleNamespace(run_type="manual", run_after=when), "params": {}}
    for batch in arg["batches"]:
        PruneRdsSnapshotsOperator(task_id="delete_snapshots", batch=batch,
                                  flush_every=arg["flush_every"]).execute(context)
    print("FINISHED", flush=True)
""")


def deletion_lines(sandbox) -> list[dict]:
    return [r for r in read_json(sandbox, f"retention/audit/{DAY}.jsonl") if r["kind"] == "delete_db_snapshot"]


@pytest.fixture(scope="module")
def clean_audit(sandbox_session):
    """The day's deletion lines of a run that never crashed."""
    sandbox_session.reset()
    Run(run_id="manual__clean").all()
    lines = deletion_lines(sandbox_session)
    sandbox_session.reset()
    return lines


def comparable(line: dict) -> tuple:
    return tuple(line[k] for k in ("action_id", "kind", "target", "db_id", "why", "result"))


@pytest.mark.parametrize("kill_after,flush_every", [(0, 500), (1, 500), (3, 2), (-1, 500)],
                         ids=["after-intents", "first-answer", "after-a-flush", "last-answer"])
def test_a_worker_killed_anywhere_is_finished_by_a_rerun(sandbox, clean_audit, kill_after, flush_every, monkeypatch):
    first = Run(run_id="manual__crashed")
    batches = first.plan()
    targets = approved(read_json(sandbox, first.plan_key))
    assert len(targets) > 4
    k = len(targets) if kill_after == -1 else kill_after
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", WORKER], input=json.dumps(
        {"batches": batches, "kill_after": k, "flush_every": flush_every}), env=env,
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == -9, done.stderr[-3000:]
    answered = [line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("ANSWER ")]
    assert len(answered) == k
    assert snapshot_ids(sandbox) & set(targets) == set(targets) - set(answered)

    sent: list[str] = []
    original = RdsBackupsHook.delete_manual_snapshot
    monkeypatch.setattr(RdsBackupsHook, "delete_manual_snapshot",
                        lambda self, sid: (sent.append(sid), original(self, sid))[1])
    rerun = Run(run_id="manual__rerun")
    rerun.all()

    # the listing: every planned snapshot is gone, and the rerun sent no delete AWS had answered
    assert not snapshot_ids(sandbox) & set(targets)
    assert not set(sent) & set(answered) and sorted(sent) == sorted(set(targets) - set(answered))
    assert approved(read_json(sandbox, rerun.plan_key)) == targets  # the day's plan, unchanged
    lines = deletion_lines(sandbox)
    assert sorted(r["target"] for r in lines) == sorted(targets)  # each once: none twice, none lost
    assert sorted(map(comparable, lines)) == sorted(map(comparable, clean_audit))
    settled = {r["target"] for r in lines if "settled on rerun" in r["detail"]}
    # what the killed worker had flushed keeps its record; the rest of its answers is settled from the
    # rerun's listing, without another call
    kept = {r["target"] for r in lines if r["run_id"] == "manual__crashed"}
    assert kept <= set(answered) and settled == set(answered) - kept
    if flush_every < k:
        assert kept
    clean_detail = {r["target"]: r["detail"] for r in clean_audit}
    assert all(r["detail"] == clean_detail[r["target"]] for r in lines if r["target"] not in settled)


def test_a_second_rerun_changes_nothing(sandbox, monkeypatch):
    Run(run_id="manual__first").all()
    before = read_json(sandbox, f"retention/audit/{DAY}.jsonl")
    sent: list[str] = []
    original = RdsBackupsHook.delete_manual_snapshot
    monkeypatch.setattr(RdsBackupsHook, "delete_manual_snapshot",
                        lambda self, sid: (sent.append(sid), original(self, sid))[1])
    assert Run(run_id="manual__again").all()["deleted"] == len([r for r in before if r["result"] == "deleted"])
    assert read_json(sandbox, f"retention/audit/{DAY}.jsonl") == before and not sent
