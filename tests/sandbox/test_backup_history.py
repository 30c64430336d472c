"""The sandbox's backup history (sandbox/backup_history.py) for every month from 2026-01 to
2028-12: a verification report for each day of the contract month and a drill report for each
Sunday, at the keys the real runs write, every one on the month close's contract, and the same
bytes for the same seed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from estate_ops.config import load_config
from estate_ops.domain.periods import Month
from estate_ops.domain.reviews import (
    DAILY_SOURCES,
    check_contract,
    in_place,
    source_places,
)

from sandbox.backup_history import SHORT_FROM_END, STALE_DAY, month_history

MONTHS = [dt.date(y, m, 1) for y in (2026, 2027, 2028) for m in range(1, 13)]


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.mark.parametrize("first", MONTHS, ids=lambda d: f"{d:%Y-%m}")
def test_every_day_and_every_sunday_of_the_month(config, first):
    plan, estate = config
    month = Month.of(first)
    history = dict(month_history(plan, estate, first, seed=7))
    places = {p["kind"]: p for p in source_places(str(month)) if "prefix" in p}
    by_kind = {kind: sorted(k for k in history if in_place(places[kind], k)) for kind, _, _ in DAILY_SOURCES}
    assert by_kind["backups"] == [f"backups/{d}/verification.json" for d in month.days]
    sundays = [d for d in month.days if d.weekday() == 6]
    assert by_kind["drills"] == [f"backups/drills/{d}/drill.json" for d in sundays] and len(sundays) >= 4
    for kind in ("backups", "drills"):
        for key in by_kind[kind]:
            report = json.loads(history[key])
            check_contract(kind, report, source=key)  # what the month close reads them by
            assert key.split("/")[-2] == report["period"]["date"]
    for day in sundays:  # each drilled database beside the day's report, as restore_drill writes it
        assert {f"backups/drills/{day}/databases/{db.id}.json" for db in estate.databases} <= set(history)


@pytest.mark.parametrize("first", [dt.date(2026, 2, 1), dt.date(2028, 2, 1), dt.date(2026, 10, 1)],
                         ids=lambda d: f"{d:%Y-%m}")
def test_the_months_story_and_same_bytes(config, first):
    plan, estate = config
    history = month_history(plan, estate, first, seed=7)
    assert history == month_history(plan, estate, first, seed=7)
    days = {json.loads(b)["period"]["date"]: json.loads(b) for k, b in history if k.endswith("verification.json")}
    red = sorted(d for d, r in days.items() if r["headline"]["status"]["value"] != "green")
    month = Month.of(first)
    short = [str(d) for d in month.days[-SHORT_FROM_END:]]
    assert red == sorted({str(first.replace(day=STALE_DAY)), *short})
    assert {f["kind"] for f in days[short[-1]]["findings"]} == {"backup_retention_short"}  # open at the close
    drills = [json.loads(b) for k, b in history if k.endswith("/drill.json")]
    assert all(d["headline"]["databases_verified"]["value"] == f"{len(estate.databases)}/{len(estate.databases)}"
               and d["findings"] == [] for d in drills)  # inside the plan's RTO and RPO
