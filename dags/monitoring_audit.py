"""monitoring_audit: the estate's alarms exist, are on, and reach PagerDuty or Slack (plan §2.1), daily."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param
from estate_ops.dag_defaults import default_args, tags
from estate_ops.operators.monitoring import AuditMonitoringOperator

with DAG(
    dag_id="monitoring_audit",
    doc_md="""
### Monitoring audit (plan §2.1), daily

Reads every CloudWatch alarm (metric and composite; `DescribeAlarms` paged at 100) and their
severity tags in the estate's region (and us-east-1, where Route 53 health-check alarms live),
then each SNS topic those alarms notify, once per topic (`ListSubscriptionsByTopic`, paged).
Checks, with the defaults of `plan.yaml` `monitoring`:

- every health check, ALB, target group and RDS instance of `estate.yaml` has each required
  alarm (metric, statistic, direction), directly or through a composite alarm; a resource with
  no alarm at all is P1;
- each alarm's severity comes from its `severity` tag (missing = a finding, never guessed), and a
  P0/P1 alarm reaches PagerDuty's Events integration, a P2/P3 alarm Slack through AWS Chatbot,
  by a confirmed subscription (pending is not a route);
- alarms with actions disabled, stuck in INSUFFICIENT_DATA over 24 h, and topics in another
  region or account or with no confirmed subscription.

Writes `monitoring/YYYY-MM-DD/audit.{json,html}` and routes findings by severity (once per
finding and day: a rerun pages nobody). Manual runs may set `date` to file the audit under an
earlier day (AWS shows only the configuration of now).
""",
    schedule="30 6 * * *",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(failure_severity="P2"),
    tags=tags("monitoring"),
    params={
        "date": Param(None, type=["null", "string"], title="Day (UTC)",
                      description="YYYY-MM-DD the audit is filed under; empty = the run's own day. Not after "
                                  "the run's day: AWS shows only the configuration of now."),
    },
) as dag:
    AuditMonitoringOperator(task_id="audit_monitoring")
