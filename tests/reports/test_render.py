"""Report renderings are real files, deterministic, and show what the JSON says (never compute)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from estate_ops.reports.render import figure_png, new_figure, render_html, render_pdf

REPORT = {
    "kind": "sample",
    "title": "Sample report — October 2026",
    "period": {"month": "2026-10", "start": "2026-10-01", "end": "2026-10-31"},
    "plan_version": "1.0.0",
    "headline": {"availability": {"value": Decimal("99.953"), "unit": "%"}},
    "inputs": {"endpoints": 3},
    "figures": {"downtime": {"value": 21, "unit": "min"}},
    "items": {"breaches": [{"incident": "Q1ABC", "severity": "P1", "note": "<script>alert(1)</script>"}],
              "empty_list": []},
    "findings": [{"severity": "P1", "kind": "availability_below_target", "resource": "api",
                  "summary": "api at 99.5 % < 99.9 %", "period": "2026-10"}],
    "warnings": ["completeness 98.2 % < 99 %"],
}


def _chart() -> bytes:
    fig = new_figure(4, 2)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [99.9, 99.95, 100])
    return figure_png(fig)


def test_html_shows_every_section_and_escapes_input():
    html = render_html(REPORT, {"Daily availability": "daily.png"}).decode()
    for text in ("Sample report — October 2026", "99.953 %", "21 min", "Q1ABC", "api at 99.5 % &lt; 99.9 %",
                 "completeness 98.2 % &lt; 99 %", 'src="daily.png"', "Plan version 1.0.0", "Empty list (0)"):
        assert text in html, text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_html_is_deterministic():
    assert render_html(REPORT) == render_html(dict(reversed(list(REPORT.items()))))


def test_pdf_is_a_real_deterministic_pdf():
    png = _chart()
    first = render_pdf(REPORT, {"Daily availability": png})
    second = render_pdf(REPORT, {"Daily availability": png})
    assert first.startswith(b"%PDF-") and first.rstrip().endswith(b"%%EOF")
    assert first == second
    assert render_pdf({**REPORT, "title": "Another"}) != render_pdf(REPORT)


def _pdf_text(pdf: bytes) -> str:
    import io

    import pypdf

    # pypdf reads a font subset with a two-byte encoding as NUL-separated characters: drop the NULs.
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).replace("\x00", "")


def test_pdf_text_is_extractable():
    text = _pdf_text(render_pdf(REPORT))
    assert "Q1ABC" in text and "99.953" in text and "availability_below_target" in text


def test_png_is_deterministic():
    png = _chart()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == _chart()
    assert b"Software" not in png[:200]


def test_pdf_caps_huge_tables_and_says_so():
    big = {**REPORT, "items": {"rows": [{"n": i} for i in range(600)]}}
    text = _pdf_text(render_pdf(big))
    assert "Rows (600)" in text and "The first 500 of 600 are listed here" in text
    assert "\n499\n" in text and "\n500\n" not in text
    html = render_html(big).decode()
    assert "<td>599</td>" in html  # on screen, every row


# Issue 14 §3: any text the inputs allow renders; beyond MAX_CELL_CHARS it is cut with a marker.
TITLE_1024 = "Database connection pool exhausted on api " + "t" * (1024 - 42)
TOKEN_5000 = "https://logs.example/" + "a" * (5000 - 21)  # one unbroken token, no space
EMOJI_RTL = "🔥 פריסה נכשלה — تعذر النشر \x07\x1b \u202e\u200d\U0001FAE8\u00a0"


def _long_report() -> dict:
    return {**REPORT,
            "title": TITLE_1024,
            "findings": [{"severity": "P1", "kind": "availability_below_target", "resource": TOKEN_5000,
                          "summary": TITLE_1024 + " <b>x</b>", "period": "2026-10"}],
            "items": {"breaches": [{"incident": EMOJI_RTL, "title": TITLE_1024, "log": TOKEN_5000,
                                    "note": "<script>alert(1)</script>"}],
                      "wide": [{f"c{i}": TOKEN_5000 for i in range(12)}],
                      "very_wide": [{f"v{i}": TOKEN_5000 for i in range(70)}]},
            "warnings": [TOKEN_5000]}


def test_bounded_cuts_long_text_with_a_marker_and_leaves_the_rest():
    from estate_ops.reports.render import MAX_CELL_CHARS, bounded

    assert bounded("x" * MAX_CELL_CHARS) == "x" * MAX_CELL_CHARS
    assert bounded(TITLE_1024) == TITLE_1024[:MAX_CELL_CHARS] + "… (1,024 characters; full text in report.json)"
    assert bounded(5) == 5


def test_long_text_renders_to_html_bounded_escaped_and_wrapping():
    import copy

    from estate_ops.domain.serialize import canonical_json

    report = _long_report()
    before = canonical_json(copy.deepcopy(report))
    html = render_html(report).decode()
    assert render_html(report).decode() == html  # deterministic
    assert canonical_json(report) == before  # the JSON keeps the full text
    assert "… (1,024 characters; full text in report.json)" in html
    assert "… (5,000 characters; full text in report.json)" in html
    assert TITLE_1024 not in html and "a" * 400 not in html
    assert "overflow-wrap: anywhere" in html
    assert "🔥 פריסה נכשלה" in html
    assert "<script>" not in html and "<b>x</b>" not in html


def test_long_text_renders_to_pdf_with_the_marker_deterministically():
    report = _long_report()
    first = render_pdf(report)  # (determinism: test_pdf_is_a_real_deterministic_pdf, tests/reports/test_layout.py)
    text = "".join(_pdf_text(first).split())  # pypdf's spacing of wrapped lines varies
    assert "(1,024characters;fulltextinreport.json)" in text
    assert "(5,000characters;fulltextinreport.json)" in text
    assert "a" * 400 not in text
    assert "V69" in text  # a table too wide for a page is laid out in groups of columns


def test_pdf_replaces_characters_the_font_cannot_draw():
    from estate_ops.reports.render import MISSING_GLYPH, pdf_text

    cmap = {ord(c) for c in "ab"}
    assert pdf_text("a\x07b\U0001FAE8\nb\tb", cmap) == f"a{MISSING_GLYPH}b{MISSING_GLYPH}\nb b"
    assert pdf_text("a\u00a0b\u200d\u202eb", cmap) == "a bb"  # a no-break space, a joiner, a bidi override


@pytest.mark.parametrize("value,text", [
    (Decimal("94.42754217670133308357178025"), "94.4275"),  # an unrounded ratio, as the domain keeps it
    ("0.3478542601166352096488626016", "0.3479"),  # the same as report.json writes it
    (1.9501559703997438, "1.9502"),
    ({"value": Decimal("1.234567"), "unit": "%"}, "1.2346 %"),
    (Decimal("12.50"), "12.50"),  # money and short figures as they are
    ("99.7183", "99.7183"), (0.5, "0.5"), (float("nan"), "nan"),
    ("v1.23456", "v1.23456"), ("PTQU2SY", "PTQU2SY"),  # text is not a number
])
def test_a_long_number_is_shown_to_four_places_and_nothing_else_changes(value, text):
    from estate_ops.reports.render import _text

    assert _text(value) == text


# A task process ends as Airflow's supervisor ends it: os._exit, so no object's __del__ runs.
_PRINT_THEN_EXIT = """
import os, sys
from estate_ops.reports.render import render_pdf
from tests.reports.test_render import REPORT
import weasyprint.document

assert render_pdf(REPORT).startswith(b"%PDF-")
weasyprint.document.Document.write_pdf = lambda *args, **kwargs: 1 / 0  # a print that fails half-way
try:
    render_pdf(REPORT)
except ZeroDivisionError:
    pass
else:
    sys.exit("the failing print did not fail")
os._exit(0)
"""


def test_printing_leaves_no_font_folder_behind_in_a_task_process(tmp_path):
    """WeasyPrint copies the fonts into a `weasyprint-*` folder (1.8 MB) that only garbage collection
    removed: each PDF a task printed stayed in the worker's temp dir. Printed or failed, nothing stays."""
    import os
    import subprocess
    import sys

    from devtools.localenv import ROOT

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _PRINT_THEN_EXIT], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in temp.iterdir()) == []
