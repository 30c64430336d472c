"""Invariants of the monthly measurement, for arbitrary outages, gaps and windows (hypothesis).

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
from estate_ops.config import load_plan
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

UTC = dt.UTC
PLAN = load_plan()
ET = PLAN.timezone
MONTH = Month(2026, 2)  # 28 days: the smallest month keeps each example cheap
MINUTES = MONTH.minutes()
EPS = [Endpoint("hc-a", "api", True), Endpoint("hc-b", "web", True), Endpoint("hc-c", "docs", False)]

segment = st.tuples(st.integers(0, len(EPS) - 1), st.integers(0, MINUTES - 1), st.integers(1, 600),
                    st.sampled_from([0.0, np.nan]))
window_spec = st.tuples(st.integers(1, 28), st.integers(0, 23), st.integers(0, 59), st.integers(1, 600),
                        st.integers(0, 120), st.booleans())


def status_from(segments) -> pd.DataFrame:
    values = np.ones((MINUTES, len(EPS)))
    for col, start, length, value in segments:
        values[start:start + length, col] = value
    return pd.DataFrame(values, index=minute_index(MONTH), columns=[e.id for e in EPS])


def windows_from(specs) -> list[MaintenanceWindow]:
    out = []
    for i, (day, hour, minute, length, notice_hours, cancelled) in enumerate(specs):
        start = dt.datetime.combine(dt.date(2026, 2, day), dt.time(hour, minute), tzinfo=ET).astimezone(UTC)
        out.append(MaintenanceWindow(f"mw-{i}", start, start + dt.timedelta(minutes=length), "p",
                                     start - dt.timedelta(hours=notice_hours), "a@b.example",
                                     "cancelled" if cancelled else "scheduled"))
    return out


def run(status, windows):
    return build_availability_report(status, windows, PLAN, month=MONTH, endpoints=EPS)[0]


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(segment, max_size=12), st.lists(window_spec, max_size=5))
def test_states_add_up_to_the_month_for_every_endpoint(segments, specs):
    report = run(status_from(segments), windows_from(specs))
    for row in report["items"]["endpoints"]:
        total = row["up_minutes"] + row["down_minutes"] + row["maintenance_minutes"] + row["no_data_minutes"]
        assert total == MINUTES, row
    f = report["figures"]
    composite = (f["composite_up_minutes"]["value"] + f["composite_down_minutes"]["value"]
                 + f["composite_no_data_minutes"]["value"] + f["maintenance_excluded_minutes"]["value"])
    assert composite == MINUTES


@SETTINGS
@given(st.lists(segment, max_size=8), st.lists(window_spec, min_size=2, max_size=5), st.randoms())
def test_window_order_does_not_matter(segments, specs, rnd: random.Random):
    status = status_from(segments)
    windows = windows_from(specs)
    shuffled = windows[:]
    rnd.shuffle(shuffled)
    assert canonical_json(run(status, windows)) == canonical_json(run(status, shuffled))


def _availability(report) -> Decimal | None:
    return report["headline"]["composite_availability"]["value"]


@SETTINGS
@given(st.lists(segment, max_size=8), st.integers(1, 28), st.integers(0, 240), st.sampled_from([0.0, 1.0]))
def test_excluding_a_window_never_adds_downtime_nor_lowers_availability_when_it_holds_the_downtime(
        segments, day, down_minutes, rest):
    status = status_from(segments)
    start = dt.datetime.combine(dt.date(2026, 2, day), dt.time(2), tzinfo=ET).astimezone(UTC)
    end = start + dt.timedelta(hours=4)
    lo = int((start - MONTH.start()).total_seconds() // 60)
    # the window's own minutes: `down_minutes` down (critical api), the rest `rest`
    status.iloc[lo:lo + 240, 0] = rest
    status.iloc[lo:lo + down_minutes, 0] = 0.0
    qualifying = MaintenanceWindow("mw-q", start, end, "p", start - dt.timedelta(days=3), "a@b.example")
    late = MaintenanceWindow("mw-q", start, end, "p", start - dt.timedelta(hours=1), "a@b.example")
    with_exclusion, without = run(status, [qualifying]), run(status, [late])
    assert (with_exclusion["figures"]["counted_down_minutes"]["value"]
            <= without["figures"]["counted_down_minutes"]["value"])
    # composite state of the window's minutes vs the rest of the month, from the input itself
    crit = status[["hc-a", "hc-b"]].to_numpy()
    comp_down = (crit == 0).any(axis=1)
    comp_nodata = ~comp_down & np.isnan(crit).any(axis=1)
    inside = np.zeros(MINUTES, bool)
    inside[lo:lo + 240] = True

    def share_down(mask):
        d = np.count_nonzero(comp_down & mask)
        counted = np.count_nonzero(~comp_nodata & mask)
        return d / counted if counted else None

    a_with, a_without = _availability(with_exclusion), _availability(without)
    inside_share, outside_share = share_down(inside), share_down(~inside)
    if None not in (a_with, a_without, inside_share, outside_share) and inside_share >= outside_share:
        assert a_with >= a_without


def test_excluding_an_all_up_window_lowers_the_ratio_slightly_by_arithmetic():
    status = status_from([(0, 5000, 30, 0.0)])
    start = dt.datetime.combine(dt.date(2026, 2, 20), dt.time(2), tzinfo=ET).astimezone(UTC)
    qualifying = MaintenanceWindow("mw-q", start, start + dt.timedelta(hours=4), "p", start - dt.timedelta(days=3),
                                   "a@b.example")
    late = MaintenanceWindow("mw-q", start, start + dt.timedelta(hours=4), "p", start - dt.timedelta(hours=1),
                             "a@b.example")
    # 30 down of 40,320 vs 30 down of 40,080: the excluded hours were all up
    assert _availability(run(status, [qualifying])) < _availability(run(status, [late]))
    assert run(status, [qualifying])["figures"]["counted_down_minutes"]["value"] == 30
