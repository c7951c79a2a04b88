"""Where one Clean run's time goes, phase by phase, with deterministic proxies beside the wall time.

    python -m bench.clean_phases --staged DIR --manifest FILE [--out DIR] [--spark-args ARGS] [--by-caller N]

Runs glue/clean_job.py's own functions in this process (PYSPARK_SUBMIT_ARGS from
job_runner.DEFAULT_SPARK_ARGS unless --spark-args) and prints, per phase (import, session with
its JVM start, read, build_star, writes with their row counts, rejected summary): wall seconds, the
driver's Python CPU seconds (time.process_time), py4j round trips, DataFrames built (each one a plan
the JVM analyses in full) and Spark jobs. Round trips, frames and jobs do not depend on the machine's
load: they are the measures to compare on a busy machine. The last line is machine-readable
(PHASES {json}). --by-caller N also prints the N lines of the job's code (glue/) that make the most
round trips: where planning time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = time.monotonic()
ROOT = Path(__file__).resolve().parents[1]


class Py4jCounter:
    """Counts the driver's round trips to the JVM: every command py4j sends (calls, field reads, GC)."""

    def __init__(self) -> None:
        self.calls = 0
        # DataFrames built: each is a plan the JVM analyses in full (the driver's planning, beside round trips).
        self.frames = 0
        # Round trips per line of the job's own code (glue/) that made them, when asked for: innermost line
        # alone, and every line on the stack (a call's own and its callees').
        self.sites: Counter[str] | None = None
        self.cumulative: Counter[str] = Counter()

    def install(self) -> None:
        from py4j.java_gateway import GatewayClient

        original = GatewayClient.send_command
        counter = self

        def send_command(client: Any, *args: Any, **kwargs: Any) -> Any:
            counter.calls += 1
            if counter.sites is not None:
                sites = _job_sites()
                counter.sites[sites[0]] += 1
                counter.cumulative.update(set(sites))
            return original(client, *args, **kwargs)

        GatewayClient.send_command = send_command  # type: ignore[method-assign]

        from pyspark.sql import DataFrame

        original_init = DataFrame.__init__

        def init(frame: Any, *args: Any, **kwargs: Any) -> None:
            counter.frames += 1
            original_init(frame, *args, **kwargs)

        DataFrame.__init__ = init  # type: ignore[method-assign]


def _job_sites() -> list[str]:
    """The frames of the job's code (glue/) on the stack, innermost first: file:line function."""
    sites, frame = [], sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if f"{os.sep}glue{os.sep}" in path:
            sites.append(f"{Path(path).name}:{frame.f_lineno} {frame.f_code.co_name}")
        frame = frame.f_back
    return sites or ["(outside glue/)"]


def jvm_cpu_seconds() -> float:
    """CPU seconds (user + system) of this process's children: the Spark JVM and its launcher."""
    from bench.proctree import children, cpu_seconds

    total = 0.0
    stack = children(os.getpid())
    while stack:
        pid = stack.pop()
        try:
            total += cpu_seconds(f"/proc/{pid}/stat")
        except (OSError, IndexError, ValueError):
            continue
        stack += children(pid)
    return total


def main(argv: list[str] | None = None) -> int:
    from covid_pipeline.adapters.local.job_runner import DEFAULT_SPARK_ARGS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staged", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "clean-phases-out"))
    parser.add_argument("--spark-args", default=os.environ.get("COVID_PIPELINE_SPARK_ARGS", DEFAULT_SPARK_ARGS))
    parser.add_argument("--cprofile", help="write cProfile stats of read + build_star to this file")
    parser.add_argument("--by-caller", type=int, default=0, metavar="N", help="print the N costliest call sites")
    args = parser.parse_args(argv)
    os.environ["PYSPARK_SUBMIT_ARGS"] = args.spark_args
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    shutil.rmtree(args.out, ignore_errors=True)

    counter = Py4jCounter()
    if args.by_caller:
        counter.sites = Counter()
    rows: list[dict[str, Any]] = [
        {"phase": "python start", "wall_s": time.monotonic() - STARTED, "cpu_s": time.process_time()}
    ]
    jobs = {"seen": 0}
    spark_holder: dict[str, Any] = {}

    def job_count() -> int:
        spark = spark_holder.get("spark")
        if spark is None or spark.sparkContext._jsc is None:  # before the session, after its stop
            return 0
        calls = counter.calls  # the tracker's own round trips are not the job's
        tracker = spark.sparkContext.statusTracker()
        count = len(tracker.getJobIdsForGroup(None))
        counter.calls = calls
        return count

    def phase(name: str, action: Callable[[], Any]) -> Any:
        wall, cpu, calls, before_jobs = time.monotonic(), time.process_time(), counter.calls, job_count()
        frames = counter.frames
        jvm = jvm_cpu_seconds()
        result = action()
        jvm = jvm_cpu_seconds() - jvm
        rows.append(
            {
                "phase": name,
                "wall_s": time.monotonic() - wall,
                "cpu_s": time.process_time() - cpu,
                "py4j": counter.calls - calls,
                "frames": counter.frames - frames,
                "jobs": job_count() - before_jobs,
                "jvm_cpu_s": jvm,
            }
        )
        return result

    def imports() -> Any:
        counter.install()
        import clean_job

        return clean_job

    clean_job = phase("import pyspark + job", imports)
    job_args = clean_job.parse_args(
        [
            "clean_job",
            *("--JOB_NAME", "phases", "--run_id", "r1", "--started_at", "2026-01-01T00:00:00Z"),
            *("--staged_uri", args.staged, "--manifest_uri", args.manifest),
            *("--curated_uri", f"{args.out}/curated", "--quarantine_uri", f"{args.out}/q"),
        ]
    )
    from pyspark.sql import SparkSession

    spark = phase("session (JVM start)", lambda: SparkSession.builder.appName(clean_job.APP_NAME).getOrCreate())
    spark_holder["spark"] = spark
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        tables = phase("read staged + build_star", lambda: profiler.runcall(_build, clean_job, spark, job_args))
        profiler.dump_stats(args.cprofile)
    else:
        tables = phase("read staged + build_star", lambda: _build(clean_job, spark, job_args))
    counts = phase("write (rows counted)", lambda: clean_job.write_tables(spark, tables, job_args))
    rejected = phase("rejected summary", lambda: clean_job.rejected_by_reason(spark, job_args))
    jobs["seen"] = sum(r.get("jobs", 0) for r in rows)
    jvm_total = sum(r.get("jvm_cpu_s", 0.0) for r in rows)
    # Stopping ends the Python workers too (their CPU leaves the tree): wall and driver CPU only.
    stop, stop_cpu = time.monotonic(), time.process_time()
    spark.stop()
    rows.append({"phase": "session stop", "wall_s": time.monotonic() - stop, "cpu_s": time.process_time() - stop_cpu})
    total = {
        "phase": "total",
        "wall_s": time.monotonic() - STARTED,
        "cpu_s": time.process_time(),
        "py4j": counter.calls,
        "frames": counter.frames,
        "jobs": jobs["seen"],
        "jvm_cpu_s": jvm_total,
    }
    rows.append(total)
    print(f"{'phase':<26} {'wall s':>7} {'py cpu s':>8} {'jvm cpu s':>9} {'py4j':>7} {'frames':>6} {'jobs':>5}")
    for row in rows:
        print(
            f"{row['phase']:<26} {row['wall_s']:>7.2f} {row['cpu_s']:>8.2f} {row.get('jvm_cpu_s', 0.0):>9.2f} "
            f"{row.get('py4j', ''):>7} {row.get('frames', ''):>6} {row.get('jobs', ''):>5}"
        )
    print(f"load average: {os.getloadavg()}")
    if counter.sites is not None:
        for title, sites in (("innermost", counter.sites), ("cumulative", counter.cumulative)):
            print(f"py4j round trips by line of glue/ ({title}):")
            for site, calls in sites.most_common(args.by_caller):
                print(f"{calls:>7} {site}")
    print("PHASES " + json.dumps({"rows": rows, "tables": counts, "rejected": rejected}, sort_keys=True))
    return 0


def _build(clean_job: Any, spark: Any, job_args: Any) -> Any:
    """What clean_job.run does before writing: session settings, read, build_star."""
    from covid_transforms.star import build_star

    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    staged = clean_job.read_staged(spark, job_args.staged_uri)
    manifest = clean_job.read_manifest(spark, job_args.manifest_uri)
    return build_star(staged, manifest, job_args.run_id, job_args.started_at)


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "glue"), str(ROOT / "layers" / "shared" / "python")]
    sys.exit(main())
