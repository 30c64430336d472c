"""ALB target groups as availability endpoints (plan §2.1 "Health checks: ALB, Route 53"): a minute
whose HealthyHostCount Minimum is 0 is down, one or more healthy hosts is up, a minute without a
datapoint is no data; mixed with Route 53 health checks the composite treats both alike. Expected
values are counted from the inputs with numpy, never from the code under test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from estate_ops.domain.availability import (
    ALB_TARGET_GROUP,
    ROUTE53,
    Endpoint,
    build_availability_report,
    health_day_from_series,
    health_parquet_bytes,
    minute_index,
    read_health_parquet,
)
from estate_ops.domain.periods import Month

from tests.contract_month import CONTRACT_ZONES, plan_for

UTC = dt.UTC
DAY = dt.date(2026, 10, 5)
START = dt.datetime(2026, 10, 5, tzinfo=UTC)
ALB_ID = "app/legacy-web/5d1c0a8f3e2b4c6d/targetgroup/legacy-api/7a3e9c1b5d2f4e6a"
KINDS = {"hc-a": ROUTE53, ALB_ID: ALB_TARGET_GROUP}


def minutes(values: dict[int, float]) -> tuple[list[dt.datetime], list[float]]:
    keys = sorted(values)
    return [START + dt.timedelta(minutes=m) for m in keys], [values[m] for m in keys]


def test_zero_healthy_hosts_is_down_any_healthy_host_is_up_and_no_datapoint_is_no_data():
    rng = np.random.default_rng(7)
    hosts = rng.integers(0, 4, 1440).astype(float)  # 0..3 healthy hosts a minute
    missing = set(rng.choice(1440, 100, replace=False).tolist())
    series = {(ALB_ID, "HealthyHostCount"): minutes({m: hosts[m] for m in range(1440) if m not in missing})}
    health = health_day_from_series(DAY, [ALB_ID], series, 60, kinds=KINDS)
    row = health.status[0]
    have = np.array([m not in missing for m in range(1440)])
    assert np.isnan(row[~have]).all()
    assert (row[have & (hosts == 0)] == 0).all()
    assert (row[have & (hosts >= 1)] == 1).all()
    assert health.minutes_with_data == 1440 - len(missing)
    assert np.isnan(health.percent_healthy).all()  # an ALB has no percent-healthy metric


def test_a_five_minute_bucket_whose_minimum_is_zero_is_five_down_minutes():
    stamps = [START + dt.timedelta(minutes=5 * i) for i in range(288)]
    values = [0.0 if i == 2 else 2.0 for i in range(288)]
    health = health_day_from_series(DAY, [ALB_ID], {(ALB_ID, "HealthyHostCount"): (stamps, values)}, 300,
                                    kinds=KINDS)
    row = health.status[0]
    assert (row[10:15] == 0).all() and int(np.count_nonzero(row == 0)) == 5
    assert int(np.count_nonzero(row == 1)) == 1435


def test_the_kind_names_the_status_metric():
    # a Route 53 series under an ALB endpoint's id is not its status (and the other way round)
    series = {(ALB_ID, "HealthCheckStatus"): minutes({0: 0.0}), ("hc-a", "HealthyHostCount"): minutes({0: 0.0})}
    health = health_day_from_series(DAY, ["hc-a", ALB_ID], series, 60, kinds=KINDS)
    assert np.isnan(health.status).all()


def test_mixed_day_round_trips_through_the_parquet():
    series = {("hc-a", "HealthCheckStatus"): minutes({m: float(m % 7 != 0) for m in range(0, 1440, 2)}),
              ("hc-a", "HealthCheckPercentageHealthy"): minutes({m: 66.7 for m in range(0, 1440, 2)}),
              (ALB_ID, "HealthyHostCount"): minutes({m: float(m % 5) for m in range(1, 1440, 3)})}
    health = health_day_from_series(DAY, ["hc-a", ALB_ID], series, 60, kinds=KINDS)
    back = read_health_parquet(health_parquet_bytes(health), DAY)
    assert back.check_ids == ("hc-a", ALB_ID)
    np.testing.assert_array_equal(back.status, health.status)
    np.testing.assert_array_equal(back.percent_healthy, health.percent_healthy)


def _mixed_month(zone: str, month: Month, seed: int):
    plan = plan_for(zone)
    index = minute_index(plan.month_bounds(month))
    rng = np.random.default_rng(seed)
    n = len(index)
    route53 = np.where(rng.random(n) < 0.002, 0.0, 1.0)
    hosts = rng.integers(1, 3, n).astype(float)  # one or two healthy hosts: up
    hosts[rng.random(n) < 0.003] = 0.0  # none: down
    alb = np.where(hosts >= 1, 1.0, 0.0)
    alb[rng.choice(n, 200, replace=False)] = np.nan  # ALB minutes without data
    status = pd.DataFrame({"hc-a": route53, ALB_ID: alb}, index=index)
    endpoints = [Endpoint("hc-a", "api", True), Endpoint(ALB_ID, "api-targets", True, ALB_TARGET_GROUP)]
    return plan, status, endpoints


@pytest.mark.parametrize("zone", CONTRACT_ZONES)
@pytest.mark.parametrize("month", [Month(2026, 2), Month(2026, 3), Month(2026, 10), Month(2026, 11)])
def test_mixed_endpoints_composite_counts_either_kind_down(zone, month):
    plan, status, endpoints = _mixed_month(zone, month, seed=month.month)
    rep, _ = build_availability_report(status, [], plan, month=month, endpoints=endpoints)
    r53, alb = status["hc-a"].to_numpy(), status[ALB_ID].to_numpy()
    any_down = (r53 == 0) | (alb == 0)
    # composite_rule any: down when either is down; no data when none is down and the ALB has none
    assert rep["figures"]["composite_down_minutes"]["value"] == int(np.count_nonzero(any_down))
    assert rep["figures"]["composite_no_data_minutes"]["value"] == int(np.count_nonzero(~any_down & np.isnan(alb)))
    rows = {e["endpoint"]: e for e in rep["items"]["endpoints"]}
    assert rows["api-targets"]["down_minutes"] == int(np.count_nonzero(alb == 0))
    assert rows["api-targets"]["no_data_minutes"] == 200
    assert rows["api-targets"]["kind"] == ALB_TARGET_GROUP and rows["api"]["kind"] == ROUTE53
    assert rows["api-targets"]["partial_outage_minutes"] is None  # no percent-healthy metric


def test_mixed_endpoints_with_composite_rule_all():
    month = Month(2026, 10)
    plan, status, endpoints = _mixed_month("UTC", month, seed=3)
    terms = plan.availability.model_copy(update={"composite_rule": "all"})
    plan = plan.model_copy(update={"availability": terms})
    rep, _ = build_availability_report(status, [], plan, month=month, endpoints=endpoints)
    r53, alb = status["hc-a"].to_numpy(), status[ALB_ID].to_numpy()
    assert rep["figures"]["composite_down_minutes"]["value"] == int(np.count_nonzero((r53 == 0) & (alb == 0)))
