"""Time entry validation: every rejection is a table row with its reason; fatal files stop the month."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from estate_ops.domain.periods import Month
from estate_ops.domain.timesheets import (
    COLUMNS,
    FIELD_LIMITS,
    TimesheetError,
    TimesheetFile,
    read_timesheet,
    rejected_csv,
    validate_month,
)

ET = ZoneInfo("America/New_York")
OCT = Month(2026, 10)
NOW = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
CLIENTS = {"northwind", "contoso", "fabrikam"}
GOOD = {"entry_id": "g-1", "client_id": "northwind", "engineer": "avery", "started_at": "2026-10-05T09:00:00-04:00",
        "ended_at": "2026-10-05T10:00:00-04:00", "category": "bug_fix", "ticket": "NOR-1", "description": "Fix login"}


def csv_bytes(rows: list[dict], header: tuple[str, ...] = COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header])
    return buffer.getvalue().encode("utf-8")


def validate(files: dict[str, bytes], month: Month = OCT):
    return validate_month([TimesheetFile(k, v) for k, v in files.items()], month, client_ids=CLIENTS, now=NOW, tz=ET)


def bad(**changes) -> dict:
    return {**GOOD, "entry_id": "b-1", **changes}


REJECTIONS = [
    ("missing engineer", bad(engineer=""), "missing engineer"),
    ("missing client", bad(client_id=""), "missing client_id"),
    ("missing category", bad(category=""), "missing category"),
    ("missing end", bad(ended_at=""), "missing ended_at"),
    ("unparsable start", bad(started_at="next tuesday 10am"),
     "started_at 'next tuesday 10am' is not an ISO 8601 time with an offset"),
    ("impossible date", bad(started_at="2026-10-32T09:00:00-04:00"),
     "started_at '2026-10-32T09:00:00-04:00' is not an ISO 8601 time with an offset"),
    ("start without offset", bad(started_at="2026-10-05T09:00:00"),
     "started_at '2026-10-05T09:00:00' has no UTC offset"),
    ("end without offset", bad(ended_at="2026-10-05 10:00"), "ended_at '2026-10-05 10:00' has no UTC offset"),
    # A date is not midnight UTC: refused as a time without an offset, never read as one.
    ("start a bare date", bad(started_at="2026-10-05"), "started_at '2026-10-05' has no UTC offset"),
    ("end a bare date", bad(ended_at="2026-10-06"), "ended_at '2026-10-06' has no UTC offset"),
    ("start a year-month", bad(started_at="2026-10"), "started_at '2026-10' has no UTC offset"),
    ("date ending like an offset", bad(started_at="2026-10-05-04:00"),
     "started_at '2026-10-05-04:00' has no UTC offset"),
    ("date ending like a compact offset", bad(ended_at="2026-10-05+0100"),
     "ended_at '2026-10-05+0100' has no UTC offset"),
    ("start with hours only", bad(started_at="2026-10-05T09"), "started_at '2026-10-05T09' has no UTC offset"),
    # An offset is Z or ±HH:MM and nothing else.
    ("offset without a colon", bad(started_at="2026-10-05T09:00:00-0400"),
     "started_at '2026-10-05T09:00:00-0400' is not an ISO 8601 time with an offset"),
    ("offset in hours only", bad(started_at="2026-10-05T09:00:00-04"),
     "started_at '2026-10-05T09:00:00-04' is not an ISO 8601 time with an offset"),
    ("offset beyond 23:59", bad(started_at="2026-10-05T09:00:00+24:00"),
     "started_at '2026-10-05T09:00:00+24:00' is not an ISO 8601 time with an offset"),
    ("lower-case z", bad(ended_at="2026-10-05T14:00:00z"),
     "ended_at '2026-10-05T14:00:00z' is not an ISO 8601 time with an offset"),
    ("text after the offset", bad(started_at="2026-10-05T09:00:00-04:00 EDT"),
     "started_at '2026-10-05T09:00:00-04:00 EDT' is not an ISO 8601 time with an offset"),
    ("non-ASCII digits", bad(started_at="２０２６-10-05T09:00:00-04:00"), "is not an ISO 8601 time with an offset"),
    ("comma for the seconds' fraction", bad(started_at="2026-10-05T09:00:00,5-04:00"),
     "is not an ISO 8601 time with an offset"),
    ("hour 24", bad(started_at="2026-10-05T24:00:00-04:00"), "is not an ISO 8601 time with an offset"),
    ("end equal to start", bad(ended_at=GOOD["started_at"]), "ended_at is not after started_at"),
    ("end before start", bad(ended_at="2026-10-05T08:00:00-04:00"), "ended_at is not after started_at"),
    ("longer than 24 h", bad(ended_at="2026-10-06T09:01:00-04:00"),
     "lasts 24.02 h; an entry may last at most 24 h"),
    ("in the future", bad(started_at="2027-10-05T09:00:00-04:00", ended_at="2027-10-05T10:00:00-04:00"),
     "is in the future"),
    ("unknown client", bad(client_id="initech"), "unknown client_id 'initech'"),
    ("far from the month", bad(started_at="2026-06-05T09:00:00-04:00", ended_at="2026-06-05T10:00:00-04:00"),
     "not in 2026-10 or a neighbouring month"),
    ("a year no timestamp holds", bad(started_at="0026-10-05T09:00:00-04:00"),
     "started_at '0026-10-05T09:00:00-04:00' is not an ISO 8601 time with an offset"),
    # A NUL byte is not text, wherever it is.
    ("NUL in the description", bad(description="Fix\x00login"),
     "description contains a NUL byte (shown as \u2400)"),
    ("NUL in the engineer", bad(engineer="avery\x00"), "engineer contains a NUL byte"),
    ("NUL in a time", bad(started_at="2026-10-05T09:00:00-04:00\x00"), "started_at contains a NUL byte"),
    # Stated length limits (FIELD_LIMITS), after surrounding space is removed.
    ("description too long", bad(description="x" * 2_001),
     "description is 2,001 characters long; at most 2,000 are allowed"),
    ("ticket too long", bad(ticket="T" * 65), "ticket is 65 characters long; at most 64 are allowed"),
    ("engineer too long", bad(engineer="a" * 101), "engineer is 101 characters long; at most 100 are allowed"),
    ("entry_id too long", bad(entry_id="b" * 65), "entry_id is 65 characters long; at most 64 are allowed"),
    ("category too long", bad(category="c" * 65), "category is 65 characters long; at most 64 are allowed"),
    ("huge value quoted short", bad(client_id="i" * 100_000),
     "unknown client_id " + repr("i" * 80) + "… (100,000 characters)"),
    # text that a spreadsheet would run as a formula (issue 14): rejected as any bad value, quoted in rejected.csv
    ("formula as client", bad(client_id='=HYPERLINK("https://evil","x")'),
     "unknown client_id '=HYPERLINK(\"https://evil\",\"x\")'"),
    ("formula as start", bad(started_at="+1"), "started_at '+1' is not an ISO 8601 time with an offset"),
    ("formula as end", bad(ended_at="-2+3"), "ended_at '-2+3' is not an ISO 8601 time with an offset"),
    ("formula engineer, no end", bad(engineer="@SUM(A1)", ended_at=""), "missing ended_at"),
    ("tab formula entry_id, no client", bad(entry_id="\t=1", client_id=""), "missing client_id"),
    ("formula ticket, no category", bad(ticket="=1", description="=1+1", category=""), "missing category"),
]
HOSTILE = ('=HYPERLINK("https://evil","x")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def assert_no_live_formula(data: bytes, numeric_columns: frozenset[str] = frozenset()) -> list[list[str]]:
    """Every cell of a written CSV, read back as a spreadsheet would: none may start a formula, except a
    number in a numeric column. Returns the rows."""
    from decimal import Decimal

    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    header = rows[0]
    for row in rows:
        for column, cell in zip(header, row, strict=True):
            if cell.startswith(FORMULA_STARTS):
                assert column in numeric_columns, f"live formula {cell!r} in column {column}"
                Decimal(cell)  # a number, not a formula
    return rows


@pytest.mark.parametrize(("row", "reason"), [(r, why) for _, r, why in REJECTIONS], ids=[n for n, _, _ in REJECTIONS])
def test_each_bad_row_is_rejected_with_its_reason_file_and_line(row, reason):
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD, row])})
    assert list(result.entries["entry_id"]) == ["g-1"]
    assert len(result.rejected) == 1
    rejected = result.rejected.iloc[0]
    assert rejected["file"] == "timesheets/2026-10/a.csv"
    assert rejected["line"] == 3
    assert reason in rejected["reason"]


def test_a_rejected_row_with_a_nul_byte_shows_it_rather_than_writing_it():
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD, bad(description="Fix\x00login")])})
    assert result.rejected.iloc[0]["description"] == "Fix\u2400login"
    assert b"\x00" not in rejected_csv(result.rejected)


def test_values_at_their_limits_are_accepted():
    row = bad(**{field: "x" * limit for field, limit in FIELD_LIMITS.items()})
    row["description"] = "  " + row["description"] + "  "  # surrounding space is not counted
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([row])})
    assert result.rejected.empty
    assert len(result.entries["description"].iloc[0]) == FIELD_LIMITS["description"]


def test_exactly_24_hours_is_accepted():
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([bad(ended_at="2026-10-06T09:00:00-04:00")])})
    assert result.rejected.empty
    assert int(result.entries["raw_seconds"].iloc[0]) == 24 * 3600


def test_same_id_with_different_content_rejects_every_version_naming_the_others():
    other = {**GOOD, "ended_at": "2026-10-05T10:30:00-04:00"}
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD]),
                       "timesheets/2026-10/b.csv": csv_bytes([{**GOOD, "entry_id": "g-2"}, other])})
    assert list(result.entries["entry_id"]) == ["g-2"]
    assert sorted(zip(result.rejected["file"], result.rejected["line"])) == [
        ("timesheets/2026-10/a.csv", 2), ("timesheets/2026-10/b.csv", 3)]
    for reason in result.rejected["reason"]:
        assert "entry_id 'g-1' appears with different content at timesheets/2026-10/a.csv:2, " \
               "timesheets/2026-10/b.csv:3" in reason


def test_identical_repeat_is_dropped_once_and_noted_not_rejected():
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD, GOOD])})
    assert list(result.entries["entry_id"]) == ["g-1"]
    assert result.rejected.empty
    assert result.duplicates_dropped == [{"entry_id": "g-1", "file": "timesheets/2026-10/a.csv", "line": 3,
                                          "first_at": "timesheets/2026-10/a.csv:2"}]


def test_a_row_with_more_fields_than_the_header_is_rejected_and_the_rest_read():
    text = csv_bytes([GOOD]).decode() + "b-2,northwind,avery,2026-10-06T09:00:00-04:00,2026-10-06T10:00:00-04:00," \
                                        "bug_fix,NOR-2,Fix, with a comma\n" + csv_bytes([bad()]).decode().split("\n", 1)[1]
    result = validate({"timesheets/2026-10/a.csv": text.encode()})
    assert sorted(result.entries["entry_id"]) == ["b-1", "g-1"]
    assert list(result.rejected["line"]) == [3]
    assert "9 fields, expected 8" in result.rejected["reason"].iloc[0]


def test_every_reason_of_a_row_is_given():
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD, bad(engineer="", client_id="initech")])})
    reason = result.rejected["reason"].iloc[0]
    assert "missing engineer" in reason and "unknown client_id 'initech'" in reason


def test_line_numbers_count_line_breaks_inside_quoted_fields():
    rows = [{**GOOD, "description": "first\nsecond\nthird"}, bad(engineer="")]
    result = validate({"timesheets/2026-10/a.csv": csv_bytes(rows)})
    assert list(result.rejected["line"]) == [5]
    assert result.entries["description"].iloc[0] == "first\nsecond\nthird"


def test_rejected_csv_has_file_line_and_reason_first():
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD, bad(engineer="")])})
    lines = rejected_csv(result.rejected).decode().splitlines()
    assert lines[0].startswith("file,line,reason,entry_id")
    assert lines[1].startswith("timesheets/2026-10/a.csv,3,missing engineer,b-1")


def quoted_csv(rows: list[dict]) -> bytes:
    """Like csv_bytes, every field quoted (so a carriage return inside a field stays inside it)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMNS])
    return buffer.getvalue().encode("utf-8")


@pytest.mark.parametrize("column", ["entry_id", "engineer", "ticket", "description"])
def test_rejected_csv_quotes_every_formula_and_keeps_line_numbers(column):
    other = "description" if column == "ticket" else "ticket"
    rows = [{**bad(entry_id=f"b-{i}", client_id=""), other: f"x-{i}", column: value} for i, value in enumerate(HOSTILE)]
    result = validate({"timesheets/2026-10/a.csv": quoted_csv([GOOD, *rows])})
    assert len(result.rejected) == len(HOSTILE)
    kept = list(result.rejected[column])  # as read (the reader may trim a leading tab or CR): still formulas
    assert all(value.startswith(FORMULA_STARTS) for value in kept)
    written = assert_no_live_formula(rejected_csv(result.rejected))
    header, body = written[0], written[1:]
    assert [row[header.index(column)] for row in body] == [f"'{value}" for value in kept]
    assert [int(row[header.index("line")]) for row in body] == list(range(3, 3 + len(HOSTILE)))


def test_rejected_csv_of_every_bad_row_in_the_table_is_safe():
    rows = [{**row, "entry_id": f"{row['entry_id']}-{i}"} for i, (_, row, _) in enumerate(REJECTIONS)]
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD, *rows])})
    assert len(result.rejected) == len(REJECTIONS)
    assert_no_live_formula(rejected_csv(result.rejected))


# ------------------------------------------------------------------ which month an entry belongs to


def test_an_entry_belongs_to_the_et_month_it_started_in_whatever_folder_holds_it():
    late_october = {**GOOD, "entry_id": "late", "started_at": "2026-11-01T02:30:00Z",  # Oct 31 22:30 EDT
                    "ended_at": "2026-11-01T03:00:00Z"}
    late_september = {**GOOD, "entry_id": "sept", "started_at": "2026-10-01T00:30:00Z",  # Sep 30 20:30 EDT
                      "ended_at": "2026-10-01T01:00:00Z"}
    files = {"timesheets/2026-10/a.csv": csv_bytes([GOOD, late_september]),
             "timesheets/2026-11/a.csv": csv_bytes([late_october])}
    october = validate(files)
    assert sorted(october.entries["entry_id"]) == ["g-1", "late"]
    assert october.other_months == 1
    assert october.entries.set_index("entry_id").loc["late", "day"] == 31


def test_november_has_nothing_once_the_late_entry_is_counted_in_october():
    files = {"timesheets/2026-11/a.csv": csv_bytes([{**GOOD, "started_at": "2026-11-01T02:30:00Z",
                                                      "ended_at": "2026-11-01T03:00:00Z"}])}
    with pytest.raises(TimesheetError, match="no acceptable time entries for 2026-11"):
        validate(files, Month(2026, 11))


# ------------------------------------------------------------------ what stops the run


def crlf(text: str, ending: str) -> bytes:
    return text.replace("\n", ending).encode()


FATAL = [
    ("wrong header", {"timesheets/2026-10/a.csv": csv_bytes([GOOD], header=("id", *COLUMNS[1:]))},
     r"timesheets/2026-10/a.csv: line 1: wrong header \(missing \['entry_id'\]; unexpected \['id'\]\)"),
    ("missing column", {"timesheets/2026-10/a.csv": csv_bytes([GOOD], header=COLUMNS[:-1])},
     r"wrong header \(missing \['description'\]\)"),
    ("not utf-8", {"timesheets/2026-10/a.csv": csv_bytes([GOOD, {**GOOD, "entry_id": "g-2",
                                                                  "description": "Café"}]).decode().encode("latin-1")},
     r"timesheets/2026-10/a.csv: not UTF-8 text: byte 0xe9 at line 3"),
    ("empty file", {"timesheets/2026-10/a.csv": b""}, r"timesheets/2026-10/a.csv: the file is empty"),
    ("header only", {"timesheets/2026-10/a.csv": csv_bytes([])}, r"no acceptable time entries for 2026-10"),
    ("only bad rows", {"timesheets/2026-10/a.csv": csv_bytes([bad(engineer="")])},
     r"no acceptable time entries for 2026-10 .*\(1 row\(s\) rejected\)"),
    ("no files", {}, r"no time entries for 2026-10: timesheets/2026-10/ has no CSV files"),
    # A quote never closed would swallow the rest of the file into one field: rows would vanish unbilled.
    ("quote never closed", {"timesheets/2026-10/a.csv": (csv_bytes([GOOD]).decode()
                                                        + 'b-2,northwind,avery,2026-10-06T09:00:00-04:00,'
                                                          '2026-10-06T10:00:00-04:00,bug_fix,NOR-2,"Fix login\n'
                                                        + csv_bytes([bad()]).decode().split("\n", 1)[1]).encode()},
     r"timesheets/2026-10/a.csv: line 3: a quoted field is never closed"),
    ("quote never closed after a row with too many fields",
     {"timesheets/2026-10/a.csv": (csv_bytes([GOOD]).decode() + "b-3,a,b,c,d,e,f,g,h,i\n"
                                   + 'b-2,northwind,avery,2026-10-06T09:00:00-04:00,'
                                     '2026-10-06T10:00:00-04:00,bug_fix,NOR-2,"Fix login\n'
                                   + csv_bytes([bad()]).decode().split("\n", 1)[1]).encode()},
     r"timesheets/2026-10/a.csv: line 4: a quoted field is never closed"),
    # The csv module's own errors name the file and line, never a bare _csv.Error.
    ("field beyond the csv module's limit",
     {"timesheets/2026-10/a.csv": (csv_bytes([GOOD]).decode() + "b-3,a,b,c,d,e,f,g,h,i\n"
                                   + csv_bytes([bad(description="x" * 200_000)]).decode().split("\n", 1)[1]).encode()},
     r"timesheets/2026-10/a.csv: line 4: not readable as CSV \(field larger than field limit"),
    ("header beyond the csv module's limit",
     {"timesheets/2026-10/a.csv": ('"entry_id' + "x" * 200_000 + "\n").encode()},
     r"timesheets/2026-10/a.csv: line 1: not readable as CSV"),
    ("bare-CR file not UTF-8", {"timesheets/2026-10/a.csv": crlf(csv_bytes([GOOD, {**GOOD, "entry_id": "g-2",
                                                                                 "description": "Café"}]).decode(),
                                                                "\r").decode().encode("latin-1")},
     r"timesheets/2026-10/a.csv: not UTF-8 text: byte 0xe9 at line 3"),
]


@pytest.mark.parametrize(("files", "message"), [(f, m) for _, f, m in FATAL], ids=[n for n, _, _ in FATAL])
def test_unusable_input_stops_the_month_with_a_clear_message(files, message):
    with pytest.raises(TimesheetError, match=message):
        validate(files)


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"], ids=["bare CR", "CRLF", "LF"])
def test_any_line_ending_reads_alike_with_the_same_line_numbers(ending):
    rows = [GOOD, {**GOOD, "entry_id": "g-2", "description": "two\nlines",
                   "started_at": "2026-10-06T09:00:00-04:00", "ended_at": "2026-10-06T10:00:00-04:00"},
            bad(engineer="")]
    text = csv_bytes(rows).decode()
    result = validate({"timesheets/2026-10/a.csv": crlf(text, ending)})
    assert list(result.entries["entry_id"]) == ["g-1", "g-2"]
    assert result.entries["description"].tolist()[0] == "Fix login"
    assert "lines" in result.entries["description"].tolist()[1]
    assert list(result.rejected["line"]) == [5]
    assert result.rejected["reason"].tolist() == ["missing engineer"]


def test_a_bare_cr_file_with_a_row_of_too_many_fields_is_read_by_the_slow_path_too():
    text = csv_bytes([GOOD]).decode() + "b-3,a,b,c,d,e,f,g,h,i\n" + csv_bytes([bad(engineer="")]).decode().split("\n", 1)[1]
    result = validate({"timesheets/2026-10/a.csv": crlf(text, "\r")})
    assert list(result.entries["entry_id"]) == ["g-1"]
    assert sorted(zip(result.rejected["line"], result.rejected["reason"].str.split(";").str[0])) == [
        (3, "10 fields, expected 8 (the header's columns)"), (4, "missing engineer")]


def test_a_byte_order_mark_is_accepted():
    result = validate({"timesheets/2026-10/a.csv": b"\xef\xbb\xbf" + csv_bytes([GOOD])})
    assert list(result.entries["entry_id"]) == ["g-1"]


def test_header_columns_may_come_in_any_order():
    header = tuple(reversed(COLUMNS))
    rows, rejected = read_timesheet(TimesheetFile("timesheets/2026-10/a.csv", csv_bytes([GOOD], header=header)))
    assert rejected.empty
    assert rows.iloc[0]["entry_id"] == "g-1" and rows.iloc[0]["description"] == "Fix login"


# ------------------------------------------------------------------ overlaps


def test_overlapping_entries_of_one_engineer_are_flagged_and_kept():
    rows = [GOOD,
            {**GOOD, "entry_id": "g-2", "started_at": "2026-10-05T09:30:00-04:00",
             "ended_at": "2026-10-05T11:00:00-04:00"},
            # back to back: not an overlap
            {**GOOD, "entry_id": "g-3", "started_at": "2026-10-05T11:00:00-04:00",
             "ended_at": "2026-10-05T12:00:00-04:00"},
            # another engineer at the same time: not an overlap
            {**GOOD, "entry_id": "g-4", "engineer": "blake"}]
    result = validate({"timesheets/2026-10/a.csv": csv_bytes(rows)})
    flags = dict(zip(result.entries["entry_id"], result.entries["overlap"]))
    assert flags == {"g-1": "", "g-2": "overlaps g-1 of avery", "g-3": "", "g-4": ""}
    assert result.rejected.empty


def test_one_engineer_however_the_name_is_cased_or_spaced():
    rows = [{**GOOD, "engineer": "Avery.Chen "},
            {**GOOD, "entry_id": "g-2", "engineer": "avery.chen", "started_at": "2026-10-05T09:30:00-04:00",
             "ended_at": "2026-10-05T11:00:00-04:00"},
            {**GOOD, "entry_id": "g-3", "engineer": " AVERY.CHEN", "started_at": "2026-10-05T10:30:00-04:00",
             "ended_at": "2026-10-05T11:30:00-04:00"}]
    result = validate({"timesheets/2026-10/a.csv": csv_bytes(rows)})
    flags = dict(zip(result.entries["entry_id"], result.entries["overlap"]))
    assert flags == {"g-1": "", "g-2": "overlaps g-1 of avery.chen", "g-3": "overlaps g-2 of AVERY.CHEN"}
    # Each entry keeps the name as written (without the surrounding space).
    assert list(result.entries["engineer"]) == ["Avery.Chen", "avery.chen", "AVERY.CHEN"]


def test_blank_lines_are_skipped_and_do_not_shift_line_numbers():
    text = csv_bytes([GOOD]).decode() + "\n\n" + csv_bytes([bad(engineer="")]).decode().split("\n", 1)[1] + "\n"
    result = validate({"timesheets/2026-10/a.csv": text.encode()})
    assert list(result.entries["entry_id"]) == ["g-1"]
    assert list(result.rejected["line"]) == [5]
    assert result.rows_read == 2


def test_rejections_do_not_depend_on_when_the_run_happens():
    files = [TimesheetFile("timesheets/2026-10/a.csv", csv_bytes([GOOD, *[r for _, r, _ in REJECTIONS]]))]
    early = validate_month(files, OCT, client_ids=CLIENTS, now=NOW, tz=ET)
    late = validate_month(files, OCT, client_ids=CLIENTS, now=NOW + dt.timedelta(days=40), tz=ET)
    assert rejected_csv(early.rejected) == rejected_csv(late.rejected)


def test_an_overlap_names_the_earlier_entry_still_running():
    rows = [{**GOOD, "entry_id": "long", "started_at": "2026-10-05T09:00:00-04:00", "ended_at": "2026-10-05T12:00:00-04:00"},
            {**GOOD, "entry_id": "short", "started_at": "2026-10-05T09:30:00-04:00",
             "ended_at": "2026-10-05T10:00:00-04:00"},
            {**GOOD, "entry_id": "later", "started_at": "2026-10-05T10:30:00-04:00",
             "ended_at": "2026-10-05T11:00:00-04:00"}]
    result = validate({"timesheets/2026-10/a.csv": csv_bytes(rows)})
    flags = dict(zip(result.entries["entry_id"], result.entries["overlap"]))
    assert flags == {"long": "", "short": "overlaps long of avery", "later": "overlaps long of avery"}


def test_reordering_rows_changes_neither_entries_nor_rejections():
    rows = [GOOD, *[{**r, "entry_id": f"b-{n}"} for n, (_, r, _) in enumerate(REJECTIONS)],
            {**GOOD, "entry_id": "g-2", "started_at": "2026-10-05T09:30:00-04:00"},
            {**GOOD, "entry_id": "g-3"}]
    forward = validate({"timesheets/2026-10/a.csv": csv_bytes(rows)})
    backward = validate({"timesheets/2026-10/a.csv": csv_bytes(list(reversed(rows)))})

    def content(result):
        entries = result.entries.drop(columns=["line"]).sort_values("entry_id").reset_index(drop=True)
        rejected = sorted(zip(result.rejected["entry_id"], result.rejected["reason"]))
        return entries.to_dict("records"), rejected

    assert content(forward) == content(backward)
