"""The AWS adapters against moto's in-process AWS, plus botocore Stubber/before-send where moto falls short.

Credentials are fake and set per test; no test can reach a real account.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from covid_pipeline.adapters.aws.catalog import GlueCatalog
from covid_pipeline.adapters.aws.notifier import MESSAGE_MAX_BYTES, SUBJECT_MAX_CHARS, SnsNotifier
from covid_pipeline.adapters.aws.object_store import S3ObjectStore
from covid_pipeline.domain.staging_sql import OVERFLOW_PARAMETER, header_columns
from covid_pipeline.ports import CatalogColumn, CrawlerBusy, CrawlState, ObjectNotFound, PipelineError
from tests.helpers import use_fake_aws

REGION = "us-east-2"
ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/crawler"


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fake_aws(monkeypatch)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def make_bucket(name: str) -> None:
    boto3.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


@pytest.fixture
def store(aws: None) -> S3ObjectStore:
    make_bucket("raw")
    make_bucket("lake")
    return S3ObjectStore()


# -- S3 ------------------------------------------------------------------------


def test_put_list_head_get_round_trip(store: S3ObjectStore) -> None:
    put = store.put_bytes("s3://lake/a/1.txt", b"one")
    store.put_bytes("s3://lake/a/b/2.txt", b"two")
    store.put_bytes("s3://lake/a/10.txt", b"ten")
    store.put_bytes("s3://lake/c.txt", b"three")
    # ETag without S3's quotes: the same value the local adapter computes (md5 of "one").
    assert put.etag == "f97c5d29941bfb1b2fdab0874906ab82"
    assert [o.uri for o in store.list("s3://lake/a/")] == [
        "s3://lake/a/1.txt",
        "s3://lake/a/10.txt",
        "s3://lake/a/b/2.txt",
    ]
    # A prefix without "/" is a folder or a single object, never a character prefix (matches the local adapter).
    assert [o.uri for o in store.list("s3://lake/a/1.txt")] == ["s3://lake/a/1.txt"]
    assert [o.uri for o in store.list("s3://lake/a/b")] == ["s3://lake/a/b/2.txt"]
    assert store.head("s3://lake/a/1.txt") == put
    assert store.get_bytes("s3://lake/a/b/2.txt") == b"two"
    assert store.get_bytes("s3://lake/c.txt", max_bytes=2) == b"th"


def test_missing_objects(store: S3ObjectStore) -> None:
    assert store.head("s3://lake/missing.csv") is None
    with pytest.raises(ObjectNotFound, match=re.escape("s3://lake/missing.csv")):
        store.get_bytes("s3://lake/missing.csv")
    with pytest.raises(ObjectNotFound, match=re.escape("s3://lake/missing.csv")):
        store.copy("s3://lake/missing.csv", "s3://raw/x.csv")
    assert list(store.list("s3://lake/nothing/")) == []


def test_empty_object_and_ranged_read(store: S3ObjectStore) -> None:
    # S3 answers InvalidRange for a range on an empty object; the port returns b"" like the local adapter.
    store.put_bytes("s3://lake/empty.csv", b"")
    assert store.get_bytes("s3://lake/empty.csv", max_bytes=10) == b""
    assert store.get_bytes("s3://lake/empty.csv") == b""


def test_put_refuses_folder_keys(store: S3ObjectStore) -> None:
    with pytest.raises(PipelineError, match="not an object key"):
        store.put_bytes("s3://lake/folder/", b"x")
    with pytest.raises(PipelineError, match="escape"):
        store.put_bytes("s3://lake/a/../b", b"x")


def test_copy_between_buckets(store: S3ObjectStore) -> None:
    src = store.put_bytes("s3://raw/enigma-jhu/csv/01-22-2020.csv", b"Province/State,Confirmed\n")
    info = store.copy(src.uri, "s3://lake/copy/01-22-2020.csv")
    assert info.uri == "s3://lake/copy/01-22-2020.csv"
    assert (info.size, info.etag) == (src.size, src.etag)
    assert store.get_bytes(info.uri) == b"Province/State,Confirmed\n"
    assert store.head(src.uri) is not None  # a copy, not a move


def test_list_paginates_and_delete_prefix_batches(store: S3ObjectStore) -> None:
    client = boto3.client("s3")
    for i in range(1100):
        client.put_object(Bucket="lake", Key=f"many/{i:05d}.txt", Body=b"x")
    client.put_object(Bucket="lake", Key="keep/0.txt", Body=b"x")
    listed = [o.uri for o in store.list("s3://lake/many/")]
    assert len(listed) == 1100  # more than one page of 1000
    assert listed == sorted(listed)

    delete_calls: list[int] = []
    store.client.meta.events.register(
        "before-call.s3.DeleteObjects",
        lambda params, **_: delete_calls.append(params["body"].count(b"<Key>")),
    )
    assert store.delete_prefix("s3://lake/many/") == 1100
    assert delete_calls == [1000, 100]  # DeleteObjects takes at most 1000 keys
    assert list(store.list("s3://lake/many/")) == []
    assert [o.uri for o in store.list("s3://lake/")] == ["s3://lake/keep/0.txt"]
    assert store.delete_prefix("s3://lake/many/") == 0


def test_ensure_bucket(store: S3ObjectStore) -> None:
    store.ensure_bucket("s3://raw/anything/")  # exists: no error
    with pytest.raises(PipelineError, match="bucket not-there does not exist"):
        store.ensure_bucket("s3://not-there/x")
    # Never created by code: still missing afterwards.
    assert "not-there" not in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_default_client_uses_adaptive_retries() -> None:
    retries = S3ObjectStore().client.meta.config.retries
    assert retries["mode"] == "adaptive"
    # botocore's retries["max_attempts"] counts retries; the first call comes on top.
    assert retries["total_max_attempts"] == 11


class _RawBody(io.BytesIO):
    """The raw HTTP body botocore parses (``stream()`` is what it reads)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def test_throttling_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """SlowDown, then success: the adapter's own client retries through botocore's real retry path.

    Stubber cannot show this (it answers before the retry handler runs), so the HTTP layer is
    replaced at ``before-send`` instead; no mock_aws, so this hook is the only responder.
    """
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # keep the test fast
    store = S3ObjectStore()
    attempts: list[str] = []
    slow_down = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    )

    def fake_http(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.url)
        if len(attempts) == 1:
            return AWSResponse(request.url, 503, {}, _RawBody(slow_down))
        headers = {"ETag": '"abc"', "Content-Length": "5"}
        return AWSResponse(request.url, 200, headers, _RawBody(b"hello"))

    store.client.meta.events.register("before-send.s3.GetObject", fake_http)
    assert store.get_bytes("s3://lake/x.csv") == b"hello"
    assert len(attempts) == 2


def test_other_client_errors_carry_aws_message() -> None:
    client = boto3.client("s3", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_client_error("get_object", "AccessDenied", "Access Denied by bucket policy", 403)
        with pytest.raises(
            PipelineError, match=re.escape("s3://lake/x.csv: AccessDenied: Access Denied by bucket policy")
        ):
            S3ObjectStore(client).get_bytes("s3://lake/x.csv")


# -- Glue ----------------------------------------------------------------------


@pytest.fixture
def glue(aws: None) -> Any:
    client = boto3.client("glue")
    client.create_database(DatabaseInput={"Name": "raw_db"})
    client.create_crawler(
        Name="raw-crawler", Role=ROLE, DatabaseName="raw_db", Targets={"S3Targets": [{"Path": "s3://raw/"}]}
    )
    return client


def test_start_crawler_twice_is_busy(glue: Any) -> None:
    """moto models RUNNING after StartCrawler and refuses a second start with CrawlerRunningException."""
    catalog = GlueCatalog()
    assert catalog.start_crawler("raw-crawler") == "STARTED"
    assert catalog.crawler_state("raw-crawler").state == "RUNNING"
    assert not catalog.crawler_state("raw-crawler").finished
    with pytest.raises(CrawlerBusy, match="raw-crawler"):
        catalog.start_crawler("raw-crawler")


def test_start_unknown_crawler(glue: Any) -> None:
    with pytest.raises(PipelineError, match="no crawler named 'nope'") as info:
        GlueCatalog().start_crawler("nope")
    assert not isinstance(info.value, CrawlerBusy)


def test_crawler_state_before_any_crawl(glue: Any) -> None:
    assert GlueCatalog().crawler_state("raw-crawler") == CrawlState("READY", None, None)


def test_crawler_state_surfaces_failed_last_crawl() -> None:
    """moto never fails a crawl, so Glue's answer for one is stubbed (shape-validated by botocore)."""
    client = boto3.client("glue", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response(
            "get_crawler",
            {
                "Crawler": {
                    "Name": "raw-crawler",
                    "State": "READY",
                    "LastCrawl": {"Status": "FAILED", "ErrorMessage": "Insufficient Lake Formation permission(s)"},
                }
            },
            {"Name": "raw-crawler"},
        )
        state = GlueCatalog(glue_client=client).crawler_state("raw-crawler")
    assert state == CrawlState("READY", "FAILED", "Insufficient Lake Formation permission(s)")
    assert state.finished


def _create_table(glue: Any, name: str, location: str, partitions: tuple[str, ...] = ()) -> None:
    glue.create_table(
        DatabaseName="raw_db",
        TableInput={
            "Name": name,
            "StorageDescriptor": {
                "Columns": [{"Name": "province/state", "Type": "string"}, {"Name": "confirmed", "Type": "bigint"}],
                "Location": location,
            },
            "PartitionKeys": [{"Name": p, "Type": "string"} for p in partitions],
            "Parameters": {"classification": "csv", "feed": "spoofed"},
        },
    )


def test_tables_map_objects_to_feeds(glue: Any) -> None:
    make_bucket("raw")
    s3 = boto3.client("s3")
    for key in (
        "enigma-jhu/csv/01-22-2020.csv",
        "enigma-jhu/csv/01-23-2020.csv",
        "enigma-jhu/csv/README.txt",  # under the location but of no feed: not listed
        "static-datasets/csv/jhu-uid-lookup/uid.csv",
        "static-datasets/csv/state-fips/fips.csv",
        "misc/notes.csv",
    ):
        s3.put_object(Bucket="raw", Key=key, Body=b"a,b\n1,2\n")
    _create_table(glue, "jhu", "s3://raw/enigma-jhu/csv/", partitions=("partition_0",))
    _create_table(glue, "jhu_one_file", "s3://raw/enigma-jhu/csv/01-23-2020.csv")
    _create_table(glue, "mixed", "s3://raw/static-datasets/csv/")  # two feeds: skipped
    _create_table(glue, "unknown", "s3://raw/misc/")  # no feed: skipped

    tables = {t.name: t for t in GlueCatalog().tables("raw_db")}

    assert sorted(tables) == ["jhu", "jhu_one_file"]
    jhu = tables["jhu"]
    assert jhu.database == "raw_db"
    assert jhu.location == "s3://raw/enigma-jhu/csv/"
    assert jhu.objects == ("s3://raw/enigma-jhu/csv/01-22-2020.csv", "s3://raw/enigma-jhu/csv/01-23-2020.csv")
    assert jhu.columns == (
        CatalogColumn("province/state", "string"),
        CatalogColumn("confirmed", "bigint"),
        CatalogColumn("partition_0", "string"),
    )
    # The feed is derived from the objects, overriding whatever the table parameters say.
    assert jhu.parameters["feed"] == "jhu_daily"
    assert jhu.parameters["classification"] == "csv"
    assert tables["jhu_one_file"].objects == ("s3://raw/enigma-jhu/csv/01-23-2020.csv",)


def _glue_table(glue: Any, name: str) -> dict[str, Any]:
    return glue.get_table(DatabaseName="raw_db", Name=name)["Table"]


def test_json_lines_tables_get_text_columns_and_ignore_malformed_json(glue: Any) -> None:
    glue.create_table(
        DatabaseName="raw_db",
        TableInput={
            "Name": "beds",
            "StorageDescriptor": {
                "Columns": [{"Name": "objectid", "Type": "int"}, {"Name": "latitude", "Type": "double"}],
                "Location": "s3://raw/rearc-usa-hospital-beds/json/",
                "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
            },
            "Parameters": {"classification": "json"},
        },
    )
    catalog = GlueCatalog()
    assert catalog.prepare_raw_tables("raw_db") == ["beds"]
    beds = _glue_table(glue, "beds")
    assert beds["StorageDescriptor"]["Columns"] == [
        {"Name": "objectid", "Type": "string"},
        {"Name": "latitude", "Type": "string"},
    ]
    assert beds["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"ignore.malformed.json": "true"}
    assert OVERFLOW_PARAMETER not in beds["Parameters"]  # read by key names: nothing can shift
    assert catalog.prepare_raw_tables("raw_db") == []


def test_overflow_column_added_after_each_crawl(glue: Any) -> None:
    """Unpartitioned CSV tables get a trailing string column, named in overflow_column; a crawl rewrite is undone."""
    make_bucket("raw")
    boto3.client("s3").put_object(Bucket="raw", Key="enigma-jhu/csv/01-22-2020.csv", Body=b"a,b\n1,2\n")
    _create_table(glue, "jhu", "s3://raw/enigma-jhu/csv/")
    _create_table(glue, "jhu_parts", "s3://raw/enigma-jhu/csv/", partitions=("partition_0",))
    glue.create_table(
        DatabaseName="raw_db",
        TableInput={
            "Name": "taken",
            "StorageDescriptor": {
                "Columns": [{"Name": "_OVERFLOW", "Type": "string"}],
                "Location": "s3://raw/enigma-jhu/csv/",
            },
            "Parameters": {"classification": "csv"},
        },
    )
    glue.create_table(
        DatabaseName="raw_db",
        TableInput={
            "Name": "parquet",
            "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "string"}], "Location": "s3://raw/p/"},
            "Parameters": {"classification": "parquet"},
        },
    )
    catalog = GlueCatalog()

    assert sorted(catalog.prepare_raw_tables("raw_db")) == ["jhu", "taken"]

    jhu = _glue_table(glue, "jhu")
    assert [c["Name"] for c in jhu["StorageDescriptor"]["Columns"]] == ["province/state", "confirmed", "_overflow"]
    # Every column text (the crawler's bigint too): Stage types values itself.
    assert {c["Type"] for c in jhu["StorageDescriptor"]["Columns"]} == {"string"}
    assert jhu["StorageDescriptor"]["Location"] == "s3://raw/enigma-jhu/csv/"
    assert jhu["Parameters"] == {"classification": "csv", "feed": "spoofed", OVERFLOW_PARAMETER: "_overflow"}
    taken = _glue_table(glue, "taken")
    assert [c["Name"] for c in taken["StorageDescriptor"]["Columns"]] == ["_OVERFLOW", "__overflow"]
    assert taken["Parameters"][OVERFLOW_PARAMETER] == "__overflow"
    assert len(_glue_table(glue, "jhu_parts")["StorageDescriptor"]["Columns"]) == 2
    assert len(_glue_table(glue, "parquet")["StorageDescriptor"]["Columns"]) == 1
    table = {t.name: t for t in catalog.tables("raw_db")}["jhu"]
    assert table.parameters[OVERFLOW_PARAMETER] == "_overflow"
    assert [c.name for c in header_columns(table)] == ["province/state", "confirmed"]
    # Nothing left to add: a second call changes nothing.
    assert catalog.prepare_raw_tables("raw_db") == []

    # A crawl (UPDATE_IN_DATABASE) writes back the header's columns; here it keeps the parameter.
    crawled = {k: jhu[k] for k in ("Name", "StorageDescriptor", "Parameters")}
    crawled["StorageDescriptor"] = {**jhu["StorageDescriptor"], "Columns": jhu["StorageDescriptor"]["Columns"][:2]}
    glue.update_table(DatabaseName="raw_db", TableInput=crawled)
    stale = {t.name: t for t in catalog.tables("raw_db")}["jhu"]
    assert OVERFLOW_PARAMETER not in stale.parameters, "a parameter naming a missing column would break the query"
    assert catalog.prepare_raw_tables("raw_db") == ["jhu"]
    columns = [c["Name"] for c in _glue_table(glue, "jhu")["StorageDescriptor"]["Columns"]]
    assert columns == ["province/state", "confirmed", "_overflow"]


def test_tables_of_missing_database(glue: Any) -> None:
    with pytest.raises(PipelineError, match="Glue database nope"):
        GlueCatalog().tables("nope")


# -- SNS -----------------------------------------------------------------------


@pytest.fixture
def topic_arn(aws: None) -> str:
    return boto3.client("sns").create_topic(Name="pipeline-alerts")["TopicArn"]


def _sent(topic_arn: str) -> list[tuple[Any, ...]]:
    """What moto recorded as published: (message_id, message, subject, attributes, group_id)."""
    return sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[topic_arn].sent_notifications


def test_publish(topic_arn: str) -> None:
    message_id = SnsNotifier(topic_arn).publish("Run 42 succeeded", json.dumps({"rows": 7}))
    assert message_id
    assert _sent(topic_arn) == [(message_id, '{"rows": 7}', "Run 42 succeeded", {}, None)]


def test_long_subject_and_message_are_truncated(topic_arn: str) -> None:
    subject = "Run failed: " + "x" * 300 + "\nsecond line"
    message = "é" * MESSAGE_MAX_BYTES  # 2 bytes each in UTF-8: twice the limit
    SnsNotifier(topic_arn).publish(subject, message)  # moto rejects subjects over 100 characters, as SNS does

    [(_, sent_message, sent_subject, _, _)] = _sent(topic_arn)
    assert len(sent_subject) == SUBJECT_MAX_CHARS
    assert sent_subject.startswith("Run failed: xxx")
    assert sent_subject.endswith("...")
    assert len(sent_message.encode("utf-8")) <= MESSAGE_MAX_BYTES
    assert sent_message.endswith("[truncated: the message exceeded the SNS size limit of 256 KB]")
    assert sent_message.startswith("éé")


def test_publish_to_missing_topic(aws: None) -> None:
    arn = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:nope"
    with pytest.raises(PipelineError, match=r"cannot publish to .*:nope"):
        SnsNotifier(arn).publish("s", "m")
