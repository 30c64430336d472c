"""The shared CSV writer: text that would start a spreadsheet formula is quoted, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import numpy as np
import pytest
from estate_ops.domain.csvsafe import FORMULA_STARTS, csv_bytes, safe_cell
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(("value", "cell"), [
    ('=HYPERLINK("https://evil","x")', '\'=HYPERLINK("https://evil","x")'),
    ("+1", "'+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("-12.50", "'-12.50"),  # text that looks like a number is still text from outside
    ("plain text", "plain text"),
    ("a=b", "a=b"),
    ("", ""),
    (None, ""),
    (True, "yes"),
    (False, "no"),
    (Decimal("-12.50"), "-12.50"),
    (-3, "-3"),
    (np.int64(-4), "-4"),
    (-1.5, "-1.5"),
    (float("nan"), ""),
])
def test_safe_cell(value, cell):
    assert safe_cell(value) == cell


@given(st.lists(st.lists(st.one_of(st.text(), st.decimals(allow_nan=False, allow_infinity=False),
                                   st.integers()), min_size=2, max_size=2), max_size=10))
def test_no_text_cell_read_back_starts_a_formula(rows):
    data = csv_bytes(["text_or_number", "other"], rows)
    read = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(read) == len(rows) + 1
    for original, written in zip(rows, read[1:], strict=True):
        for value, cell in zip(original, written, strict=True):
            if isinstance(value, str):
                assert not cell.startswith(FORMULA_STARTS)
                assert cell in (value, f"'{value}")
            else:
                assert Decimal(cell) == value
