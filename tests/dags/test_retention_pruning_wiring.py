"""retention_pruning's wiring: the form, the order of steps, and deletions in the rds_api pool."""

from __future__ import annotations

import json

from devtools.localenv import ROOT
from tests.dagrun import load_dag


def test_the_form_has_dry_run_database_filter_and_confirm_over_cap_all_safe_by_default():
    dag = load_dag("retention_pruning")
    params = dag.params.dump()
    assert params == {"dry_run": False, "databases": "", "confirm_over_cap": False}
    for name in params:
        assert dag.params.get_param(name).schema.get("title"), name
        assert dag.params.get_param(name).description, name


def test_deletions_run_mapped_in_the_rds_pool_within_its_budget_after_the_plan():
    from estate_ops.operators.retention import PRUNE_TASKS, PRUNE_THREADS

    dag = load_dag("retention_pruning")
    delete = dag.get_task("delete_snapshots")
    assert delete.pool == "rds_api"
    pools = json.loads((ROOT / "include" / "pools.json").read_text())
    # each task holds one slot per database it deletes at once: all tasks together stay in the pool
    assert delete.partial_kwargs.get("pool_slots", getattr(delete, "pool_slots", 1)) == PRUNE_THREADS
    assert PRUNE_TASKS * PRUNE_THREADS <= pools["rds_api"]["slots"]
    assert dag.get_task("plan").task_id in delete.upstream_task_ids
    report = dag.get_task("report")
    assert {"apply_settings", "delete_snapshots"} <= report.upstream_task_ids
    # the report runs whatever happened upstream, so a half-finished run still leaves its audit
    assert str(report.trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")
    assert dag.max_active_runs == 1  # two pruning runs at once would race for the same snapshots
