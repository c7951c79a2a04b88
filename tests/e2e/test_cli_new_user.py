"""The CLI tried as a new user would (issue #12): data printed verbatim, clear errors for wrong paths, uploads
refused before copying, refused objects listed and cleared, progress that a CI log can follow, honest help.

In process (``covid_pipeline.cli.main``) with the output captured, so not a terminal; no Spark run.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from covid_pipeline import cli
from covid_pipeline.composition import local_ports
from covid_pipeline.domain.refused_objects import RefusedRecord, refused_objects, remember
from covid_pipeline.runner.asl import StateMachine, TaskFailed
from covid_pipeline.runner.local import LocalPipeline, local_settings

HOSTILE = ("[/]", "[bold]x[/bold]", ":x:", "[red]")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
NYT = b"date,county,state,fips,cases,deaths\n2020-04-01,Autauga,Alabama,01001,5,1\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ports(home: Path):  # type: ignore[no-untyped-def]
    return local_ports(local_settings(LocalPipeline(home)))


# -- fix 2: data and keys verbatim ---------------------------------------------------------------------


def test_sql_table_prints_markup_and_emoji_codes_in_data_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    duckdb.connect(str(home / "warehouse.duckdb")).close()
    columns = ", ".join(f"'{v}' AS c{i}" for i, v in enumerate(HOSTILE))
    code, out, _ = run(capsys, "sql", f"SELECT {columns}, '[bold]' AS \"[red]name\"", "--home", str(home))
    assert code == 0
    for value in (*HOSTILE, "[bold]", "[red]name"):
        assert value in out
    assert "❌" not in out


def test_errors_and_refused_keys_are_printed_verbatim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    key = "enigma-jhu/csv/[bold]x[/bold] :x: [red] [/].csv"
    record = RefusedRecord(key, "e1", "not UTF-8 text: byte 0x89 at offset 0", "2026-01-01T00:00:00Z", "r1")
    remember(_ports(home).store, local_settings(LocalPipeline(home)).quarantine_uri, record)
    code, _, err = run(capsys, "refused", "--home", str(home))
    assert code == 0
    assert key in err
    chart = tmp_path / "[red] :x: [bold]chart.png"  # a file name cannot hold "/"
    chart.write_bytes(PNG)
    code, _, err = run(capsys, "upload", str(chart), "--dataset", "enigma-jhu", "--home", str(home))
    assert code == 2
    assert f"error: {chart.name}: no feed of enigma-jhu reads such a file" in err


def test_the_summary_lists_each_refused_object_with_its_reason_and_no_time_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = {
        "run_id": "r1",
        "quarantine_uri": "s3://lake/quarantine/",
        "refused": [{"key": "enigma-jhu/csv/[red]x.csv", "reason": "not UTF-8 text: byte 0x89 at offset 0"}],
        "refused_count": 1,
        "stage": {
            "refused_objects": 3,
            "refusals": ["s3://raw/a/[bold]m.csv: missing required column(s): deaths", "s3://raw/a/e.csv: empty :x:"],
        },
    }
    record = SimpleNamespace(output=output, state_durations={"Setup": 1.0, "Stage": 2.0})
    cli._summary(record, tmp_path)
    err = capsys.readouterr().err
    assert "refused enigma-jhu/csv/[red]x.csv: not UTF-8 text: byte 0x89 at offset 0" in err
    assert "s3://raw/a/[bold]m.csv: missing required column(s): deaths" in err
    assert "s3://raw/a/e.csv: empty :x:" in err
    assert "1 more, listed in s3://lake/quarantine/_refused/r1.jsonl" in err
    assert "time per state" not in err


# -- fix 3: --home and --source that are files; --home before or after the command --------------------


@pytest.mark.parametrize(
    "argv",
    [("status",), ("run",), ("upload", "{file}", "--dataset", "enigma-jhu"), ("refused",), ("sql", "SELECT 1")],
)
def test_a_home_that_is_a_file_is_a_clear_error(
    argv: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home.txt"
    home.write_text("not a folder")
    (tmp_path / "04-12-2020.csv").write_bytes(NYT)
    args = [a.replace("{file}", str(tmp_path / "04-12-2020.csv")) for a in argv]
    for placed in ([*args, "--home", str(home)], ["--home", str(home), *args]):
        code, _, err = run(capsys, *placed)
        assert code == 2, placed
        assert f"error: --home {home} is a file, not a folder" in err
    code, _, err = run(capsys, *args, "--home", str(home / "sub"))
    assert code == 2
    assert f"{home} is a file, not a folder" in err


def test_a_source_that_is_a_file_says_to_give_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "04-12-2020.csv"
    source.write_bytes(NYT)
    code, _, err = run(capsys, "run", "--source", str(source), "--home", str(tmp_path / "h"))
    assert code == 2
    assert f"--source {source} is a file: give the folder that holds the dataset folders" in err


def test_home_is_taken_before_and_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["--home", "h1", "status"]).home == Path("h1")
    assert parser.parse_args(["status", "--home", "h2"]).home == Path("h2")
    assert parser.parse_args(["--home", "h1", "status", "--home", "h2"]).home == Path("h2")
    assert parser.parse_args(["status"]).home == cli.DEFAULT_HOME
    home = tmp_path / "home"
    remember(_ports(home).store, local_settings(LocalPipeline(home)).quarantine_uri,
             RefusedRecord("enigma-jhu/csv/x.csv", "e1", "why", "2026-01-01T00:00:00Z", "r1"))  # fmt: skip
    for argv in (["--home", str(home), "refused"], ["refused", "--home", str(home)]):
        code, _, err = run(capsys, *argv)
        assert code == 0
        assert "enigma-jhu/csv/x.csv" in err


# -- fixes 1 and 5: uploads refused before copying; `refused` lists and clears ---------------------------


def _raw_files(home: Path) -> list[Path]:
    return [p for p in (home / "s3").rglob("*") if p.is_file() and "reference" not in p.parts] if home.exists() else []


def test_upload_refuses_a_file_no_feed_reads_before_copying_and_says_what_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    chart = tmp_path / "chart.png"
    chart.write_bytes(PNG)
    code, _, err = run(capsys, "upload", str(chart), "--dataset", "enigma-jhu", "--home", str(home))
    assert code == 2
    assert "--prefix" not in err  # no suggestion that would only copy the PNG into the raw zone
    assert "accepts: csv/: MM-DD-YYYY.csv, *.csv[.gz], *.json|*.jsonl|*.geojson[.gz]; json/:" in err
    code, _, err = run(capsys, "upload", str(chart), "--dataset", "enigma-jhu", "--prefix", "csv/", "--home", str(home))
    assert code == 2
    assert "chart.png: no feed of enigma-jhu reads it in csv/; enigma-jhu accepts: csv/: MM-DD-YYYY.csv" in err
    assert _raw_files(home) == []


def test_upload_refuses_a_csv_that_is_not_text_before_copying_any_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    good = tmp_path / "04-12-2020.csv"
    good.write_bytes(NYT)
    bad = tmp_path / "04-13-2020.csv"
    bad.write_bytes(PNG)
    code, _, err = run(capsys, "upload", str(good), str(bad), "--dataset", "enigma-jhu", "--home", str(home))
    assert code == 2
    assert f"error: {bad}: not UTF-8 text: byte 0x89 at offset 0; nothing was uploaded" in err
    assert _raw_files(home) == []
    assert not (home / "executions").exists()


def test_refused_lists_each_refused_object_and_clear_forgets_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    ports = _ports(home)
    quarantine = ports.settings.quarantine_uri
    code, _, err = run(capsys, "refused", "--home", str(home))
    assert (code, "no refused objects" in err) == (0, True)
    for key in ("enigma-jhu/csv/a.csv", "enigma-jhu/csv/b.csv"):
        remember(ports.store, quarantine, RefusedRecord(key, f"etag-{key[-5]}", "not text: NUL byte at offset 3",
                                                        "2026-01-01T00:00:00Z", "run-1"))  # fmt: skip
    code, _, err = run(capsys, "refused", "--home", str(home))
    assert code == 0
    assert "enigma-jhu/csv/a.csv\n    etag etag-a, refused 2026-01-01T00:00:00Z by run run-1: not text: NUL byte" in err
    assert "2 refused object(s)" in err
    code, _, err = run(capsys, "refused", "--clear", "enigma-jhu/csv/a.csv", "--home", str(home))
    assert code == 0
    assert "forgot the refusal of enigma-jhu/csv/a.csv (etag etag-a): the next run reads it again" in err
    assert list(refused_objects(ports.store, quarantine)) == ["enigma-jhu/csv/b.csv"]
    code, _, err = run(capsys, "refused", "--clear", "enigma-jhu/csv/a.csv", "--home", str(home))
    assert code == 2
    assert "no refusal of 'enigma-jhu/csv/a.csv' is remembered" in err


# -- fixes 4 and 7: progress lines ----------------------------------------------------------------------

DEFINITION = {
    "StartAt": "Work",
    "States": {
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 1, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "NotifyFailure"}],
            "End": True,
        },
        "NotifyFailure": {"Type": "Pass", "End": True},
    },
}


def test_progress_shows_a_failed_state_once_as_failed_and_each_start_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    errors = iter(["Busy", "Boom"])

    def invoker(resource: str, params: Any, context: Any) -> Any:
        raise TaskFailed(next(errors), "it broke")

    with cli._Progress() as progress:
        StateMachine(DEFINITION, invoker=invoker, listener=progress, sleep=lambda _s: None).execute(
            {}, execution_name="e1"
        )
    lines = capsys.readouterr().err.splitlines()
    work = [line.split()[0] for line in lines if "Work" in line]
    assert work == ["▶", "↻", "✗"]  # started, retried, failed: once, never also ✓
    (failed,) = [line for line in lines if line.lstrip().startswith("✗")]
    assert failed.split()[1] == "Work"
    assert failed.endswith("Boom")
    assert [line.split()[0] for line in lines if "NotifyFailure" in line] == ["▶", "✓"]
    assert lines[0].strip() == "▶ Work started"


# -- fix 8: help says what the code does ---------------------------------------------------------------


def test_help_texts_say_what_the_commands_do(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert "then run ONE execution for all of them" in top
    assert "for each" not in top
    assert "refused" in top
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    run_help = " ".join(capsys.readouterr().out.split())
    assert "bundled sample" not in run_help  # the default source is data/lake, not data/sample
    assert "data/lake" in run_help
    with pytest.raises(SystemExit):
        cli.main(["refused", "--help"])
    refused_help = " ".join(capsys.readouterr().out.split())
    assert "--clear KEY forgets the refusal only: the next run reads the object again" in refused_help
    assert "never moved or deleted" in refused_help


def test_status_shows_each_execution_name_whole_when_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Captured output is 80 columns wide: names (what a user copies to look an execution up) are never cut,
    and a failure's reason stays readable."""
    home = tmp_path / "home"
    names = ["upload-20261203T181834Z-a6f620d8b1c2d3e4", "run-20261203T181834Z-a6f620d8"]
    for i, name in enumerate(names):
        folder = home / "executions" / name
        folder.mkdir(parents=True)
        failed = i == 0
        record = {
            "name": name,
            "status": "FAILED" if failed else "SUCCEEDED",
            "started_at": 1796321914.9 + i,
            "stopped_at": 1796322286.8 + i,
            "input": {},
            "output": {},
            "error": "CrawlerFailed" if failed else None,
            "cause": "x.csv: not UTF-8 text" if failed else None,
            "failed_state": "PollCrawl" if failed else None,
            "state_durations": {},
        }
        (folder / "execution.json").write_text(json.dumps(record))
    code, out, _ = run(capsys, "status", "--home", str(home))
    assert code == 0
    lines = out.splitlines()
    for name in names:
        assert any(name in line for line in lines), out
    assert "PollCrawl" in out
