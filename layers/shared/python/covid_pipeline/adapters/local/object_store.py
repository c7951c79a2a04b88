"""Object store on a directory tree: ``s3://bucket/key`` lives at ``<home>/s3/bucket/key``.

Also reads ``file://`` URIs, so Setup can copy a local source folder into the raw
zone exactly as it copies ``s3://covid19-lake`` on AWS. Writes are atomic
(temp file + rename). Buckets named as versioned keep every overwritten object
under ``<home>/s3-versions/``, as S3 versioning does for the raw zone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from covid_pipeline.ports import ObjectInfo, ObjectNotFound, PipelineError
from covid_pipeline.uris import file_uri_path, split_s3

_CHUNK = 8 * 1024 * 1024
# In-progress writes; never listed.
_TMP_SUFFIX = ".tmp-covid-pipeline"


def md5_etag(path: Path) -> str:
    """S3's ETag of a single-part upload: the MD5 of the content."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class LocalObjectStore:
    def __init__(self, home: Path, versioned_buckets: Iterable[str] = ()) -> None:
        self.root = Path(home).resolve() / "s3"
        self.versions_root = Path(home).resolve() / "s3-versions"
        self.versioned = frozenset(versioned_buckets)
        # (path, size, mtime_ns) -> etag: hashing a large file once per change is enough.
        self._etags: dict[tuple[str, int, int], str] = {}

    # -- paths -------------------------------------------------------------
    def path(self, uri: str) -> Path:
        """Local path of an s3:// or file:// URI."""
        if uri.startswith("file://"):
            return Path(file_uri_path(uri))
        bucket, key = split_s3(uri)
        return self.root / bucket / key

    def uri_for(self, path: Path) -> str:
        rel = Path(path).resolve().relative_to(self.root)
        return "s3://" + rel.as_posix()

    def _info(self, uri: str, path: Path) -> ObjectInfo:
        st = path.stat()
        cache_key = (str(path), st.st_size, st.st_mtime_ns)
        etag = self._etags.get(cache_key)
        if etag is None:
            etag = self._etags[cache_key] = md5_etag(path)
        return ObjectInfo(uri=uri, size=st.st_size, etag=etag)

    # -- port --------------------------------------------------------------
    def ensure_bucket(self, uri: str) -> None:
        bucket, _ = split_s3(uri)
        (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        base = self.path(prefix_uri)
        scheme_root = prefix_uri if prefix_uri.endswith("/") else prefix_uri + "/"
        if base.is_file():
            yield self._info(prefix_uri, base)
            return
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(_TMP_SUFFIX):
                    continue
                path = Path(dirpath) / name
                rel = path.relative_to(base).as_posix()
                yield self._info(scheme_root + rel, path)

    def head(self, uri: str) -> ObjectInfo | None:
        path = self.path(uri)
        return self._info(uri, path) if path.is_file() else None

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        path = self.path(uri)
        if not path.is_file():
            raise ObjectNotFound(f"no such object: {uri}")
        with path.open("rb") as fh:
            return fh.read() if max_bytes is None else fh.read(max_bytes)

    def put_bytes(self, uri: str, data: bytes) -> ObjectInfo:
        return self._write(uri, lambda fh: fh.write(data))

    def copy(self, source_uri: str, dest_uri: str) -> ObjectInfo:
        source = self.path(source_uri)
        if not source.is_file():
            raise ObjectNotFound(f"no such object: {source_uri}")
        with source.open("rb") as src:
            return self._write(dest_uri, lambda fh: shutil.copyfileobj(src, fh, _CHUNK))

    def delete_prefix(self, prefix_uri: str) -> int:
        bucket, _ = split_s3(prefix_uri)
        if bucket in self.versioned:
            raise PipelineError(f"refusing to delete from versioned bucket {bucket}")
        base = self.path(prefix_uri)
        if not base.exists():
            return 0
        if base.is_file():
            base.unlink()
            return 1
        count = sum(len(files) for _, _, files in os.walk(base))
        shutil.rmtree(base)
        return count

    # -- internals ---------------------------------------------------------
    def _write(self, uri: str, writer) -> ObjectInfo:  # type: ignore[no-untyped-def]
        if not uri.startswith("s3://"):
            raise PipelineError(f"can only write s3:// URIs, got {uri!r}")
        bucket, key = split_s3(uri)
        if not key or key.endswith("/"):
            raise PipelineError(f"not an object key: {uri!r}")
        dest = self.root / bucket / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".", suffix=_TMP_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as fh:
                writer(fh)
            if bucket in self.versioned and dest.exists():
                self._keep_version(bucket, key, dest)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self._info(uri, dest)

    def _keep_version(self, bucket: str, key: str, dest: Path) -> None:
        version_dir = self.versions_root / bucket / key
        version_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest, version_dir / f"{time.time_ns()}")
