"""Composition root: the one place that picks adapters for the environment.

Handlers call :func:`ports_from_env`; nothing else looks at PIPELINE_ENV.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from covid_pipeline.ports import Catalog, Notifier, ObjectStore, PipelineError, SqlEngine, Warehouse
from covid_pipeline.settings import Settings, load_settings


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


@functools.cache
def _ports(settings: Settings) -> Ports:
    if settings.pipeline_env == "local":
        return local_ports(settings)
    raise PipelineError(
        "PIPELINE_ENV=aws: the AWS adapters (S3, Glue, Athena, Redshift Data API, SNS) are not built yet "
        "(issue #3); run locally with PIPELINE_ENV=local"
    )


def ports_from_env() -> Ports:
    """Ports for the current environment, built once per distinct configuration (cold start)."""
    return _ports(load_settings())
