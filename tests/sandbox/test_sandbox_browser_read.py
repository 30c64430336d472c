"""A browser opens an object of the sandbox's S3 (a task's Report link): an unsigned path-style GET
answers the stored bytes with their Content-Type; everything signed is untouched."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from estate_ops.config import load_estate

HTML = b"<!doctype html><title>r</title><p>5 &lt; 6</p>"


@pytest.fixture(scope="module")
def estate():
    return load_estate()


@pytest.mark.parametrize("key", ["links/2026-10/report.html", "links/a b/r&port #1.html"])
def test_a_browser_gets_an_object_with_its_content_type(sbx, estate, key):
    sbx.boto3_client("s3").put_object(Bucket=estate.reports_bucket, Key=key, Body=HTML,
                                      ContentType="text/html; charset=utf-8")
    url = f"{sbx.aws_url}/{estate.reports_bucket}/{quote(key)}"
    got = requests.get(url, timeout=10)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "attachment" not in got.headers.get("Content-Disposition", "")
    assert got.content == HTML
    assert requests.head(url, timeout=10).status_code == 200


def test_an_object_in_another_region_and_a_pdf(sbx, estate):
    store = estate.documents[0]
    s3 = sbx.boto3_client("s3", store.replica_region)
    s3.put_object(Bucket=store.replica_bucket, Key="links/r.pdf", Body=b"%PDF-1.4 x", ContentType="application/pdf")
    got = requests.get(f"{sbx.aws_url}/{store.replica_bucket}/links/r.pdf", timeout=10)
    assert (got.status_code, got.headers["Content-Type"], got.content) == (200, "application/pdf", b"%PDF-1.4 x")


def test_a_missing_object_is_not_found(sbx, estate):
    got = requests.get(f"{sbx.aws_url}/{estate.reports_bucket}/links/nothing.html", timeout=10)
    assert got.status_code == 404 and b"NoSuchKey" in got.content


@pytest.mark.parametrize(("method", "path", "query", "authorization", "served"), [
    ("GET", "/bucket/a/report.html", "", "", True),
    ("HEAD", "/bucket/report.pdf", "", "", True),
    ("PUT", "/bucket/a/report.html", "", "", False),
    ("DELETE", "/bucket/a/report.html", "", "", False),
    ("GET", "/bucket/a/report.html", "", "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request", False),
    ("GET", "/bucket/a/report.html", "X-Amz-Credential=x&X-Amz-Signature=y", "", False),
    ("GET", "/bucket", "", "", False),
    ("GET", "/bucket/", "list-type=2", "", False),
    ("GET", "/moto-api/data.json", "", "", False),
])
def test_only_unsigned_object_reads_are_served_as_the_account(method, path, query, authorization, served):
    from sandbox.aws import _is_browser_object_read

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    if authorization:
        environ["HTTP_AUTHORIZATION"] = authorization
    assert _is_browser_object_read(environ) is served
