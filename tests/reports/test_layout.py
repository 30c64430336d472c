"""Issue 20: one layout per report kind, and the PDF is that layout printed.

For every report kind of the demo (tests/reports/kinds.py builds a realistic one with the domain):
the PDF's text (pypdf) has every heading of the HTML in the same order and every figure of the
verdict sentence; no table heading is printed split inside a word; no table is wider than the
page; the footer carries the period, the plan version and page numbers; links stay clickable; a
rerun writes the same bytes (in another process too). Page 1 of each PDF goes to
`test-output/reports/<kind>-page1.png` (pdftoppm) for a person to look at.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pypdf
import pytest
from estate_ops.reports.render import print_document, render_html, render_pdf
from estate_ops.reports.verdict import verdict
from markupsafe import escape

from devtools.localenv import ROOT
from tests.reports.kinds import REPORTS

PNG_DIR = ROOT / "test-output" / "reports"
KINDS = sorted(REPORTS)


@functools.cache
def rendered(kind: str) -> tuple[dict, str, bytes]:
    report, charts = REPORTS[kind]()
    html = render_html(report, {t: f for t, (f, _) in charts.items()}).decode()
    pdf = render_pdf(report, {t: png for t, (_, png) in charts.items()})
    return report, html, pdf


class _Outline(HTMLParser):
    """The HTML's headings (h1-h3) in order and its table headings, as text; hidden parts included."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.table_headings: list[str] = []
        self._into: list[str] | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3"):
            self._into, self._text = self.headings, ""
        elif tag == "th":
            self._into, self._text = self.table_headings, ""

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "th") and self._into is not None:
            self._into.append(" ".join(self._text.split()))
            self._into = None

    def handle_data(self, data):
        if self._into is not None:
            self._text += data


def outline(html: str) -> _Outline:
    parser = _Outline()
    parser.feed(html)
    return parser


def pdf_text(pdf: bytes) -> str:
    # pypdf reads a font subset with a two-byte encoding as NUL-separated characters: drop the NULs.
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).replace("\x00", "")


def squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("kind", KINDS)
def test_the_pdf_has_every_heading_of_the_html_in_the_same_order(kind):
    report, html, pdf = rendered(kind)
    headings = outline(html).headings
    assert headings[0] == " ".join(str(report["title"]).split())
    assert len(headings) >= 4
    text, position = squeezed(pdf_text(pdf)), 0
    for heading in headings:
        found = text.find(squeezed(heading), position)
        assert found >= 0, f"{heading!r} missing from the PDF after position {position}"
        position = found + len(squeezed(heading))


@pytest.mark.parametrize("kind", KINDS)
def test_the_report_opens_with_its_verdict_and_the_pdf_has_every_figure_of_it(kind):
    report, html, pdf = rendered(kind)
    sentence = verdict(report)
    assert f'<p class="verdict">{escape(sentence)}</p>' in html
    body = html[html.index("<body>"):]
    assert body.index('class="verdict"') < body.index("<h2")  # the answer comes before any section
    figures = re.findall(r"\d[\d.,:/]*\d|\d", sentence)
    assert figures, sentence
    text = squeezed(pdf_text(pdf))
    for figure in figures:
        assert figure in text, f"{figure} of {sentence!r} not in the PDF"
    first_page = squeezed(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\x00", ""))
    assert squeezed(sentence) in first_page


def assert_table_headings_printed_whole(html: str, pdf: bytes) -> None:
    words = {w for heading in outline(html).table_headings for w in re.findall(r"[A-Za-z_]{3,}", heading)}
    assert words
    tokens = [token for t in pdf_text(pdf).split() if (token := re.sub(r"^\W+|\W+$", "", t))]
    present = set(tokens)
    for word in words:
        assert word in present, f"table heading word {word!r} is not printed whole"
    for left, right in itertools.pairwise(tokens):
        assert left + right not in words or left in words, f"{left!r} + {right!r}: a heading split inside a word"


@pytest.mark.parametrize("kind", KINDS)
def test_no_table_heading_is_printed_split_inside_a_word(kind):
    _, html, pdf = rendered(kind)
    assert_table_headings_printed_whole(html, pdf)


def _boxes(box):
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def overflow(document) -> tuple[int, float]:
    """(tables, how far the widest one runs past the right edge of its page's content area, in px)."""
    from weasyprint.formatting_structure.boxes import TableBox

    tables, worst = 0, 0.0
    for page in document.pages:
        area = page._page_box
        right = area.content_box_x() + area.width
        for box in _boxes(area):
            if isinstance(box, TableBox):
                tables += 1
                worst = max(worst, box.position_x + box.margin_width() - right)
    return tables, worst


@pytest.mark.parametrize("kind", KINDS)
def test_no_table_is_wider_than_the_page(kind):
    report, charts = REPORTS[kind]()
    tables, worst = overflow(print_document(report, {t: png for t, (_, png) in charts.items()}))
    assert tables >= 2 and worst <= 0.5, (kind, worst)


def test_a_wide_table_is_printed_in_groups_of_columns_that_fit(monkeypatch):
    from estate_ops.reports import render

    wide = {"kind": "x", "title": "Wide", "period": {"month": "2026-10"}, "plan_version": "1.0.0", "headline": {},
            "figures": {}, "inputs": {}, "warnings": [], "findings": [],
            "items": {"wide": [{f"resolution_percentile_{i}": "Compliance" for i in range(20)}]}}
    assert overflow(render.print_document(wide))[1] <= 0.5
    monkeypatch.setattr(render, "PRINT_MAX_COLUMNS", 100)  # no groups: 20 columns run off the page
    assert overflow(render.print_document(wide))[1] > 100


def _long_table_report(rows: int) -> dict:
    """A list of `rows` with AWS-style identifiers (no spaces), a 300-character unbroken detail and a
    column whose heading is longer than its values."""
    items = [{"snapshot_id": f"legacy-bench-{i % 20:02d}-db-manual-2026-09-{i:05d}", "created_at": "2026-09-01T00:00:00Z",
              "detail": "x" * 300 if i == 7 else "deleted", "resolution_percentile": i} for i in range(rows)]
    return {"kind": "x", "title": "Long", "period": {"date": "2026-11-02"}, "plan_version": "1.0.0", "headline": {},
            "figures": {}, "inputs": {}, "warnings": [], "findings": [], "items": {"deleted": items}}


def test_a_long_table_is_printed_with_widths_from_its_text_and_still_fits(monkeypatch):
    from estate_ops.reports import render

    report = _long_table_report(render.PRINT_FIXED_LAYOUT_ROWS + 10)
    printed = render._render(report, {}, printing=True)
    assert printed.count("<col style=") == 4 and "table-layout: fixed" in printed
    pdf, html = render.render_pdf(report), render.render_html(report).decode()
    assert "<colgroup>" not in html  # on screen the browser lays the table out
    assert_table_headings_printed_whole(html, pdf)
    assert overflow(render.print_document(report))[1] <= 0.5
    text = squeezed(pdf_text(pdf))
    assert all(squeezed(row["snapshot_id"]) in text for row in report["items"]["deleted"])
    assert "x" * 300 in text  # the unbroken cell wraps inside its column, nothing is cut
    # a short table keeps the automatic layout
    assert "<colgroup>" not in render._render(_long_table_report(render.PRINT_FIXED_LAYOUT_ROWS), {}, printing=True)


def test_column_widths_follow_the_text_keep_heading_words_and_sum_to_the_whole():
    from estate_ops.reports.render import (
        _FIXED_MAX_WEIGHT,
        _FIXED_PADDING,
        column_widths,
    )

    rows = [{"id": "a" * 30, "n": 1, "resolution_percentile": 7, "note": "y" * 500}]
    widths = column_widths(rows, ["id", "n", "resolution_percentile", "note"])
    weights = [30, 2, len("percentile") + 1, _FIXED_MAX_WEIGHT]  # "N" is one letter: the heading's word + 1
    expected = [100 * (w + _FIXED_PADDING) / sum(x + _FIXED_PADDING for x in weights) for w in weights]
    assert widths == pytest.approx(expected, abs=0.01)
    assert sum(widths) == pytest.approx(100, abs=0.05)


@pytest.mark.parametrize("kind", KINDS)
def test_every_page_footer_has_the_period_the_plan_version_and_its_number(kind):
    report, _, pdf = rendered(kind)
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    period = report["period"]
    first = next(str(v) for k, v in period.items() if k in ("month", "date"))
    for number, page in enumerate(pages, start=1):
        text = squeezed(page.extract_text().replace("\x00", ""))
        assert f"Page{number}of{len(pages)}" in text
        assert f"Planversion{report['plan_version']}" in text and first in text


def test_fonts_are_subset_by_harfbuzz():
    """WeasyPrint's fontTools fallback stamps each font subset with the wall clock, so the same report
    would print different bytes a second later: scripts/system-deps.sh installs libharfbuzz-subset0."""
    from weasyprint.pdf import fonts

    assert fonts.harfbuzz_subset and fonts.harfbuzz.hb_version_atleast(4, 1, 0)  # WeasyPrint's own check


@pytest.mark.parametrize("kind", KINDS)
def test_a_rerun_writes_the_same_bytes_and_the_date_comes_from_the_period(kind):
    report, charts = REPORTS[kind]()
    _, _, pdf = rendered(kind)
    assert render_pdf(report, {t: png for t, (_, png) in charts.items()}) == pdf
    info = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    day = next(str(v)[:10] for k, v in report["period"].items() if k in ("end", "date"))
    assert info["/CreationDate"].startswith("D:" + day.replace("-", ""))
    assert b"/ID" not in pdf


def test_another_process_writes_the_same_bytes():
    """Font subsets and object numbers do not depend on the process (the DAG reruns are processes)."""
    probe = ("import hashlib, sys\n"
             "from tests.reports.kinds import REPORTS\n"
             "from estate_ops.reports.render import render_pdf\n"
             "report, charts = REPORTS['availability']()\n"
             "sys.stdout.write(hashlib.sha256(render_pdf(report, {t: p for t, (_, p) in charts.items()})).hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out == hashlib.sha256(rendered("availability")[2]).hexdigest()


def test_links_are_clickable_in_the_pdf():
    report, _, pdf = rendered("incidents")
    links = {annotation.get_object()["/A"]["/URI"]
             for page in pypdf.PdfReader(io.BytesIO(pdf)).pages for annotation in page.get("/Annots", [])
             if annotation.get_object().get("/A", {}).get("/URI")}
    breaches = {row["link"] for row in report["items"]["breaches"]}
    assert breaches and breaches <= links


def test_charts_are_printed_beside_the_section_they_illustrate():
    _, html, pdf = rendered("availability")
    body = html[html.index("<body>"):]
    assert body.index("Error budget burn-down") < body.index("<h2>Maintenance windows")
    assert "<h2>Charts</h2>" not in html  # every chart has a section
    text = squeezed(pdf_text(pdf))
    assert text.index("Errorbudgetburn-down") < text.index("Maintenancewindows(")
    _, generic_html, _ = rendered("generic")
    assert "<h2>Charts</h2>" in generic_html and 'src="daily.png"' in generic_html  # no section: under Charts


def test_the_figure_dump_is_an_appendix():
    for kind in KINDS:
        _report, html, _ = rendered(kind)
        headings = outline(html).headings
        appendix = headings.index("Appendix: every figure")
        assert appendix > headings.index(next(h for h in headings if h.startswith("Findings"))), kind
        assert "Figures" not in headings[:appendix] and "Inputs" not in headings[:appendix], kind


@pytest.mark.parametrize("kind", KINDS)
def test_page_one_is_a_png_a_person_can_look_at(kind):
    assert shutil.which("pdftoppm"), "pdftoppm (poppler-utils) is missing: run scripts/system-deps.sh"
    _, _, pdf = rendered(kind)
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    source = PNG_DIR / f"{kind}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(source),
                    str(PNG_DIR / f"{kind}-page1")], check=True)
    png = (PNG_DIR / f"{kind}-page1.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert abs(width - 661) <= 1 and abs(height - 935) <= 1  # A4 portrait at 80 dpi


def test_a_new_kind_extending_report_html_gets_the_whole_layout_with_no_code(tmp_path, monkeypatch):
    """What the `monitoring` kind will do: a template that extends report.html.j2 and fills `body`."""
    from estate_ops.reports import render

    for template in render.TEMPLATES_DIR.glob("*.html.j2"):
        shutil.copy(template, tmp_path / template.name)
    (tmp_path / "monitoring.html.j2").write_text(
        '{% extends "report.html.j2" %}{% block body %}<h2>Alarms ({{ report["items"].alarms | length }})</h2>'
        '{{ rows_table(report["items"].alarms) }}{% endblock %}')
    monkeypatch.setattr(render, "TEMPLATES_DIR", tmp_path)
    report = {"kind": "monitoring", "title": "Monitoring — Legacy — 2026-10", "plan_version": "1.0.0",
              "period": {"month": "2026-10", "start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
              "headline": {"alarms_missing": {"value": 1, "unit": "alarms"}}, "inputs": {"alarms": 2},
              "figures": {"alarms_enabled": {"value": 1, "unit": "alarms"}},
              "items": {"alarms": [{"alarm": "api-5xx", "state": "OK"}, {"alarm": "db-cpu", "state": "missing"}]},
              "findings": [], "warnings": []}
    html = render_html(report).decode()
    assert outline(html).headings == ["Monitoring — Legacy — 2026-10", "Alarms (2)", "Appendix: every figure",
                                      "Headline", "Figures", "Inputs"]
    assert "October 2026: alarms missing 1 alarms; no findings." in html and "Plan version 1.0.0" in html
    text = squeezed(pdf_text(render_pdf(report)))
    assert "Alarms(2)" in text and "db-cpu" in text and "Page1of1" in text
