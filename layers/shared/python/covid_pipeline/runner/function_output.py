"""Where a local function's standard output goes: what CloudWatch Logs does with it in Lambda.

In Lambda a function's stdout is its log stream, and CloudWatch Logs turns every line that is
an Embedded Metric Format record (a JSON object with an ``_aws`` member, which Powertools'
``Metrics`` prints) into metrics. Locally :class:`FunctionOutput` makes the same split: log
lines go to the function's log file, EMF records to ``<home>/logs/metrics.jsonl``, and nothing
reaches the user's terminal. The handlers print exactly what they print on AWS.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

# Every local function's EMF records, one JSON object a line (what CloudWatch would make metrics of).
METRICS_FILE = Path("logs") / "metrics.jsonl"


def is_emf(line: str) -> bool:
    """Whether a log line is an EMF record: a JSON object with the ``_aws`` metadata member."""
    if not line.startswith("{"):
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "_aws" in record


class FunctionOutput:
    """A text stream that routes each complete line to the log or, for EMF records, to the metrics file.

    Not an io.TextIOBase: IOBase flushes again when garbage-collected, after the files are closed.
    """

    def __init__(self, log: TextIO, metrics: TextIO) -> None:
        self._log = log
        self._metrics = metrics
        self._pending = ""

    def write(self, text: str) -> int:
        # print() writes a record and its newline in two calls: route whole lines only.
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            (self._metrics if is_emf(line) else self._log).write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._log.flush()
        self._metrics.flush()

    def finish(self) -> None:
        """Write out a last line that had no newline."""
        if self._pending:
            self.write("\n")
        self.flush()


@contextlib.contextmanager
def function_output(log_path: Path, home: Path) -> Iterator[FunctionOutput]:
    """The stream for one invocation: ``log_path`` for its logs, the home's metrics file for its EMF records."""
    metrics_path = Path(home) / METRICS_FILE
    log_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log, metrics_path.open("a") as metrics:
        stream = FunctionOutput(log, metrics)
        try:
            yield stream
        finally:
            stream.finish()
