"""The two contract-month settings every monthly computation is tested under (issue #21):
the plan's default (America/New_York calendar months) and `contract_month_timezone: UTC`."""

from __future__ import annotations

from estate_ops.config import Plan, load_plan

CONTRACT_ZONES = ("America/New_York", "UTC")


def plan_for(zone: str, plan: Plan | None = None) -> Plan:
    """The shipped plan (or `plan`) with its months counted in `zone`, validated like a file."""
    plan = plan or load_plan()
    info = plan.plan.model_dump() | {"contract_month_timezone": zone}
    return plan.model_copy(update={"plan": type(plan.plan).model_validate(info)})
