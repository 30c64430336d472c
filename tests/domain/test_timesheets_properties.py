"""The one rule for a timesheet time (timesheets.TIME_RULE), over generated strings (hypothesis).

A time is a full date, `T` or a space, HH:MM, optional seconds and fraction, and `Z` or ±HH:MM. Every
generated valid time is read as the instant it names; every date, year-month or date ending like an
offset is refused as a time without an offset; no text at all makes the parser crash, and none is
accepted unless it matches the rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pandas as pd
from estate_ops.domain.timesheets import TIME_RULE, parse_times
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.domain.test_timesheets import COLUMNS, GOOD, OCT, bad, csv_bytes, validate

# The oracle: the rule as written in the module, applied by Python's own engine (ASCII), one string at
# a time; the code under test applies it to a whole column with pandas' engine.
RULE = re.compile(TIME_RULE, re.ASCII)
# Inside the years a nanosecond timestamp holds, with a day to spare for the offset.
DATES = st.dates(min_value=dt.date(1678, 1, 2), max_value=dt.date(2261, 12, 30))
# Any character a UTF-8 timesheet can hold: files are decoded strictly, so a lone surrogate never
# reaches the parser (and pyarrow cannot hold one).
FILE_CHARACTERS = st.characters(blacklist_categories=("Cs",))


def parse_one(text: str) -> tuple[pd.Timestamp | None, bool]:
    times, without_offset = parse_times(pd.Series([text], dtype="str"))
    value = times.iloc[0]
    return (None if pd.isna(value) else value), bool(without_offset.iloc[0])


@st.composite
def valid_times(draw) -> tuple[str, int]:
    """(a time written by the rule, the instant it names in ns since the epoch, computed apart)."""
    day = draw(DATES)
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    second = draw(st.none() | st.integers(0, 59))
    digits = draw(st.none() | st.text("0123456789", min_size=1, max_size=9)) if second is not None else None
    offset = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    text = f"{day:%Y-%m-%d}{draw(st.sampled_from('T '))}{hour:02d}:{minute:02d}"
    if second is not None:
        text += f":{second:02d}" + (f".{digits}" if digits else "")
    if offset == 0 and draw(st.booleans()):
        text += "Z"
    else:
        sign = "-" if offset < 0 or (offset == 0 and draw(st.booleans())) else "+"
        text += f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    wall = dt.datetime.combine(day, dt.time(hour, minute, second or 0))
    epoch_seconds = (wall - dt.datetime(1970, 1, 1)) // dt.timedelta(seconds=1) - offset * 60
    nanos = int((digits or "0").ljust(9, "0"))
    return text, epoch_seconds * 10**9 + nanos


@settings(max_examples=300, deadline=None)
@given(valid_times())
@example(("2026-10-05T09:00:00-04:00", 1_791_205_200 * 10**9))
@example(("2026-03-08 02:30Z", 1_772_937_000 * 10**9))
def test_a_valid_time_reads_as_the_instant_it_names(case):
    text, nanos = case
    value, without_offset = parse_one(text)
    assert value is not None, text
    assert value.as_unit("ns").value == nanos
    assert not without_offset
    # and written back in UTC it reads as the same instant again
    again, _ = parse_one(value.as_unit("ns").isoformat().replace("+00:00", "Z"))
    assert again == value


@settings(max_examples=100, deadline=None)
@given(st.lists(valid_times() | st.text(FILE_CHARACTERS, max_size=30), min_size=1, max_size=12))
@example(["2400-01-01T00:00Z", "2026-10-05T09:00:00.123456789Z"])
@example(["0001-01-01T00:00Z", "2026-10-05T09:00Z"])
def test_each_value_is_read_alone_whatever_else_is_in_the_column(values):
    # pandas chooses one resolution for a whole column (nanoseconds when some value needs them):
    # that must never change whether, or as what, another value is read.
    texts = [v[0] if isinstance(v, tuple) else v for v in values]
    together, without = parse_times(pd.Series(texts, dtype="str"))
    for text, value, no_offset in zip(texts, together, without):
        alone, alone_without = parse_one(text)
        assert (None if pd.isna(value) else value) == alone, text
        assert no_offset == alone_without


without_offsets = st.one_of(
    st.builds(lambda d: f"{d:%Y-%m-%d}", DATES),  # a date
    st.builds(lambda d: f"{d:%Y-%m}", DATES),  # a year-month
    # a date whose last characters look like an offset
    st.builds(lambda d, sign, h, m, colon: f"{d:%Y-%m-%d}{sign}{h:02d}" + (f"{colon}{m:02d}" if m is not None else ""),
              DATES, st.sampled_from("+-"), st.integers(0, 23), st.none() | st.integers(0, 59),
              st.sampled_from(["", ":"])),
    # a wall-clock time and no offset
    st.builds(lambda d, sep, h, m, s: f"{d:%Y-%m-%d}{sep}{h:02d}:{m:02d}" + (f":{s:02d}" if s is not None else ""),
              DATES, st.sampled_from("T "), st.integers(0, 23), st.integers(0, 59), st.none() | st.integers(0, 59)),
)


@settings(max_examples=300, deadline=None)
@given(without_offsets)
@example("2026-10-05-04:00")
@example("2026-10-05+0100")
@example("2026-10")
def test_a_date_or_a_time_without_an_offset_is_refused_as_such(text):
    value, without_offset = parse_one(text)
    assert value is None, text
    assert without_offset, text


@settings(max_examples=40, deadline=None)
@given(without_offsets)
def test_a_row_with_a_time_without_an_offset_is_rejected_never_read_as_utc(text):
    result = validate({"timesheets/2026-10/a.csv": csv_bytes([GOOD, bad(started_at=text)])}, OCT)
    assert list(result.entries["entry_id"]) == ["g-1"]
    assert f"started_at {text!r} has no UTC offset" in result.rejected["reason"].iloc[0]


# Text made mostly of the characters times are made of, so that near misses are common.
near_times = st.text(st.sampled_from("0123456789-:+.,TZz tW٣２") | FILE_CHARACTERS, max_size=40)


@settings(max_examples=500, deadline=None)
@given(near_times | st.text(FILE_CHARACTERS, max_size=40))
@example("\ud7ff\ue000")  # either side of the surrogate block
@example("2026-10-05T09:00Z\n")
@example("2026-10-05T09:00:00.1234567890Z")
@example("2026-02-29T09:00Z")
@example("9999-12-31T23:59+00:00")
def test_any_text_is_read_only_if_it_matches_the_rule(text):
    value, without_offset = parse_one(text)
    if value is not None:
        assert RULE.fullmatch(text), text
        assert not without_offset
        # an independent reading of the same text agrees to the microsecond
        python = dt.datetime.fromisoformat(text)
        assert value.floor("us").to_pydatetime() == python.astimezone(dt.UTC)
    elif RULE.fullmatch(text):
        # matches the rule but names no instant: a day or an hour the calendar lacks, or a year
        # outside 1678-2261 (what a nanosecond timestamp holds)
        try:
            python = dt.datetime.fromisoformat(text)
        except ValueError:
            return
        assert not 1679 <= python.year <= 2260, text


@settings(max_examples=60, deadline=None)
@given(near_times | st.text(FILE_CHARACTERS, max_size=40))
def test_any_text_as_a_start_never_crashes_and_is_billed_only_if_it_matches(text):
    # Every field quoted, so that even a carriage return stays inside its field.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerows([COLUMNS, *([row[c] for c in COLUMNS] for row in (GOOD, bad(started_at=text)))])
    result = validate({"timesheets/2026-10/a.csv": buffer.getvalue().encode()}, OCT)
    assert "g-1" in set(result.entries["entry_id"])
    if "b-1" in set(result.entries["entry_id"]):
        assert RULE.fullmatch(text.strip()), text
    else:
        assert len(result.rejected) == 1
