"""Object store on Amazon S3, behaving like the local directory-tree adapter.

Prefix semantics match the local adapter: a prefix ending in ``/`` (or a bucket
root) lists everything below it; a prefix without one names either a single
object or a "folder", never a key that merely starts with the same characters
(``s3://b/a/1`` does not list ``s3://b/a/10.csv``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from covid_pipeline.ports import ObjectInfo, ObjectNotFound, PipelineError
from covid_pipeline.uris import split_s3

# Adaptive mode adds client-side rate limiting on top of retries, so a burst of
# copies that hits SlowDown backs off instead of failing the step.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 10})
# DeleteObjects accepts at most 1000 keys per request.
DELETE_BATCH = 1000
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# User metadata on every copy the pipeline makes: the source object's ETag. A managed copy above the
# transfer manager's 8 MB multipart threshold gets a multipart ETag ("<md5 of part md5s>-<parts>")
# that never equals its source's, so "already copied" is judged by this value, and the trigger tells
# Setup's copies from uploads by its presence (S3 events carry no metadata; HeadObject returns it).
SOURCE_ETAG_METADATA = "covid-pipeline-source-etag"


def error_code(exc: ClientError) -> str:
    """AWS's error code of a ClientError ("" when the response carries none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    """AWS's own message, falling back to the code (HEAD responses have no body)."""
    err = exc.response.get("Error", {})
    return str(err.get("Message") or err.get("Code") or exc)


def translate(exc: ClientError, uri: str, action: str) -> PipelineError:
    """The port error for a failed S3 call on ``uri``; callers ``raise translate(...) from exc``."""
    code = error_code(exc)
    if code in _NOT_FOUND_CODES:
        return ObjectNotFound(f"no such object: {uri}")
    if code == "NoSuchBucket":
        return PipelineError(f"cannot {action} {uri}: bucket does not exist ({error_message(exc)})")
    return PipelineError(f"cannot {action} {uri}: {code}: {error_message(exc)}")


def _etag(raw: str) -> str:
    # S3 wraps ETags in double quotes; the local adapter (and our manifests) use the bare value.
    return raw.strip('"')


def _folder_prefix(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


class S3ObjectStore:
    """The ObjectStore port on S3. ``client`` is injectable for tests; by default one is made on first use."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        # Lazy, so constructing the adapter (e.g. at Lambda import time) makes no AWS calls.
        if self._client is None:
            self._client = boto3.client("s3", config=RETRY_CONFIG)
        return self._client

    # -- port --------------------------------------------------------------
    def ensure_bucket(self, uri: str) -> None:
        """Check the bucket exists and is reachable; buckets are created by the template, never here."""
        bucket, _ = split_s3(uri)
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            code = error_code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise PipelineError(f"bucket {bucket} does not exist (it is created by the stack template)") from exc
            raise PipelineError(f"bucket {bucket} is not accessible: {code}: {error_message(exc)}") from exc

    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        """Objects under a prefix (or the single object it names), in S3's key order."""
        bucket, key = split_s3(prefix_uri)
        folder = _folder_prefix(key)
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    k = obj["Key"]
                    # Prefix matching is by characters; keep the object itself and what is below its "folder".
                    if k == key or k.startswith(folder):
                        yield ObjectInfo(uri=f"s3://{bucket}/{k}", size=int(obj["Size"]), etag=_etag(obj["ETag"]))
        except ClientError as exc:
            raise translate(exc, prefix_uri, "list") from exc

    def head(self, uri: str) -> ObjectInfo | None:
        bucket, key = split_s3(uri)
        try:
            resp = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in _NOT_FOUND_CODES:
                return None
            raise translate(exc, uri, "head") from exc
        source_etag = (resp.get("Metadata") or {}).get(SOURCE_ETAG_METADATA)
        return ObjectInfo(uri=uri, size=int(resp["ContentLength"]), etag=_etag(resp["ETag"]), source_etag=source_etag)

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The object's content, or only its first ``max_bytes`` (a ranged GET, not a full download)."""
        bucket, key = split_s3(uri)
        if max_bytes is not None and max_bytes <= 0:
            return b""
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if max_bytes is not None:
            kwargs["Range"] = f"bytes=0-{max_bytes - 1}"
        try:
            resp = self.client.get_object(**kwargs)
        except ClientError as exc:
            # A range on an empty object is unsatisfiable; the local adapter returns b"" there.
            if error_code(exc) == "InvalidRange":
                return b""
            raise translate(exc, uri, "read") from exc
        return resp["Body"].read()

    def get_tail(self, uri: str, max_bytes: int) -> bytes:
        """The object's last ``max_bytes`` (a suffix-range GET; the whole object when it is smaller)."""
        bucket, key = split_s3(uri)
        try:
            resp = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{max_bytes}")
        except ClientError as exc:
            raise translate(exc, uri, "read") from exc
        return resp["Body"].read()

    def put_bytes(self, uri: str, data: bytes) -> ObjectInfo:
        bucket, key = split_s3(uri)
        if not key or key.endswith("/"):
            raise PipelineError(f"not an object key: {uri!r}")
        try:
            resp = self.client.put_object(Bucket=bucket, Key=key, Body=data)
        except ClientError as exc:
            raise translate(exc, uri, "write") from exc
        return ObjectInfo(uri=uri, size=len(data), etag=_etag(resp["ETag"]))

    def copy(self, source_uri: str, dest_uri: str) -> ObjectInfo:
        """Server-side copy, recording the source's ETag in the copy's metadata (SOURCE_ETAG_METADATA).

        The managed transfer copies objects above 8 MB in parts (multipart_threshold), so the copy's
        ETag differs from the source's; REPLACE makes CopyObject take the given metadata (for a
        multipart copy it is set on CreateMultipartUpload).
        """
        src_bucket, src_key = split_s3(source_uri)
        bucket, key = split_s3(dest_uri)
        if not key or key.endswith("/"):
            raise PipelineError(f"not an object key: {dest_uri!r}")
        source = self.head(source_uri)
        if source is None:
            raise ObjectNotFound(f"no such object: {source_uri}")
        # CopySourceIfMatch: the copy is of exactly the version whose ETag the metadata records.
        extra = {
            "Metadata": {SOURCE_ETAG_METADATA: source.etag},
            "MetadataDirective": "REPLACE",
            "CopySourceIfMatch": f'"{source.etag}"',
        }
        try:
            self.client.copy({"Bucket": src_bucket, "Key": src_key}, bucket, key, ExtraArgs=extra)
        except ClientError as exc:
            # The transfer manager HEADs the source first, so a missing source surfaces as a 404 here.
            raise translate(exc, source_uri if error_code(exc) in _NOT_FOUND_CODES else dest_uri, "copy") from exc
        info = self.head(dest_uri)
        if info is None:
            raise PipelineError(f"copy of {source_uri} to {dest_uri} reported success but the object is missing")
        return info

    def delete_prefix(self, prefix_uri: str) -> int:
        """Delete every object ``list`` would yield; returns how many were deleted."""
        bucket, _ = split_s3(prefix_uri)
        batch: list[str] = []
        deleted = 0
        for info in self.list(prefix_uri):
            batch.append(split_s3(info.uri)[1])
            if len(batch) == DELETE_BATCH:
                deleted += self._delete_batch(bucket, batch, prefix_uri)
                batch = []
        if batch:
            deleted += self._delete_batch(bucket, batch, prefix_uri)
        return deleted

    # -- internals ---------------------------------------------------------
    def _delete_batch(self, bucket: str, keys: list[str], prefix_uri: str) -> int:
        try:
            resp = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except ClientError as exc:
            raise translate(exc, prefix_uri, "delete") from exc
        # DeleteObjects answers 200 even when single keys fail; those come back in Errors.
        errors = resp.get("Errors", [])
        if errors:
            first = errors[0]
            raise PipelineError(
                f"cannot delete {len(errors)} object(s) under {prefix_uri}: "
                f"s3://{bucket}/{first.get('Key')}: {first.get('Code')}: {first.get('Message')}"
            )
        return len(keys)
