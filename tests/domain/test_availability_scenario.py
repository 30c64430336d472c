"""The sandbox's availability scenario, measured by the domain for months other than the reference one:
it adds a qualifying window on the DST change day when the month has one (3 h excluded in
spring, 4 h in autumn), and its named events land where its table says, under both contract-month
settings (the sandbox's data grid is the UTC days; an ET month reads the day after too). No server
needed."""

from __future__ import annotations

import datetime as dt
import random
import types

import numpy as np
import pytest
from estate_ops.config import load_estate
from estate_ops.domain.availability import (
    Endpoint,
    HealthDay,
    build_availability_report,
    status_frame,
)
from estate_ops.domain.maintenance import MaintenanceWindow
from estate_ops.domain.periods import UTC, Month

from sandbox.scenarios.availability import build_month
from tests.contract_month import CONTRACT_ZONES, plan_for

zones = pytest.mark.parametrize("zone", CONTRACT_ZONES)


def context(month: Month, zone: str = "UTC"):
    start = month.start(UTC)
    return types.SimpleNamespace(reference_month=month.first_day, start=start, end=month.next().start(UTC),
                                 plan=plan_for(zone), estate=load_estate(),
                                 rng=lambda name=None: random.Random(f"1:{name or 'availability'}"))


def health_days(ctx, month: Month) -> dict:
    """The scenario's UTC days as the bucket holds them, and the healthy day after the month."""
    status, percent, _records = build_month(ctx)
    ids = tuple(h.id for h in ctx.estate.health_checks)
    days = {}
    for i, day in enumerate([*month.days, month.next().first_day]):
        rows = slice(i * 1440, (i + 1) * 1440)
        st_, pc = (status[rows].T.copy(), percent[rows].T.copy()) if i < len(month.days) else \
            (np.ones((len(ids), 1440)), np.full((len(ids), 1440), 100.0))
        days[day] = HealthDay(day, ids, st_, pc, np.full(len(ids), 60, dtype=np.int32))
    return days


def measure(month: Month, zone: str = "UTC"):
    ctx = context(month, zone)
    _status, _percent, records = build_month(ctx)
    eps = [Endpoint(h.id, h.name, h.critical) for h in ctx.estate.health_checks]
    frame, _ = status_frame(ctx.plan.month_bounds(month), eps, health_days(ctx, month))
    windows = [MaintenanceWindow.from_record(r) for r in records]
    return build_availability_report(frame, windows, ctx.plan, month=month, endpoints=eps)[0]


@zones
@pytest.mark.parametrize(("month", "dst_id", "excluded"), [(Month(2026, 3), "mw-sbx-dst-08", 180),
                                                            (Month(2026, 11), "mw-sbx-dst-01", 240)])
def test_dst_day_window_in_months_that_have_one(zone, month, dst_id, excluded):
    rows = {w["id"]: w for w in measure(month, zone)["items"]["maintenance_windows"]}
    assert rows[dst_id]["qualifies"] == "yes"
    assert rows[dst_id]["excluded_minutes"] == excluded


@zones
def test_reference_month_has_no_dst_window_and_the_planned_events(zone):
    report = measure(Month(2026, 10), zone)
    rows = {w["id"]: w for w in report["items"]["maintenance_windows"]}
    assert not [w for w in rows if w.startswith("mw-sbx-dst")]
    assert {k: rows[k]["qualifies"] for k in rows} == {"mw-sbx-qualifying": "yes", "mw-sbx-short-notice": "no",
                                                       "mw-sbx-overrun": "partly", "mw-sbx-cancelled": "no"}
    outage = [d for d in report["items"]["downtime"] if d["endpoint"] == "api" and d["minutes"] == 30]
    assert outage[0]["start"] == dt.datetime(2026, 10, 7, 14, tzinfo=dt.UTC)
    docs = next(e for e in report["items"]["endpoints"] if e["endpoint"] == "documents")
    assert docs["no_data_minutes"] == 120 and docs["down_minutes"] == 0


def test_the_documented_recompute_recipe_runs_on_a_bucket_copy(tmp_path, monkeypatch, capsys):
    """The module docstring's recipe (quoted in the README) gives the report's own figures."""
    import re

    from estate_ops.domain import availability
    from estate_ops.domain.availability import health_parquet_bytes
    from estate_ops.domain.serialize import canonical_json

    month = Month(2026, 10)
    ctx = context(month, "America/New_York")  # the shipped plan's setting, which the recipe loads
    _status, _percent, records = build_month(ctx)
    for day, health in health_days(ctx, month).items():
        path = tmp_path / "reports" / f"health/date={day}/health.parquet"
        path.parent.mkdir(parents=True)
        path.write_bytes(health_parquet_bytes(health))
    (tmp_path / "reports/maintenance/windows").mkdir(parents=True)
    for record in records:
        (tmp_path / f"reports/maintenance/windows/{record['id']}.json").write_bytes(canonical_json(record))
    recipe = re.search(r"::\n\n(.*?)\n\nA day absent", availability.__doc__, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile("\n".join(line[4:] for line in recipe.splitlines()), "recipe", "exec"), scope)  # noqa: S102
    expected = measure(month, "America/New_York")
    assert scope["report"]["period"]["start"] == dt.datetime(2026, 10, 1, 4, tzinfo=UTC)
    assert scope["report"]["headline"] == expected["headline"]
    assert scope["report"]["figures"]["error_budget_used"] == expected["figures"]["error_budget_used"]
    out = capsys.readouterr().out
    assert "2026-10: 2026-10-01 00:00 to 2026-11-01 00:00 America/New_York" in out  # says which month
    assert str(expected["headline"]["composite_availability"]["value"]) in out
