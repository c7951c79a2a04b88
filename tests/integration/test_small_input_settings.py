"""A day's upload runs Clean with the local small-input Spark settings on the warm driver; the tables equal those
of Glue's settings in a JVM of their own.

One upload of a real JHU report into a fresh home (its Clean job is small by the staged input's size, so it
runs on the warm Spark driver with SMALL_INPUT_SQL_CONF), then the same Clean job, same arguments and staged
input, run again: once more on the warm driver (after the first: nothing of one job may leak into the next),
and cold with DEFAULT_SPARK_ARGS (the plain settings, as COVID_PIPELINE_SPARK_ARGS would force), each into
other folders. Every table written must hold the same rows (a multiset comparison in DuckDB).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bench.proctree import children
from covid_pipeline import schema
from covid_pipeline.adapters.local import class_archive
from covid_pipeline.adapters.local.job_runner import (
    DEFAULT_SPARK_ARGS,
    SMALL_INPUT_SQL_CONF,
    WARM_DRIVER_JIT_OPTIONS,
    LocalSparkJobRunner,
)
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.cli import main

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "data" / "sample" / "enigma-jhu" / "csv" / "04-13-2020.csv"
JOB = ROOT / "glue" / "clean_job.py"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    home = tmp_path_factory.mktemp("small") / "home"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("COVID_PIPELINE_SPARK_ARGS", raising=False)  # else the runner uses it whatever the input
        assert main(["upload", str(REPORT), "--dataset", "enigma-jhu", "--home", str(home)]) == 0
    (execution,) = (home / "executions").iterdir()
    events = [json.loads(line) for line in (execution / "history.jsonl").read_text().splitlines()]
    (scheduled,) = [e for e in events if e["type"] == "TaskScheduled" and e["state"] == "Clean"]
    arguments = scheduled["details"]["parameters"]["Arguments"]
    (clean_log,) = (execution / "logs").glob("*clean*.log")

    store = LocalObjectStore(home)
    plain_out = tmp_path_factory.mktemp("plain")
    plain_arguments = arguments | {
        "--curated_uri": str(plain_out / "curated"),
        "--quarantine_uri": str(plain_out / "quarantine"),
    }
    plain = LocalSparkJobRunner(store, plain_out / "logs", spark_args=DEFAULT_SPARK_ARGS)
    plain_run = plain.run("clean", JOB, plain_arguments)
    again_out = tmp_path_factory.mktemp("again")
    again_arguments = arguments | {
        "--curated_uri": str(again_out / "curated"),
        "--quarantine_uri": str(again_out / "quarantine"),
    }
    again_run = LocalSparkJobRunner(store, again_out / "logs").run("clean", JOB, again_arguments)
    run_id = arguments["--run_id"]

    def folders(curated: Path, quarantine: Path) -> dict[str, Path]:
        return {
            name: quarantine / run_id if name == schema.QUARANTINE.name else curated / name for name in schema.TABLES
        }

    return {
        "small_log": clean_log.read_text(),
        "plain_log": Path(plain_run.log_path).read_text(),
        "again_log": Path(again_run.log_path).read_text(),
        "small": folders(store.path(arguments["--curated_uri"]), store.path(arguments["--quarantine_uri"])),
        "plain": folders(plain_out / "curated", plain_out / "quarantine"),
        "again": folders(again_out / "curated", again_out / "quarantine"),
    }


def _warm_driver(log: str) -> str:
    (line,) = [line for line in log.splitlines() if line.startswith("warm Spark driver pid") and "SQL conf" in line]
    assert line.endswith(f"SQL conf {SMALL_INPUT_SQL_CONF}")
    return line.split()[4]  # the pid


def test_the_upload_ran_on_the_warm_driver_and_the_plain_run_cold(runs) -> None:
    assert _warm_driver(runs["small_log"]) == _warm_driver(runs["again_log"])
    assert "(reused)" in runs["again_log"]
    # Glue's settings, and Spark's classes mapped from `make setup`'s archive (test_class_archive_jvm.py).
    assert runs["plain_log"].splitlines()[0] == f"PYSPARK_SUBMIT_ARGS={class_archive.submit_args(DEFAULT_SPARK_ARGS)}"
    assert "-XX:SharedArchiveFile=" in runs["plain_log"].splitlines()[0]
    assert "warm Spark" not in runs["plain_log"]


def _child_jvm_arguments(pid: int) -> list[str]:
    """The command line of ``pid``'s Java child: the JVM PySpark started for it."""
    commands = [Path(f"/proc/{child}/cmdline").read_bytes().decode().split("\0") for child in children(pid)]
    (arguments,) = [c for c in commands if Path(c[0]).name == "java"]
    return arguments


def test_the_warm_drivers_jvm_has_its_jit_options_and_the_class_archive(runs) -> None:
    arguments = _child_jvm_arguments(int(_warm_driver(runs["again_log"])))
    assert set(WARM_DRIVER_JIT_OPTIONS.split()) <= set(arguments)
    assert any(a.startswith("-XX:SharedArchiveFile=") for a in arguments)


@pytest.mark.parametrize("other", ["plain", "again"])
@pytest.mark.parametrize("table", list(schema.TABLES))
def test_every_table_holds_the_same_rows(runs, table: str, other: str) -> None:
    con = duckdb.connect()
    small = f"read_parquet('{runs['small'][table]}/*.parquet')"
    plain = f"read_parquet('{runs[other][table]}/*.parquet')"
    columns = [con.sql(f"DESCRIBE SELECT * FROM {side}").fetchall() for side in (small, plain)]
    assert columns[0] == columns[1]
    only_small = con.sql(f"SELECT count(*) FROM (SELECT * FROM {small} EXCEPT ALL SELECT * FROM {plain})").fetchone()
    only_plain = con.sql(f"SELECT count(*) FROM (SELECT * FROM {plain} EXCEPT ALL SELECT * FROM {small})").fetchone()
    assert (only_small, only_plain) == ((0,), (0,))


def test_the_compared_tables_are_not_empty(runs) -> None:
    con = duckdb.connect()
    for table in ("dim_region", "fact_cases_daily", "dim_date", "load_audit"):
        (rows,) = con.sql(f"SELECT count(*) FROM read_parquet('{runs['small'][table]}/*.parquet')").fetchone() or (0,)
        assert rows > 0, table


def _compiled(log: str) -> int:
    (line,) = [line for line in log.splitlines() if line.endswith("generated classes compiled")]
    return int(line.split()[-4])


def test_the_same_job_again_on_the_warm_driver_compiles_next_to_no_class(runs) -> None:
    """The warm driver keeps Spark's generated classes between jobs (warm_spark.CODEGEN_CACHE_ENTRIES): with
    Spark's default of 100 kept, every job of this shape compiled its ~400 classes again (395 measured)."""
    assert _compiled(runs["again_log"]) < 50
