"""Notifier standing in for SNS: one JSON line per message in ``<home>/notifications.jsonl``."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from covid_pipeline.observability import logger


class LogNotifier:
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / "notifications.jsonl"

    def publish(self, subject: str, message: str) -> str:
        message_id = str(uuid.uuid4())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"id": message_id, "time": time.time(), "subject": subject, "message": message}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        logger.info("notification", extra={"subject": subject, "message_id": message_id})
        return message_id
