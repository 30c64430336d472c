"""The day's pruning report is built from plan.json and the audit records only, and renders to HTML."""

from __future__ import annotations

import datetime as dt

from estate_ops.domain import retention as R
from estate_ops.reports.render import render_html

T = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)


def _plan_doc(refused=None, held=False):
    keep = {"snapshot_id": "k1", "db_id": "db-a", "created_at": "2026-10-30T04:00:00Z", "action": "keep",
            "reasons": ["newest_n", "within_retention"], "allocated_gib": 50}
    tagged = {**keep, "snapshot_id": "k2", "reasons": ["protect_tag"]}
    cands = [{"snapshot_id": f"c{i}", "db_id": "db-a", "created_at": "2026-09-01T04:00:00Z", "action": "delete",
              "reasons": ["older_than_retention"], "allocated_gib": 50} for i in range(3)]
    return {"day": "2026-11-02", "snapshots": [keep, tagged, *cands], "scope": {"databases": ["db-a", "db-b"]},
            "log_groups": [{"log_group": "/legacy/api"}],
            "gate": {"refused": refused or {}, "cap_breaches": ["6 deletions exceed the cap of 5 per run"] if held else [],
                     "held_by_cap": held}}


def _rec(target, result, seconds, kind="delete_db_snapshot", detail=""):
    action = {"action_id": R.action_id(kind, target), "kind": kind, "target": target, "db_id": "db-a", "why": "old"}
    return R.audit_record(action, result, T + dt.timedelta(seconds=seconds), detail, "run")


def test_a_retried_failure_that_later_succeeded_counts_once_as_deleted():
    records = [_rec("c0", "failed", 1, detail="throttled"), _rec("c0", "deleted", 5), _rec("c1", "deleted", 2),
               _rec("c2", "already_gone", 3), _rec("/legacy/api", "applied", 4, kind="put_log_retention")]
    report = R.build_report(_plan_doc(), records, [], plan_version="1.0.0", estate_name="Legacy")
    assert report["headline"]["snapshots_deleted"]["value"] == 2
    assert report["headline"]["actions_failed"]["value"] == 0
    assert [r["target"] for r in report["items"]["deleted"]] == ["c0", "c1"]
    assert report["figures"]["already_gone"]["value"] == 1 and report["figures"]["changes_applied"]["value"] == 1
    assert report["figures"]["allocated_storage_of_deleted"]["value"] == 100
    assert report["figures"]["protected_newest_n"]["value"] == 1
    assert report["figures"]["protected_protect_tag"]["value"] == 1
    assert report["figures"]["candidates"]["value"] == 3


def test_a_failure_not_followed_by_success_is_reported_failed_never_done():
    report = R.build_report(_plan_doc(), [_rec("c0", "failed", 1, detail="access denied")], [],
                            plan_version="1.0.0", estate_name="Legacy")
    assert report["headline"]["snapshots_deleted"]["value"] == 0
    assert [(r["target"], r["detail"]) for r in report["items"]["failed"]] == [("c0", "access denied")]


def test_refusals_and_a_held_cap_are_listed_with_why():
    report = R.build_report(_plan_doc({"db-b": "db-b: latest backup verification is not green"}, held=True), [],
                            [], plan_version="1.0.0", estate_name="Legacy")
    assert report["items"]["refused"] == [
        {"db_id": "db-b", "why": "db-b: latest backup verification is not green"},
        {"db_id": "(run)", "why": "6 deletions exceed the cap of 5 per run"}]
    text = R.slack_summary(report, dry_run=False)
    assert "refused 1 database(s)" in text and "(run): 6 deletions exceed the cap" in text
    assert "deleted 0 snapshot(s)" in text


def test_the_slack_summary_gives_totals_and_reasons():
    report = R.build_report(_plan_doc(), [_rec("c0", "deleted", 1)], [], plan_version="1.0.0", estate_name="L")
    text = R.slack_summary(report, dry_run=True)
    assert text.startswith("*Retention pruning 2026-11-02* (dry run)")
    assert "deleted 1 snapshot(s) (up to 50 GiB allocated)" in text
    assert "protected 2 (newest_n 1, protect_tag 1, within_retention 1)" in text


def test_the_html_report_escapes_and_shows_each_section():
    doc = _plan_doc({"db-b": "status <script>x</script>"})
    report = R.build_report(doc, [_rec("c0", "deleted", 1)], [], plan_version="1.0.0", estate_name="Legacy")
    html = render_html(report).decode()
    assert "&lt;script&gt;" in html and "<script>x" not in html
    for heading in ("Refused (1)", "Failed (0)", "Deleted (1)", "Protected (2)"):
        assert heading in html
    assert render_html(report) == render_html(report)


def test_the_slack_summary_escapes_refused_databases_and_reasons():
    from estate_ops.domain.retention import slack_summary

    report = {
        "period": {"date": "2026-11-02"},
        "headline": {"snapshots_deleted": {"value": 0}, "actions_failed": {"value": 0},
                     "snapshots_protected": {"value": 0}, "databases_refused": {"value": 1}},
        "figures": {"allocated_storage_of_deleted": {"value": 0}, "already_gone": {"value": 0},
                    "changes_applied": {"value": 0}},
        "items": {"refused": [{"db_id": "legacy-<@U123>", "why": "tag keep=<!here> & <https://evil|click>"}]},
    }
    text = slack_summary(report, dry_run=False)
    assert "• legacy-&lt;@U123&gt;: tag keep=&lt;!here&gt; &amp; &lt;https://evil|click&gt;" in text
    assert "<!here>" not in text and "<@U" not in text
