"""Read-only SQL from a laptop against a deployed stack (client side only: never imported by a handler).

* Rows for the CLI's ``sql --stack`` and the report, ``(column names, rows)`` of plain Python values (None for
  NULL), what the local DuckDB warehouse answers too: Redshift through the project's own Data API adapter
  (the Load's RedshiftDataApiWarehouse, values typed by ColumnMetadata), Athena through awswrangler.
* DataFrames for notebooks (remote/frames.py): both engines through awswrangler.

Errors a user meets are one line (PipelineError).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from covid_pipeline.adapters.aws.stack import DeployedStack
from covid_pipeline.ports import EngineError, PipelineError

if TYPE_CHECKING:
    import pandas as pd

    from covid_pipeline.adapters.aws.warehouse import RedshiftDataApiWarehouse

Rows = tuple[list[str], list[tuple[Any, ...]]]

# The function whose environment holds the Redshift secret's ARN (template.yaml Globals: every function has
# it). Not a stack output: cfn-lint 1.58 rejects Namespace.AdminPasswordSecretArn in Outputs (E6101).
ENVIRONMENT_FUNCTION = "LoadFunction"
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# Data API errors of reaching the warehouse at all (API reference, ExecuteStatement "Errors"), after which
# the workgroup's own status tells why (Redshift Serverless GetWorkgroup: CREATING | AVAILABLE | MODIFYING |
# DELETING).
CONNECTION_ERRORS = frozenset({"DatabaseConnectionException", "ExecuteStatementException", "ValidationException"})
# awswrangler's RedshiftDataApiFailedException: "Request <id> failed with status <Status> and error <Error>".
_WRANGLER_FAILED = re.compile(r"failed with status (\w+) and error (.*)", re.S)
# RedshiftDataApiWarehouse._execute's EngineError: "Redshift statement <id> <Status>: <Error>".
_ADAPTER_FAILED = re.compile(r"Redshift statement \S+ (FAILED|ABORTED): (.*)", re.S)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _message(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    return str(error.get("Message") or error.get("Code") or exc)


def function_environment(stack: DeployedStack, logical_id: str = ENVIRONMENT_FUNCTION) -> dict[str, str]:
    """The environment of the stack's function ``logical_id`` (what the pipeline itself runs with)."""
    from botocore.exceptions import ClientError

    try:
        resource = stack.client("cloudformation").describe_stack_resource(
            StackName=stack.name, LogicalResourceId=logical_id
        )["StackResourceDetail"]
    except ClientError as exc:
        if _code(exc) in ACCESS_DENIED:
            raise PipelineError(
                f"finding the stack's {logical_id} needs cloudformation:DescribeStackResource on stack {stack.name}"
            ) from None
        raise
    function = str(resource["PhysicalResourceId"])
    try:
        config = stack.client("lambda").get_function_configuration(FunctionName=function)
    except ClientError as exc:
        if _code(exc) in ACCESS_DENIED:
            raise PipelineError(
                f"reading the Redshift secret's ARN from {function}'s environment needs "
                f"lambda:GetFunctionConfiguration on {function}"
            ) from None
        raise
    return dict((config.get("Environment") or {}).get("Variables") or {})


def redshift_secret_arn(stack: DeployedStack) -> str:
    arn = function_environment(stack).get("REDSHIFT_SECRET_ARN", "")
    if not arn:
        raise PipelineError(
            f"the stack's {ENVIRONMENT_FUNCTION} has no REDSHIFT_SECRET_ARN in its environment: "
            "it was deployed from an older template; run make deploy to update it"
        )
    return arn


def plain(value: Any) -> Any:
    """A DataFrame cell as a plain Python value: None for NULL/NaN/NaT, numpy scalars as int/float/bool."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    import pandas as pd

    if value is pd.NaT or (not isinstance(value, str | bytes) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    item = getattr(value, "item", None)  # numpy scalar -> Python scalar
    return item() if callable(item) and not isinstance(value, str | bytes) else value


def frame_rows(frame: Any) -> Rows:
    """(column names, rows of plain values) of a pandas DataFrame."""
    names = [str(c) for c in frame.columns]
    rows = [tuple(plain(v) for v in row) for row in frame.itertuples(index=False, name=None)]
    return names, rows


def redshift_warehouse(stack: DeployedStack, secret_arn: str | None = None) -> RedshiftDataApiWarehouse:
    """The stack's Redshift Serverless workgroup through the Load's own Data API adapter, read-only, as the
    pipeline's database user. Its values are typed by each column's ColumnMetadata (an integer column with a
    NULL stays integers, a DATE is a ``date``), as the local DuckDB warehouse answers them; a DataFrame would
    make the first floats and the second strings. Its poll has a deadline and cancels the statement."""
    from covid_pipeline.adapters.aws.warehouse import RedshiftDataApiWarehouse

    return RedshiftDataApiWarehouse(
        database=stack.redshift_database,
        iam_role_arn="",  # read-only: no COPY
        workgroup_name=stack.redshift_workgroup,
        secret_arn=secret_arn or redshift_secret_arn(stack),
        client=stack.client("redshift-data"),
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


class RedshiftQuery:
    """Read-only queries on the stack's Redshift Serverless workgroup, rows as the local warehouse gives them."""

    def __init__(self, stack: DeployedStack, secret_arn: str | None = None) -> None:
        self.stack = stack
        self._secret_arn = secret_arn
        self._warehouse: RedshiftDataApiWarehouse | None = None

    def query(self, sql: str) -> Rows:
        from botocore.exceptions import ClientError

        try:
            if self._warehouse is None:
                self._warehouse = redshift_warehouse(self.stack, self._secret_arn)
            return self._warehouse.query_with_columns(sql)
        except EngineError as exc:
            raise self._failed(exc) from None
        except ClientError as exc:
            raise explain_redshift(self.stack, exc) from None

    def _failed(self, exc: EngineError) -> PipelineError:
        found = _ADAPTER_FAILED.match(str(exc))
        if found:
            # DescribeStatement's Status and Error (e.g. 'ERROR: relation "x" does not exist'), in one line.
            return PipelineError(f"Redshift statement {found.group(1)}: {_one_line(found.group(2))}")
        # The adapter's deadline passed: it cancelled the statement (polling.poll_until's message).
        return PipelineError(
            f"{_one_line(str(exc))}: the workgroup {self.stack.redshift_workgroup} may be resuming or busy; "
            "try again in a minute"
        )


def explain_redshift(stack: DeployedStack, exc: Exception) -> Exception:
    """A Data API ClientError in one line: too many statements, or why the workgroup refused the connection.
    Other errors are returned as they are (cli's aws_errors.explain says those in one line, naming the action)."""
    code, message = _code(exc), _message(exc)
    workgroup = stack.redshift_workgroup
    if code == "ActiveStatementsExceededException":
        return PipelineError(f"Redshift Data API: too many statements running ({message}); try again shortly")
    if code not in CONNECTION_ERRORS:
        return exc
    status = _workgroup_status(stack)
    if status and status != "AVAILABLE":
        return PipelineError(
            f"Redshift Serverless workgroup {workgroup} is {status}, not AVAILABLE: wait until it is "
            f"(aws redshift-serverless get-workgroup --workgroup-name {workgroup}) and try again"
        )
    # An AVAILABLE workgroup that refuses queries: a usage limit whose action is "Turn off user queries"
    # (breachAction deactivate) was reached (Redshift management guide, "Setting usage limits").
    return PipelineError(
        f"Redshift refused the statement on workgroup {workgroup} ({code}: {message}); if a usage limit "
        "that turns off user queries was reached, raise it (Redshift Serverless console: workgroup, Limits)"
    )


def _workgroup_status(stack: DeployedStack) -> str | None:
    try:
        found = stack.client("redshift-serverless").get_workgroup(workgroupName=stack.redshift_workgroup)
    except Exception:  # best effort: the error being explained matters more than this lookup's
        return None
    return str(found.get("workgroup", {}).get("status", "")) or None


def redshift_frame(stack: DeployedStack, sql: str, secret_arn: str | None = None) -> pd.DataFrame:
    """A read-only query on the stack's Redshift as awswrangler's DataFrame (Data API, the pipeline's user)."""
    import awswrangler as wr
    from awswrangler.data_api.redshift import RedshiftDataApiFailedException, RedshiftDataApiTimeoutException
    from botocore.exceptions import ClientError

    try:
        con = wr.data_api.redshift.connect(
            workgroup_name=stack.redshift_workgroup,
            database=stack.redshift_database,
            secret_arn=secret_arn or redshift_secret_arn(stack),
            boto3_session=stack.session,
        )
        return wr.data_api.redshift.read_sql_query(sql, con=con)
    except RedshiftDataApiFailedException as exc:
        found = _WRANGLER_FAILED.search(str(exc))
        status, error = (found.group(1), found.group(2)) if found else ("FAILED", str(exc))
        raise PipelineError(f"Redshift statement {status}: {_one_line(error)}") from None
    except RedshiftDataApiTimeoutException:
        raise PipelineError(
            f"Redshift statement still running after awswrangler's wait on workgroup "
            f"{stack.redshift_workgroup}: the workgroup may be resuming or busy; try again in a minute"
        ) from None
    except ClientError as exc:
        raise explain_redshift(stack, exc) from None


def athena_frame(stack: DeployedStack, sql: str) -> pd.DataFrame:
    """A read-only query on the stack's curated Glue database, in the stack's Athena workgroup, as awswrangler's
    DataFrame (its default dtype_backend numpy_nullable: an integer column with a NULL stays Int64)."""
    import awswrangler as wr

    try:
        return wr.athena.read_sql_query(
            sql,
            database=stack.curated_database,
            workgroup=stack.athena_workgroup,
            # No CTAS: with ctas_approach=True awswrangler wraps the query in CREATE TABLE AS SELECT, which
            # creates (then drops) a table in the user's Glue catalog and needs glue:CreateTable there. A look
            # at the data must not write to the catalog; the result comes back as the query's CSV instead.
            ctas_approach=False,
            boto3_session=stack.session,
        )
    except wr.exceptions.QueryFailed as exc:
        raise PipelineError(f"Athena query failed: {_one_line(str(exc))}") from None


def athena_query(stack: DeployedStack, sql: str) -> Rows:
    return frame_rows(athena_frame(stack, sql))


ENGINES: dict[str, Callable[[DeployedStack], Callable[[str], Rows]]] = {
    "redshift": lambda stack: RedshiftQuery(stack).query,
    "athena": lambda stack: lambda sql: athena_query(stack, sql),
}
FRAMES: dict[str, Callable[[DeployedStack, str], pd.DataFrame]] = {
    "redshift": redshift_frame,
    "athena": athena_frame,
}
