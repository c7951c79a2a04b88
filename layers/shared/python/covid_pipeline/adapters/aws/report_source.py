"""The report's source on a deployed stack: Redshift through the Data API, Step Functions histories, and the
refusals (Setup's in the executions' outputs, Stage's ``quarantine/_refused/<run_id>.jsonl`` in the lake
bucket). The page is drawn by the same code as the local one (report/page.py); only this source differs.
"""

from __future__ import annotations

from typing import Any

from covid_pipeline.adapters.aws.client_queries import Rows, redshift_warehouse
from covid_pipeline.adapters.aws.stack import DeployedStack
from covid_pipeline.report.source import RefusedObject, RunSummary, setup_refusals, stage_refusals


def lake_quarantine_uri(stack: DeployedStack) -> str:
    """The quarantine zone of the stack's lake bucket, as the functions' settings name it."""
    from covid_pipeline.settings import Settings

    # Only the bucket names are known here (not the functions' whole environment); the zone URIs are
    # Settings' properties of them, so construct without validating the rest.
    return Settings.model_construct(raw_bucket=stack.raw_bucket, lake_bucket=stack.lake_bucket).quarantine_uri


def list_executions(stack: DeployedStack, limit: int) -> list[dict[str, Any]]:
    """The state machine's most recent executions, newest first (ListExecutions' documented order)."""
    sfn = stack.client("stepfunctions")
    items: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(
        stateMachineArn=stack.state_machine_arn, PaginationConfig={"MaxItems": limit}
    ):
        items += page.get("executions", [])
    return items[:limit]


def history(stack: DeployedStack, execution_arn: str) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page.get("events", [])
    return events


def run_summaries(stack: DeployedStack, limit: int, *, all_histories: bool) -> list[RunSummary]:
    """The executions with their histories read: every one's (state times) or only those that did not succeed
    (why they failed), one GetExecutionHistory each."""
    from covid_pipeline.adapters.aws.execution_history import summarize

    summaries = []
    for item in list_executions(stack, limit):
        wanted = all_histories or item.get("status") not in {"SUCCEEDED", "RUNNING"}
        summaries.append(summarize(item, history(stack, item["executionArn"]) if wanted else ()))
    return summaries


class AwsReportSource:
    def __init__(self, stack: DeployedStack) -> None:
        self.stack = stack
        # The Load's own Data API adapter, not awswrangler's DataFrame: the page needs the values as DuckDB
        # gives them locally (client_queries.redshift_warehouse says why).
        self.warehouse = redshift_warehouse(stack)

    def describe(self) -> str:
        return (
            f"stack {self.stack.name} ({self.stack.region}): Redshift workgroup {self.stack.redshift_workgroup}, "
            f"database {self.stack.redshift_database}"
        )

    def query(self, sql: str) -> Rows:
        return self.warehouse.query_with_columns(sql)  # a FAILED statement: EngineError, one line

    def executions(self, limit: int) -> list[RunSummary]:
        return run_summaries(self.stack, limit, all_histories=True)

    def refused_objects(self, limit: int) -> list[RefusedObject]:
        import json

        from covid_pipeline.adapters.aws.object_store import S3ObjectStore

        sfn = self.stack.client("stepfunctions")
        dated: list[tuple[float, RefusedObject]] = []
        started: dict[str, float] = {}
        for item in list_executions(self.stack, limit):
            when = item["startDate"].timestamp()
            started[item["name"]] = when
            if item.get("status") != "SUCCEEDED":
                continue  # only a finished execution has an output (Setup's fields, with its refusals)
            output = sfn.describe_execution(executionArn=item["executionArn"]).get("output")
            parsed = json.loads(output) if output else None
            dated += [(when, r) for r in setup_refusals(item["name"], parsed)]
        store = S3ObjectStore(self.stack.client("s3"))
        for info in store.list(lake_quarantine_uri(self.stack) + "_refused/"):
            run = info.uri.rsplit("/", 1)[-1].removesuffix(".jsonl")
            dated += [(started.get(run, 0.0), r) for r in stage_refusals(run, store.get_bytes(info.uri))]
        dated.sort(key=lambda d: d[0], reverse=True)
        return [r for _, r in dated[:limit]]
