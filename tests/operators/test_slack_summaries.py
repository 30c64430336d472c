"""Outside text in the monthly Slack summaries shows as text (issue 14 §2): endpoint names and
warnings come from estate.yaml and the data, and a `<!channel>` among them must not notify anyone."""

from __future__ import annotations

from estate_ops.operators.availability import summary_text

HOSTILE = "<!channel> & <https://evil.example|click>"
ESCAPED = "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"


def _report(endpoint: str, warning: str) -> dict:
    figure = lambda value: {"value": value}
    return {
        "title": "Availability 2026-10",
        "headline": {"composite_availability": figure("99.9"), "target": figure("99.9"), "status": figure("met")},
        "figures": {"error_budget_used": figure(10), "error_budget_allowed": figure(44),
                    "error_budget_remaining": figure(34), "maintenance_excluded_minutes": figure(0)},
        "inputs": {"windows_qualifying": 0, "windows_recorded": 0},
        "items": {"endpoints": [{"endpoint": endpoint, "availability_percent": "99.9",
                                 "data_completeness_percent": "100"}], "data_gap_days": []},
        "warnings": [warning],
    }


def test_availability_summary_escapes_endpoint_names_and_warnings():
    text = summary_text(_report(HOSTILE, f"check {HOSTILE} has no data"), "availability/2026-10/report.html")
    assert "<!channel>" not in text and "<https://evil" not in text
    assert text.count(ESCAPED) == 2
    assert text.endswith("Report: availability/2026-10/report.html")  # our own text untouched


def test_plain_names_are_unchanged():
    text = summary_text(_report("api", "all good"), "k")
    assert "• api: 99.9 %" in text and ":warning: all good" in text
