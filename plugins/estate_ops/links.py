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

A rendering that fails does not hold back the report's alerts (issue 14 §3): `publish_report`
still writes the JSON and the other rendering, routes a `report_render_failed` finding for each
rendering left out, and lets `execute` go on to route its findings and post its summary; the task
then fails at the end of `execute` (every subclass's `execute` is wrapped once, here), so the
failure is visible. A rerun writes the missing rendering and, alerts being sent once per dedup
key, sends nothing twice.

`plugins/estate_ops_plugin.py` registers `ReportLink` with Airflow's plugins manager. Nothing
heavy is imported here: DAG files import the operators.
"""

from __future__ import annotations

import functools
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
    _render_failures: list[Any] | None = None  # during execute: the renderings that failed

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        execute = cls.__dict__.get("execute")
        if execute is not None:
            cls.execute = _failing_after_render_failures(execute)

    def publish_report(self, context: Any, store: Any, prefix: str, report: dict[str, Any],
                       **kwargs: Any) -> list[str]:
        """`reports.publish.publish_report(store, prefix, report, **kwargs)`, then link the report.

        A rendering that fails is routed as a `report_render_failed` finding and fails the task
        when `execute` ends; the JSON and any other rendering are written all the same."""
        from estate_ops.reports.publish import publish_report

        failures: list[Any] = []
        keys = publish_report(store, prefix, report, render_failures=failures, **kwargs)
        key = main_report_key(keys)
        if key is not None:
            url = store.object_url(key)
            self.log.info("Report: %s", url)
            ti = context.get("ti")
            if ti is not None:  # None only when execute() is called outside a task run
                ti.xcom_push(key=REPORT_URL_XCOM_KEY, value=url)
        if failures:
            self._route_render_failures(store, report, failures)
        return keys

    def _route_render_failures(self, store: Any, report: dict[str, Any], failures: list[Any]) -> None:
        from estate_ops.alerting import SeverityRouter
        from estate_ops.config import load_config
        from estate_ops.domain.findings import Finding

        plan, estate = load_config()
        period_of = report.get("period") or {}
        period = str(next((period_of[k] for k in ("month", "date", "day", "start") if period_of.get(k)), "-"))
        findings = [Finding.of(plan, "report_render_failed", failure.key,
                               f"{failure.key} could not be rendered ({failure.error}); its JSON was written "
                               "and its findings sent", period, error=failure.error) for failure in failures]
        for failure in failures:
            self.log.error("Rendering %s failed: %s", failure.key, failure.error)
        SeverityRouter(plan, estate, store).route(findings, source=getattr(self, "dag_id", None) or "estate-ops")
        if self._render_failures is None:  # outside execute: nothing is left to send, fail now
            raise _render_failed(failures)
        self._render_failures.extend(failures)


def _render_failed(failures: list[Any]) -> Exception:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException("report rendering failed (findings and summary were sent; "
                                "rerun once fixed): " + "; ".join(f"{f.key}: {f.error}" for f in failures))


def _failing_after_render_failures(execute: Any) -> Any:
    """`execute`, failing at its end when a report rendering failed during it."""

    @functools.wraps(execute)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self._render_failures is not None:  # a subclass's execute calling its parent's
            return execute(self, *args, **kwargs)
        self._render_failures = []
        try:
            result = execute(self, *args, **kwargs)
            failures = self._render_failures
        finally:
            self._render_failures = None
        if failures:
            raise _render_failed(failures)
        return result

    return run
