"""Report JSON -> HTML (Jinja2), PDF (fpdf2) and PNG charts (matplotlib, Agg).

Renderings never compute: they lay out what the report JSON says. Every output is deterministic
(same report, same bytes), so rewriting a period's report is a no-op in the bucket.

A report is a dict with these keys (DESIGN.md §4):
  kind, title, period (dict), plan_version,
  headline: {name: {"value": ..., "unit": ...}}   the figures a reader wants first
  inputs:   {name: count}                         every input count
  figures:  {name: {"value": ..., "unit": ...}}   every other figure with its unit
  items:    {name: [ {column: value}, ... ]}      the lists behind the figures
  findings: [finding dicts]                       what was routed, with severity
  warnings: [str]
`kind`-specific templates (`include/templates/<kind>.html.j2`) may extend `report.html.j2`.

Long text never breaks a rendering (issue 14 §3): any text the inputs allow (a 1,024-character
PagerDuty title, a pasted log line of thousands of characters with no space) renders. Beyond
`MAX_CELL_CHARS` a value is cut in the rendering with `bounded()`'s marker ("… (1,024 characters;
full text in report.json)"); the JSON always has the full text. HTML: every `{{ }}` output goes
through `bounded` (the Jinja `finalize` hook, also the `bounded` filter) and cells wrap anywhere
(CSS `overflow-wrap: anywhere`). PDF: `pdf_text()` bounds each cell (tighter in tables with many
columns, so that a row fits a page) and replaces characters the font cannot draw and control
characters with U+FFFD (drops invisible format characters); fpdf2 wraps an unbroken token
character by character.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "include" / "templates"
MAX_PDF_ROWS = 500  # a PDF table beyond this says how many rows were left out (the JSON has all)
MAX_PDF_COLUMNS = 16  # a PDF table with more columns is laid out in groups of this many
MAX_CELL_CHARS = 300  # a value longer than this is cut in HTML/PDF renderings (the JSON has all)
MAX_PDF_CELL_LINES = 30  # a PDF cell's text is cut to about this many wrapped lines (a row fits a page)
_PDF_CHAR_MM = 1.4  # DejaVu Sans at 7 pt: about this many mm a character (to size the cut of a cell)
_MARKER_CHARS = 50  # the length of bounded()'s marker, about
MISSING_GLYPH = "\ufffd"  # drawn instead of a character the PDF font has no glyph for


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict) and "value" in value:
        unit = value.get("unit") or ""
        return f"{_text(value['value'])} {unit}".strip()
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def bounded(value: Any, limit: int = MAX_CELL_CHARS, source: str = "report.json") -> Any:
    """`value` cut to `limit` characters with a marker saying how long it was and where it is whole.

    Anything but a `str` (e.g. Jinja Markup from a macro, numbers) is returned as it is."""
    if type(value) is not str or len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value):,} characters; full text in {source})"


def pdf_text(value: str, cmap: Any, limit: int = MAX_CELL_CHARS, source: str = "report.json") -> str:
    """`value` as a PDF draws it: bounded; a tab or any Unicode space as a space; an invisible format
    character (a zero-width joiner, a bidi override) dropped; a control character other than a newline,
    or a character the font (`cmap`: its code points) cannot draw, replaced by `MISSING_GLYPH`."""
    text = bounded(value, limit, source)
    if text.isascii() and text.isprintable():
        return text
    return "".join(_pdf_char(c, cmap) for c in text)


def _pdf_char(char: str, cmap: Any) -> str:
    import unicodedata

    if char == "\n":
        return char
    category = unicodedata.category(char)
    if char == "\t" or category in ("Zs", "Zl", "Zp"):
        return " "
    if category == "Cf":
        return ""
    if category in ("Cc", "Cs", "Co", "Cn") or ord(char) not in cmap:
        return MISSING_GLYPH
    return char


def pdf_cell_limit(width_mm: float) -> int:
    """How many characters a PDF table cell `width_mm` wide shows (at most `MAX_CELL_CHARS`)."""
    per_line = max(1, int((width_mm - 2) / _PDF_CHAR_MM))  # fpdf2 pads a cell by 1 mm a side
    return max(1, min(MAX_CELL_CHARS, per_line * MAX_PDF_CELL_LINES - _MARKER_CHARS))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    return columns


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


# ------------------------------------------------------------------------------- HTML


def render_html(report: dict[str, Any], charts: dict[str, str] | None = None) -> bytes:
    """HTML for `report`; `charts` maps a chart's title to its file name beside the HTML."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=bounded,
    )
    env.filters["bounded"] = bounded
    env.filters["text"] = _text
    env.filters["label"] = _label
    env.globals["columns"] = _columns
    name = f"{report['kind']}.html.j2"
    template = env.get_template(name if (TEMPLATES_DIR / name).exists() else "report.html.j2")
    return template.render(report=report, charts=charts or {}).encode("utf-8")


# ------------------------------------------------------------------------------- PDF


def _font_dir() -> str:
    import matplotlib

    # DejaVu ships with matplotlib: a Unicode font that is always there, so the PDF bytes
    # do not depend on the machine's fonts.
    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


def _pdf_date(report: dict[str, Any]) -> dt.datetime:
    """A creation date derived from the report's period, so the bytes do not depend on when."""
    period = report.get("period") or {}
    for key in ("end", "date", "start"):
        value = period.get(key)
        if value:
            day = dt.date.fromisoformat(str(value)[:10])
            return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def render_pdf(report: dict[str, Any], charts: dict[str, bytes] | None = None) -> bytes:
    """A readable PDF of `report`: headline, figures, findings, each item list, then charts."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(format="A4")
    pdf.set_creation_date(_pdf_date(report))
    pdf.set_title(bounded(report.get("title", report["kind"])))
    pdf.set_author("estate-ops")
    fonts = _font_dir()
    pdf.add_font("dejavu", "", os.path.join(fonts, "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", os.path.join(fonts, "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    cmap = set.intersection(*(set(font.cmap) for font in pdf.fonts.values()))

    def safe(text: str, limit: int = MAX_CELL_CHARS) -> str:
        return pdf_text(text, cmap, limit)

    def heading(text: str, size: int = 12) -> None:
        pdf.set_font("dejavu", "B", size)
        pdf.multi_cell(0, 8, safe(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dejavu", "", 8)

    def table(rows: list[list[str]]) -> None:
        if len(rows[0]) > MAX_PDF_COLUMNS:  # too narrow to read (or draw): in groups of columns
            for start in range(0, len(rows[0]), MAX_PDF_COLUMNS):
                table([row[start:start + MAX_PDF_COLUMNS] for row in rows])
            return
        pdf.set_font("dejavu", "", 7)
        limit = pdf_cell_limit(pdf.epw / max(1, len(rows[0])))
        rows = [[safe(cell, limit) for cell in row] for row in rows]
        with pdf.table(rows, headings_style=FontFace(emphasis="BOLD"), line_height=4.5,
                       text_align="LEFT", borders_layout="HORIZONTAL_LINES"):
            pass
        pdf.ln(3)

    heading(report.get("title", report["kind"]), 16)
    period = report.get("period") or {}
    meta = [f"{_label(k)}: {_text(v)}" for k, v in period.items()]
    meta.append(f"Plan version: {report.get('plan_version', '—')}")
    pdf.set_font("dejavu", "", 9)
    pdf.multi_cell(0, 5, safe("   ".join(meta), MAX_CELL_CHARS * 2), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    for section in ("headline", "figures", "inputs"):
        values = report.get(section) or {}
        if values:
            heading(_label(section))
            table([["Figure", "Value"]] + [[_label(k), _text(v)] for k, v in values.items()])

    for warning in report.get("warnings") or []:
        pdf.set_font("dejavu", "B", 8)
        pdf.multi_cell(0, 5, "Warning: " + safe(str(warning)), new_x="LMARGIN", new_y="NEXT")

    findings = report.get("findings") or []
    heading(f"Findings ({len(findings)})")
    if findings:
        table([["Severity", "Kind", "Resource", "Summary"]]
              + [[f["severity"], f["kind"], f["resource"], f["summary"]] for f in findings])

    for name, rows in (report.get("items") or {}).items():
        heading(f"{_label(name)} ({len(rows)})")
        if not rows:
            continue
        columns = _columns(rows)
        shown = rows[:MAX_PDF_ROWS]
        table([[_label(c) for c in columns]] + [[_text(r.get(c)) for c in columns] for r in shown])
        if len(rows) > len(shown):
            pdf.multi_cell(0, 5, f"… {len(rows) - len(shown)} more rows in report.json",
                           new_x="LMARGIN", new_y="NEXT")

    for title, png in (charts or {}).items():
        pdf.add_page()
        heading(title)
        pdf.image(io.BytesIO(png), w=pdf.epw)

    return bytes(pdf.output())


# ------------------------------------------------------------------------------- charts


def new_figure(width: float = 10, height: float = 4):
    """A matplotlib figure on the Agg backend (no display, same pixels everywhere)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def figure_png(figure) -> bytes:
    """PNG bytes without the software/date metadata that would make them differ run to run."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None}, bbox_inches="tight")
    return buffer.getvalue()
