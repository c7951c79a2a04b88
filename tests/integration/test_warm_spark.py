"""The warm local Spark driver (adapters/local/warm_spark.py) with a tiny Glue-style script: started on first
use, reused, waited for when busy (and bypassed for a cold run when busy too long), replaced after an edit,
stopped on idle or by request, a failing job reported without losing the driver, each job's SQL settings its
own. (That its tables equal a cold run's is tests/integration/test_small_input_settings.py.)"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from covid_pipeline.adapters.local import warm_spark
from covid_pipeline.adapters.local.job_runner import DEFAULT_SPARK_ARGS, WARM_DRIVER_SPARK_ARGS, LocalSparkJobRunner
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.cli import main

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SCRIPT = """
import json, os, sys
from pyspark.sql import SparkSession

def main(argv=None, spark=None):
    argv = sys.argv if argv is None else argv
    spark = spark or SparkSession.builder.getOrCreate()
    if "--fail" in argv:
        raise RuntimeError("the job failed on purpose")
    spark.createDataFrame([(1,), (2,)], "n int").createOrReplaceTempView("numbers")
    print(json.dumps({
        "pid": os.getpid(),
        "rows": spark.range(3).count(),
        "partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        "views": sorted(t.name for t in spark.catalog.listTables()),
        "version": VERSION,
    }))
    return 0

VERSION = 1

if __name__ == "__main__":
    sys.exit(main())
"""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A driver that exited but is not reaped yet is a zombie: gone for our purpose.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _wait_gone(pid: int, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("warm")
    (root / "glue").mkdir()
    (root / "glue" / "job.py").write_text(SCRIPT)
    # A folder of its own: the session's drivers (tests/conftest.py) are not this test's to stop.
    directory = Path(os.environ["COVID_PIPELINE_SPARK_DIR"]) / "t"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COVID_PIPELINE_SPARK_DIR", str(directory))
        yield root
        warm_spark.stop(directory)


def _job(workdir: Path, *extra: str, conf: dict[str, str] | None = None) -> tuple[warm_spark.WarmResult, dict]:
    script = workdir / "glue" / "job.py"
    log = workdir / "job.log"
    result = warm_spark.run_job(script, [str(script), *extra], conf or {}, DEFAULT_SPARK_ARGS, log)
    line = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    return result, json.loads(line)


def test_first_job_starts_the_driver_the_next_reuses_it(workdir: Path) -> None:
    first, out1 = _job(workdir)
    second, out2 = _job(workdir)
    assert first.started_driver
    assert not second.started_driver
    assert first.driver_pid == second.driver_pid == out1["pid"] == out2["pid"] != os.getpid()
    assert out1["rows"] == out2["rows"] == 3
    assert [d["pid"] for d in warm_spark.drivers()] == [first.driver_pid]
    assert warm_spark.driver_pids() == [first.driver_pid]  # what a memory measure adds (bench/proctree.py)


def test_each_job_has_its_own_sql_settings_and_views(workdir: Path) -> None:
    _, small = _job(workdir, conf={"spark.sql.shuffle.partitions": "1"})
    _, plain = _job(workdir)
    assert small["partitions"] == "1"
    assert plain["partitions"] == "4"  # the driver's own (DEFAULT_SPARK_ARGS), not the previous job's
    # The previous job's temporary view is not seen: each job runs on a new session.
    assert small["views"] == plain["views"] == ["numbers"]


def test_a_failing_job_is_reported_and_the_driver_stays(workdir: Path) -> None:
    failed, _ = _job(workdir, "--fail")
    assert failed.exit_code == 1
    assert "RuntimeError: the job failed on purpose" in (workdir / "job.log").read_text()
    after, out = _job(workdir)
    assert after.exit_code == 0
    assert out["pid"] == failed.driver_pid


def _job_lock(workdir: Path, spark_args: str = DEFAULT_SPARK_ARGS) -> Path:
    key = warm_spark.fingerprint(workdir / "glue" / "job.py", spark_args)
    return warm_spark.state_dir() / f"spark-{key}.job.lock"


def test_a_job_waits_for_a_busy_driver_and_runs_on_it(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_WAIT", "60")
    first, _ = _job(workdir)  # the driver is up (started here when this test runs alone)
    held = threading.Event()
    release = threading.Event()

    def another_job() -> None:
        with warm_spark._flock(_job_lock(workdir), blocking=True):
            held.set()
            release.wait(30)

    other = threading.Thread(target=another_job)
    other.start()
    try:
        assert held.wait(30)
        threading.Timer(1.0, release.set).start()
        started = time.monotonic()
        result, out = _job(workdir)  # waits up to 60 s: far longer than 1 s
        waited = time.monotonic() - started
    finally:
        release.set()
        other.join()
    assert result.exit_code == 0
    assert out["rows"] == 3
    assert not result.started_driver  # the same driver, not a JVM of its own
    assert result.driver_pid == first.driver_pid
    assert waited >= 1.0


def test_a_driver_still_busy_after_the_wait_is_bypassed(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_WAIT", "0.5")
    with warm_spark._flock(_job_lock(workdir), blocking=True):
        started = time.monotonic()
        with pytest.raises(warm_spark.Busy, match=r"after 0\.5 s"):
            _job(workdir)
        assert time.monotonic() - started >= 0.5


def test_the_runner_runs_a_job_cold_when_the_driver_stays_busy(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_WAIT", "0")
    monkeypatch.delenv("COVID_PIPELINE_SPARK_ARGS", raising=False)
    staged = workdir / "staged"  # a small input: the runner tries the warm driver first
    staged.mkdir(exist_ok=True)
    runner = LocalSparkJobRunner(LocalObjectStore(workdir / "home"), workdir / "logs")
    with warm_spark._flock(_job_lock(workdir, WARM_DRIVER_SPARK_ARGS), blocking=True):  # the runner's driver
        run = runner.run("job", workdir / "glue" / "job.py", {"--staged_uri": str(staged)})
    log = Path(run.log_path).read_text()
    assert "still ran another job after 0 s); running cold" in log
    assert run.summary["rows"] == 3
    assert run.summary["pid"] not in [d["pid"] for d in warm_spark.drivers()]  # a process of its own


def test_an_edit_starts_a_new_driver_and_stops_the_old(workdir: Path) -> None:
    before, _ = _job(workdir)
    script = workdir / "glue" / "job.py"
    script.write_text(SCRIPT.replace("VERSION = 1", "VERSION = 2"))
    after, out = _job(workdir)
    assert after.started_driver
    assert after.driver_pid != before.driver_pid
    assert out["version"] == 2  # the edited code runs
    assert _wait_gone(before.driver_pid), "the driver of the old code is still running"


def test_spark_stop_stops_the_driver(workdir: Path, capsys) -> None:
    result, _ = _job(workdir)
    assert main(["spark"]) == 0
    assert f"pid {result.driver_pid}: " in capsys.readouterr().out
    assert main(["spark", "stop"]) == 0
    assert f"stopped 1 warm Spark driver(s) [{result.driver_pid}]" in capsys.readouterr().err
    assert _wait_gone(result.driver_pid)
    assert warm_spark.drivers() == []


def test_an_idle_driver_stops_by_itself(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_IDLE", "2")
    result, _ = _job(workdir)
    assert result.started_driver  # the previous test stopped the last one
    assert _wait_gone(result.driver_pid, seconds=90)
    assert not list(warm_spark.state_dir().glob("spark-*.sock"))  # it removed its socket
    assert warm_spark.driver_pids() == []  # and its pid file
