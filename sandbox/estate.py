"""The sandbox's estate, dated for the month it seeds.

`include/estate.yaml` describes the sandbox estate, but two of its facts are calendar dates: a
client's tier change and the P3 release dates. Written for one month, they would put the tier
change outside any other month and run out of releases a few months on. So the sandbox writes
`<state-dir>/estate.yaml`: the estate it was given with those dates derived from the reference
month, by rules stated here, and every process that talks to this sandbox (the seeding, the
DAGs of `make demo`, the tests) reads that file through ESTATE_OPS_ESTATE.

- A tier change takes effect on day `TIER_CHANGE_DAY` of the reference month (every month has it).
- Releases fall on the second and fourth Tuesday of each month, from the month before the
  reference month to `RELEASE_MONTHS_AHEAD` months after it, so a P3 opened late in the month
  has a next release to be judged against.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from sandbox.timeutil import add_months

TIER_CHANGE_DAY = 16
RELEASE_MONTHS_AHEAD = 4
RELEASE_WEEKDAY = 1  # Tuesday
FILE_NAME = "estate.yaml"


def nth_weekday(first: dt.date, weekday: int, n: int) -> dt.date:
    """The n-th (1-based) `weekday` (Monday 0) of the month whose first day is `first`."""
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def release_dates(month: dt.date) -> list[dt.date]:
    """Second and fourth Tuesdays from the month before `month` to RELEASE_MONTHS_AHEAD after.
    (`add_months` keeps the day: 1 here, so it gives each month's first day.)"""
    return [nth_weekday(add_months(month, k), RELEASE_WEEKDAY, n)
            for k in range(-1, RELEASE_MONTHS_AHEAD + 1) for n in (2, 4)]


def dated_estate(data: dict, month: dt.date) -> dict:
    """A copy of the parsed estate mapping with its dated facts derived from `month` (day 1)."""
    data = yaml.safe_load(yaml.safe_dump(data))  # a deep copy of plain YAML data
    for client in data.get("clients") or []:
        for change in client.get("tier_changes") or []:
            change["effective"] = month.replace(day=TIER_CHANGE_DAY).isoformat()
    pagerduty = data.get("pagerduty")
    if isinstance(pagerduty, dict):
        pagerduty.pop("releases_file", None)
        pagerduty["releases"] = [d.isoformat() for d in release_dates(month)]
    return data


def write_dated_estate(source: Path, month: dt.date, state_dir: Path) -> Path:
    """Write `<state_dir>/estate.yaml`, `source` dated for `month`; returns its path.

    A source that is not a mapping is copied as it is, so the project's own loader reports it
    with its usual message (naming the file and key) when the sandbox loads the config."""
    text = source.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    target = state_dir / FILE_NAME
    state_dir.mkdir(parents=True, exist_ok=True)
    if not isinstance(data, dict):
        target.write_text(text, encoding="utf-8")
        return target
    header = (f"# Written by the sandbox from {source} for reference month {month:%Y-%m}\n"
              f"# (tier changes and release dates derived from that month: sandbox/estate.py).\n")
    body = yaml.safe_dump(dated_estate(data, month), sort_keys=False, allow_unicode=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(header + body, encoding="utf-8")
    tmp.replace(target)
    return target
