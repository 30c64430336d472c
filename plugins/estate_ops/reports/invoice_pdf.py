"""An invoice or credit note JSON -> the PDF a client reads (fpdf2).

Lays out what the document says and computes nothing: parties, period, tier, lines and totals,
hours used / included / remaining, the per-category breakdown, out-of-scope work and every billed
entry. Same document, same bytes: the font ships with matplotlib (reports/render.py) and the PDF's
creation date is the document's issue date.

Long text (a pasted log as an entry's description, up to timesheets.FIELD_LIMITS) never breaks
it: every cell and line goes through `render.pdf_text` (bounded to `MAX_CELL_CHARS` with a marker
naming the invoice JSON that has it whole; characters the font lacks replaced), as in reports.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any

from estate_ops.reports.render import (
    MAX_CELL_CHARS,
    _font_dir,
    pdf_cell_limit,
    pdf_text,
)


def _money(currency: str, value: Any) -> str:
    amount = Decimal(str(value))
    symbol = "$" if currency == "USD" else f"{currency} "
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{abs(amount):,.2f}"


def _label_of(category: str) -> str:
    return category.replace("_", " ").capitalize()


def render_invoice_pdf(document: dict[str, Any]) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    issued = dt.date.fromisoformat(document["issued_on"])
    pdf = FPDF(format="A4")
    pdf.set_creation_date(dt.datetime.combine(issued, dt.time(), tzinfo=dt.UTC))
    pdf.set_title(document["title"][:MAX_CELL_CHARS])
    pdf.set_author(document["issuer"]["name"][:MAX_CELL_CHARS])
    fonts = _font_dir()
    pdf.add_font("dejavu", "", os.path.join(fonts, "DejaVuSans.ttf"))
    pdf.add_font("dejavu", "B", os.path.join(fonts, "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    currency = document["currency"]
    bold = FontFace(emphasis="BOLD")
    cmap = set.intersection(*(set(font.cmap) for font in pdf.fonts.values()))
    source = f"{document['number']}.json"

    def safe(value: Any, limit: int = MAX_CELL_CHARS) -> str:
        return pdf_text(str(value), cmap, limit, source)

    def text(value: str, size: float = 9, style: str = "", height: float = 5) -> None:
        pdf.set_font("dejavu", style, size)
        pdf.multi_cell(0, height, safe(value, MAX_CELL_CHARS * 3), new_x="LMARGIN", new_y="NEXT")

    def heading(value: str) -> None:
        pdf.ln(2)
        text(value, 11, "B", 7)

    def table(rows: list[list[str]], widths: tuple[int, ...] | None = None, align: str = "LEFT",
              size: float = 8) -> None:
        pdf.set_font("dejavu", "", size)
        total = sum(widths) if widths else len(rows[0])
        shares = widths or (1,) * len(rows[0])
        limits = [pdf_cell_limit(pdf.epw * share / total) for share in shares]
        rows = [[safe(cell, limit) for cell, limit in zip(row, limits, strict=False)] for row in rows]
        with pdf.table(rows, headings_style=bold, line_height=size * 0.6, text_align=align,
                       col_widths=widths, borders_layout="HORIZONTAL_LINES"):
            pass
        pdf.ln(1)

    is_invoice = document["kind"] == "invoice"
    text("INVOICE" if is_invoice else "CREDIT NOTE", 18, "B", 9)
    period = document["period"]
    meta = [f"Number: {document['number']}", f"Issued: {document['issued_on']}"]
    if is_invoice:
        meta.append(f"Due: {document['due_on']}")
    meta.append(f"Period: {period['start']} to {period['end']}")
    text("    ".join(meta), 9)
    if not is_invoice:
        text(f"This credit note cancels invoice {document['cancels']} in full. Reason: {document['reason']}",
             9, "B")
    elif document.get("replaces"):
        text(f"This invoice replaces {document['replaces']}, cancelled by a credit note.", 9, "B")

    issuer, client = document["issuer"], document["client"]
    pdf.ln(2)
    table([["From", "Bill to"],
           ["\n".join(x for x in (issuer["name"], issuer.get("address"), issuer.get("email")) if x),
            "\n".join(x for x in (client["name"], client.get("address"), f"Client id: {client['id']}") if x)]],
          size=9)

    if is_invoice:
        heading("Support plan")
        table([["Tier", "From", "To", "Days", "Included hours", "Monthly fee", "Overage rate"]]
              + [[t["name"], t["from"], t["to"], f"{t['days']} of {t['month_days']}", str(t["included_hours"]),
                  _money(currency, _full_fee(document, t)),
                  f"{_money(currency, t['overage_rate'])}/h"] for t in document["tiers"]])
        scope = "; ".join(f"{t['name']}: {', '.join(_label_of(c) for c in t['includes'])}"
                          for t in document["tiers"])
        text(f"Included work - {scope}. Other work is out of scope and billable on quote.", 8)

    heading("Charges")
    rows = [["Description", "Quantity", "Unit price", "Amount"]]
    for line in document["lines"]:
        quantity = f"{line['quantity']} {line['unit']}"
        unit_price = _money(currency, line["unit_price"]) + ("/h" if line["unit"] == "h" else "/month")
        rows.append([line["description"], quantity, unit_price, _money(currency, line["amount"])])
    rows.append(["Total", "", "", _money(currency, document["total"])])
    table(rows, widths=(95, 25, 35, 35))
    text("Each line is rounded half-up to the cent; the total is the sum of the lines.", 7)

    if is_invoice:
        hours = document["hours"]
        heading("Hours")
        table([["Included", "Rollover", "Allowance", "Used (billed)", "Used (as logged)", "Remaining",
                "Overage", "Out of scope"],
               [str(hours[k]) for k in ("included", "rollover", "allowance", "used", "used_raw", "remaining",
                                        "overage", "out_of_scope")]], align="CENTER")
        text(f"Each entry is rounded up to {document['rounding_minutes']} minutes. Entries count against the "
             f"allowance in the order they started; time beyond it is overage.", 7)
        heading("By category")
        table([["Category", "In scope", "Entries", "Hours as logged", "Hours billed"]]
              + [[_label_of(c["category"]), "yes" if c["in_scope"] else "no (on quote)", str(c["entries"]),
                  str(c["raw_hours"]), str(c["billed_hours"])] for c in document["by_category"]]
              if document["by_category"] else [["Category"], ["No time logged this month"]])
        entries = document["entries"]
        out_of_scope = [e for e in entries if not e["in_scope"]]
        if out_of_scope:
            heading(f"Out of scope, billable on quote ({len(out_of_scope)})")
            table([["Date", "Ticket", "Category", "Description", "Billed min"]]
                  + [[e["day"], e["ticket"], _label_of(e["category"]), e["description"], e["billed_minutes"]]
                     for e in out_of_scope], widths=(22, 22, 35, 91, 20))
        counts = document["counts"]
        heading(f"Time entries ({len(entries)})")
        if entries:
            table([["Date", "Start", "Engineer", "Category", "Ticket", "Description", "Logged", "Billed",
                    "Overage"]]
                  + [[e["day"], e["started_at"][11:16], e["engineer"], _label_of(e["category"])
                      + ("" if e["in_scope"] else " *"), e["ticket"], e["description"] + (
                          f" [{e['flag']}]" if e["flag"] else ""), e["raw_minutes"], e["billed_minutes"],
                      e["overage_minutes"]] for e in entries],
                  widths=(19, 11, 20, 25, 16, 57, 14, 14, 14), size=7)
            text("Minutes. * out of scope. Start times are US Eastern.", 7)
        if counts.get("rejected_rows"):
            text(f"{counts['rejected_rows']} submitted row(s) for this client were rejected and are not billed.", 7)
    return bytes(pdf.output())


def _full_fee(document: dict[str, Any], span: dict[str, Any]) -> str:
    # The unprorated monthly fee of a tier shown beside its prorated line (lines carry it as unit price).
    for line in document["lines"]:
        if line["kind"] == "fee" and line["tier"] == span["tier"]:
            return line["unit_price"]
    return span["fee"]
