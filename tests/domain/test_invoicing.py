"""Invoice arithmetic: scope, rounding, proration, rollover, overage, per-line rounding. Expected figures are
worked out by hand from the plan (§5: Basic 20 h $5,000; Standard 40 h $10,000; Premium 80 h $18,000)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from estate_ops.domain.invoicing import (
    ClientTerms,
    InvoicingRules,
    Tier,
    approval_line,
    build_drafts,
    credit_note_document,
    format_number,
    invoice_document,
    money,
    next_sequence,
)
from estate_ops.domain.periods import Month
from estate_ops.domain.serialize import canonical_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ET = ZoneInfo("America/New_York")
OCT = Month(2026, 10)
ALL = ("bug_fix", "monitoring", "minor_enhancement", "feature_development")
RULES = InvoicingRules("USD", 15, {
    "basic": Tier("basic", "Basic", 20, Decimal("5000.00"), frozenset(ALL[:2])),
    "standard": Tier("standard", "Standard", 40, Decimal("10000.00"), frozenset(ALL[:3])),
    "premium": Tier("premium", "Premium", 80, Decimal("18000.00"), frozenset(ALL)),
})
NORTHWIND = ClientTerms("northwind", "Northwind", "basic")
CONTOSO = ClientTerms("contoso", "Contoso", "standard", ((dt.date(2026, 10, 16), "premium"),), rollover=True)
FABRIKAM = ClientTerms("fabrikam", "Fabrikam", "premium")
CLIENTS = [NORTHWIND, CONTOSO, FABRIKAM]


def entries(rows: list[tuple]) -> pd.DataFrame:
    """Validated entries as timesheets.validate_month returns them: (id, client, start ET, minutes, category)."""
    records = []
    for entry_id, client, start, minutes, category, *engineer in rows:
        local = dt.datetime.fromisoformat(start).replace(tzinfo=ET)
        started = pd.Timestamp(local).tz_convert("UTC")
        records.append({
            "entry_id": entry_id, "client_id": client, "engineer": engineer[0] if engineer else "avery",
            "category": category, "ticket": "T-1", "description": "work", "started_at": started,
            "ended_at": started + pd.Timedelta(minutes=minutes), "raw_seconds": int(minutes * 60),
            "day": local.day, "utc_offset_minutes": int(local.utcoffset().total_seconds() // 60),
            "file": "f.csv", "line": 2, "overlap": "",
        })
    frame = pd.DataFrame(records)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    frame["ended_at"] = pd.to_datetime(frame["ended_at"], utc=True)
    return frame


def drafts_of(rows, clients=CLIENTS, **kwargs):
    return {d.client_id: d for d in build_drafts(entries(rows), OCT, RULES, clients, tz=ET, **kwargs)}


def test_each_entry_is_rounded_up_to_15_minutes_and_raw_minutes_are_kept():
    d = drafts_of([("a", "northwind", "2026-10-05T09:00", 1, "bug_fix"),
                   ("b", "northwind", "2026-10-05T10:00", 15, "bug_fix"),
                   ("c", "northwind", "2026-10-05T11:00", 16, "bug_fix"),
                   ("d", "northwind", "2026-10-05T12:00", 67, "monitoring")], clients=[NORTHWIND])["northwind"]
    billed = dict(zip(d.entries["entry_id"], d.entries["billed_minutes"]))
    raw = dict(zip(d.entries["entry_id"], d.entries["raw_minutes"]))
    assert billed == {"a": "15", "b": "15", "c": "30", "d": "75"}
    assert raw == {"a": "1", "b": "15", "c": "16", "d": "67"}
    assert d.summary["hours"]["used"] == Decimal("2.25")
    assert d.summary["hours"]["used_raw"] == Decimal("1.65")  # 99 min


def test_work_the_tier_does_not_include_is_out_of_scope_and_not_counted():
    d = drafts_of([("a", "northwind", "2026-10-05T09:00", 60, "bug_fix"),
                   ("b", "northwind", "2026-10-06T09:00", 120, "minor_enhancement"),
                   ("c", "northwind", "2026-10-07T09:00", 30, "training")], clients=[NORTHWIND])["northwind"]
    assert d.summary["hours"]["used"] == Decimal("1.00")
    assert d.summary["hours"]["out_of_scope"] == Decimal("2.50")
    assert dict(zip(d.entries["entry_id"], d.entries["in_scope"])) == {"a": True, "b": False, "c": False}
    assert d.summary["total"] == Decimal("5000.00")


def test_basic_over_its_hours_pays_overage_at_fee_over_hours():
    # 22.5 h of bug fixes on a 20 h tier: 2.5 h x $250.00 = $625.00.
    rows = [(f"e{i}", "northwind", f"2026-10-{i + 1:02d}T09:00", 90, "bug_fix") for i in range(15)]
    d = drafts_of(rows, clients=[NORTHWIND])["northwind"]
    overage = [line for line in d.summary["lines"] if line["kind"] == "overage"]
    assert [(o["quantity"], o["unit_price"], o["amount"]) for o in overage] == [
        (Decimal("2.50"), Decimal("250.00"), Decimal("625.00"))]
    assert d.summary["total"] == Decimal("5625.00")
    assert d.summary["hours"]["remaining"] == Decimal("0.00")
    # The allowance is used in the order entries started: only the last ones carry overage.
    assert list(d.entries["overage_minutes"])[-2:] == ["60", "90"]


def test_mid_month_tier_change_prorates_fee_and_hours_by_days():
    d = drafts_of([("a", "contoso", "2026-10-05T09:00", 60, "bug_fix")], clients=[CONTOSO])["contoso"]
    fees = [(line["tier"], line["quantity"], line["amount"]) for line in d.summary["lines"]]
    # 10,000 x 15/31 = 4,838.709..; 18,000 x 16/31 = 9,290.322..
    assert fees == [("standard", "15/31", Decimal("4838.71")), ("premium", "16/31", Decimal("9290.32"))]
    assert d.summary["total"] == Decimal("14129.03")
    # 40 x 15/31 = 19.35 h; 80 x 16/31 = 41.29 h
    assert [t["included_hours"] for t in d.summary["tiers"]] == [Decimal("19.35"), Decimal("41.29")]
    assert d.summary["hours"]["included"] == Decimal("60.64")


def test_each_entry_is_scoped_under_the_tier_of_its_et_day():
    # 23:30 EDT on Oct 15 is already Oct 16 in UTC: still Standard, so feature work is out of scope.
    d = drafts_of([("late15", "contoso", "2026-10-15T23:30", 60, "feature_development"),
                   ("on16", "contoso", "2026-10-16T09:00", 60, "feature_development")],
                  clients=[CONTOSO])["contoso"]
    tiers = dict(zip(d.entries["entry_id"], zip(d.entries["tier"], d.entries["in_scope"])))
    assert tiers == {"late15": ("standard", False), "on16": ("premium", True)}


def test_overage_after_a_tier_change_is_priced_at_the_tier_of_its_day():
    # Allowance 60.64 h (no rollover given). 50 h in the first half, 15 h after the change:
    # 65 - 60.64 = 4.36 h over, all on Premium days: 4.36 x $225.00 = $981.00.
    rows = [(f"s{i}", "contoso", f"2026-10-{i + 1:02d}T08:00", 5 * 60, "bug_fix") for i in range(10)]
    rows += [(f"p{i}", "contoso", f"2026-10-{20 + i:02d}T08:00", 5 * 60, "bug_fix") for i in range(3)]
    d = drafts_of(rows, clients=[CONTOSO])["contoso"]
    overage = [(o["tier"], o["quantity"], o["amount"]) for o in d.summary["lines"] if o["kind"] == "overage"]
    assert overage == [("premium", Decimal("4.36"), Decimal("981.00"))]
    assert d.summary["total"] == Decimal("4838.71") + Decimal("9290.32") + Decimal("981.00")


def test_rollover_adds_last_months_unused_hours_capped_and_only_when_configured():
    rows = [("a", "contoso", "2026-10-05T09:00", 60, "bug_fix"), ("b", "northwind", "2026-10-05T09:00", 60, "bug_fix")]
    d = drafts_of(rows, clients=[CONTOSO, NORTHWIND], rollover_in={"contoso": 10 * 3600, "northwind": 5 * 3600})
    assert d["contoso"].summary["hours"]["rollover"] == Decimal("10.00")
    assert d["contoso"].summary["hours"]["allowance"] == Decimal("70.64")
    assert d["northwind"].summary["hours"]["rollover"] == Decimal("0.00")  # rollover off for northwind
    capped = drafts_of(rows[:1], clients=[CONTOSO], rollover_in={"contoso": 500 * 3600})["contoso"]
    assert capped.summary["hours"]["rollover"] == Decimal("60.64")  # at most one month's included hours


def test_rollover_hours_are_used_first_so_only_this_months_unused_hours_roll_on():
    # 5 h used with 3 h rolled over: 3 h from the rollover, 2 h from this month: 60.64 - 2 = 58.64 unused.
    d = drafts_of([("a", "contoso", "2026-10-05T09:00", 300, "bug_fix")], clients=[CONTOSO],
                  rollover_in={"contoso": 3 * 3600})["contoso"]
    assert d.summary["hours"]["unused_included"] == Decimal("58.64")
    assert d.summary["hours"]["remaining"] == Decimal("58.64")


def test_a_client_without_entries_still_owes_its_fee():
    d = drafts_of([("a", "northwind", "2026-10-05T09:00", 60, "bug_fix")])
    assert d["fabrikam"].summary["total"] == Decimal("18000.00")
    assert d["fabrikam"].summary["counts"]["entries"] == 0
    assert d["fabrikam"].entries.empty


def test_each_line_rounds_half_up_to_the_cent():
    # $10.10/h for 15 min = $2.525: half-up gives $2.53 (banker's rounding would give $2.52).
    rules = InvoicingRules("USD", 15, {"tiny": Tier("tiny", "Tiny", 1, Decimal("10.10"), frozenset(ALL))})
    client = ClientTerms("northwind", "Northwind", "tiny")
    d = build_drafts(entries([("a", "northwind", "2026-10-05T09:00", 75, "bug_fix")]), OCT, rules, [client], tz=ET)[0]
    overage = next(line for line in d.summary["lines"] if line["kind"] == "overage")
    assert overage["amount"] == Decimal("2.53")
    assert money(Decimal("2.525")) == Decimal("2.53") and money(Decimal("2.524999")) == Decimal("2.52")


def test_approval_line_shows_rejected_rows_only_for_that_client():
    d = drafts_of([("a", "northwind", "2026-10-05T09:00", 60, "bug_fix")], rejected_by_client={"northwind": 4})
    assert "4 rejected row(s)" in approval_line(d["northwind"].summary)
    assert "rejected" not in approval_line(d["fabrikam"].summary)
    assert "1.00 h used of 20.00 h" in approval_line(d["northwind"].summary)


# ------------------------------------------------------------------ documents and numbers


def test_numbers_are_sequential_per_year_and_kind():
    assert format_number("invoice", 2026, 1) == "INV-2026-0001"
    assert format_number("credit_note", 2027, 12) == "CN-2027-0012"
    taken = ["INV-2026-0001", "INV-2026-0007", "CN-2026-0009", "INV-2025-0042"]
    assert next_sequence(taken, "invoice", 2026) == 8
    assert next_sequence(taken, "credit_note", 2026) == 10
    assert next_sequence(taken, "invoice", 2027) == 1
    with pytest.raises(ValueError):
        format_number("invoice", 2026, 10000)


def test_a_credit_note_cancels_every_line_of_its_invoice():
    d = drafts_of([(f"e{i}", "northwind", f"2026-10-{i + 1:02d}T09:00", 120, "bug_fix") for i in range(12)],
                  clients=[NORTHWIND])["northwind"]
    invoice = invoice_document(d.as_dict(), number="INV-2026-0001", issued_on=dt.date(2026, 11, 1),
                               payment_terms_days=30, issuer={"name": "Legacy Team"}, plan_version="1.0.0",
                               draft_sha256="x")
    assert invoice["due_on"] == "2026-12-01"
    credit = credit_note_document(invoice, number="CN-2026-0001", issued_on=dt.date(2026, 11, 3), reason="fix")
    assert credit["cancels"] == "INV-2026-0001"
    assert credit["total"] == -invoice["total"] == Decimal("-6000.00")
    assert [c["amount"] for c in credit["lines"]] == [-line["amount"] for line in invoice["lines"]]


# ------------------------------------------------------------------ properties

entry_strategy = st.tuples(
    st.sampled_from(["northwind", "contoso", "fabrikam"]),
    st.integers(min_value=0, max_value=30 * 24 * 60 - 1),  # minute of the month, ET
    st.integers(min_value=1, max_value=600),  # minutes worked
    st.sampled_from([*ALL, "training"]),
)


def _rows(spec):
    start = dt.datetime(2026, 10, 1)
    return [(f"e{i:04d}", client, (start + dt.timedelta(minutes=minute)).isoformat(), minutes, category)
            for i, (client, minute, minutes, category) in enumerate(spec)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entry_strategy, min_size=1, max_size=60), st.integers(0, 80 * 3600))
def test_invariants_of_every_draft(spec, rollover):
    drafts = drafts_of(_rows(spec), rollover_in={"contoso": rollover})
    for d in drafts.values():
        s = d.summary
        # The total is the sum of the rounded lines, every line to the cent.
        assert s["total"] == sum((line["amount"] for line in s["lines"]), Decimal("0.00"))
        assert all(line["amount"] == line["amount"].quantize(Decimal("0.01")) for line in s["lines"])
        # Billed minutes never below raw minutes, and a multiple of 15.
        for raw, billed in zip(d.entries["raw_minutes"], d.entries["billed_minutes"]):
            assert Decimal(billed) >= Decimal(raw) and int(billed) % 15 == 0
        seconds = s["seconds"]
        allowance = seconds["included"] + seconds["rollover"]
        # Overage is exactly the billed in-scope time beyond the allowance (zero when within it).
        assert seconds["overage"] == max(0, seconds["used"] - allowance)
        if seconds["used"] <= allowance:
            assert not [line for line in s["lines"] if line["kind"] == "overage"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entry_strategy, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_reordering_the_rows_changes_nothing(spec, random):
    rows = _rows(spec)
    shuffled = list(rows)
    random.shuffle(shuffled)
    first = drafts_of(rows, rollover_in={"contoso": 7200})
    second = drafts_of(shuffled, rollover_in={"contoso": 7200})
    assert {k: canonical_json(v.as_dict()) for k, v in first.items()} == \
           {k: canonical_json(v.as_dict()) for k, v in second.items()}


def test_entries_starting_at_the_same_moment_are_ordered_by_entry_id_whatever_the_input_order():
    rows = [(f"t{n}", "northwind", "2026-10-05T09:00", 60 * 7, "bug_fix") for n in (3, 1, 2)]
    forward = drafts_of(rows, clients=[NORTHWIND])["northwind"]
    backward = drafts_of(list(reversed(rows)), clients=[NORTHWIND])["northwind"]
    assert list(forward.entries["entry_id"]) == ["t1", "t2", "t3"]
    # 21 h on a 20 h tier: the hour over falls on the last entry in that order.
    assert list(forward.entries["overage_minutes"]) == ["0", "0", "60"]
    assert canonical_json(forward.as_dict()) == canonical_json(backward.as_dict())


# ------------------------------------------------------------------ the CSV is safe in a spreadsheet (issue 14)

HOSTILE = ('=HYPERLINK("https://evil","x")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _read_back_safely(data: bytes, numeric: frozenset[str]) -> list[dict[str, str]]:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    for row in rows:
        for column, cell in row.items():
            if cell.startswith(FORMULA_STARTS):
                assert column in numeric, f"live formula {cell!r} in column {column}"
                Decimal(cell)
    return rows


def _invoice_with(**texts):
    frame = entries([(f"e{i}", "northwind", f"2026-10-{i + 1:02d}T09:00", 60, "bug_fix") for i in range(len(HOSTILE))])
    for column, values in texts.items():
        frame[column] = list(values)
    draft = build_drafts(frame, OCT, RULES, [NORTHWIND], tz=ET)[0]
    return invoice_document(draft.as_dict(), number="INV-2026-0001", issued_on=dt.date(2026, 11, 1),
                            payment_terms_days=30, issuer={"name": "Legacy Team"}, plan_version="1.0.0",
                            draft_sha256="x")


@pytest.mark.parametrize("column", ["entry_id", "engineer", "ticket", "description"])
def test_invoice_csv_quotes_hostile_text_and_the_json_keeps_it(column):
    from estate_ops.domain.invoicing import document_csv

    invoice = _invoice_with(**{column: HOSTILE})
    rows = _read_back_safely(document_csv(invoice), frozenset({"raw_minutes", "billed_minutes", "overage_minutes"}))
    assert sorted(row[column] for row in rows) == sorted(f"'{value}" for value in HOSTILE)
    assert sorted(e[column] for e in invoice["entries"]) == sorted(HOSTILE)  # the JSON keeps the original
    import json

    assert sorted(e[column] for e in json.loads(canonical_json(invoice))["entries"]) == sorted(HOSTILE)


def test_credit_note_csv_keeps_negative_amounts_as_numbers_and_quotes_descriptions():
    from estate_ops.domain.invoicing import document_csv

    invoice = _invoice_with(description=HOSTILE)
    invoice["lines"][0]["description"] = "=cmd|' /C calc'!A0"
    invoice["lines"][0]["amount"] = Decimal("12.50")
    credit = credit_note_document(invoice, number="CN-2026-0001", issued_on=dt.date(2026, 11, 3), reason="@fix")
    rows = _read_back_safely(document_csv(credit), frozenset({"quantity", "unit_price", "amount"}))
    assert rows[0]["amount"] == "-12.50"
    assert all(Decimal(row["amount"]) < 0 for row in rows)
    # "Cancels INV-...: =cmd..." starts with text, so it is already inert; a bare formula would be quoted
    assert rows[0]["description"] == "Cancels INV-2026-0001: =cmd|' /C calc'!A0"
