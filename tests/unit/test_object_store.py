from pathlib import Path

import pytest

from covid_pipeline.adapters.local.object_store import LocalObjectStore, md5_etag
from covid_pipeline.ports import ObjectNotFound, PipelineError


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path, versioned_buckets={"raw"})


def test_put_list_head_get(store: LocalObjectStore) -> None:
    store.put_bytes("s3://lake/a/1.txt", b"one")
    store.put_bytes("s3://lake/a/b/2.txt", b"two")
    store.put_bytes("s3://lake/c.txt", b"three")
    listed = [o.uri for o in store.list("s3://lake/a/")]
    assert listed == ["s3://lake/a/1.txt", "s3://lake/a/b/2.txt"]
    info = store.head("s3://lake/a/1.txt")
    assert info is not None
    assert info.size == 3
    assert info.etag == "f97c5d29941bfb1b2fdab0874906ab82"  # md5("one"), as S3 reports single-part uploads
    assert store.get_bytes("s3://lake/a/b/2.txt") == b"two"
    assert store.get_bytes("s3://lake/c.txt", max_bytes=2) == b"th"
    assert store.head("s3://lake/missing") is None
    with pytest.raises(ObjectNotFound):
        store.get_bytes("s3://lake/missing")


def test_copy_from_file_uri(store: LocalObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "source with space.csv"
    src.write_bytes(b"a,b\n1,2\n")
    info = store.copy(src.as_uri(), "s3://raw/ds/x.csv")
    assert info.etag == md5_etag(src)
    assert store.path("s3://raw/ds/x.csv").read_bytes() == b"a,b\n1,2\n"


def test_versioned_bucket_keeps_overwritten_objects(store: LocalObjectStore, tmp_path: Path) -> None:
    store.put_bytes("s3://raw/ds/x.csv", b"v1")
    store.put_bytes("s3://raw/ds/x.csv", b"v2")
    versions = list((tmp_path / "s3-versions" / "raw" / "ds" / "x.csv").iterdir())
    assert [v.read_bytes() for v in versions] == [b"v1"]
    assert store.get_bytes("s3://raw/ds/x.csv") == b"v2"
    with pytest.raises(PipelineError, match="versioned"):
        store.delete_prefix("s3://raw/ds/")


def test_delete_prefix(store: LocalObjectStore) -> None:
    store.put_bytes("s3://lake/staged/r1/a.parquet", b"x")
    store.put_bytes("s3://lake/staged/r1/b/c.parquet", b"y")
    store.put_bytes("s3://lake/staged/r2/a.parquet", b"z")
    assert store.delete_prefix("s3://lake/staged/r1/") == 2
    assert [o.uri for o in store.list("s3://lake/staged/")] == ["s3://lake/staged/r2/a.parquet"]


@pytest.mark.parametrize("uri", ["s3://lake/../etc/passwd", "s3://lake/a/../../b", "s3://Bad_Bucket/x", "http://x/y"])
def test_refuses_keys_that_escape(store: LocalObjectStore, uri: str) -> None:
    with pytest.raises(PipelineError):
        store.put_bytes(uri, b"x")
