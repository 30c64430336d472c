"""reviews.*: the month close for 200 clients, against moto in-process (`mock_aws`, no HTTP), in
a child process so the mock and the generated estate stay there.

The reports bucket holds a month as the jobs leave it: the availability, incident and key-metrics
reports, a backup verification for every day and a drill report for every Sunday (built by
sandbox/backup_history.py, the domain's own functions), and for each client an issued invoice with
its ledger record. `ServiceReviewOperator.execute` runs as Airflow would (the Slack summary is
not sent: no Slack here). Figures:

- reviews.s3_gets / reviews.s3_gets_minimum: GetObject calls made, and the minimum: each source
  report once per run (3 monthly + one per day + one per drill + one invoice per client), plus
  each client's ledger record (how the current invoice is found, hooks/ledgers.py). Goal: made ==
  minimum. reviews.max_gets_of_one_object: goal 1 (nothing is read once per client).
- reviews.s3_lists: ListObjectsV2 calls (one per daily prefix, the ledger, the windows).
- reviews.wall_seconds / cpu_seconds: the operator for the 200 clients with the PDF printing
  stubbed (WeasyPrint's ~1 s a review would be 200 s of a shared machine's time);
  reviews.pdf_seconds_per_review: median of 3 real prints of one review, and
  reviews.projected_wall_seconds: wall + 200 x that.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import record
from devtools.localenv import ROOT

CLIENTS = 200
MONTH = "2026-10"

_CHILD = r'''
import collections, datetime as dt, json, os, statistics, sys, tempfile, time
sys.path[:0] = [ROOT, ROOT + "/plugins"]
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                   "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "login": "testing", "password": "testing",
                                                           "extra": {"region_name": "us-east-1"}})})
import boto3, botocore.client, yaml
from moto import mock_aws

calls, gets = collections.Counter(), collections.Counter()
counting = False
original = botocore.client.BaseClient._make_api_call
def counted(self, operation, params):
    if counting:
        calls[operation] += 1
        if operation == "GetObject":
            gets[params["Key"]] += 1
    return original(self, operation, params)
botocore.client.BaseClient._make_api_call = counted

with mock_aws():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="bench-reports")
    s3.put_bucket_versioning(Bucket="bench-reports", VersioningConfiguration={"Status": "Enabled"})
    estate = yaml.safe_load(open(ROOT + "/include/estate.yaml"))
    tiers = ("basic", "standard", "premium")
    estate["clients"] = [{"id": f"client-{i:03d}", "name": f"Client {i} <Estates>", "address": "1 Main Street",
                          "tier": tiers[i % 3]} for i in range(CLIENTS)]
    estate["reports_bucket"] = "bench-reports"
    path = tempfile.mktemp(suffix=".yaml")
    open(path, "w").write(yaml.safe_dump(estate))
    os.environ["ESTATE_OPS_ESTATE"] = path

    from estate_ops.config import load_config
    from estate_ops.domain.periods import Month
    from estate_ops.domain.serialize import canonical_json
    from sandbox.backup_history import month_history

    plan, est = load_config()
    month = Month.parse(MONTH)
    bounds = plan.month_bounds(month).as_dict()
    v = lambda x: {"value": x, "unit": ""}
    objects = {
        f"availability/{MONTH}/report.json": {"period": bounds, "headline": {"composite_availability": v("99.95"),
            "target": v("99.9"), "status": v("met")}, "figures": {"error_budget_allowed": v("44.6"),
            "error_budget_used": v("21"), "error_budget_exhausted_at": v(None)},
            "items": {"endpoints": [{"endpoint": "api", "availability_percent": "99.95", "down_minutes": 21,
                                     "meets_target": True}], "maintenance_windows": []}, "findings": []},
        f"incidents/{MONTH}/report.json": {"period": bounds, "headline": {"incidents": v(12), "breaches": v(1)},
            "items": {"per_severity": [{"severity": "P1", "incidents": 12, "met": 11, "breached": 1}],
                      "breaches": [], "postmortems": []}, "findings": []},
        f"metrics/{MONTH}/report.json": {"period": bounds, "headline": {"latency_p95_ms": v(412)}},
    }
    for i, client in enumerate(est.clients):
        number = f"INV-2026-{i + 1:04d}"
        objects[f"invoices/ledger/{MONTH}/{client.id}/invoice-1.json"] = {"number": number, "client_id": client.id}
        objects[f"invoices/{MONTH}/{client.id}/{number}.json"] = {
            "client_id": client.id, "number": number, "total": "1500.00", "currency": "USD",
            "hours": {"included": "20.00", "used": "12.50", "rollover": "0.00", "overage": "0.00", "out_of_scope": "0.00"}}
    history = month_history(plan, est, month.first_day, seed=1)
    for key, data in [(k, canonical_json(o)) for k, o in objects.items()] + history:
        s3.put_object(Bucket="bench-reports", Key=key, Body=data)
    days = sum(k.endswith("/verification.json") for k, _ in history)
    drills = sum(k.endswith("/drill.json") for k, _ in history)

    from estate_ops.alerting import SeverityRouter
    from estate_ops.reports import render
    from estate_ops.operators.reviews import ServiceReviewOperator
    SeverityRouter.post_slack_once = lambda self, *a, **k: True  # no Slack in the benchmark
    real_pdf = render.render_pdf
    render.render_pdf = lambda report, charts=None: b"%PDF-1.7 stub\n"
    op = ServiceReviewOperator(task_id="service_review")
    context = {"logical_date": dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC), "params": {"month": MONTH}}
    counting = True
    started, cpu_started = time.perf_counter(), time.process_time()
    result = op.execute(context)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    counting = False
    review = json.loads(s3.get_object(Bucket="bench-reports", Key=f"reviews/{MONTH}/client-000/review.json")["Body"].read())
    prints = []
    for _ in range(3):
        t = time.perf_counter(); real_pdf(review, {}); prints.append(time.perf_counter() - t)
    minimum = 3 + days + drills + 2 * CLIENTS
    print(json.dumps({"gets": calls["GetObject"], "minimum": minimum, "max_gets": max(gets.values()),
                      "lists": calls["ListObjectsV2"], "by_operation": dict(calls), "wall": wall, "cpu": cpu,
                      "pdf": statistics.median(prints), "complete": result["complete"], "reviews": result["reviews"],
                      "days": days, "drills": drills}))
'''


def run() -> list[dict]:
    code = f"ROOT = {str(ROOT)!r}\nCLIENTS = {CLIENTS}\nMONTH = {MONTH!r}\n" + _CHILD
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"reviews benchmark child failed:\n{result.stderr[-4000:]}")
    f = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"   S3 calls by operation: {f['by_operation']}")
    print(f"   {f['reviews']} reviews, {f['complete']} complete; {f['days']} verification days, {f['drills']} drills")
    return [
        record("reviews.s3_gets", f["gets"], "GETs", f"== {f['minimum']}", f["gets"] == f["minimum"]),
        record("reviews.s3_gets_minimum", f["minimum"], "GETs"),
        record("reviews.max_gets_of_one_object", f["max_gets"], "GETs", "== 1", f["max_gets"] == 1),
        record("reviews.s3_lists", f["lists"], "calls"),
        record("reviews.complete", f["complete"], "reviews", f"== {CLIENTS}", f["complete"] == CLIENTS),
        record("reviews.wall_seconds", round(f["wall"], 2), "s"),
        record("reviews.cpu_seconds", round(f["cpu"], 2), "s"),
        record("reviews.pdf_seconds_per_review", round(f["pdf"], 2), "s"),
        record("reviews.projected_wall_seconds", round(f["wall"] + CLIENTS * f["pdf"], 1), "s"),
    ]


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
