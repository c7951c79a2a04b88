"""Runs a Glue job's script on local PySpark, as ``glue:startJobRun.sync`` runs it on AWS.

The script is the one template.yaml names (the same file Glue runs). It runs in
a child process, like a Glue job run: its JVM and memory are gone when it ends.
s3:// arguments are rewritten to the local zone paths; Glue's own arguments
(``--job-language``, ``--enable-*``, ...) are dropped because local Spark has no use for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from covid_pipeline.adapters.local import class_archive
from covid_pipeline.adapters.local.object_store import LocalObjectStore
from covid_pipeline.ports import EngineError

# Arguments Glue itself interprets; the script never sees them on AWS either.
GLUE_RESERVED_PREFIXES = (
    "--job-",
    "--enable-",
    "--extra-",
    "--additional-",
    "--TempDir",
    "--conf",
    "--datalake-",
)
# canChangeCachedPlanOutputPartitioning=false plans cached frames without adaptive execution,
# so the Clean job's cached feeds (JHU, NYT, ...) are computed by one job whose stages run side
# by side; adaptively planned, each cache is built in turn and a core idles at every stage's tail.
DEFAULT_SPARK_ARGS = (
    "--master local[2] --driver-memory 2g "
    "--conf spark.sql.shuffle.partitions=4 --conf spark.ui.enabled=false "
    "--conf spark.sql.optimizer.canChangeCachedPlanOutputPartitioning=false "
    "--conf spark.sql.session.timeZone=UTC --conf spark.driver.extraJavaOptions=-Dlog4j2.level=warn "
    "pyspark-shell"
)
# A job whose input is at most this many bytes (a day's upload: a few MB of staged Parquet) runs with
# SMALL_INPUT_SPARK_ARGS: its time goes to the JVM planning queries and scheduling small stages,
# not to data. The full history (hundreds of MB) keeps DEFAULT_SPARK_ARGS.
SMALL_INPUT_BYTES = 64 * 2**20
# Local-only settings; the output does not depend on them (tests/integration/test_small_input_settings.py).
# * adaptive execution off: AQE re-optimises the whole plan after every stage and runs each stage as a
#   job of its own, for stages of a few KB;
# * one shuffle partition: one task per stage instead of four near-empty ones;
# * the JIT's first tier only, serial GC: a JVM that lives a minute compiles less and starts faster.
SMALL_INPUT_SQL_CONF = {"spark.sql.adaptive.enabled": "false", "spark.sql.shuffle.partitions": "1"}
SMALL_INPUT_SPARK_ARGS = DEFAULT_SPARK_ARGS.removesuffix("pyspark-shell") + (
    "".join(f"--conf {name}={value} " for name, value in SMALL_INPUT_SQL_CONF.items())
    + "--conf 'spark.driver.extraJavaOptions=-Dlog4j2.level=warn -XX:TieredStopAtLevel=1 -XX:+UseSerialGC' "
    "pyspark-shell"
)
# A small input's job runs on the warm driver (warm_spark.py) when there is one free: started with
# WARM_DRIVER_SPARK_ARGS (a long-lived JVM wants the whole JIT), each job on a session of its own with
# SMALL_INPUT_SQL_CONF. A large input runs cold: its time is data, and its memory is returned when it ends.
# The warm driver's jobs are mostly planning (Catalyst's analyzer and optimizer: wide code, few deep loops), and
# its JIT's second tier (C2) spent about half of each job's CPU compiling, still 1.6-5 CPU-s a job after ten jobs
# (bench.warm_clean, compiler threads read from /proc). C2 inlining less deep and compiling a method after twice
# the calls cut a warm one-day Clean's JVM CPU by 10-20 % over 14 jobs at the same wall time, and leave a 41 MB
# input's jobs as they were (docs/performance.md). The inlining limits are those before JDK 14, which raised
# MaxInlineLevel from 9 to 15, and before x64's InlineSmallCode went to 2000, then 2500 (JDK-8254913); JDK 17's
# defaults (`java -XX:+PrintFlagsFinal`): 15, 2500, and Tier4 thresholds 5000 and 15000.
WARM_DRIVER_JIT_OPTIONS = (
    "-XX:MaxInlineLevel=9 -XX:InlineSmallCode=1000 -XX:Tier4InvocationThreshold=10000 -XX:Tier4CompileThreshold=30000"
)
WARM_DRIVER_SPARK_ARGS = class_archive.with_java_option(DEFAULT_SPARK_ARGS, WARM_DRIVER_JIT_OPTIONS)
# The argument naming a job's input folder (the Clean job's staged zone of the run).
INPUT_ARGUMENT = "--staged_uri"


@dataclass(frozen=True)
class JobRun:
    id: str
    job_name: str
    state: str
    execution_time_s: float
    summary: Mapping[str, object]
    log_path: str


class LocalSparkJobRunner:
    def __init__(self, store: LocalObjectStore, log_dir: Path, spark_args: str | None = None) -> None:
        self.store = store
        self.log_dir = Path(log_dir)
        # Given here or in the environment, the arguments are used as they are, whatever the input.
        self.spark_args = spark_args or os.environ.get("COVID_PIPELINE_SPARK_ARGS")

    def spark_args_for(self, arguments: Mapping[str, str]) -> str:
        """The PYSPARK_SUBMIT_ARGS of a run: the given ones, else by the size of the job's input."""
        if self.spark_args:
            return self.spark_args
        source = arguments.get(INPUT_ARGUMENT)
        if source is None:
            return DEFAULT_SPARK_ARGS
        small = input_bytes(self._local(str(source))) <= SMALL_INPUT_BYTES
        return SMALL_INPUT_SPARK_ARGS if small else DEFAULT_SPARK_ARGS

    def _local(self, text: str) -> Path:
        if text.startswith("s3://"):
            return Path(self.store.path(text))
        return Path(text.removeprefix("file://"))

    def _argv(self, arguments: Mapping[str, str]) -> list[str]:
        argv: list[str] = []
        for name, value in arguments.items():
            if name.startswith(GLUE_RESERVED_PREFIXES):
                continue
            text = str(value)
            if text.startswith("s3://"):
                text = str(self.store.path(text))
            argv += [name, text]
        return argv

    def run(self, job_name: str, script: Path, arguments: Mapping[str, str]) -> JobRun:
        run_id = "jr_" + uuid.uuid4().hex
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{job_name}-{run_id}.log"
        spark_args = self.spark_args_for(arguments)
        argv = [str(script), "--JOB_NAME", job_name, *self._argv(arguments)]
        started = time.monotonic()
        outcome = self._run_warm(script, argv, log_path) if spark_args == SMALL_INPUT_SPARK_ARGS else None
        if outcome is None:
            outcome = self._run_cold(argv, spark_args, log_path)
        returncode, stdout = outcome
        elapsed = time.monotonic() - started
        summary = _last_json_line(stdout)
        if returncode != 0:
            raise EngineError(
                f"Glue job {job_name} run {run_id} failed (exit {returncode}): "
                f"{_last_error_line(log_path)} [log: {log_path}]"
            )
        return JobRun(run_id, job_name, "SUCCEEDED", elapsed, summary, str(log_path))

    def _run_cold(self, argv: list[str], spark_args: str, log_path: Path) -> tuple[int, str]:
        """The script in a process of its own, as a Glue job run: its JVM and memory go when it ends."""
        spark_args = class_archive.submit_args(spark_args)  # the JVM maps Spark's classes when the archive is built
        env = spark_env(spark_args)
        with log_path.open("a") as log:
            log.write(f"PYSPARK_SUBMIT_ARGS={spark_args}\n")
            log.flush()
            proc = subprocess.run(  # noqa: S603
                [sys.executable, *argv], stdout=subprocess.PIPE, stderr=log, env=env, check=False, text=True
            )
            log.write(proc.stdout)
        return proc.returncode, proc.stdout

    def _run_warm(self, script: Path, argv: list[str], log_path: Path) -> tuple[int, str] | None:
        """The script on the warm driver; None (run it cold) when warm Spark is off, busy or failing to start."""
        from covid_pipeline.adapters.local import warm_spark

        if not warm_spark.enabled():
            return None
        try:
            result = warm_spark.run_job(script, argv, SMALL_INPUT_SQL_CONF, WARM_DRIVER_SPARK_ARGS, log_path)
        except (warm_spark.Busy, OSError, ConnectionError, TimeoutError) as exc:
            with log_path.open("a") as log:
                log.write(f"warm Spark not used ({exc}); running cold\n")
            return None
        with log_path.open("a") as log:
            how = "started for it" if result.started_driver else "reused"
            log.write(f"warm Spark driver pid {result.driver_pid} ({how}), SQL conf {SMALL_INPUT_SQL_CONF}\n")
            log.write(result.stdout)
        return result.exit_code, result.stdout


def spark_env(spark_args: str) -> dict[str, str]:
    """The environment of a Python process that starts a local Spark JVM: pyspark reads its spark-submit
    arguments from PYSPARK_SUBMIT_ARGS, and its Python workers run this interpreter."""
    return {**os.environ, "PYSPARK_SUBMIT_ARGS": spark_args, "PYSPARK_PYTHON": sys.executable}


def input_bytes(folder: Path) -> int:
    """Bytes of the files below ``folder`` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _last_json_line(stdout: str) -> dict[str, object]:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


def _last_error_line(log_path: Path) -> str:
    """The most telling line of a failed run: the last exception message, else the last line."""
    lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line[:500]
    return lines[-1][:500] if lines else "no output"
