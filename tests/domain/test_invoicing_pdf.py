"""The invoice PDF a client reads: every figure the JSON holds is on it, and the bytes are deterministic."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from estate_ops.domain.invoicing import credit_note_document, invoice_document
from estate_ops.domain.serialize import canonical_json
from estate_ops.reports.invoice_pdf import render_invoice_pdf

from tests.domain.test_invoicing import CONTOSO, drafts_of


@pytest.fixture(scope="module")
def invoice():
    rows = [("a", "contoso", "2026-10-05T09:00", 47, "bug_fix"),
            ("b", "contoso", "2026-10-06T09:00", 120, "feature_development"),  # Standard: out of scope
            ("c", "contoso", "2026-10-20T09:00", 95, "feature_development")]  # Premium: in scope
    draft = drafts_of(rows, clients=[CONTOSO], rollover_in={"contoso": 36000})["contoso"]
    data = json.loads(canonical_json(draft.as_dict()))  # as stored and read back
    return invoice_document(data, number="INV-2026-0007", issued_on=dt.date(2026, 11, 1), payment_terms_days=30,
                            issuer={"name": "Legacy Team", "address": "1 Main Street, Boston", "email": "b@l.example"},
                            plan_version="1.0.0", draft_sha256="abc")


def text_of(pdf: bytes) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_invoice_pdf_shows_parties_period_tiers_lines_totals_hours_and_entries(invoice):
    text = text_of(render_invoice_pdf(invoice))
    for expected in ("INVOICE", "INV-2026-0007", "Issued: 2026-11-01", "Due: 2026-12-01",
                     "Period: 2026-10-01 to 2026-10-31", "Legacy Team", "1 Main Street, Boston", "Contoso",
                     "Standard", "Premium", "$4,838.71", "$9,290.32", "Total $14,129.03",
                     "60.64", "10.00", "70.64",  # included, rollover, allowance
                     "Out of scope, billable on quote (1)", "Feature development",
                     "Time entries (3)", "47 60"):  # raw and billed minutes of entry a
        assert expected in text, expected


def test_credit_note_pdf_says_what_it_cancels(invoice):
    credit = credit_note_document(invoice, number="CN-2026-0002", issued_on=dt.date(2026, 11, 5), reason="late entries")
    text = text_of(render_invoice_pdf(json.loads(canonical_json(credit))))
    assert "CREDIT NOTE" in text and "CN-2026-0002" in text
    assert "cancels invoice INV-2026-0007 in full" in text
    assert "Total -$14,129.03" in text
    assert credit["total"] == Decimal("-14129.03")


def test_the_same_invoice_renders_to_the_same_bytes(invoice):
    assert render_invoice_pdf(invoice) == render_invoice_pdf(json.loads(canonical_json(invoice)))


def test_a_pasted_log_as_description_renders_bounded_with_a_marker(invoice):
    from estate_ops.domain.timesheets import FIELD_LIMITS

    limit = FIELD_LIMITS["description"]
    log = "ERROR:" + "x" * (limit - 6)  # the longest description a timesheet may carry, no space
    long = {**invoice, "entries": [{**e, "description": log, "ticket": "🔥 عاجل"} for e in invoice["entries"]]}
    pdf = render_invoice_pdf(long)
    assert pdf == render_invoice_pdf(long)
    text = text_of(pdf).replace(" ", "")
    assert f"({limit:,}characters;fulltextinINV-2026-0007.json)" in text
