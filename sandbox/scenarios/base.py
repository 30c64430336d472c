"""Base scenario: the estate named in estate.yaml, present and healthy, with no history.

Every id comes from the loaded estate; only what the estate does not name (on-call engineers,
VPC, hostnames) is defined here. The area scenarios add history (outages, incidents,
snapshots...) on top.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

from sandbox import PAGERDUTY_ROUTING_KEY
from sandbox.context import SeedContext

# The on-call engineers the schedules rotate through (the estate names only the escalation
# roles). Ids are the sandbox's own.
ENGINEERS = {
    "PUSRENG1": ("Avery Chen", "avery.chen@legacy.example"),
    "PUSRENG2": ("Blake Okafor", "blake.okafor@legacy.example"),
    "PUSRENG3": ("Casey Novak", "casey.novak@legacy.example"),
    "PUSRENG4": ("Devon Silva", "devon.silva@legacy.example"),
}
ROLE_PEOPLE = {
    "tech_lead": ("Morgan Reyes", "morgan.reyes@legacy.example", "Tech Lead"),
    "pm": ("Jordan Patel", "jordan.patel@legacy.example", "Project Manager"),
    "sponsor": ("Riley Thompson", "riley.thompson@legacy.example", "Executive Sponsor"),
}
# Weekly hand-off, Monday 09:00 in the schedules' time zone.
HANDOFF_WEEKDAY, HANDOFF_HOUR = 0, 9
SCHEDULE_TIME_ZONE = "America/New_York"
# Names as PagerDuty creates them by default: the account's "P1" is the contract's P0, which
# is exactly why estate.yaml maps priority ids explicitly.
PRIORITY_NAMES = ("P1", "P2", "P3", "P4", "P5")
UNMAPPED_PRIORITY_ID = "PPRIP05"
DB_PASSWORD = "sandbox-password"  # moto does not care; a real estate would use Secrets Manager
BACKUP_WINDOW = "03:00-03:30"
LOG_RETENTION_DAYS = 365
REPLICATION_ROLE = "arn:aws:iam::{account}:role/legacy-s3-replication"


def seed(ctx: SeedContext) -> None:
    _seed_s3(ctx)
    _seed_rds(ctx)
    _seed_logs(ctx)
    _seed_health_checks(ctx)
    _seed_pagerduty(ctx)
    _seed_slack(ctx)


def routing_key_for(index: int) -> str:
    """Events API routing key of the estate's index-th PagerDuty service (the first one's is
    the key in the sandbox's `pagerduty_events_default` connection)."""
    if index == 0:
        return PAGERDUTY_ROUTING_KEY
    return ("R0SANDBOX" + hashlib.sha1(str(index).encode()).hexdigest().upper())[:32]


# ---------------------------------------------------------------------- AWS


def _create_bucket(ctx: SeedContext, name: str, region: str) -> None:
    s3 = ctx.aws_client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})


def _seed_s3(ctx: SeedContext) -> None:
    region = ctx.estate.aws.region
    _create_bucket(ctx, ctx.estate.reports_bucket, region)
    _create_bucket(ctx, ctx.estate.logs.archive_bucket, region)
    s3 = ctx.aws_client("s3", region)
    for store in ctx.estate.documents:
        _create_bucket(ctx, store.bucket, region)
        _create_bucket(ctx, store.replica_bucket, store.replica_region)
        for bucket, bucket_region in ((store.bucket, region), (store.replica_bucket, store.replica_region)):
            ctx.aws_client("s3", bucket_region).put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(Bucket=store.bucket, ReplicationConfiguration={
            "Role": REPLICATION_ROLE.format(account=ctx.account_id),
            "Rules": [{
                "ID": f"replicate-to-{store.replica_region}",
                "Priority": 1,
                "Status": "Enabled",
                "Filter": {},
                "DeleteMarkerReplication": {"Status": "Enabled"},
                "Destination": {
                    "Bucket": f"arn:aws:s3:::{store.replica_bucket}",
                    # Replication Time Control: the 15-minute promise the plan relies on.
                    "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                    "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
                },
            }],
        })


def _latest_backup_time(now: dt.datetime) -> dt.datetime:
    """The most recent daily backup window start (03:00 UTC) at or before `now`."""
    start = now.replace(hour=3, minute=0, second=0, microsecond=0)
    return start if start <= now else start - dt.timedelta(days=1)


def _seed_rds(ctx: SeedContext) -> None:
    region = ctx.estate.aws.region
    ec2 = ctx.aws_client("ec2", region)
    rds = ctx.aws_client("rds", region)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{i}.0/24",
                          AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
        for i, zone in enumerate("ab", start=1)
    ]
    for group in sorted({db.drill_subnet_group for db in ctx.estate.databases}):
        rds.create_db_subnet_group(DBSubnetGroupName=group, SubnetIds=subnet_ids,
                                   DBSubnetGroupDescription=f"{group} (sandbox)")
    backend = ctx.moto_backend("rds", region)
    created_at = ctx.start - dt.timedelta(days=400)
    for db in ctx.estate.databases:
        rds.create_db_instance(
            DBInstanceIdentifier=db.id, Engine=db.engine, EngineVersion="16.4",
            DBInstanceClass="db.t3.medium", AllocatedStorage=50, MasterUsername="legacy",
            MasterUserPassword=DB_PASSWORD, DBName="legacy",
            DBSubnetGroupName=db.drill_subnet_group, BackupRetentionPeriod=30,
            PreferredBackupWindow=BACKUP_WINDOW, DeletionProtection=True,
            StorageEncrypted=True, MultiAZ=db.critical, CopyTagsToSnapshot=True,
            Tags=[{"Key": "estate", "Value": "legacy"},
                  {"Key": "critical", "Value": str(db.critical).lower()}])
        ctx.aws.set_db_instance_create_time(backend, db.id, created_at)
        # moto takes an automated snapshot at creation, stamped with the real clock: replace
        # it with the latest daily backup as of the sandbox's now.
        for snapshot_id in [sid for sid, snap in backend.database_snapshots.items()
                            if snap.db_instance_identifier == db.id]:
            del backend.database_snapshots[snapshot_id]
        ctx.aws.add_db_snapshot(backend, db.id, _latest_backup_time(ctx.now))


def _seed_logs(ctx: SeedContext) -> None:
    logs = ctx.aws_client("logs", ctx.estate.aws.region)
    for prefix in ctx.estate.logs.group_prefixes:
        name = prefix.rstrip("/") + "/application"
        logs.create_log_group(logGroupName=name, tags={"estate": "legacy"})
        logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)


def _seed_health_checks(ctx: SeedContext) -> None:
    route53 = ctx.aws_client("route53")
    backend = ctx.moto_backend("route53")
    for check in ctx.estate.route53_health_checks:
        created = route53.create_health_check(
            CallerReference=f"sandbox-{check.id}",
            HealthCheckConfig={
                "Type": "HTTPS", "FullyQualifiedDomainName": f"{check.name}.legacy.example",
                "Port": 443, "ResourcePath": "/health", "RequestInterval": 30,
                "FailureThreshold": 3, "MeasureLatency": True, "EnableSNI": True,
            })
        ctx.aws.rekey_health_check(backend, created["HealthCheck"]["Id"], check.id)
        route53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=check.id,
                                         AddTags=[{"Key": "Name", "Value": check.name}])


# ---------------------------------------------------------------------- PagerDuty & Slack


def rotation_start(ctx: SeedContext) -> dt.datetime:
    """A Monday-09:00-local hand-off well before any history a scenario writes."""
    zone = ZoneInfo(SCHEDULE_TIME_ZONE)
    local = (ctx.start - dt.timedelta(days=180)).astimezone(zone)
    local = local.replace(hour=HANDOFF_HOUR, minute=0, second=0, microsecond=0)
    local -= dt.timedelta(days=(local.weekday() - HANDOFF_WEEKDAY) % 7)
    return local.astimezone(dt.UTC)


def _seed_pagerduty(ctx: SeedContext) -> None:
    pd_settings, pd = ctx.estate.pagerduty, ctx.pagerduty
    for user_id, (name, email) in ENGINEERS.items():
        pd.add_user(user_id, name, email, job_title="Support Engineer", time_zone=SCHEDULE_TIME_ZONE)
    for role, user_id in pd_settings.escalation_roles.items():
        name, email, title = ROLE_PEOPLE.get(role, (role.replace("_", " ").title(),
                                                    f"{role}@legacy.example", role))
        pd.add_user(user_id, name, email, job_title=title, time_zone=SCHEDULE_TIME_ZONE,
                    role="admin" if role == "tech_lead" else "user")

    severity_order = sorted(pd_settings.priority_map.items(), key=lambda item: item[1])
    for order, (priority_id, severity) in enumerate(severity_order):
        terms = ctx.plan.severities[severity]
        pd.add_priority(priority_id, PRIORITY_NAMES[order], order=len(PRIORITY_NAMES) - order,
                        description=f"Contract {severity} - {terms.name}")
    if UNMAPPED_PRIORITY_ID not in pd_settings.priority_map and len(severity_order) < 5:
        pd.add_priority(UNMAPPED_PRIORITY_ID, PRIORITY_NAMES[len(severity_order)], order=1,
                        description="Not part of the contract (unmapped on purpose)")

    start = rotation_start(ctx)
    engineers = list(ENGINEERS)
    week = 7 * 24 * 3600
    pd.add_schedule(pd_settings.schedules.primary, "Legacy - Primary", [{
        "name": "Weekly primary", "start": start, "rotation_virtual_start": start,
        "rotation_turn_length_seconds": week, "users": engineers}],
        time_zone=SCHEDULE_TIME_ZONE, description="Primary on-call, rotates weekly (plan 3.1)")
    # The secondary runs the same cadence two places behind: never the primary's engineer.
    pd.add_schedule(pd_settings.schedules.secondary, "Legacy - Secondary", [{
        "name": "Weekly secondary", "start": start, "rotation_virtual_start": start,
        "rotation_turn_length_seconds": week, "users": engineers[2:] + engineers[:2]}],
        time_zone=SCHEDULE_TIME_ZONE, description="Backup engineer (plan 3.1)")

    role_targets = [[("user", pd_settings.escalation_roles[role])]
                    for role in ctx.plan.on_call.escalation if role in pd_settings.escalation_roles]
    pd.add_escalation_policy(pd_settings.escalation_policy, "Legacy - Escalation", [
        (30, [("schedule", pd_settings.schedules.primary)]),
        (30, [("schedule", pd_settings.schedules.secondary)]),
        *[(30, targets) for targets in role_targets],
    ], description="Primary -> Secondary -> Tech Lead -> PM -> Sponsor (plan 3.1)")

    for index, service in enumerate(pd_settings.services):
        pd.add_service(service.id, service.name, pd_settings.escalation_policy,
                       description=f"{service.name} (sandbox)",
                       created_at=ctx.start - dt.timedelta(days=400),
                       routing_key=routing_key_for(index))


def _seed_slack(ctx: SeedContext) -> None:
    ctx.slack.add_channel(ctx.estate.slack.channel, purpose="estate-ops findings (P2/P3)")
    ctx.slack.add_channel("#general", purpose="Company-wide announcements")
