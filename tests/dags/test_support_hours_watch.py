"""support_hours_watch end to end with dag.test() against the sandbox's October timesheets:
through 20 October, then again (nothing new is posted), then through 31 October (only the next
threshold is). The figures equal the invoice draft's own for the same entries."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from estate_ops.config import load_config

from tests.dagrun import run_dag, task_states

DAG_ID = "support_hours_watch"
LOGICAL = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


def _watch(sandbox, day: str) -> dict:
    s3 = sandbox.boto3_client("s3")
    bucket = load_config()[1].reports_bucket
    return json.loads(s3.get_object(Bucket=bucket, Key=f"invoices/2026-10/hours-watch/{day}.json")["Body"].read())


def _hours_messages(sandbox) -> list[str]:
    return [m.get("text") or "" for m in sandbox.slack_messages() if "Support hours" in (m.get("text") or "")]


@pytest.fixture(scope="module")
def runs(sandbox_session):
    sandbox_session.reset()
    out = {}
    for name, day in (("mid", "2026-10-20"), ("mid_again", "2026-10-20"), ("end", "2026-10-31")):
        run = run_dag(DAG_ID, LOGICAL, {"date": day})
        out[name] = {"run": run, "watch": _watch(sandbox_session, day), "messages": _hours_messages(sandbox_session)}
    return out


def test_every_run_succeeds(runs):
    for r in runs.values():
        assert str(r["run"].state) == "success", task_states(r["run"])


def test_each_threshold_is_posted_once_a_month(runs):
    mid, again, end = runs["mid"], runs["mid_again"], runs["end"]
    assert again["messages"] == mid["messages"]  # the rerun posts nothing
    assert again["watch"] == mid["watch"]
    by_client = {w["client_id"]: w for w in end["watch"]["clients"]}
    crossed_mid = {w["client_id"]: w["crossed_percent"] for w in mid["watch"]["clients"]}
    crossed_end = {c: w["crossed_percent"] for c, w in by_client.items()}
    # a message for each client whose highest crossed threshold changed, and no other
    expected = sum(1 for c in crossed_mid if crossed_mid[c]) + \
        sum(1 for c in crossed_end if crossed_end[c] and crossed_end[c][-1:] != crossed_mid.get(c, [])[-1:])
    assert len(end["messages"]) == expected
    # fabrikam (Premium) goes over its hours in the scenario: by the month's end it has crossed 100 %
    assert crossed_end["fabrikam"] == [50, 80, 100]
    assert any("Fabrikam" in m and "reached 100 %" in m for m in end["messages"])


def test_figures_are_the_invoices_and_the_pace_is_working_days(runs):
    watch = {w["client_id"]: w for w in runs["mid"]["watch"]["clients"]}
    # 1-20 October 2026: 14 working days (Mon-Fri) gone by of 22 in the month
    assert {w["working_days_elapsed"] for w in watch.values()} == {14}
    assert {w["working_days_in_month"] for w in watch.values()} == {22}
    for w in watch.values():
        used, elapsed, total = (float(w["used_hours"]), w["working_days_elapsed"], w["working_days_in_month"])
        assert float(w["projected_hours"]) == pytest.approx(used / elapsed * total, abs=0.006)
        assert float(w["projected_overage_hours"]) == pytest.approx(
            max(0.0, float(w["projected_hours"]) - float(w["allowance_hours"])), abs=0.006)
    end = {w["client_id"]: w for w in runs["end"]["watch"]["clients"]}
    assert all(float(end[c]["used_hours"]) >= float(watch[c]["used_hours"]) for c in watch)
    assert end["fabrikam"]["rejected_rows"] >= 0


def test_a_day_that_has_not_ended_is_refused(sandbox_session):
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    run = run_dag(DAG_ID, LOGICAL, {"date": future})
    assert str(run.state) == "failed"
