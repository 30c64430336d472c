"""Every scenario seeds every month: 28-, 29-, 30- and 31-day months, both DST months, a leap
February, a 1st on every weekday. Seeded in-process (no servers) for each month from 2026-01 to
2028-12; for each, the facts the reports depend on must fall inside that month."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from sandbox.scenarios.incidents import SPECIAL
from sandbox.server import seed_month

MONTHS = [dt.date(y, m, 1) for y in (2026, 2027, 2028) for m in range(1, 13)]
UTC = dt.UTC


def _next(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _dst_days(first: dt.date, tz) -> list[dt.date]:
    days, day = [], first
    while day < _next(first):
        lo = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        hi = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        if lo.utcoffset() != hi.utcoffset():
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def test_the_months_cover_every_kind_of_month():
    lengths = {(_next(m) - m).days for m in MONTHS}
    assert lengths == {28, 29, 30, 31}
    assert {m.weekday() for m in MONTHS} == set(range(7))
    assert dt.date(2028, 2, 1) in MONTHS  # a leap February


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """month -> (ctx, facts read back from the stores), seeded once per month."""
    out = {}
    for month in MONTHS:
        state = tmp_path_factory.mktemp(f"seed-{month:%Y-%m}")
        # The sandbox's "now": early on the 2nd of the next month, when the monthly jobs have run.
        now = dt.datetime.combine(_next(month) + dt.timedelta(days=1), dt.time(6), tzinfo=UTC)
        ctx = seed_month(month, state, now, seed=20251126)
        s3 = ctx.aws_client("s3", ctx.estate.aws.region)
        bucket = ctx.estate.reports_bucket
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for o in page.get("Contents", [])]

        def body(key, s3=s3, bucket=bucket):
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

        windows = {json.loads(body(k))["id"]: json.loads(body(k)) for k in keys
                   if k.startswith("maintenance/windows/")}
        bad_rows = list(csv.reader(io.StringIO(body(f"timesheets/{month:%Y-%m}/bad-rows.csv").decode())))
        incidents = {i["title"]: i for i in ctx.pagerduty.incidents.values()}
        out[month] = (ctx, keys, windows, bad_rows, incidents)
    return out


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize("month", MONTHS, ids=lambda m: f"{m:%Y-%m}")
def test_special_incidents_are_inside_the_month(seeded, month):
    ctx, _keys, _windows, _rows, incidents = seeded[month]
    bounds = ctx.contract_bounds  # the month the incident report counts (ET by default)
    start, end = bounds.start, bounds.end
    last_day = _next(month) - dt.timedelta(days=1)
    for title, *_ in SPECIAL:
        created = _instant(incidents[title]["created_at"])
        assert start <= created < end, (title, created)
    last = _instant(incidents["[last-day] API latency above threshold"]["created_at"])
    assert last.astimezone(bounds.tz).date() == last_day
    assert incidents["[open] Nightly export intermittently slow"]["status"] != "resolved"
    assert _instant(incidents["Late September incident"]["created_at"]) < start
    assert _instant(incidents["Early November incident"]["created_at"]) >= end


@pytest.mark.parametrize("month", MONTHS, ids=lambda m: f"{m:%Y-%m}")
def test_maintenance_windows_and_the_dst_day(seeded, month):
    ctx, _keys, windows, _rows, _incidents = seeded[month]
    tz = ctx.plan.timezone
    for wid in ("mw-sbx-qualifying", "mw-sbx-short-notice", "mw-sbx-overrun", "mw-sbx-cancelled"):
        assert ctx.start <= _instant(windows[wid]["start"]) < ctx.end, wid
    assert windows["mw-sbx-cancelled"]["status"] == "cancelled"
    notice = _instant(windows["mw-sbx-short-notice"]["start"]) - _instant(windows["mw-sbx-short-notice"]["announced_at"])
    assert notice == dt.timedelta(hours=47)
    dst = _dst_days(month, tz)
    dst_windows = sorted(w for w in windows if w.startswith("mw-sbx-dst-"))
    assert dst_windows == [f"mw-sbx-dst-{d.day:02d}" for d in dst]
    for day, wid in zip(dst, dst_windows, strict=True):
        assert _instant(windows[wid]["start"]).astimezone(tz).date() == day
        # The short-notice window never shares the DST day (its qualifying window would hide it).
        assert _instant(windows["mw-sbx-short-notice"]["start"]).astimezone(tz).date() != day
    assert bool(dst) == (month.month in (3, 11))


@pytest.mark.parametrize("month", MONTHS, ids=lambda m: f"{m:%Y-%m}")
def test_timesheets_tier_change_and_releases(seeded, month):
    ctx, keys, _windows, bad_rows, _incidents = seeded[month]
    tz = ctx.plan.timezone
    folder = f"timesheets/{month:%Y-%m}/"
    assert f"{folder}bad-shape.csv" in keys
    assert len([k for k in keys if k.startswith(folder)]) >= 4
    by_id = {r[0]: r for r in bad_rows}
    assert {"bad-0001", "bad-0002", "bad-0003", "bad-0004", "bad-0005", "bad-0006", "bad-0007",
            "bad-0010"} <= set(by_id)
    for entry in ("bad-0001", "bad-0004", "bad-0005", "bad-0007", "bad-0010"):
        started = dt.datetime.fromisoformat(by_id[entry][3]).astimezone(tz).date()
        assert month <= started < _next(month), entry
    assert dt.datetime.fromisoformat(by_id["bad-0006"][3]).year == month.year + 1
    changing = [c for c in ctx.estate.clients if c.tier_changes]
    assert changing and all(month < ch.effective < _next(month) for c in changing for ch in c.tier_changes)
    last_day = _next(month) - dt.timedelta(days=1)
    releases = ctx.estate.pagerduty.releases
    assert any(r <= month for r in releases) and any(r > last_day for r in releases)
    assert all(r.weekday() == 1 for r in releases)


@pytest.mark.parametrize("month", MONTHS, ids=lambda m: f"{m:%Y-%m}")
def test_the_key_metrics_stretches_are_inside_the_month(seeded, month):
    from sandbox.scenarios.metrics import design

    ctx = seeded[month][0]
    for name, (lo, hi) in design(ctx).items():
        assert ctx.contract_bounds.start <= lo < hi <= ctx.contract_bounds.end, (name, lo, hi)
