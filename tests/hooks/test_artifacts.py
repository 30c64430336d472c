"""The reports bucket store against the sandbox's real S3 API (moto server mode)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from estate_ops.config import load_estate
from estate_ops.hooks.artifacts import ArtifactStore


@pytest.fixture
def store(sandbox):
    return ArtifactStore.for_estate(load_estate())


def _object(sandbox, key):
    s3 = sandbox.boto3_client("s3")
    return s3.head_object(Bucket=load_estate().reports_bucket, Key=key)


def test_same_bytes_are_not_written_twice(sandbox, store):
    assert store.put_json("test/a.json", {"b": Decimal("1.10"), "a": 1}) is True
    first = _object(sandbox, "test/a.json")
    assert store.put_json("test/a.json", {"a": 1, "b": Decimal("1.10")}) is False
    second = _object(sandbox, "test/a.json")
    assert (first["ETag"], first["LastModified"]) == (second["ETag"], second["LastModified"])
    assert store.get_json("test/a.json") == {"a": 1, "b": "1.10"}


def test_changed_bytes_are_written(store):
    store.put_bytes("test/b.csv", b"x\n1\n")
    assert store.put_bytes("test/b.csv", b"x\n2\n") is True
    assert store.get_bytes("test/b.csv") == b"x\n2\n"


def test_content_type_follows_the_key(sandbox, store):
    store.put_bytes("test/r.html", b"<html></html>")
    store.put_bytes("test/r.pdf", b"%PDF-1.4")
    assert _object(sandbox, "test/r.html")["ContentType"].startswith("text/html")
    assert _object(sandbox, "test/r.pdf")["ContentType"] == "application/pdf"


def test_put_if_absent_is_atomic_across_threads(store):
    winners = []

    def claim(n):
        if store.put_if_absent("test/numbers/INV-2026-0001", f"claimed by {n}".encode()):
            winners.append(n)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.get_bytes("test/numbers/INV-2026-0001") == f"claimed by {winners[0]}".encode()


def test_missing_key_names_bucket_and_key(store):
    with pytest.raises(KeyError, match=r"s3://.*/test/nothing.json does not exist"):
        store.get_bytes("test/nothing.json")
    assert store.exists("test/nothing.json") is False


def test_list_keys_follows_continuation_tokens(store):
    for i in range(1005):  # more than one ListObjectsV2 page of 1,000
        store.client.put_object(Bucket=store.bucket, Key=f"test/many/{i:04d}", Body=b"")
    keys = store.list_keys("test/many/")
    assert len(keys) == 1005 and keys[0] == "test/many/0000" and keys[-1] == "test/many/1004"
