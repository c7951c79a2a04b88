"""`make setup`'s Spark class archive maps into a local Spark JVM: with -Xshare:on a JVM that cannot map it
refuses to start, so a session that starts and answers proves the archive matches this JDK and Spark's class
path; a broken archive, the same way, does not start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from covid_pipeline.adapters.local import class_archive
from covid_pipeline.adapters.local.job_runner import DEFAULT_SPARK_ARGS

pytestmark = pytest.mark.spark

SESSION = (
    "from pyspark.sql import SparkSession; s = SparkSession.builder.getOrCreate(); print(s.range(3).count()); s.stop()"
)


def start(archive: Path) -> subprocess.CompletedProcess[str]:
    args = class_archive._with_java_option(DEFAULT_SPARK_ARGS, f"-Xshare:on -XX:SharedArchiveFile={archive}")
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": args, "PYSPARK_PYTHON": sys.executable}
    return subprocess.run([sys.executable, "-c", SESSION], env=env, capture_output=True, text=True, timeout=300)


def test_the_archive_make_setup_built_maps_into_sparks_jvm(tmp_path: Path) -> None:
    archive = class_archive.archive_path()
    assert archive is not None
    assert archive.is_file(), f"no Spark class archive at {archive}: run `make setup`"
    assert class_archive.submit_args(DEFAULT_SPARK_ARGS) != DEFAULT_SPARK_ARGS  # the local runner uses it
    proc = start(archive)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "3"  # (Spark logs its warnings to stdout too)
    broken = tmp_path / "broken.jsa"
    broken.write_bytes(archive.read_bytes()[:4096])
    assert start(broken).returncode != 0
