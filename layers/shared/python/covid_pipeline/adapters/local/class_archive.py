"""A class-data sharing archive of the classes a local Spark JVM loads: each local Spark start maps them from one
file instead of reading and verifying thousands of classes from Spark's jars again (a local session's start and
first query, measured: 5.4-5.6 s → 3.4-3.6 s wall, 8.6-8.8 → 5.4-6.0 CPU-s).

JDK 13+'s dynamic archive (JEP 350): a JVM run with ``-XX:ArchiveClassesAtExit=<file>`` writes the classes it
loaded when it exits normally; a JVM started with ``-XX:SharedArchiveFile=<file>`` maps them. An archive is
only good for the JDK build and class path that wrote it, so its name carries both (the java binary, pyspark's
version and jars); a JVM for which it does not match runs without it (``-Xshare:auto``, the default). It is
written with the driver's heap size (Oracle's CDS guide: the same heap size when dumping and at run time).

``make setup`` builds it (``python -m covid_pipeline.adapters.local.class_archive``, ~18 s with its check, ~140 MiB
under the virtualenv); without it local Spark starts as before. Local only: the Glue job on AWS starts no JVM of
ours.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

JAVA_OPTIONS = "spark.driver.extraJavaOptions"
# What the archive is built from: the classes a Clean's kinds of work load (Parquet in and out, joins,
# windows, aggregates, JSON, hashes), on a few rows.
_WORKLOAD = """
import sys
from pyspark.sql import SparkSession, Window, functions as F
spark = SparkSession.builder.getOrCreate()
out = sys.argv[1]
df = spark.range(200).select((F.col("id") % 7).alias("k"), F.col("id").cast("string").alias("v"),
                             F.current_date().alias("d"))
df.write.mode("overwrite").parquet(out + "/a")
a = spark.read.parquet(out + "/a")
w = Window.partitionBy("k").orderBy("v")
b = a.withColumn("n", F.row_number().over(w)).withColumn("j", F.to_json(F.struct("k", "v")))
c = b.join(F.broadcast(a.groupBy("k").agg(F.max("v").alias("m"))), "k", "left").withColumn("h", F.sha2("j", 256))
c.filter(F.col("n") > 1).dropDuplicates(["k"]).unionByName(c.limit(1)).cache().count()
c.write.mode("overwrite").parquet(out + "/c")
spark.stop()
"""


def _java() -> Path | None:
    """The java that spark-submit runs: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).exists() else None


def archive_path() -> Path | None:
    """Where the archive for this JDK and this pyspark is (whether built or not); None without java or pyspark."""
    java = _java()
    spec = importlib.util.find_spec("pyspark")  # found, not imported: the CLI that starts a JVM never loads pyspark
    if java is None or spec is None or spec.origin is None:
        return None
    jars = Path(spec.origin).parent / "jars"
    stat = java.stat()
    jar_names = sorted(p.name for p in jars.glob("*"))
    version = importlib.metadata.version("pyspark")
    key = "\0".join([str(java), str(stat.st_size), str(stat.st_mtime_ns), version, *jar_names])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(sys.prefix) / "var" / "covid-pipeline" / f"spark-classes-{digest}.jsa"


def with_java_option(spark_args: str, option: str) -> str:
    """``spark_args`` (PYSPARK_SUBMIT_ARGS, which pyspark splits with shlex) with ``option`` added to the driver's
    Java options."""
    words = shlex.split(spark_args)
    for i in reversed(range(len(words) - 1)):  # the last one given is the one spark-submit keeps
        if words[i] == "--conf" and words[i + 1].startswith(f"{JAVA_OPTIONS}="):
            words[i + 1] += f" {option}"
            return shlex.join(words)
    at = len(words) - 1 if words and words[-1] == "pyspark-shell" else len(words)
    return shlex.join([*words[:at], "--conf", f"{JAVA_OPTIONS}={option}", *words[at:]])


def _size_file(path: Path) -> Path:
    return path.with_name(path.name + ".bytes")


def java_option() -> str | None:
    """The JVM option that maps the archive, or None when it is not built and checked (or its path holds a
    space: Spark splits the Java options on spaces).

    The archive counts as built only at the size its build checked (its ``.bytes`` file): a JVM refuses an
    archive whose header is bad, but one cut short after a good header crashes it (SIGBUS, seen with a copy
    truncated to 4 KiB), so a damaged file is not offered to any JVM.
    """
    path = archive_path()
    if path is None or any(c.isspace() for c in str(path)):
        return None
    try:
        if int(_size_file(path).read_text()) != path.stat().st_size:
            return None
    except (OSError, ValueError):
        return None
    return f"-XX:SharedArchiveFile={path}"


def submit_args(spark_args: str) -> str:
    """``spark_args`` using the archive when it is built, else unchanged."""
    option = java_option()
    return spark_args if option is None else with_java_option(spark_args, option)


def _run_spark(code: str, spark_args: str, work: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a Python process whose Spark JVM gets ``spark_args``; any JVM crash log goes to ``work``."""
    from covid_pipeline.adapters.local.job_runner import spark_env  # (job_runner imports this module)

    env = spark_env(with_java_option(spark_args, f"-XX:ErrorFile={work}/hs_err_pid%p.log"))
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code, *argv], env=env, cwd=work, capture_output=True, text=True, check=False
    )


SMOKE = "from pyspark.sql import SparkSession; s = SparkSession.builder.getOrCreate(); print(s.range(3).count())"


def start_with(archive: Path, spark_args: str, work: str) -> subprocess.CompletedProcess[str]:
    """A Spark session started on ``archive`` with ``-Xshare:on`` (a JVM that cannot map it refuses to start):
    it prints 3 when the archive is good for this JDK and Spark's class path."""
    return _run_spark(SMOKE, with_java_option(spark_args, f"-Xshare:on -XX:SharedArchiveFile={archive}"), work)


def build(spark_args: str, path: Path | None = None) -> Path | None:
    """Write the archive (the workload above, in a JVM started with ``spark_args``) and check that a Spark JVM
    maps it; its path, or None without java or pyspark. Written and checked under a temporary name, then
    renamed, then its size recorded: no JVM is offered a half-written or unchecked file."""
    path = path or archive_path()
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    _size_file(path).unlink(missing_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with tempfile.TemporaryDirectory(prefix="cds-") as work:
            proc = _run_spark(
                _WORKLOAD, with_java_option(spark_args, f"-XX:ArchiveClassesAtExit={partial}"), work, work
            )
            if proc.returncode != 0 or not partial.is_file():
                raise RuntimeError(f"writing it failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
            check = start_with(partial, spark_args, work)
            if check.returncode != 0 or check.stdout.splitlines()[-1:] != ["3"]:
                raise RuntimeError(f"a JVM could not map it (exit {check.returncode}): {check.stdout[-2000:]}")
        partial.replace(path)
        _size_file(path).write_text(str(path.stat().st_size))
    finally:
        partial.unlink(missing_ok=True)
    return path


def main() -> int:
    from covid_pipeline.adapters.local.job_runner import DEFAULT_SPARK_ARGS

    path = archive_path()
    if path is None:
        print("Spark class archive: no java or no pyspark here, skipped", file=sys.stderr)
        return 0
    if java_option() is not None:  # built and at its checked size
        return 0
    try:
        build(DEFAULT_SPARK_ARGS, path)
    except (OSError, RuntimeError) as exc:  # an optimisation: Spark starts without it, a little slower
        print(f"Spark class archive not built: {exc}", file=sys.stderr)
        return 0
    print(f"Spark class archive: {path} ({path.stat().st_size / 2**20:.0f} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
