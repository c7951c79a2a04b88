"""s3:// URI helpers shared by adapters and domain code."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlparse

from covid_pipeline.ports import PipelineError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``, refusing anything that could escape a bucket."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise PipelineError(f"not an s3:// URI: {uri!r}")
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not _BUCKET.match(bucket):
        raise PipelineError(f"invalid bucket name in {uri!r}")
    check_key(key)
    return bucket, key


def check_key(key: str) -> str:
    parts = key.split("/")
    if any(p in {"..", "."} for p in parts) or "\x00" in key or key.startswith("/"):
        raise PipelineError(f"refusing object key {key!r}: it would escape its prefix")
    if "" in parts[:-1]:
        # S3 keeps "a//b" and "a/b" apart; a directory tree (the local store) would not.
        raise PipelineError(f"refusing object key {key!r}: empty path segment")
    return key


def join(prefix_uri: str, *parts: str) -> str:
    base = prefix_uri if prefix_uri.endswith("/") else prefix_uri + "/"
    return base + "/".join(p.strip("/") for p in parts if p)


def file_uri_path(uri: str) -> str:
    """Path of a ``file://`` URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise PipelineError(f"not a file:// URI: {uri!r}")
    return unquote(parsed.path)
