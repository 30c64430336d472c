"""The month the sandbox seeds and the month every monthly DAG judges come from one function
(`report_month`), for any run date: the first and last minute of every month of a year, and
a leap year's February."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.domain.periods import report_month

from sandbox.__main__ import parse_args, reference_month_for


def _instants() -> list[dt.datetime]:
    out = []
    for year, month in [(2027, m) for m in range(1, 13)] + [(2028, 2), (2028, 3)]:
        first = dt.date(year, month, 1)
        last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        out += [dt.datetime.combine(first, dt.time(0, 0), tzinfo=dt.UTC),
                dt.datetime.combine(last, dt.time(23, 59, 59), tzinfo=dt.UTC)]
    return out


@pytest.mark.parametrize("now", _instants(), ids=lambda d: d.strftime("%Y-%m-%dT%H:%M"))
def test_sandbox_seeds_the_month_a_run_at_now_reports_on(now):
    # An independent oracle: the calendar month before the run's UTC date.
    expected = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert reference_month_for(now) == expected
    assert report_month(now, None, now=now).first_day == expected


def test_the_cli_default_is_that_month():
    args = parse_args(["--now", "2027-03-01T00:00:00Z"])
    assert args.reference_month is None  # main() then takes reference_month_for(--now)
    assert reference_month_for(args.now) == dt.date(2027, 2, 1)
