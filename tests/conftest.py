"""Fixtures shared by every kind of test.

The expensive ones are session-scoped and created on first use: one SparkSession in this process for
every test that only needs the transforms (``spark``), and one `covid-pipeline run` of the bundled
sample (``sample_home``) for every test that reads what such a run leaves; tests that change that
home work on a copy (a copy of a few MB costs far less than another Spark run).

`make test` runs the suite on pytest-xdist workers (one process each): ``spark`` is per worker, the warm Spark
driver that small Cleans run on is one for all of them (``pytest_configure``), and a run's output
(``sample_home``, the lake's in tests/e2e/conftest.py) is made once per test run by whichever worker asks first
(``made_once``), the others waiting on a file lock for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from filelock import FileLock

from covid_pipeline.composition import Ports, local_ports
from covid_pipeline.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
# The execution the sample events of events/ describe (tests/e2e/test_invoke_events.py): the session's run of
# the sample takes that name, so those events apply to a copy of sample_home.
SAMPLE_RUN_ID: str = json.loads((ROOT / "events" / "setup-full-run.json").read_text())["run_id"]
# `covid-pipeline run` with the execution name fixed; everything else is the CLI's main, as its script runs it.
_NAMED_RUN = (
    "import sys; import covid_pipeline.runner.local as local; from covid_pipeline.cli import main; "
    "name = local.new_execution_name; "
    "local.new_execution_name = lambda prefix='run': sys.argv[1] if prefix == 'run' else name(prefix); "
    "sys.exit(main(sys.argv[2:]))"
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name`` that ``make(folder)`` fills, made once per test run however many xdist workers ask.

    Under xdist every worker has its own base temp (pytest-N/popen-gwK): their parent is the run's own, so
    the first worker to take the lock makes the folder there and the others wait, then read it. Without xdist
    it is simply made in the session's base temp. A failed attempt leaves no mark: the next asker tries again
    (and fails with its own error).
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / f"once-{name}"
    done = base / f"once-{name}.done"
    with FileLock(base / f"once-{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that run the pipeline first, then those on the ``spark`` session, then the rest; each file's tests
    stay together and in their order.

    Under xdist (`make test`: ``--dist loadfile``) files go to the workers in this order as they free up: the long
    ones first leave the many short ones (moto, unit) to even out the end, instead of one worker finishing a
    minute-long file while the other idles.
    """

    def weight(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 2
        return 1 if item.get_closest_marker("spark") or "spark" in getattr(item, "fixturenames", ()) else 0

    by_file: dict[Path, int] = {}
    for item in items:
        by_file[item.path] = max(by_file.get(item.path, 0), weight(item))
    items.sort(key=lambda item: -by_file[item.path])  # stable: files stay whole, tests in order


# The warm Spark drivers of this test run (adapters/local/warm_spark.py): in a folder of their own, never a
# developer's, made by the controlling process before xdist starts its workers (they inherit its environment), so
# the workers' small Cleans share one driver: one JVM start and JIT warm-up, one cache of generated classes,
# instead of one per worker. A Clean that finds it busy waits for it, as long as a Clean can take here, rather
# than start a JVM of its own (~35 CPU-s for a small Clean cold, ~5 warm). The controller stops them at the end.
_SPARK_DIR = pytest.StashKey[tuple[Path, pytest.MonkeyPatch]]()
TEST_WARM_SPARK_WAIT_S = "900"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller's folder is in its environment
    directory = Path(tempfile.mkdtemp(prefix="cpw-"))  # short: a Unix socket's path has at most 107 bytes
    env = pytest.MonkeyPatch()
    env.setenv("COVID_PIPELINE_SPARK_DIR", str(directory))
    env.setenv("COVID_PIPELINE_WARM_SPARK_WAIT", TEST_WARM_SPARK_WAIT_S)
    config.stash[_SPARK_DIR] = (directory, env)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SPARK_DIR not in config.stash:
        return
    from covid_pipeline.adapters.local import warm_spark

    directory, env = config.stash[_SPARK_DIR]
    warm_spark.stop(directory)
    shutil.rmtree(directory, ignore_errors=True)
    env.undo()


# Expressions evaluated, not compiled: the transforms' tests run hundreds of distinct queries on a few rows each,
# where generating and compiling each query's classes (Janino, then the JIT on them) costs more than the rows
# (tests/unit/transforms alone: 82-92 s -> 70 s, one process). `spark.sql.codegen.factoryMode` is Spark's own switch for
# testing both paths (SQLConf, internal); the pipeline's runs in the e2e, reliability and integration tests, on
# the warm driver or cold, compile as Glue does.
INTERPRETED = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The one local SparkSession of the test process (pyspark imported only by the tests that ask for it)."""
    from pyspark.sql import SparkSession

    from covid_pipeline.adapters.local import class_archive
    from covid_pipeline.adapters.local.job_runner import SMALL_INPUT_SQL_CONF, WARM_DRIVER_JIT_OPTIONS
    from covid_pipeline.adapters.local.jvm_lookups import remember_jvm_lookups

    # As the warm driver runs a small Clean (adapters/local/warm_spark.py): py4j lookups remembered, and the
    # small-input SQL settings (no adaptive execution, one shuffle partition: 15% less CPU for the transforms'
    # tests than AQE with two). Glue's settings are tested too: test_star's partitioning test, and
    # tests/integration/test_small_input_settings.py compares a whole Clean under both.
    remember_jvm_lookups()
    builder = SparkSession.builder.master("local[2]").appName("covid-transforms-tests")
    for name, value in {**SMALL_INPUT_SQL_CONF, **INTERPRETED}.items():
        builder = builder.config(name, value)
    # The warm driver's JIT options (its work is planning too: tests/unit/transforms alone 124-128 -> 110-115 CPU-s),
    # and Spark's classes mapped from `make setup`'s archive, as a Clean's JVM.
    java_options = [WARM_DRIVER_JIT_OPTIONS, class_archive.java_option() or ""]
    builder = builder.config(class_archive.JAVA_OPTIONS, " ".join(java_options).strip())
    session = builder.config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC").getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where `covid-pipeline run` loaded the bundled sample as execution SAMPLE_RUN_ID.

    Shared by every test that reads it: do not modify it, copy it (shutil.copytree). What the CLI printed is
    beside it (run.stdout, run.stderr), outside the home, so copies leave it out.
    """

    def make(folder: Path) -> None:
        argv = ["run", "--source", str(SAMPLE), "--home", str(folder / "home")]
        command = [sys.executable, "-c", _NAMED_RUN, SAMPLE_RUN_ID, *argv]
        proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        (folder / "run.stdout").write_text(proc.stdout)
        (folder / "run.stderr").write_text(proc.stderr)

    return made_once(tmp_path_factory, "sample", make) / "home"


@pytest.fixture
def local_env(tmp_path: Path) -> dict[str, str]:
    """A function environment like the one template.yaml gives, pointing at a fresh local home."""
    return {
        "PIPELINE_ENV": "local",
        "PIPELINE_HOME": str(tmp_path / "home"),
        "RAW_BUCKET": "test-raw",
        "LAKE_BUCKET": "test-lake",
        "GLUE_DATABASE": "test_raw",
        "RAW_CRAWLER": "test-raw-crawler",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "CovidPipelineTest",
    }


@pytest.fixture
def ports(local_env: dict[str, str]) -> Ports:
    return local_ports(load_settings(local_env))


@pytest.fixture
def handler_env(local_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """local_env set in the process environment, as Lambda gives a handler its configuration."""
    for key, value in local_env.items():
        monkeypatch.setenv(key, value)
    return local_env
