"""A report's alerts and summary do not depend on its PDF (issue 14 §3): against the sandbox, the
availability report with a PDF renderer that raises still writes its JSON and HTML, sends its findings
and summary once, reports the rendering as a `report_render_failed` finding and fails the task; the
rerun once fixed writes the PDF and sends nothing twice."""

from __future__ import annotations

import hashlib

import pytest
from estate_ops.reports import render

from tests.operators.test_availability_bad_input import keys, report

PREFIX = "availability/2026-10/"


def test_a_pdf_that_cannot_be_rendered_is_a_finding_and_the_alerts_still_go_out(sandbox, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from tests.reports_bucket import read_bytes

    real = render.render_pdf

    def broken(*args, **kwargs):
        raise RuntimeError("Not enough horizontal space to render a single character")

    monkeypatch.setattr(render, "render_pdf", broken)
    with pytest.raises(AirflowFailException, match=r"availability/2026-10/report\.pdf: RuntimeError: Not enough "
                                                   r"horizontal space"):
        report({"month": "2026-10"})
    written = {k for k in keys(sandbox) if k.startswith(PREFIX)}
    assert {PREFIX + "report.json", PREFIX + "report.html"} <= written
    assert PREFIX + "report.pdf" not in written
    json_bytes = read_bytes(sandbox, PREFIX + "report.json")
    slack, pages = sandbox.slack_messages(), sandbox.pagerduty_events()
    texts = [m["args"]["text"] for m in slack]
    assert len(texts) == 2
    assert sum("P3 `report_render_failed` availability/2026-10/report.pdf" in t for t in texts) == 1
    assert sum(t.startswith("*Availability 2026-10") for t in texts) == 1  # the month's summary, once
    # the report's own findings were routed, once (the seeded month is below target: PagerDuty)
    assert [e["dedup_key"] for e in pages] == ["estate-ops/availability_below_target/composite/2026-10"]

    monkeypatch.setattr(render, "render_pdf", real)
    report({"month": "2026-10"})
    assert sandbox.slack_messages() == slack and sandbox.pagerduty_events() == pages  # nothing twice
    assert read_bytes(sandbox, PREFIX + "report.pdf").startswith(b"%PDF-")
    assert hashlib.sha256(read_bytes(sandbox, PREFIX + "report.json")).digest() == hashlib.sha256(json_bytes).digest()
