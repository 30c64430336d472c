"""The "Report" extra link: a task that publishes a report links to it in the Airflow UI.

Against the sandbox, the link is read the way the UI reads it (the REST API's extra-links endpoint
after a real run) and opened the way a browser opens it. For a real account (no `endpoint_url`)
it is the S3 console page of the object, with bucket, region and key encoded.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from estate_ops.config import load_estate
from estate_ops.hooks.artifacts import ArtifactStore
from estate_ops.links import REPORT_URL_XCOM_KEY, main_report_key
from estate_ops.operators.preflight import PublishPreflightOperator

from tests.dagrun import run_dag, task_states
from tests.reports.test_render import REPORT
from tests.reports_bucket import read_bytes

DAY = dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC)
REPORT_KEY = "preflight/2026-11-02/report.html"


@pytest.fixture(scope="module")
def api(sandbox_session):
    """The REST API the UI calls (every user an admin, as `make ui`'s loopback login)."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
        env.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-only-" + "x" * 64)
        yield TestClient(create_app(apps="core"))


def ui_links(api, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
    got = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links")
    assert got.status_code == 200, got.text
    return got.json()["extra_links"]


def test_the_report_link_of_a_sandbox_run_opens_the_report(sandbox, api):
    run = run_dag("estate_preflight", DAY)
    assert run.state == "success", task_states(run)

    links = ui_links(api, "estate_preflight", run.run_id, "publish_report")
    bucket = load_estate().reports_bucket
    assert links == {"Report": f"{sandbox.aws_url}/{bucket}/{REPORT_KEY}"}
    opened = requests.get(links["Report"], timeout=10)
    assert opened.status_code == 200
    assert opened.headers["Content-Type"] == "text/html; charset=utf-8"  # a browser shows it
    assert opened.content == read_bytes(sandbox, REPORT_KEY)
    assert ui_links(api, "estate_preflight", run.run_id, "check_aws") == {}  # writes no report


class MemoryArtifactStore(ArtifactStore):
    """The reports bucket of an AWS account, with writes kept in memory (nothing leaves the test)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.objects: dict[str, bytes] = {}

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> bool:
        self.objects[key] = data
        return True


class FakeTI:
    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.mark.parametrize(("prefix", "region", "expected_prefix"), [
    ("preflight/2026-11-02", "us-east-1", "preflight/2026-11-02/report.html"),
    ("reviews/2026-10/Client A&B #1+2?", "eu-west-1", "reviews/2026-10/Client%20A%26B%20%231%2B2%3F/report.html"),
])
def test_for_a_real_account_the_link_is_the_s3_console_page(monkeypatch, prefix, region, expected_prefix):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_ACCOUNT", json.dumps({
        "conn_type": "aws", "login": "AKIAEXAMPLE", "password": "secret", "extra": {"region_name": region}}))
    store = MemoryArtifactStore("legacy-estate-ops-reports", aws_conn_id="aws_account", region_name=region)
    op = PublishPreflightOperator(task_id="publish_report", check_task_ids=[])
    ti = FakeTI()

    keys = op.publish_report({"ti": ti}, store, prefix, REPORT, pdf=True)

    url = ti.pushed[REPORT_URL_XCOM_KEY]
    assert url == (f"https://{region}.console.aws.amazon.com/s3/object/legacy-estate-ops-reports"
                   f"?region={region}&prefix={expected_prefix}")
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {"region": [region], "prefix": [f"{prefix}/report.html"]}
    assert f"{prefix}/report.html" in keys and f"{prefix}/report.pdf" in keys
    assert set(store.objects) == set(keys)


def test_a_task_run_without_a_task_instance_still_publishes(sandbox):
    store = ArtifactStore.for_estate(load_estate())
    op = PublishPreflightOperator(task_id="publish_report", check_task_ids=[])
    assert op.publish_report({}, store, "links/none", REPORT, pdf=False)[-1] == "links/none/report.html"


@pytest.mark.parametrize(("keys", "main"), [
    (["a/c.png", "a/report.json", "a/report.html", "a/report.pdf"], "a/report.html"),
    (["a/report.pdf", "a/report.json", "a/report.html"], "a/report.html"),
    (["a/report.json", "a/report.pdf"], "a/report.pdf"),
    (["a/report.json", "a/c.png"], None),
])
def test_the_link_opens_the_html_else_the_pdf(keys, main):
    assert main_report_key(keys) == main
