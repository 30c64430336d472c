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
    )
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
    pdf.set_title(report.get("title", report["kind"]))
    pdf.set_author("estate-ops")
    fonts = _font_dir()
    pdf.add_font("dejavu", "", os.path.join(fonts, "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", os.path.join(fonts, "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def heading(text: str, size: int = 12) -> None:
        pdf.set_font("dejavu", "B", size)
        pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("dejavu", "", 8)

    def table(rows: list[list[str]]) -> None:
        pdf.set_font("dejavu", "", 7)
        with pdf.table(rows, headings_style=FontFace(emphasis="BOLD"), line_height=4.5,
                       text_align="LEFT", borders_layout="HORIZONTAL_LINES"):
            pass
        pdf.ln(3)

    heading(report.get("title", report["kind"]), 16)
    period = report.get("period") or {}
    meta = [f"{_label(k)}: {_text(v)}" for k, v in period.items()]
    meta.append(f"Plan version: {report.get('plan_version', '—')}")
    pdf.set_font("dejavu", "", 9)
    pdf.multi_cell(0, 5, "   ".join(meta), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    for section in ("headline", "figures", "inputs"):
        values = report.get(section) or {}
        if values:
            heading(_label(section))
            table([["Figure", "Value"]] + [[_label(k), _text(v)] for k, v in values.items()])

    for warning in report.get("warnings") or []:
        pdf.set_font("dejavu", "B", 8)
        pdf.multi_cell(0, 5, f"Warning: {warning}", new_x="LMARGIN", new_y="NEXT")

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
