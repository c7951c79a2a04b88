"""Notifier on Amazon SNS, within SNS's limits so a long report never fails the publish."""

from __future__ import annotations

import re
from typing import Any

import boto3
from botocore.exceptions import ClientError

from covid_pipeline.adapters.aws.object_store import RETRY_CONFIG, error_code, error_message
from covid_pipeline.ports import PipelineError

SUBJECT_MAX_CHARS = 100
MESSAGE_MAX_BYTES = 256 * 1024
TRUNCATION_NOTE = "\n\n[truncated: the message exceeded the SNS size limit of 256 KB]"
_ELLIPSIS = "..."
# SNS subjects must be ASCII text on one line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def fit_subject(subject: str) -> str:
    """A subject SNS accepts: one line of ASCII, at most 100 characters."""
    text = _CONTROL.sub(" ", subject).encode("ascii", "replace").decode("ascii").strip()
    if len(text) <= SUBJECT_MAX_CHARS:
        return text
    return text[: SUBJECT_MAX_CHARS - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


def fit_message(message: str) -> str:
    """The message, cut (on a character boundary) with a note when its UTF-8 form exceeds 256 KB."""
    data = message.encode("utf-8")
    if len(data) <= MESSAGE_MAX_BYTES:
        return message
    room = MESSAGE_MAX_BYTES - len(TRUNCATION_NOTE.encode("utf-8"))
    # errors="ignore" drops a multi-byte character split by the cut instead of failing.
    return data[:room].decode("utf-8", errors="ignore") + TRUNCATION_NOTE


class SnsNotifier:
    """The Notifier port on an SNS topic. ``client`` is injectable for tests; by default made on first use."""

    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sns", config=RETRY_CONFIG)
        return self._client

    def publish(self, subject: str, message: str) -> str:
        """Publish and return SNS's MessageId."""
        kwargs: dict[str, Any] = {"TopicArn": self.topic_arn, "Message": fit_message(message) or "(empty message)"}
        fitted = fit_subject(subject)
        if fitted:  # SNS rejects an empty Subject; omitting it is allowed
            kwargs["Subject"] = fitted
        try:
            return str(self.client.publish(**kwargs)["MessageId"])
        except ClientError as exc:
            raise PipelineError(f"cannot publish to {self.topic_arn}: {error_code(exc)}: {error_message(exc)}") from exc
