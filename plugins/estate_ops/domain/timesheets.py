"""Time entries: reading the month's CSV files and validating every row (DESIGN.md §4).

Input: `timesheets/YYYY-MM/*.csv`, UTF-8, header
`entry_id, client_id, engineer, started_at, ended_at, category, ticket, description`, times ISO 8601
with an offset. An entry belongs to the month in which it started in the contract's time zone (ET),
so an entry logged under the next month's folder that started late on the last day ET still counts
here: a month's run reads its own folder and both neighbours' and keeps the entries that started
in it.

What stops the run (`TimesheetError`, nothing is invoiced): a file that is not UTF-8, not readable
as CSV or with a quoted field never closed (where the rows after it begin cannot be told), a wrong
header, a month without a single acceptable entry. What rejects a row (kept in `rejected` with its
file, line and reason): missing or unparsable fields, a time that is not TIME_RULE's (a date, or a time
without an offset, is never read as UTC), a NUL byte, a field longer than its FIELD_LIMITS, end not
after start, longer than 24 h, starting in the future, an unknown client, the same `entry_id` with
different content. Identical repeats are dropped once and noted. Overlapping entries of one engineer
(however the name is cased) are flagged but kept. Line endings may be LF, CRLF or bare CR.

Everything here is vectorised with pandas (the benchmark feeds a million rows): per-row Python runs
only for structurally broken files (wrong number of fields) and for the rejected rows' messages.
Pure: no Airflow, no boto3.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from estate_ops.domain.periods import Month

COLUMNS: tuple[str, ...] = ("entry_id", "client_id", "engineer", "started_at", "ended_at", "category",
                            "ticket", "description")
REQUIRED: tuple[str, ...] = ("entry_id", "client_id", "engineer", "started_at", "ended_at", "category")
CATEGORIES: tuple[str, ...] = ("bug_fix", "monitoring", "minor_enhancement", "feature_development")
MAX_ENTRY = pd.Timedelta(hours=24)
REJECTED_COLUMNS: tuple[str, ...] = ("file", "line", "reason", *COLUMNS)
# The longest value each field may hold, in characters (after surrounding space is removed). A row
# over one is rejected naming the field and its limit. client_id has none of its own (it must be one
# of estate.yaml's ids) and nor have the times (TIME_RULE bounds them).
FIELD_LIMITS: dict[str, int] = {"entry_id": 64, "engineer": 100, "category": 64, "ticket": 64,
                                "description": 2_000}
# The one rule for started_at and ended_at (ISO 8601, strictly): a full date, `T` or a space, hours and
# minutes, optional seconds with an optional fraction, and a mandatory offset, `Z` or ±HH:MM. Digits are
# ASCII ([0-9], not \d, which also matches other scripts' digits). Whether the date exists is pandas'
# to say (2026-10-32 matches the rule and is still refused).
TIME_RULE = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
             r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")
# What is refused as a time without an offset (its own message, never read as UTC): a year-month, a
# date, a date with a wall-clock time, or a date whose last characters only look like an offset
# (2026-10-05-04:00 and 2026-10-05+0100 are dates, not midnight at -04:00).
_WITHOUT_OFFSET = (r"[0-9]{4}-[0-9]{2}(?:-[0-9]{2}(?:[T ][0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?)?"
                   r"|[+-][0-9]{2}(?::?[0-9]{2})?)?)?")
# Times a nanosecond timestamp holds. pandas reads at microseconds unless some value of the column has
# more digits, when it reads at nanoseconds and everything outside these years fails: bounding every
# time alike keeps whether one row is accepted independent of the other rows.
_EARLIEST, _LATEST = pd.Timestamp("1678-01-01T00:00:00Z"), pd.Timestamp("2261-12-31T23:59:59.999999Z")
EXAMPLE_TIME = "2026-10-05T09:00:00-04:00"
_SHOWN_CHARS = 80  # how much of a bad value a reason quotes


class TimesheetError(ValueError):
    """The month's time entries cannot be invoiced at all (bad file or no entries): nothing is issued."""


@dataclass(frozen=True)
class TimesheetFile:
    key: str  # where it came from, e.g. timesheets/2026-10/alice.csv (named in every message)
    data: bytes


@dataclass
class ValidatedMonth:
    """The month's acceptable entries and everything that was not accepted, with why."""

    month: Month
    # entry_id, client_id, engineer, category, ticket, description, started_at, ended_at (UTC),
    # raw_seconds, day (ET date), file, line, overlap (str, "" when none)
    entries: pd.DataFrame
    rejected: pd.DataFrame  # REJECTED_COLUMNS
    duplicates_dropped: list[dict] = field(default_factory=list)  # identical repeats: file, line, first_at
    other_months: int = 0  # rows of this month's folder that started in a neighbouring month (counted there)
    files: list[str] = field(default_factory=list)
    rows_read: int = 0

    @property
    def overlaps(self) -> pd.DataFrame:
        return self.entries[self.entries["overlap"] != ""]

    def rejected_by_client(self) -> dict[str, int]:
        counts = self.rejected.groupby("client_id").size()
        return {str(k): int(v) for k, v in counts.items() if k}


# ------------------------------------------------------------------------------------ reading


def _decode(file: TimesheetFile) -> str:
    try:
        text = file.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = file.data[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        raise TimesheetError(
            f"{file.key}: not UTF-8 text: byte 0x{file.data[exc.start]:02x} at line {line} (byte offset "
            f"{exc.start}) is not valid UTF-8; save the file as UTF-8 and run again"
        ) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark (Excel's "CSV UTF-8") is fine
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        # Bare carriage returns (old Mac "CSV", some exports) end lines as they do in an editor. pandas
        # would read them so, the csv module not at all: one rule for both, and for counting lines.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _csv_error(key: str, line: int, exc: csv.Error) -> TimesheetError:
    return TimesheetError(f"{key}: line {line}: not readable as CSV ({exc}); save it as comma-separated "
                          f"UTF-8 text with the header {', '.join(COLUMNS)} and run again")


def _check_header(key: str, header: list[str]) -> None:
    got = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in got]
    unexpected = [h for h in got if h not in COLUMNS]
    repeated = sorted({h for h in got if got.count(h) > 1})
    if missing or unexpected or repeated:
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if unexpected:
            problems.append(f"unexpected {unexpected}")
        if repeated:
            problems.append(f"repeated {repeated}")
        raise TimesheetError(
            f"{key}: line 1: wrong header ({'; '.join(problems)}); expected the columns "
            f"{', '.join(COLUMNS)} (DESIGN.md §4)"
        )


def read_timesheet(file: TimesheetFile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One CSV file -> (rows with COLUMNS + file + line, rows rejected for their shape).

    `line` is the file line where the row starts (1 is the header), counting line breaks inside
    quoted fields. Raises TimesheetError for a file that is not UTF-8 or has a wrong header.
    """
    text = _decode(file)
    if not text.strip():
        raise TimesheetError(f"{file.key}: the file is empty; expected a header row ({', '.join(COLUMNS)})")
    try:
        header = next(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise _csv_error(file.key, 1, exc) from None
    _check_header(file.key, header)
    try:
        raw = pd.read_csv(io.StringIO(text), header=None, dtype=str, na_filter=False, skip_blank_lines=False,
                          engine="c")
    except pd.errors.ParserError:
        # A row with more fields than the header, or a quote never closed: the slow path tells which line.
        return _read_with_csv_module(file.key, text, header)
    raw = raw.fillna("")
    if len(raw.columns) != len(header):  # cannot happen with header=None, but never misalign columns
        return _read_with_csv_module(file.key, text, header)
    rows = raw.iloc[1:].reset_index(drop=True)
    rows.columns = [h.strip() for h in header]
    rows = rows[list(COLUMNS)]
    line = np.arange(2, len(rows) + 2, dtype=np.int64)
    newlines = text.count("\n") - (0 if text.endswith("\n") else -1)
    if newlines != len(rows) + 1:
        # Some quoted field spans lines: shift each row by the line breaks in the rows before it.
        breaks = sum(rows.iloc[:, i].str.count("\n").to_numpy() for i in range(rows.shape[1]))
        header_breaks = sum(h.count("\n") for h in header)
        line = 2 + header_breaks + np.concatenate([[0], np.cumsum(breaks[:-1] + 1)]).astype(np.int64)
    rows["file"] = file.key
    rows["line"] = line
    # Blank lines (every field empty) are not entries: skipped, not rejected.
    blank = (rows[list(COLUMNS)] == "").all(axis=1)
    if blank.any():
        rows = rows[~blank].reset_index(drop=True)
    return rows, _empty_rejected()


def _read_with_csv_module(key: str, text: str, header: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    names = [h.strip() for h in header]
    good: list[list] = []
    bad: list[dict] = []
    reader = csv.reader(io.StringIO(text))
    next(reader)
    start = last = reader.line_num + 1
    try:
        for values in reader:
            if len(values) > len(names):
                bad.append({"file": key, "line": start,
                            "reason": f"{len(values)} fields, expected {len(names)} (the header's columns); "
                                      f"quote fields that contain commas",
                            **dict(zip(names, values)), })
            elif any(v.strip() for v in values):
                good.append([*values, *[""] * (len(names) - len(values)), key, start])
            last, start = start, reader.line_num + 1
    except csv.Error as exc:
        raise _csv_error(key, start, exc) from None
    if _unclosed_quote(text, last):
        # The csv module would read the rest of the file into that one field: rows would vanish unbilled.
        raise TimesheetError(f"{key}: line {last}: a quoted field is never closed (a \" without its closing "
                             f"\"), so where the rows after it begin cannot be told; close the quote (a quote "
                             f"inside a quoted field is written \"\") and run again")
    rows = pd.DataFrame(good, columns=[*names, "file", "line"])
    rows = rows[[*COLUMNS, "file", "line"]]
    rows["line"] = rows["line"].astype(np.int64)
    rejected = pd.DataFrame(bad).reindex(columns=list(REJECTED_COLUMNS)).fillna("")
    rejected["line"] = rejected["line"].astype(np.int64)
    return rows, rejected


def _unclosed_quote(text: str, line: int) -> bool:
    """Whether the record starting at `line` (the file's last) opens a quote it never closes."""
    at = 0
    for _ in range(line - 1):
        at = text.find("\n", at) + 1
        if at == 0:
            return False
    try:
        pd.read_csv(io.StringIO(text[at:]), header=None, dtype=str, na_filter=False, engine="c")
    except pd.errors.ParserError as exc:
        return "EOF inside string" in str(exc)
    except pd.errors.EmptyDataError:
        return False
    return False


def _empty_rejected() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=str) for c in REJECTED_COLUMNS})
    frame["line"] = frame["line"].astype(np.int64)
    return frame


# ------------------------------------------------------------------------------------ validating


def folder_month(key: str) -> Month | None:
    """The month of a `timesheets/YYYY-MM/...` key."""
    parts = key.split("/")
    for part in parts[:-1]:
        try:
            return Month.parse(part)
        except ValueError:
            continue
    return None


def parse_times(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`values` read by TIME_RULE, the one rule for started_at and ended_at.

    Returns (the times in UTC, NaT where a value is not a time by the rule; which values are times
    without an offset, refused with their own message). Vectorised: a regular expression decides
    what is a time, pandas which instant it is; nothing is ever read as UTC for want of an offset.
    """
    text = values.astype("str")
    valid = pd.Series(text.str.fullmatch(TIME_RULE).to_numpy(dtype=bool, na_value=False), index=text.index)
    times = pd.to_datetime(text.where(valid), utc=True, format="ISO8601", errors="coerce")
    times = times.where((times >= _EARLIEST) & (times <= _LATEST))
    without_offset = pd.Series(False, index=text.index)
    if not valid.all():
        others = text[~valid]
        without_offset[~valid] = others.str.fullmatch(_WITHOUT_OFFSET).to_numpy(dtype=bool, na_value=False)
    return times, without_offset


def _quoted(values: pd.Series) -> pd.Series:
    """Values as a reason quotes them: repr, and no more than _SHOWN_CHARS of a long one."""
    return values.map(lambda v: repr(v) if len(v) <= _SHOWN_CHARS
                      else f"{v[:_SHOWN_CHARS]!r}… ({len(v):,} characters)")


def validate_month(files: list[TimesheetFile], month: Month, *, client_ids: set[str] | frozenset[str],
                   now: dt.datetime, tz: ZoneInfo) -> ValidatedMonth:
    """Validate every row of `files` (the month's folder and its neighbours') for `month`.

    Raises TimesheetError when a file is unreadable or no entry of `month` is acceptable.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    own_files = sorted(f.key for f in files if folder_month(f.key) == month)
    frames, shape_rejects = [], []
    for file in sorted(files, key=lambda f: f.key):
        rows, rejected = read_timesheet(file)
        rows["own_folder"] = folder_month(file.key) == month
        frames.append(rows)
        shape_rejects.append(rejected)
    if not frames:
        raise TimesheetError(f"no time entries for {month}: timesheets/{month}/ has no CSV files")
    rows = pd.concat(frames, ignore_index=True)
    del frames
    rows_read = len(rows) + sum(len(r) for r in shape_rejects)
    for column in COLUMNS:
        rows[column] = rows[column].str.strip()

    # Identical repeats (every field the same) are dropped, keeping the first (by file, line), and noted.
    # Only rows whose entry_id repeats can be repeats: compare whole rows among those few.
    ids = rows["entry_id"]
    id_repeats = ids.duplicated(keep=False).to_numpy()
    duplicates = []
    conflict = np.zeros(len(rows), dtype=bool)
    if id_repeats.any():
        subset = rows[id_repeats]
        repeat_in_subset = subset.duplicated(list(COLUMNS), keep="first").to_numpy()
        if repeat_in_subset.any():
            dropped = subset[repeat_in_subset]
            firsts = subset[~repeat_in_subset]
            first_at = dict(zip(map(tuple, firsts[list(COLUMNS)].to_numpy()),
                                firsts["file"] + ":" + firsts["line"].astype(str)))
            duplicates = [{"entry_id": row[0], "file": f, "line": int(n), "first_at": first_at[tuple(row)]}
                          for row, f, n in zip(dropped[list(COLUMNS)].to_numpy(), dropped["file"], dropped["line"])]
        kept = subset[~repeat_in_subset]
        clash = ((kept["entry_id"] != "") & kept["entry_id"].duplicated(keep=False)).to_numpy()
        conflict[np.flatnonzero(id_repeats)[~repeat_in_subset][clash]] = True
        keep_rows = np.ones(len(rows), dtype=bool)
        keep_rows[np.flatnonzero(id_repeats)[repeat_in_subset]] = False
        if not keep_rows.all():
            rows = rows[keep_rows].reset_index(drop=True)
            conflict = conflict[keep_rows]

    reasons: list[pd.Series] = []

    def reject(mask: pd.Series, message) -> None:
        """Record `message` for the rows of `mask`; a callable builds it from those rows only."""
        if mask.any():
            index = rows.index[mask.to_numpy()]
            text = message(index) if callable(message) else pd.Series(message, index=index)
            reasons.append(text)

    for column in REQUIRED:
        reject(rows[column] == "", f"missing {column}")
    if any(b"\x00" in f.data for f in files):
        for column in COLUMNS:
            reject(rows[column].str.contains("\x00", regex=False),
                   f"{column} contains a NUL byte (shown as \u2400): not text; remove it and run again")
    for column, limit in FIELD_LIMITS.items():
        length = rows[column].str.len()
        reject(length > limit, lambda i, c=column, n=limit, length=length: f"{c} is " + length[i].map("{:,}".format)
               + f" characters long; at most {n:,} are allowed")
    parsed = {}
    for column in ("started_at", "ended_at"):
        values = rows[column]
        times, without_offset = parse_times(values)
        refused = (values != "") & times.isna()
        if refused.any():
            reject(refused & without_offset, lambda i, c=column: f"{c} " + _quoted(rows.loc[i, c])
                   + f" has no UTC offset; expected ISO 8601 with an offset, e.g. {EXAMPLE_TIME}")
            reject(refused & ~without_offset, lambda i, c=column: f"{c} " + _quoted(rows.loc[i, c])
                   + f" is not an ISO 8601 time with an offset (a real date, T, HH:MM[:SS[.fraction]], then Z or "
                     f"±HH:MM, e.g. {EXAMPLE_TIME})")
        parsed[column] = times
    start, end = parsed["started_at"], parsed["ended_at"]
    both = start.notna() & end.notna()
    duration = end - start
    reject(both & (duration <= pd.Timedelta(0)), "ended_at is not after started_at")
    reject(both & (duration > MAX_ENTRY),
           lambda i: "lasts " + (duration[i].dt.total_seconds() / 3600).round(2).astype(str)
           + " h; an entry may last at most 24 h (split it by day)")
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    # The message names the entry's start, not `now`: a rerun must write the same rejected.csv.
    reject(start > now_ts, lambda i: "started_at " + _quoted(rows.loc[i, "started_at"])
           + " is in the future; time can be logged only once worked")
    known = rows["client_id"].isin(list(client_ids))
    reject((rows["client_id"] != "") & ~known,
           lambda i: "unknown client_id " + _quoted(rows.loc[i, "client_id"])
           + f"; estate.yaml clients are {sorted(client_ids)}")
    # An unknown category is not an error: it is out of scope for every tier (DESIGN.md §4).

    # The same entry_id with different content: every version is rejected (which one is right is
    # for a person to say), each naming where the others are.
    if conflict.any():
        ids = rows["entry_id"]
        where = (rows["file"] + ":" + rows["line"].astype(str))[conflict]
        places = where.groupby(ids[conflict]).agg(lambda s: ", ".join(s))
        reject(pd.Series(conflict, index=rows.index),
               lambda i: "entry_id " + _quoted(ids[i]) + " appears with different content at " + ids[i].map(places))

    # Which month each row belongs to: the ET month of its start.
    local = start.dt.tz_convert(tz)
    start_month = (local.dt.year * 100 + local.dt.month).to_numpy(dtype=float, na_value=np.nan)
    prev, nxt = month.previous(), month.next()
    in_month = start_month == month.year * 100 + month.month
    in_neighbour = np.isin(start_month, [prev.year * 100 + prev.month, nxt.year * 100 + nxt.month])
    own_folder = rows["own_folder"].to_numpy(bool)
    far = pd.Series(own_folder & start.notna().to_numpy() & ~in_month & ~in_neighbour, index=rows.index)
    reject(far, lambda i: "starts " + local[i].dt.strftime("%Y-%m-%d %H:%M %Z")
           + f", not in {month} or a neighbouring month; move it to its own month's folder")

    bad = np.zeros(len(rows), dtype=bool)
    rejected = _empty_rejected()
    if reasons:
        joined = pd.concat(reasons).groupby(level=0, sort=True).agg("; ".join)
        bad[joined.index.to_numpy()] = True
        # This run reports a bad row that sits in this month's folder or started in this month (a bad
        # row of a neighbour's folder that started elsewhere is that month's run's to report).
        chosen = joined.index[(in_month | own_folder)[joined.index.to_numpy()]]
        rejected = rows.loc[chosen, ["file", "line", *COLUMNS]].copy()
        rejected.insert(2, "reason", joined[chosen].to_numpy())
        if any(b"\x00" in f.data for f in files):
            # rejected.csv is text a person opens: a NUL is shown, not written.
            for column in COLUMNS:
                rejected[column] = rejected[column].str.replace("\x00", "\u2400", regex=False)
    # Shape rejects are reported by the run of their folder's month (their start cannot be trusted).
    shape = [r for r in shape_rejects if len(r) and folder_month(r["file"].iloc[0]) == month]
    rejected = pd.concat([rejected, *shape], ignore_index=True) if shape else rejected
    rejected = rejected.sort_values(["file", "line"], kind="stable").reset_index(drop=True)[list(REJECTED_COLUMNS)]

    keep = in_month & ~bad
    kept_local = local[keep]
    entries = pd.DataFrame({
        "entry_id": rows["entry_id"][keep], "client_id": rows["client_id"][keep],
        "engineer": rows["engineer"][keep], "category": rows["category"][keep],
        "ticket": rows["ticket"][keep], "description": rows["description"][keep],
        "started_at": start[keep], "ended_at": end[keep],
        # Whole seconds, rounded up, so a rounded-up bill is never below the time worked.
        "raw_seconds": np.ceil(duration[keep].dt.total_seconds()).astype(np.int64),
        # The ET calendar day, as its day of the month (every kept entry started in `month`).
        "day": kept_local.dt.day.astype(np.int8),
        # The ET offset at the start in minutes (e.g. -240), so renderings print ET without zoneinfo.
        "utc_offset_minutes": ((kept_local.dt.tz_localize(None) - start[keep].dt.tz_localize(None))
                               .dt.total_seconds() // 60).astype(np.int16),
        "file": rows["file"][keep], "line": rows["line"][keep],
    }).reset_index(drop=True)
    entries["overlap"] = _overlaps(entries)
    other_months = int((own_folder & ~in_month & in_neighbour & ~bad).sum())
    if entries.empty:
        rejected_note = f" ({len(rejected)} row(s) rejected)" if len(rejected) else ""
        raise TimesheetError(
            f"no acceptable time entries for {month} in timesheets/{month}/ and its neighbouring folders"
            f"{rejected_note}; nothing to invoice"
        )
    return ValidatedMonth(month=month, entries=entries, rejected=rejected, duplicates_dropped=duplicates,
                          other_months=other_months, files=own_files, rows_read=rows_read)


def _overlaps(entries: pd.DataFrame) -> pd.Series:
    """For each entry that starts before an earlier entry of the same engineer ended: which one."""
    result = np.full(len(entries), "", dtype=object)
    if entries.empty:
        return pd.Series(result, index=entries.index, dtype=object)
    # One engineer however the name is cased (surrounding space is already gone): factorise the
    # names, then fold the few distinct ones, not the million rows.
    codes, names = pd.factorize(entries["engineer"])
    engineer = pd.factorize(pd.Series(names, dtype="str").str.casefold())[0][codes]
    starts = entries["started_at"].dt.as_unit("ns").astype("int64").to_numpy()
    ends = entries["ended_at"].dt.as_unit("ns").astype("int64").to_numpy()
    ids = entries["entry_id"].to_numpy(object)
    order = np.lexsort((ends, starts, engineer))
    e, s, g = ends[order], starts[order], engineer[order]
    same = np.r_[False, (g[1:] == g[:-1]) & (s[1:] == s[:-1]) & (e[1:] == e[:-1])]
    if same.any():
        # Identical times of one engineer (rare): order them by entry id, so input order does not matter.
        tied = np.flatnonzero(same)
        breaks = np.flatnonzero(np.diff(tied) != 1)
        for lo, hi in zip(np.r_[tied[0], tied[breaks + 1]], np.r_[tied[breaks], tied[-1]]):
            block = order[lo - 1:hi + 1]
            order[lo - 1:hi + 1] = block[np.argsort(ids[block].astype(str), kind="stable")]
    first = np.r_[True, g[1:] != g[:-1]]
    running = pd.Series(e).groupby(g).cummax().to_numpy()
    previous = np.r_[np.iinfo(np.int64).min, running[:-1]]
    previous[first] = np.iinfo(np.int64).min
    overlapping = s < previous
    if overlapping.any():
        # The earlier entry still running is the one that set the running end (a group's first row
        # always does, so the accumulated position never crosses into another engineer).
        setter = np.maximum.accumulate(np.where(e == running, np.arange(len(e)), -1))
        holder = order[np.r_[0, setter[:-1]]]
        rows = order[overlapping]
        names = entries["engineer"].to_numpy(object)
        result[rows] = "overlaps " + ids[holder[overlapping]].astype(object) + " of " + names[rows]
    return pd.Series(result, index=entries.index, dtype=object)


def rejected_csv(rejected: pd.DataFrame) -> bytes:
    """rejected.csv: one row per rejected row with file, line and reason (deterministic bytes; text that
    would start a spreadsheet formula is quoted, see `csvsafe`)."""
    from estate_ops.domain.csvsafe import csv_bytes

    columns = list(REJECTED_COLUMNS)
    return csv_bytes(columns, rejected[columns].itertuples(index=False, name=None))
