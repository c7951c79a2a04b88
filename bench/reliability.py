"""Reliability figures of the local pipeline: concurrent uploads, re-runs, duplicate events.

    .venv/bin/python -m bench.reliability [--uploads N] [--reruns K] [--days D] [--regions R] [--keep DIR]

Set-up: ``bench.generate`` writes D days of synthetic data (``--regions`` US counties), loaded with
``covid-pipeline run --source``; the next N JHU days are generated as separate files.

(a) concurrent uploads: N ``covid-pipeline upload`` processes, one per new day file, started together
    into that home. Rows expected (data rows of the files) vs rows loaded (fact rows from those
    objects) and rejected (quarantine), duplicate contract keys, audit rows per object, day-over-day
    values that differ from the loaded series, CrawlerBusy/other retries of the executions.
(b) re-runs: K ``covid-pipeline run --source ... --reprocess``; the table checksums (bench/checksums.py)
    after each, compared with each other and with the incrementally built state after (a).
(c) duplicate events: the same upload again (ExecutionAlreadyExists: no execution), an already-loaded
    pair as a new batch and a plain re-run (both: an execution that ends in NothingToDo); the
    checksums must not move.
(d) hostile inputs: the files of tests/reliability/test_hostile_input.py in one execution, one outcome line each.

Prints figures and the wall time of each part; asserts nothing. The last line is machine-readable:
``RELIABILITY concurrent_uploads=N rows_expected=... duplicates=... checksums_identical=true ...``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from bench.checksums import Checksum, differences, duplicate_keys, row_counts, table_checksums
from bench.generate import HORIZON, generate, write_jhu_day
from bench.proctree import PeakRss
from bench.workdir import work_dir

CLI = str(Path(sys.executable).parent / "covid-pipeline")
RAW_JHU = "s3://covid-pipeline-local-rawbucket/enigma-jhu/csv/"
TIMEOUT_S = 3600
# JHU's county layout (FIPS, Admin2, ...) starts on day 60 (2020-03-22): from 70 days on, the uploads
# are county-level reports like the real daily files, not the early country-only ones.
DEFAULT_DAYS = 70
DEFAULT_REGIONS = 50
EXECUTION = re.compile(r"execution (\S+) (SUCCEEDED|FAILED)(.*)")


@dataclass
class Upload:
    """One upload process and what became of it."""

    path: Path
    code: int = -1
    outcome: str = "?"  # succeeded | already processed | failed | error
    execution: str | None = None
    detail: str = ""
    seconds: float = 0.0
    retries: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class HostileOutcome:
    """(d) One hostile input and what the pipeline did with it, as one printed line."""

    name: str
    outcome: str
    ok: bool


def hostile_inputs(home: Path, work: Path) -> list[HostileOutcome]:
    """(d) The hostile files of tests/reliability/test_hostile_input.py (one source), in one execution.

    Each object's outcome: refused whole (with the reason), or its rows loaded / quarantined by reason.
    ``ok`` = it was refused with a reason, or every row it had is accounted for (read = loaded + rejected,
    each rejected row with a reason). ``work`` is unused: the files go straight into the raw zone.
    """
    del work
    from covid_pipeline.runner.local import LocalPipeline, local_settings
    from tests.reliability.test_hostile_input import ESCAPING_KEYS, FILES

    pipeline = LocalPipeline(home)
    settings = local_settings(pipeline)
    raw_root = home / "s3" / settings.raw_bucket
    for key, content in FILES.items():
        (raw_root / key).parent.mkdir(parents=True, exist_ok=True)
        (raw_root / key).write_bytes(content)
    objects = [{"key": key, "etag": ""} for key in [*FILES, *ESCAPING_KEYS]]
    record = pipeline.execute({"objects": objects, "bucket": settings.raw_bucket}, name="bench-hostile")
    output = record.output if isinstance(record.output, dict) else {}
    refused = {r["key"]: r["reason"] for r in output.get("refused", [])}
    for line in output.get("stage", {}).get("refusals", []):
        uri, _, reason = line.partition(": ")
        refused[uri.removeprefix(settings.raw_uri)] = reason
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        audit = {
            uri.removeprefix(settings.raw_uri): (read, loaded, rejected)
            for uri, read, loaded, rejected in con.execute(
                "SELECT source_object, rows_read, rows_loaded, rows_rejected FROM load_audit WHERE run_id = ?",
                [record.name],
            ).fetchall()
        }
        reasons: dict[str, Counter[str]] = {}
        for uri, reason in con.execute(
            "SELECT source_object, split_part(reason, ':', 1) FROM quarantine WHERE run_id = ?", [record.name]
        ).fetchall():
            reasons.setdefault(uri.removeprefix(settings.raw_uri), Counter())[reason] += 1
    outcomes = []
    for key in [*FILES, *ESCAPING_KEYS]:
        name = key.rsplit("/", 1)[-1] if key in FILES else key
        if key in refused:
            outcomes.append(HostileOutcome(name, f"refused: {refused[key]}", ok=bool(refused[key])))
            continue
        read, loaded, rejected = audit.get(key, (0, 0, 0))
        why = ", ".join(f"{n} {r}" for r, n in sorted(reasons.get(key, Counter()).items()))
        ok = key in audit and read == loaded + rejected and sum(reasons.get(key, Counter()).values()) == rejected
        outcomes.append(HostileOutcome(name, f"{loaded} loaded, {rejected} quarantined ({why or '-'})", ok))
    return outcomes


def cli(*args: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    proc = subprocess.run([CLI, *args], capture_output=True, text=True, check=False, timeout=TIMEOUT_S)
    return proc.returncode, proc.stderr, time.perf_counter() - started


def executions(home: Path) -> set[str]:
    folder = home / "executions"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def record(home: Path, name: str) -> dict:
    try:
        return json.loads((home / "executions" / name / "execution.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def retries(home: Path, name: str) -> Counter[str]:
    """TaskRetry events of an execution, as "State:Error" -> count (CrawlerBusy shows contention)."""
    counts: Counter[str] = Counter()
    path = home / "executions" / name / "history.jsonl"
    if path.is_file():
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event.get("type") == "TaskRetry":
                counts[f"{event.get('state')}:{(event.get('details') or {}).get('error')}"] += 1
    return counts


def classify(upload: Upload, stderr: str, home: Path) -> None:
    """Outcome of an upload process from its exit code and the CLI's last lines."""
    if "already processed" in stderr:
        upload.outcome = "already processed"
        upload.execution = re.search(r"already processed: execution (\S+)", stderr).group(1)  # type: ignore[union-attr]
    elif match := EXECUTION.search(stderr):
        upload.execution = match.group(1)
        upload.outcome = "succeeded" if match.group(2) == "SUCCEEDED" else "failed"
        upload.detail = match.group(3).strip() if upload.outcome == "failed" else ""
    else:
        upload.outcome = "error"
        upload.detail = upload.detail or (stderr.strip().splitlines() or ["(no output)"])[-1][:200]
    if upload.execution and upload.outcome != "already processed":
        upload.retries = retries(home, upload.execution)


def csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return sum(1 for _ in csv.DictReader(fh))


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    # A read-only copy: never holds the warehouse lock an execution may be waiting for.
    copy = home.parent / f".{home.name}-query.duckdb"
    shutil.copy(home / "warehouse.duckdb", copy)
    try:
        con = duckdb.connect(str(copy), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()
    finally:
        copy.unlink(missing_ok=True)


def dod_mismatches(home: Path) -> int:
    """Fact rows whose new_confirmed/new_deaths differ from the series' previous loaded day."""
    rows = query(
        home,
        "SELECT count(*) FROM (SELECT new_confirmed, new_deaths, confirmed - LAG(confirmed) OVER w AS c, "
        "deaths - LAG(deaths) OVER w AS d FROM fact_cases_daily "
        "WINDOW w AS (PARTITION BY region_key, source ORDER BY date_key)) "
        "WHERE new_confirmed IS DISTINCT FROM c OR new_deaths IS DISTINCT FROM d",
    )
    return int(rows[0][0])


def flag(value: bool) -> str:
    return "true" if value else "false"


def part_a(home: Path, files: list[Path], logs: Path) -> tuple[dict[str, object], list[Upload]]:
    uploads = [Upload(path) for path in files]
    logs.mkdir(parents=True, exist_ok=True)
    # stderr into files, not pipes: polling N processes must not block on one that fills its pipe.
    errs = [logs / f"upload-{i}.stderr" for i in range(len(uploads))]
    started = time.perf_counter()
    with PeakRss(os.getpid()) as peak:
        procs = []
        for upload, err in zip(uploads, errs, strict=True):
            with err.open("w") as fh:
                cmd = [CLI, "upload", str(upload.path), "--dataset", "enigma-jhu", "--home", str(home)]
                # Own session: a hung upload is killed with its Spark JVM, and nothing else.
                procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=fh, start_new_session=True))
        running = set(range(len(procs)))
        while running and time.perf_counter() - started < TIMEOUT_S:
            for i in sorted(running):
                if procs[i].poll() is not None:
                    uploads[i].code, uploads[i].seconds = procs[i].returncode, time.perf_counter() - started
                    running.discard(i)
            time.sleep(0.2)
        for i in running:  # still running after the timeout: reported as such, not waited for
            os.killpg(procs[i].pid, signal.SIGKILL)
            uploads[i].detail = f"killed after {TIMEOUT_S} s"
    wall = time.perf_counter() - started
    for upload, err in zip(uploads, errs, strict=True):
        classify(upload, err.read_text(), home)

    uris = [RAW_JHU + u.path.name for u in uploads]
    expected = {u.path.name: csv_rows(u.path) for u in uploads}
    per_object = {
        name.rsplit("/", 1)[-1]: (int(n), str(at) if at else "")
        for name, n, at in query(
            home,
            "SELECT source_object, count(*), max(finished_at) FROM load_audit "
            "WHERE source_object IN (SELECT unnest(?)) GROUP BY 1",
            [uris],
        )
    }
    loaded = dict(
        query(
            home,
            "SELECT source_object, count(*) FROM fact_cases_daily WHERE source_object IN (SELECT unnest(?)) GROUP BY 1",
            [uris],
        )
    )
    rejected = dict(
        query(
            home,
            "SELECT source_object, count(*) FROM quarantine WHERE source_object IN (SELECT unnest(?)) GROUP BY 1",
            [uris],
        )
    )
    print(
        f"    {'file':<16}{'exit':>5}  {'outcome':<18}{'done at s':>10}{'rows':>8}{'loaded':>8}{'rejected':>9}"
        f"{'audit rows':>11}  committed at              retries"
    )
    for upload, uri in zip(uploads, uris, strict=True):
        audit_n, committed = per_object.get(upload.path.name, (0, ""))
        retried = ", ".join(f"{k} x{v}" for k, v in sorted(upload.retries.items())) or "-"
        print(
            f"    {upload.path.name:<16}{upload.code:>5}  {upload.outcome:<18}{upload.seconds:>10.1f}"
            f"{expected[upload.path.name]:>8}{loaded.get(uri, 0):>8}{rejected.get(uri, 0):>9}{audit_n:>11}"
            f"  {committed[:23]:<26}{retried}"
        )
        if upload.detail:
            print(f"      {upload.detail}")
    for upload in uploads:
        if upload.execution and (rec := record(home, upload.execution)):
            states = rec.get("state_durations", {})
            spent = ", ".join(
                f"{s} {states[s]:.1f} s" for s in ("Setup", "StartCrawl", "Stage", "Clean", "Load") if s in states
            )
            took = (rec.get("stopped_at") or rec["started_at"]) - rec["started_at"]
            print(f"    {upload.path.name}: {rec.get('status')} in {took:.1f} s ({spent})")
    dups = duplicate_keys(home / "warehouse.duckdb")
    all_retries: Counter[str] = sum((u.retries for u in uploads), Counter())
    figures: dict[str, object] = {
        "concurrent_uploads": len(uploads),
        "uploads_succeeded": sum(u.code == 0 and u.outcome == "succeeded" for u in uploads),
        "rows_expected": sum(expected.values()),
        "rows_loaded": sum(loaded.values()),
        "rows_rejected": sum(rejected.values()),
        "rows_missing": sum(expected.values()) - sum(loaded.values()) - sum(rejected.values()),
        "duplicates": sum(dups.values()),
        "audit_one_row_per_object": flag(all(per_object.get(u.path.name, (0, ""))[0] == 1 for u in uploads)),
        "dod_mismatches": dod_mismatches(home),
        "crawler_busy_retries": sum(n for k, n in all_retries.items() if k.endswith(":CrawlerBusy")),
        "other_retries": sum(n for k, n in all_retries.items() if not k.endswith(":CrawlerBusy")),
    }
    print(f"    duplicate keys per table: {dups}")
    print(f"    peak RSS of all {len(uploads)} process trees together: {peak.peak / 2**20:,.0f} MiB")
    print(f"    wall (a): {wall:.1f} s")
    return figures, uploads


def part_b(home: Path, source: Path, reruns: int, before: dict[str, Checksum]) -> dict[str, object]:
    started = time.perf_counter()
    sums: list[dict[str, Checksum]] = []
    failed = 0
    for k in range(reruns):
        code, err, seconds = cli("run", "--source", str(source), "--reprocess", "--home", str(home))
        failed += code != 0
        sums.append(table_checksums(home / "warehouse.duckdb"))
        same = "identical to re-run 1" if sums[-1] == sums[0] else "DIFFERENT from re-run 1"
        print(f"    re-run {k + 1}: exit {code} in {seconds:.1f} s; checksums {same if k else 'taken'}")
        if code != 0:
            print("      " + (err.strip().splitlines() or [""])[-1][:300])
        for line in differences(sums[0], sums[-1]):
            print(f"      {line}")
    identical = all(s == sums[0] for s in sums) and failed == 0
    matches = bool(sums) and sums[0] == before
    if sums and not matches:
        print("    a full re-run differs from the state the concurrent uploads built:")
        for line in differences(before, sums[0]):
            print(f"      {line}")
    elif sums:
        print("    re-run 1 reproduces the state the concurrent uploads built, table for table")
    print(f"    audit rows now {row_counts(home / 'warehouse.duckdb').get('load_audit', 0)} (one per object per run)")
    print(f"    wall (b): {time.perf_counter() - started:.1f} s")
    return {
        "reruns": reruns,
        "rerun_failures": failed,
        "checksums_identical": flag(identical) if reruns else "n/a",
        "rerun_matches_incremental": flag(matches) if reruns else "n/a",
    }


def part_c(home: Path, source: Path, files: list[Path]) -> dict[str, object]:
    """Each duplicate must start no execution, or one that ends in NothingToDo, and move no checksum."""
    started = time.perf_counter()
    cases: list[tuple[str, list[str], str]] = [
        ("identical re-upload", ["upload", str(files[0]), "--dataset", "enigma-jhu"], "already processed"),
    ]
    if len(files) > 1:
        pair = ["upload", str(files[0]), str(files[-1]), "--dataset", "enigma-jhu"]
        cases.append(("loaded pair as a new batch", pair, "nothing to do"))
    cases.append(("plain re-run of the source", ["run", "--source", str(source)], "nothing to do"))
    all_noop = True
    for label, args, expect in cases:
        before, known = table_checksums(home / "warehouse.duckdb"), executions(home)
        code, err, seconds = cli(*args, "--home", str(home))
        new = sorted(executions(home) - known)
        cleaned = [n for n in new if "Clean" in record(home, n).get("state_durations", {})]
        moved = differences(before, table_checksums(home / "warehouse.duckdb"))
        noop = code == 0 and expect in err and not cleaned and not moved
        all_noop &= noop
        started_text = f"{len(new)} execution(s) started" + (f", {len(cleaned)} ran Clean" if cleaned else "")
        print(
            f"    {label:<28} exit {code}, {seconds:5.1f} s, '{expect}': {flag(expect in err)}, {started_text}, "
            f"checksums {'unchanged' if not moved else 'CHANGED'} -> {'no-op' if noop else 'NOT A NO-OP'}"
        )
        for line in moved:
            print(f"      {line}")
    print(f"    wall (c): {time.perf_counter() - started:.1f} s")
    return {"duplicate_event_noop": flag(all_noop)}


def part_d(home: Path, work: Path) -> dict[str, object]:
    started = time.perf_counter()
    private = work / "hostile-home"
    shutil.copytree(home, private)
    outcomes = hostile_inputs(private, work / "hostile")
    for o in outcomes:
        print(f"    {'ok ' if o.ok else 'BAD'} {o.name:<40} {o.outcome}")
    print(f"    wall (d): {time.perf_counter() - started:.1f} s")
    return {"hostile_inputs": len(outcomes), "hostile_ok": sum(o.ok for o in outcomes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=8, help="concurrent upload processes (default: %(default)s)")
    parser.add_argument("--reruns", type=int, default=3, help="full --reprocess re-runs (default: %(default)s)")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="days loaded before (default: %(default)s)")
    parser.add_argument("--regions", type=int, default=DEFAULT_REGIONS, help="US counties (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.uploads < 1 or args.reruns < 0 or not 1 <= args.days <= HORIZON - args.uploads:
        parser.error(f"need --uploads >= 1, --reruns >= 0 and 1 <= --days <= {HORIZON} - --uploads")
    with work_dir(args.keep, "covid-reliability-") as work:
        return _bench(args, work)


def _bench(args: argparse.Namespace, work: Path) -> int:
    total = time.perf_counter()
    source, home = work / "source", work / "home"
    gen = generate(source, days=args.days, regions=args.regions, seed=args.seed)
    # The days after the loaded ones, each its own file: what the next N daily deliveries look like.
    files = [write_jhu_day(work / "uploads", args.days + i, args.regions, args.seed) for i in range(args.uploads)]
    print(f"data: {gen.summary()} (days={args.days} regions={args.regions} seed={args.seed})")
    print(f"      + {len(files)} new JHU day files {files[0].name} .. {files[-1].name}")
    code, err, seconds = cli("run", "--source", str(source), "--home", str(home))
    print(f"\nbase load: exit {code} in {seconds:.1f} s")
    if code != 0:
        print(err[-3000:])
        print(f"RELIABILITY concurrent_uploads={args.uploads} base_load=failed")
        return 1

    print(f"\n(a) {len(files)} concurrent uploads, one process each")
    figures, _ = part_a(home, files, work / "logs")
    after_a = table_checksums(home / "warehouse.duckdb")
    print(f"\n(b) {args.reruns} re-runs with --reprocess")
    figures |= part_b(home, source, args.reruns, after_a)
    print("\n(c) duplicate events")
    figures |= part_c(home, source, files)
    print("\n(d) hostile inputs")
    figures |= part_d(home, work)
    figures["wall_s"] = f"{time.perf_counter() - total:.0f}"
    print(f"\ntotal wall: {figures['wall_s']} s")
    print("RELIABILITY " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
