"""`covid-pipeline backfill --dry-run` on the local home lists the raw objects it covers (cli.backfill_plan, the
listing `backfill --stack` shares over the raw bucket) and starts nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from covid_pipeline import cli
from covid_pipeline.composition import local_ports
from covid_pipeline.runner.local import LocalPipeline, local_settings


def test_dry_run_lists_the_covered_raw_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    settings = local_settings(LocalPipeline(home))
    store = local_ports(settings).store
    store.ensure_bucket(settings.raw_uri)
    for day in ("01-01-2021", "01-05-2021"):
        store.put_bytes(f"{settings.raw_uri}enigma-jhu/csv/{day}.csv", b"FIPS,Confirmed\n")
    argv = ["--home", str(home), "backfill", "--dataset", "enigma-jhu", "--from", "2021-01-01", "--to", "2021-01-02"]
    assert cli.main([*argv, "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert f"{settings.raw_uri}enigma-jhu/csv/01-01-2021.csv" in err
    assert "01-05-2021" not in err
    assert "dry run: 1 object(s) would be re-processed; nothing was started" in err
    assert not (home / "executions").exists()
