"""Invoicing scenario: a month of support time entries in the reports bucket (DESIGN.md §4).

`timesheets/<reference month>/<engineer>.csv`, one file per engineer, realistic entries for the
estate's clients:
- the first client on a tier with the fewest hours (northwind, Basic) stays under its hours and
  has one minor enhancement its tier does not include (out of scope);
- the client with a tier change (contoso, Standard -> Premium mid-month, rollover on) has feature
  work before the change (out of scope under Standard) and after it (in scope under Premium), and
  last month's timesheets leave it unused hours to roll over;
- the remaining client (fabrikam, Premium) goes over its hours;
- one engineer logs two overlapping entries (flagged, kept);
- an entry started late on the last day ET sits in the next month's folder (it still counts here),
  and one in this month's folder started on the last evening of the previous month ET (it does not).
`timesheets/<month>/bad-rows.csv` holds a bad row of every kind the validation rejects, plus an
identical repeat (dropped and noted). The non-UTF-8 and wrong-header files are made by the tests,
never seeded.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from sandbox.context import SeedContext

COLUMNS = ("entry_id", "client_id", "engineer", "started_at", "ended_at", "category", "ticket", "description")
ENGINEERS = ("avery.chen", "blake.okafor", "casey.novak", "devon.silva")
WORK = {
    "bug_fix": ["Fix failed login redirect after password reset", "Correct rounding in rent statements",
                "Repair broken CSV export of tenancy ledger", "Fix timezone bug in maintenance calendar",
                "Resolve duplicate notifications on lease renewal"],
    "monitoring": ["Weekly health review of API and web endpoints", "Investigate elevated 5xx rate alert",
                   "Review backup verification report", "Tune CloudWatch alarm thresholds"],
    "minor_enhancement": ["Add filter by property to arrears report", "New column in tenant export",
                          "Email template wording change", "Sort documents by upload date"],
    "feature_development": ["Build landlord portal statement download", "Implement bulk rent review workflow",
                            "Design integration with accounting system", "Prototype mobile inspection checklist"],
}


def _month_bounds(ctx: SeedContext) -> tuple[dt.date, dt.date]:
    first = ctx.reference_month
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt


def _previous(first: dt.date) -> dt.date:
    return dt.date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


class _Planner:
    """Non-overlapping working slots per engineer and day (08:30-19:00 ET)."""

    def __init__(self, rng, tz: ZoneInfo) -> None:
        self.rng = rng
        self.tz = tz
        self.cursor: dict[tuple[str, dt.date], dt.datetime] = {}
        self.counter: dict[str, int] = {}

    def entry(self, client: str, engineer: str, day: dt.date, minutes: int, category: str,
              prefix: str) -> list[str] | None:
        key = (engineer, day)
        start = self.cursor.get(key) or dt.datetime.combine(day, dt.time(8, 30), tzinfo=self.tz)
        start += dt.timedelta(minutes=self.rng.choice((0, 5, 10, 20, 30)))
        end = start + dt.timedelta(minutes=minutes)
        if end.time() > dt.time(19, 0) or end.date() != day:
            return None
        self.cursor[key] = end
        self.counter[prefix] = self.counter.get(prefix, 0) + 1
        entry_id = f"{prefix}-{self.counter[prefix]:04d}"
        ticket = f"{client[:3].upper()}-{self.rng.randint(100, 999)}"
        return [entry_id, client, engineer, start.isoformat(), end.isoformat(), category, ticket,
                self.rng.choice(WORK.get(category, ["Other work"]))]


def _workdays(first: dt.date, until: dt.date) -> list[dt.date]:
    days, day = [], first
    while day < until:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _fill(planner: _Planner, rows: dict[str, list[list[str]]], client: str, days: list[dt.date],
          hours: float, categories: list[str], prefix: str) -> None:
    """Entries of 20 min to 4 h (minutes not on the quarter, so rounding shows) up to `hours`."""
    rng = planner.rng
    logged = 0
    while logged < hours * 60:
        minutes = rng.choice((20, 35, 47, 60, 75, 95, 120, 150, 185, 240))
        engineer = rng.choice(ENGINEERS)
        row = planner.entry(client, engineer, rng.choice(days), minutes, rng.choice(categories), prefix)
        if row:
            rows.setdefault(engineer, []).append(row)
            logged += minutes


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def month_rows(ctx: SeedContext) -> dict[str, dict[str, list[list[str]]]]:
    """folder month (YYYY-MM) -> file name -> rows; deterministic for a seed."""
    tz = ctx.plan.timezone
    rng = ctx.rng()
    planner = _Planner(rng, tz)
    first, nxt = _month_bounds(ctx)
    prev = _previous(first)
    tiers = ctx.plan.tiers
    clients = {c.id: c for c in ctx.estate.clients}
    changing = next((c for c in ctx.estate.clients if c.tier_changes), None)
    smallest = min((c for c in ctx.estate.clients if c is not changing),
                   key=lambda c: tiers[c.tier].hours_per_month)
    others = [c for c in ctx.estate.clients if c is not changing and c is not smallest]
    days = _workdays(first, nxt)
    month = f"{first:%Y-%m}"
    rows: dict[str, list[list[str]]] = {}

    # Under its hours, with one piece of work its tier does not include.
    basic = tiers[smallest.tier]
    _fill(planner, rows, smallest.id, days, basic.hours_per_month * 0.65, sorted(basic.includes), "wk")
    extra = [c for c in ("minor_enhancement", "feature_development") if c not in basic.includes]
    if extra:
        row = planner.entry(smallest.id, ENGINEERS[0], days[3], 95, extra[0], "wk")
        if row:
            rows.setdefault(ENGINEERS[0], []).append(row)

    if changing:
        change_day = min(ch.effective for ch in changing.tier_changes)
        before = [d for d in days if d < change_day]
        after = [d for d in days if d >= change_day]
        old, new = tiers[changing.tier], tiers[changing.tier_on(change_day)]
        _fill(planner, rows, changing.id, before, old.hours_per_month * 0.35, sorted(old.includes), "wk")
        # Feature work before the upgrade is out of scope; after it, included.
        _fill(planner, rows, changing.id, before, 6, ["feature_development"], "wk")
        _fill(planner, rows, changing.id, after, new.hours_per_month * 0.3, sorted(new.includes), "wk")

    for client in others:
        tier = tiers[client.tier]
        _fill(planner, rows, client.id, days, tier.hours_per_month * 1.15, sorted(tier.includes), "wk")

    # Two overlapping entries of one engineer (e.g. a forgotten timer): flagged, kept.
    overlap_day = days[-3]
    engineer = ENGINEERS[2]
    start = dt.datetime.combine(overlap_day, dt.time(19, 15), tzinfo=tz)
    some_client = others[0].id if others else smallest.id
    rows.setdefault(engineer, []).append(["ov-0001", some_client, engineer, start.isoformat(),
                                          (start + dt.timedelta(minutes=90)).isoformat(), "monitoring",
                                          "OPS-311", "Overnight deployment watch"])
    rows[engineer].append(["ov-0002", some_client, engineer, (start + dt.timedelta(minutes=45)).isoformat(),
                           (start + dt.timedelta(minutes=120)).isoformat(), "bug_fix", "OPS-312",
                           "Hotfix during deployment watch"])
    # Started on the previous month's last evening ET: belongs to the previous month, not this one.
    late_prev = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(21, 0), tzinfo=tz)
    rows.setdefault(ENGINEERS[1], []).append(["bd-0001", smallest.id, ENGINEERS[1], late_prev.isoformat(),
                                              (late_prev + dt.timedelta(minutes=50)).isoformat(), "bug_fix",
                                              "NOR-101", "Late fix logged in the new month's sheet"])

    files: dict[str, dict[str, list[list[str]]]] = {month: {f"{e}.csv": r for e, r in rows.items()}}

    # The last evening of the month ET (already the next day in UTC), logged in the next month's folder.
    late = dt.datetime.combine(nxt - dt.timedelta(days=1), dt.time(22, 30), tzinfo=tz)
    files[f"{nxt:%Y-%m}"] = {f"{ENGINEERS[3]}.csv": [[
        "bd-0002", smallest.id, ENGINEERS[3], late.isoformat(), (late + dt.timedelta(minutes=40)).isoformat(),
        "monitoring", "NOR-102", "Month-end batch watch (counts in the month it started)"]]}

    # Last month: the rollover client used part of its hours, leaving some to roll over.
    if changing:
        prev_days = _workdays(prev, first)
        prev_tier = tiers[changing.tier_on(prev)]
        prev_rows: dict[str, list[list[str]]] = {}
        _fill(planner, prev_rows, changing.id, prev_days, prev_tier.hours_per_month * 0.7,
              sorted(prev_tier.includes), "pm")
        files[f"{prev:%Y-%m}"] = {f"{e}.csv": r for e, r in prev_rows.items()}

    files[month]["bad-rows.csv"] = _bad_rows(ctx, rows, days, clients, smallest.id, tz)
    return files


def _bad_rows(ctx: SeedContext, rows: dict[str, list[list[str]]], days: list[dt.date], clients: dict,
              client: str, tz: ZoneInfo) -> list[list[str]]:
    day = days[5]
    at = dt.datetime.combine(day, dt.time(10, 0), tzinfo=tz)
    iso = at.isoformat()
    hour = (at + dt.timedelta(hours=1)).isoformat()
    good = rows[ENGINEERS[0]][0]
    conflicting = [*good[:4], (dt.datetime.fromisoformat(good[4]) + dt.timedelta(minutes=30)).isoformat(), *good[5:]]
    future_year = at.replace(year=at.year + 1)
    return [
        ["bad-0001", client, "", iso, hour, "bug_fix", "NOR-201", "Missing engineer"],
        ["bad-0002", client, "avery.chen", "next tuesday 10am", hour, "bug_fix", "NOR-202", "Unparsable start"],
        ["bad-0003", client, "avery.chen", at.replace(tzinfo=None).isoformat(), hour, "bug_fix", "NOR-203",
         "Time without an offset"],
        ["bad-0004", client, "avery.chen", hour, iso, "bug_fix", "NOR-204", "End before start"],
        ["bad-0005", client, "avery.chen", iso, (at + dt.timedelta(hours=26)).isoformat(), "monitoring",
         "NOR-205", "Timer left running over the weekend"],
        ["bad-0006", client, "avery.chen", future_year.isoformat(),
         (future_year + dt.timedelta(hours=1)).isoformat(), "bug_fix", "NOR-206", "Year typed wrong (future)"],
        ["bad-0007", "initech", "avery.chen", iso, hour, "bug_fix", "INI-207", "Unknown client"],
        conflicting,  # same entry_id as a good row, different end: both rejected
        list(rows[ENGINEERS[1]][0]),  # an identical repeat of a good row: dropped once, noted
        ["bad-0010", client, "avery.chen", iso, "", "bug_fix", "NOR-210", "Missing end"],
    ]


def seed(ctx: SeedContext) -> None:
    s3 = ctx.aws_client("s3", ctx.estate.aws.region)
    for folder, files in month_rows(ctx).items():
        for name, rows in sorted(files.items()):
            s3.put_object(Bucket=ctx.estate.reports_bucket, Key=f"timesheets/{folder}/{name}", Body=_csv(rows),
                          ContentType="text/csv; charset=utf-8")
    # A row with an extra, unquoted comma (more fields than the header): rejected with its line.
    body = _csv(month_rows_extra_fields(ctx))
    s3.put_object(Bucket=ctx.estate.reports_bucket, Key=f"timesheets/{ctx.reference_month:%Y-%m}/bad-shape.csv",
                  Body=body, ContentType="text/csv; charset=utf-8")


def month_rows_extra_fields(ctx: SeedContext) -> list[list[str]]:
    tz = ctx.plan.timezone
    first, _ = _month_bounds(ctx)
    at = dt.datetime.combine(first + dt.timedelta(days=6), dt.time(14, 0), tzinfo=tz)
    client = ctx.estate.clients[0].id
    return [
        ["sh-0001", client, "blake.okafor", at.isoformat(), (at + dt.timedelta(minutes=30)).isoformat(),
         "bug_fix", "NOR-301", "Fixed header logo"],
        ["sh-0002", client, "blake.okafor", (at + dt.timedelta(hours=1)).isoformat(),
         (at + dt.timedelta(hours=2)).isoformat(), "bug_fix", "NOR-302", "Fixed footer", "and", "more"],
    ]
