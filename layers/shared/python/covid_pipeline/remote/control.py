"""``run``, ``upload``, ``backfill`` and ``rerun`` against a deployed stack: start (or redrive) an execution of
its state machine, with the inputs Setup accepts (domain/setup.py), and follow it with the local progress lines."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from rich.text import Text

from covid_pipeline.adapters.aws.stack import DeployedStack
from covid_pipeline.cli import _line, _outcome, backfill_plan, console, rerun_input, upload_keys
from covid_pipeline.feeds import DATASETS
from covid_pipeline.ports import PipelineError
from covid_pipeline.remote.follow import console_url, follow, last_event_id
from covid_pipeline.runner.local import ExecutionRecord, new_execution_name

# The trigger's queue hands uploads over in batches of up to 60 s (template.yaml, TriggerFunction's
# MaximumBatchingWindowInSeconds), after EventBridge's delivery: the upload's execution is looked for this long.
FIND_TIMEOUT_S = 300.0
FIND_POLL_S = 5.0
# An execution of the upload is one that did not exist before it, started after it: the executions listed
# before the upload are never taken (an earlier upload of the same files, seconds before), and S3's
# LastModified (whole seconds) against Step Functions' startDate, with this slack for the two clocks, keeps
# out those older than the listing's first page.
CLOCK_SLACK_S = 5.0
# Closed without success: Step Functions can redrive them (RedriveExecution: "failed, aborted, or timed out
# executions" of the last 14 days, https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html;
# DescribeExecution's redriveStatus says whether it still can: NOT_REDRIVABLE "if calling the RedriveExecution
# API action would return the ExecutionNotRedrivable error").
REDRIVABLE_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def execution_arn(stack: DeployedStack, name: str) -> str:
    # Execution ARNs are the state machine's ARN with ":execution:" and the name appended.
    return stack.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def _start(stack: DeployedStack, execution_input: dict[str, Any], name: str) -> str:
    sfn = stack.client("stepfunctions")
    started = sfn.start_execution(stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(execution_input))
    return str(started["executionArn"])


def _started(stack: DeployedStack, arn: str, args: argparse.Namespace, after_event_id: int = 0) -> int:
    """Print the started execution, then follow it to its end (or only print it with --no-wait)."""
    name = arn.rsplit(":", 1)[-1]
    url = console_url(stack.region, arn)
    if getattr(args, "no_wait", False):
        console.print(Text(f"started execution {name}\n  {arn}\n  {url}"))
        console.print(Text(f"covid-pipeline status --stack {stack.name} shows how it goes"))
        return 0
    console.print(Text(f"execution {name} on stack {stack.name} ({stack.region}); Ctrl-C stops following, not it"))
    try:
        record = follow(stack.client("stepfunctions"), arn, after_event_id)
    except KeyboardInterrupt:
        console.print(Text(f"stopped following; the execution goes on: {url}"))
        raise
    return _ended(record, url)


def _ended(record: ExecutionRecord, url: str) -> int:
    _outcome(record)
    if record.status == "SUCCEEDED":
        spent = f" in {record.duration_s:.1f} s" if record.duration_s is not None else ""
        console.print(Text.assemble((f"execution {record.name} SUCCEEDED", "green"), spent))
        return 0
    where = f" in state {record.failed_state}" if record.failed_state else ""
    console.print(Text.assemble((f"execution {record.name} {record.status}", "red"), f"{where}: {record.reason}"))
    console.print(Text(f"history: {url}"))
    return 1


def _source_parameter(stack: DeployedStack) -> str:
    """The stack's SourceUri parameter, the source Setup copies from when the input names none."""
    described = stack.client("cloudformation").describe_stacks(StackName=stack.name)["Stacks"][0]
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}
    return values.get("SourceUri") or "the stack's SourceUri"


def run(args: argparse.Namespace, stack: DeployedStack) -> int:
    """A full run: Setup copies every dataset from the source (--source, else the stack's SourceUri)."""
    request: dict[str, Any] = {"datasets": list(DATASETS)}
    if args.source:
        if not args.source.startswith("s3://"):
            raise PipelineError(
                f"--source {args.source}: with --stack the source is an S3 prefix in the data lake's layout "
                f"(s3://bucket/prefix/), which the stack's functions can read"
            )
        request["source_uri"] = args.source if args.source.endswith("/") else args.source + "/"
        source = request["source_uri"]
    else:
        source = _source_parameter(stack)  # Setup takes its SOURCE_URI setting (the parameter) itself
    if args.reprocess:
        request["reprocess"] = True
    console.print(Text(f"source {source} ({', '.join(DATASETS)}) -> stack {stack.name}"))
    return _started(stack, _start(stack, request, new_execution_name("run")), args)


def backfill(args: argparse.Namespace, stack: DeployedStack) -> int:
    """The objects the backfill covers, listed from the raw bucket as locally from the raw zone; then its run."""
    from covid_pipeline.adapters.aws.object_store import S3ObjectStore

    # raw_objects reads ports.store and ports.settings.raw_uri only: the raw bucket is all a backfill lists.
    raw_zone = SimpleNamespace(
        store=S3ObjectStore(stack.client("s3")), settings=SimpleNamespace(raw_uri=f"s3://{stack.raw_bucket}/")
    )
    execution_input = backfill_plan(args, raw_zone)
    if execution_input is None:
        return 0
    return _started(stack, _start(stack, execution_input, new_execution_name("backfill")), args)


def upload(args: argparse.Namespace, stack: DeployedStack) -> int:
    """Put the files into the raw bucket (every one checked first); the trigger starts their execution: follow it."""
    if args.reprocess:
        raise PipelineError(
            "--reprocess with --stack: the stack's trigger starts the upload's execution, without it; upload, "
            "then `covid-pipeline rerun NAME --reprocess --stack ...` (or backfill) to load the files again"
        )
    keys = upload_keys(args.dataset, args.prefix, args.files)
    sfn = stack.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=stack.state_machine_arn, maxResults=100)["executions"]
    known = {str(e["executionArn"]) for e in listed}  # newest first: whatever the upload starts is not here
    s3 = stack.client("s3")
    objects: list[dict[str, str]] = []
    since: datetime | None = None
    for path, key in keys:
        s3.upload_file(str(path), stack.raw_bucket, key)  # multipart above 8 MB, as `aws s3 cp`
        head = s3.head_object(Bucket=stack.raw_bucket, Key=key)
        etag = str(head["ETag"]).strip('"')  # what the S3 event (and so the trigger) names the object by
        console.print(Text(f"uploaded {path} -> s3://{stack.raw_bucket}/{key} (etag {etag})"))
        objects.append({"key": key, "etag": etag})
        since = head["LastModified"] if since is None else min(since, head["LastModified"])
    if since is None:  # argparse's nargs="+" gives at least one file
        raise PipelineError("no file to upload")
    console.print("waiting for the trigger's execution (it gathers uploads for up to 60 s) ...")
    found = find_upload_executions(stack, objects, Before(known, since.timestamp() - CLOCK_SLACK_S))
    status = 0
    for described in found:
        status = max(status, _started(stack, str(described["executionArn"]), args))
    return status


class AlreadyProcessed(PipelineError):
    pass


class Before:
    """What existed before the upload: the executions then listed, and the time of the upload (less the slack)."""

    def __init__(self, known: set[str], since: float) -> None:
        self.known = known
        self.since = since

    def new(self, execution: dict[str, Any]) -> bool:
        return execution["executionArn"] not in self.known and execution["startDate"].timestamp() >= self.since


def _exact_execution(sfn: Any, stack: DeployedStack, objects: list[dict[str, str]], before: Before) -> Any:
    """The execution the trigger starts when the objects arrive in one batch (domain.trigger's names): the
    newest attempt's description, None when there is none yet. An attempt started before the upload that
    still runs is theirs too; one that succeeded means the trigger will not start another (AlreadyProcessed)."""
    from botocore.exceptions import ClientError

    from covid_pipeline.adapters.aws.object_store import error_code
    from covid_pipeline.domain.trigger import MAX_ATTEMPTS, RETRYABLE, attempt_name, execution_name

    name = execution_name((o["key"], o["etag"]) for o in objects)
    for attempt in range(MAX_ATTEMPTS):
        try:
            described = sfn.describe_execution(executionArn=execution_arn(stack, attempt_name(name, attempt)))
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise
        if before.new(described):
            return described
        if described["status"] in {"RUNNING", "PENDING_REDRIVE"}:
            # The trigger answers a redelivery of these objects with this execution (start_once): it is theirs.
            console.print(Text(f"these exact files are already being processed by {described['name']}"))
            return described
        if described["status"] not in RETRYABLE:
            raise AlreadyProcessed(
                f"these exact files were processed before: execution {described['name']} ({described['status']}) "
                f"was started for them, so the trigger starts no other; to load them again: "
                f"covid-pipeline rerun {described['name']} --reprocess --stack {stack.name}"
            )
    return None


def _covered_keys(described: dict[str, Any]) -> set[str]:
    try:
        request = json.loads(described.get("input") or "{}")
    except json.JSONDecodeError:
        return set()
    items = request.get("objects") if isinstance(request, dict) else None
    return {str(o.get("key")) for o in items if isinstance(o, dict)} if isinstance(items, list) else set()


def find_upload_executions(stack: DeployedStack, objects: list[dict[str, str]], before: Before) -> list[dict[str, Any]]:
    """The executions the trigger started for the uploaded objects: the one of their batch when they came
    together, else those started since the upload whose input names them (SQS may split the uploads)."""
    sfn = stack.client("stepfunctions")
    wanted = {o["key"] for o in objects}
    inspected: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + FIND_TIMEOUT_S
    while True:
        exact = _exact_execution(sfn, stack, objects, before)
        if exact is not None:
            return [exact]
        paginator = sfn.get_paginator("list_executions")
        for page in paginator.paginate(stateMachineArn=stack.state_machine_arn):  # newest first
            recent = [e for e in page["executions"] if e["startDate"].timestamp() >= before.since]
            for item in (e for e in recent if before.new(e)):
                if item["executionArn"] not in inspected:
                    inspected[item["executionArn"]] = sfn.describe_execution(executionArn=item["executionArn"])
            if len(recent) < len(page["executions"]):
                break
        covering = [d for d in inspected.values() if _covered_keys(d) & wanted]
        if covering and set().union(*(_covered_keys(d) for d in covering)) >= wanted:
            return sorted(covering, key=lambda d: d["startDate"])
        if time.monotonic() > deadline:
            missing = sorted(wanted - set().union(set(), *(_covered_keys(d) for d in covering)))
            raise PipelineError(
                f"uploaded, but no execution took up {', '.join(missing)} within {FIND_TIMEOUT_S:.0f} s: see "
                f"`covid-pipeline status --stack {stack.name}`, the TriggerFunction's logs and the stack's "
                f"UploadDeadLetterQueue / EventsDeadLetterQueue (the file is in the raw bucket; "
                f"`covid-pipeline run --stack {stack.name}` also loads it)"
            )
        time.sleep(FIND_POLL_S)


def rerun(args: argparse.Namespace, stack: DeployedStack) -> int:
    """Redrive execution NAME when it failed and Step Functions still can; else a new execution with its input."""
    from botocore.exceptions import ClientError

    from covid_pipeline.adapters.aws.object_store import error_code

    sfn = stack.client("stepfunctions")
    arn = execution_arn(stack, args.name)
    try:
        described = sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if error_code(exc) in {"ExecutionDoesNotExist", "InvalidArn"}:
            raise PipelineError(
                f"no execution {args.name} of the stack {stack.name}'s state machine: "
                f"covid-pipeline status --stack {stack.name} lists them"
            ) from None
        raise
    status = str(described["status"])
    if status in {"RUNNING", "PENDING_REDRIVE"}:
        raise PipelineError(
            f"execution {args.name} is still {status}: nothing to re-run yet ({console_url(stack.region, arn)})"
        )
    redrive = described.get("redriveStatus")
    why_not = ""
    if args.reprocess:
        why_not = "--reprocess asks for a new execution that loads its objects again"
    elif status not in REDRIVABLE_STATUSES:  # SUCCEEDED: a redrive would answer ExecutionNotRedrivable
        why_not = f"it {status}: only a failed, timed out or aborted execution is redriven"
    elif redrive != "REDRIVABLE":
        # NOT_REDRIVABLE names its reason (redriveStatusReason: "Execution redrivable period exceeded" after
        # 14 days, ...); no redriveStatus at all: an API (or emulator) without redrive.
        reason = described.get("redriveStatusReason") or redrive or "no redriveStatus"
        why_not = f"Step Functions cannot redrive it ({reason})"
    else:
        before = last_event_id(sfn, arn)
        try:
            sfn.redrive_execution(executionArn=arn)
        except ClientError as exc:
            if error_code(exc) != "ExecutionNotRedrivable":
                raise
            why_not = f"Step Functions refused to redrive it ({exc.response.get('Error', {}).get('Message', '')})"
        else:
            console.print(
                _line("redrive", "cyan", f"{args.name} ({status}): it goes on from the state that failed, same input")
            )
            return _started(stack, arn, args, after_event_id=before)
    execution_input = rerun_input(json.loads(described.get("input") or "{}"), args.reprocess)
    console.print(_line("new", "cyan", f"execution with the input of {args.name}: {why_not}"))
    return _started(stack, _start(stack, execution_input, new_execution_name("rerun")), args)
