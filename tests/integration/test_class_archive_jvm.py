"""`make setup`'s Spark class archive maps into a local Spark JVM: with -Xshare:on a JVM that cannot map it
refuses to start, so a session that starts and answers proves the archive matches this JDK and Spark's class
path; a file that is no archive, the same way, does not start."""

from __future__ import annotations

from pathlib import Path

import pytest

from covid_pipeline.adapters.local import class_archive
from covid_pipeline.adapters.local.job_runner import DEFAULT_SPARK_ARGS

pytestmark = pytest.mark.spark


def test_the_archive_make_setup_built_maps_into_sparks_jvm(tmp_path: Path) -> None:
    archive = class_archive.archive_path()
    assert archive is not None
    assert class_archive.java_option() == f"-XX:SharedArchiveFile={archive}", "no checked archive: run `make setup`"
    assert class_archive.submit_args(DEFAULT_SPARK_ARGS) != DEFAULT_SPARK_ARGS  # the local runner uses it
    proc = class_archive.start_with(archive, DEFAULT_SPARK_ARGS, str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1] == "3"  # (Spark logs its warnings to stdout too)
    not_an_archive = tmp_path / "zeros.jsa"
    not_an_archive.write_bytes(bytes(4096))
    refused = class_archive.start_with(not_an_archive, DEFAULT_SPARK_ARGS, str(tmp_path))
    assert refused.returncode != 0
    assert "bad magic number" in refused.stdout + refused.stderr
