"""Function settings, read once from the environment that template.yaml defines.

Locally the runner builds the same environment from the same template, adding
PIPELINE_ENV=local and PIPELINE_HOME; nothing else branches on the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from covid_pipeline.ports import PipelineError


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    pipeline_env: Literal["aws", "local"] = Field("aws", alias="PIPELINE_ENV")
    pipeline_home: Path | None = Field(None, alias="PIPELINE_HOME")
    raw_bucket: str = Field(alias="RAW_BUCKET")
    lake_bucket: str = Field(alias="LAKE_BUCKET")
    glue_database: str = Field(alias="GLUE_DATABASE")
    raw_crawler: str = Field(alias="RAW_CRAWLER")
    source_uri: str = Field("s3://covid19-lake/", alias="SOURCE_URI")
    athena_workgroup: str = Field("primary", alias="ATHENA_WORKGROUP")
    alert_topic_arn: str | None = Field(None, alias="ALERT_TOPIC_ARN")
    redshift_workgroup: str | None = Field(None, alias="REDSHIFT_WORKGROUP")
    redshift_database: str = Field("covid", alias="REDSHIFT_DATABASE")
    redshift_copy_role_arn: str | None = Field(None, alias="REDSHIFT_COPY_ROLE_ARN")
    # The one database identity every function runs as (Secrets Manager secret: username + password).
    redshift_secret_arn: str | None = Field(None, alias="REDSHIFT_SECRET_ARN")
    state_machine_arn: str | None = Field(None, alias="STATE_MACHINE_ARN")  # the trigger's only
    # Deadline of one Athena query / Redshift statement; leaves the function room to stop it and report
    # (adapters/aws/polling.py has the arithmetic, tests/infra/test_timeouts.py checks it on the template).
    query_timeout_s: float = Field(780.0, alias="QUERY_TIMEOUT_SECONDS", gt=0)

    @property
    def raw_uri(self) -> str:
        return f"s3://{self.raw_bucket}/"

    @property
    def staged_uri(self) -> str:
        return f"s3://{self.lake_bucket}/staged/"

    @property
    def curated_uri(self) -> str:
        return f"s3://{self.lake_bucket}/curated/"

    @property
    def quarantine_uri(self) -> str:
        return f"s3://{self.lake_bucket}/quarantine/"

    @property
    def work_uri(self) -> str:
        """Per-run manifests and small reports (never data)."""
        return f"s3://{self.lake_bucket}/work/"

    @property
    def zone_uris(self) -> tuple[str, ...]:
        return (self.raw_uri, self.staged_uri, self.curated_uri, self.quarantine_uri, self.work_uri)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    try:
        return Settings.model_validate(env)
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise PipelineError(f"function environment is incomplete or invalid: {missing}") from exc
