"""`run_as_of`: the one instant every operator judges a run by."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from estate_ops.operators import run_as_of

LOGICAL = dt.datetime(2026, 11, 1, 6, 0, tzinfo=ZoneInfo("America/New_York"))


class Run:
    def __init__(self, run_after):
        self.run_after = run_after


def test_a_scheduled_run_judges_by_its_logical_date_in_utc():
    as_of = run_as_of({"logical_date": LOGICAL, "dag_run": Run(LOGICAL + dt.timedelta(hours=5))})
    assert as_of == LOGICAL and as_of.tzinfo is dt.UTC
    assert as_of.hour == 11  # 06:00 EST on the day DST ends


def test_a_manual_run_without_logical_date_judges_by_when_it_was_due():
    due = dt.datetime(2026, 11, 2, 12, 30, tzinfo=dt.UTC)
    assert run_as_of({"logical_date": None, "dag_run": Run(due)}) == due


def test_a_context_with_neither_is_an_error_that_says_so():
    with pytest.raises(ValueError, match="neither a logical_date nor a dag_run.run_after"):
        run_as_of({"logical_date": None})
