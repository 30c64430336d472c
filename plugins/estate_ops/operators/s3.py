"""S3 documents: daily verification that one document bucket replicates in real time and keeps
everything (plan §4.1: real-time replication, kept indefinitely). Thin: hooks -> domain."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

# How many of the newest objects are checked object by object (HEAD on the bucket and replica).
DEFAULT_SAMPLE_SIZE = 5


class VerifyDocumentReplicationOperator(BaseOperator):
    """Versioning on both sides, a covering replication rule with RTC, no deleting lifecycle
    rule, and the newest objects replicated. A missing bucket or AccessDenied is a finding."""

    template_fields = ("bucket",)

    def __init__(self, *, bucket: str, sample_size: int = DEFAULT_SAMPLE_SIZE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.sample_size = sample_size

    def execute(self, context: Any) -> dict[str, Any]:
        from estate_ops.config import load_config
        from estate_ops.domain.backups import BucketObservation, verify_documents
        from estate_ops.hooks.aws import access_denied_as_finding
        from estate_ops.operators import run_as_of

        plan, estate = load_config()
        store = next((d for d in estate.documents if d.bucket == self.bucket), None)
        if store is None:
            raise ValueError(f"bucket {self.bucket!r} is not a document bucket in estate.yaml documents; expected "
                             f"one of {[d.bucket for d in estate.documents]}")
        as_of = run_as_of(context)
        with access_denied_as_finding(estate.aws.conn_id, "s3:ListBucket") as call:
            obs = observe_document_store(store, estate, self.sample_size, call)
        if call.error is not None:
            obs = BucketObservation(store.bucket, store.replica_bucket, store.replica_region, exists=True,
                                    error=call.error)
        verdict = verify_documents(plan, obs, as_of, as_of.date())
        for check in verdict.checks:
            self.log.info("%s %s %s: %s", "OK  " if check.ok else "FAIL", check.resource, check.check, check.detail)
        return verdict.as_dict()


def observe_document_store(store: Any, estate: Any, sample_size: int, call: Any):
    """Everything verify_documents needs, read from S3. `call.action` (an `AwsCall`) names the IAM
    action of the call in flight, so an AccessDenied can say what the policy lacks."""
    from estate_ops.domain.backups import BucketObservation, ObjectSample
    from estate_ops.hooks.s3 import BucketsHook

    conn_id = estate.aws.conn_id
    main = BucketsHook(aws_conn_id=conn_id, region_name=estate.aws.region)
    call.action = "s3:ListBucket"
    region = main.bucket_region(store.bucket)
    if region is None:
        return BucketObservation(store.bucket, store.replica_bucket, store.replica_region, exists=False)
    if region != estate.aws.region:  # a bucket in another region answers best from there
        main = BucketsHook(aws_conn_id=conn_id, region_name=region)
    replica = BucketsHook(aws_conn_id=conn_id, region_name=store.replica_region)
    replica_region = replica.bucket_region(store.replica_bucket)
    replica_exists = replica_region is not None
    if replica_exists and replica_region != store.replica_region:
        replica = BucketsHook(aws_conn_id=conn_id, region_name=replica_region)

    call.action = "s3:GetBucketVersioning"
    versioning = main.versioning_status(store.bucket)
    replica_versioning = replica.versioning_status(store.replica_bucket) if replica_exists else None
    call.action = "s3:GetReplicationConfiguration"
    rules = main.replication_rules(store.bucket)
    call.action = "s3:GetLifecycleConfiguration"
    lifecycle = main.lifecycle_rules(store.bucket)
    replica_lifecycle = replica.lifecycle_rules(store.replica_bucket) if replica_exists else []

    call.action = "s3:ListBucket"
    samples = []
    for obj in main.newest_objects(store.bucket, sample_size):
        call.action = "s3:GetObject"
        head = main.head_version(store.bucket, obj["Key"])
        if head is None:  # deleted since the listing
            continue
        status = head.get("ReplicationStatus")
        version_id = head.get("VersionId")
        replica_has = None
        if status == "COMPLETED" and replica_exists:
            call.action = "s3:GetObjectVersion"
            # Replication keeps the version id: the replica must hold this very version.
            replica_has = replica.head_version(store.replica_bucket, obj["Key"], version_id) is not None
        samples.append(ObjectSample(obj["Key"], version_id, head["LastModified"], status, replica_has))
    return BucketObservation(
        store.bucket, store.replica_bucket, store.replica_region, exists=True,
        replica_exists=replica_exists, replica_region=replica_region, versioning=versioning,
        replica_versioning=replica_versioning, replication_rules=tuple(rules), lifecycle_rules=tuple(lifecycle),
        replica_lifecycle_rules=tuple(replica_lifecycle), samples=tuple(samples))
