"""monitoring.drill_*: one alert-route drill against the sandbox, which delivers an alarm's state
change as AWS does (SNS to PagerDuty's CloudWatch integration, to AWS Chatbot's Slack channel).

The drill's own operators run as the DAG runs them, in a child process with its own AIRFLOW_HOME:
check_canaries, then per route fire_canary, wait_for_delivery (its deferral, and the trigger run to
its event), restore_canary. Measured per route, from the sandbox's request counter: the AWS,
PagerDuty and Slack requests of fire..restore, and the delivery latency (alarm set -> first seen,
on the drill's clock; the sandbox delivers at once, so this is the drill's own cost: one look).

Minimum per route: AWS 3 (SetAlarmState ALARM; on restore DescribeAlarms and SetAlarmState OK);
PagerDuty 3 (one look: GET /incidents; restore: GET /incidents, PUT /incidents/{id}); Slack 2 (one
look: conversations.list to find the channel, conversations.history). Goal: at the minimum, and the
latency within one poll (plan.yaml monitoring.drill.poll_seconds).
"""

from __future__ import annotations

import json

from bench.common import child_result, record

MINIMUM = {"pagerduty": {"aws": 3, "pagerduty": 3, "slack": 0}, "slack": {"aws": 3, "pagerduty": 0, "slack": 2}}

CHILD = r'''
import asyncio, datetime as dt, json, os, sys, time, types
from pathlib import Path
from devtools.localenv import prepare_home
home = Path(sys.argv[1])
os.environ.update(prepare_home(home))
from sandbox.runner import start_sandbox
handle = start_sandbox(home / "sandbox", reference_month="2026-10", now="2026-11-02T12:00:00Z", ports="auto",
                       extra_args=["--scenarios", "monitoring"], timeout=600)
try:
    os.environ.update(handle.airflow_connections_env())
    from airflow.sdk import DAG
    from airflow.sdk.exceptions import TaskDeferred
    from estate_ops.config import load_config
    from estate_ops.operators.monitoring import (ATTEMPT_KEY, CheckCanariesOperator, FireCanaryOperator,
                                                 RestoreCanaryOperator, WaitForAlertDeliveryOperator)

    xcom = {}

    class TI:
        def __init__(self, task_id):
            self.task_id = task_id
        def xcom_push(self, key, value):
            xcom[(self.task_id, key)] = value
        def xcom_pull(self, task_ids, key="return_value"):
            return xcom.get((task_ids, key))

    RUN = dt.datetime(2026, 11, 3, 8, tzinfo=dt.UTC)

    def execute(op):
        context = {"ti": TI(op.task_id), "run_id": "bench", "logical_date": RUN,
                   "dag_run": types.SimpleNamespace(run_id="bench", run_after=RUN)}
        try:
            value = op.execute(context)
        except TaskDeferred as deferred:
            async def first(trigger):
                async for event in trigger.run():
                    return event
            event = asyncio.run(first(deferred.trigger))
            value = getattr(op, deferred.method_name)(context, event.payload)
        xcom[(op.task_id, "return_value")] = value
        return value

    def counts():
        totals = handle.request_counts()["totals"]
        return {k: totals.get(k, 0) for k in ("aws", "pagerduty", "slack")}

    with DAG("alert_route_drill_bench", schedule=None, start_date=RUN):
        check = CheckCanariesOperator(task_id="check")
        ops = {r: (FireCanaryOperator(task_id=f"fire_{r}", route=r),
                   WaitForAlertDeliveryOperator(task_id=f"wait_{r}", route=r, fire_task_id=f"fire_{r}", check_task_id="check"),
                   RestoreCanaryOperator(task_id=f"restore_{r}", route=r, fire_task_id=f"fire_{r}", check_task_id="check"))
               for r in ("pagerduty", "slack")}
    handle.clear_request_counts()
    execute(check)
    out = {"check": counts(), "routes": {}, "poll_seconds": load_config()[0].monitoring.drill.poll_seconds}
    for route, (fire, wait, restore) in ops.items():
        handle.clear_request_counts()
        started = time.perf_counter()
        fired = execute(fire)
        event = execute(wait)
        cleanup = execute(restore)
        seconds = time.perf_counter() - started
        latency = (dt.datetime.fromisoformat(event["seen_at"]) - dt.datetime.fromisoformat(fired)).total_seconds() \
            if event.get("seen_at") else None
        out["routes"][route] = {"calls": counts(), "status": event["status"], "latency": latency,
                                "seconds": seconds, "resolved": len(cleanup["resolved"])}
    print("RESULT " + json.dumps(out))
finally:
    handle.stop()
'''


def measure() -> dict:
    return child_result(CHILD, what="monitoring drill")


def run() -> list[dict]:
    m = measure()
    records = [record("monitoring.drill_check_requests", sum(m["check"].values()), "requests")]
    for route, figures in m["routes"].items():
        prefix = f"monitoring.drill_{route}"
        records.append(record(f"{prefix}_delivered", figures["status"], "", "== delivered",
                              figures["status"] == "delivered"))
        latency = figures["latency"]
        records.append(record(f"{prefix}_latency_seconds", None if latency is None else round(latency, 2), "s",
                              f"<= {m['poll_seconds']} (one poll)", latency is not None and latency <= m["poll_seconds"]))
        for service in ("aws", "pagerduty", "slack"):
            value, minimum = figures["calls"][service], MINIMUM[route][service]
            records.append(record(f"{prefix}_{service}_requests", value, "requests", f"== {minimum}", value == minimum))
        if route == "pagerduty":
            records.append(record(f"{prefix}_incidents_resolved", figures["resolved"], "incidents", "== 1",
                                  figures["resolved"] == 1))
        records.append(record(f"{prefix}_wall_seconds", round(figures["seconds"], 2), "s"))
    return records


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
