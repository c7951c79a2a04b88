"""``covid-pipeline``: run the pipeline locally, upload files, backfill, query the warehouse, list executions."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from covid_pipeline.feeds import DATASETS, FEEDS, JSON, object_format
from covid_pipeline.ports import PipelineError
from covid_pipeline.uris import check_key, join

DEFAULT_HOME = Path(".covid-pipeline")
console = Console(stderr=True, soft_wrap=True)
out = Console()


def _pipeline(home: Path):  # type: ignore[no-untyped-def]
    from covid_pipeline.runner.local import LocalPipeline  # imported late: keeps --help fast

    return LocalPipeline(home)


class _Progress:
    """Live view of the execution: the running state with a spinner, one line per finished state."""

    def __init__(self) -> None:
        self.status = console.status("starting", spinner="dots")
        self.entered: dict[str, float] = {}

    def __enter__(self) -> _Progress:
        self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.__exit__(None, None, None)

    def __call__(self, event: Any) -> None:
        if event.type == "StateEntered":
            self.entered[event.state] = event.timestamp
            self.status.update(f"[bold]{event.state}[/] running")
        elif event.type == "StateExited" and event.state in self.entered:
            spent = event.timestamp - self.entered.pop(event.state)
            console.print(f"  [green]✓[/] {event.state:<16} {spent:7.2f} s")
        elif event.type in {"TaskFailed", "CaughtError"}:
            console.print(f"  [red]✗[/] {event.state:<16} {event.details.get('error', '')}")
        elif event.type == "TaskRetry":
            console.print(f"  [yellow]↻[/] {event.state:<16} retry in {event.details.get('delay_seconds', 0)} s")


# What the rows of a batch did in the warehouse (Load's merge_rules counts), in the summary's order.
CHANGE_COLUMNS = ("new", "changed", "unchanged", "superseded")


def _summary(record: Any, home: Path) -> None:
    output = record.output if isinstance(record.output, dict) else {}
    if output.get("objects") == 0 and "load" not in output:
        console.print(
            f"nothing to do: the warehouse already holds the current version of every object "
            f"({output.get('skipped', 0)} skipped; use --reprocess or backfill to load them again)"
        )
    for refused in output.get("refused", []):
        console.print(f"[yellow]refused[/] {refused['key']}: {refused['reason']}")
    load = (record.output or {}).get("load", {}).get("result", {}) if isinstance(record.output, dict) else {}
    if load:
        # Short headers: the table fits an 80-column terminal (names are never cut).
        table = Table(title="warehouse: rows of this run, and what they did", show_edge=False, pad_edge=False)
        table.add_column("table", no_wrap=True)
        table.add_column("loaded", justify="right")
        for column in CHANGE_COLUMNS:
            table.add_column(column, justify="right", no_wrap=True)
        table.add_column("total", justify="right")
        changes = load.get("changes", {})
        for name, total in load.get("rows_total", {}).items():
            counts = changes.get(name, {})
            cells = [f"{counts[c]:,}" if c in counts else "" for c in CHANGE_COLUMNS]
            table.add_row(name, f"{load.get('rows_merged', {}).get(name, 0):,}", *cells, f"{total:,}")
        console.print(table)
        unresolved = load.get("unresolved_regions", 0)
        if unresolved:
            shown = load.get("unresolved_names", [])
            more = ", ..." if unresolved > len(shown) else ""
            console.print(
                f"{unresolved} region(s) outside JHU's lookup, kept as the feeds wrote them "
                f"(dim_region.in_lookup = false): {', '.join(shown)}{more}",
                markup=False,
            )
        rejected = load.get("rejected", {})
        if rejected:
            rej = Table(title="rows rejected (quarantine) by reason", show_edge=False)
            rej.add_column("reason")
            rej.add_column("rows", justify="right")
            for reason, count in rejected.items():
                rej.add_row(reason, f"{count:,}")
            console.print(rej)
        else:
            console.print("no rows rejected")
    refused = (record.output or {}).get("stage", {}).get("refused_objects", 0) if isinstance(record.output, dict) else 0
    if refused:
        console.print(
            f"[yellow]{refused} raw object(s) refused whole[/] (empty, header only, or a required column missing): "
            "listed with the reason in quarantine/_refused/<run_id>.jsonl"
        )
    times = Table(title="time per state", show_edge=False)
    times.add_column("state")
    times.add_column("seconds", justify="right")
    for state, seconds in record.state_durations.items():
        times.add_row(state, f"{seconds:.2f}")
    console.print(times)
    console.print(f"warehouse: {home / 'warehouse.duckdb'}")
    _report_after_execution(home)


def _report_after_execution(home: Path) -> None:
    """The report of the home after an execution; drawing it never changes the execution's outcome."""
    from covid_pipeline.report import write_report

    try:
        console.print(f"report: {write_report(home)}", markup=False)
    except Exception as exc:  # the execution's result stands whatever the report met
        console.print(f"report: not written ({type(exc).__name__}: {exc})", markup=False)


def _execute(home: Path, execution_input: dict[str, Any], name: str | None = None) -> int:
    from covid_pipeline.runner.local import ExecutionAlreadyExists

    pipeline = _pipeline(home)
    started = time.monotonic()
    try:
        with _Progress() as progress:
            record = pipeline.execute(execution_input, name=name, listener=progress)
    except ExecutionAlreadyExists as exc:
        # Same objects, same name: an earlier upload of exactly these files (S3's duplicate event).
        earlier = pipeline.record(exc.name)
        status = earlier.status if earlier else "RUNNING"
        console.print(f"already processed: execution {exc.name} ({status}) was started for exactly these objects")
        if status == "FAILED":
            console.print("re-run it with --reprocess (a new execution; only what is not loaded yet is processed)")
            return 1
        return 0
    elapsed = time.monotonic() - started
    if record.status != "SUCCEEDED":
        _summary(record, pipeline.home)
        console.print(f"[red]execution {record.name} FAILED[/] in state {record.failed_state}: {record.reason}")
        console.print(f"history: {pipeline.executions_dir / record.name}")
        return 1
    _summary(record, pipeline.home)
    console.print(f"[green]execution {record.name} SUCCEEDED[/] in {elapsed:.1f} s")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from covid_pipeline.runner.local import find_project_root

    source = Path(args.source) if args.source else find_project_root() / "data" / "lake"
    if not source.is_dir():
        raise PipelineError(f"source folder {source} does not exist")
    present = [d for d in DATASETS if (source / d).is_dir()]
    if not present:
        raise PipelineError(f"source folder {source} has none of the dataset folders {list(DATASETS)}")
    console.print(f"source {source.resolve()} ({', '.join(present)}) -> home {args.home.resolve()}")
    request: dict[str, Any] = {"source_uri": source.resolve().as_uri() + "/", "datasets": present}
    if args.reprocess:
        request["reprocess"] = True
    return _execute(args.home, request)


def _feed_prefix(dataset: str, prefix: str | None, filename: str) -> str:
    """The folder of ``dataset`` a file goes to: ``--prefix``, else the one folder of one feed that accepts it
    (of a feed's several folders, the one named for the file's format: ``json/`` for JSON Lines)."""
    if prefix is not None:
        folder = prefix.strip("/")
        return f"{folder}/" if folder else ""
    feeds = [f for f in FEEDS.values() if f.dataset == dataset]
    places = [(f.name, p) for f in feeds for p in f.prefixes if f.accepts(f"{dataset}/{p}{filename}")]
    if len({name for name, _ in places}) == 1:
        as_json = object_format(filename) == JSON
        by_format = [p for _, p in places if ("json" in p) == as_json]
        return (by_format or [places[0][1]])[0]
    choices = ", ".join(dict.fromkeys(p or "(dataset root)" for f in feeds for p in f.prefixes))
    raise PipelineError(f"{filename}: say where it goes in {dataset} with --prefix (one of: {choices})")


def cmd_upload(args: argparse.Namespace) -> int:
    """Put the files into the raw zone, then start ONE execution for them, as the AWS trigger does per batch."""
    from covid_pipeline.composition import local_ports
    from covid_pipeline.domain.trigger import execution_name
    from covid_pipeline.runner.local import local_settings, new_execution_name

    if args.dataset not in DATASETS:
        raise PipelineError(f"unknown dataset {args.dataset!r}; known: {', '.join(DATASETS)}")
    paths = [Path(name) for name in args.files]
    for path in paths:
        if not path.is_file():
            raise PipelineError(f"no such file: {path}")
    pipeline = _pipeline(args.home)
    settings = local_settings(pipeline)
    ports = local_ports(settings)
    ports.store.ensure_bucket(settings.raw_uri)
    objects = []
    for path in paths:
        key = check_key(f"{args.dataset}/{_feed_prefix(args.dataset, args.prefix, path.name)}{path.name}")
        info = ports.store.copy(path.resolve().as_uri(), join(settings.raw_uri, key))
        console.print(f"uploaded {path} -> {info.uri} (etag {info.etag})")
        objects.append({"key": key, "etag": info.etag})
    request: dict[str, Any] = {"objects": objects, "bucket": settings.raw_bucket}
    if args.reprocess:
        return _execute(args.home, {**request, "reprocess": True}, new_execution_name("reprocess"))
    return _execute(args.home, request, execution_name((o["key"], o["etag"]) for o in objects))


def cmd_backfill(args: argparse.Namespace) -> int:
    from covid_pipeline.composition import local_ports
    from covid_pipeline.domain.backfill import BackfillRequest, covers
    from covid_pipeline.domain.setup import raw_objects
    from covid_pipeline.runner.local import local_settings, new_execution_name

    request = BackfillRequest.from_request({"dataset": args.dataset, "from": args.date_from, "to": args.date_to})
    pipeline = _pipeline(args.home)
    ports = local_ports(local_settings(pipeline))
    selected = [(obj, feed) for obj, feed in raw_objects(ports, [request.dataset]) if covers(feed, obj.uri, request)]
    if not selected:
        raise PipelineError(f"the raw zone holds no object of {request.dataset} for {request.describe()}")
    console.print(f"backfill {request.dataset} {request.describe()}:")
    for obj, feed in selected:
        scope = f"rows dated {request.describe()}" if feed.date_column else "all rows (the feed has no date)"
        console.print(f"  {obj.uri}  [{feed.name}: {scope}]", markup=False)
    if args.dry_run:
        console.print(f"dry run: {len(selected)} object(s) would be re-processed; nothing was started")
        return 0
    execution_input = {
        "backfill": {"dataset": request.dataset, "from": request.date_from_text, "to": request.date_to_text}
    }
    return _execute(args.home, execution_input, new_execution_name("backfill"))


def cmd_sql(args: argparse.Namespace) -> int:
    from covid_pipeline.adapters.local.object_store import LocalObjectStore
    from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse

    home = args.home.resolve()
    warehouse = DuckDbWarehouse(home / "warehouse.duckdb", LocalObjectStore(home))
    names, rows = warehouse.query_with_columns(args.query)
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows(rows)
    elif args.format == "json":
        print(json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=str, indent=1))
    else:
        table = Table(show_edge=False)
        for name in names:
            table.add_column(name)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)
        console.print(f"{len(rows)} row(s)")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    records = _pipeline(args.home).executions(limit=args.limit)
    if not records:
        console.print(f"no executions yet in {args.home}")
        return 0
    table = Table(show_edge=False)
    for col in ("execution", "status", "started (UTC)", "seconds", "failed state / reason"):
        table.add_column(col)
    for r in records:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.started_at))
        seconds = f"{r.duration_s:.1f}" if r.duration_s is not None else "-"
        detail = f"{r.failed_state}: {r.reason}" if r.status == "FAILED" else ""
        style = {"SUCCEEDED": "green", "FAILED": "red"}.get(r.status, "yellow")
        table.add_row(r.name, f"[{style}]{r.status}[/]", started, seconds, detail[:120])
    out.print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import webbrowser

    from covid_pipeline.report import write_report

    started = time.monotonic()
    path = write_report(args.home, Path(args.out) if args.out else None)
    elapsed = time.monotonic() - started
    console.print(f"report: {path} ({path.stat().st_size:,} bytes, {elapsed:.1f} s)", markup=False)
    if args.open:
        webbrowser.open(path.resolve().as_uri())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covid-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--home", type=Path, default=DEFAULT_HOME, help="local state folder (default: %(default)s)")
        return p

    run = with_home(sub.add_parser("run", help="run the whole state machine over a source folder"))
    run.add_argument("--source", help="folder in the data lake's layout (default: the bundled sample)")
    run.add_argument(
        "--reprocess", action="store_true", help="load every object again, even those load_audit already holds"
    )
    run.set_defaults(func=cmd_run)

    upload = with_home(sub.add_parser("upload", help="put files into the raw zone and run an execution for each"))
    upload.add_argument("files", nargs="+", metavar="FILE")
    upload.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    upload.add_argument("--prefix", help="folder inside the dataset (default: the dataset's feed folder)")
    upload.add_argument(
        "--reprocess", action="store_true", help="process the files even if these exact versions were loaded before"
    )
    upload.set_defaults(func=cmd_upload)

    backfill = with_home(
        sub.add_parser("backfill", help="re-process a dataset's rows of a date range from the raw zone")
    )
    backfill.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    backfill.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--dry-run", action="store_true", help="list what would be re-processed, start nothing")
    backfill.set_defaults(func=cmd_backfill)

    sql = with_home(sub.add_parser("sql", help="query the local warehouse (DuckDB SQL)"))
    sql.add_argument("query")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.set_defaults(func=cmd_sql)

    status = with_home(sub.add_parser("status", help="recent executions and their states"))
    status.add_argument("--limit", type=int, default=20)
    status.set_defaults(func=cmd_status)

    report = with_home(sub.add_parser("report", help="draw one self-contained HTML page of the runs and the data"))
    report.add_argument("--out", metavar="FILE.html", help="where to write it (default: <home>/report.html)")
    report.add_argument("--open", action="store_true", help="open it in the web browser")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except PipelineError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
