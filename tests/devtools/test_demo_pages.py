"""`make demo`'s closing note shows page 1 of one PDF per kind of report (issue 20)."""

from __future__ import annotations

from pathlib import Path

from estate_ops.reports.render import render_pdf

from devtools.demo import first_pages, report_kind
from tests.reports.test_render import REPORT


def test_one_png_of_page_one_per_kind_of_report(tmp_path):
    pdf = render_pdf(REPORT)
    names = ["availability/2026-10/report.pdf", "backups/2026-11-02/verification.pdf",
             "backups/2026-11-03/verification.pdf", "backups/drills/2026-11-02/drill.pdf",
             "invoices/2026-10/acme/INV-1.pdf"]
    pdfs = []
    for name in names:
        path = tmp_path / "out" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf)
        pdfs.append(path)
    assert [report_kind(p, tmp_path / "out") for p in pdfs] == ["availability", "backups", "backups", "drill",
                                                                 "invoice"]
    pages = first_pages(pdfs, tmp_path / "out", tmp_path / "pages")
    assert [p.name for p in pages] == ["availability-page1.png", "backups-page1.png", "drill-page1.png",
                                       "invoice-page1.png"]
    assert all(Path(p).read_bytes().startswith(b"\x89PNG") for p in pages)
