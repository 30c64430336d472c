"""One realistic report per kind of the demo, built by the domain functions from sandbox-like inputs
(no server), with the charts its operator draws: what the report layout tests render.

`REPORTS` maps each kind to a function returning `(report, charts)`, charts as `publish_report`
takes them ({title: (file name, PNG)}).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Built = tuple[dict[str, Any], dict[str, tuple[str, bytes]]]


def availability() -> Built:
    from estate_ops.domain.periods import Month
    from estate_ops.operators.availability import draw_charts

    from tests.domain.test_availability_scenario import measure

    report = measure(Month(2026, 10))  # the sandbox's reference month: outages, windows, no data
    return report, draw_charts(report)


def incidents() -> Built:
    from estate_ops.domain.incidents import LogFacts, build_incident_report
    from estate_ops.domain.oncall import build_oncall_section
    from estate_ops.operators.incidents import _charts

    from tests.domain import test_incidents as ti
    from tests.domain import test_oncall as to

    raws = [
        ti.raw("PA1", "2026-10-01T03:00:00", "2026-10-01T05:10:00", "PP0", 101),  # resolved late
        ti.raw("PB2", "2026-10-02T09:00:00", "2026-10-02T09:40:00", "PP1", 102),
        ti.raw("PC3", "2026-10-06T14:00:00", "2026-10-06T20:00:00", "PP1", 103),
        ti.raw("PD4", "2026-10-09T08:00:00", "2026-10-10T07:00:00", "PP2", 104),
        ti.raw("PE5", "2026-10-14T16:30:00", "2026-10-22T10:00:00", "PP3", 105),
        ti.raw("PF6", "2026-10-20T11:00:00", "2026-10-20T11:20:00", "PP2", 106),
        ti.raw("PG7", "2026-10-29T22:00:00", None, "PP2", 107),  # open at the month's end
        ti.raw("PH8", "2026-10-17T05:00:00", "2026-10-17T06:00:00", None, 108),  # no priority
    ]
    oncall = build_oncall_section(
        ti.PLAN, {"primary": to._rendered("PRI", [(to.START, to.END, "U1")], [to._layer()]),
                  "secondary": to._rendered("SEC", [(to.START, to.h(10), "U2"), (to.h(16), to.END, "U3")],
                                            [to._layer()])},
        to._policy(*to.GOOD), primary="PRI", secondary="SEC", escalation_roles=dict(to.ROLES),
        since=to.START, until=to.END, period="2026-10")
    report, _ = build_incident_report(ti.PLAN, ti.SETTINGS, ti.OCT, ti.AS_OF, raws, LogFacts(), [], oncall=oncall,
                                      extra_findings=oncall["findings"], estate_name="Legacy")
    return report, _charts(report)


def backups() -> Built:
    from estate_ops.domain.backups import (
        LogGroupObservation,
        build_verification_report,
        verify_database,
        verify_documents,
        verify_log_groups,
    )

    from tests.domain import test_backups as tb

    verdicts = [verify_database(tb.PLAN, tb.healthy_db(db_id="legacy-api-db", backup_retention_days=7),
                                tb.NOW, tb.DAY),
                verify_database(tb.PLAN, tb.healthy_db(db_id="legacy-reports-db"), tb.NOW, tb.DAY),
                verify_documents(tb.PLAN, tb.healthy_bucket(), tb.NOW, tb.DAY),
                verify_log_groups(tb.PLAN, "/legacy/", [LogGroupObservation("/legacy/api", 365),
                                                        LogGroupObservation("/legacy/worker", None)], tb.DAY)]
    return build_verification_report(tb.PLAN, "Legacy", tb.DAY, tb.NOW, verdicts).report, {}


def drill() -> Built:
    from estate_ops.domain.drill import build_drill_report, evaluate_drill

    from tests.domain import test_drill as td

    a, fa = evaluate_drill(td.PLAN, td.outcome(db_id="legacy-api-db"), td.AS_OF, td.DAY)
    b, fb = evaluate_drill(td.PLAN, td.outcome(db_id="legacy-reports-db",
                                               newest_updated_at=td.AS_OF - dt.timedelta(hours=2)), td.AS_OF, td.DAY)
    return build_drill_report(td.PLAN, "Legacy", td.DAY, [a, b], fa + fb), {}


def retention() -> Built:
    from estate_ops.domain import retention as R

    from tests.domain import test_retention_report as tr

    records = [tr._rec("c0", "deleted", 1), tr._rec("c1", "deleted", 2), tr._rec("c2", "already_gone", 3),
               tr._rec("/legacy/api", "applied", 4, kind="put_log_retention")]
    doc = tr._plan_doc({"db-b": "db-b: latest backup verification is not green"})
    return R.build_report(doc, records, [], plan_version="1.0.0", estate_name="Legacy"), {}


def preflight() -> Built:
    from estate_ops.config import load_plan
    from estate_ops.domain.preflight import Check, build_preflight_report

    checks = [Check("aws", "rds_instance", "legacy-api-db", True, "available"),
              Check("aws", "rds_instance", "legacy-reports-db", True, "available"),
              Check("aws", "bucket", "legacy-documents", True, "versioning enabled"),
              Check("aws", "health_check", "hc-api", False, "no such health check in us-east-1"),
              Check("pagerduty", "pagerduty_service", "PSVC", True, "API"),
              Check("slack", "slack_channel", "#estate-ops", True, "member")]
    report, _ = build_preflight_report(checks, load_plan(), "Legacy", dt.date(2026, 11, 2))
    return report, {}


def generic() -> Built:
    from tests.reports.test_render import REPORT, _chart

    return REPORT, {"Daily availability": ("daily.png", _chart())}


REPORTS = {"availability": availability, "incidents": incidents, "backups": backups, "drill": drill,
           "retention": retention, "preflight": preflight, "generic": generic}
