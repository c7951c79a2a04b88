"""The local job runner picks Spark's settings by the size of the job's input, unless told which."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from covid_pipeline.adapters.local import job_runner
from covid_pipeline.adapters.local.job_runner import (
    DEFAULT_SPARK_ARGS,
    SMALL_INPUT_BYTES,
    SMALL_INPUT_SPARK_ARGS,
    WARM_DRIVER_JIT_OPTIONS,
    WARM_DRIVER_SPARK_ARGS,
    LocalSparkJobRunner,
)
from covid_pipeline.adapters.local.object_store import LocalObjectStore

STAGED = "s3://lake/staged/run-1/"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalSparkJobRunner:
    monkeypatch.delenv("COVID_PIPELINE_SPARK_ARGS", raising=False)
    return LocalSparkJobRunner(LocalObjectStore(tmp_path), tmp_path / "logs")


def _staged(runner: LocalSparkJobRunner, size: int) -> None:
    folder = Path(runner.store.path(STAGED)) / "jhu_daily" / "part"
    folder.mkdir(parents=True)
    with (folder / "part-00000.parquet").open("wb") as handle:
        handle.truncate(size)  # sparse: the size counts, not the bytes


def test_a_small_input_gets_the_small_input_settings(runner: LocalSparkJobRunner) -> None:
    _staged(runner, SMALL_INPUT_BYTES // 2)
    assert runner.spark_args_for({"--staged_uri": STAGED}) == SMALL_INPUT_SPARK_ARGS


def test_a_large_input_keeps_the_default_settings(runner: LocalSparkJobRunner) -> None:
    _staged(runner, SMALL_INPUT_BYTES + 1)
    assert runner.spark_args_for({"--staged_uri": STAGED}) == DEFAULT_SPARK_ARGS


def test_a_job_without_input_argument_keeps_the_default_settings(runner: LocalSparkJobRunner) -> None:
    assert runner.spark_args_for({"--run_id": "r"}) == DEFAULT_SPARK_ARGS


def test_given_settings_win_whatever_the_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalObjectStore(tmp_path)
    monkeypatch.setenv("COVID_PIPELINE_SPARK_ARGS", "--master local[1] pyspark-shell")
    assert LocalSparkJobRunner(store, tmp_path).spark_args_for({"--staged_uri": STAGED}) == (
        "--master local[1] pyspark-shell"
    )
    given = LocalSparkJobRunner(store, tmp_path, spark_args=DEFAULT_SPARK_ARGS)
    assert given.spark_args_for({"--staged_uri": STAGED}) == DEFAULT_SPARK_ARGS


def test_the_small_settings_only_add_to_the_default_ones() -> None:
    """Every default setting but the overridden ones stays: the small settings are about speed only."""
    assert SMALL_INPUT_SPARK_ARGS.startswith(DEFAULT_SPARK_ARGS.removesuffix("pyspark-shell"))
    assert job_runner.input_bytes(Path("/nonexistent/folder")) == 0


def test_the_warm_driver_is_the_default_settings_with_its_jit_options() -> None:
    """Its JVM options are the default ones and the JIT's; everything else is DEFAULT_SPARK_ARGS."""
    words, default = shlex.split(WARM_DRIVER_SPARK_ARGS), shlex.split(DEFAULT_SPARK_ARGS)
    at = default.index("spark.driver.extraJavaOptions=-Dlog4j2.level=warn")
    assert words[at] == f"{default[at]} {WARM_DRIVER_JIT_OPTIONS}"
    assert words[:at] + words[at + 1 :] == default[:at] + default[at + 1 :]
    assert all(option.startswith("-XX:") for option in WARM_DRIVER_JIT_OPTIONS.split())
