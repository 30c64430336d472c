"""Invoicing operators against the sandbox: atomic numbering under concurrency, bad input that stops the
run without writing anything, the seeded bad rows, and reissue with a credit note."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import threading

import pytest
from estate_ops.hooks.ledgers import InvoiceLedger
from estate_ops.operators.invoicing import (
    DraftInvoicesOperator,
    IssueInvoicesOperator,
    approval_required,
)

LOGICAL = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
HEADER = "entry_id,client_id,engineer,started_at,ended_at,category,ticket,description\n"


class FakeTI:
    def __init__(self, xcoms: dict) -> None:
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str):
        return self.xcoms[task_ids]


def context(params: dict | None = None, xcoms: dict | None = None) -> dict:
    return {"params": {"month": "2026-10", "client": None, "reissue": False, **(params or {})},
            "logical_date": LOGICAL, "ti": FakeTI(xcoms or {})}


def store():
    from estate_ops.config import load_estate
    from estate_ops.hooks.artifacts import ArtifactStore

    return ArtifactStore.for_estate(load_estate())


def snapshot(s) -> dict[str, str]:
    return {k: hashlib.sha256(s.get_bytes(k)).hexdigest() for k in s.list_keys("")}


def draft(params: dict | None = None) -> dict:
    return DraftInvoicesOperator(task_id="draft_invoices").execute(context(params))


def issue(drafted: dict) -> dict:
    return IssueInvoicesOperator(task_id="issue_invoices").execute(context(xcoms={"draft_invoices": drafted}))


# ------------------------------------------------------------------ numbers


def test_concurrent_allocations_never_share_a_number(sandbox):
    numbers: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def allocate(worker: int) -> None:
        ledger = InvoiceLedger(store())
        barrier.wait()
        for n in range(3):
            number = ledger.allocate("invoice", 2026, {"owner": f"worker-{worker}-{n}"})
            with lock:
                numbers.append(number)

    threads = [threading.Thread(target=allocate, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(numbers) == 24
    assert sorted(numbers) == [f"INV-2026-{n:04d}" for n in range(1, 25)]
    # Each number's key names exactly one owner: nothing was overwritten.
    s = store()
    owners = {s.get_json(f"invoices/numbers/{n}.json")["owner"] for n in numbers}
    assert len(owners) == 24


def test_a_slot_keeps_its_number_and_numbers_are_never_reused(sandbox):
    ledger = InvoiceLedger(store())
    first = ledger.claim("2026-10", "northwind", "invoice-1", "invoice", dt.date(2026, 11, 2))
    again = ledger.claim("2026-10", "northwind", "invoice-1", "invoice", dt.date(2026, 11, 9))
    other = ledger.claim("2026-10", "contoso", "invoice-1", "invoice", dt.date(2026, 11, 2))
    assert first == again == ("INV-2026-0001", dt.date(2026, 11, 2))
    assert other[0] == "INV-2026-0002"
    assert ledger.claim("2026-10", "northwind", "credit-1", "credit_note", dt.date(2026, 11, 3))[0] == "CN-2026-0001"


# ------------------------------------------------------------------ bad input stops the run


def _put(s, key: str, data: bytes) -> None:
    s.client.put_object(Bucket=s.bucket, Key=key, Body=data)


BAD_INPUT = [
    ("wrong header", "timesheets/2026-10/zz-export.csv",
     b"id,client,engineer,start,end,category,ticket,description\n1,northwind,a,x,y,bug_fix,,\n",
     "timesheets/2026-10/zz-export.csv: line 1: wrong header"),
    ("not utf-8", "timesheets/2026-10/zz-latin1.csv",
     (HEADER + "x-1,northwind,avery,2026-10-05T09:00:00-04:00,2026-10-05T10:00:00-04:00,bug_fix,T,"
      "Caf\u00e9 menu fix\n").encode("latin-1"),
     "timesheets/2026-10/zz-latin1.csv: not UTF-8 text: byte 0xe9 at line 2"),
    ("empty month", None, None, "no time entries for 2026-06: timesheets/2026-06/ has no CSV files"),
]


@pytest.mark.parametrize(("key", "data", "message"), [(k, d, m) for _, k, d, m in BAD_INPUT],
                         ids=[n for n, *_ in BAD_INPUT])
def test_bad_input_fails_with_a_clear_message_and_writes_nothing(sandbox, key, data, message):
    from airflow.sdk.exceptions import AirflowFailException

    s = store()
    if key:
        _put(s, key, data)
    before = snapshot(s)
    with pytest.raises(AirflowFailException, match=message) as raised:
        draft({"month": "2026-06"} if key is None else None)
    assert "No invoice was issued and nothing was written" in str(raised.value)
    assert snapshot(s) == before


@pytest.mark.parametrize(("params", "message"), [
    ({"client": "initech"}, "client 'initech' is not in estate.yaml clients"),
    ({"reissue": True}, "reissue corrects one client-month at a time: give `client` too"),
    ({"month": "2026-13"}, "month must be YYYY-MM"),
    ({"month": "2027-01"}, "month 2027-01 has not ended yet"),
])
def test_bad_parameters_fail_before_anything_is_read(sandbox, params, message):
    from airflow.sdk.exceptions import AirflowFailException

    s = store()
    before = snapshot(s)
    with pytest.raises(AirflowFailException, match=message):
        draft(params)
    assert snapshot(s) == before


# ------------------------------------------------------------------ the seeded month


def test_seeded_bad_rows_are_each_rejected_with_file_line_and_reason(sandbox):
    drafted = draft()
    rows = list(csv.DictReader(io.StringIO(store().get_bytes("invoices/2026-10/rejected.csv").decode())))
    assert drafted["rejected_rows"] == len(rows)
    reasons = " | ".join(r["reason"] for r in rows)
    for expected in ("missing engineer", "missing ended_at", "is not an ISO 8601 time with an offset",
                     "has no UTC offset", "ended_at is not after started_at", "an entry may last at most 24 h",
                     "is in the future", "unknown client_id 'initech'", "appears with different content",
                     "10 fields, expected 8"):
        assert expected in reasons, expected
    assert all(r["file"].startswith("timesheets/2026-10/") and int(r["line"]) >= 2 for r in rows)
    assert drafted["duplicates_dropped"] == 1
    assert drafted["overlapping_entries"] == 1
    assert drafted["other_months"] == 1  # the previous month's last-evening entry
    assert [i["client_id"] for i in drafted["to_issue"]] == ["contoso", "fabrikam", "northwind"]
    # Rollover for contoso comes from last month's timesheets (no invoice was issued for it).
    assert any("rollover for contoso" in n and "computed from its timesheets" in n for n in drafted["notes"])


def test_issue_then_reissue_with_a_credit_note_nothing_edited_in_place(sandbox):
    s = store()
    first = issue(draft())
    numbers = {i["client_id"]: i["number"] for i in first["issued"]}
    assert sorted(numbers.values()) == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]
    original_key = f"invoices/2026-10/contoso/{numbers['contoso']}"
    original = {ext: s.get_bytes(f"{original_key}.{ext}") for ext in ("json", "csv", "pdf")}
    original_total = s.get_json(f"{original_key}.json")["total"]

    # A rerun issues nothing new: the same numbers, the same bytes.
    again = issue(draft())
    assert again["issued"] == []
    assert {c["client_id"]: c["number"] for c in again["current"]} == numbers
    assert again["slack_posted"] is False

    # A reissue without any correction has nothing to correct.
    unchanged = draft({"client": "contoso", "reissue": True})
    assert unchanged["to_issue"] == [] and unchanged["unchanged"][0]["number"] == numbers["contoso"]

    # A late entry for contoso arrives (40 h of premium feature work after the upgrade: overage).
    late = "".join(f"fix-{d},contoso,devon.silva,2026-10-{d}T08:00:00-04:00,2026-10-{d}T16:00:00-04:00,"
                   f"feature_development,CON-900,Late-logged feature work\n" for d in range(19, 24))
    _put(s, "timesheets/2026-10/zz-correction.csv", (HEADER + late).encode())
    corrected = issue(draft({"client": "contoso", "reissue": True}))
    kinds = [(i["kind"], i["number"]) for i in corrected["issued"]]
    assert kinds == [("credit_note", "CN-2026-0001"), ("invoice", "INV-2026-0004")]
    credit = s.get_json("invoices/2026-10/contoso/CN-2026-0001.json")
    assert credit["cancels"] == numbers["contoso"] and credit["total"] == "-" + original_total
    replacement = s.get_json("invoices/2026-10/contoso/INV-2026-0004.json")
    assert replacement["replaces"] == numbers["contoso"]
    assert replacement["total"] != original_total
    # The original invoice is untouched, byte for byte.
    assert {ext: s.get_bytes(f"{original_key}.{ext}") for ext in ("json", "csv", "pdf")} == original
    # The other clients keep their invoices; contoso's current one is the replacement.
    current = {c["client_id"]: c["number"] for c in issue(draft())["current"]}
    assert current == {**numbers, "contoso": "INV-2026-0004"}


def test_approval_switch_env_overrides_estate_and_plan():
    from estate_ops.config import load_config

    plan, estate = load_config()
    assert plan.invoicing.approval_required is True
    assert approval_required(plan, estate, {}) is (estate.invoicing.approval_required
                                                   if estate.invoicing.approval_required is not None else True)
    assert approval_required(plan, estate, {"ESTATE_OPS_INVOICE_APPROVAL": "required"}) is True
    assert approval_required(plan, estate, {"ESTATE_OPS_INVOICE_APPROVAL": "off"}) is False
    with pytest.raises(ValueError, match="must be 'required' or 'off'"):
        approval_required(plan, estate, {"ESTATE_OPS_INVOICE_APPROVAL": "maybe"})


def test_a_run_interrupted_after_numbering_finishes_with_the_same_numbers(sandbox):
    s = store()
    ledger = InvoiceLedger(s)
    # A run numbered northwind's invoice and stopped before writing it.
    number, _ = ledger.claim("2026-10", "northwind", "invoice-1", "invoice", dt.date(2026, 11, 2))
    issued = {i["client_id"]: i["number"] for i in issue(draft())["issued"]}
    assert issued["northwind"] == number == "INV-2026-0001"
    assert s.get_json(f"invoices/2026-10/northwind/{number}.json")["number"] == number
    # A reissue numbered contoso's credit note and stopped before writing anything.
    credit, _ = ledger.claim("2026-10", "contoso", "credit-1", "credit_note", dt.date(2026, 11, 3))
    finished = issue(draft({"client": "contoso"}))
    assert [(i["kind"], i["number"]) for i in finished["issued"]] == [("credit_note", credit),
                                                                      ("invoice", "INV-2026-0004")]
    assert s.get_json(f"invoices/2026-10/contoso/{credit}.json")["cancels"] == issued["contoso"]
    assert s.get_json("invoices/2026-10/contoso/INV-2026-0004.json")["replaces"] == issued["contoso"]


@pytest.mark.parametrize(("switch", "to_issue", "expected"), [
    ("off", 1, "issued without asking"),  # the demo: approval switched off for the deployment
    ("required", 1, "asked"),
    ("required", 0, "issued without asking"),  # nothing new: a rerun returns what was issued
])
def test_approval_is_asked_only_when_required_and_there_is_something_to_issue(monkeypatch, switch, to_issue, expected):
    from airflow.providers.standard.operators.hitl import HITLOperator
    from estate_ops.operators.invoicing import ApproveInvoicesOperator

    monkeypatch.setenv("ESTATE_OPS_INVOICE_APPROVAL", switch)
    happened = []
    monkeypatch.setattr(ApproveInvoicesOperator, "do_branch", lambda self, ctx, branches: happened.append(branches))
    monkeypatch.setattr(HITLOperator, "execute", lambda self, ctx: happened.append("asked"))
    monkeypatch.setattr(ApproveInvoicesOperator, "_announce", lambda self, *a: None)
    drafts = {"month": "2026-10", "reissue": False, "entries": 3, "rejected_rows": 0, "rejected_key": "k",
              "duplicates_dropped": 0, "overlapping_entries": 0, "already_issued": [],
              "to_issue": [{"client_id": "northwind", "summary": "northwind: 1 h", "replaces": None,
                            "draft_sha256": "x"}][:to_issue]}
    ApproveInvoicesOperator(task_id="approve_invoices").execute({"ti": FakeTI({"draft_invoices": drafts})})
    assert happened == (["asked"] if expected == "asked" else [["issue_invoices"]])


def test_the_invoice_summary_escapes_client_names_for_slack():
    from estate_ops.operators.invoicing import slack_summary

    current = [{"client_name": "<!channel> Northwind & Co", "number": "INV-2026-0001", "currency": "USD",
                "total": "-12.50", "hours": {"used": "1", "allowance": "20", "overage": "0", "out_of_scope": "0"}}]
    text = slack_summary("2026-10", current, {"rejected_rows": 1, "rejected_key": "invoices/2026-10/rejected.csv"})
    assert "• &lt;!channel&gt; Northwind &amp; Co: INV-2026-0001 USD -12.50" in text
    assert "<!channel>" not in text and text.startswith("*Support invoices for 2026-10*")


def test_a_pdf_that_cannot_be_rendered_claims_no_number_and_writes_nothing(sandbox, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException
    from estate_ops.reports import invoice_pdf

    s = store()
    drafted = draft()
    before = snapshot(s)
    real = invoice_pdf.render_invoice_pdf

    def broken(document):
        if document["client_id"] == "fabrikam":
            raise RuntimeError("font exploded")
        return real(document)

    monkeypatch.setattr(invoice_pdf, "render_invoice_pdf", broken)
    with pytest.raises(AirflowFailException, match=r"invoice for fabrikam cannot be rendered \(RuntimeError: "
                                                   r"font exploded\)\. No invoice number was claimed"):
        issue(drafted)
    assert s.list_keys("invoices/numbers/") == [] and s.list_keys("invoices/ledger/") == []
    assert snapshot(s) == before  # no document of any client (nor anything else) written

    monkeypatch.setattr(invoice_pdf, "render_invoice_pdf", real)
    numbers = sorted(i["number"] for i in issue(drafted)["issued"])
    assert numbers == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]  # no gap


def test_a_reissue_whose_credit_note_cannot_be_rendered_claims_nothing(sandbox, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException
    from estate_ops.reports import invoice_pdf

    s = store()
    issue(draft())
    late = "late-1,contoso,devon.silva,2026-10-19T08:00:00-04:00,2026-10-19T16:00:00-04:00,bug_fix,CON-901,Late\n"
    _put(s, "timesheets/2026-10/zz-correction.csv", (HEADER + late).encode())
    drafted = draft({"client": "contoso", "reissue": True})
    before = snapshot(s)
    real = invoice_pdf.render_invoice_pdf

    def broken(document):
        if document["kind"] != "invoice":
            raise RuntimeError("no credit today")
        return real(document)

    monkeypatch.setattr(invoice_pdf, "render_invoice_pdf", broken)
    with pytest.raises(AirflowFailException, match="credit note for contoso cannot be rendered"):
        issue(drafted)
    assert snapshot(s) == before
    monkeypatch.setattr(invoice_pdf, "render_invoice_pdf", real)
    assert [(i["kind"], i["number"]) for i in issue(drafted)["issued"]] == [("credit_note", "CN-2026-0001"),
                                                                            ("invoice", "INV-2026-0004")]
