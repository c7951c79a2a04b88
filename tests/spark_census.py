"""A census of the Spark applications a test run starts: ``pytest -p tests.spark_census ...``.

Not loaded by default. Every SparkContext started while the tests run (in the pytest process
itself, in the CLI and handler subprocesses, in the Glue job's child processes) writes a Spark
event log into one directory: SPARK_CONF_DIR points every spark-submit at a spark-defaults.conf
that turns event logging on, and child processes inherit the variable. The count is therefore
deterministic (a busy machine changes wall times, not how many JVMs the suite starts), and each
application is attributed to the test during which it started (a session fixture's run goes to the
first test that asked for it). The summary lists applications by name (``covid-pipeline-clean``
is one Clean execution, ``covid-transforms-tests`` a SparkSession of the pytest process) and per
test file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest

_state: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    root = Path(os.environ.get("SPARK_CENSUS_DIR") or tempfile.mkdtemp(prefix="spark-census-"))
    events = root / "events"
    conf = root / "conf"
    events.mkdir(parents=True, exist_ok=True)
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "spark-defaults.conf").write_text(
        f"spark.eventLog.enabled true\nspark.eventLog.dir file://{events}\nspark.eventLog.compress false\n"
    )
    os.environ["SPARK_CONF_DIR"] = str(conf)
    _state.update(events=events, seen=set(), by_file=defaultdict(list))


def _new_logs() -> list[Path]:
    events: Path = _state["events"]  # type: ignore[assignment]
    seen: set[str] = _state["seen"]  # type: ignore[assignment]
    fresh = sorted(p for p in events.iterdir() if p.name.removesuffix(".inprogress") not in seen)
    seen.update(p.name.removesuffix(".inprogress") for p in fresh)
    return fresh


def pytest_runtest_logfinish(nodeid: str) -> None:
    by_file: dict[str, list[tuple[str, Path]]] = _state["by_file"]  # type: ignore[assignment]
    for log in _new_logs():
        by_file[nodeid.split("::")[0]].append((nodeid, log))


def _app_name(log: Path) -> str:
    if not log.exists():  # an .inprogress log renamed since
        log = log.with_name(log.name.removesuffix(".inprogress"))
    with log.open(errors="replace") as lines:
        for line in lines:
            if '"SparkListenerApplicationStart"' in line:
                return str(json.loads(line).get("App Name"))
    return "?"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    by_file: dict[str, list[tuple[str, Path]]] = _state["by_file"]  # type: ignore[assignment]
    write = terminalreporter.write_line
    terminalreporter.section("spark census")
    total: Counter[str] = Counter()
    for path in sorted(by_file):
        names = Counter(_app_name(log) for _, log in by_file[path])
        total.update(names)
        write(f"{path}: " + ", ".join(f"{n} x {name}" for name, n in sorted(names.items())))
        per_test = Counter(nodeid for nodeid, _ in by_file[path])
        for nodeid, n in sorted(per_test.items()):
            write(f"    {n}  {nodeid.split('::', 1)[1]}")
    write("TOTAL: " + ", ".join(f"{n} x {name}" for name, n in sorted(total.items())))
    write(f"event logs: {_state['events']}")
