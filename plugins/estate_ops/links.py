"""The "Report" extra link: every task that publishes a report links to it in the Airflow UI.

How Airflow 3 gets it there. An operator that publishes a report subclasses `ReportPublisher`,
which lists `ReportLink()` in `operator_extra_links`, and calls `self.publish_report(...)`: that
writes the report (reports/publish.py) and pushes the URL of its main human rendering (the
.html, else the .pdf) to XCom under `REPORT_URL_XCOM_KEY`, and says it in the task log. When the
task ends (success or failure), the task runner calls `ReportLink.get_link`, which reads that
XCom back (as the Amazon provider's `BaseAwsLink` does), and stores the answer under the link's
own XCom key (`_link_ReportLink`), which is what the UI shows: the API server never runs
operator code. A task that failed before publishing has an empty link.

The URL is `ArtifactStore.object_url(key)`: the S3 console for a real account; for the sandbox
(the AWS connection's extra has `endpoint_url`) the object at that endpoint, served to a browser.

`plugins/estate_ops_plugin.py` registers `ReportLink` with Airflow's plugins manager. Nothing
heavy is imported here: DAG files import the operators.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseOperatorLink

REPORT_URL_XCOM_KEY = "report_url"
MAIN_RENDERINGS = (".html", ".pdf")  # the first one present is what a person opens


class ReportLink(BaseOperatorLink):
    """The URL of the report the task published (empty until it has published one)."""

    name = "Report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=REPORT_URL_XCOM_KEY) or ""


def main_report_key(keys: Iterable[str]) -> str | None:
    """The key a person opens among a report's keys: the .html, else the .pdf, else None."""
    keys = list(keys)
    for suffix in MAIN_RENDERINGS:
        for key in keys:
            if key.endswith(suffix):
                return key
    return None


class ReportPublisher:
    """Mixin (before BaseOperator) for every operator that publishes a report: the one way to
    publish one, so that every such task has the Report link."""

    operator_extra_links = (ReportLink(),)

    def publish_report(self, context: Any, store: Any, prefix: str, report: dict[str, Any],
                       **kwargs: Any) -> list[str]:
        """`reports.publish.publish_report(store, prefix, report, **kwargs)`, then link the report."""
        from estate_ops.reports.publish import publish_report

        keys = publish_report(store, prefix, report, **kwargs)
        key = main_report_key(keys)
        if key is not None:
            url = store.object_url(key)
            self.log.info("Report: %s", url)
            ti = context.get("ti")
            if ti is not None:  # None only when execute() is called outside a task run
                ti.xcom_push(key=REPORT_URL_XCOM_KEY, value=url)
        return keys
