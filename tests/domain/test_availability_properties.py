"""Invariants of the monthly measurement, for arbitrary outages, gaps and windows (hypothesis),
under both contract-month settings (ET months, where this March has 44,580 minutes, and UTC).

- up + down + maintenance + no data = month minutes, for every endpoint;
- the order of the windows does not change a byte of the report;
- excluding a window never adds counted downtime, and never lowers availability when the
  window's own minutes are no more available than the rest of the month. (Excluding a window
  with *no* downtime in it does lower up/(up+down) slightly: the denominator shrinks. That is
  arithmetic, not a bug; the last test pins it down.)
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from estate_ops.domain.availability import (
    Endpoint,
    build_availability_report,
    minute_index,
)
from estate_ops.domain.maintenance import MaintenanceWindow
from estate_ops.domain.periods import Month
from estate_ops.domain.serialize import canonical_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contract_month import CONTRACT_ZONES, plan_for

UTC = dt.UTC
PLANS = {zone: plan_for(zone) for zone in CONTRACT_ZONES}
ET = PLANS["UTC"].timezone  # maintenance hours are ET under either setting
MONTH = Month(2026, 3)  # the spring-forward month: an ET day of 23 hours
MAX_MINUTES = MONTH.minutes(UTC)
EPS = [Endpoint("hc-a", "api", True), Endpoint("hc-b", "web", True), Endpoint("hc-c", "docs", False)]

segment = st.tuples(st.integers(0, len(EPS) - 1), st.integers(0, MAX_MINUTES - 1), st.integers(1, 600),
                    st.sampled_from([0.0, np.nan]))
window_spec = st.tuples(st.integers(1, 31), st.integers(0, 23), st.integers(0, 59), st.integers(1, 600),
                        st.integers(0, 120), st.booleans())


def status_from(segments, plan) -> pd.DataFrame:
    index = minute_index(plan.month_bounds(MONTH))
    values = np.ones((len(index), len(EPS)))
    for col, start, length, value in segments:
        values[start:start + length, col] = value
    return pd.DataFrame(values, index=index, columns=[e.id for e in EPS])


def windows_from(specs) -> list[MaintenanceWindow]:
    out = []
    for i, (day, hour, minute, length, notice_hours, cancelled) in enumerate(specs):
        start = dt.datetime.combine(dt.date(2026, 3, day), dt.time(hour, minute), tzinfo=ET).astimezone(UTC)
        out.append(MaintenanceWindow(f"mw-{i}", start, start + dt.timedelta(minutes=length), "p",
                                     start - dt.timedelta(hours=notice_hours), "a@b.example",
                                     "cancelled" if cancelled else "scheduled"))
    return out


def run(status, windows, plan):
    return build_availability_report(status, windows, plan, month=MONTH, endpoints=EPS)[0]


zones = pytest.mark.parametrize("zone", CONTRACT_ZONES)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@zones
@SETTINGS
@given(st.lists(segment, max_size=12), st.lists(window_spec, max_size=5))
def test_states_add_up_to_the_month_for_every_endpoint(zone, segments, specs):
    plan = PLANS[zone]
    minutes = plan.month_bounds(MONTH).minutes
    assert minutes == {"UTC": 44_640, "America/New_York": 44_580}[zone]
    report = run(status_from(segments, plan), windows_from(specs), plan)
    assert report["inputs"]["month_minutes"] == minutes
    for row in report["items"]["endpoints"]:
        total = row["up_minutes"] + row["down_minutes"] + row["maintenance_minutes"] + row["no_data_minutes"]
        assert total == minutes, row
    f = report["figures"]
    composite = (f["composite_up_minutes"]["value"] + f["composite_down_minutes"]["value"]
                 + f["composite_no_data_minutes"]["value"] + f["maintenance_excluded_minutes"]["value"])
    assert composite == minutes
    # the daily rows are the month's days in the contract's zone, and add up to the month
    assert [r["day"] for r in report["items"]["error_budget_by_day"]] == MONTH.days
    assert sum(r["down_minutes"] for r in report["items"]["error_budget_by_day"]) == \
        report["figures"]["counted_down_minutes"]["value"]


@zones
@SETTINGS
@given(st.lists(segment, max_size=8), st.lists(window_spec, min_size=2, max_size=5), st.randoms())
def test_window_order_does_not_matter(zone, segments, specs, rnd: random.Random):
    plan = PLANS[zone]
    status = status_from(segments, plan)
    windows = windows_from(specs)
    shuffled = windows[:]
    rnd.shuffle(shuffled)
    assert canonical_json(run(status, windows, plan)) == canonical_json(run(status, shuffled, plan))


def _availability(report) -> Decimal | None:
    return report["headline"]["composite_availability"]["value"]


@zones
@SETTINGS
@given(st.lists(segment, max_size=8), st.integers(1, 31), st.integers(0, 180), st.sampled_from([0.0, 1.0]))
def test_excluding_a_window_never_adds_downtime_nor_lowers_availability_when_it_holds_the_downtime(
        zone, segments, day, down_minutes, rest):
    plan = PLANS[zone]
    status = status_from(segments, plan)
    start = dt.datetime.combine(dt.date(2026, 3, day), dt.time(3), tzinfo=ET).astimezone(UTC)
    end = start + dt.timedelta(hours=3)  # 03:00-06:00 ET exists on every day, the DST day too
    lo = int((start - plan.month_bounds(MONTH).start).total_seconds() // 60)
    # the window's own minutes: `down_minutes` down (critical api), the rest `rest`
    status.iloc[lo:lo + 180, 0] = rest
    status.iloc[lo:lo + down_minutes, 0] = 0.0
    qualifying = MaintenanceWindow("mw-q", start, end, "p", start - dt.timedelta(days=3), "a@b.example")
    late = MaintenanceWindow("mw-q", start, end, "p", start - dt.timedelta(hours=1), "a@b.example")
    with_exclusion, without = run(status, [qualifying], plan), run(status, [late], plan)
    assert (with_exclusion["figures"]["counted_down_minutes"]["value"]
            <= without["figures"]["counted_down_minutes"]["value"])
    # composite state of the window's minutes vs the rest of the month, from the input itself
    crit = status[["hc-a", "hc-b"]].to_numpy()
    comp_down = (crit == 0).any(axis=1)
    comp_nodata = ~comp_down & np.isnan(crit).any(axis=1)
    inside = np.zeros(len(status), bool)
    inside[lo:lo + 180] = True

    def share_down(mask):
        d = np.count_nonzero(comp_down & mask)
        counted = np.count_nonzero(~comp_nodata & mask)
        return d / counted if counted else None

    a_with, a_without = _availability(with_exclusion), _availability(without)
    inside_share, outside_share = share_down(inside), share_down(~inside)
    if None not in (a_with, a_without, inside_share, outside_share) and inside_share >= outside_share:
        assert a_with >= a_without


@zones
def test_excluding_an_all_up_window_lowers_the_ratio_slightly_by_arithmetic(zone):
    plan = PLANS[zone]
    status = status_from([(0, 5000, 30, 0.0)], plan)
    start = dt.datetime.combine(dt.date(2026, 3, 20), dt.time(2), tzinfo=ET).astimezone(UTC)
    qualifying = MaintenanceWindow("mw-q", start, start + dt.timedelta(hours=4), "p", start - dt.timedelta(days=3),
                                   "a@b.example")
    late = MaintenanceWindow("mw-q", start, start + dt.timedelta(hours=4), "p", start - dt.timedelta(hours=1),
                             "a@b.example")
    # 30 down of the month's minutes vs 30 down of 240 fewer: the excluded hours were all up
    assert _availability(run(status, [qualifying], plan)) < _availability(run(status, [late], plan))
    assert run(status, [qualifying], plan)["figures"]["counted_down_minutes"]["value"] == 30
