"""``covid-pipeline``: run the pipeline locally, upload files, backfill, query the warehouse, list executions."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from covid_pipeline.feeds import DATASETS, FEEDS, JSON, accepted_files, object_format
from covid_pipeline.headers import HEADER_PROBE_BYTES, text_problem
from covid_pipeline.ports import PipelineError
from covid_pipeline.uris import check_key, join

DEFAULT_HOME = Path(".covid-pipeline")
# Data and object keys are printed verbatim: never as Rich markup or emoji codes (a value "[bold]" or
# ":x:" stays as written). They go out as Text objects; no emoji codes, no highlighting.
console = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)
out = Console(emoji=False, highlight=False)


def _pipeline(home: Path):  # type: ignore[no-untyped-def]
    from covid_pipeline.runner.local import LocalPipeline  # imported late: keeps --help fast

    return LocalPipeline(home)


def _line(mark: str, style: str, text: str) -> Text:
    return Text.assemble(("  " + mark, style), " " + text)


class _Progress:
    """Live view of the execution: one line per finished state (✓ or ✗, once) with its time, one per retry.

    On a terminal a spinner names the running state; elsewhere (a CI log, a pipe: Rich's spinner
    prints nothing there) a line says when each state starts, so a long Clean is never silent.
    """

    def __init__(self) -> None:
        self.status = console.status("starting", spinner="dots") if console.is_terminal else None
        self.entered: dict[str, float] = {}
        self.failed: dict[str, str] = {}  # state -> the error its task ended on (not retried)

    def __enter__(self) -> _Progress:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(None, None, None)

    def __call__(self, event: Any) -> None:
        state = str(event.state)
        error = str(event.details.get("error", ""))
        if event.type == "StateEntered":
            self.entered[state] = event.timestamp
            self.failed.pop(state, None)
            if self.status is not None:
                self.status.update(Text.assemble((state, "bold"), " running"))
            else:
                console.print(_line("▶", "cyan", f"{state} started"))
        elif event.type in {"TaskFailed", "CaughtError"}:
            # Shown once, when the state ends: a caught error still exits the state (StateExited).
            self.failed[state] = error
        elif event.type == "TaskRetry":
            self.failed.pop(state, None)
            console.print(
                _line("↻", "yellow", f"{state:<16} {error}: retry in {event.details.get('delay_seconds', 0)} s")
            )
        elif event.type in {"StateExited", "StateFailed"} and state in self.entered:
            spent = event.timestamp - self.entered.pop(state)
            if event.type == "StateFailed" or state in self.failed:
                console.print(_line("✗", "red", f"{state:<16} {spent:7.2f} s  {self.failed.pop(state, error)}"))
            else:
                console.print(_line("✓", "green", f"{state:<16} {spent:7.2f} s"))


# What the rows of a batch did in the warehouse (Load's merge_rules counts), in the summary's order.
CHANGE_COLUMNS = ("new", "changed", "unchanged", "superseded")


def _summary(record: Any, home: Path) -> None:
    _outcome(record)
    # No time table: the progress lines gave each state's time, the last line gives the total.
    console.print(Text(f"warehouse: {home / 'warehouse.duckdb'}"))
    _warm_spark_note()
    _report_after_execution(home)


def _warm_spark_note() -> None:
    """Say so when a warm Spark driver stays up after the command: a background JVM is never a surprise."""
    from covid_pipeline.adapters.local import warm_spark

    pids = warm_spark.driver_pids()
    if pids:
        console.print(
            Text(
                f"spark: warm driver pid {', '.join(map(str, pids))} kept for the next small batch; it stops after "
                f"{warm_spark.idle_seconds() / 60:g} idle minutes, or now with: covid-pipeline spark stop"
            )
        )


def _outcome(record: Any) -> None:
    """What the execution did, from its output: nothing to do, refusals, the warehouse's rows, rejections."""
    output = record.output if isinstance(record.output, dict) else {}
    if output.get("objects") == 0 and "load" not in output:
        console.print(
            f"nothing to do: the warehouse already holds the current version of every object "
            f"({output.get('skipped', 0)} skipped; use --reprocess or backfill to load them again)"
        )
    for refused in output.get("refused", []):
        console.print(_line("refused", "yellow", f"{refused['key']}: {refused['reason']}"))
    if output.get("refused_count", 0) > len(output.get("refused", [])):
        console.print(f"  ... and {output['refused_count'] - len(output['refused'])} more")
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
            table.add_row(Text(name), f"{load.get('rows_merged', {}).get(name, 0):,}", *cells, f"{total:,}")
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
                rej.add_row(Text(reason), f"{count:,}")
            console.print(rej)
        else:
            console.print("no rows rejected")
    _stage_refusals(output)


def _stage_refusals(output: dict[str, Any]) -> None:
    """Each object Stage refused whole, with its reason (the step's output lists the first 20)."""
    stage = output.get("stage") if isinstance(output.get("stage"), dict) else {}
    count = stage.get("refused_objects", 0)
    if not count:
        return
    console.print(
        _line(f"{count} raw object(s) refused whole", "yellow", "(empty, header only, a required column missing, ...):")
    )
    for line in stage.get("refusals", []):
        console.print(Text(f"    {line}"))
    if count > len(stage.get("refusals", [])):
        where = join(
            output.get("quarantine_uri", "quarantine/"), "_refused", f"{output.get('run_id', '<run_id>')}.jsonl"
        )
        console.print(Text(f"    ... and {count - len(stage.get('refusals', []))} more, listed in {where}"))


def _report_after_execution(home: Path) -> None:
    """The report of the home after an execution; drawing it never changes the execution's outcome."""
    from covid_pipeline.report import write_report

    try:
        console.print(Text(f"report: {write_report(home)}"))
    except Exception as exc:  # the execution's result stands whatever the report met
        console.print(Text(f"report: not written ({type(exc).__name__}: {exc})"))


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
        console.print(Text(f"already processed: execution {exc.name} ({status}) was started for exactly these objects"))
        if status == "FAILED":
            console.print("re-run it with --reprocess (a new execution; only what is not loaded yet is processed)")
            return 1
        return 0
    elapsed = time.monotonic() - started
    if record.status != "SUCCEEDED":
        _summary(record, pipeline.home)
        console.print(
            Text.assemble(
                (f"execution {record.name} FAILED", "red"), f" in state {record.failed_state}: {record.reason}"
            )
        )
        console.print(Text(f"history: {pipeline.executions_dir / record.name}"))
        return 1
    _summary(record, pipeline.home)
    console.print(Text.assemble((f"execution {record.name} SUCCEEDED", "green"), f" in {elapsed:.1f} s"))
    return 0


def _waits_here(args: argparse.Namespace) -> None:
    """--no-wait is for a stack's execution: a local one runs in this process."""
    if getattr(args, "no_wait", False):
        raise PipelineError("--no-wait goes with --stack NAME: a local execution runs in this process")


def cmd_run(args: argparse.Namespace) -> int:
    from covid_pipeline.runner.local import find_project_root

    _waits_here(args)
    source = Path(args.source) if args.source else find_project_root() / "data" / "lake"
    if source.exists() and not source.is_dir():
        raise PipelineError(f"--source {source} is a file: give the folder that holds the dataset folders")
    if not source.is_dir():
        raise PipelineError(f"source folder {source} does not exist")
    present = [d for d in DATASETS if (source / d).is_dir()]
    if not present:
        raise PipelineError(f"source folder {source} has none of the dataset folders {list(DATASETS)}")
    console.print(Text(f"source {source.resolve()} ({', '.join(present)}) -> home {args.home.resolve()}"))
    request: dict[str, Any] = {"source_uri": source.resolve().as_uri() + "/", "datasets": present}
    if args.reprocess:
        request["reprocess"] = True
    return _execute(args.home, request)


def _feed_prefix(dataset: str, prefix: str | None, filename: str) -> str:
    """The folder of ``dataset`` a file goes to: ``--prefix``, else the one folder of one feed that accepts it
    (of a feed's several folders, the one named for the file's format: ``json/`` for JSON Lines).

    A file no feed of the dataset accepts there is refused: it would only be refused later, from the raw zone.
    """
    feeds = [f for f in FEEDS.values() if f.dataset == dataset]
    if prefix is not None:
        folder = prefix.strip("/")
        folder = f"{folder}/" if folder else ""
        check_key(f"{dataset}/{folder}{filename}")  # a prefix escaping the dataset is refused as such first
        if not any(f.accepts(f"{dataset}/{folder}{filename}") for f in feeds):
            raise PipelineError(
                f"{filename}: no feed of {dataset} reads it in {folder or '(dataset root)'}; "
                f"{dataset} accepts: {'; '.join(accepted_files(dataset))}"
            )
        return folder
    places = [(f.name, p) for f in feeds for p in f.prefixes if f.accepts(f"{dataset}/{p}{filename}")]
    if not places:
        raise PipelineError(
            f"{filename}: no feed of {dataset} reads such a file; it accepts: {'; '.join(accepted_files(dataset))}"
        )
    if len({name for name, _ in places}) == 1:
        as_json = object_format(filename) == JSON
        by_format = [p for _, p in places if ("json" in p) == as_json]
        return (by_format or [places[0][1]])[0]
    choices = ", ".join(dict.fromkeys(p or "(dataset root)" for _, p in places))
    raise PipelineError(f"{filename}: say where it goes in {dataset} with --prefix (one of: {choices})")


def upload_keys(dataset: str, prefix: str | None, files: list[str]) -> list[tuple[Path, str]]:
    """Each file and its raw key, every file checked before any is copied (here or to S3): a refused one
    leaves nothing behind in the raw zone."""
    if dataset not in DATASETS:
        raise PipelineError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    paths = [Path(name) for name in files]
    for path in paths:
        if not path.is_file():
            raise PipelineError(f"no such file: {path}")
    keys = []
    for path in paths:
        key = check_key(f"{dataset}/{_feed_prefix(dataset, prefix, path.name)}{path.name}")
        with path.open("rb") as fh:
            problem = text_problem(fh.read(HEADER_PROBE_BYTES), key)  # the rule Setup applies in the raw zone
        if problem is not None:
            raise PipelineError(f"{path}: {problem}; nothing was uploaded")
        keys.append((path, key))
    return keys


def cmd_upload(args: argparse.Namespace) -> int:
    """Put the files into the raw zone, then start ONE execution for them, as the AWS trigger does per batch."""
    from covid_pipeline.composition import local_ports
    from covid_pipeline.domain.trigger import execution_name
    from covid_pipeline.runner.local import local_settings, new_execution_name

    keys = upload_keys(args.dataset, args.prefix, args.files)
    pipeline = _pipeline(args.home)
    settings = local_settings(pipeline)
    ports = local_ports(settings)
    ports.store.ensure_bucket(settings.raw_uri)
    objects = []
    for path, key in keys:
        info = ports.store.copy(path.resolve().as_uri(), join(settings.raw_uri, key))
        console.print(Text(f"uploaded {path} -> {info.uri} (etag {info.etag})"))
        objects.append({"key": key, "etag": info.etag})
    request: dict[str, Any] = {"objects": objects, "bucket": settings.raw_bucket}
    if args.reprocess:
        return _execute(args.home, {**request, "reprocess": True}, new_execution_name("reprocess"))
    return _execute(args.home, request, execution_name((o["key"], o["etag"]) for o in objects))


def cmd_backfill(args: argparse.Namespace) -> int:
    from covid_pipeline.composition import local_ports
    from covid_pipeline.runner.local import local_settings, new_execution_name

    _waits_here(args)
    pipeline = _pipeline(args.home)
    execution_input = backfill_plan(args, local_ports(local_settings(pipeline)))
    if execution_input is None:
        return 0
    return _execute(args.home, execution_input, new_execution_name("backfill"))


def backfill_plan(args: argparse.Namespace, ports: Any) -> dict[str, Any] | None:
    """List the raw objects the backfill covers (``ports``: a store and the raw zone's URI); its execution input,
    None for --dry-run."""
    from covid_pipeline.domain.backfill import BackfillRequest, covers
    from covid_pipeline.domain.setup import raw_objects

    request = BackfillRequest.from_request({"dataset": args.dataset, "from": args.date_from, "to": args.date_to})
    selected = [(obj, feed) for obj, feed in raw_objects(ports, [request.dataset]) if covers(feed, obj.uri, request)]
    if not selected:
        raise PipelineError(f"the raw zone holds no object of {request.dataset} for {request.describe()}")
    console.print(Text(f"backfill {request.dataset} {request.describe()}:"))
    for obj, feed in selected:
        scope = f"rows dated {request.describe()}" if feed.date_column else "all rows (the feed has no date)"
        console.print(f"  {obj.uri}  [{feed.name}: {scope}]", markup=False)
    if args.dry_run:
        console.print(f"dry run: {len(selected)} object(s) would be re-processed; nothing was started")
        return None
    return {"backfill": {"dataset": request.dataset, "from": request.date_from_text, "to": request.date_to_text}}


def rerun_input(execution_input: Any, reprocess: bool) -> dict[str, Any]:
    """The input of a re-run: the execution's own, with ``"reprocess": true`` when asked (a backfill always is)."""
    if not isinstance(execution_input, dict):
        raise PipelineError(f"the execution's input is not a JSON object ({execution_input!r}): cannot re-run it")
    return {**execution_input, "reprocess": True} if reprocess else dict(execution_input)


def cmd_rerun(args: argparse.Namespace) -> int:
    """A new execution with the input of execution NAME (the local runner has no redrive)."""
    from covid_pipeline.runner.local import new_execution_name

    _waits_here(args)
    record = _pipeline(args.home).record(args.name)
    if record is None:
        raise PipelineError(f"no execution {args.name} in {args.home} (covid-pipeline status lists them)")
    console.print(Text(f"re-running {record.name} ({record.status}): a new execution with its input"))
    return _execute(args.home, rerun_input(record.input, args.reprocess), new_execution_name("rerun"))


def print_rows(names: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    """A query's result on stdout as a table, CSV or JSON (the local and the --stack sql print alike)."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows(rows)
    elif fmt == "json":
        print(json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=str, indent=1))
    else:
        table = Table(show_edge=False)
        for name in names:
            table.add_column(Text(name))
        for row in rows:
            table.add_row(*(Text("" if v is None else str(v)) for v in row))
        out.print(table)
        console.print(f"{len(rows)} row(s)")


def cmd_sql(args: argparse.Namespace) -> int:
    from covid_pipeline.adapters.local.object_store import LocalObjectStore
    from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse

    if args.engine is not None:
        raise PipelineError(
            f"--engine {args.engine} goes with --stack NAME; the local warehouse is DuckDB (no --engine)"
        )
    home = args.home.resolve()
    warehouse = DuckDbWarehouse(home / "warehouse.duckdb", LocalObjectStore(home))
    names, rows = warehouse.query_with_columns(args.query)
    print_rows(names, rows, args.format)
    return 0


def print_runs(records: list[Any], empty: str) -> None:
    """Executions, newest first: a table, then each failure's state and reason whole (local and --stack)."""
    if not records:
        console.print(Text(empty))
        return
    table = Table(show_edge=False)
    # Names whole on one line (`history`, a bug report or a re-run need them); a pipe or CI log has no
    # width, so it is not held to Rich's default 80 columns. Reasons go below the table, whole.
    table.add_column("execution", no_wrap=True, min_width=max(len(r.name) for r in records))
    table.add_column("status", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("seconds", no_wrap=True, justify="right")
    for r in records:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.started_at))
        seconds = f"{r.duration_s:.1f}" if r.duration_s is not None else "-"
        style = {"SUCCEEDED": "green", "FAILED": "red"}.get(r.status, "yellow")
        table.add_row(Text(r.name), Text(r.status, style=style), started, seconds)
    out.print(table, width=None if out.is_terminal else 200)
    for r in records:
        if r.status in FAILURE_WORDS:
            out.print(Text.assemble((r.name, "red"), f" {FAILURE_WORDS[r.status]} in {r.failed_state}: {r.reason}"))


# Step Functions' ExecutionStatus values of an execution that ended without success (the local runner: FAILED).
FAILURE_WORDS = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was aborted"}


def cmd_status(args: argparse.Namespace) -> int:
    print_runs(_pipeline(args.home).executions(limit=args.limit), f"no executions yet in {args.home}")
    return 0


def cmd_refused(args: argparse.Namespace) -> int:
    from covid_pipeline.composition import local_ports
    from covid_pipeline.runner.local import local_settings

    settings = local_settings(_pipeline(args.home))
    return refused_view(local_ports(settings).store, settings.quarantine_uri, args.clear, str(args.home))


def refused_view(store: Any, quarantine_uri: str, clear: str | None, where: str) -> int:
    """List the remembered refusals, or forget one (--clear KEY): the local home's or a stack's lake bucket."""
    from covid_pipeline.domain.refused_objects import forget, refused_objects

    if clear is not None:
        record = forget(store, quarantine_uri, clear)
        if record is None:
            raise PipelineError(f"no refusal of {clear!r} is remembered (covid-pipeline refused lists them)")
        console.print(Text(f"forgot the refusal of {record.key} (etag {record.etag}): the next run reads it again"))
        return 0
    records = sorted(refused_objects(store, quarantine_uri).values(), key=lambda r: r.key)
    if not records:
        console.print(Text(f"no refused objects in {where}"))
        return 0
    for r in records:  # one object a line, its key verbatim and whole (what --clear takes)
        console.print(Text(f"{r.key}\n    etag {r.etag}, refused {r.refused_at} by run {r.run_id}: {r.reason}"))
    console.print(f"{len(records)} refused object(s); covid-pipeline refused --clear KEY forgets one")
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    """One function with one event, like `sam local invoke`: its result (or Lambda's error JSON) on stdout."""
    from covid_pipeline.runner.invoke import invoke, read_event

    result = invoke(args.home, args.function, read_event(args.event))
    print(json.dumps(result.error if result.error is not None else result.payload, default=str))
    console.print(Text(f"logs: {result.log_path}"))
    return 1 if result.error is not None else 0


def cmd_report(args: argparse.Namespace) -> int:
    from covid_pipeline.report import write_report

    started = time.monotonic()
    path = write_report(args.home, Path(args.out) if args.out else None)
    return report_written(path, time.monotonic() - started, args.open)


def report_written(path: Path, elapsed: float, open_it: bool) -> int:
    """Say where the report is (and open it): the local and the --stack report alike."""
    import webbrowser

    console.print(Text(f"report: {path} ({path.stat().st_size:,} bytes, {elapsed:.1f} s)"))
    if open_it:
        webbrowser.open(path.resolve().as_uri())
    return 0


def cmd_spark(args: argparse.Namespace) -> int:
    """The warm local Spark drivers (adapters/local/warm_spark.py): list them, or stop them."""
    from covid_pipeline.adapters.local import warm_spark

    if args.action == "stop":
        stopped = warm_spark.stop()
        console.print(Text(f"stopped {len(stopped)} warm Spark driver(s) {stopped or ''}".rstrip()))
        return 0
    found = warm_spark.drivers()
    if not warm_spark.enabled():
        console.print("warm Spark is off (COVID_PIPELINE_WARM_SPARK=0): every Clean starts its own JVM")
    if not found:
        console.print(Text(f"no warm Spark driver running in {warm_spark.state_dir()}"))
        return 0
    for d in found:
        out.print(Text(f"pid {d['pid']}: {d['jobs']} job(s), idle {d['idle_s']} s of {warm_spark.idle_seconds():.0f}"))
    return 0


HOME_HELP = f"local state folder (default: {DEFAULT_HOME}); also accepted before the command"
STACK_HELP = "run against this deployed CloudFormation stack: every resource name comes from its outputs"


def _remote(module: str, name: str) -> Any:
    """The ``--stack`` version of a command: ``covid_pipeline.remote.<module>.<name>(args, stack)``, imported
    only when used (boto3 and awswrangler stay out of local commands and --help)."""

    def call(args: argparse.Namespace) -> int:
        import importlib

        from covid_pipeline.adapters.aws.stack import resolve_stack

        stack = resolve_stack(args.stack, region=args.region, profile=args.profile)
        return int(getattr(importlib.import_module(f"covid_pipeline.remote.{module}"), name)(args, stack))

    return call


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covid-pipeline", description=__doc__)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help=f"local state folder (default: {DEFAULT_HOME})")
    parser.add_argument("--stack", metavar="NAME", help=STACK_HELP)
    parser.add_argument("--region", help="the stack's AWS region (default: the profile's)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or default)")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        # SUPPRESS: without --home after the command, the value given before it (or the default) stays.
        p.add_argument("--home", type=Path, default=argparse.SUPPRESS, help=HOME_HELP)
        aws = p.add_argument_group("a deployed stack (instead of the local home)")
        aws.add_argument("--stack", default=argparse.SUPPRESS, metavar="NAME", help=STACK_HELP)
        aws.add_argument("--region", default=argparse.SUPPRESS, help="the stack's AWS region (default: the profile's)")
        aws.add_argument("--profile", default=argparse.SUPPRESS, help="AWS profile (default: AWS_PROFILE or default)")
        return p

    run = with_home(sub.add_parser("run", help="run the whole state machine over a source folder"))
    run.add_argument(
        "--source",
        help="folder in the data lake's layout, holding dataset folders "
        "(default: the project's data/lake, first parts of the lake's own objects)",
    )
    run.add_argument(
        "--reprocess", action="store_true", help="load every object again, even those load_audit already holds"
    )
    run.add_argument(
        "--no-wait", action="store_true", help="with --stack: start the execution, print it, do not follow it"
    )
    run.set_defaults(func=cmd_run, remote=_remote("control", "run"))

    upload = with_home(
        sub.add_parser(
            "upload",
            help="put files into the raw zone, then run ONE execution for all of them",
            description="Check every file (a feed of the dataset reads it; it is UTF-8 text), copy them into the "
            "raw zone, then run one execution for all of them, as the AWS trigger does for a batch of uploads. "
            "Nothing is copied when a file is refused.",
        )
    )
    upload.add_argument("files", nargs="+", metavar="FILE", help="files to upload (all into the same dataset)")
    upload.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    upload.add_argument(
        "--prefix", help="folder inside the dataset (default: the folder of the one feed that reads such a file)"
    )
    upload.add_argument(
        "--reprocess", action="store_true", help="process the files even if these exact versions were loaded before"
    )
    upload.set_defaults(func=cmd_upload, remote=_remote("control", "upload"))

    backfill = with_home(
        sub.add_parser("backfill", help="re-process a dataset's rows of a date range from the raw zone")
    )
    backfill.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    backfill.add_argument("--from", dest="date_from", required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--to", dest="date_to", required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--dry-run", action="store_true", help="list what would be re-processed, start nothing")
    backfill.add_argument(
        "--no-wait", action="store_true", help="with --stack: start the execution, print it, do not follow it"
    )
    backfill.set_defaults(func=cmd_backfill, remote=_remote("control", "backfill"))

    rerun = with_home(
        sub.add_parser(
            "rerun",
            help="run execution NAME again: redrive it on AWS when it failed, else a new execution with its input",
            description="On a stack, a FAILED, TIMED_OUT or ABORTED execution that Step Functions can still redrive "
            "(14 days) continues from the state that failed; any other (or with --reprocess) starts a new "
            "execution with its input. Locally, always a new execution with its recorded input.",
        )
    )
    rerun.add_argument("name", metavar="NAME", help="the execution's name (covid-pipeline status lists them)")
    rerun.add_argument(
        "--reprocess", action="store_true", help="a new execution that loads its objects again, even if loaded"
    )
    rerun.add_argument("--no-wait", action="store_true", help="with --stack: start it, print it, do not follow it")
    rerun.set_defaults(func=cmd_rerun, remote=_remote("control", "rerun"))

    sql = with_home(
        sub.add_parser("sql", help="query the warehouse: local DuckDB, or with --stack Redshift (or Athena)")
    )
    sql.add_argument("query")
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument(
        "--engine",
        choices=("redshift", "athena"),
        help="with --stack: Redshift through the Data API (default) or Athena on the curated tables",
    )
    sql.set_defaults(func=cmd_sql, remote=_remote("views", "sql"))

    invoke = with_home(sub.add_parser("invoke", help="run one function with an event, like sam local invoke"))
    invoke.add_argument("function", metavar="FUNCTION", help="its logical id in template.yaml, e.g. SetupFunction")
    invoke.add_argument("--event", required=True, type=Path, metavar="FILE", help="the event, a JSON file")
    invoke.set_defaults(func=cmd_invoke)

    status = with_home(sub.add_parser("status", help="recent executions and their states"))
    status.add_argument("--limit", type=int, default=20, help="how many executions, newest first (default: 20)")
    status.set_defaults(func=cmd_status, remote=_remote("views", "status"))

    refused = with_home(
        sub.add_parser(
            "refused",
            help="raw objects refused because they are not text (a PNG named .csv); --clear KEY to retry one",
            description=REFUSED_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    refused.add_argument(
        "--clear", metavar="KEY", help="forget the refusal of this raw key: the next run reads it again"
    )
    refused.set_defaults(func=cmd_refused, remote=_remote("views", "refused"))

    report = with_home(sub.add_parser("report", help="draw one self-contained HTML page of the runs and the data"))
    report.add_argument(
        "--out",
        metavar="FILE.html",
        help="where to write it (default: <home>/report.html; with --stack: ./report-<stack>.html)",
    )
    report.add_argument("--open", action="store_true", help="open it in the web browser")
    report.set_defaults(func=cmd_report, remote=_remote("views", "report"))

    spark = sub.add_parser(
        "spark",
        help="the warm local Spark driver that small batches' Clean runs on: status, or stop it",
        description=SPARK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    spark.add_argument("action", choices=("status", "stop"), nargs="?", default="status")
    spark.set_defaults(func=cmd_spark)
    return parser


SPARK_HELP = """\
A small batch's Clean (staged input up to 64 MiB: a day's upload, a backfill, the bundled lake sample) runs
on a warm local Spark driver: a process that keeps its JVM between executions, started by the first such
Clean and stopped after 10 minutes without a job (COVID_PIPELINE_WARM_SPARK_IDLE seconds). A Clean that
finds it busy waits for it up to a minute (COVID_PIPELINE_WARM_SPARK_WAIT seconds), then runs in a JVM of
its own, as every large input does. After an edit of the Glue script, of
covid_transforms or of covid_pipeline, the next Clean starts a new driver and the old one stops.
COVID_PIPELINE_WARM_SPARK=0 turns it off.
"""


REFUSED_HELP = """\
Raw objects a run refused whole because they are not text: a binary file or one that is not UTF-8
named .csv/.json (a PNG, a spreadsheet, UTF-16). A run refuses such an object by name with its
reason, and the rest of the run goes on. The refusal is remembered (key, etag, reason, when, run):
later runs skip that version of the object with a one-line note; a new version (another etag, e.g.
the file fixed and uploaded again) is read again without anything to clear.

--clear KEY forgets the refusal only: the next run reads the object again (and refuses it again if
it is still not text). The object is never moved or deleted: the raw zone keeps what was delivered
(on AWS it is versioned). To get rid of it, delete it from the raw zone yourself
(<home>/s3/<raw bucket>/KEY here; aws s3 rm on AWS).

The records are small JSON objects in the quarantine zone, under quarantine/_refused_objects/
(on AWS: in the lake bucket). Objects Stage refused (empty, header only, a required column
missing) are listed per run in the run's summary and in quarantine/_refused/<run_id>.jsonl.
"""


def _check_paths(args: argparse.Namespace) -> None:
    """Clear errors for a --home that is a file (instead of a traceback, or 'no executions yet')."""
    home = getattr(args, "home", None)
    if home is None:
        return
    if home.exists() and not home.is_dir():
        raise PipelineError(f"--home {home} is a file, not a folder")
    existing = next((p for p in home.absolute().parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise PipelineError(f"--home {home}: {existing} is a file, not a folder")


def _dispatch(args: argparse.Namespace) -> int:
    if not args.stack:
        if args.region or args.profile:
            raise PipelineError("--region and --profile go with --stack NAME (the local home needs neither)")
        _check_paths(args)
        return int(args.func(args))
    remote = getattr(args, "remote", None)
    if remote is None:
        raise PipelineError(f"{args.command} works on the local home only; it takes no --stack")
    try:
        return int(remote(args))
    except Exception as exc:
        from covid_pipeline.adapters.aws.aws_errors import explain

        explained = explain(exc)
        if explained is None:
            raise
        raise explained from exc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except PipelineError as exc:
        console.print(Text.assemble(("error:", "red"), f" {exc}"))
        return 2
    except KeyboardInterrupt:
        console.print(Text("interrupted", style="red"))
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): no traceback, and no "Exception ignored" when Python flushes
        # stdout at exit (the Python docs' recipe, "Note on SIGPIPE" in the signal module).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command a closed pipe ended


if __name__ == "__main__":
    sys.exit(main())
