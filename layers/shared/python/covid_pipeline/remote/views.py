"""The read side against a deployed stack: ``status``, ``sql``, ``report`` and ``refused`` with ``--stack NAME``.

Each prints through the same code as its local command (cli.py); only where the data comes from differs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from covid_pipeline.adapters.aws.stack import DeployedStack


def status(args: argparse.Namespace, stack: DeployedStack) -> int:
    from covid_pipeline.adapters.aws.report_source import run_summaries
    from covid_pipeline.cli import print_runs

    # Histories only of the executions that did not succeed: why they failed (one call each).
    runs = run_summaries(stack, args.limit, all_histories=False)
    print_runs(runs, f"no executions yet of stack {stack.name}'s state machine")
    return 0


def sql(args: argparse.Namespace, stack: DeployedStack) -> int:
    from covid_pipeline.adapters.aws.client_queries import ENGINES
    from covid_pipeline.cli import print_rows

    names, rows = ENGINES[args.engine or "redshift"](stack)(args.query)
    print_rows(names, rows, args.format)
    return 0


def report(args: argparse.Namespace, stack: DeployedStack) -> int:
    from covid_pipeline.adapters.aws.report_source import AwsReportSource
    from covid_pipeline.cli import report_written
    from covid_pipeline.report import write_report

    started = time.monotonic()
    out = Path(args.out) if args.out else Path(f"report-{stack.name}.html")
    path = write_report(None, out, source=AwsReportSource(stack))
    return report_written(path, time.monotonic() - started, args.open)


def refused(args: argparse.Namespace, stack: DeployedStack) -> int:
    from covid_pipeline.adapters.aws.object_store import S3ObjectStore
    from covid_pipeline.adapters.aws.report_source import lake_quarantine_uri
    from covid_pipeline.cli import refused_view

    quarantine = lake_quarantine_uri(stack)
    return refused_view(S3ObjectStore(stack.client("s3")), quarantine, args.clear, quarantine)
