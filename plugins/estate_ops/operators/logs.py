"""CloudWatch Logs: daily verification that the estate's logs are kept for exactly the plan's year
(plan §4.1: logs continuous, 1 year), in CloudWatch and in the log archive bucket."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator


class VerifyLogRetentionOperator(BaseOperator):
    """Every log group under `prefix` retains exactly 365 days; none set (kept forever) is P3."""

    template_fields = ("prefix",)

    def __init__(self, *, prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.backups import LogGroupObservation, verify_log_groups
        from estate_ops.hooks.aws import access_denied_as_finding
        from estate_ops.hooks.logs import LogGroupsHook
        from estate_ops.operators import run_as_of

        plan, estate = load_config()
        as_of = run_as_of(context)
        hook = LogGroupsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        groups = None
        with access_denied_as_finding(estate.aws.conn_id, "logs:DescribeLogGroups") as call:
            groups = [LogGroupObservation(g["logGroupName"], g.get("retentionInDays"))
                      for g in hook.log_groups(self.prefix)]
        verdict = verify_log_groups(plan, self.prefix, groups, as_of.date(), error=call.error)
        failed = [c for c in verdict.checks if not c.ok]
        self.log.info("%s: %d check(s), %d failed", self.prefix, len(verdict.checks), len(failed))
        for check in failed:
            self.log.info("FAIL %s: %s", check.resource, check.detail)
        return verdict.as_dict()


class VerifyLogArchiveOperator(BaseOperator):
    """The log archive bucket expires objects at exactly the plan's 365 days."""

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.backups import verify_log_archive
        from estate_ops.hooks.aws import access_denied_as_finding
        from estate_ops.hooks.s3 import BucketsHook
        from estate_ops.operators import run_as_of

        plan, estate = load_config()
        bucket = estate.logs.archive_bucket
        as_of = run_as_of(context)
        hook = BucketsHook(aws_conn_id=estate.aws.conn_id, region_name=estate.aws.region)
        exists, rules = False, None
        with access_denied_as_finding(estate.aws.conn_id, "s3:ListBucket") as call:
            exists = hook.bucket_region(bucket) is not None
            if exists:
                call.action = "s3:GetLifecycleConfiguration"
                rules = hook.lifecycle_rules(bucket)
        verdict = verify_log_archive(plan, bucket, exists, rules, as_of.date(), error=call.error)
        for check in verdict.checks:
            self.log.info("%s %s: %s", "OK  " if check.ok else "FAIL", check.check, check.detail)
        return verdict.as_dict()
