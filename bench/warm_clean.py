"""What a Clean costs on a warm driver: the same job run again and again on one JVM, as warm_spark.py runs it.

    python -m bench.warm_clean --staged DIR --manifest FILE [--repeat N] [--codegen-cache-entries N] [--spark-args A]

Runs glue/clean_job.py's ``main(argv, spark)`` ``--repeat`` times in this process, each on a new session
with job_runner.SMALL_INPUT_SQL_CONF and the cache cleared after it, on a session started with
job_runner.WARM_DRIVER_SPARK_ARGS (``--spark-args`` with job_runner.DEFAULT_SPARK_ARGS measures it without the
warm driver's JIT options), the py4j lookups kept (jvm_lookups.py) and Spark's cache of generated
classes at ``--codegen-cache-entries`` (default warm_spark.CODEGEN_CACHE_ENTRIES; Spark's own default is
100): the warm driver's set-up, so ``--codegen-cache-entries 100`` measures it without that cache. Prints,
per job: wall seconds, the JVM's CPU seconds, generated classes compiled. The first job pays the JIT's
warm-up, the second finds what the first left: the last line (WARM {json}) gives the means of the jobs
after the second. Compare two settings in one sitting, alternating (machines are noisy).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.proctree import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from covid_pipeline.adapters.local.job_runner import SMALL_INPUT_SQL_CONF, WARM_DRIVER_SPARK_ARGS
    from covid_pipeline.adapters.local.jvm_lookups import remember_jvm_lookups
    from covid_pipeline.adapters.local.warm_spark import CODEGEN_CACHE_ENTRIES, _classes_compiled

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staged", required=True, help="a run's staged zone (the Clean job's --staged_uri)")
    parser.add_argument("--manifest", required=True, help="that run's manifest.jsonl")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "warm-clean-out"))
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--codegen-cache-entries", type=int, default=CODEGEN_CACHE_ENTRIES)
    parser.add_argument(
        "--spark-args", default=WARM_DRIVER_SPARK_ARGS, help="PYSPARK_SUBMIT_ARGS (default: the warm driver's)"
    )
    args = parser.parse_args(argv)
    if args.repeat < 3:
        parser.error("--repeat must be at least 3 (the first two jobs are warm-up)")
    os.environ["PYSPARK_SUBMIT_ARGS"] = args.spark_args
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    shutil.rmtree(args.out, ignore_errors=True)

    remember_jvm_lookups()
    import clean_job
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("warm-clean-bench").config("spark.ui.showConsoleProgress", "false")
    spark = builder.config("spark.sql.codegen.cache.maxEntries", str(args.codegen_cache_entries)).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    jvm_pid = int(spark._jvm.java.lang.ProcessHandle.current().pid())

    def jvm_cpu_s() -> float:
        return cpu_seconds(f"/proc/{jvm_pid}/stat")

    jobs = []
    for number in range(args.repeat):
        out = Path(args.out) / str(number)
        job_argv = [
            "clean_job",
            *("--JOB_NAME", "warm-clean", "--run_id", "r1", "--started_at", "2026-01-01T00:00:00Z"),
            *("--staged_uri", args.staged, "--manifest_uri", args.manifest),
            *("--curated_uri", str(out / "curated"), "--quarantine_uri", str(out / "q")),
        ]
        session = spark.newSession()
        for name, value in SMALL_INPUT_SQL_CONF.items():
            session.conf.set(name, value)
        wall, cpu, compiled = time.monotonic(), jvm_cpu_s(), _classes_compiled(spark)
        with contextlib.redirect_stdout(io.StringIO()):
            code = clean_job.main(job_argv, spark=session)
        spark.catalog.clearCache()
        if code != 0:
            print(f"job {number} failed (exit {code})", file=sys.stderr)
            return 1
        job = {
            "wall_s": round(time.monotonic() - wall, 2),
            "jvm_cpu_s": round(jvm_cpu_s() - cpu, 2),
            "classes_compiled": _classes_compiled(spark) - compiled,
        }
        jobs.append(job)
        print(f"job {number}: {job['wall_s']:6.2f} s wall {job['jvm_cpu_s']:6.2f} s JVM CPU "
              f"{job['classes_compiled']:4d} classes compiled", flush=True)  # fmt: skip
    spark.stop()
    warm = jobs[2:]
    means = {key: round(sum(job[key] for job in warm) / len(warm), 2) for key in jobs[0]}
    print(f"load average: {os.getloadavg()}")
    print("WARM " + json.dumps({"codegen_cache_entries": args.codegen_cache_entries, **means}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "glue"), str(ROOT / "layers" / "shared" / "python")]
    sys.exit(main())
