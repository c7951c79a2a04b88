"""Setup's copies of the source into the raw zone, on moto's S3: big objects are copied once, and marked.

The managed transfer copies an object above its 8 MB multipart threshold in parts; S3 then gives
the copy a multipart ETag ("<hex>-<parts>") that never equals the source's. Judged by ETags alone,
every source run re-copied the big files (and fired "Object Created" again). Each copy records its
source's ETag in its metadata, which Setup compares and by which the trigger tells copies from uploads.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from covid_pipeline.adapters.aws.object_store import S3ObjectStore
from covid_pipeline.domain.setup import copy_source
from tests.helpers import use_fake_aws

REGION = "us-east-2"
KEY = "enigma-nytimes-data-in-usa/csv/us_county/us_county.csv"
BIG = b"date,county,state,fips,cases,deaths\n" + b"2020-04-01,Autauga,Alabama,01001,1,0\n" * 260_000  # ~9.9 MB


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_fake_aws(monkeypatch)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("source", "raw"):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        client.put_object(Bucket="source", Key=KEY, Body=BIG)
        yield client


def _ports(client: Any) -> Any:
    return SimpleNamespace(store=S3ObjectStore(client), settings=SimpleNamespace(raw_uri="s3://raw/"))


def test_a_big_copy_gets_another_etag_but_records_its_sources(s3: Any) -> None:
    assert len(BIG) > 8 * 1024 * 1024  # above the transfer manager's multipart threshold
    store = S3ObjectStore(s3)
    source = store.head(f"s3://source/{KEY}")
    copied = store.copy(f"s3://source/{KEY}", f"s3://raw/{KEY}")
    assert source is not None
    assert copied.etag != source.etag
    assert "-" in copied.etag
    assert copied.source_etag == source.etag


def test_a_second_source_run_does_not_copy_a_big_object_again(s3: Any) -> None:
    ports = _ports(s3)
    assert copy_source(ports, "s3://source/", ["enigma-nytimes-data-in-usa"]) == (1, 0, 0)
    versions = s3.list_object_versions(Bucket="raw").get("Versions", [])
    assert copy_source(ports, "s3://source/", ["enigma-nytimes-data-in-usa"]) == (0, 1, 0)
    assert s3.list_object_versions(Bucket="raw").get("Versions", []) == versions  # no new object, no new event


def test_a_changed_source_is_copied_again(s3: Any) -> None:
    ports = _ports(s3)
    copy_source(ports, "s3://source/", ["enigma-nytimes-data-in-usa"])
    s3.put_object(Bucket="source", Key=KEY, Body=BIG + b"2020-04-02,Autauga,Alabama,01001,2,0\n")
    assert copy_source(ports, "s3://source/", ["enigma-nytimes-data-in-usa"]) == (1, 0, 0)


def test_an_upload_is_not_taken_for_a_copy(s3: Any) -> None:
    s3.put_object(Bucket="raw", Key=KEY, Body=b"date,county\n")
    info = S3ObjectStore(s3).head(f"s3://raw/{KEY}")
    assert info is not None
    assert info.source_etag is None
