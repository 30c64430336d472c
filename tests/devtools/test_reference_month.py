"""The month the sandbox seeds and the month every monthly DAG judges come from the project's own
rules (`settled_month`, over `report_month`), for any run date and both contract-month settings:
the first and last minutes of every month of a year, the 1st/2nd of each month (an ET month's last
UTC day is the 1st of the next), and a leap year's February."""

from __future__ import annotations

import datetime as dt

import pytest
from estate_ops.domain.periods import Month, report_month

from sandbox.__main__ import parse_args, reference_month_for
from tests.contract_month import CONTRACT_ZONES


def _instants() -> list[dt.datetime]:
    out = []
    for year, month in [(2027, m) for m in range(1, 13)] + [(2028, 2), (2028, 3)]:
        first = dt.date(year, month, 1)
        last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        out += [dt.datetime.combine(first, dt.time(0, 0), tzinfo=dt.UTC),
                dt.datetime.combine(first, dt.time(23, 59), tzinfo=dt.UTC),
                dt.datetime.combine(first + dt.timedelta(days=1), dt.time(0, 0), tzinfo=dt.UTC),
                dt.datetime.combine(last, dt.time(23, 59, 59), tzinfo=dt.UTC)]
    return out


def _oracle(now: dt.datetime, zone: str) -> dt.date:
    """Independent of the code: a UTC month is reportable once it has ended; an ET month ends at
    04:00 or 05:00 UTC on the 1st, so its last minutes are in the UTC day of the 1st, which has
    ended at 00:00 UTC on the 2nd."""
    previous = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if zone == "UTC" or now.day >= 2:
        return previous
    return (previous - dt.timedelta(days=1)).replace(day=1)


@pytest.fixture(params=CONTRACT_ZONES)
def zone(request, tmp_path, monkeypatch):
    """The shipped plan with `contract_month_timezone` set, as a file the sandbox loads."""
    from estate_ops.config import DEFAULT_PLAN_PATH

    text = DEFAULT_PLAN_PATH.read_text(encoding="utf-8")
    assert "contract_month_timezone: America/New_York" in text
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(text.replace("contract_month_timezone: America/New_York",
                                      f"contract_month_timezone: {request.param}"), encoding="utf-8")
    monkeypatch.setenv("ESTATE_OPS_PLAN", str(plan_file))
    return request.param


@pytest.mark.parametrize("now", _instants(), ids=lambda d: d.strftime("%Y-%m-%dT%H:%M"))
def test_sandbox_seeds_the_latest_month_every_report_can_be_made_for(zone, now):
    expected = _oracle(now, zone)
    assert reference_month_for(now) == expected
    # and the monthly DAGs' own default, the month before the run in the contract's zone, is
    # that month or the one after it (the one whose last UTC day is still going on)
    default = report_month(now, None, tz=zone, now=now)
    assert default.first_day in (expected, Month.of(expected).next().first_day)


def test_the_cli_default_is_that_month(zone):
    args = parse_args(["--now", "2027-03-02T00:00:00Z"])
    assert args.reference_month is None  # main() then takes reference_month_for(--now)
    assert reference_month_for(args.now) == dt.date(2027, 2, 1)
    midday_on_the_1st = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
    assert reference_month_for(midday_on_the_1st) == (dt.date(2027, 2, 1) if zone == "UTC" else dt.date(2027, 1, 1))
