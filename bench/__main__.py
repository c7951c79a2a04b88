"""One benchmark run at a chosen scale, on one generated data set.

    .venv/bin/python -m bench [--days N] [--regions N] [--seed S] [--keep DIR]

(a) floor: DuckDB counts the rows of every raw CSV once (all_varchar), in one scan per folder (the
floor every ratio uses) and, for continuity with earlier figures, in one query per file; (b) the full
local pipeline (`covid-pipeline run`): wall time, peak RSS of the process tree, time per state; (c) incremental: one
more JHU day uploaded (`covid-pipeline upload`) on top of a home that holds 10 days and on top of the
full-history home; (d) cold import time of each Lambda handler module (fresh interpreter,
PIPELINE_ENV=aws) and the size of each function folder and of the layer; (e) the estimated AWS cost
of a full and an incremental run (bench/costs.py). The last line is machine-readable (RESULT ...).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench import costs
from bench.generate import FULL_DAYS, HORIZON, generate, write_jhu_day
from bench.local_run import CLI, latest_record
from bench.proctree import run_measured
from bench.workdir import work_dir

ROOT = Path(__file__).resolve().parents[1]
ASL = ROOT / "statemachine" / "pipeline.asl.json"
LAMBDA_MEMORY_GB = 0.5  # template.yaml Globals: MemorySize 512
SMALL_DAYS = 10


@dataclass(frozen=True)
class Floor:
    """What reading the raw CSVs once costs DuckDB, two ways (issue #13: the honest floor is per folder)."""

    folder_s: float  # one query per folder of CSVs, as a user would write it: the floor every ratio uses
    per_file_s: float  # one query per file (sniffing each): the figure reported before, kept for continuity
    rows: int
    files: int
    folders: int


def csv_folders(data: Path) -> dict[Path, list[Path]]:
    """The CSV files under ``data``, grouped by the folder that holds them (one dataset feed each)."""
    folders: dict[Path, list[Path]] = {}
    for path in sorted(data.rglob("*.csv")):
        folders.setdefault(path.parent, []).append(path)
    return folders


def floor_seconds(data: Path) -> Floor:
    """Seconds for DuckDB to read every raw CSV once: one scan per folder, then one query per file."""
    folders = csv_folders(data)
    con = duckdb.connect()
    started = time.perf_counter()
    folder_rows = 0
    for folder in folders:
        glob = str(folder / "*.csv")
        folder_rows += con.execute(
            "SELECT count(*) FROM read_csv(?, all_varchar = true, union_by_name = true, null_padding = true)",
            [glob],
        ).fetchone()[0]
    folder_s = time.perf_counter() - started
    started = time.perf_counter()
    file_rows = 0
    for files in folders.values():
        for f in files:
            file_rows += con.execute(
                "SELECT count(*) FROM read_csv(?, all_varchar = true, null_padding = true)", [str(f)]
            ).fetchone()[0]
    per_file_s = time.perf_counter() - started
    if folder_rows != file_rows:  # both must read the same rows, or the comparison means nothing
        raise SystemExit(f"floor: {folder_rows:,} rows read per folder but {file_rows:,} per file")
    return Floor(folder_s, per_file_s, folder_rows, sum(map(len, folders.values())), len(folders))


def run_cli(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of a `covid-pipeline` command; exits on failure."""
    run = run_measured([CLI, *args])
    if run.returncode != 0:
        print(run.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"covid-pipeline {' '.join(args)} failed (exit {run.returncode})")
    return run.wall_s, run.usage.peak


def state_resources() -> dict[str, str]:
    states = json.loads(ASL.read_text())["States"]
    return {name: s.get("Resource", s["Type"]) for name, s in states.items()}


def history_counts(home: Path, record: dict) -> dict[str, int]:
    """State transitions and entries per state of one execution (from its history.jsonl)."""
    path = home / "executions" / record["name"] / "history.jsonl"
    entered: dict[str, int] = {}
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if event.get("type") == "StateEntered":
            entered[event.get("state", "?")] = entered.get(event.get("state", "?"), 0) + 1
    return entered


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def run_inputs(home: Path, record: dict) -> costs.RunInputs:
    """Maps one local execution onto AWS usage (assumptions in the comments)."""
    resources = state_resources()
    durations: dict[str, float] = record["state_durations"]
    entered = history_counts(home, record)
    lam = [s for s in entered if "lambda" in resources.get(s, "")]
    glue = sum(d for s, d in durations.items() if "glue" in resources.get(s, ""))
    # The crawler bills only when it ran (CrawlNeeded? sends uploads of known layouts past it).
    crawled = "StartCrawl" in entered
    crawl_states = ("StartCrawl", "WaitForCrawl", "PollCrawl")
    crawl = max(sum(durations.get(s, 0.0) for s in crawl_states), 1.0) if crawled else 0.0
    load = sum(d for s, d in durations.items() if s.startswith("Load"))
    # Stage reads the run's manifest objects only ("$path" IN (...)): what Athena scans.
    manifest = home / "s3" / record["output"]["manifest_uri"].removeprefix("s3://")
    entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    raw_bytes = sum(int(e["size"]) for e in entries)
    feeds_read = {e["feed"] for e in entries}
    return costs.RunInputs(
        glue_seconds=glue,  # the local Spark Clean time stands in for the Glue job's time
        crawler_seconds=crawl,  # the crawler's 10-minute minimum dominates anyway
        athena_bytes_scanned=raw_bytes,
        athena_queries=max(1, len(feeds_read)),  # about one UNLOAD per feed (per header layout, really)
        transitions=sum(entered.values()),
        lambda_gb_seconds=sum(durations.get(s, 0.0) for s in lam) * LAMBDA_MEMORY_GB,
        lambda_requests=sum(entered[s] for s in lam),
        rpu_seconds=load * 8,  # base capacity 8 RPUs for the Load's duration
        s3_puts=len(entries),
        s3_gets=2 * len(entries),
    )


IMPORT_PROBE = """
import importlib, os, sys, time
sys.path[:0] = [{fn!r}, {layer!r}]
os.environ["PIPELINE_ENV"] = "aws"
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-2")
t = time.perf_counter()
importlib.import_module("app")
print((time.perf_counter() - t) * 1000)
"""


def import_times() -> dict[str, float | str]:
    layer = ROOT / "layers" / "shared" / "python"
    out: dict[str, float | str] = {}
    for fn in sorted(p.parent for p in (ROOT / "functions").glob("*/app.py")):
        code = IMPORT_PROBE.format(fn=str(fn), layer=str(layer))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tempfile.gettempdir()
        )
        out[fn.name] = float(proc.stdout.strip()) if proc.returncode == 0 else f"failed: {proc.stderr.strip()[-200:]}"
    return out


def sizes() -> dict[str, int]:
    found = {f"functions/{p.name}": dir_bytes(p) for p in sorted((ROOT / "functions").iterdir()) if p.is_dir()}
    found["layers/shared/python"] = dir_bytes(ROOT / "layers" / "shared" / "python")
    build = ROOT / ".aws-sam" / "build"
    if build.is_dir():
        found |= {f".aws-sam/build/{p.name}": dir_bytes(p) for p in sorted(build.iterdir()) if p.is_dir()}
    return found


def mb(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=FULL_DAYS, help="days of data (default: %(default)s, all)")
    parser.add_argument("--regions", type=int, default=None, help="US counties (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if not SMALL_DAYS < args.days < HORIZON:
        parser.error(f"--days must be between {SMALL_DAYS + 1} and {HORIZON - 1}")
    with work_dir(args.keep, "covid-bench-") as work:
        # The bench's own warm Spark drivers (adapters/local/warm_spark.py), never a developer's, stopped at the end.
        # The 10-day home's run starts one; both uploads' Clean (a day: a small input) run on it, as a user's
        # uploads after a run do. Peak RSS counts the driver's tree (bench/proctree.py).
        os.environ["COVID_PIPELINE_SPARK_DIR"] = str(work / "spark")
        try:
            return _bench(args, work)
        finally:
            from covid_pipeline.adapters.local.warm_spark import stop

            stop(work / "spark")


def _bench(args: argparse.Namespace, work: Path) -> int:
    data, data_small, extra = work / "data", work / "data-small", work / "extra"
    home_full, home_small = work / "home-full", work / "home-small"
    for p in (data, data_small, extra, home_full, home_small):
        shutil.rmtree(p, ignore_errors=True)

    gen = generate(data, args.days, args.regions, args.seed)
    print(f"data: {gen.summary()} (days={args.days} regions={args.regions or 'all'} seed={args.seed})")
    print(f"      -> {gen.rows['jhu'] / gen.seconds:,.0f} JHU rows/s, {gen.bytes / 2**20 / gen.seconds:.0f} MiB/s")
    generate(data_small, SMALL_DAYS, args.regions, args.seed)
    day_file = write_jhu_day(extra, args.days, args.regions, args.seed)

    floor = floor_seconds(data)
    floor_s = floor.folder_s
    print(
        f"\n(a) floor: DuckDB count(*) of {floor.rows:,} rows in {floor.files} CSV files: "
        f"{floor.folder_s:.2f} s in one scan per folder ({floor.folders} folders; every ratio uses this), "
        f"{floor.per_file_s:.2f} s in one query per file"
    )

    full_s, full_peak = run_cli(["run", "--source", str(data), "--home", str(home_full)])
    full_record = latest_record(home_full)
    print(f"\n(b) full run: wall {full_s:.1f} s, peak RSS of the process tree {mb(full_peak)}")
    for state, seconds in full_record["state_durations"].items():
        print(f"      {state:<16} {seconds:8.2f} s")
    full_inputs = run_inputs(home_full, full_record)

    run_cli(["run", "--source", str(data_small), "--home", str(home_small)])
    upload = ["upload", str(day_file), "--dataset", "enigma-jhu", "--home"]
    incr_small_s, small_peak = run_cli([*upload, str(home_small)])
    incr_full_s, incr_peak = run_cli([*upload, str(home_full)])
    incr_record = latest_record(home_full)
    incr_inputs = run_inputs(home_full, incr_record)
    ratio = incr_full_s / incr_small_s
    print(f"\n(c) incremental: upload of {day_file.name} (one JHU day)")
    print(f"      on a {SMALL_DAYS}-day home       {incr_small_s:8.1f} s  peak {mb(small_peak)}")
    print(f"      on the {args.days}-day home     {incr_full_s:8.1f} s  peak {mb(incr_peak)}")
    print(f"      ratio full/small     {ratio:8.2f}  (an upload reads only its own object and the lookups)")
    for state, seconds in incr_record["state_durations"].items():
        print(f"      {state:<16} {seconds:8.2f} s")

    imports = import_times()
    print("\n(d) cold import of each handler module (fresh interpreter, PIPELINE_ENV=aws):")
    for name, ms in imports.items():
        print(f"      functions/{name}/app.py  " + (f"{ms:8.0f} ms" if isinstance(ms, float) else ms))
    print("    package sizes (without __pycache__):")
    for name, n in sizes().items():
        print(f"      {name:<36} {mb(n):>12}")

    full_cost, incr_cost = costs.estimate(full_inputs), costs.estimate(incr_inputs)
    print(f"\n(e) estimated AWS cost per run ({costs.REGION}, prices as of {costs.PRICES_AS_OF}):")
    print(f"      {'':<22} {'full':>10} {'incremental':>12}")
    for line in full_cost.lines:
        print(f"      {line:<22} {full_cost.lines[line]:>10.6f} {incr_cost.lines[line]:>12.6f}")
    print(f"      {'total USD':<22} {full_cost.total:>10.6f} {incr_cost.total:>12.6f}")
    for label, inp in (("full", full_inputs), ("incremental", incr_inputs)):
        print(
            f"      inputs {label}: glue {inp.glue_seconds:.1f} s x {inp.glue_dpus:g} DPU, "
            f"scanned {mb(inp.athena_bytes_scanned)}, {inp.transitions} transitions, "
            f"{inp.lambda_gb_seconds:.1f} Lambda GB-s, {inp.rpu_seconds:.0f} RPU-s"
        )
    print(costs.price_table())

    numeric = [v for v in imports.values() if isinstance(v, float)]
    max_import = max(numeric) if numeric else float("nan")
    print(
        f"RESULT full_s={full_s:.1f} floor_s={floor_s:.2f} floor_per_file_s={floor.per_file_s:.2f} "
        f"full_over_floor={full_s / floor_s:.1f} incr_small_s={incr_small_s:.1f} "
        f"incr_small_over_floor={incr_small_s / floor_s:.2f} incr_full_s={incr_full_s:.1f} incr_ratio={ratio:.2f} "
        f"peak_rss_mb={max(full_peak, incr_peak, small_peak) / 2**20:.0f} max_import_ms={max_import:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
