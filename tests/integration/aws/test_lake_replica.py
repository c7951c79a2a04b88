"""Setup copies a replica of the real data lake (data/lake in the bucket's own layout) on moto's S3.

The replica holds every object the project reads at its lake key (Enigma's history gzip-compressed, as
the lake has it), a JSON Lines copy of Enigma's history under json/ (the lake keeps both formats), and
``archived/`` copies of everything (the lake keeps older copies there). A source run copies each object
once: the current key over its archived copy, Enigma's CSV over its JSON twin; a lake that holds a
dataset only under ``archived/`` is copied from there and read as the same dataset.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from covid_pipeline.adapters.aws.object_store import S3ObjectStore
from covid_pipeline.domain.setup import copy_source, publish_reference, raw_objects
from covid_pipeline.feeds import DATASETS, bundled_files
from tests.helpers import use_fake_aws

REGION = "us-east-2"
ROOT = Path(__file__).resolve().parents[3]
LAKE = ROOT / "data" / "lake"
ENIGMA = "enigma-jhu/csv/Enigma-JHU.csv"


def lake_objects() -> dict[str, bytes]:
    """Lake key -> bytes: data/lake as the bucket holds it."""
    objects = {}
    for path in sorted(LAKE.rglob("*")):
        key = path.relative_to(LAKE).as_posix()
        if path.is_file() and key != "SOURCES.md":
            objects[key] = path.read_bytes()
    objects[ENIGMA + ".gz"] = gzip.compress(objects.pop(ENIGMA), mtime=0)
    rows = csv.DictReader(io.StringIO((LAKE / ENIGMA).read_text()))
    objects["enigma-jhu/json/part-00000.json"] = "".join(json.dumps(r) + "\n" for r in rows).encode()
    return objects


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_fake_aws(monkeypatch)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("covid19-lake", "lake-archived-only", "raw"):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        for key, body in lake_objects().items():
            client.put_object(Bucket="covid19-lake", Key=key, Body=body)
            client.put_object(Bucket="covid19-lake", Key=f"archived/{key}", Body=body)
            client.put_object(Bucket="lake-archived-only", Key=f"archived/{key}", Body=body)
        client.put_object(Bucket="covid19-lake", Key="enigma-jhu/README.md", Body=b"not data")
        yield client


def _ports(client: Any) -> Any:
    return SimpleNamespace(store=S3ObjectStore(client), settings=SimpleNamespace(raw_uri="s3://raw/"))


def _feeds(ports: Any) -> dict[str, str]:
    """Raw key -> feed name of every object a full run of all datasets would read."""
    return {obj.uri.removeprefix("s3://raw/"): feed.name for obj, feed in raw_objects(ports, list(DATASETS))}


EXPECTED = {
    "enigma-jhu/csv/Enigma-JHU.csv.gz": "enigma_jhu",
    "enigma-nytimes-data-in-usa/csv/us_county/us_county.csv": "nyt_us_county",
    "enigma-nytimes-data-in-usa/csv/us_states/us_states.csv": "nyt_us_states",
    "rearc-covid-19-testing-data/csv/states_daily/states_daily.csv": "ctp_states_daily",
    "rearc-covid-19-testing-data/csv/us-total-latest/us.csv": "ctp_us_latest",
    "rearc-covid-19-testing-data/csv/us_daily/us_daily.csv": "ctp_us_daily",
    "rearc-usa-hospital-beds/json/usa-hospital-beds.geojson": "hospital_beds",
    "static-datasets/csv/CountyPopulation/County_Population.csv": "county_population",
    "static-datasets/csv/countrycode/CountryCodeQS.csv": "country_codes",
    "static-datasets/csv/state-abv/states_abv.csv": "state_abv",
}


def test_a_source_run_copies_each_lake_object_once(s3: Any) -> None:
    ports = _ports(s3)
    copied, unchanged, ignored = copy_source(ports, "s3://covid19-lake/", list(DATASETS))
    # 10 objects copied; left out: their 11 archived twins, Enigma's JSON twin (+ its archived one), the README.
    assert (copied, unchanged, ignored) == (len(EXPECTED), 0, len(EXPECTED) + 1 + 1 + 1)
    assert _feeds(ports) == EXPECTED
    copied_bytes = s3.get_object(Bucket="raw", Key="enigma-jhu/csv/Enigma-JHU.csv.gz")["Body"].read()
    assert gzip.decompress(copied_bytes) == (LAKE / ENIGMA).read_bytes()
    # A second run copies nothing: every object is the same version.
    assert copy_source(ports, "s3://covid19-lake/", list(DATASETS)) == (0, len(EXPECTED), len(EXPECTED) + 3)


def test_a_lake_holding_the_datasets_only_under_archived_is_read_as_the_same_datasets(s3: Any) -> None:
    ports = _ports(s3)
    copied, _, _ = copy_source(ports, "s3://lake-archived-only/", list(DATASETS))
    assert copied == len(EXPECTED)
    assert _feeds(ports) == {f"archived/{key}": feed for key, feed in EXPECTED.items()}


def test_the_reference_data_the_project_ships_is_published_once(s3: Any) -> None:
    ports = _ports(s3)
    assert publish_reference(ports) == len(bundled_files())
    assert publish_reference(ports) == 0  # same content, same ETag: not written again
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="raw", Prefix="reference/")["Contents"]]
    assert sorted(keys) == sorted(bundled_files())
