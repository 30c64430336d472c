"""Report JSON -> HTML (Jinja2), PDF (that HTML printed by WeasyPrint) and PNG charts (matplotlib, Agg).

One layout per report kind (issue 20): `include/templates/<kind>.html.j2` extends `report.html.j2`
(a kind without its own template gets `report.html.j2`), and the PDF is the same HTML printed with
the template's print stylesheet (`@media print`, `@page`): the same sections in the same order with
the same tables. `report.html.j2` holds, once for every kind, the header (title, the verdict
sentence of `reports/verdict.py`, the period and the plan version), the headline figures, the
warnings, any chart no section placed, the appendix of every figure and the page footer (period,
plan version, page numbers). Shared macros (tables, findings, charts beside their section) are in
`_macros.html.j2`. Printed, a table wider than `PRINT_MAX_COLUMNS` is laid out in groups of columns
and a list longer than its print limit shows its first rows and says so; on screen all of it.

Renderings never compute: they lay out what the report JSON says. Every output is deterministic
(same report, same bytes), so rewriting a period's report is a no-op in the bucket: the PDF's
creation date comes from the period, it has no random identifier, and its fonts are matplotlib's
DejaVu (not whatever the machine has); WeasyPrint fetches nothing but those fonts and the
embedded charts.

A report is a dict with these keys (DESIGN.md §4):
  kind, title, period (dict), plan_version,
  headline: {name: {"value": ..., "unit": ...}}   the figures a reader wants first
  inputs:   {name: count}                         every input count
  figures:  {name: {"value": ..., "unit": ...}}   every other figure with its unit
  items:    {name: [ {column: value}, ... ]}      the lists behind the figures
  findings: [finding dicts]                       what was routed, with severity
  warnings: [str]

Long text never breaks a rendering (issue 14 §3): any text the inputs allow (a 1,024-character
PagerDuty title, a pasted log line of thousands of characters with no space) renders. Beyond
`MAX_CELL_CHARS` a value is cut in the rendering with `bounded()`'s marker ("… (1,024 characters;
full text in report.json)"); the JSON always has the full text. Every `{{ }}` output goes through
`bounded` (the Jinja `finalize` hook, also the `bounded` filter); cells wrap anywhere (CSS
`overflow-wrap: anywhere`), headings only between words (a word longer than a line still breaks).
`pdf_text()` is for PDFs drawn by other means (the invoice, `invoice_pdf.py`, fpdf2): bounded, and
characters its font cannot draw replaced with U+FFFD.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "include" / "templates"
PRINT_MAX_COLUMNS = 8  # a printed table with more columns is laid out in groups of this many (fits A4)
PRINT_MAX_ROWS = 500  # a printed table beyond this says how many rows were left out (the JSON has all)
# A printed table with more rows than this gets its column widths from `column_widths` (CSS fixed
# table layout) instead of WeasyPrint measuring every cell's narrowest width, which with cells that
# wrap anywhere splits each cell at every character: 6 of the 8 s a 200-row report took to print.
PRINT_FIXED_LAYOUT_ROWS = 30
_FIXED_MAX_WEIGHT = 40  # characters: a column of long text gets no more than this share
_FIXED_PADDING = 3  # characters: a cell's padding (1.5 mm a side at 7.5 pt)
MAX_CELL_CHARS = 300  # a value longer than this is cut in HTML/PDF renderings (the JSON has all)
MAX_PDF_CELL_LINES = 30  # a PDF cell's text is cut to about this many wrapped lines (a row fits a page)
_PDF_CHAR_MM = 1.4  # DejaVu Sans at 7 pt: about this many mm a character (to size the cut of a cell)
_MARKER_CHARS = 50  # the length of bounded()'s marker, about
MISSING_GLYPH = "\ufffd"  # drawn instead of a character the PDF font has no glyph for


SHOWN_DECIMALS = Decimal("0.0001")  # a figure kept unrounded in report.json is shown to 4 places
_LONG_NUMBER = re.compile(r"-?\d+\.\d{5,}")  # such a figure as report.json writes a Decimal (a string)


def shown(value: Any) -> Any:
    """`value` as a person reads it: a number with more than 4 decimal places (an unrounded ratio such
    as 94.42754217670133308357178025) rounded to 4; anything else as it is. The JSON keeps every digit."""
    number = (Decimal(value) if isinstance(value, str) and _LONG_NUMBER.fullmatch(value)
              else Decimal(repr(value)) if isinstance(value, float) else value)
    if isinstance(number, Decimal) and number.is_finite() and number.as_tuple().exponent < -4:
        return format(number.quantize(SHOWN_DECIMALS), "f")
    return value


def _text(value: Any) -> str:
    value = shown(value)
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


# ------------------------------------------------------------------------------- HTML and PDF


def _environment():
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
    env.globals["column_groups"] = column_groups
    env.globals["column_widths"] = column_widths
    env.globals["PRINT_FIXED_LAYOUT_ROWS"] = PRINT_FIXED_LAYOUT_ROWS
    env.globals["PRINT_MAX_COLUMNS"] = PRINT_MAX_COLUMNS
    env.globals["PRINT_MAX_ROWS"] = PRINT_MAX_ROWS
    return env


def render_text(name: str, values: dict[str, Any]) -> str:
    """A plain-text template of include/templates (not HTML: no autoescape; the values given are
    already made safe for where the text goes, e.g. domain/statuspage.py public_text)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=False, undefined=StrictUndefined,
                      keep_trailing_newline=False)
    return env.get_template(name).render(**values)


def _render(report: dict[str, Any], charts: dict[str, str], *, fonts: dict[str, str] | None = None,
            printing: bool = False) -> str:
    """The report's HTML; `printing` leaves out what only the screen shows (a long list's every row),
    which WeasyPrint would otherwise parse and style to hide (minutes and a GiB for 10,000 rows)."""
    from estate_ops.reports.verdict import verdict

    name = f"{report['kind']}.html.j2"
    template = _environment().get_template(name if (TEMPLATES_DIR / name).exists() else "report.html.j2")
    return template.render(report=report, charts=charts, placed=[], verdict=verdict(report), fonts=fonts or {},
                           printing=printing, created=_pdf_date(report).strftime("%Y-%m-%dT%H:%M:%SZ"))


def render_html(report: dict[str, Any], charts: dict[str, str] | None = None) -> bytes:
    """HTML for `report`; `charts` maps a chart's title to its file name beside the HTML."""
    return _render(report, charts or {}).encode("utf-8")


def column_groups(columns: list[str], size: int | None = None) -> list[list[str]]:
    """`columns` in groups of at most `size` (`PRINT_MAX_COLUMNS`): how a printed page shows a wide table."""
    size = size or PRINT_MAX_COLUMNS
    return [columns[i:i + size] for i in range(0, len(columns), size)] or [[]]


def column_widths(rows: list[dict[str, Any]], columns: list[str]) -> list[float]:
    """Each column's share of a printed table's width, in percent: its longest text in characters
    (at most `_FIXED_MAX_WEIGHT`) and never less than its heading's longest word (a heading breaks
    between words only), plus the cell's padding. Arithmetic on the text, where WeasyPrint's
    automatic layout would measure every cell."""
    weights = []
    for c in columns:
        heading = max((len(word) for word in _label(c).split()), default=1) + 1
        longest = max((len(_text(row.get(c))) for row in rows), default=1)
        weights.append(max(heading, min(longest, _FIXED_MAX_WEIGHT)) + _FIXED_PADDING)
    total = sum(weights)
    return [round(100 * w / total, 2) for w in weights]


def _font_dir() -> str:
    import importlib.util

    # DejaVu ships with matplotlib: a Unicode font that is always there, so the PDF bytes
    # do not depend on the machine's fonts. Found from the package's place, as
    # matplotlib.get_data_path() does, without the 0.4 s of importing matplotlib.
    spec = importlib.util.find_spec("matplotlib")
    return os.path.join(os.path.dirname(spec.origin), "mpl-data", "fonts", "ttf")


def load_printer_in_background() -> None:
    """Start importing WeasyPrint (about 1 s) in a thread, for a report that reads its inputs from S3
    first: the import runs while those reads wait on the network, not after them. `render_pdf`'s own
    import then finds it done, or waits for it (Python's import lock)."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=("weasyprint",), name="load-weasyprint",
                     daemon=True).start()


FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}


def _pdf_date(report: dict[str, Any]) -> dt.datetime:
    """A creation date derived from the report's period, so the bytes do not depend on when."""
    period = report.get("period") or {}
    for key in ("end", "date", "day", "start"):
        value = period.get(key)
        if value:
            day = value.date() if isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value)[:10])
            return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _data_uri(png: bytes) -> str:
    """`png` embedded (Markup: our own base64, neither escaped nor cut by `bounded`)."""
    import base64

    from markupsafe import Markup

    return Markup("data:image/png;base64," + base64.b64encode(png).decode("ascii"))


def _fetch_nothing_outside(font_dir: str):
    """WeasyPrint's url_fetcher: the report's own fonts and embedded charts, nothing else (a link in
    outside text is a link to click, never something to fetch). A failed fetch fails the rendering
    rather than printing a PDF without its font or a chart."""
    from weasyprint.urls import URLFetcher

    allowed = {Path(font_dir, f).resolve().as_uri() for f in FONT_FILES.values()}

    class OwnResourcesOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None):
            if not (url.startswith("data:image/png;base64,") or url in allowed):
                raise ValueError(f"a report fetches nothing from outside: {url[:80]}")
            return super().fetch(url, headers)

    return OwnResourcesOnly(allowed_protocols=("data", "file"), fail_on_errors=True)


@contextmanager
def _print_fonts() -> Iterator[Any]:
    """A WeasyPrint FontConfiguration whose font folder is gone when the block ends.

    WeasyPrint copies each @font-face font into a temporary folder (`weasyprint-*`, 1.8 MB for
    our three) that only the configuration's `__del__` removes. An Airflow task process ends
    with `os._exit`, which runs no `__del__`: every PDF a task printed stayed in the worker's
    temporary directory."""
    from weasyprint.text.fonts import FontConfiguration

    config = FontConfiguration()
    try:
        yield config
    finally:
        folder = getattr(config, "_folder", None)  # WeasyPrint 70's name; the leak test checks it
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
            config._folder = None


def print_document(report: dict[str, Any], charts: dict[str, bytes] | None = None, *, font_config: Any = None):
    """`report`'s HTML laid out for print (a WeasyPrint Document: pages and boxes), before it is a PDF.

    `font_config` (from `_print_fonts`) is the fonts' configuration; without it WeasyPrint makes
    its own, whose folder stays until the process collects it."""
    from weasyprint import HTML

    font_dir = _font_dir()
    fonts = {k: Path(font_dir, f).resolve().as_uri() for k, f in FONT_FILES.items()}
    html = _render(report, {t: _data_uri(png) for t, png in (charts or {}).items()}, fonts=fonts,
                   printing=True)
    return HTML(string=html, url_fetcher=_fetch_nothing_outside(font_dir),
                media_type="print").render(font_config=font_config)


def render_pdf(report: dict[str, Any], charts: dict[str, bytes] | None = None) -> bytes:
    """`report`'s HTML printed (WeasyPrint, the template's print stylesheet): same sections, same order.

    `charts` maps a chart's title to its PNG (embedded). The fonts are matplotlib's DejaVu, the
    creation date comes from the period and no identifier is random, so the bytes are the same
    for the same report."""
    # No /ID (pdf_identifier None) and no custom metadata: nothing in the bytes but the report.
    with _print_fonts() as font_config:
        return print_document(report, charts, font_config=font_config).write_pdf(pdf_identifier=None,
                                                                                custom_metadata=False)


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
