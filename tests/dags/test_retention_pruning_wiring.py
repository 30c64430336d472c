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


def test_deletions_run_mapped_per_database_in_the_rds_pool_after_the_plan():
    dag = load_dag("retention_pruning")
    delete = dag.get_task("delete_snapshots")
    assert delete.pool == "rds_api"
    assert "rds_api" in json.loads((ROOT / "include" / "pools.json").read_text())
    assert dag.get_task("plan").task_id in delete.upstream_task_ids
    report = dag.get_task("report")
    assert {"apply_settings", "delete_snapshots"} <= report.upstream_task_ids
    # the report runs whatever happened upstream, so a half-finished run still leaves its audit
    assert str(report.trigger_rule) in ("all_done", "TriggerRule.ALL_DONE")
    assert dag.max_active_runs == 1  # two pruning runs at once would race for the same snapshots
