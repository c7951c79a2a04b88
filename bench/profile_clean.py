"""Where the Clean job's time goes: runs glue/clean_job.py once on a staged zone and profiles it.

    .venv/bin/python -m bench.profile_clean --staged DIR --manifest FILE [--out DIR] [--conf k=v ...]

The job runs as the local pipeline runs it (a child process, PYSPARK_SUBMIT_ARGS from
job_runner.DEFAULT_SPARK_ARGS unless --spark-args), with Spark's event log switched on.
Prints wall time, CPU seconds and peak RSS of the process tree, the JVM's CPU by thread kind (tasks, the
JIT's compilers, the driver's py4j threads, GC: what the event log does not see), then, from the event log,
per job description (clean_job labels each write): the span of its jobs,
its stages' task and CPU seconds, shuffle and spill (with --stages, every stage). The last line
is machine-readable (RESULT ...).

Get a staged zone by running ``covid-pipeline run --source <generated data>`` once: it is
``<home>/s3/*lakebucket/staged/<run_id>/`` and the manifest ``.../work/<run_id>/manifest.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.proctree import PeakRss, children, cpu_seconds, run_measured, tree_rss_bytes
from covid_pipeline.adapters.local.job_runner import DEFAULT_SPARK_ARGS

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "glue" / "clean_job.py"


def spark_args(base: str, extra: list[str], event_dir: Path) -> str:
    """``base`` with the event log and the extra confs inserted before its trailing pyspark-shell."""
    head = base.removesuffix("pyspark-shell").strip()
    confs = ["spark.eventLog.enabled=true", f"spark.eventLog.dir=file://{event_dir}", *extra]
    return " ".join([head, *[f"--conf {c}" for c in confs], "pyspark-shell"])


# What the JVM's threads do, by the names the JVM and Spark give them (/proc/<pid>/task/<tid>/comm: 15
# characters at most). The event log sees only tasks; a cold Clean's JIT compilers use about a quarter of
# its CPU (45.6 of 176 CPU-s at full scale, 2026-12-06), the driver's py4j threads (planning) another tenth.
THREAD_KINDS: tuple[tuple[str, str], ...] = (
    ("C1 CompilerThre", "jit"),
    ("C2 CompilerThre", "jit"),
    ("Executor task l", "tasks"),
    ("GC Thread", "gc"),
    ("G1 ", "gc"),
    ("VM Thread", "gc"),
    ("Thread-", "driver"),
)
THREAD_KIND_ORDER = ("tasks", "jit", "driver", "gc", "other")


def thread_kind(name: str) -> str:
    """A JVM thread's kind from its name: tasks, jit, driver (py4j's threads: the Python side's planning), gc, other."""
    return next((kind for prefix, kind in THREAD_KINDS if name.startswith(prefix)), "other")


class TreeUsage(PeakRss):
    """PeakRss that also keeps each process's last seen CPU seconds (utime + stime in /proc/<pid>/stat), and every
    JVM thread's (by kind: see thread_kind), these every ``thread_every`` samples (a JVM has a hundred threads).

    The Spark JVM is a grandchild its parent never waits for, so getrusage would miss it.
    """

    def __init__(self, pid: int, interval: float = 0.05, thread_every: int = 10) -> None:
        super().__init__(pid, interval)
        self.cpu: dict[int, float] = {}
        self.threads: dict[tuple[int, int], tuple[str, float]] = {}
        self._thread_every = thread_every

    def jvm_cpu_by_kind(self) -> dict[str, float]:
        totals = dict.fromkeys(THREAD_KIND_ORDER, 0.0)
        for kind, seconds in self.threads.values():
            totals[kind] += seconds
        return totals

    def _sample_threads(self, pid: int) -> None:
        task_dir = Path(f"/proc/{pid}/task")
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "java":
                return
            tasks = list(task_dir.iterdir())
        except OSError:
            return
        for task in tasks:
            try:
                kind = thread_kind((task / "comm").read_text().strip())
                self.threads[(pid, int(task.name))] = (kind, cpu_seconds(task / "stat"))
            except (OSError, IndexError, ValueError):
                continue

    def _run(self) -> None:
        samples = 0
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            with_threads = samples % self._thread_every == 0
            samples += 1
            stack = [self.pid]
            while stack:
                pid = stack.pop()
                try:
                    self.cpu[pid] = cpu_seconds(f"/proc/{pid}/stat")
                except (OSError, IndexError, ValueError):
                    continue
                if with_threads:
                    self._sample_threads(pid)
                stack += children(pid)
            time.sleep(self.interval)


def run_job(args: argparse.Namespace, event_dir: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "PYSPARK_SUBMIT_ARGS": spark_args(args.spark_args, args.conf, event_dir),
        "PYSPARK_PYTHON": sys.executable,
    }
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, args.script, "--JOB_NAME", "profile", "--run_id", "r1"]
    argv += ["--staged_uri", args.staged, "--curated_uri", str(out / "curated"), "--quarantine_uri", str(out / "q")]
    argv += ["--manifest_uri", args.manifest, "--started_at", "2026-01-01T00:00:00Z"]
    run = run_measured(argv, env=env, usage=TreeUsage, keep_stdout=True)
    if run.returncode != 0:
        print(run.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"clean_job failed (exit {run.returncode})")
    usage = run.usage
    assert isinstance(usage, TreeUsage)
    summary = run.stdout.strip().splitlines()[-1]
    # Cache blocks that did not fit in memory: each is written to disk, then re-read by every table.
    to_disk = run.stderr.count("to disk instead")
    cpu = sum(usage.cpu.values())
    return {
        "wall": run.wall_s,
        "cpu": cpu,
        "peak": usage.peak,
        "summary": summary,
        "to_disk": to_disk,
        "jvm": usage.jvm_cpu_by_kind(),
    }


def parse_event_log(path: Path) -> tuple[dict[str, dict[str, float]], list[dict[str, object]], float]:
    """Per job description: its jobs' span and stage metrics; every stage; the application's seconds."""
    job_desc: dict[int, str] = {}
    job_start: dict[int, float] = {}
    stage_job: dict[int, int] = {}
    per_desc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    stages: list[dict[str, object]] = []
    app_start = app_end = 0.0
    sql_span: dict[int, list[float]] = {}
    sql_desc: dict[int, str] = {}
    for line in path.read_text().split("\n"):  # not splitlines: plans hold U+2028 and \x1c
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a log cut short (the job failed or was stopped)
            continue
        kind = event["Event"]
        if kind == "SparkListenerApplicationStart":
            app_start = event["Timestamp"] / 1000
        elif kind == "SparkListenerApplicationEnd":
            app_end = event["Timestamp"] / 1000
        elif kind.endswith("SparkListenerSQLExecutionStart"):
            sql_span[event["executionId"]] = [event["time"] / 1000, event["time"] / 1000]
        elif kind.endswith("SparkListenerSQLExecutionEnd"):
            sql_span.setdefault(event["executionId"], [event["time"] / 1000, 0.0])[1] = event["time"] / 1000
        elif kind == "SparkListenerJobStart":
            job = event["Job ID"]
            props = event.get("Properties") or {}
            job_desc[job] = props.get("spark.job.description") or "(no description)"
            if "spark.sql.execution.id" in props:
                sql_desc.setdefault(int(props["spark.sql.execution.id"]), job_desc[job])
            job_start[job] = event["Submission Time"] / 1000
            for stage in event["Stage IDs"]:
                stage_job.setdefault(stage, job)
        elif kind == "SparkListenerJobEnd":
            job = event["Job ID"]
            desc = per_desc[job_desc.get(job, "?")]
            end = event["Completion Time"] / 1000
            desc["first"] = min(desc.get("first", end), job_start.get(job, end))
            desc["last"] = max(desc.get("last", 0.0), end)
            desc["jobs"] += 1
        elif kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            if "Submission Time" not in info:
                continue
            metrics = {a["Name"]: a.get("Value", 0) for a in info.get("Accumulables", [])}

            def m(name: str, acc: dict = metrics) -> float:
                try:
                    return float(acc.get(name, 0))
                except (TypeError, ValueError):
                    return 0.0

            row = {
                "stage": info["Stage ID"],
                "desc": job_desc.get(stage_job.get(info["Stage ID"], -1), "?"),
                "name": info["Stage Name"][:60],
                "tasks": info["Number of Tasks"],
                "wall_s": (info["Completion Time"] - info["Submission Time"]) / 1000,
                "task_s": m("internal.metrics.executorRunTime") / 1000,
                "cpu_s": m("internal.metrics.executorCpuTime") / 1e9,
                "gc_s": m("internal.metrics.jvmGCTime") / 1000,
                "input_mb": m("internal.metrics.input.bytesRead") / 2**20,
                "shuffle_w_mb": m("internal.metrics.shuffle.write.bytesWritten") / 2**20,
                "spill_disk_mb": m("internal.metrics.diskBytesSpilled") / 2**20,
                "spill_mem_mb": m("internal.metrics.memoryBytesSpilled") / 2**20,
            }
            stages.append(row)
            desc = per_desc[str(row["desc"])]
            desc["stages"] += 1
            for key in ("task_s", "cpu_s", "gc_s", "shuffle_w_mb", "spill_disk_mb"):
                desc[key] += float(row[key])  # type: ignore[arg-type]
    # A query's time before its first job and after its last: planning, code generation, commit.
    for execution, (start, end) in sql_span.items():
        if execution in sql_desc:
            desc = per_desc[sql_desc[execution]]
            desc["sql_first"] = min(desc.get("sql_first", start), start)
            desc["sql_last"] = max(desc.get("sql_last", 0.0), end)
    return per_desc, stages, app_end - app_start


def covered_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of the (start, end) intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--staged", required=True, help="the staged zone of one run (feed folders below it)")
    parser.add_argument("--manifest", required=True, help="that run's manifest.jsonl")
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "profile-clean-out"))
    parser.add_argument("--spark-args", default=DEFAULT_SPARK_ARGS, help="PYSPARK_SUBMIT_ARGS before the event log")
    parser.add_argument("--conf", action="append", default=[], help="extra Spark conf k=v (repeatable)")
    parser.add_argument("--stages", action="store_true", help="also print every stage")
    parser.add_argument("--script", default=str(SCRIPT), help="the job script (default: %(default)s)")
    parser.add_argument("--event-log", help="keep Spark's event log in this folder (default: a temporary one)")
    args = parser.parse_args(argv)

    event_dir = Path(args.event_log) if args.event_log else Path(tempfile.mkdtemp(prefix="clean-events-"))
    event_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = run_job(args, event_dir)
        logs = sorted(event_dir.iterdir(), key=lambda p: p.stat().st_mtime)
        per_desc, stages, app_s = parse_event_log(logs[-1]) if logs else ({}, [], 0.0)
    finally:
        if not args.event_log:
            shutil.rmtree(event_dir, ignore_errors=True)

    print(f"summary: {result['summary']}")
    print(
        f"wall {result['wall']:.1f} s (Spark application {app_s:.1f} s), CPU {result['cpu']:.1f} s, "
        f"peak RSS of the process tree {result['peak'] / 2**20:.0f} MiB, cache blocks sent to disk: {result['to_disk']}"
    )
    jvm = result["jvm"]
    print("JVM CPU by thread: " + ", ".join(f"{kind} {seconds:.1f} s" for kind, seconds in jvm.items()))
    print(
        f"\n{'job description':<26} {'jobs':>4} {'query s':>7} {'span s':>7} {'stages':>6} {'task s':>7} "
        f"{'cpu s':>7} {'gc s':>6} {'shuf MB':>8} {'spill MB':>8}"
    )
    intervals = []
    for desc, d in per_desc.items():
        span = d["last"] - d["first"] if d["jobs"] else 0.0
        query = d["sql_last"] - d["sql_first"] if "sql_first" in d else 0.0
        starts = [d[k] for k in ("first", "sql_first") if k in d]
        if starts:
            intervals.append((min(starts), max(d.get("last", 0.0), d.get("sql_last", 0.0))))
        print(
            f"{desc[:26]:<26} {d['jobs']:>4.0f} {query:>7.1f} {span:>7.1f} {d['stages']:>6.0f} {d['task_s']:>7.1f} "
            f"{d['cpu_s']:>7.1f} {d['gc_s']:>6.1f} {d['shuffle_w_mb']:>8.0f} {d['spill_disk_mb']:>8.0f}"
        )
    # Tables are written concurrently: the time some query runs is the union of their intervals.
    jobs_total = covered_seconds(intervals)
    print(f"{'(outside queries)':<26} {'':>4} {app_s - jobs_total:>7.1f}")
    if args.stages:
        head = f"{'stage':>5} {'tasks':>5} {'wall s':>7} {'task s':>7} {'cpu s':>7} {'in MB':>7}"
        print(f"\n{head} {'shuf MB':>8} {'spill':>6}  job")
        for s in stages:
            print(
                f"{s['stage']:>5} {s['tasks']:>5} {s['wall_s']:>7.1f} {s['task_s']:>7.1f} {s['cpu_s']:>7.1f} "
                f"{s['input_mb']:>7.0f} {s['shuffle_w_mb']:>8.0f} {s['spill_disk_mb']:>6.0f}  {s['desc']}"
            )
    print(
        f"RESULT wall_s={result['wall']:.1f} cpu_s={result['cpu']:.1f} "
        f"peak_rss_mb={result['peak'] / 2**20:.0f} queries_s={jobs_total:.1f} cache_to_disk={result['to_disk']} "
        f"jit_cpu_s={jvm['jit']:.1f} driver_cpu_s={jvm['driver']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
