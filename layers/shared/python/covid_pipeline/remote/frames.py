"""A deployed stack's warehouse into a pandas DataFrame, for notebooks (awswrangler underneath).

Example (in a notebook, with AWS credentials of the stack's account)::

    from covid_pipeline.remote.frames import read_sql

    cases = read_sql(
        "SELECT r.state_abbr, SUM(f.new_confirmed) AS new_cases "
        "FROM fact_cases_daily f JOIN dim_region r USING (region_key) GROUP BY 1 ORDER BY 2 DESC",
        stack="covid-dev",
    )
    cases.head()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from covid_pipeline.ports import PipelineError

if TYPE_CHECKING:
    import pandas as pd

Engine = Literal["redshift", "athena"]


def read_sql(
    sql: str, stack: str, engine: Engine = "redshift", region: str | None = None, profile: str | None = None
) -> pd.DataFrame:
    """Run the read-only ``sql`` on the stack ``stack``'s warehouse and return the result as a DataFrame.

    Every name comes from the CloudFormation stack's outputs, as ``covid-pipeline sql --stack``:

    * ``engine="redshift"`` (default): the Redshift Serverless workgroup and database, as the pipeline's
      database user (the secret the stack's functions use), through the Redshift Data API with
      ``awswrangler.data_api.redshift.read_sql_query``. Its frame is built from plain values: an integer
      column holding a NULL comes as float64 and a DATE as strings (``covid-pipeline sql --stack`` prints them
      as the local warehouse does; here convert with ``.astype("Int64")`` or ``pd.to_datetime``).
    * ``engine="athena"``: the curated Glue database (the tables its crawler made) in the stack's Athena
      workgroup, with
      ``awswrangler.athena.read_sql_query(..., ctas_approach=False)`` (nothing is written to the Glue catalog;
      nullable integers stay ``Int64``, dates are dates).

    ``region`` and ``profile`` choose the boto3 session (default: the environment's, as the AWS CLI).
    A failure a user can act on (stack not found, statement FAILED with Redshift's error, workgroup not
    AVAILABLE, missing permission, expired credentials) raises one-line ``PipelineError``, as the CLI prints.

    Example::

        >>> from covid_pipeline.remote.frames import read_sql
        >>> days = read_sql("SELECT date, is_weekend FROM dim_date ORDER BY date", stack="covid-dev")
        >>> days.groupby("is_weekend").size()  # doctest: +SKIP
    """
    from covid_pipeline.adapters.aws.client_queries import FRAMES

    if engine not in FRAMES:
        raise PipelineError(f"engine {engine!r}: give one of {', '.join(map(repr, FRAMES))}")
    from covid_pipeline.adapters.aws.aws_errors import explain
    from covid_pipeline.adapters.aws.stack import resolve_stack

    try:
        return FRAMES[engine](resolve_stack(stack, region, profile), sql)
    except PipelineError:
        raise
    except Exception as exc:
        explained = explain(exc)  # the CLI's own one line for credentials, permissions, throttling
        if explained is None:
            raise
        raise explained from None
