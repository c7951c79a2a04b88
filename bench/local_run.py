"""Wall time and peak memory of `covid-pipeline run` on a source folder, cold and warm.

    .venv/bin/python -m bench.local_run [--source DIR] [--runs N]

"cold" is the first run into an empty home (raw zone copied, warehouse created);
each "warm" run repeats it into the same home (raw objects unchanged, MERGE into
an existing warehouse). Prints time per state from the execution records, rows per
table, and the peak RSS of the whole process tree (CLI + Spark JVM + Python workers).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench.proctree import run_measured

CLI = str(Path(sys.executable).parent / "covid-pipeline")


def run_once(source: str | None, home: Path, reprocess: bool = False) -> tuple[float, int, int]:
    """One run; ``reprocess``: load everything again (a plain re-run of loaded objects has nothing to do)."""
    args = [CLI, "run", "--home", str(home)] + (["--source", source] if source else [])
    args += ["--reprocess"] if reprocess else []
    run = run_measured(args)
    if run.returncode != 0:
        print(run.stderr[-2000:], file=sys.stderr)
    return run.wall_s, run.usage.peak, run.returncode


def latest_record(home: Path) -> dict:
    records = [json.loads(p.read_text()) for p in (home / "executions").glob("*/execution.json")]
    return max(records, key=lambda r: r["started_at"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", help="source folder in the data lake layout (default: data/lake)")
    parser.add_argument("--runs", type=int, default=3, help="1 cold + N-1 warm runs (default: %(default)s)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="covid-bench-")) / "home"
    walls, peaks = [], []
    for i in range(args.runs):
        wall, peak, rc = run_once(args.source, home, reprocess=i > 0)
        if rc != 0:
            print(f"run {i} failed (exit {rc})")
            return 1
        record = latest_record(home)
        label = "cold" if i == 0 else "warm"
        walls.append(wall)
        peaks.append(peak)
        print(f"\n{label} run {i}: wall {wall:.1f} s, peak RSS of the process tree {peak / 2**20:.0f} MiB")
        for state, seconds in record["state_durations"].items():
            print(f"  {state:<16} {seconds:8.2f} s")
    rows = record["output"]["load"]["result"]["rows_total"]
    print("\nrows per table: " + ", ".join(f"{t}={n}" for t, n in rows.items()))
    warm = walls[1:] or walls
    print(f"RESULT cold_s={walls[0]:.1f} warm_s={min(warm):.1f} peak_rss_mb={max(peaks) / 2**20:.0f} runs={args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
