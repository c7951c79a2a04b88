"""The Spark class archive's options (adapters/local/class_archive.py): where they go in PYSPARK_SUBMIT_ARGS, and
nothing changes while the archive is not built."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from covid_pipeline.adapters.local import class_archive
from covid_pipeline.adapters.local.job_runner import DEFAULT_SPARK_ARGS, SMALL_INPUT_SPARK_ARGS


def java_options(spark_args: str) -> list[str]:
    words = shlex.split(spark_args)
    return [words[i + 1] for i in range(len(words) - 1) if words[i] == "--conf" and "extraJavaOptions=" in words[i + 1]]


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "spark-classes-x.jsa"
    monkeypatch.setattr(class_archive, "archive_path", lambda: path)
    return path


def test_without_the_archive_the_arguments_are_unchanged(archive: Path) -> None:
    assert class_archive.java_option() is None
    assert class_archive.submit_args(SMALL_INPUT_SPARK_ARGS) == SMALL_INPUT_SPARK_ARGS


def built(archive: Path, size: int | None = None) -> None:
    """An archive as build leaves it: the file, and its checked size beside it."""
    archive.write_bytes(b"jsa")
    archive.with_name(archive.name + ".bytes").write_text(str(3 if size is None else size))


def test_an_archive_not_at_its_checked_size_is_not_used(archive: Path) -> None:
    archive.write_bytes(b"jsa")  # no size recorded: its build did not finish its check
    assert class_archive.java_option() is None
    built(archive, size=4096)  # cut short (a JVM crashes on an archive truncated after its header)
    assert class_archive.submit_args(DEFAULT_SPARK_ARGS) == DEFAULT_SPARK_ARGS
    built(archive)
    assert class_archive.java_option() == f"-XX:SharedArchiveFile={archive}"


def test_the_archive_goes_into_the_java_options_spark_submit_keeps(archive: Path) -> None:
    built(archive)
    option = f"-XX:SharedArchiveFile={archive}"
    default = class_archive.submit_args(DEFAULT_SPARK_ARGS)
    assert java_options(default) == [f"spark.driver.extraJavaOptions=-Dlog4j2.level=warn {option}"]
    # Two are given for small inputs: spark-submit keeps the last, so that one carries the archive.
    small = java_options(class_archive.submit_args(SMALL_INPUT_SPARK_ARGS))
    assert small[0] == "spark.driver.extraJavaOptions=-Dlog4j2.level=warn"
    assert small[-1].endswith(f"-XX:+UseSerialGC {option}")
    # The rest as given, pyspark-shell last ('local[2]' quoted as shlex quoted it: pyspark splits with shlex).
    words = shlex.split(class_archive.submit_args(SMALL_INPUT_SPARK_ARGS))
    assert words[:2] == ["--master", "local[2]"]
    assert words[-1] == "pyspark-shell"
    assert java_options(class_archive.with_java_option("--master local[1] pyspark-shell", option)) == [
        f"spark.driver.extraJavaOptions={option}"
    ]


def test_an_archive_path_with_a_space_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a folder" / "spark-classes-x.jsa"  # Spark splits the Java options on spaces
    path.parent.mkdir()
    built(path)
    monkeypatch.setattr(class_archive, "archive_path", lambda: path)
    assert class_archive.submit_args(DEFAULT_SPARK_ARGS) == DEFAULT_SPARK_ARGS


def test_the_archive_is_named_for_the_jdk_and_pyspark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = class_archive.archive_path()
    assert first is not None
    assert first.name.startswith("spark-classes-")
    assert first.suffix == ".jsa"
    other_java = tmp_path / "jdk" / "bin" / "java"
    other_java.parent.mkdir(parents=True)
    other_java.write_text("#!/bin/sh\n")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))  # another JDK: another archive
    second = class_archive.archive_path()
    assert second is not None
    assert second != first
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    assert class_archive.archive_path() is None
