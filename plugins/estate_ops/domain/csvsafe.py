"""The one CSV writer: every CSV estate-ops writes is safe to open in a spreadsheet (issue 14 §1).

Pure. A spreadsheet evaluates a cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula (OWASP "CSV injection"), so text from outside (engineer names, tickets,
descriptions, entry ids, reasons...) starting with one of them gets a leading single quote, which
makes the spreadsheet show it as text. Real numbers (int, Decimal, float values, e.g. a credit
note's negative amount) stay numbers, unquoted: only values that were numbers before they reached
the writer are written bare. JSON outputs keep the original text; only CSV cells are changed.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """One CSV cell as text: numbers as numbers, None as empty, booleans as yes/no, and any other
    text starting like a formula prefixed with `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return "" if isinstance(value, float) and math.isnan(value) else str(value)  # NaN: missing, like pandas
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_bytes(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> bytes:
    """A header and rows as UTF-8 CSV bytes (`\\n` line ends, minimal quoting, deterministic)."""
    # csv.writer quotes a field only for the characters of its line terminator: written with "\r\n",
    # a field holding a bare CR (or LF) is quoted, so no reader or spreadsheet splits the row there;
    # each row's "\r\n" is then written as "\n".
    lines = []
    for row in (header, *rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(cell) for cell in row])
        lines.append(buffer.getvalue().removesuffix("\r\n"))
    return "".join(f"{line}\n" for line in lines).encode("utf-8")
