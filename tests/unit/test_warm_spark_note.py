"""After an execution the CLI says when a warm Spark driver stays up in the background (and how to stop it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from covid_pipeline import cli


def test_a_running_driver_is_named_with_how_to_stop_it(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COVID_PIPELINE_SPARK_DIR", str(tmp_path))
    monkeypatch.setenv("COVID_PIPELINE_WARM_SPARK_IDLE", "300")
    (tmp_path / "spark-0123456789abcdef.pid").write_text("4242")
    cli._warm_spark_note()
    err = capsys.readouterr().err
    assert "spark: warm driver pid 4242 kept for the next small batch; it stops after 5 idle minutes" in err
    assert "covid-pipeline spark stop" in err


@pytest.mark.parametrize("files", [[], ["spark-0123456789abcdef.sock"]])
def test_no_driver_no_note(tmp_path: Path, monkeypatch, capsys, files: list[str]) -> None:
    monkeypatch.setenv("COVID_PIPELINE_SPARK_DIR", str(tmp_path))
    for name in files:
        (tmp_path / name).write_text("")
    cli._warm_spark_note()
    assert capsys.readouterr().err == ""
