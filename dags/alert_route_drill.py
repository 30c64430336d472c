"""alert_route_drill: each alert route delivers a canary alarm end to end (plan §2.1), weekly."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, TaskGroup
from estate_ops.alerting import failure_callback
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.monitoring import (
    CheckCanariesOperator,
    FireCanaryOperator,
    PublishRouteDrillOperator,
    RestoreCanaryOperator,
    WaitForAlertDeliveryOperator,
)

ROUTES = ("pagerduty", "slack")

with DAG(
    dag_id="alert_route_drill",
    doc_md="""
### Alert route drill (plan §2.1), weekly and manual

`monitoring_audit` proves the routes by configuration; this proves them by a delivery. For each
route of `estate.yaml` `monitoring.canaries` (P0/P1 -> PagerDuty, P2/P3 -> Slack):

1. **check_canaries** refuses, before anything is set, a canary alarm that does not exist, is not a
   metric alarm with actions, or shares its metric (or a composite alarm) with other alarms; it
   notes what is already at each destination (open incidents, the channel's newest message);
2. **fire_canary** sets the canary to ALARM (`SetAlarmState`);
3. **wait_for_delivery** waits in the triggerer (deferrable) for a new PagerDuty incident on the
   canary's service naming it, or a Slack message in its channel naming it
   (`conversations.history`), at most `plan.yaml` `monitoring.drill` minutes;
4. **restore_canary** (cleanup, trigger rule `all_done`: runs after any failure upstream, as soon as
   fire_canary has *tried* to set the canary) resolves the drill's PagerDuty incident through the REST
   API (`PUT /incidents/{id}` as `canaries.pagerduty.resolve_as`), then sets the canary back to OK; each
   step is tried even when the other fails. Not an Airflow teardown: a teardown is skipped when its
   setup failed, and a SetAlarmState that failed may still have set the alarm.

Writes `monitoring/drills/YYYY-MM-DD/drill.{json,html}` with each route's delivery latency (on
estate-ops' clock, within one poll). Not delivered: P1 for the PagerDuty route, P2 for Slack.
""",
    schedule="0 8 * * 2",  # Tuesdays 08:00 UTC: office hours, someone sees the drill page
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P2"),
    tags=tags("monitoring"),
) as dag:
    check = CheckCanariesOperator(task_id="check_canaries")
    fires, waits, restores, cleanups = {}, {}, {}, []
    for route in ROUTES:
        fires[route], waits[route] = f"{route}.fire_canary", f"{route}.wait_for_delivery"
        restores[route] = f"{route}.restore_canary"
        with TaskGroup(route):
            fire = FireCanaryOperator(task_id="fire_canary", route=route)
            wait = WaitForAlertDeliveryOperator(task_id="wait_for_delivery", route=route,
                                                fire_task_id=fires[route], check_task_id="check_canaries")
            restore = RestoreCanaryOperator(task_id="restore_canary", route=route, fire_task_id=fires[route],
                                            check_task_id="check_canaries")
            check >> fire >> wait >> restore
        cleanups.append(restore)
    cleanups >> PublishRouteDrillOperator(task_id="publish_drill", check_task_id="check_canaries",
                                          fire_task_ids=fires, wait_task_ids=waits, restore_task_ids=restores,
                                          on_failure_callback=failure_callback("P3"))
