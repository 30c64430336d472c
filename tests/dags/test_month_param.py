"""The monthly DAGs' `month` form field: one rule (YYYY-MM, or empty for the month before the run)."""

from __future__ import annotations

import copy

import pytest

from tests.dagrun import load_dag

MONTHLY = ("availability_report", "incident_sla_report", "support_invoicing")


@pytest.fixture(scope="module", params=MONTHLY)
def dag(request):
    return load_dag(request.param)


@pytest.fixture
def month(dag):
    return copy.deepcopy(dag.params.get_param("month"))  # resolve() keeps the value it checked


@pytest.mark.parametrize("value", [None, "", "2026-10", "2026-01", "2026-12"])
def test_a_month_or_nothing_is_accepted(month, value):
    assert month.resolve(value) == value


@pytest.mark.parametrize("value", ["2026/10", "2026-13", "2026-00", "2026-1", "26-10", "2026-10-01", " 2026-10"])
def test_anything_else_is_refused_in_the_form(month, value):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        month.resolve(value)


def test_defaults_to_the_month_before_the_run_and_is_labelled(dag, month):
    assert dag.params.dump()["month"] is None
    assert month.schema["title"] == "Month (YYYY-MM)" and month.description
