"""Composition root: the one place that picks adapters for the environment.

Handlers call :func:`ports_from_env`; nothing else looks at PIPELINE_ENV.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from covid_pipeline.ports import Catalog, Notifier, ObjectStore, PipelineError, SqlEngine, Warehouse
from covid_pipeline.settings import Settings, load_settings

if TYPE_CHECKING:
    from covid_pipeline.domain.trigger import TriggerDeps
    from covid_pipeline.ports import Executions


@dataclass(frozen=True)
class Ports:
    settings: Settings
    store: ObjectStore
    catalog: Catalog
    sql: SqlEngine
    warehouse: Warehouse
    notifier: Notifier


def local_ports(settings: Settings) -> Ports:
    # Imported here so a Lambda in AWS never loads DuckDB or pyarrow.
    from covid_pipeline.adapters.local.catalog import LocalCatalog
    from covid_pipeline.adapters.local.notifier import LogNotifier
    from covid_pipeline.adapters.local.object_store import LocalObjectStore
    from covid_pipeline.adapters.local.sql_engine import DuckDbSqlEngine
    from covid_pipeline.adapters.local.warehouse import DuckDbWarehouse

    if settings.pipeline_home is None:
        raise PipelineError("PIPELINE_HOME must be set when PIPELINE_ENV=local")
    home = Path(settings.pipeline_home)
    store = LocalObjectStore(home, versioned_buckets={settings.raw_bucket})
    catalog = LocalCatalog(store, home, {settings.raw_crawler: (settings.glue_database, settings.raw_uri)})
    return Ports(
        settings=settings,
        store=store,
        catalog=catalog,
        sql=DuckDbSqlEngine(store, catalog, settings.glue_database),
        warehouse=DuckDbWarehouse(home / "warehouse.duckdb", store),
        notifier=LogNotifier(home),
    )


def aws_ports(settings: Settings) -> Ports:
    # Clients are created lazily by the adapters: building ports makes no AWS call.
    from covid_pipeline.adapters.aws.catalog import GlueCatalog
    from covid_pipeline.adapters.aws.notifier import SnsNotifier
    from covid_pipeline.adapters.aws.object_store import S3ObjectStore
    from covid_pipeline.adapters.aws.sql_engine import AthenaSqlEngine
    from covid_pipeline.adapters.aws.warehouse import RedshiftDataApiWarehouse

    missing = [
        name
        for name, value in (
            ("REDSHIFT_WORKGROUP", settings.redshift_workgroup),
            ("REDSHIFT_COPY_ROLE_ARN", settings.redshift_copy_role_arn),
            ("REDSHIFT_SECRET_ARN", settings.redshift_secret_arn),
            ("ALERT_TOPIC_ARN", settings.alert_topic_arn),
        )
        if not value
    ]
    if missing:
        raise PipelineError(f"PIPELINE_ENV=aws needs {', '.join(missing)} in the function environment")
    store = S3ObjectStore()
    return Ports(
        settings=settings,
        store=store,
        catalog=GlueCatalog(s3=store),
        sql=AthenaSqlEngine(
            settings.athena_workgroup, settings.glue_database, s3_store=store, timeout_s=settings.query_timeout_s
        ),
        warehouse=RedshiftDataApiWarehouse(
            database=settings.redshift_database,
            iam_role_arn=str(settings.redshift_copy_role_arn),
            workgroup_name=settings.redshift_workgroup,
            # Setup and Load share this identity: tables created by one are readable by the other.
            secret_arn=settings.redshift_secret_arn,
            store=store,
            timeout_s=settings.query_timeout_s,
        ),
        notifier=SnsNotifier(str(settings.alert_topic_arn)),
    )


@functools.cache
def _ports(settings: Settings) -> Ports:
    return local_ports(settings) if settings.pipeline_env == "local" else aws_ports(settings)


def ports_from_env() -> Ports:
    """Ports for the current environment, built once per distinct configuration (cold start)."""
    return _ports(load_settings())


def executions_from_env() -> Executions:
    """Where the trigger starts executions: Step Functions (AWS) or the local runner."""
    settings = load_settings()
    if settings.pipeline_env == "local":
        from covid_pipeline.runner.local import LocalExecutions

        if settings.pipeline_home is None:
            raise PipelineError("PIPELINE_HOME must be set when PIPELINE_ENV=local")
        return LocalExecutions(Path(settings.pipeline_home))
    from covid_pipeline.adapters.aws.executions import StepFunctionsExecutions

    if not settings.state_machine_arn:
        raise PipelineError("the trigger needs STATE_MACHINE_ARN in its environment")
    return StepFunctionsExecutions(settings.state_machine_arn)


def trigger_deps_from_env() -> TriggerDeps:
    """The trigger's executions, and whether a raw key holds a copy Setup made (its metadata says so)."""
    from covid_pipeline.domain.trigger import TriggerDeps
    from covid_pipeline.uris import join

    settings = load_settings()
    executions = executions_from_env()
    if settings.pipeline_env == "local":
        return TriggerDeps(executions)  # local runs copy no source into the raw zone through events
    from covid_pipeline.adapters.aws.object_store import S3ObjectStore

    store = S3ObjectStore()

    def copied_by_pipeline(key: str) -> bool:
        info = store.head(join(settings.raw_uri, key))
        return info is not None and info.source_etag is not None

    return TriggerDeps(executions, copied_by_pipeline)
